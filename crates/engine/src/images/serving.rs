//! Serving the image models: images of a category from the newest trained run in the runs
//! folder, and ad banners composed around one of them.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use image::GrayImage;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use vitrine_content::{BannerSize, render_banner};
use vitrine_core::Error as CoreError;
use vitrine_imagegen::{RunConfig, RunDir, SIDE, Sampler};

use crate::{Engine, Error, Result};

/// Most images one request may ask for.
pub const MAX_IMAGES: usize = 64;
/// Largest upscaling factor of a returned image.
pub const MAX_SCALE: u32 = 8;

/// Which kind of model generates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ImageModel {
    /// The conditional GAN.
    Gan,
    /// The conditional VAE (sampled from its prior).
    Vae,
}

impl ImageModel {
    fn name(self) -> &'static str {
        match self {
            Self::Gan => "gan",
            Self::Vae => "vae",
        }
    }
}

/// Images to generate.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImageRequest {
    /// The category, as the run names it (case does not matter), e.g. `Sneaker`.
    pub category: String,
    /// How many images (1 to 64; default 1).
    pub count: Option<usize>,
    /// Seed of the noise: the same seed, run and category give the same images (default: a
    /// fresh one, returned with the images).
    pub seed: Option<u64>,
    /// `gan` or `vae` (default: the newest trained run of either).
    pub model: Option<ImageModel>,
    /// Each pixel drawn as a `scale`×`scale` block (1 to 8; default 1: 28×28 images).
    pub scale: Option<u32>,
}

/// Generated images.
#[derive(Debug, Clone)]
pub struct Generated {
    /// The run that generated them (its folder name).
    pub run: String,
    /// `gan` or `vae`.
    pub model: &'static str,
    /// The category, as the run names it.
    pub category: String,
    /// The seed used.
    pub seed: u64,
    /// Each image, upscaled.
    pub images: Vec<GrayImage>,
}

/// A banner to compose.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BannerRequest {
    /// The product's category, as the run names it.
    pub category: String,
    /// The headline: wrapped over at most two lines, shrunk to a floor size; text that still
    /// does not fit is refused.
    pub headline: String,
    /// The call to action on the button, e.g. `Shop now`.
    pub cta: String,
    /// `300x250` (default) or `728x90`.
    pub size: Option<BannerSize>,
    /// Seed of the product image (default: a fresh one, returned in `X-Vitrine-Seed`).
    pub seed: Option<u64>,
    /// `gan` or `vae` (default: the newest trained run of either).
    pub model: Option<ImageModel>,
}

/// The loaded sampler, and what it was loaded from.
#[derive(Debug, Default)]
pub(crate) struct ImageSlot {
    loaded: Mutex<Option<Loaded>>,
}

#[derive(Debug)]
struct Loaded {
    dir: PathBuf,
    stamp: Option<SystemTime>,
    sampler: Arc<Mutex<Sampler>>,
}

/// A trained image run in the runs folder.
struct Candidate {
    dir: PathBuf,
    kind: &'static str,
    stamp: Option<SystemTime>,
}

fn invalid(field: &str, why: impl Into<String>) -> Error {
    CoreError::invalid(field, why).into()
}

/// Image runs (a `config.json` of a GAN or VAE and a `state.json` with a finished epoch) in
/// `dir`.
fn trained_runs(dir: &Path) -> Vec<Candidate> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let run = RunDir::new(e.path());
            let config: RunConfig = run.config().ok()?;
            let state = run.state().ok()??;
            if state.history.is_empty() {
                return None;
            }
            let stamp = std::fs::metadata(e.path().join("state.json"))
                .and_then(|m| m.modified())
                .ok();
            Some(Candidate {
                dir: e.path(),
                kind: config.model.name(),
                stamp,
            })
        })
        .collect()
}

