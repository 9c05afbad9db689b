//! SASRec training on a tiny synthetic catalogue: it learns a sequential pattern popularity
//! cannot, writes its run directory, resumes after an interruption exactly as an uninterrupted
//! run, and refuses a corrupt checkpoint with an error.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;

use vitrine_recsys::{
    ItemAttributes, Loss, Popularity, Protocol, RunDir, SasRecConfig, SasRecScorer, Sequences,
    Stage, TrainConfig, TrainProgress, evaluate, train,
};

/// burn's CPU backend seeds one random generator for the process: tests that train take turns,
/// or one's dropout draws would change another's.
static TRAINING: Mutex<()> = Mutex::new(());

/// 300 shoppers walk a ring of 20 items, each from its own start, 6 to 9 steps: the next item
/// is always the current one plus one, which popularity cannot know.
fn ring() -> Sequences {
    let mut pairs = Vec::new();
    for u in 0..300 {
        let len = 6 + u % 4;
        for step in 0..len {
            pairs.push((format!("u{u}"), format!("i{}", (u * 7 + step) % 20)));
        }
    }
    Sequences::from_pairs(pairs)
}

fn tiny(n_items: usize) -> SasRecConfig {
    SasRecConfig {
        n_items,
        max_len: 8,
        hidden: 16,
        heads: 2,
        blocks: 1,
        dropout: 0.1,
        attributes: 0,
    }
}

fn settings(epochs: usize, loss: Loss) -> TrainConfig {
    TrainConfig {
        epochs,
        batch: 32,
        lr: 5e-3,
        seed: 7,
        patience: 100,
        loss,
        max_minutes: None,
    }
}

#[test]
fn learns_what_popularity_cannot_and_writes_its_run() {
    let _turn = TRAINING.lock().unwrap_or_else(|e| e.into_inner());
    let data = ring();
    let dir = tempfile::tempdir().unwrap();
    let run = RunDir::new(dir.path().join("run"));
    let state = train(
        &data,
        "ring",
        &tiny(data.n_items()),
        &settings(8, Loss::Softmax),
        &run,
        &mut |_| {},
        &|| false,
    )
    .expect("trains");
    assert_eq!(state.history.len(), 8);
    assert!(state.finished);
    for file in [
        "config.json",
        "model.bpk",
        "last.bpk",
        "optim.bpk",
        "state.json",
        "plot.png",
    ] {
        assert!(run.path().join(file).is_file(), "{file} missing");
    }
    let scorer = SasRecScorer::load(&run).expect("loads");
    let sasrec = evaluate(&scorer, &data, Stage::Test, Protocol::Full, 1, &|_, _| {});
    let pop = evaluate(
        &Popularity::fit(&data),
        &data,
        Stage::Test,
        Protocol::Full,
        1,
        &|_, _| {},
    );
    assert!(
        sasrec.metrics["HR@5"] > 0.9 && pop.metrics["HR@5"] < 0.5,
        "sasrec {:?} popularity {:?}",
        sasrec.metrics,
        pop.metrics
    );
    // The other objectives train too.
    for loss in [Loss::Sampled { negatives: 8 }, Loss::Bce] {
        let run = RunDir::new(dir.path().join(format!("{loss:?}")));
        let state = train(
            &data,
            "ring",
            &tiny(data.n_items()),
            &settings(2, loss),
            &run,
            &mut |_| {},
            &|| false,
        )
        .expect("trains");
        assert!(state.history[1].loss.is_finite());
    }
}

