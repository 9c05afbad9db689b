//! Vitrine's product-image models: labelled image sets read from IDX files (Fashion-MNIST) or
//! from a merchant's folder of PNGs, a conditional DCGAN and a conditional VAE in burn, and
//! their losses. No text, no HTTP, no database: the engine serves what is trained here.

mod data;
mod error;
mod eval;
mod gan;
mod grid;
mod loss;
mod sample;
mod train;
mod vae;

pub use data::{FASHION_MNIST_CLASSES, Images};
pub use error::{Error, Result};
pub use eval::{
    Classifier, ClassifierConfig, ClassifierInfo, EvalReport, FID_NOTE, Gaussian, Judge, Judged,
    RunReport, evaluate, vae_pictures,
};
pub use gan::{Discriminator, GanConfig, Generator, SIDE};
pub use grid::grid;
pub use loss::{bce_with_logits, discriminator_loss, generator_loss, vae_loss};
pub use sample::Sampler;
pub use train::{
    EpochRecord, ModelConfig, RunConfig, RunDir, SAMPLES_PER_CLASS, TrainConfig, TrainProgress,
    TrainState, check, train,
};
pub use vae::{Decoder, Encoder, Vae, VaeConfig};
