//! Training the GAN and the VAE on a tiny made-up set: the run directory is written, the VAE
//! learns (its loss falls), an interrupted run resumes exactly as an uninterrupted one, a
//! finished one trains further when given more epochs, a cancelled one keeps its epochs, other
//! settings are refused, and a damaged checkpoint is an error naming the file.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;

use vitrine_imagegen::{
    GanConfig, Images, ModelConfig, RunDir, Sampler, TrainConfig, TrainProgress, TrainState,
    VaeConfig, train,
};

/// burn's CPU backend seeds one random generator for the process: tests that train take turns.
pub(crate) static TRAINING: Mutex<()> = Mutex::new(());

/// 48 images of two categories written as a PNG folder: "left" is bright on its left half,
/// "right" on its right half, with a little made-up texture.
pub(crate) fn halves() -> Images {
    let dir = tempfile::tempdir().unwrap();
    for (class, left) in [("left", true), ("right", false)] {
        std::fs::create_dir(dir.path().join(class)).unwrap();
        for n in 0..24u32 {
            let img = image::GrayImage::from_fn(28, 28, |x, y| {
                let lit = (x < 14) == left;
                let texture = ((x * 7 + y * 3 + n * 5) % 40) as u8;
                image::Luma([if lit { 200 + texture / 2 } else { texture }])
            });
            img.save(dir.path().join(class).join(format!("{n:02}.png")))
                .unwrap();
        }
    }
    Images::read_png_dir(dir.path()).expect("valid")
}

pub(crate) fn gan() -> ModelConfig {
    ModelConfig::Gan(GanConfig {
        classes: 2,
        latent: 8,
        label_dim: 4,
        channels: 4,
        projection: true,
    })
}

pub(crate) fn vae() -> ModelConfig {
    ModelConfig::Vae(VaeConfig {
        classes: 2,
        latent: 4,
        label_dim: 4,
        channels: 4,
        hidden: 32,
    })
}

fn settings(model: &ModelConfig, epochs: usize) -> TrainConfig {
    let base = match model {
        ModelConfig::Gan(_) => TrainConfig::gan(),
        ModelConfig::Vae(_) => TrainConfig::vae(),
    };
    TrainConfig {
        epochs,
        batch: 8,
        max_minutes: None,
        seed: 5,
        ..base
    }
}

/// Trains `model` on `data` into `dir` for `epochs` with the tests' settings.
fn train_halves(
    data: &Images,
    model: &ModelConfig,
    epochs: usize,
    dir: &RunDir,
    progress: &mut dyn FnMut(TrainProgress),
    cancelled: &dyn Fn() -> bool,
) -> vitrine_imagegen::Result<TrainState> {
    train(
        data,
        "halves",
        model,
        &settings(model, epochs),
        dir,
        progress,
        cancelled,
    )
}

pub(crate) fn run(data: &Images, model: &ModelConfig, epochs: usize, dir: &RunDir) -> TrainState {
    train_halves(data, model, epochs, dir, &mut |_| {}, &|| false).expect("trains")
}

/// Trains `model` into `dir` for `epochs`, cancelled once epoch 2 starts: the error's message.
fn cancel_in_second_epoch(
    data: &Images,
    model: &ModelConfig,
    epochs: usize,
    dir: &RunDir,
) -> String {
    let epoch_two = std::cell::Cell::new(false);
    train_halves(
        data,
        model,
        epochs,
        dir,
        &mut |p| {
            if let TrainProgress::Batch { epoch, .. } = p {
                epoch_two.set(epoch == 2);
            }
        },
        &|| epoch_two.get(),
    )
    .expect_err("cancelled")
    .to_string()
}

/// Trains `model` into `dir` for `epochs`, which must resume after the run's first epoch.
fn resume_after_first_epoch(
    data: &Images,
    model: &ModelConfig,
    epochs: usize,
    dir: &RunDir,
) -> TrainState {
    let mut resumed_at = None;
    let state = train_halves(
        data,
        model,
        epochs,
        dir,
        &mut |p| {
            if let TrainProgress::Resumed { epoch } = p {
                resumed_at = Some(epoch);
            }
        },
        &|| false,
    )
    .expect("resumes");
    assert_eq!(resumed_at, Some(1));
    state
}

#[test]
fn both_models_write_their_runs_and_the_vae_learns() {
    let _turn = TRAINING.lock().unwrap_or_else(|e| e.into_inner());
    let data = halves();
    let dir = tempfile::tempdir().unwrap();
    let gan_run = RunDir::new(dir.path().join("gan"));
    let state = run(&data, &gan(), 2, &gan_run);
    assert_eq!(state.history.len(), 2);
    assert!(state.finished);
    let first = &state.history[0];
    for name in ["d_loss", "g_loss", "d_real", "d_fake"] {
        assert!(first.losses[name].is_finite(), "{name}: {:?}", first.losses);
    }
    assert!(first.images_per_second > 0.0);
    for file in [
        "config.json",
        "state.json",
        "generator.bpk",
        "generator-trained.bpk",
        "discriminator.bpk",
        "optim-generator.bpk",
        "optim-discriminator.bpk",
        "loss.png",
        "samples/epoch-001.png",
        "samples/epoch-002.png",
    ] {
        assert!(gan_run.path().join(file).is_file(), "{file} missing");
    }
    // One row per category, 8 samples per row, 28 pixels with 2-pixel gaps.
    let grid = image::open(gan_run.path().join("samples/epoch-002.png")).unwrap();
    assert_eq!((grid.width(), grid.height()), (8 * 30 + 2, 2 * 30 + 2));

    let vae_run = RunDir::new(dir.path().join("vae"));
    let state = run(&data, &vae(), 6, &vae_run);
    let loss = |e: usize| state.history[e].losses["loss"];
    assert!(
        loss(5) < loss(0),
        "the VAE's loss falls: {:?}",
        state.history
    );
    assert!(vae_run.path().join("vae.bpk").is_file());
    assert_eq!(vae_run.config().unwrap().classes, vec!["left", "right"]);
}

