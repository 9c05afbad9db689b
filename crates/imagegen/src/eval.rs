//! Judging generated images by a classifier trained on the real ones.
//!
//! - The classifier: a small CNN (two 3×3 convolutions with max pooling, a 128-wide hidden
//!   layer, dropout, one logit per category) trained with Adam on the training images and
//!   measured on the held-out ones. It is trained once and kept in its own folder
//!   (`classifier.json` and `classifier.bpk`).
//! - Conditional accuracy: the share of generated images the classifier puts in the category
//!   they were generated for.
//! - FID (Heusel et al., 2017) in the classifier's feature space: each set of images becomes
//!   the Gaussian of its 128-dimensional hidden activations, and the distance between two
//!   Gaussians is `|μ₁ − μ₂|² + tr(Σ₁ + Σ₂ − 2 (Σ₁^½ Σ₂ Σ₁^½)^½)`. Published Fashion-MNIST FIDs use
//!   Inception-v3 features and are not comparable; the real-against-real distance measured
//!   here is the floor to compare with.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::activation::relu;
use nalgebra::{DMatrix, DVector, SymmetricEigen};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use vitrine_ml::checkpoint::{load_module, read_json_if_present, save_module, write_json};

use crate::data::Images;
use crate::gan::SIDE;
use crate::{Error, Result};

/// The classifier's shape and training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassifierConfig {
    /// Categories.
    pub classes: usize,
    /// Channels of the first convolution; the second has twice as many.
    pub channels: usize,
    /// Width of the hidden layer: the feature space of FID.
    pub hidden: usize,
    /// Epochs over the training images.
    pub epochs: usize,
    /// Images per batch.
    pub batch: usize,
    /// Adam's learning rate.
    pub lr: f64,
    /// Seed of the weights, shuffles and dropout.
    pub seed: u64,
}

impl ClassifierConfig {
    /// The default for `classes` categories: 32 and 64 channels, 128 features, 6 epochs of
    /// 128 images at 1e-3 (4 epochs reached 90.0% on Fashion-MNIST's test set, too close to
    /// the 90% the evaluation needs).
    pub fn new(classes: usize) -> Self {
        Self {
            classes,
            channels: 32,
            hidden: 128,
            epochs: 6,
            batch: 128,
            lr: 1e-3,
            seed: 1,
        }
    }
}

/// The CNN.
#[derive(Module, Debug)]
pub struct Classifier {
    conv1: Conv2d,
    conv2: Conv2d,
    pool: MaxPool2d,
    fc1: Linear,
    drop: Dropout,
    fc2: Linear,
}

impl Classifier {
    /// A freshly initialised classifier.
    pub fn new(config: &ClassifierConfig, device: &Device) -> Self {
        let c = config.channels;
        let conv = |from, to| {
            Conv2dConfig::new([from, to], [3, 3])
                .with_padding(PaddingConfig2d::Same)
                .init(device)
        };
        let quarter = SIDE / 4;
        Self {
            conv1: conv(1, c),
            conv2: conv(c, 2 * c),
            pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
            fc1: LinearConfig::new(2 * c * quarter * quarter, config.hidden).init(device),
            drop: DropoutConfig::new(0.3).init(),
            fc2: LinearConfig::new(config.hidden, config.classes).init(device),
        }
    }

    /// The hidden layer's activations `[B, hidden]` of images `[B, 1, 28, 28]` in [0, 1].
    pub fn features(&self, images: Tensor<4>) -> Tensor<2> {
        let x = self.pool.forward(relu(self.conv1.forward(images)));
        let x = self.pool.forward(relu(self.conv2.forward(x)));
        relu(self.fc1.forward(x.flatten::<2>(1, 3)))
    }

    /// Category logits `[B, classes]`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.fc2.forward(self.drop.forward(self.features(images)))
    }
}

/// What the classifier's folder records of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassifierInfo {
    /// Its shape and training.
    pub config: ClassifierConfig,
    /// Where its training images came from.
    pub data: String,
    /// The category names.
    pub classes: Vec<String>,
    /// Images trained on.
    pub train_images: usize,
    /// Held-out images measured on.
    pub test_images: usize,
    /// Share of the held-out images it classifies right.
    pub test_accuracy: f64,
    /// Seconds of training.
    pub train_seconds: f64,
}

