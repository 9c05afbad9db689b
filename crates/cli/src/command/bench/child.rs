//! The servers `vitrine bench llm` measures, run as child processes: `vitrine serve` on a fresh
//! database and llama.cpp's `llama-server`. A child is killed when its handle drops, so an error
//! anywhere in the benchmark leaves nothing running. Does not speak the API (see `load.rs`).

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// How long a server may take to load its model and answer its health check.
const START_TIMEOUT: Duration = Duration::from_secs(180);

/// A running server child.
#[derive(Debug)]
pub(super) struct Server {
    /// Short label for tables and JSON.
    pub(super) name: &'static str,
    /// `http://127.0.0.1:PORT`.
    pub(super) base_url: String,
    /// Bearer key the server wants, if any.
    pub(super) api_key: Option<String>,
    child: Child,
    log: PathBuf,
}

impl Server {
    /// The operating system's process id.
    pub(super) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Peak resident memory so far (`VmHWM`), in bytes; Linux only.
    pub(super) fn peak_rss_bytes(&self) -> Option<u64> {
        peak_rss_bytes(self.pid())
    }

    /// The last lines the server wrote to stderr, for error messages.
    pub(super) fn log_tail(&self) -> String {
        log_tail(&self.log)
    }

    /// Polls `path` until it answers 200, failing early if the child dies.
    fn wait_ready(&mut self, path: &str) -> anyhow::Result<()> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(5)))
            .build()
            .into();
        let url = format!("{}{path}", self.base_url);
        let started = Instant::now();
        while started.elapsed() < START_TIMEOUT {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "{} exited ({status}) before it was ready:\n{}",
                    self.name,
                    self.log_tail()
                );
            }
            if let Ok(resp) = agent.get(&url).call()
                && resp.status() == 200
            {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        bail!(
            "{} was not ready after {} s:\n{}",
            self.name,
            START_TIMEOUT.as_secs(),
            self.log_tail()
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A scratch folder removed when dropped.
#[derive(Debug)]
pub(super) struct Scratch(PathBuf);

impl Scratch {
    pub(super) fn new() -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(format!("vitrine-bench-llm-{}", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(Self(dir))
    }

    pub(super) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A free TCP port on the loopback interface. Another process could take it before the child
/// binds it; on a benchmark machine that is unlikely enough.
fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// Starts `vitrine serve` on a fresh database in `scratch`, with a new admin key, and waits for
/// `/healthz` and the model list.
pub(super) fn vitrine(scratch: &Path, extra_args: &[String]) -> anyhow::Result<Server> {
    let exe = std::env::current_exe().context("locating the vitrine binary")?;
    let db = scratch.join("bench.db");
    let run = |args: &[&str]| -> anyhow::Result<String> {
        let out = Command::new(&exe)
            .arg("--db")
            .arg(&db)
            .args(args)
            .env("VITRINE_LOG", "warn")
            .output()
            .with_context(|| format!("running vitrine {}", args.join(" ")))?;
        if !out.status.success() {
            bail!(
                "vitrine {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    run(&["db", "migrate"])?;
    let key = run(&[
        "keys", "create", "--role", "admin", "--name", "bench", "--quiet",
    ])?;
    let port = free_port()?;
    let log = scratch.join("vitrine-serve.log");
    let child = Command::new(&exe)
        .arg("--db")
        .arg(&db)
        .arg("serve")
        .arg("--addr")
        .arg(format!("127.0.0.1:{port}"))
        .args(extra_args)
        .env("VITRINE_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(&log)?)
        .spawn()
        .context("starting vitrine serve")?;
    let mut server = Server {
        name: "vitrine",
        base_url: format!("http://127.0.0.1:{port}"),
        api_key: Some(key),
        child,
        log,
    };
    server.wait_ready("/healthz")?;
    Ok(server)
}

/// Starts llama.cpp's `llama-server` with continuous batching over `parallel` slots and waits for
/// `/health` (which answers 503 while the model loads).
pub(super) fn llama_server(
    exe: &Path,
    model: &Path,
    threads: u32,
    parallel: u32,
    context: u32,
    scratch: &Path,
) -> anyhow::Result<Server> {
    let port = free_port()?;
    let log = scratch.join("llama-server.log");
    let child = Command::new(exe)
        .arg("-m")
        .arg(model)
        .args(["-t", &threads.to_string()])
        .args(["-tb", &threads.to_string()])
        .args(["-np", &parallel.to_string()])
        .args(["-c", &context.to_string()])
        .arg("--cont-batching")
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(&log)?)
        .spawn()
        .with_context(|| format!("starting {}", exe.display()))?;
    let mut server = Server {
        name: "llama-server",
        base_url: format!("http://127.0.0.1:{port}"),
        api_key: None,
        child,
        log,
    };
    server.wait_ready("/health")?;
    Ok(server)
}

/// `VmHWM` of a process, in bytes.
pub(super) fn peak_rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
