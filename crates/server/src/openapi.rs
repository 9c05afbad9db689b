//! The OpenAPI document. Paths, parameters and bodies come from each handler's
//! `#[utoipa::path]`; this file adds what the handlers share: the bearer scheme, the error schema,
//! and the responses every gated or JSON-body operation can give. It serves nothing itself.

use utoipa::openapi::extensions::ExtensionsBuilder;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi as _};
use utoipa_axum::router::OpenApiRouter;
use vitrine_core::Role;

use crate::routes;
use crate::{ErrorBody, ErrorDetail};

/// The name the security scheme is registered under.
const BEARER: &str = "bearerAuth";

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Vitrine API",
        description = "Catalog, shopper events, API keys and the OpenAI-compatible language \
            model API of a Vitrine content engine. Every \
            route except /healthz needs `Authorization: Bearer <key>`; each operation's \
            `x-required-role` says which role (reader < merchant < admin). Every error has the \
            body {\"error\":{\"code\",\"message\"}}."
    ),
    security(("bearerAuth" = [])),
    components(schemas(ErrorBody, ErrorDetail)),
    modifiers(&BearerScheme),
    tags(
        (name = "products", description = "The catalog"),
        (name = "events", description = "Shopper behaviour"),
        (name = "recommendations", description = "Products for a shopper, from their behaviour"),
        (name = "images", description = "Product images from the trained GAN or VAE, and ad banners"),
        (name = "keys", description = "API keys (admin)"),
        (name = "training", description = "Training the recommender and the image models in the background (admin)"),
        (name = "openai", description = "The language model, in OpenAI's API shapes"),
        (name = "system", description = "Health, metrics and this document"),
    )
)]
struct ApiDoc;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, doc: &mut OpenApi) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("vtr_<64 hex digits>")
            .description(Some(
                "A Vitrine API key; admins issue them with POST /v1/keys",
            ))
            .build();
        doc.components
            .get_or_insert_with(Default::default)
            .add_security_scheme(BEARER, SecurityScheme::Http(scheme));
    }
}

/// The OpenAPI document of the whole API, as served at `GET /openapi.json`.
pub fn openapi() -> OpenApi {
    let mut doc = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(routes::public())
        .merge(routes::protected())
        .into_openapi();
    for op in operations(&mut doc) {
        if op.request_body.is_some() {
            add_error(op, "400", "The body is not JSON");
            add_error(op, "413", "The body is over the server's limit");
            add_error(op, "415", "The body is not sent as application/json");
        }
        add_error(op, "500", "Internal error; details are in the server log");
    }
    doc
}

/// Marks every operation in `doc` as needing `role`, with the 401 and 403 that follow.
pub(crate) fn document_role(doc: &mut OpenApi, role: Role) {
    for op in operations(doc) {
        add_error(op, "401", "No bearer key, or an unknown or revoked one");
        add_error(op, "403", "The key's role is too low");
        op.extensions.get_or_insert_with(Default::default).merge(
            ExtensionsBuilder::new()
                .add("x-required-role", role.as_str())
                .build(),
        );
    }
}

fn operations(doc: &mut OpenApi) -> impl Iterator<Item = &mut Operation> {
    doc.paths.paths.values_mut().flat_map(|item| {
        let PathItem {
            get,
            put,
            post,
            delete,
            options,
            head,
            patch,
            trace,
            ..
        } = item;
        [get, put, post, delete, options, head, patch, trace]
            .into_iter()
            .flatten()
    })
}

/// Adds an error response unless the handler documented that status itself.
fn add_error(op: &mut Operation, status: &str, description: &str) {
    op.responses
        .responses
        .entry(status.to_string())
        .or_insert_with(|| RefOr::T(error_response(description)));
}

fn error_response(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
}
