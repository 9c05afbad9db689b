//! Generated content: descriptions, ad creatives and SEO tags written for a product and stored
//! as drafts; the review of drafts; batch jobs with their progress as server-sent events.

use std::time::Duration;

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::response::sse::Event;
use serde::Deserialize;
use utoipa::ToSchema;
use vitrine_core::{
    ApiKey, ContentKind, Draft, DraftQuery, DraftStatus, Job, JobItem, JobStatus, Page,
};
use vitrine_engine::options::{AdOptions, Channel, DescriptionOptions, Tone};
use vitrine_engine::{DescriptionJob, Generated};

use crate::extract::{Json, Path, Query};
use crate::sse::{Turn, polled};
use crate::{ApiError, AppState, ErrorBody};

/// How often a job's event stream looks at the job.
const POLL: Duration = Duration::from_millis(500);
/// Workers of a job started over the API unless the request says otherwise.
const DEFAULT_JOB_WORKERS: usize = 8;
/// The most workers a job may have.
const MAX_JOB_WORKERS: usize = 32;

/// Writes description variants for a product and stores them as drafts for review.
#[utoipa::path(
    post,
    path = "/v1/products/{id}/descriptions",
    operation_id = "generate_descriptions",
    tag = "content",
    params(("id" = String, Path, description = "Product id")),
    request_body = DescriptionOptions,
    responses(
        (status = 201, description = "The drafts written (each checked claim by claim)", body = Generated),
        (status = 404, description = "No such product", body = ErrorBody),
        (status = 422, description = "An option is out of range, or the product has nothing to ground copy on", body = ErrorBody),
        (status = 429, description = "The model is busy", body = ErrorBody),
        (status = 503, description = "No language model", body = ErrorBody),
    )
)]
pub(crate) async fn descriptions(
    State(state): State<AppState>,
    Extension(key): Extension<ApiKey>,
    Path(id): Path<String>,
    Json(options): Json<DescriptionOptions>,
) -> Result<impl IntoResponse, ApiError> {
    let generated = state
        .engine(move |engine| engine.generate_descriptions(&id, &options, &key.id))
        .await?;
    Ok((StatusCode::CREATED, Json(generated)))
}

/// Writes ad creatives for one channel, every text within the channel's limits, and stores
/// them as drafts for review.
#[utoipa::path(
    post,
    path = "/v1/products/{id}/ads",
    operation_id = "generate_ads",
    tag = "content",
    params(("id" = String, Path, description = "Product id")),
    request_body = AdOptions,
    responses(
        (status = 201, description = "The creatives written", body = Generated),
        (status = 404, description = "No such product", body = ErrorBody),
        (status = 422, description = "An option is out of range, or the product has nothing to ground copy on", body = ErrorBody),
        (status = 429, description = "The model is busy", body = ErrorBody),
        (status = 503, description = "No language model", body = ErrorBody),
    )
)]
pub(crate) async fn ads(
    State(state): State<AppState>,
    Extension(key): Extension<ApiKey>,
    Path(id): Path<String>,
    Json(options): Json<AdOptions>,
) -> Result<impl IntoResponse, ApiError> {
    let generated = state
        .engine(move |engine| engine.generate_ads(&id, &options, &key.id))
        .await?;
    Ok((StatusCode::CREATED, Json(generated)))
}

/// What an SEO request may set.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SeoRequest {
    /// Variants, 1 to 8 (default 1).
    #[serde(default)]
    variants: Option<u32>,
    /// Voice.
    #[serde(default)]
    tone: Tone,
    /// Seed of the model's candidates.
    #[serde(default)]
    seed: Option<u64>,
}

/// Writes SEO titles (≤ 60 characters) and meta descriptions (≤ 155) and stores them as drafts.
#[utoipa::path(
    post,
    path = "/v1/products/{id}/seo",
    operation_id = "generate_seo",
    tag = "content",
    params(("id" = String, Path, description = "Product id")),
    request_body = SeoRequest,
    responses(
        (status = 201, description = "The SEO tags written", body = Generated),
        (status = 404, description = "No such product", body = ErrorBody),
        (status = 422, description = "An option is out of range, or the product has nothing to ground copy on", body = ErrorBody),
        (status = 503, description = "No language model", body = ErrorBody),
    )
)]
pub(crate) async fn seo(
    State(state): State<AppState>,
    Extension(key): Extension<ApiKey>,
    Path(id): Path<String>,
    Json(request): Json<SeoRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let options = AdOptions {
        variants: request.variants.unwrap_or(1),
        tone: request.tone,
        seed: request.seed,
        ..AdOptions::new(Channel::Seo)
    };
    let generated = state
        .engine(move |engine| engine.generate_ads(&id, &options, &key.id))
        .await?;
    Ok((StatusCode::CREATED, Json(generated)))
}

