//! `vitrine serve`: the HTTP API, with a language model that is local (the default), a remote
//! OpenAI-compatible server (`--llm-url`), or none (`--no-llm`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use vitrine_core::TextGenerator;
use vitrine_engine::text::{
    DEFAULT_CONTEXT, DEFAULT_MAX_IN_FLIGHT, DEFAULT_TIMEOUT, RemoteConfig, RemoteGenerator,
};
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
    /// Generate text with a remote OpenAI-compatible server (vLLM, llama.cpp's server, Ollama,
    /// another Vitrine) at this base URL instead of a local model.
    #[arg(long, env = "VITRINE_LLM_URL", value_name = "URL")]
    llm_url: Option<String>,
    /// API key for --llm-url, sent as a bearer token.
    #[arg(
        long,
        env = "VITRINE_LLM_KEY",
        value_name = "KEY",
        hide_env_values = true
    )]
    llm_key: Option<String>,
    /// Model to ask --llm-url for; default: the first one it lists.
    #[arg(long, env = "VITRINE_LLM_MODEL", value_name = "NAME")]
    llm_model: Option<String>,
    /// Context length of the --llm-url model, in tokens (the server does not say).
    #[arg(long, env = "VITRINE_LLM_CONTEXT", value_name = "TOKENS",
        default_value_t = DEFAULT_CONTEXT)]
    llm_context: u32,
    /// Most requests in flight to --llm-url; more are answered 429.
    #[arg(long, env = "VITRINE_LLM_MAX_IN_FLIGHT", value_name = "N",
        default_value_t = DEFAULT_MAX_IN_FLIGHT)]
    llm_max_in_flight: usize,
    /// Seconds one generation on --llm-url may take.
    #[arg(long, env = "VITRINE_LLM_TIMEOUT", value_name = "SECONDS",
        default_value_t = DEFAULT_TIMEOUT.as_secs())]
    llm_timeout: u64,
    /// Serve without a language model (wins over --llm-url): the text generation routes answer
    /// 503.
    #[arg(long)]
    no_llm: bool,
}

pub(crate) fn run(global: &Global, args: Args) -> Outcome {
    let mut engine = global.engine()?;
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
    match &args.llm_url {
        Some(url) => remote_generator(args, url).map(Some),
        None => local_generator(args).map(Some),
    }
}

fn remote_generator(args: &Args, url: &str) -> Result<Arc<dyn TextGenerator>, Failure> {
    let config = RemoteConfig {
        url: url.to_string(),
        api_key: args.llm_key.clone(),
        model: args.llm_model.clone(),
        max_in_flight: args.llm_max_in_flight,
        timeout: Duration::from_secs(args.llm_timeout),
        context_length: args.llm_context,
    };
    let generator =
        RemoteGenerator::connect(&config).map_err(|e| Failure::BadInput(e.to_string()))?;
    Ok(Arc::new(generator))
}

// LOCAL MODEL: the default when neither --llm-url nor --no-llm is given. The local llama.cpp
// runtime fills this in (`--model NAME|PATH`, `--llm-slots`, ...) when it is merged.
fn local_generator(_args: &Args) -> Result<Arc<dyn TextGenerator>, Failure> {
    Err(Failure::BadInput(
        "the local model runtime is not merged yet; serve a remote model with --llm-url URL, \
         or none with --no-llm"
            .into(),
    ))
}