/// Images as a `[N, 1, 28, 28]` tensor in [0, 1].
fn tensor(pixels: &[u8], device: &Device) -> Tensor<4> {
    let n = pixels.len() / (SIDE * SIDE);
    let values: Vec<f32> = pixels.iter().map(|&p| f32::from(p) / 255.0).collect();
    Tensor::from_data(TensorData::new(values, [n, 1, SIDE, SIDE]), device)
}

/// Batches of this many images when classifying.
const INFER_BATCH: usize = 500;

/// A trained classifier, in inference mode.
#[derive(Debug)]
pub struct Judge {
    model: Classifier,
    info: ClassifierInfo,
    device: Device,
}

/// Labels and features of a set of images.
#[derive(Debug, Clone)]
pub struct Judged {
    /// The classifier's category for each image.
    pub predicted: Vec<usize>,
    /// `[N, hidden]` features, row by row.
    pub features: Vec<f32>,
    /// The feature width.
    pub hidden: usize,
}

impl Judged {
    /// Share of images whose category is `intended[i]`, and the same per category.
    pub fn accuracy(&self, intended: &[usize], classes: usize) -> (f64, Vec<f64>) {
        let mut right = vec![0usize; classes];
        let mut total = vec![0usize; classes];
        for (&p, &t) in self.predicted.iter().zip(intended) {
            total[t] += 1;
            right[t] += usize::from(p == t);
        }
        let all = right.iter().sum::<usize>() as f64 / intended.len().max(1) as f64;
        let per = right
            .iter()
            .zip(&total)
            .map(|(&r, &t)| r as f64 / t.max(1) as f64)
            .collect();
        (all, per)
    }

    /// The Gaussian of the features.
    pub fn gaussian(&self) -> Gaussian {
        Gaussian::fit(&self.features, self.hidden)
    }

    /// The Gaussian of the features of the images whose index `keep` accepts; `None` for
    /// fewer than two, which have no covariance.
    pub fn gaussian_of(&self, keep: impl Fn(usize) -> bool) -> Option<Gaussian> {
        let rows: Vec<f32> = self
            .features
            .chunks(self.hidden)
            .enumerate()
            .filter(|(i, _)| keep(*i))
            .flat_map(|(_, row)| row.iter().copied())
            .collect();
        (rows.len() >= 2 * self.hidden.max(1)).then(|| Gaussian::fit(&rows, self.hidden))
    }
}

impl Judge {
    /// What the folder records.
    pub fn info(&self) -> &ClassifierInfo {
        &self.info
    }

    /// Classifies images (28×28 pixels each, one after the other) and keeps their features.
    pub fn judge(&self, pixels: &[u8]) -> Result<Judged> {
        let size = SIDE * SIDE;
        let mut predicted = Vec::with_capacity(pixels.len() / size);
        let mut features = Vec::with_capacity(pixels.len() / size * self.info.config.hidden);
        for chunk in pixels.chunks(INFER_BATCH * size) {
            let f = self.model.features(tensor(chunk, &self.device));
            let logits = self.model.fc2.forward(f.clone());
            let unreadable = |e: String| Error::Data {
                path: PathBuf::from("classifier"),
                reason: format!("cannot read the classifier's output: {e}"),
            };
            let labels: Vec<i64> = logits
                .argmax(1)
                .try_into_vec_as()
                .map_err(|e| unreadable(format!("{e:?}")))?;
            predicted.extend(labels.iter().map(|&l| l as usize));
            features.extend(
                f.try_into_vec_as::<f32>()
                    .map_err(|e| unreadable(format!("{e:?}")))?,
            );
        }
        Ok(Judged {
            predicted,
            features,
            hidden: self.info.config.hidden,
        })
    }

    /// The classifier kept in `dir` when it was trained on `source` with `config`; otherwise
    /// trains one on `train`, measures it on `test`, and keeps it there. `progress` gets
    /// (epoch, batches done, batches in the epoch).
    pub fn load_or_train(
        dir: &Path,
        source: &str,
        train: &Images,
        test: &Images,
        config: &ClassifierConfig,
        progress: &mut dyn FnMut(usize, usize, usize),
    ) -> Result<Self> {
        let device = Device::flex();
        let info_path = dir.join("classifier.json");
        let weights = dir.join("classifier.bpk");
        if let Some(info) = read_json_if_present::<ClassifierInfo>(&info_path)?
            && info.config == *config
            && info.data == source
            && info.classes == train.classes()
        {
            let model = load_module(Classifier::new(config, &device), &weights)?;
            return Ok(Self {
                model,
                info,
                device,
            });
        }
        check_sets(train, test, config)?;
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.to_owned(),
            source,
        })?;
        let started = Instant::now();
        let model = fit(train, config, progress)?;
        let mut judge = Self {
            model: model.valid(),
            info: ClassifierInfo {
                config: config.clone(),
                data: source.to_owned(),
                classes: train.classes().to_vec(),
                train_images: train.len(),
                test_images: test.len(),
                test_accuracy: 0.0,
                train_seconds: started.elapsed().as_secs_f64(),
            },
            device,
        };
        let intended: Vec<usize> = test.labels().iter().map(|&l| usize::from(l)).collect();
        judge.info.test_accuracy = judge
            .judge(test.pixels_of(0..test.len()))?
            .accuracy(&intended, config.classes)
            .0;
        // Weights before the record that vouches for them.
        save_module(&judge.model, &weights)?;
        write_json(&info_path, &judge.info)?;
        Ok(judge)
    }
}