impl Engine {
    /// The sampler of the newest trained run of `model` (or of either kind).
    fn image_sampler(&self, model: Option<ImageModel>) -> Result<(PathBuf, Arc<Mutex<Sampler>>)> {
        let runs = self.runs_dir.as_ref().ok_or_else(|| {
            Error::NoImageModel("this server has no runs folder for image models".into())
        })?;
        let newest = trained_runs(runs)
            .into_iter()
            .filter(|c| model.is_none_or(|m| m.name() == c.kind))
            .max_by_key(|c| c.stamp);
        let Some(newest) = newest else {
            let kind = model.map_or("gan", ImageModel::name);
            return Err(Error::NoImageModel(format!(
                "no trained {} yet: train one into the server's runs folder with `vitrine train \
                 {kind} --data DIR --run RUNS/NAME` (DIR: Fashion-MNIST's folder or \
                 DIR/<category>/*.png) or with POST /v1/image-trainings",
                model.map_or("image model".to_owned(), |m| m.name().to_uppercase()),
            )));
        };
        let mut slot = self.images.loaded.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(loaded) = slot.as_ref()
            && loaded.dir == newest.dir
            && loaded.stamp == newest.stamp
        {
            return Ok((loaded.dir.clone(), loaded.sampler.clone()));
        }
        let sampler = Sampler::load(&RunDir::new(&newest.dir)).map_err(|e| {
            Error::NoImageModel(format!(
                "the newest image run cannot be loaded ({e}); train it again or move it out of \
                 the runs folder"
            ))
        })?;
        let sampler = Arc::new(Mutex::new(sampler));
        *slot = Some(Loaded {
            dir: newest.dir.clone(),
            stamp: newest.stamp,
            sampler: sampler.clone(),
        });
        Ok((newest.dir, sampler))
    }

    /// Generates `request.count` images of `request.category` with the newest trained run.
    pub fn generate_images(&self, request: &ImageRequest) -> Result<Generated> {
        let count = request.count.unwrap_or(1);
        if !(1..=MAX_IMAGES).contains(&count) {
            return Err(invalid(
                "count",
                format!("must be between 1 and {MAX_IMAGES}"),
            ));
        }
        let scale = request.scale.unwrap_or(1);
        if !(1..=MAX_SCALE).contains(&scale) {
            return Err(invalid(
                "scale",
                format!("must be between 1 and {MAX_SCALE}"),
            ));
        }
        let (dir, sampler) = self.image_sampler(request.model)?;
        let sampler = sampler.lock().unwrap_or_else(|e| e.into_inner());
        let label = category_label(sampler.classes(), &request.category)?;
        // 53 bits: the seed survives JSON readers that hold numbers as doubles.
        let seed = request.seed.unwrap_or_else(|| rand::random::<u64>() >> 11);
        let pixels = sampler.generate(&vec![label; count], seed);
        let side = SIDE as u32;
        let images = pixels
            .chunks(SIDE * SIDE)
            .map(|p| {
                let image = GrayImage::from_raw(side, side, p.to_vec())
                    .unwrap_or_else(|| GrayImage::new(side, side));
                if scale == 1 {
                    image
                } else {
                    image::imageops::resize(
                        &image,
                        side * scale,
                        side * scale,
                        image::imageops::FilterType::Nearest,
                    )
                }
            })
            .collect();
        Ok(Generated {
            run: dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            model: sampler.kind(),
            category: sampler.classes()[label].clone(),
            seed,
            images,
        })
    }

    /// A PNG banner: one generated image of `request.category` with the headline and call to
    /// action, at the requested size; with the run and seed used.
    pub fn banner(&self, request: &BannerRequest) -> Result<(Generated, Vec<u8>)> {
        let generated = self.generate_images(&ImageRequest {
            category: request.category.clone(),
            count: Some(1),
            seed: request.seed,
            model: request.model,
            scale: Some(1),
        })?;
        let size = request.size.unwrap_or(BannerSize::MediumRectangle);
        let banner = render_banner(size, &generated.images[0], &request.headline, &request.cta)
            .map_err(|e| invalid(e.field, e.reason))?;
        Ok((
            generated,
            encode_png(&image::DynamicImage::ImageRgb8(banner))?,
        ))
    }
}

/// The label of `category` among `classes`, matched without regard to case.
fn category_label(classes: &[String], category: &str) -> Result<usize> {
    classes
        .iter()
        .position(|c| c.eq_ignore_ascii_case(category.trim()))
        .ok_or_else(|| {
            invalid(
                "category",
                format!(
                    "'{}' is not a category of the image model; it knows {}",
                    category.chars().take(64).collect::<String>(),
                    classes.join(", ")
                ),
            )
        })
}

/// PNG bytes of an image.
pub fn encode_png(image: &image::DynamicImage) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    image
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .map_err(|e| CoreError::Storage(format!("cannot encode a PNG: {e}")))?;
    Ok(bytes)
}