/// Filters and paging for drafts.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct DraftParams {
    /// Only this product's drafts.
    product: Option<String>,
    /// Only this kind: description, seo, search, social, sms, push, email.
    kind: Option<String>,
    /// Only this status: draft, approved, rejected, superseded.
    status: Option<String>,
    /// Page size, 1 to 1000 (default 50).
    limit: Option<u32>,
    /// Rows to skip.
    offset: Option<u64>,
}

/// Lists drafts, newest first.
#[utoipa::path(
    get,
    path = "/v1/drafts",
    operation_id = "list_drafts",
    tag = "content",
    params(DraftParams),
    responses(
        (status = 200, description = "One page of drafts", body = Page<Draft>),
        (status = 422, description = "A filter is not valid", body = ErrorBody),
    )
)]
pub(crate) async fn list_drafts(
    State(state): State<AppState>,
    Query(params): Query<DraftParams>,
) -> Result<Json<Page<Draft>>, ApiError> {
    let query = DraftQuery {
        product: params.product.filter(|p| !p.trim().is_empty()),
        kind: params
            .kind
            .filter(|k| !k.trim().is_empty())
            .map(|k| k.parse::<ContentKind>())
            .transpose()?,
        status: params
            .status
            .filter(|s| !s.trim().is_empty())
            .map(|s| s.parse::<DraftStatus>())
            .transpose()?,
        limit: params.limit.unwrap_or(super::DEFAULT_LIMIT),
        offset: params.offset.unwrap_or(0),
    };
    Ok(Json(
        state.engine(move |engine| engine.drafts(&query)).await?,
    ))
}

/// One draft, with its provenance and verification report.
#[utoipa::path(
    get,
    path = "/v1/drafts/{id}",
    operation_id = "get_draft",
    tag = "content",
    params(("id" = String, Path, description = "Draft id")),
    responses(
        (status = 200, description = "The draft", body = Draft),
        (status = 404, description = "No such draft", body = ErrorBody),
    )
)]
pub(crate) async fn show_draft(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Draft>, ApiError> {
    Ok(Json(state.engine(move |engine| engine.draft(&id)).await?))
}

/// A review decision.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReviewRequest {
    /// `approve` or `reject`.
    decision: String,
    /// Why, for the record (at most 500 characters).
    #[serde(default)]
    note: Option<String>,
}

/// Approves a draft (it replaces the product's approved text of its kind and is served to
/// shoppers) or rejects it.
#[utoipa::path(
    post,
    path = "/v1/drafts/{id}/review",
    operation_id = "review_draft",
    tag = "content",
    params(("id" = String, Path, description = "Draft id")),
    request_body = ReviewRequest,
    responses(
        (status = 200, description = "The draft after the review", body = Draft),
        (status = 404, description = "No such draft", body = ErrorBody),
        (status = 409, description = "The draft cannot take this decision in its state", body = ErrorBody),
        (status = 422, description = "The decision is not approve or reject", body = ErrorBody),
    )
)]
pub(crate) async fn review(
    State(state): State<AppState>,
    Extension(key): Extension<ApiKey>,
    Path(id): Path<String>,
    Json(request): Json<ReviewRequest>,
) -> Result<Json<Draft>, ApiError> {
    let status = match request.decision.trim() {
        "approve" => DraftStatus::Approved,
        "reject" => DraftStatus::Rejected,
        other => {
            return Err(ApiError::Invalid(format!(
                "decision: '{other}' is not approve or reject"
            )));
        }
    };
    Ok(Json(
        state
            .engine(move |engine| engine.review_draft(&id, status, &key.id, request.note))
            .await?,
    ))
}