fn check_sets(train: &Images, test: &Images, config: &ClassifierConfig) -> Result<()> {
    let bad = |reason: String| Error::Data {
        path: PathBuf::from(train.classes().join(",")),
        reason,
    };
    if (train.height(), train.width()) != (SIDE, SIDE) {
        return Err(bad(format!("the classifier reads {SIDE}×{SIDE} images")));
    }
    if train.classes() != test.classes() || train.classes().len() != config.classes {
        return Err(bad(
            "the training and test images must have the same categories".into(),
        ));
    }
    if train.is_empty() || test.is_empty() || config.batch == 0 || config.epochs == 0 {
        return Err(bad(format!(
            "the classifier needs training and test images ({} and {}) and at least one epoch \
             and one image per batch",
            train.len(),
            test.len()
        )));
    }
    Ok(())
}

fn fit(
    data: &Images,
    config: &ClassifierConfig,
    progress: &mut dyn FnMut(usize, usize, usize),
) -> Result<Classifier> {
    let device = Device::flex().autodiff();
    device.seed(config.seed);
    let mut model = Classifier::new(config, &device);
    let mut optim = AdamConfig::new().init();
    let loss = CrossEntropyLossConfig::new().init(&device);
    for epoch in 1..=config.epochs {
        let mut rng = StdRng::seed_from_u64(config.seed ^ (epoch as u64).rotate_left(32));
        let mut order: Vec<usize> = (0..data.len()).collect();
        order.shuffle(&mut rng);
        let batches: Vec<&[usize]> = order.chunks(config.batch).collect();
        for (done, batch) in batches.iter().enumerate() {
            let pixels: Vec<u8> = batch.iter().flat_map(|&i| data.image(i)).copied().collect();
            let labels: Vec<i64> = batch.iter().map(|&i| i64::from(data.labels()[i])).collect();
            let targets =
                Tensor::<1, Int>::from_data(TensorData::new(labels, [batch.len()]), &device);
            let value = loss.forward(model.forward(tensor(&pixels, &device)), targets);
            let scalar: f32 = value.clone().into_scalar();
            if !scalar.is_finite() {
                return Err(Error::Data {
                    path: PathBuf::from(&data.classes().join(",")),
                    reason: format!("the classifier's training diverged in epoch {epoch}"),
                });
            }
            let grads = GradientsParams::from_grads(value.backward(), &model);
            model = optim.step(config.lr, model, grads);
            progress(epoch, done + 1, batches.len());
        }
    }
    Ok(model)
}

/// What `vitrine eval images` reports of one run.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// The run directory.
    pub run: String,
    /// `gan` or `vae`.
    pub model: &'static str,
    /// Epochs trained.
    pub epochs: usize,
    /// Seconds of training over those epochs.
    pub train_seconds: f64,
    /// Images trained on per second, over those epochs.
    pub images_per_second: f64,
    /// Share of the generated images the classifier puts in their intended category.
    pub conditional_accuracy: f64,
    /// The same, category by category.
    pub per_category: Vec<(String, f64)>,
    /// FID of the generated images against the test images, in the classifier's features.
    pub fid: f64,
    /// `fid` over the real-against-real floor.
    pub fid_over_floor: f64,
    /// The part of `fid` from the distance between the means; the rest is the covariances'.
    pub fid_mean_part: f64,
    /// Total variance of the generated images' features over the test images': below 1, the
    /// generated images vary less than real ones (in what the classifier sees).
    pub spread: f64,
    /// FID and spread category by category.
    pub per_category_fid: Vec<CategoryFid>,
    /// Median milliseconds to generate 64 images (one call, one category each in turn).
    pub generate_64_ms: f64,
}

