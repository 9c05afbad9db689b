//! `/v1/images` and `/v1/banners`: product images from the newest trained GAN or VAE, and ad
//! banners composed around one.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::Serialize;
use utoipa::ToSchema;
use vitrine_engine::images::{BannerRequest, Generated, ImageRequest, encode_png};

use crate::extract::Json;
use crate::{ApiError, AppState, ErrorBody};

/// Images per row of the PNG grid.
const GRID_COLUMNS: usize = 8;

/// Generated images as JSON.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ImagesJson {
    /// The run that generated them (its folder in the runs folder).
    run: String,
    /// `gan` or `vae`.
    model: &'static str,
    /// The category, as the run names it.
    category: String,
    /// The seed: the same seed, run and category give the same images.
    seed: u64,
    /// Each image as a base64 PNG.
    images: Vec<String>,
}

/// Whether the client asks for JSON: `application/json` among its `Accept` media types, not
/// refused with `q=0`.
fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|range| {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or_default();
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            media.eq_ignore_ascii_case("application/json") && !refused
        })
}

fn png(bytes: Vec<u8>, generated: &Generated) -> Response {
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
    for (name, value) in [
        ("x-vitrine-run", generated.run.clone()),
        ("x-vitrine-model", generated.model.to_owned()),
        ("x-vitrine-seed", generated.seed.to_string()),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    response
}

/// Generates product images of one category with the newest trained run in the server's runs
/// folder (`model` picks the GAN or the VAE). By default one PNG: the images in a grid of up to
/// eight per row, with the run, model and seed in `X-Vitrine-Run`, `X-Vitrine-Model` and
/// `X-Vitrine-Seed`. With `Accept: application/json`, each image as a base64 PNG.
#[utoipa::path(
    post,
    path = "/v1/images",
    operation_id = "generate_images",
    tag = "images",
    request_body = ImageRequest,
    responses(
        (status = 200, description = "A PNG grid, or the images as JSON with `Accept: application/json`", content((Vec<u8> = "image/png"), (ImagesJson = "application/json"))),
        (status = 422, description = "Unknown category, count outside 1 to 64 or scale outside 1 to 8", body = ErrorBody),
        (status = 429, description = "8 image requests already run or wait; retry after Retry-After seconds", body = ErrorBody),
        (status = 503, description = "No trained image model yet (the message says what to run), or its files are damaged", body = ErrorBody),
    )
)]
pub(crate) async fn generate(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(request): Json<ImageRequest>,
) -> Result<Response, ApiError> {
    let json = wants_json(&headers);
    let (generated, bytes) = state
        .engine(move |engine| {
            let generated = engine.generate_images(&request)?;
            let bytes = if json {
                generated
                    .images
                    .iter()
                    .map(|i| encode_png(&image::DynamicImage::ImageLuma8(i.clone())))
                    .collect::<vitrine_engine::Result<Vec<_>>>()?
            } else {
                vec![encode_png(&image::DynamicImage::ImageLuma8(grid(
                    &generated,
                )))?]
            };
            Ok((generated, bytes))
        })
        .await?;
    if json {
        let b64 = base64::engine::general_purpose::STANDARD;
        return Ok(Json(ImagesJson {
            run: generated.run,
            model: generated.model,
            category: generated.category,
            seed: generated.seed,
            images: bytes.iter().map(|b| b64.encode(b)).collect(),
        })
        .into_response());
    }
    let bytes = bytes.into_iter().next().unwrap_or_default();
    Ok(png(bytes, &generated))
}

/// The images in rows of up to `GRID_COLUMNS`, with a grey gap; empty cells grey.
fn grid(generated: &Generated) -> image::GrayImage {
    let images = &generated.images;
    let side = images.first().map_or(0, |i| i.width()) as usize;
    let cols = images.len().clamp(1, GRID_COLUMNS);
    let rows = images.len().div_ceil(cols);
    let mut pixels = Vec::with_capacity(rows * cols * side * side);
    for image in images {
        pixels.extend_from_slice(image.as_raw());
    }
    pixels.resize(rows * cols * side * side, 128);
    vitrine_engine::images::grid(&pixels, rows, cols, side, 1)
}

/// Composes an ad banner (300×250 or 728×90 PNG): a generated product image of the category,
/// inverted to a dark product on white and upscaled with a Lanczos filter, the headline (two
/// lines at most, shrunk to a floor size) and a call-to-action button, in DejaVu Sans Bold. Text
/// that does not fit is refused with the room there is, never cut or overflowing.
#[utoipa::path(
    post,
    path = "/v1/banners",
    operation_id = "compose_banner",
    tag = "images",
    request_body = BannerRequest,
    responses(
        (status = 200, description = "The banner; run, model and seed in X-Vitrine-Run, X-Vitrine-Model and X-Vitrine-Seed", content_type = "image/png", body = Vec<u8>),
        (status = 422, description = "Unknown category or size, or a headline or call to action that is empty or does not fit", body = ErrorBody),
        (status = 429, description = "8 image requests already run or wait; retry after Retry-After seconds", body = ErrorBody),
        (status = 503, description = "No trained image model yet (the message says what to run), or its files are damaged", body = ErrorBody),
    )
)]
pub(crate) async fn banner(
    State(state): State<AppState>,
    Json(request): Json<BannerRequest>,
) -> Result<Response, ApiError> {
    let (generated, bytes) = state.engine(move |engine| engine.banner(&request)).await?;
    Ok(png(bytes, &generated))
}
