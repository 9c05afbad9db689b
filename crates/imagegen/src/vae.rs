//! Conditional VAE: "Auto-Encoding Variational Bayes", Kingma & Welling, ICLR 2014, conditioned
//! on the category as in "Learning Structured Output Representation using Deep Conditional
//! Generative Models", Sohn, Lee & Yan, NeurIPS 2015.
//!
//! The encoder reads the image beside a learned 28×28 plane of its category through two
//! strided convolutions (28 → 14 → 7) and a hidden layer, to the mean μ and log-variance
//! log σ² of the latent; a latent is drawn as μ + σ·ε (the reparameterisation trick). The
//! decoder reads the latent and a learned category embedding through a hidden layer to a 7×7
//! map and two transposed convolutions back to 28×28 pixel logits (a sigmoid gives the pixel).
//!
//! # Shapes
//! - encoder: images `[B, 1, 28, 28]` in [0, 1], labels `[B]` → μ, log σ² `[B, latent]`;
//! - decoder: latents `[B, latent]`, labels `[B]` → pixel logits `[B, 1, 28, 28]`.

use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;
use serde::{Deserialize, Serialize};

use crate::gan::{BASE_SIDE, SIDE, doubling, halving, with_label_plane};

/// The VAE's shape; saved as the run's `config.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VaeConfig {
    /// Categories (labels 0 to this minus one).
    pub classes: usize,
    /// Latent size.
    pub latent: usize,
    /// Width of the category embedding the decoder reads beside the latent.
    pub label_dim: usize,
    /// Channels of the 14×14 maps; the 7×7 maps have twice as many.
    pub channels: usize,
    /// Width of the hidden layers.
    pub hidden: usize,
}

impl VaeConfig {
    /// The default shape for `classes` categories.
    pub fn new(classes: usize) -> Self {
        Self {
            classes,
            latent: 16,
            label_dim: 16,
            channels: 32,
            hidden: 256,
        }
    }
}

/// The encoder: image and category to the latent's mean and log-variance.
#[derive(Module, Debug)]
pub struct Encoder {
    label: Embedding,
    conv1: Conv2d,
    conv2: Conv2d,
    fc: Linear,
    mean: Linear,
    log_var: Linear,
}

/// The decoder: latent and category to pixel logits.
#[derive(Module, Debug)]
pub struct Decoder {
    label: Embedding,
    fc1: Linear,
    fc2: Linear,
    up1: ConvTranspose2d,
    up2: ConvTranspose2d,
}

/// The whole VAE.
#[derive(Module, Debug)]
pub struct Vae {
    /// Image to latent.
    pub encoder: Encoder,
    /// Latent to image.
    pub decoder: Decoder,
}

impl Vae {
    /// A freshly initialised VAE on `device`.
    pub fn new(config: &VaeConfig, device: &Device) -> Self {
        let c = config.channels;
        let flat = 2 * c * BASE_SIDE * BASE_SIDE;
        Self {
            encoder: Encoder {
                label: EmbeddingConfig::new(config.classes, SIDE * SIDE).init(device),
                conv1: halving(2, c, device),
                conv2: halving(c, 2 * c, device),
                fc: LinearConfig::new(flat, config.hidden).init(device),
                mean: LinearConfig::new(config.hidden, config.latent).init(device),
                log_var: LinearConfig::new(config.hidden, config.latent).init(device),
            },
            decoder: Decoder {
                label: EmbeddingConfig::new(config.classes, config.label_dim).init(device),
                fc1: LinearConfig::new(config.latent + config.label_dim, config.hidden)
                    .init(device),
                fc2: LinearConfig::new(config.hidden, flat).init(device),
                up1: doubling(2 * c, c, device),
                up2: doubling(c, 1, device),
            },
        }
    }

    /// Pixel logits, μ and log σ² of images `[B, 1, 28, 28]` (in [0, 1]) with labels `[B]`,
    /// through a latent drawn from the encoder's distribution.
    pub fn forward(
        &self,
        images: Tensor<4>,
        labels: Tensor<1, Int>,
    ) -> (Tensor<4>, Tensor<2>, Tensor<2>) {
        let (mean, log_var) = self.encoder.forward(images, labels.clone());
        let eps = mean.random_like(burn::tensor::Distribution::Normal(0.0, 1.0));
        let z = mean.clone() + (log_var.clone() * 0.5).exp() * eps;
        (self.decoder.forward(z, labels), mean, log_var)
    }
}

impl Encoder {
    /// μ and log σ² `[B, latent]` of images `[B, 1, 28, 28]` with labels `[B]`.
    pub fn forward(&self, images: Tensor<4>, labels: Tensor<1, Int>) -> (Tensor<2>, Tensor<2>) {
        let x = with_label_plane(&self.label, images, labels);
        let x = relu(self.conv1.forward(x));
        let x = relu(self.conv2.forward(x));
        let h = relu(self.fc.forward(x.flatten::<2>(1, 3)));
        (self.mean.forward(h.clone()), self.log_var.forward(h))
    }
}

impl Decoder {
    /// Pixel logits `[B, 1, 28, 28]` of latents `[B, latent]` with labels `[B]`.
    pub fn forward(&self, latents: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<4> {
        let [b, _] = latents.dims();
        let label = self
            .label
            .forward(labels.unsqueeze_dim(1))
            .squeeze_dim::<2>(1);
        let h = relu(self.fc1.forward(Tensor::cat(vec![latents, label], 1)));
        let x = relu(self.fc2.forward(h));
        let channels = x.dims()[1] / (BASE_SIDE * BASE_SIDE);
        let x = x.reshape([b, channels, BASE_SIDE, BASE_SIDE]);
        let x = relu(self.up1.forward(x));
        self.up2.forward(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let device = Device::flex();
        device.seed(1);
        let config = VaeConfig {
            classes: 3,
            latent: 5,
            label_dim: 4,
            channels: 4,
            hidden: 16,
        };
        let vae = Vae::new(&config, &device);
        let images = Tensor::<4>::random(
            [2, 1, 28, 28],
            burn::tensor::Distribution::Uniform(0.0, 1.0),
            &device,
        );
        let labels = Tensor::<1, Int>::from_data(TensorData::new(vec![2i64, 0], [2]), &device);
        let (logits, mean, log_var) = vae.forward(images, labels.clone());
        assert_eq!(logits.dims(), [2, 1, 28, 28]);
        assert_eq!(mean.dims(), [2, 5]);
        assert_eq!(log_var.dims(), [2, 5]);
        let z = Tensor::<2>::zeros([2, 5], &device);
        assert_eq!(vae.decoder.forward(z, labels).dims(), [2, 1, 28, 28]);
    }
}
