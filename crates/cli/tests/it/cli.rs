//! The binary as a user runs it: exit codes, one-line errors, summaries, keys.

use std::path::Path;
use std::process::{Command, Output};

fn vitrine(db: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vitrine"))
        .arg("--db")
        .arg(db)
        .args(args)
        .env("VITRINE_LOG", "warn")
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn demo(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../demo")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn demo_catalog_and_events_import_cleanly_and_idempotently() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("v.db");
    let first = vitrine(&db, &["import", "products", &demo("products.jsonl")]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(
        stdout(&first).contains("60 imported, 0 updated, 0 unchanged, 0 rejected"),
        "{}",
        stdout(&first)
    );
    let again = vitrine(&db, &["import", "products", &demo("products.jsonl")]);
    assert!(
        stdout(&again).contains("0 imported, 0 updated, 60 unchanged, 0 rejected"),
        "{}",
        stdout(&again)
    );
    let events = vitrine(&db, &["import", "events", &demo("events.jsonl"), "--json"]);
    assert!(events.status.success(), "{}", stderr(&events));
    let summary: serde_json::Value = serde_json::from_str(stdout(&events).trim()).unwrap();
    assert_eq!(summary["rejected"], 0);
    assert!(summary["imported"].as_u64().unwrap() > 1000);
    let stats = vitrine(&db, &["db", "stats"]);
    assert!(stdout(&stats).contains("products 60"), "{}", stdout(&stats));
}

#[test]
fn rejected_rows_exit_2_and_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("v.db");
    let file = dir.path().join("bad.jsonl");
    std::fs::write(
        &file,
        "{\"id\":\"a\",\"title\":\"A\",\"price\":\"1\"}\n{\"id\":\"b\",\"title\":\"B\",\"price\":\"-2\"}\n",
    )
    .unwrap();
    let out = vitrine(&db, &["import", "products", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("{}:2: price: '-2' is negative", file.display())),
        "{err}"
    );
    assert!(
        err.lines()
            .last()
            .unwrap()
            .starts_with("error: 1 row(s) rejected"),
        "{err}"
    );
    assert!(stdout(&out).contains("1 imported"));

    let strict = vitrine(
        &db,
        &["import", "products", file.to_str().unwrap(), "--strict"],
    );
    assert_eq!(strict.status.code(), Some(2));
    assert!(
        stderr(&strict).contains("strict import aborted"),
        "{}",
        stderr(&strict)
    );
}

#[test]
fn bad_invocations_exit_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("v.db");
    let cases: [&[&str]; 5] = [
        &["import", "products", "/nonexistent/file.jsonl"],
        &["import", "products", "x.jsonl", "--format", "xml"],
        &["keys", "create", "--role", "root"],
        &["keys", "revoke", "key_000000000000"],
        &["import", "events", "x.txt", "--kind", "like"],
    ];
    for args in cases {
        let out = vitrine(&db, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("error: "), "{args:?}: {err}");
    }
    let usage = vitrine(&db, &["frobnicate"]);
    assert_eq!(usage.status.code(), Some(2));
}

#[test]
fn serve_refuses_a_model_server_it_cannot_use() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("v.db");
    // A port nothing listens on: bound, then released.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let dead = format!("http://{dead}");
    let cases: [&[&str]; 2] = [
        &[
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--llm-url",
            "ftp://models",
        ],
        // Without --llm-model, the server must list its models at start.
        &["serve", "--addr", "127.0.0.1:0", "--llm-url", &dead],
    ];
    for args in cases {
        let out = vitrine(&db, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("error: "), "{args:?}: {err}");
    }
}

