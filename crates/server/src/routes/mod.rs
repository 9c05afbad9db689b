//! The route table: every handler and the role it needs, side by side. Paths and methods live on
//! each handler's `#[utoipa::path]`, so the router and the OpenAPI document cannot disagree.

use axum::middleware;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vitrine_core::Role;

use crate::{AppState, auth, openapi};

pub(crate) mod content;
pub(crate) mod events;
pub(crate) mod image_training;
pub(crate) mod images;
pub(crate) mod keys;
pub(crate) mod openai;
pub(crate) mod products;
pub(crate) mod recommendations;
pub(crate) mod system;
pub(crate) mod training;

/// The default page size of list endpoints.
const DEFAULT_LIMIT: u32 = 50;

/// Routes anyone may call.
pub(crate) fn public() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(system::healthz))
}

/// Routes that need a bearer key, each group behind the least role that may call it. The caller
/// layers `auth::authenticate` over all of them.
pub(crate) fn protected() -> OpenApiRouter<AppState> {
    let reader = OpenApiRouter::new()
        .routes(routes!(system::metrics))
        .routes(routes!(system::openapi_json))
        .routes(routes!(products::list))
        .routes(routes!(products::show))
        .routes(routes!(events::list))
        .routes(routes!(events::shopper))
        .routes(routes!(recommendations::shopper))
        .routes(routes!(openai::chat_completions))
        .routes(routes!(openai::completions))
        .routes(routes!(openai::models));
    let merchant = OpenApiRouter::new()
        .routes(routes!(products::create))
        .routes(routes!(
            products::replace,
            products::patch,
            products::remove
        ))
        .routes(routes!(events::record))
        .routes(routes!(events::record_batch))
        .routes(routes!(content::descriptions))
        .routes(routes!(content::ads))
        .routes(routes!(content::seo))
        .routes(routes!(content::list_drafts))
        .routes(routes!(content::show_draft))
        .routes(routes!(content::review))
        .routes(routes!(content::edit))
        .routes(routes!(content::create_job, content::list_jobs))
        .routes(routes!(content::show_job))
        .routes(routes!(content::job_items))
        .routes(routes!(content::cancel_job))
        .routes(routes!(content::job_events))
        .routes(routes!(images::generate))
        .routes(routes!(images::banner));
    let admin = OpenApiRouter::new()
        .routes(routes!(keys::list, keys::create))
        .routes(routes!(keys::revoke))
        .routes(routes!(training::start, training::list))
        .routes(routes!(training::show))
        .routes(routes!(training::cancel))
        .routes(routes!(training::events))
        .routes(routes!(image_training::start, image_training::list))
        .routes(routes!(image_training::show))
        .routes(routes!(image_training::cancel))
        .routes(routes!(image_training::events));
    gate(Role::Reader, reader)
        .merge(gate(Role::Merchant, merchant))
        .merge(gate(Role::Admin, admin))
}

/// Puts `group` behind `role`, in the router and in the document alike.
fn gate(role: Role, group: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    let mut group = group.route_layer(middleware::from_fn_with_state(role, auth::require));
    openapi::document_role(group.get_openapi_mut(), role);
    group
}
