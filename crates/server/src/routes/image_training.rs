//! `/v1/image-trainings`: training the GAN or the VAE in the background (admin): start or resume
//! a run on a folder of images on the server, watch it as server-sent events, cancel it.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use vitrine_engine::images::{ImageTraining, ImageTrainingRequest};
use vitrine_engine::rec::TrainingState;

use crate::extract::{Json, Path};
use crate::sse::{polled, training_turn};
use crate::{ApiError, AppState, ErrorBody};

/// How often a training's event stream looks at it.
const POLL: Duration = Duration::from_millis(250);

/// Starts training a conditional GAN or VAE in the background on the images in `data` (a folder
/// on the server: Fashion-MNIST's IDX files or `DIR/<category>/*.png`), into the run folder
/// `run` under the server's runs folder; a cancelled or interrupted run resumes after its last
/// finished epoch. One training (of any model) runs at a time. Once a run has an epoch,
/// `POST /v1/images` and `POST /v1/banners` serve the newest one.
#[utoipa::path(
    post,
    path = "/v1/image-trainings",
    operation_id = "start_image_training",
    tag = "training",
    request_body = ImageTrainingRequest,
    responses(
        (status = 202, description = "The training, running", body = ImageTraining),
        (status = 409, description = "Another training runs, or the run folder holds a run with other settings or data", body = ErrorBody),
        (status = 422, description = "A setting is out of range, or the data folder is missing or unreadable", body = ErrorBody),
    )
)]
pub(crate) async fn start(
    State(state): State<AppState>,
    Json(request): Json<ImageTrainingRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let training = state
        .engine(move |engine| engine.start_image_training(&request))
        .await?;
    Ok((StatusCode::ACCEPTED, Json(training)))
}

/// Every image run in the runs folder, with where it stands.
#[utoipa::path(
    get,
    path = "/v1/image-trainings",
    operation_id = "list_image_trainings",
    tag = "training",
    responses((status = 200, description = "The image runs, by name", body = Vec<ImageTraining>))
)]
pub(crate) async fn list(
    State(state): State<AppState>,
) -> Result<Json<Vec<ImageTraining>>, ApiError> {
    Ok(Json(state.engine(|engine| engine.image_trainings()).await?))
}

/// One image run: live progress while this server trains it, else what its folder holds.
#[utoipa::path(
    get,
    path = "/v1/image-trainings/{run}",
    operation_id = "get_image_training",
    tag = "training",
    params(("run" = String, Path, description = "The run's name")),
    responses(
        (status = 200, description = "The run", body = ImageTraining),
        (status = 404, description = "No such run", body = ErrorBody),
    )
)]
pub(crate) async fn show(
    State(state): State<AppState>,
    Path(run): Path<String>,
) -> Result<Json<ImageTraining>, ApiError> {
    Ok(Json(
        state
            .engine(move |engine| engine.image_training(&run))
            .await?,
    ))
}

/// Stops a running image training after its current batch; its finished epochs are kept.
#[utoipa::path(
    post,
    path = "/v1/image-trainings/{run}/cancel",
    operation_id = "cancel_image_training",
    tag = "training",
    params(("run" = String, Path, description = "The run's name")),
    responses(
        (status = 200, description = "The run (still `running` until the batch ends)", body = ImageTraining),
        (status = 404, description = "No such run", body = ErrorBody),
    )
)]
pub(crate) async fn cancel(
    State(state): State<AppState>,
    Path(run): Path<String>,
) -> Result<Json<ImageTraining>, ApiError> {
    Ok(Json(
        state
            .engine(move |engine| engine.cancel_image_training(&run))
            .await?,
    ))
}

/// The run's progress as server-sent events: `progress` (the run, as `GET` gives it) whenever
/// it changes (at most four a second), `epoch` once per finished epoch (its losses and speed),
/// and `end` (the run) when it is done, failed or cancelled.
#[utoipa::path(
    get,
    path = "/v1/image-trainings/{run}/events",
    operation_id = "image_training_events",
    tag = "training",
    params(("run" = String, Path, description = "The run's name")),
    responses(
        (status = 200, description = "text/event-stream of `progress`, `epoch` and `end` events", content_type = "text/event-stream", body = String),
        (status = 404, description = "No such run", body = ErrorBody),
    )
)]
pub(crate) async fn events(
    State(state): State<AppState>,
    Path(run): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let first = {
        let run = run.clone();
        state
            .engine(move |engine| engine.image_training(&run))
            .await?
    };
    let turn = training_turn(
        &first,
        |t: &ImageTraining| &t.history,
        |t: &ImageTraining| t.updates,
        |t: &ImageTraining| t.state == TrainingState::Running,
    );
    let read = move |engine: &vitrine_engine::Engine| engine.image_training(&run);
    Ok(polled(state, POLL, Some(first), read, turn))
}