#[test]
fn keys_are_shown_once_and_listed_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("v.db");
    let out = vitrine(
        &db,
        &[
            "keys", "create", "--role", "merchant", "--name", "shop", "--quiet",
        ],
    );
    assert!(out.status.success());
    let secret = stdout(&out).trim().to_string();
    assert!(secret.starts_with("vtr_") && secret.len() == 68, "{secret}");
    let list = stdout(&vitrine(&db, &["keys", "list"]));
    assert!(list.contains("merchant\tshop"), "{list}");
    assert!(
        !list.contains(&secret[4..]),
        "a listing never shows the secret"
    );
    let id = list.split('\t').next().unwrap().to_string();
    assert!(vitrine(&db, &["keys", "revoke", &id]).status.success());
    assert!(stdout(&vitrine(&db, &["keys", "list"])).contains("revoked"));
}

#[test]
fn installed_default_model_verifies() {
    let dir = std::env::var_os("VITRINE_MODELS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(&std::env::var_os("HOME").unwrap_or_default())
                .join(".local/share/vitrine/models")
        });
    if !dir.join("SmolLM2-135M-Instruct.Q4_1.gguf").exists() {
        println!("skipped: the default model is not installed (run `make models`)");
        return;
    }
    let db = tempfile::tempdir().unwrap();
    let out = vitrine(
        &db.path().join("v.db"),
        &["models", "verify", "--models-dir", dir.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("is intact"));
    let list = vitrine(
        &db.path().join("v.db"),
        &["models", "list", "--models-dir", dir.to_str().unwrap()],
    );
    assert!(
        stdout(&list).contains("smollm2-135m [default]\tinstalled"),
        "{}",
        stdout(&list)
    );
}

