//! Serving the image models: images of a category from the newest trained run in the runs
//! folder, and ad banners composed around one of them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
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

/// Most image requests (banners included) running or waiting at once; one more is refused
/// as busy. Generating 64 images with the default GAN takes about 5 ms here, so the last in
/// line waits some tens of milliseconds.
pub const MAX_IMAGE_REQUESTS: usize = 8;

/// The loaded sampler, what it was loaded from, the runs folder as last seen, and the requests
/// in flight.
#[derive(Debug, Default)]
pub(crate) struct ImageSlot {
    loaded: Mutex<Option<Loaded>>,
    seen: Mutex<HashMap<PathBuf, Seen>>,
    in_flight: AtomicUsize,
}

/// What a folder of the runs folder was when its `state.json` had this modification time.
#[derive(Debug, Clone)]
struct Seen {
    stamp: Option<SystemTime>,
    /// `gan` or `vae` for a trained image run; `None` for anything else.
    kind: Option<&'static str>,
}

/// A place among the image requests in flight, given back when dropped.
struct Admitted<'a>(&'a AtomicUsize);

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl ImageSlot {
    /// A place among the requests in flight, or `ImagesBusy` when they are all taken.
    fn admit(&self) -> Result<Admitted<'_>> {
        self.in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < MAX_IMAGE_REQUESTS).then_some(n + 1)
            })
            .map_err(Error::ImagesBusy)?;
        Ok(Admitted(&self.in_flight))
    }

    /// The trained image runs in `dir`. A folder's files are read again only when its
    /// `state.json` changed (each finished epoch rewrites it), so a request costs one
    /// directory listing and a metadata call per folder.
    fn trained_runs(&self, dir: &Path) -> Vec<Candidate> {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let mut present = HashMap::new();
        for entry in entries.filter_map(|e| e.ok()) {
            let path = entry.path();
            let stamp = std::fs::metadata(path.join("state.json"))
                .and_then(|m| m.modified())
                .ok();
            let known = seen
                .remove(&path)
                .filter(|s| s.stamp == stamp && stamp.is_some());
            let kind = match known {
                Some(s) => s.kind,
                None => image_run_kind(&RunDir::new(&path)),
            };
            present.insert(path, Seen { stamp, kind });
        }
        *seen = present;
        seen.iter()
            .filter_map(|(dir, s)| {
                s.kind.map(|kind| Candidate {
                    dir: dir.clone(),
                    kind,
                    stamp: s.stamp,
                })
            })
            .collect()
    }
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

/// `gan` or `vae` when `run` is an image run (a `config.json` of a GAN or VAE) with a finished
/// epoch in its `state.json`.
fn image_run_kind(run: &RunDir) -> Option<&'static str> {
    let config: RunConfig = run.config().ok()?;
    let state = run.state().ok()??;
    (!state.history.is_empty()).then(|| config.model.name())
}

impl Engine {
    /// The sampler of the newest trained run of `model` (or of either kind).
    fn image_sampler(&self, model: Option<ImageModel>) -> Result<(PathBuf, Arc<Mutex<Sampler>>)> {
        let runs = self.runs_dir.as_ref().ok_or_else(|| {
            Error::NoImageModel("this server has no runs folder for image models".into())
        })?;
        let newest = self
            .images
            .trained_runs(runs)
            .into_iter()
            .filter(|c| model.is_none_or(|m| m.name() == c.kind))
            .max_by_key(|c| (c.stamp, c.dir.clone()));
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
        let _admitted = self.images.admit()?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_past_the_limit_are_busy_until_one_finishes() {
        let slot = ImageSlot::default();
        let admitted: Vec<_> = (0..MAX_IMAGE_REQUESTS)
            .map(|_| slot.admit().expect("room"))
            .collect();
        let Err(Error::ImagesBusy(n)) = slot.admit() else {
            panic!("one past the limit is busy");
        };
        assert_eq!(n, MAX_IMAGE_REQUESTS);
        drop(admitted);
        assert!(slot.admit().is_ok());
        assert_eq!(slot.in_flight.load(Ordering::Acquire), 0);
    }

    #[test]
    fn the_runs_folder_is_read_again_only_where_a_state_changed() {
        let dir = tempfile::tempdir().unwrap();
        let slot = ImageSlot::default();
        assert!(slot.trained_runs(dir.path()).is_empty());
        // A folder that is no image run is remembered as such.
        std::fs::create_dir(dir.path().join("notes")).unwrap();
        std::fs::write(dir.path().join("notes/state.json"), "{}").unwrap();
        assert!(slot.trained_runs(dir.path()).is_empty());
        let seen = slot.seen.lock().unwrap();
        assert_eq!(seen.len(), 1);
        assert!(seen.values().all(|s| s.kind.is_none() && s.stamp.is_some()));
        drop(seen);
        // Removed folders are forgotten.
        std::fs::remove_dir_all(dir.path().join("notes")).unwrap();
        assert!(slot.trained_runs(dir.path()).is_empty());
        assert!(slot.seen.lock().unwrap().is_empty());
    }
}
