//! The losses of the seed's formulas, on logits for numerical stability.
//!
//! - Binary cross-entropy of a logit `l` against a target `t` in [0, 1]:
//!   `-(t·log σ(l) + (1 − t)·log(1 − σ(l)))`, computed as `softplus(l) − t·l`.
//! - Discriminator: BCE of real images' logits against `real_target` (1, or 0.9 with one-sided
//!   label smoothing) plus BCE of generated images' logits against 0.
//! - Generator, non-saturating: BCE of generated images' logits against 1, i.e.
//!   `−log σ(D(G(z)))`, whose gradient does not vanish while the discriminator wins.
//! - VAE: pixel BCE summed over the image plus the KL divergence of N(μ, σ²) from N(0, 1),
//!   `−½ Σ (1 + log σ² − μ² − σ²)`, both averaged over the batch.

use burn::prelude::*;
use burn::tensor::activation::softplus;

/// Mean binary cross-entropy of `logits` against the constant `target`.
pub fn bce_with_logits<const D: usize>(logits: Tensor<D>, target: f64) -> Tensor<1> {
    (softplus(logits.clone(), 1.0) - logits * target).mean()
}

/// The discriminator's loss.
pub fn discriminator_loss(real: Tensor<2>, fake: Tensor<2>, real_target: f64) -> Tensor<1> {
    bce_with_logits(real, real_target) + bce_with_logits(fake, 0.0)
}

/// The generator's non-saturating loss.
pub fn generator_loss(fake: Tensor<2>) -> Tensor<1> {
    bce_with_logits(fake, 1.0)
}

/// The VAE's loss per image: `(total, reconstruction, kl)`, each averaged over the batch.
/// `logits` and `images` are `[B, 1, 28, 28]`, images in [0, 1].
pub fn vae_loss(
    logits: Tensor<4>,
    images: Tensor<4>,
    mean: Tensor<2>,
    log_var: Tensor<2>,
) -> (Tensor<1>, Tensor<1>, Tensor<1>) {
    let [b, _, _, _] = logits.dims();
    let reconstruction = (softplus(logits.clone(), 1.0) - logits * images).sum() / b as f64;
    let kl =
        ((log_var.clone() + 1.0) - mean.powi_scalar(2) - log_var.exp()).sum() * (-0.5) / b as f64;
    (reconstruction.clone() + kl.clone(), reconstruction, kl)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(t: Tensor<1>) -> f64 {
        f64::from(t.into_scalar::<f32>())
    }

    fn t2(v: &[f32], shape: [usize; 2]) -> Tensor<2> {
        Tensor::from_data(TensorData::new(v.to_vec(), shape), &Device::flex())
    }

    #[test]
    fn bce_matches_hand_computed_values() {
        // l = 0: ln 2 whatever the target. l = 2, t = 1: ln(1 + e^-2) = 0.126928.
        // l = -3, t = 0: ln(1 + e^-3) = 0.048587. l = 2, t = 0.9: 0.9·0.126928 + 0.1·2.126928.
        assert!(
            (value(bce_with_logits(t2(&[0.0], [1, 1]), 0.3)) - std::f64::consts::LN_2).abs() < 1e-5
        );
        assert!((value(bce_with_logits(t2(&[2.0], [1, 1]), 1.0)) - 0.126928).abs() < 1e-5);
        assert!((value(bce_with_logits(t2(&[-3.0], [1, 1]), 0.0)) - 0.048587).abs() < 1e-5);
        assert!((value(bce_with_logits(t2(&[2.0], [1, 1]), 0.9)) - 0.326928).abs() < 1e-5);
        // Far logits do not overflow.
        assert!((value(bce_with_logits(t2(&[80.0], [1, 1]), 1.0))).abs() < 1e-5);
    }

    #[test]
    fn gan_losses_are_the_seeds_formulas() {
        // Real logits 2 and 0, fake logits -3 and 0, real target 1:
        // mean(0.126928, 0.693147) + mean(0.048587, 0.693147) = 0.780905.
        let d = discriminator_loss(t2(&[2.0, 0.0], [2, 1]), t2(&[-3.0, 0.0], [2, 1]), 1.0);
        assert!((value(d) - 0.780905).abs() < 1e-5);
        // Generator on fake logits -3 and 0: mean(ln(1 + e^3), ln 2) = mean(3.048587, 0.693147).
        let g = generator_loss(t2(&[-3.0, 0.0], [2, 1]));
        assert!((value(g) - 1.870867).abs() < 1e-5);
    }

    #[test]
    fn vae_loss_is_reconstruction_plus_kl() {
        let device = Device::flex();
        // One image whose logits are all 0: each of the 784 pixels costs ln 2.
        let logits = Tensor::<4>::zeros([1, 1, 28, 28], &device);
        let images = Tensor::<4>::ones([1, 1, 28, 28], &device);
        // μ = (1, 0), log σ² = (0, ln 2): KL = ½(1) + ½(2 − 1 − ln 2) = 0.5 + 0.153426.
        let mean = t2(&[1.0, 0.0], [1, 2]);
        let log_var = t2(&[0.0, std::f32::consts::LN_2], [1, 2]);
        let (total, reconstruction, kl) = vae_loss(logits, images, mean, log_var);
        assert!((value(reconstruction) - 784.0 * std::f64::consts::LN_2).abs() < 1e-2);
        assert!((value(kl) - 0.653426).abs() < 1e-5);
        assert!((value(total) - (784.0 * std::f64::consts::LN_2 + 0.653426)).abs() < 1e-2);
    }
}
