//! `vitrine serve`: the HTTP API, with a language model that is local (the default), a remote
//! OpenAI-compatible server (`--llm-url`), or none (`--no-llm`).

use std::net::SocketAddr;
use std::sync::Arc;

use vitrine_core::TextGenerator;
use vitrine_server::ServerConfig;

use super::Global;
use crate::exit::{Failure, Outcome};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Address to listen on.
    #[arg(long, env = "VITRINE_ADDR", default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Largest request body accepted, in bytes.
    #[arg(long, env = "VITRINE_BODY_LIMIT", default_value_t = 2 * 1024 * 1024)]
    body_limit: usize,
    #[command(flatten)]
    llm: super::llm::LlmArgs,
    /// Serve without a language model (wins over --llm-url): the text generation routes answer
    /// 503.
    #[arg(long)]
    no_llm: bool,
    /// Recommend with this SASRec run directory (`vitrine train rec --run DIR`) instead of
    /// item-kNN fitted on the store.
    #[arg(long, env = "VITRINE_REC_RUN")]
    rec_run: Option<std::path::PathBuf>,
    /// Where runs trained over the admin API (`POST /v1/trainings`) go (default: `runs` beside
    /// the database).
    #[arg(long, env = "VITRINE_RUNS")]
    runs_dir: Option<std::path::PathBuf>,
}

pub(crate) fn run(global: &Global, args: Args) -> Outcome {
    let mut engine = global.engine()?;
    if let Some(run) = &args.rec_run {
        if !run.join("model.bpk").is_file() {
            return Err(Failure::BadInput(format!(
                "--rec-run {}: no trained model (run `vitrine train rec --run {}`)",
                run.display(),
                run.display()
            )));
        }
        engine = engine.with_recommender_run(run.clone());
    }
    if let Some(dir) = &args.runs_dir {
        engine = engine.with_runs_dir(dir.clone());
    }
    if let Some(generator) = generator(&args)? {
        engine = engine.with_generator(generator);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Internal(e.into()))?;
    runtime
        .block_on(vitrine_server::serve(
            engine,
            ServerConfig {
                addr: args.addr,
                body_limit: args.body_limit,
            },
        ))
        .map_err(|e| Failure::Internal(e.into()))
}

/// The language model the flags ask for, if any.
fn generator(args: &Args) -> Result<Option<Arc<dyn TextGenerator>>, Failure> {
    if args.no_llm {
        tracing::info!("serving without a language model (--no-llm)");
        return Ok(None);
    }
    args.llm.generator().map(Some)
}