#[test]
fn an_interrupted_run_resumes_exactly() {
    let _turn = TRAINING.lock().unwrap_or_else(|e| e.into_inner());
    let data = ring();
    let model = tiny(data.n_items());
    let config = settings(3, Loss::Softmax);
    let dir = tempfile::tempdir().unwrap();
    let whole = RunDir::new(dir.path().join("whole"));
    let expected = train(&data, "ring", &model, &config, &whole, &mut |_| {}, &|| {
        false
    })
    .expect("trains");

    let cut = RunDir::new(dir.path().join("cut"));
    let interrupted = catch_unwind(AssertUnwindSafe(|| {
        train(
            &data,
            "ring",
            &model,
            &config,
            &cut,
            &mut |p| {
                if matches!(
                    p,
                    TrainProgress::Batch {
                        epoch: 2,
                        done: 3,
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
    let mut resumed_at = None;
    let state = train(
        &data,
        "ring",
        &model,
        &config,
        &cut,
        &mut |p| {
            if let TrainProgress::Resumed { epoch } = p {
                resumed_at = Some(epoch);
            }
        },
        &|| false,
    )
    .expect("resumes");
    assert_eq!(resumed_at, Some(1));
    let losses =
        |s: &vitrine_recsys::TrainState| s.history.iter().map(|e| e.loss).collect::<Vec<_>>();
    assert_eq!(losses(&state), losses(&expected));
    assert_eq!(state.best_valid_ndcg10, expected.best_valid_ndcg10);

    // Other settings in the same directory are refused rather than mixed in.
    let other = settings(4, Loss::Softmax);
    let err =
        train(&data, "ring", &model, &other, &cut, &mut |_| {}, &|| false).expect_err("refused");
    assert!(err.to_string().contains("other settings"), "{err}");

    // A corrupt checkpoint is an error naming the file, not a panic.
    std::fs::write(cut.path().join("model.bpk"), b"not weights").unwrap();
    let err = SasRecScorer::load(&cut).expect_err("corrupt");
    assert!(err.to_string().contains("model.bpk"), "{err}");
}

#[test]
fn a_cancelled_run_stops_after_the_batch_and_keeps_its_finished_epochs() {
    let _turn = TRAINING.lock().unwrap_or_else(|e| e.into_inner());
    let data = ring();
    let model = tiny(data.n_items());
    let config = settings(3, Loss::Softmax);
    let dir = tempfile::tempdir().unwrap();
    let run = RunDir::new(dir.path().join("run"));
    let batches = std::cell::Cell::new(0);
    let stop_in_epoch_2 = std::cell::Cell::new(false);
    let err = train(
        &data,
        "ring",
        &model,
        &config,
        &run,
        &mut |p| {
            if let TrainProgress::Batch { epoch, .. } = p {
                batches.set(batches.get() + 1);
                stop_in_epoch_2.set(epoch == 2);
            }
        },
        &|| stop_in_epoch_2.get(),
    )
    .expect_err("cancelled");
    assert!(
        matches!(err, vitrine_recsys::Error::Cancelled { epoch: 1 }),
        "{err}"
    );
    let state = run.state().unwrap().expect("epoch 1 was kept");
    assert_eq!(state.history.len(), 1);
    assert!(!state.finished);
    // Asked once after each batch: it stopped after the first batch of epoch 2.
    let per_epoch = batches.get() - 1;
    assert!(per_epoch >= 1);
    let resumed =
        train(&data, "ring", &model, &config, &run, &mut |_| {}, &|| false).expect("resumes");
    assert_eq!(resumed.history.len(), 3);
}

#[test]
fn attributes_train_into_the_run_and_are_checked_when_loaded() {
    let _turn = TRAINING.lock().unwrap_or_else(|e| e.into_inner());
    let mut data = ring();
    // Each ring item has a "brand" shared with its neighbour and one of three "categories".
    let pairs: Vec<(String, String)> = (0..20)
        .flat_map(|i| {
            [
                (format!("i{i}"), format!("brand:{}", i / 2)),
                (format!("i{i}"), format!("category:{}", i % 3)),
            ]
        })
        .collect();
    let attributes = ItemAttributes::from_pairs(&data, pairs);
    assert_eq!(attributes.len(), 13);
    let dir = tempfile::tempdir().unwrap();
    let run = RunDir::new(dir.path().join("run"));
    // A model told of no attributes while the data has them is refused, and the other way.
    data.set_attributes(attributes.clone()).expect("same items");
    let err = train(
        &data,
        "ring",
        &tiny(data.n_items()),
        &settings(1, Loss::Softmax),
        &run,
        &mut |_| {},
        &|| false,
    )
    .expect_err("attribute count differs");
    assert!(err.to_string().contains("attribute count"), "{err}");
    let err = Sequences::from_pairs([("u", "x")])
        .set_attributes(attributes.clone())
        .expect_err("other items");
    assert!(err.to_string().contains("cover 20 items"), "{err}");

    let model = SasRecConfig {
        attributes: attributes.len(),
        ..tiny(data.n_items())
    };
    let state = train(
        &data,
        "ring",
        &model,
        &settings(8, Loss::Softmax),
        &run,
        &mut |_| {},
        &|| false,
    )
    .expect("trains");
    assert!(state.finished);
    assert_eq!(run.attributes().unwrap().as_ref(), Some(&attributes));
    let scorer = SasRecScorer::load(&run).expect("loads");
    let test = evaluate(&scorer, &data, Stage::Test, Protocol::Full, 1, &|_, _| {});
    assert!(test.metrics["HR@5"] > 0.9, "{:?}", test.metrics);

    // Training on into the run with other attributes of the same count is refused.
    let shifted: Vec<(String, String)> = (0..20)
        .flat_map(|i| {
            [
                (format!("i{i}"), format!("brand:{}", (i / 2 + 1) % 10)),
                (format!("i{i}"), format!("category:{}", i % 3)),
            ]
        })
        .collect();
    let mut other_data = ring();
    other_data
        .set_attributes(ItemAttributes::from_pairs(&other_data, shifted))
        .unwrap();
    let err = train(
        &other_data,
        "ring",
        &model,
        &settings(8, Loss::Softmax),
        &run,
        &mut |_| {},
        &|| false,
    )
    .expect_err("other attributes");
    assert!(err.to_string().contains("other item attributes"), "{err}");

    // attributes.json that does not match config.json is refused with the file named.
    let other = ItemAttributes::from_pairs(&data, [("i1", "brand:x")]);
    std::fs::write(
        run.path().join("attributes.json"),
        serde_json::to_string(&other).unwrap(),
    )
    .unwrap();
    let err = SasRecScorer::load(&run).expect_err("mismatch");
    assert!(err.to_string().contains("attributes.json"), "{err}");
}
