//! The flags that choose the language model, shared by `serve` and `generate`: a local GGUF
//! model run by llama.cpp (the default), or a remote OpenAI-compatible server.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use vitrine_core::TextGenerator;
use vitrine_engine::models::{DEFAULT_MODEL, ModelDir};
use vitrine_engine::text::{
    DEFAULT_CONTEXT, DEFAULT_MAX_IN_FLIGHT, DEFAULT_TIMEOUT, LocalConfig, LocalGenerator,
    RemoteConfig, RemoteGenerator,
};

use crate::exit::Failure;

/// The language model's flags.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct LlmArgs {
    /// The local model: a name from `vitrine models list` (installed with `vitrine models pull`)
    /// or the path of any GGUF file.
    #[arg(long, env = "VITRINE_MODEL", value_name = "NAME|PATH", default_value = DEFAULT_MODEL)]
    pub(crate) model: String,
    /// The models folder.
    #[arg(long, env = "VITRINE_MODELS", default_value_os_t = super::models::default_models_dir())]
    pub(crate) models_dir: PathBuf,
    /// Requests the local model generates at once, batched into one decode step; more wait.
    #[arg(long, env = "VITRINE_LLM_SLOTS", value_name = "N", default_value_t = 8)]
    pub(crate) llm_slots: u32,
    /// Requests that may wait for a local slot; more are answered 429.
    #[arg(
        long,
        env = "VITRINE_LLM_QUEUE",
        value_name = "N",
        default_value_t = 64
    )]
    pub(crate) llm_queue: usize,
    /// Copies of the local model's context, each on threads of its own with its own slots; a
    /// request goes to the least loaded (default: one per core, on one thread each: a small
    /// model on few cores does more that way than as one context on every core).
    #[arg(long, env = "VITRINE_LLM_REPLICAS", value_name = "N",
        value_parser = clap::value_parser!(u32).range(1..=64))]
    pub(crate) llm_replicas: Option<u32>,
    /// CPU threads of each replica of the local model (default: the cores shared out between
    /// the replicas).
    #[arg(long, env = "VITRINE_LLM_THREADS", value_name = "N")]
    llm_threads: Option<u32>,
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
    /// Context of the language model, in tokens: the local model's KV cache, split evenly
    /// between its slots (one request, prompt plus answer, may use context / slots), or what the
    /// --llm-url model accepts (it does not say).
    #[arg(long, env = "VITRINE_LLM_CONTEXT", value_name = "TOKENS",
        default_value_t = DEFAULT_CONTEXT)]
    llm_context: u32,
    /// Most requests in flight to --llm-url; more are answered 429.
    #[arg(long, env = "VITRINE_LLM_MAX_IN_FLIGHT", value_name = "N",
        default_value_t = DEFAULT_MAX_IN_FLIGHT)]
    llm_max_in_flight: usize,
    /// Seconds one generation may take, waiting in the queue included.
    #[arg(long, env = "VITRINE_LLM_TIMEOUT", value_name = "SECONDS",
        default_value_t = DEFAULT_TIMEOUT.as_secs())]
    pub(crate) llm_timeout: u64,
}

impl LlmArgs {
    /// The language model the flags ask for.
    pub(crate) fn generator(&self) -> Result<Arc<dyn TextGenerator>, Failure> {
        match &self.llm_url {
            Some(url) => remote_generator(self, url),
            None => local_generator(self),
        }
    }
}

fn remote_generator(args: &LlmArgs, url: &str) -> Result<Arc<dyn TextGenerator>, Failure> {
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

/// How many replicas of the local model run: as asked, or one per core when neither replicas
/// nor threads are set, or as many as the cores hold at `threads` each.
pub(crate) fn replicas(asked: Option<u32>, threads: Option<u32>) -> u32 {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
    asked.unwrap_or_else(|| (cores / threads.unwrap_or(1).max(1)).max(1))
}

/// The local model: a catalog name (verified against its SHA-256) or a GGUF path.
fn local_generator(args: &LlmArgs) -> Result<Arc<dyn TextGenerator>, Failure> {
    let (path, id) = resolve_model(&args.model, &args.models_dir)?;
    let mut config = LocalConfig::new(path, id);
    config.slots = args.llm_slots;
    config.queue = args.llm_queue;
    config.replicas = replicas(args.llm_replicas, args.llm_threads);
    config.threads = args.llm_threads;
    config.context = args.llm_context;
    config.timeout = Duration::from_secs(args.llm_timeout);
    tracing::info!(model = %config.model_id, path = %config.model_path.display(), "loading the local model");
    let generator = LocalGenerator::load(&config).map_err(|e| match e {
        vitrine_engine::models::Error::Runtime(_) => Failure::Internal(anyhow::Error::new(e)),
        other => Failure::BadInput(other.to_string()),
    })?;
    Ok(Arc::new(generator))
}

/// A path (anything with a `/` or ending in `.gguf`) is used as is, served under its file
/// name; anything else is a catalog name, which must be installed and intact.
pub(crate) fn resolve_model(model: &str, models_dir: &Path) -> Result<(PathBuf, String), Failure> {
    if model.contains('/') || model.ends_with(".gguf") {
        let path = PathBuf::from(model);
        if !path.is_file() {
            return Err(Failure::BadInput(format!(
                "--model {model}: no such file (give a GGUF path or a name from `vitrine models list`)"
            )));
        }
        let id = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| model.to_string());
        return Ok((path, id));
    }
    let known = vitrine_engine::models::find(model)?;
    let installed = ModelDir::new(models_dir).verify(known)?;
    Ok((installed.path, known.name.to_string()))
}