/// FID of one category's generated images against that category's test images, next to the
/// floor of the same size: the category's images among as many training images as the test
/// set has. Fewer images bias these upwards; compare them with each other and with their floor,
/// not with the FID of all images. Categories with fewer than two images in a set are left out.
#[derive(Debug, Clone, Serialize)]
pub struct CategoryFid {
    /// The category.
    pub category: String,
    /// The generated images' FID.
    pub fid: f64,
    /// The real training images' FID.
    pub floor: f64,
    /// Total variance of the generated images' features over the test images' (of the
    /// category).
    pub spread: f64,
}

/// What `vitrine eval images` reports.
#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    /// The classifier and its test accuracy.
    pub classifier: ClassifierInfo,
    /// Images generated per category and run.
    pub per_category: usize,
    /// FID of as many real training images as the test set holds against the test set: the
    /// floor a perfect generator would reach.
    pub floor_fid: f64,
    /// Every run measured.
    pub runs: Vec<RunReport>,
    /// FID between the generated images of each pair of runs (`[a, b, fid]`).
    pub between_runs: Vec<(String, String, f64)>,
    /// How to read the numbers.
    pub note: &'static str,
}

/// The note every report carries.
pub const FID_NOTE: &str = "FID here is computed in the 128-dimensional hidden layer of the \
    classifier above, not in Inception-v3 features: published Fashion-MNIST FIDs are not \
    comparable. Compare with floor_fid, real training images against the test images.";