#[test]
fn model_commands_name_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("v.db");
    let models = dir.path().join("models");
    let out = vitrine(
        &db,
        &["models", "verify", "--models-dir", models.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("run `vitrine models pull smollm2-135m`"),
        "{}",
        stderr(&out)
    );
    std::fs::create_dir_all(&models).unwrap();
    std::fs::write(
        models.join("SmolLM2-135M-Instruct.Q4_1.gguf"),
        b"not a model",
    )
    .unwrap();
    let out = vitrine(
        &db,
        &["models", "verify", "--models-dir", models.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("is corrupt"), "{}", stderr(&out));
    let out = vitrine(&db, &["models", "pull", "no-such-model"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn eval_rec_reports_json_and_refuses_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("v.db");
    let data = dir.path().join("tiny.txt");
    // Shopper 3 follows shopper 1 and 2's path; item 4 follows 3 for everyone.
    std::fs::write(&data, "1 1 2 3 4\n2 2 3 4 5\n3 1 2 3 4\n4 6 1 2\n").unwrap();
    let out = dir.path().join("r.json");
    let ok = vitrine(
        &db,
        &[
            "eval",
            "rec",
            "--data",
            data.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert!(stdout(&ok).contains("item-knn (test)"), "{}", stdout(&ok));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(report["users"], 4);
    assert_eq!(report["items"], 6);
    // Three models, each with validation and test under both protocols.
    let results = report["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(results[0]["evaluations"].as_array().unwrap().len(), 4);

    std::fs::write(&data, "1 1 2\n2 3 -4\n").unwrap();
    let bad = vitrine(&db, &["eval", "rec", "--data", data.to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("line 2: '-4' is not an item number"),
        "{}",
        stderr(&bad)
    );
    let missing = vitrine(&db, &["eval", "rec", "--data", "/nonexistent/seq.txt"]);
    assert_eq!(missing.status.code(), Some(2));
    assert_eq!(stderr(&missing).lines().count(), 1, "{}", stderr(&missing));
}

#[test]
fn train_rec_writes_a_run_that_eval_rec_measures() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("v.db");
    let data = dir.path().join("ring.txt");
    let lines: Vec<String> = (0..60)
        .map(|u| {
            let items: Vec<String> = (0..6).map(|s| ((u * 3 + s) % 12 + 1).to_string()).collect();
            format!("{} {}", u + 1, items.join(" "))
        })
        .collect();
    std::fs::write(&data, lines.join("\n")).unwrap();
    let run = dir.path().join("run");
    let (data_arg, run_arg) = (data.to_str().unwrap(), run.to_str().unwrap());
    let trained = vitrine(
        &db,
        &[
            "train",
            "rec",
            "--data",
            data_arg,
            "--run",
            run_arg,
            "--epochs",
            "2",
            "--hidden",
            "8",
            "--max-len",
            "5",
            "--batch",
            "16",
        ],
    );
    assert!(trained.status.success(), "{}", stderr(&trained));
    assert!(
        stderr(&trained).contains("epoch   2"),
        "{}",
        stderr(&trained)
    );
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(metrics["epochs"].as_array().unwrap().len(), 2);
    assert_eq!(metrics["evaluations"].as_array().unwrap().len(), 4);

    let out = dir.path().join("eval.json");
    let eval = vitrine(
        &db,
        &[
            "eval",
            "rec",
            "--data",
            data_arg,
            "--model",
            "sasrec",
            "--run",
            run_arg,
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(eval.status.success(), "{}", stderr(&eval));
    assert!(stdout(&eval).contains("sasrec (test)"), "{}", stdout(&eval));

    let alone = vitrine(
        &db,
        &["eval", "rec", "--data", data_arg, "--model", "sasrec"],
    );
    assert_eq!(alone.status.code(), Some(2));
    assert!(stderr(&alone).contains("--run"), "{}", stderr(&alone));
    let missing = vitrine(
        &db,
        &[
            "train",
            "rec",
            "--data",
            "/nonexistent.txt",
            "--run",
            run_arg,
        ],
    );
    assert_eq!(missing.status.code(), Some(2));
    // The same directory with other settings is refused, not overwritten.
    let other = vitrine(&db, &["train", "rec", "--data", data_arg, "--run", run_arg]);
    assert_eq!(other.status.code(), Some(2), "{}", stderr(&other));
    assert!(
        stderr(&other).contains("other settings"),
        "{}",
        stderr(&other)
    );
    // Item attributes: a file that is missing or is not an item-to-attributes object is a
    // clear exit 2; a good one trains into the run.
    let attributes = dir.path().join("ring_item2attributes.json");
    let with = |file: &str, run: &str| {
        vitrine(
            &db,
            &[
                "train",
                "rec",
                "--data",
                data_arg,
                "--attributes",
                file,
                "--run",
                run,
                "--epochs",
                "1",
                "--hidden",
                "8",
                "--max-len",
                "5",
            ],
        )
    };
    let attr_run = dir.path().join("attr-run");
    let attr_run_arg = attr_run.to_str().unwrap();
    let missing = with("/nonexistent.json", attr_run_arg);
    assert_eq!(missing.status.code(), Some(2), "{}", stderr(&missing));
    assert!(
        stderr(&missing).contains("/nonexistent.json"),
        "{}",
        stderr(&missing)
    );
    std::fs::write(&attributes, "[1, 2]").unwrap();
    let bad = with(attributes.to_str().unwrap(), attr_run_arg);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    assert!(
        stderr(&bad).contains("item-to-attributes"),
        "{}",
        stderr(&bad)
    );
    let object: serde_json::Map<String, serde_json::Value> = (1..=12)
        .map(|i| (i.to_string(), serde_json::json!([i % 3 + 1, 4 + i / 4])))
        .collect();
    std::fs::write(&attributes, serde_json::to_string(&object).unwrap()).unwrap();
    let good = with(attributes.to_str().unwrap(), attr_run_arg);
    assert!(good.status.success(), "{}", stderr(&good));
    assert!(
        stderr(&good).contains("attributes on 12 items"),
        "{}",
        stderr(&good)
    );
    assert!(attr_run.join("attributes.json").is_file());
    // Nothing to train on in an empty store.
    let empty = vitrine(
        &db,
        &[
            "train",
            "rec",
            "--run",
            dir.path().join("r2").to_str().unwrap(),
        ],
    );
    assert_eq!(empty.status.code(), Some(2), "{}", stderr(&empty));
}

/// An IDX file of unsigned bytes.
fn idx(dims: &[u32], values: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(values);
    out
}

#[test]
fn train_gan_and_vae_write_their_runs_eval_images_judges_them_and_bad_data_is_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    // 20 made-up 28×28 images in Fashion-MNIST's file layout, two per category.
    let data = dir.path().join("images");
    std::fs::create_dir(&data).unwrap();
    let pixels: Vec<u8> = (0..20 * 784).map(|i| ((i * 7) % 256) as u8).collect();
    let labels: Vec<u8> = (0..20).map(|i| (i % 10) as u8).collect();
    std::fs::write(
        data.join("train-images-idx3-ubyte"),
        idx(&[20, 28, 28], &pixels),
    )
    .unwrap();
    std::fs::write(data.join("train-labels-idx1-ubyte"), idx(&[20], &labels)).unwrap();
    for model in ["gan", "vae"] {
        let run = dir.path().join(model);
        let out = vitrine(
            &db,
            &[
                "train",
                model,
                "--data",
                data.to_str().unwrap(),
                "--run",
                run.to_str().unwrap(),
                "--epochs",
                "1",
                "--batch",
                "4",
                "--channels",
                "2",
                "--latent",
                "4",
            ],
        );
        assert!(out.status.success(), "{model}: {}", stderr(&out));
        assert!(stderr(&out).contains("epoch   1"), "{}", stderr(&out));
        assert!(run.join("samples/epoch-001.png").is_file());
        assert!(run.join("metrics.json").is_file());
    }
    // The evaluation: a classifier trained on the made-up set (kept in its folder), every
    // number in the table and the JSON.
    std::fs::write(
        data.join("t10k-images-idx3-ubyte"),
        idx(&[10, 28, 28], &pixels[..10 * 784]),
    )
    .unwrap();
    std::fs::write(
        data.join("t10k-labels-idx1-ubyte"),
        idx(&[10], &labels[..10]),
    )
    .unwrap();
    let report = dir.path().join("images-eval.json");
    let classifier = dir.path().join("classifier");
    let eval = |runs: &[&str]| {
        let mut args = vec!["eval", "images"];
        for run in runs {
            args.extend(["--run", run]);
        }
        args.extend([
            "--per-category",
            "3",
            "--classifier",
            classifier.to_str().unwrap(),
            "--out",
            report.to_str().unwrap(),
        ]);
        vitrine(&db, &args)
    };
    let (gan, vae) = (dir.path().join("gan"), dir.path().join("vae"));
    let out = eval(&[gan.to_str().unwrap(), vae.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let table = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        table.contains("classifier:") && table.contains("floor"),
        "{table}"
    );
    assert!(table.contains("Inception"), "{table}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(json["runs"].as_array().unwrap().len(), 2, "{json}");
    assert_eq!(json["runs"][0]["model"], "gan");
    assert!(json["runs"][1]["conditional_accuracy"].is_number());
    assert!(json["floor_fid"].is_number());
    assert!(classifier.join("classifier.bpk").is_file());
    assert!(vae.join("reconstructions.png").is_file());
    assert!(vae.join("interpolations.png").is_file());
    let none = eval(&["/nonexistent"]);
    assert_eq!(none.status.code(), Some(2), "{}", stderr(&none));
    assert!(stderr(&none).contains("vitrine train"), "{}", stderr(&none));

    let missing = vitrine(
        &db,
        &["train", "gan", "--data", "/nonexistent", "--run", "r"],
    );
    assert_eq!(missing.status.code(), Some(2), "{}", stderr(&missing));
    // A truncated image file: exit 2 naming the file and the problem.
    std::fs::write(
        data.join("train-images-idx3-ubyte"),
        idx(&[20, 28, 28], &pixels[..1000]),
    )
    .unwrap();
    let run = dir.path().join("r");
    let bad = vitrine(
        &db,
        &[
            "train",
            "vae",
            "--data",
            data.to_str().unwrap(),
            "--run",
            run.to_str().unwrap(),
        ],
    );
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    let reason = stderr(&bad);
    assert!(
        reason.contains("train-images-idx3-ubyte") && reason.contains("truncated"),
        "{reason}"
    );
}
