//! Generating with a trained run and judging it: samples are deterministic by seed and in
//! range, the VAE reconstructs and interpolates (the GAN refuses to), a run without a finished
//! epoch or with damaged weights is a clear error, the classifier learns the tiny set, is kept
//! and reused, and the evaluation reports every number with the real-against-real floor.

use vitrine_imagegen::{ClassifierConfig, Judge, RunDir, Sampler, evaluate, vae_pictures};

use crate::train::{TRAINING, gan, halves, run, vae};

#[test]
fn samplers_generate_reconstruct_and_interpolate() {
    let _turn = TRAINING.lock().unwrap_or_else(|e| e.into_inner());
    let data = halves();
    let dir = tempfile::tempdir().unwrap();

    // No finished epoch yet: nothing to load.
    let empty = RunDir::new(dir.path().join("empty"));
    std::fs::create_dir_all(empty.path()).unwrap();
    assert!(Sampler::load(&empty).is_err());

    let gan_run = RunDir::new(dir.path().join("gan"));
    run(&data, &gan(), 1, &gan_run);
    let sampler = Sampler::load(&gan_run).unwrap();
    assert_eq!(sampler.kind(), "gan");
    assert_eq!(sampler.classes(), ["left", "right"]);
    assert_eq!(sampler.history().len(), 1);
    let a = sampler.generate(&[0, 1, 1], 7);
    assert_eq!(a.len(), 3 * 28 * 28);
    assert_eq!(a, sampler.generate(&[0, 1, 1], 7), "same seed, same images");
    assert_ne!(a, sampler.generate(&[0, 1, 1], 8));
    assert!(sampler.generate(&[], 1).is_empty());
    let image = data.image(0).to_vec();
    assert!(
        sampler.reconstruct(&image, &[0]).is_err(),
        "a GAN has no encoder"
    );

    let vae_run = RunDir::new(dir.path().join("vae"));
    run(&data, &vae(), 2, &vae_run);
    let sampler = Sampler::load(&vae_run).unwrap();
    let rebuilt = sampler.reconstruct(&image, &[0]).unwrap();
    assert_eq!(rebuilt.len(), 28 * 28);
    let walk = sampler
        .interpolate(data.image(0), data.image(1), 0, 5)
        .unwrap();
    assert_eq!(walk.len(), 5 * 28 * 28);
    // The walk starts at the first image's reconstruction.
    assert_eq!(&walk[..28 * 28], &rebuilt[..]);
    assert!(sampler.reconstruct(&image[..10], &[0]).is_err());

    // Damaged weights: an error naming the file.
    std::fs::write(gan_run.path().join("generator.bpk"), b"junk").unwrap();
    let message = Sampler::load(&gan_run).unwrap_err().to_string();
    assert!(message.contains("generator.bpk"), "{message}");
}

#[test]
fn the_classifier_is_trained_once_and_the_evaluation_reports_every_number() {
    let _turn = TRAINING.lock().unwrap_or_else(|e| e.into_inner());
    let data = halves();
    let (train, test) = data.split(4);
    assert_eq!((train.len(), test.len()), (36, 12));
    let dir = tempfile::tempdir().unwrap();
    let config = ClassifierConfig {
        channels: 4,
        hidden: 16,
        epochs: 8,
        batch: 8,
        ..ClassifierConfig::new(2)
    };
    let mut batches = 0;
    let judge = Judge::load_or_train(
        &dir.path().join("classifier"),
        "halves",
        &train,
        &test,
        &config,
        &mut |_, _, _| batches += 1,
    )
    .unwrap();
    assert_eq!(batches, 8 * 36usize.div_ceil(8));
    // Left against right half is easy: the classifier gets the held-out images right.
    assert_eq!(judge.info().test_accuracy, 1.0, "{:?}", judge.info());
    // Kept: the second call trains nothing and reads the same numbers.
    let mut again = 0;
    let kept = Judge::load_or_train(
        &dir.path().join("classifier"),
        "halves",
        &train,
        &test,
        &config,
        &mut |_, _, _| again += 1,
    )
    .unwrap();
    assert_eq!(again, 0);
    assert_eq!(kept.info(), judge.info());

    let gan_run = RunDir::new(dir.path().join("gan"));
    run(&data, &gan(), 1, &gan_run);
    let vae_run = RunDir::new(dir.path().join("vae"));
    run(&data, &vae(), 2, &vae_run);
    let (g, v) = (
        Sampler::load(&gan_run).unwrap(),
        Sampler::load(&vae_run).unwrap(),
    );
    let mut steps = Vec::new();
    let report = evaluate(
        &kept,
        &train,
        &test,
        &[("gan".into(), &g), ("vae".into(), &v)],
        20,
        1,
        &mut |s| steps.push(s.to_owned()),
    )
    .unwrap();
    assert!(!steps.is_empty());
    assert!(report.floor_fid.is_finite() && report.floor_fid >= 0.0);
    assert_eq!(report.runs.len(), 2);
    for r in &report.runs {
        assert!((0.0..=1.0).contains(&r.conditional_accuracy), "{r:?}");
        assert_eq!(r.per_category.len(), 2);
        assert!(r.fid.is_finite() && r.fid >= 0.0, "{r:?}");
        assert!((0.0..=r.fid + 1e-9).contains(&r.fid_mean_part), "{r:?}");
        assert!(r.spread.is_finite() && r.spread > 0.0, "{r:?}");
        let names: Vec<&str> = r
            .per_category_fid
            .iter()
            .map(|c| c.category.as_str())
            .collect();
        assert_eq!(names, data.classes());
        for c in &r.per_category_fid {
            assert!(c.fid.is_finite() && c.fid >= 0.0, "{c:?}");
            assert!(c.floor.is_finite() && c.floor >= 0.0, "{c:?}");
        }
        assert!(r.generate_64_ms > 0.0);
    }
    assert_eq!(report.between_runs.len(), 1);
    assert!(report.note.contains("Inception"));

    let written = vae_pictures(&v, &test, vae_run.path()).unwrap();
    for file in &written {
        let img = image::open(file).unwrap();
        assert!(img.width() > 28 && img.height() > 28, "{}", file.display());
    }
    assert!(vae_pictures(&g, &test, gan_run.path()).is_err());
}