/// Measures `runs` (name and sampler) with `judge`: `per_category` images per category from
/// each, seeded by `seed`, against `test`; the floor from as many images of `train` as `test`
/// holds. `progress` gets a line per step.
pub fn evaluate(
    judge: &Judge,
    train: &Images,
    test: &Images,
    runs: &[(String, &crate::Sampler)],
    per_category: usize,
    seed: u64,
    progress: &mut dyn FnMut(&str),
) -> Result<EvalReport> {
    let classes = judge.info().classes.clone();
    for (name, sampler) in runs {
        if sampler.classes() != classes.as_slice() {
            return Err(Error::Data {
                path: PathBuf::from(name),
                reason: format!(
                    "generates the categories {:?}; the classifier knows {:?}",
                    sampler.classes(),
                    classes
                ),
            });
        }
    }
    progress("real images: floor");
    let test_judged = judge.judge(test.pixels_of(0..test.len()))?;
    let reference = test_judged.gaussian();
    let mut order: Vec<usize> = (0..train.len()).collect();
    order.shuffle(&mut StdRng::seed_from_u64(seed));
    order.truncate(test.len());
    let real = train.subset(&order);
    let real_judged = judge.judge(real.pixels_of(0..real.len()))?;
    let floor_fid = real_judged.gaussian().frechet(&reference);
    // Each category's test Gaussian and its floor; a category with fewer than two images in
    // either set has no covariance and is left out.
    let by_category: Vec<Option<(Gaussian, f64)>> = (0..classes.len())
        .map(|c| {
            let reference = test_judged.gaussian_of(|i| usize::from(test.labels()[i]) == c)?;
            let real = real_judged.gaussian_of(|i| usize::from(real.labels()[i]) == c)?;
            let floor = real.frechet(&reference);
            Some((reference, floor))
        })
        .collect();
    let intended: Vec<usize> = (0..classes.len() * per_category)
        .map(|i| i / per_category)
        .collect();
    let mut reports = Vec::new();
    let mut gaussians = Vec::new();
    for (name, sampler) in runs {
        progress(&format!("{name}: generating {} images", intended.len()));
        let mut pixels = Vec::with_capacity(intended.len() * SIDE * SIDE);
        for (i, labels) in intended.chunks(INFER_BATCH).enumerate() {
            pixels.extend(sampler.generate(labels, seed.wrapping_add(i as u64)));
        }
        progress(&format!("{name}: classifying"));
        let judged = judge.judge(&pixels)?;
        let (accuracy, per) = judged.accuracy(&intended, classes.len());
        let gaussian = judged.gaussian();
        let fid = gaussian.frechet(&reference);
        let per_category_fid = by_category
            .iter()
            .enumerate()
            .filter_map(|(c, known)| {
                let (reference, floor) = known.as_ref()?;
                let generated = judged.gaussian_of(|i| intended[i] == c)?;
                Some(CategoryFid {
                    category: classes[c].clone(),
                    fid: generated.frechet(reference),
                    floor: *floor,
                    spread: generated.total_variance() / reference.total_variance().max(1e-12),
                })
            })
            .collect();
        let labels: Vec<usize> = (0..64).map(|i| i % classes.len()).collect();
        let mut times: Vec<f64> = (0..21)
            .map(|r| {
                let started = Instant::now();
                std::hint::black_box(sampler.generate(&labels, r));
                started.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        times.sort_by(f64::total_cmp);
        let history = sampler.history();
        let train_seconds: f64 = history.iter().map(|e| e.train_seconds).sum();
        let trained: f64 = history
            .iter()
            .map(|e| e.images_per_second * e.train_seconds)
            .sum();
        reports.push(RunReport {
            run: name.clone(),
            model: sampler.kind(),
            epochs: history.len(),
            train_seconds,
            images_per_second: trained / train_seconds.max(1e-9),
            conditional_accuracy: accuracy,
            per_category: classes.iter().cloned().zip(per).collect(),
            fid,
            fid_over_floor: fid / floor_fid.max(1e-12),
            fid_mean_part: gaussian.mean_distance(&reference),
            spread: gaussian.total_variance() / reference.total_variance().max(1e-12),
            per_category_fid,
            generate_64_ms: times[times.len() / 2],
        });
        gaussians.push(gaussian);
    }
    let mut between_runs = Vec::new();
    for i in 0..runs.len() {
        for j in i + 1..runs.len() {
            between_runs.push((
                runs[i].0.clone(),
                runs[j].0.clone(),
                gaussians[i].frechet(&gaussians[j]),
            ));
        }
    }
    Ok(EvalReport {
        classifier: judge.info().clone(),
        per_category,
        floor_fid,
        runs: reports,
        between_runs,
        note: FID_NOTE,
    })
}

/// Writes the VAE pictures of `sampler`'s run into `dir`: `reconstructions.png` (per category,
/// a row of test images and a row of their reconstructions) and `interpolations.png` (per
/// category, ten steps between two test images). Returns the files written.
pub fn vae_pictures(sampler: &crate::Sampler, test: &Images, dir: &Path) -> Result<Vec<PathBuf>> {
    const COLS: usize = crate::SAMPLES_PER_CLASS;
    let classes = sampler.classes().len();
    let mut rows: Vec<u8> = Vec::new();
    let mut walks: Vec<u8> = Vec::new();
    for class in 0..classes {
        let picked: Vec<usize> = (0..test.len())
            .filter(|&i| usize::from(test.labels()[i]) == class)
            .take(COLS)
            .collect();
        if picked.len() < 2 {
            continue;
        }
        let mut originals: Vec<u8> = picked
            .iter()
            .flat_map(|&i| test.image(i))
            .copied()
            .collect();
        let mut rebuilt = sampler.reconstruct(&originals, &vec![class; picked.len()])?;
        originals.resize(COLS * SIDE * SIDE, 0);
        rebuilt.resize(COLS * SIDE * SIDE, 0);
        rows.extend(originals);
        rows.extend(rebuilt);
        walks.extend(sampler.interpolate(
            test.image(picked[0]),
            test.image(picked[1]),
            class,
            10,
        )?);
    }
    let mut written = Vec::new();
    for (name, pixels, cols) in [
        ("reconstructions.png", rows, COLS),
        ("interpolations.png", walks, 10),
    ] {
        let path = dir.join(name);
        let count = pixels.len() / (SIDE * SIDE * cols);
        crate::grid(&pixels, count, cols, SIDE, 1)
            .save(&path)
            .map_err(|e| Error::Data {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        written.push(path);
    }
    Ok(written)
}

/// A Gaussian fitted to feature vectors.
#[derive(Debug, Clone)]
pub struct Gaussian {
    mean: DVector<f64>,
    covariance: DMatrix<f64>,
}

impl Gaussian {
    /// The mean and (unbiased) covariance of `rows` of width `dim`.
    pub fn fit(rows: &[f32], dim: usize) -> Self {
        let n = rows.len() / dim.max(1);
        let data = DMatrix::from_row_iterator(n, dim, rows.iter().map(|&v| f64::from(v)));
        let mean = DVector::from_iterator(dim, data.column_iter().map(|c| c.mean()));
        let mut centred = data;
        for mut row in centred.row_iter_mut() {
            row -= mean.transpose();
        }
        let covariance = centred.transpose() * &centred / (n.max(2) - 1) as f64;
        Self { mean, covariance }
    }

    /// The squared distance between the means: the first part of the Fréchet distance.
    pub fn mean_distance(&self, other: &Self) -> f64 {
        (&self.mean - &other.mean).norm_squared()
    }

    /// The trace of the covariance: the features' total variance.
    pub fn total_variance(&self) -> f64 {
        self.covariance.trace()
    }

    /// The Fréchet distance between this Gaussian and `other`.
    pub fn frechet(&self, other: &Self) -> f64 {
        let diff = self.mean_distance(other);
        let root = psd_sqrt(&self.covariance);
        let middle = &root * &other.covariance * &root;
        let middle = (&middle + middle.transpose()) * 0.5;
        let cross: f64 = SymmetricEigen::new(middle)
            .eigenvalues
            .iter()
            .map(|&e| e.max(0.0).sqrt())
            .sum();
        diff + self.covariance.trace() + other.covariance.trace() - 2.0 * cross
    }
}

/// The square root of a symmetric positive semi-definite matrix (negative eigenvalues from
/// rounding count as 0).
fn psd_sqrt(m: &DMatrix<f64>) -> DMatrix<f64> {
    let eigen = SymmetricEigen::new((m + m.transpose()) * 0.5);
    let roots = eigen.eigenvalues.map(|e| e.max(0.0).sqrt());
    &eigen.eigenvectors * DMatrix::from_diagonal(&roots) * eigen.eigenvectors.transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frechet_distance_matches_hand_computed_cases() {
        // The same points: distance 0.
        let points = [0.0f32, 1.0, 1.0, 3.0, 2.0, 2.0, -1.0, 0.5];
        let a = Gaussian::fit(&points, 2);
        assert!(a.frechet(&a).abs() < 1e-9);
        // Diagonal covariances: the sum over dimensions of (μ₁ − μ₂)² + (σ₁ − σ₂)².
        let a = Gaussian {
            mean: DVector::from_vec(vec![0.0, 1.0]),
            covariance: DMatrix::from_diagonal(&DVector::from_vec(vec![1.0, 9.0])),
        };
        let b = Gaussian {
            mean: DVector::from_vec(vec![1.0, 3.0]),
            covariance: DMatrix::from_diagonal(&DVector::from_vec(vec![4.0, 1.0])),
        };
        let expected = (1.0 + 1.0) + (4.0 + 4.0);
        assert!((a.frechet(&b) - expected).abs() < 1e-9);
        assert!((b.frechet(&a) - expected).abs() < 1e-9);
        // Its parts: the means' (1 + 4), and the total variances (10 and 5).
        assert!((a.mean_distance(&b) - 5.0).abs() < 1e-12);
        assert_eq!((a.total_variance(), b.total_variance()), (10.0, 5.0));
    }

    #[test]
    fn a_subset_gaussian_fits_only_the_rows_kept() {
        let judged = Judged {
            predicted: vec![0; 4],
            features: vec![1.0, 10.0, 3.0, 20.0, 100.0, -5.0, 5.0, 30.0],
            hidden: 2,
        };
        let even = judged.gaussian_of(|i| i % 2 == 0).unwrap();
        assert_eq!(even.mean.as_slice(), &[50.5, 2.5]);
        assert!(judged.gaussian_of(|i| i == 3).is_none());
        let odd = judged.gaussian_of(|i| i % 2 == 1).unwrap();
        assert_eq!(odd.mean.as_slice(), &[4.0, 25.0]);
        assert_eq!(
            odd.covariance,
            DMatrix::from_row_slice(2, 2, &[2.0, 10.0, 10.0, 50.0])
        );
    }

    #[test]
    fn fit_gives_the_mean_and_unbiased_covariance() {
        // x = 1, 2, 3 with y = 2x: var x = 1, cov = 2, var y = 4.
        let g = Gaussian::fit(&[1.0, 2.0, 2.0, 4.0, 3.0, 6.0], 2);
        assert_eq!(g.mean.as_slice(), &[2.0, 4.0]);
        assert_eq!(
            g.covariance,
            DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 2.0, 4.0])
        );
    }

    #[test]
    fn accuracy_counts_per_category() {
        let judged = Judged {
            predicted: vec![0, 1, 1, 2],
            features: vec![],
            hidden: 0,
        };
        let (all, per) = judged.accuracy(&[0, 1, 2, 2], 3);
        assert_eq!(all, 0.75);
        assert_eq!(per, vec![1.0, 1.0, 0.5]);
    }
}
