//! Generating with a trained run: images of chosen categories from seeded noise (GAN or the
//! VAE's prior), and, with the VAE, reconstructions of given images and walks through the
//! latent space between two of them. Inference only, on the plain CPU device.

use burn::prelude::*;
use burn::tensor::activation::sigmoid;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::gan::{Generator, SIDE};
use crate::train::{EpochRecord, ModelConfig, RunConfig, RunDir, to_pixels};
use crate::vae::Vae;
use vitrine_ml::checkpoint::load_module;

use crate::{Error, Result};

/// The trained model of a run, ready to generate.
#[derive(Debug)]
pub struct Sampler {
    model: Model,
    config: RunConfig,
    history: Vec<EpochRecord>,
    device: Device,
}

/// One value per sampler: the size difference costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
enum Model {
    Gan(Generator),
    Vae(Vae),
}

/// `count * latent` draws of a standard normal, from `seed` alone (Box–Muller), so the same
/// seed gives the same images on every machine and in every process.
pub(crate) fn normal_noise(count: usize, latent: usize, seed: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..count * latent)
        .map(|_| {
            let (u, v): (f32, f32) = (rng.random_range(f32::EPSILON..1.0), rng.random());
            (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
        })
        .collect()
}

impl Sampler {
    /// Loads the weights of the run in `run` (its last finished epoch). A run with no finished
    /// epoch, or damaged or mismatched weights, is an error naming the file.
    pub fn load(run: &RunDir) -> Result<Self> {
        let config = run.config()?;
        let history = run.state()?.map(|s| s.history).unwrap_or_default();
        if history.is_empty() {
            return Err(Error::Data {
                path: run.path().to_owned(),
                reason: "has no finished epoch yet: nothing to generate with".into(),
            });
        }
        let device = Device::flex();
        let model = match &config.model {
            ModelConfig::Gan(c) => Model::Gan(load_module(
                Generator::new(c, &device),
                &run.file("generator.bpk"),
            )?),
            ModelConfig::Vae(c) => {
                Model::Vae(load_module(Vae::new(c, &device), &run.file("vae.bpk"))?)
            }
        };
        if config.classes.len() != config.model.classes() {
            return Err(Error::Data {
                path: run.file("config.json"),
                reason: format!(
                    "names {} categories for a model of {}",
                    config.classes.len(),
                    config.model.classes()
                ),
            });
        }
        Ok(Self {
            model,
            config,
            history,
            device,
        })
    }

    /// The run's settings.
    pub fn config(&self) -> &RunConfig {
        &self.config
    }

    /// `gan` or `vae`.
    pub fn kind(&self) -> &'static str {
        self.config.model.name()
    }

    /// The epochs the weights were trained for.
    pub fn history(&self) -> &[EpochRecord] {
        &self.history
    }

    /// The category names, by label.
    pub fn classes(&self) -> &[String] {
        &self.config.classes
    }

    fn latent(&self) -> usize {
        match &self.config.model {
            ModelConfig::Gan(c) => c.latent,
            ModelConfig::Vae(c) => c.latent,
        }
    }

    fn label_tensor(&self, labels: &[usize]) -> Tensor<1, Int> {
        let values: Vec<i64> = labels.iter().map(|&l| l as i64).collect();
        Tensor::from_data(TensorData::new(values, [labels.len()]), &self.device)
    }

    /// Pixels (0 black to 255, 28×28 row-major, image after image) of one image per label, the
    /// noise drawn from `seed`. Labels must be below `classes().len()`.
    pub fn generate(&self, labels: &[usize], seed: u64) -> Vec<u8> {
        if labels.is_empty() {
            return Vec::new();
        }
        let latent = self.latent();
        let noise = Tensor::<2>::from_data(
            TensorData::new(
                normal_noise(labels.len(), latent, seed),
                [labels.len(), latent],
            ),
            &self.device,
        );
        self.decode(noise, labels)
    }

    fn decode(&self, latents: Tensor<2>, labels: &[usize]) -> Vec<u8> {
        let labels = self.label_tensor(labels);
        match &self.model {
            Model::Gan(g) => to_pixels((g.forward(latents, labels) + 1.0) * 127.5),
            Model::Vae(vae) => to_pixels(sigmoid(vae.decoder.forward(latents, labels)) * 255.0),
        }
    }

    /// The VAE's latent means of images (28×28 pixels each) with their labels.
    fn encode(&self, vae: &Vae, pixels: &[u8], labels: &[usize]) -> Tensor<2> {
        let n = labels.len();
        let values: Vec<f32> = pixels.iter().map(|&p| f32::from(p) / 255.0).collect();
        let images =
            Tensor::<4>::from_data(TensorData::new(values, [n, 1, SIDE, SIDE]), &self.device);
        vae.encoder.forward(images, self.label_tensor(labels)).0
    }

    fn vae(&self, what: &str) -> Result<&Vae> {
        match &self.model {
            Model::Vae(vae) => Ok(vae),
            Model::Gan(_) => Err(Error::Data {
                path: self.config.data.clone().into(),
                reason: format!("{what} needs a VAE run; this one is a GAN"),
            }),
        }
    }

    /// The VAE's reconstructions (through the latent mean) of images with their labels.
    pub fn reconstruct(&self, pixels: &[u8], labels: &[usize]) -> Result<Vec<u8>> {
        let vae = self.vae("reconstruction")?;
        check_pixels(pixels, labels.len())?;
        if labels.is_empty() {
            return Ok(Vec::new());
        }
        let mean = self.encode(vae, pixels, labels);
        Ok(self.decode(mean, labels))
    }

    /// `steps` images (at least 2) walking in a straight line through the VAE's latent space
    /// from image `a` to image `b`, both of category `label`: the first and last are their
    /// reconstructions.
    pub fn interpolate(&self, a: &[u8], b: &[u8], label: usize, steps: usize) -> Result<Vec<u8>> {
        let vae = self.vae("interpolation")?;
        check_pixels(a, 1)?;
        check_pixels(b, 1)?;
        let steps = steps.max(2);
        let ends = self.encode(vae, &[a, b].concat(), &[label, label]);
        let start = ends.clone().narrow(0, 0, 1);
        let end = ends.narrow(0, 1, 1);
        let path: Vec<Tensor<2>> = (0..steps)
            .map(|s| {
                let t = s as f64 / (steps - 1) as f64;
                start.clone() * (1.0 - t) + end.clone() * t
            })
            .collect();
        Ok(self.decode(Tensor::cat(path, 0), &vec![label; steps]))
    }
}

fn check_pixels(pixels: &[u8], images: usize) -> Result<()> {
    if pixels.len() == images * SIDE * SIDE {
        Ok(())
    } else {
        Err(Error::Data {
            path: "images".into(),
            reason: format!(
                "{} pixels given for {images} images of {SIDE}×{SIDE}",
                pixels.len()
            ),
        })
    }
}