/// A person's edit.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EditRequest {
    /// The new content, in the draft kind's shape (`{"text": …}` for a description).
    #[schema(value_type = Object)]
    content: serde_json::Value,
    /// Why, for the record.
    #[serde(default)]
    note: Option<String>,
    /// Approve the edit at once.
    #[serde(default)]
    approve: bool,
}

/// Stores a person's edit of a draft as a new draft (origin `human`, `parent` the edited one),
/// its claims checked and reported.
#[utoipa::path(
    post,
    path = "/v1/drafts/{id}/edits",
    operation_id = "edit_draft",
    tag = "content",
    params(("id" = String, Path, description = "Draft id")),
    request_body = EditRequest,
    responses(
        (status = 201, description = "The edit, as a new draft", body = Draft),
        (status = 404, description = "No such draft", body = ErrorBody),
        (status = 422, description = "The content does not fit the kind or its limits", body = ErrorBody),
    )
)]
pub(crate) async fn edit(
    State(state): State<AppState>,
    Extension(key): Extension<ApiKey>,
    Path(id): Path<String>,
    Json(request): Json<EditRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let draft = state
        .engine(move |engine| {
            engine.edit_draft(&id, request.content, &key.id, request.note, request.approve)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(draft)))
}

/// A batch job to start.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct JobRequest {
    /// `descriptions` (the only kind so far).
    kind: String,
    /// What the job covers and the options of every product's copy.
    #[serde(flatten)]
    spec: DescriptionJob,
    /// Products worked on at once (default 8), 1 to 32.
    #[serde(default)]
    workers: Option<usize>,
}

/// Starts a batch job in the background, or resumes the unfinished one with the same
/// parameters. Progress: `GET /v1/jobs/{id}` or the event stream `GET /v1/jobs/{id}/events`.
#[utoipa::path(
    post,
    path = "/v1/jobs",
    operation_id = "create_job",
    tag = "jobs",
    request_body = JobRequest,
    responses(
        (status = 202, description = "The job, running", body = Job),
        (status = 422, description = "A parameter is not valid", body = ErrorBody),
        (status = 503, description = "No language model", body = ErrorBody),
    )
)]
pub(crate) async fn create_job(
    State(state): State<AppState>,
    Extension(key): Extension<ApiKey>,
    Json(request): Json<JobRequest>,
) -> Result<impl IntoResponse, ApiError> {
    if request.kind != vitrine_engine::DESCRIPTIONS {
        return Err(ApiError::Invalid(format!(
            "kind: '{}' is not a job kind; the one kind is descriptions",
            request.kind
        )));
    }
    let workers = request.workers.unwrap_or(DEFAULT_JOB_WORKERS);
    if !(1..=MAX_JOB_WORKERS).contains(&workers) {
        return Err(ApiError::Invalid(format!(
            "workers: {workers} is out of range 1..={MAX_JOB_WORKERS}"
        )));
    }
    request
        .spec
        .options
        .validate()
        .map_err(|e| ApiError::Invalid(e.to_string()))?;
    if state.generator().is_none() {
        return Err(ApiError::NoModel);
    }
    let spec = request.spec;
    let (job, _) = state
        .engine(move |engine| engine.start_description_job(&spec, &key.id))
        .await?;
    if !job.status.is_finished() {
        state.spawn_job(job.id.clone(), workers);
    }
    Ok((StatusCode::ACCEPTED, Json(job)))
}

/// Filters and paging for jobs.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct JobParams {
    /// Only jobs in this state: running, done, cancelled.
    status: Option<String>,
    /// Page size, 1 to 1000 (default 50).
    limit: Option<u32>,
    /// Rows to skip.
    offset: Option<u64>,
}

/// Lists jobs, newest first.
#[utoipa::path(
    get,
    path = "/v1/jobs",
    operation_id = "list_jobs",
    tag = "jobs",
    params(JobParams),
    responses((status = 200, description = "One page of jobs", body = Page<Job>))
)]
pub(crate) async fn list_jobs(
    State(state): State<AppState>,
    Query(params): Query<JobParams>,
) -> Result<Json<Page<Job>>, ApiError> {
    let status = params
        .status
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.parse::<JobStatus>())
        .transpose()?;
    let (limit, offset) = (
        params.limit.unwrap_or(super::DEFAULT_LIMIT),
        params.offset.unwrap_or(0),
    );
    Ok(Json(
        state
            .engine(move |engine| engine.jobs(status, limit, offset))
            .await?,
    ))
}

