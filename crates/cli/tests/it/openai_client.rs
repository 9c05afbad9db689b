//! The OpenAI-compatible API as a real client sees it: `vitrine serve` on a fresh database with
//! the default model, driven by the official `openai` Python package (tests/openai_client.py).
//! Skips, saying why, when the model or the package is absent; CI installs both (`make models`,
//! `make python-deps`).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use vitrine_engine::models::{self, DEFAULT_MODEL, ModelDir};

/// The repository root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Where `vitrine models pull` puts the default model (the CLI's own rule).
fn default_model() -> PathBuf {
    let dir = std::env::var_os("VITRINE_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::var_os("XDG_DATA_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
                .unwrap_or_else(|| PathBuf::from("."))
                .join("vitrine/models")
        });
    ModelDir::new(dir).path(models::find(DEFAULT_MODEL).unwrap())
}

/// Kills the server however the test ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn vitrine(db: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_vitrine"))
        .arg("--db")
        .arg(db)
        .args(args)
        .env("VITRINE_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "vitrine {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Status of `GET url` with a bearer key, or `None` when nothing answers.
fn status(url: &str, key: &str) -> Option<u16> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into();
    let resp = agent
        .get(url)
        .header("Authorization", format!("Bearer {key}"))
        .call()
        .ok()?;
    Some(resp.status().as_u16())
}

#[test]
fn the_official_openai_python_client_works() {
    let model = default_model();
    if !model.is_file() {
        eprintln!(
            "skipped: the default model is not installed at {} (make models)",
            model.display()
        );
        return;
    }
    let python_path = root().join("target/python");
    let has_openai = Command::new("python3")
        .args(["-c", "import openai"])
        .env("PYTHONPATH", &python_path)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_openai {
        eprintln!(
            "skipped: the openai Python package is not in {} (make python-deps)",
            python_path.display()
        );
        return;
    }

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("v.db");
    vitrine(&db, &["db", "migrate"]);
    let key = vitrine(&db, &["keys", "create", "--role", "admin", "--quiet"]);
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = dir.path().join("serve.log");
    let mut server = Server(
        Command::new(env!("CARGO_BIN_EXE_vitrine"))
            .arg("--db")
            .arg(&db)
            .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
            .env("VITRINE_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    let models_status = loop {
        if let Some(exit) = server.0.try_wait().unwrap() {
            panic!(
                "vitrine serve exited ({exit}):\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        if status(&format!("{base}/healthz"), &key) == Some(200)
            && let Some(code) = status(&format!("{base}/v1/models"), &key)
        {
            break code;
        }
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "vitrine serve was not ready in time:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    // PRE-MERGE: until the OpenAI-compatible API is merged, `vitrine serve` has no /v1/models.
    // Delete this skip once it is: from then on a 404 here is a failure.
    if models_status == 404 {
        eprintln!("skipped: this build of vitrine serve has no OpenAI-compatible API yet");
        return;
    }
    assert_eq!(models_status, 200, "GET /v1/models");

    let out = Command::new("python3")
        .arg(root().join("tests/openai_client.py"))
        .env("PYTHONPATH", &python_path)
        .env("OPENAI_BASE_URL", format!("{base}/v1"))
        .env("OPENAI_API_KEY", &key)
        .env_remove("OPENAI_MODEL")
        .output()
        .unwrap();
    println!("{}", String::from_utf8_lossy(&out.stdout));
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "tests/openai_client.py failed ({}); server log:\n{}",
        out.status,
        std::fs::read_to_string(&log).unwrap_or_default()
    );
}