#[test]
fn an_interrupted_run_resumes_exactly_trains_further_and_refuses_other_settings() {
    let _turn = TRAINING.lock().unwrap_or_else(|e| e.into_inner());
    let data = halves();
    let dir = tempfile::tempdir().unwrap();
    for model in [gan(), vae()] {
        let whole = RunDir::new(dir.path().join(format!("{}-whole", model.name())));
        let expected = run(&data, &model, 3, &whole);

        let cut = RunDir::new(dir.path().join(format!("{}-cut", model.name())));
        let interrupted = catch_unwind(AssertUnwindSafe(|| {
            train_halves(
                &data,
                &model,
                3,
                &cut,
                &mut |p| {
                    if matches!(
                        p,
                        TrainProgress::Batch {
                            epoch: 2,
                            done: 2,
                            ..
                        }
                    ) {
                        panic!("killed in epoch 2");
                    }
                },
                &|| false,
            )
        }));
        assert!(interrupted.is_err());
        let state = resume_after_first_epoch(&data, &model, 3, &cut);
        let losses =
            |s: &TrainState| -> Vec<_> { s.history.iter().map(|e| e.losses.clone()).collect() };
        assert_eq!(losses(&state), losses(&expected), "{}", model.name());
        // What is served (for the GAN, the moving average) is the same too.
        let images = |run: &RunDir| Sampler::load(run).expect("loads").generate(&[0, 1], 7);
        assert!(images(&cut) == images(&whole), "{}", model.name());

        // More epochs train the finished run further, as if it had been asked for them at
        // the start; fewer leave it as it is.
        let longer = RunDir::new(dir.path().join(format!("{}-longer", model.name())));
        let expected = run(&data, &model, 4, &longer);
        let state = run(&data, &model, 4, &cut);
        assert_eq!(losses(&state), losses(&expected), "{}", model.name());
        assert!(images(&cut) == images(&longer), "{}", model.name());
        assert_eq!(cut.config().unwrap().train.epochs, 4);
        assert_eq!(run(&data, &model, 2, &cut).history.len(), 4);
        assert_eq!(cut.config().unwrap().train.epochs, 4);

        let other = TrainConfig {
            lr: 0.5,
            ..settings(&model, 5)
        };
        let err = train(&data, "halves", &model, &other, &cut, &mut |_| {}, &|| {
            false
        })
        .expect_err("other settings");
        assert!(err.to_string().contains("other settings"), "{err}");
    }

    // A cancelled run keeps its finished epochs; a damaged checkpoint is then an error naming
    // the file, not a panic.
    let partial = RunDir::new(dir.path().join("vae-partial"));
    let cancelled = cancel_in_second_epoch(&data, &vae(), 3, &partial);
    assert!(
        cancelled.contains("keeps its first 1 epochs"),
        "{cancelled}"
    );
    assert_eq!(partial.state().unwrap().unwrap().history.len(), 1);
    std::fs::write(partial.path().join("vae.bpk"), b"damaged").unwrap();
    let err =
        train_halves(&data, &vae(), 3, &partial, &mut |_| {}, &|| false).expect_err("damaged");
    assert!(err.to_string().contains("vae.bpk"), "{err}");
}

#[test]
fn a_run_from_before_the_projection_discriminator_serves_and_resumes() {
    let _turn = TRAINING.lock().unwrap_or_else(|e| e.into_inner());
    let data = halves();
    let dir = tempfile::tempdir().unwrap();
    let old = ModelConfig::Gan(GanConfig {
        classes: 2,
        latent: 8,
        label_dim: 4,
        channels: 4,
        projection: false,
    });
    let run_dir = RunDir::new(dir.path().join("old"));
    let cancelled = cancel_in_second_epoch(&data, &old, 2, &run_dir);
    assert!(
        cancelled.contains("keeps its first 1 epochs"),
        "{cancelled}"
    );
    // The config.json of a run made before the field existed.
    let path = run_dir.path().join("config.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let before = text.replace(",\n    \"projection\": false", "");
    assert_ne!(before, text, "{text}");
    std::fs::write(&path, before).unwrap();

    let images = Sampler::load(&run_dir)
        .expect("serves")
        .generate(&[0, 1], 3);
    assert_eq!(images.len(), 2 * 28 * 28);
    let state = resume_after_first_epoch(&data, &old, 2, &run_dir);
    assert_eq!(state.history.len(), 2);
}

#[test]
fn data_that_does_not_fit_the_model_is_refused() {
    let data = halves();
    let dir = tempfile::tempdir().unwrap();
    let three = ModelConfig::Gan(GanConfig::new(3));
    let err = train(
        &data,
        "halves",
        &three,
        &TrainConfig::gan(),
        &RunDir::new(dir.path().join("r")),
        &mut |_| {},
        &|| false,
    )
    .expect_err("3 categories against 2");
    assert!(err.to_string().contains("3 categories"), "{err}");
    let mut big = TrainConfig::gan();
    big.batch = 1000;
    let err = train(
        &data,
        "halves",
        &gan(),
        &big,
        &RunDir::new(dir.path().join("r")),
        &mut |_| {},
        &|| false,
    )
    .expect_err("batch too big");
    assert!(err.to_string().contains("one batch of 1000"), "{err}");
}