/// One job and its progress.
#[utoipa::path(
    get,
    path = "/v1/jobs/{id}",
    operation_id = "get_job",
    tag = "jobs",
    params(("id" = String, Path, description = "Job id")),
    responses(
        (status = 200, description = "The job", body = Job),
        (status = 404, description = "No such job", body = ErrorBody),
    )
)]
pub(crate) async fn show_job(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Job>, ApiError> {
    Ok(Json(state.engine(move |engine| engine.job(&id)).await?))
}

/// Paging for a job's items.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct PageParams {
    /// Page size, 1 to 1000 (default 50).
    limit: Option<u32>,
    /// Rows to skip.
    offset: Option<u64>,
}

/// A job's items: each product, where it stands, its drafts or why it failed.
#[utoipa::path(
    get,
    path = "/v1/jobs/{id}/items",
    operation_id = "list_job_items",
    tag = "jobs",
    params(("id" = String, Path, description = "Job id"), PageParams),
    responses(
        (status = 200, description = "One page of items", body = Page<JobItem>),
        (status = 404, description = "No such job", body = ErrorBody),
    )
)]
pub(crate) async fn job_items(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(params): Query<PageParams>,
) -> Result<Json<Page<JobItem>>, ApiError> {
    let (limit, offset) = (
        params.limit.unwrap_or(super::DEFAULT_LIMIT),
        params.offset.unwrap_or(0),
    );
    Ok(Json(
        state
            .engine(move |engine| engine.job_items(&id, limit, offset))
            .await?,
    ))
}

/// Cancels a running job; items already done keep their drafts.
#[utoipa::path(
    post,
    path = "/v1/jobs/{id}/cancel",
    operation_id = "cancel_job",
    tag = "jobs",
    params(("id" = String, Path, description = "Job id")),
    responses(
        (status = 200, description = "The job, cancelled (or already finished)", body = Job),
        (status = 404, description = "No such job", body = ErrorBody),
    )
)]
pub(crate) async fn cancel_job(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Job>, ApiError> {
    Ok(Json(
        state.engine(move |engine| engine.cancel_job(&id)).await?,
    ))
}

/// The job's progress as server-sent events: a `progress` event with the job each time its
/// counts change (with `items_per_minute` since the stream opened), and an `end` event when it
/// is done or cancelled.
#[utoipa::path(
    get,
    path = "/v1/jobs/{id}/events",
    operation_id = "job_events",
    tag = "jobs",
    params(("id" = String, Path, description = "Job id")),
    responses(
        (status = 200, description = "text/event-stream of `progress` and `end` events", content_type = "text/event-stream", body = String),
        (status = 404, description = "No such job", body = ErrorBody),
    )
)]
pub(crate) async fn job_events(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let first = {
        let id = id.clone();
        state.engine(move |engine| engine.job(&id)).await?
    };
    let opened = std::time::Instant::now();
    let first_finished = first.done + first.failed;
    let mut last: Option<(u64, u64, JobStatus)> = None;
    let turn = move |job: Job| {
        let now = (job.done, job.failed, job.status);
        if last == Some(now) {
            return Turn {
                events: Vec::new(),
                end: false,
            };
        }
        last = Some(now);
        let finished_here = (job.done + job.failed).saturating_sub(first_finished);
        let minutes = opened.elapsed().as_secs_f64() / 60.0;
        let rate = if minutes > 0.0 {
            finished_here as f64 / minutes
        } else {
            0.0
        };
        let mut data = serde_json::to_value(&job).unwrap_or_default();
        data["items_per_minute"] = serde_json::json!((rate * 10.0).round() / 10.0);
        let end = job.status.is_finished();
        let name = if end { "end" } else { "progress" };
        Turn {
            events: vec![Event::default().event(name).data(data.to_string())],
            end,
        }
    };
    let read = move |engine: &vitrine_engine::Engine| engine.job(&id);
    Ok(polled(state, POLL, Some(first), read, turn))
}
