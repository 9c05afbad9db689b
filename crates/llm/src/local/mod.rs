//! The local model: a GGUF file run by llama.cpp (through `llama-cpp-2`) in this process. This is
//! the only place in Vitrine that touches llama.cpp.
//!
//! Each replica is a worker thread that owns a llama context (sharing the one loaded model) and
//! serves the requests given to it (STYLE.md: model crates are synchronous and own their
//! threads). A small model on a few cores runs faster as several single-threaded contexts than
//! as one context whose threads meet at a barrier after every graph node: see `replicas`. Callers' threads do the cheap, parallel part themselves —
//! rendering the chat template, tokenizing, checking that the request fits, compiling the JSON
//! Schema to a grammar — so a bad request is refused before it takes a queue place, and the
//! worker only decodes. See `worker.rs` for the scheduler.

mod sampler;
mod text;
mod worker;

use std::hash::{BuildHasher, RandomState};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};
use llama_cpp_2::token::LlamaToken;
use llama_cpp_2::{LogOptions, send_logs_to_tracing};
use vitrine_core::{
    GenerateError, GenerationRequest, GeneratorHealth, GeneratorInfo, Prompt, ResponseFormat,
    TextGenerator, TokenSink,
};

use crate::{Error, Result};
use worker::{Command, Job, Worker};

/// How to run a local model.
#[derive(Debug, Clone)]
pub struct LocalConfig {
    /// The GGUF file.
    pub model_path: PathBuf,
    /// The id clients use for it (OpenAI's `model`).
    pub model_id: String,
    /// Sequences decoded together in one batch (llama.cpp's `n_seq_max`); more requests wait.
    pub slots: u32,
    /// KV cache cells, split evenly between the slots: one request (prompt plus answer) may use
    /// `context / slots` tokens, up to the model's training context.
    pub context: u32,
    /// The most tokens one decode step carries (prompt chunks and generated tokens together).
    pub batch: u32,
    /// Requests that may wait for a slot; more are refused with `GenerateError::Busy`.
    pub queue: usize,
    /// Contexts over the one loaded model, each with its own worker thread, KV cache and
    /// `slots`; a request goes to the least loaded. On this 2-core machine a batch of
    /// descriptions ran as fast on 1 thread as on 2, so two 1-thread replicas nearly double it.
    pub replicas: u32,
    /// CPU threads of each replica; `None` shares the cores out between the replicas.
    pub threads: Option<u32>,
    /// Timeout of a request that sets none, queue wait included.
    pub timeout: Duration,
    /// `max_tokens` of a request that sets none (less if the context has less room).
    pub default_max_tokens: u32,
}

impl LocalConfig {
    /// Defaults for `model_path`, served as `model_id`.
    pub fn new(model_path: impl Into<PathBuf>, model_id: impl Into<String>) -> Self {
        Self {
            model_path: model_path.into(),
            model_id: model_id.into(),
            slots: 8,
            context: 8192,
            batch: 512,
            queue: 64,
            replicas: 1,
            threads: None,
            timeout: Duration::from_secs(300),
            default_max_tokens: 1024,
        }
    }
}

/// State the worker and the callers share.
#[derive(Debug, Default)]
struct Shared {
    /// Requests sent to the worker and not yet in a slot.
    queued: AtomicUsize,
    /// Requests in a slot.
    active: AtomicUsize,
    /// Running mean of a request's time in a slot, in milliseconds (for Retry-After).
    mean_ms: AtomicU64,
    /// Why the worker stopped, once it has.
    failure: Mutex<Option<String>>,
}

impl Shared {
    fn failure(&self) -> Option<String> {
        self.failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn fail(&self, reason: String) {
        *self
            .failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(reason);
    }
}

/// One context and the worker thread that runs it.
struct Replica {
    shared: Arc<Shared>,
    commands: mpsc::Sender<Command>,
}

impl Replica {
    /// Requests given to it and not yet finished.
    fn load(&self) -> usize {
        self.shared.queued.load(Ordering::Relaxed) + self.shared.active.load(Ordering::Relaxed)
    }
}

/// A GGUF model served by llama.cpp on worker threads of its own.
pub struct LocalGenerator {
    model: Arc<LlamaModel>,
    template: LlamaChatTemplate,
    info: GeneratorInfo,
    config: LocalConfig,
    replicas: Vec<Replica>,
    workers: Mutex<Vec<JoinHandle<()>>>,
    /// Every token's text, made at the first steered request.
    pieces: OnceLock<Arc<sampler::Pieces>>,
}

impl std::fmt::Debug for LocalGenerator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalGenerator")
            .field("info", &self.info)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// llama.cpp's global state may be initialised once per process.
fn backend() -> Result<&'static LlamaBackend> {
    static BACKEND: OnceLock<std::result::Result<LlamaBackend, String>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            // llama.cpp logs to stderr by default; route it to `tracing` (debug level).
            send_logs_to_tracing(LogOptions::default());
            LlamaBackend::init().map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| Error::Runtime(format!("llama.cpp backend: {e}")))
}

impl LocalGenerator {
    /// Loads the model and starts its worker. Fails with a clear error when the file is missing
    /// or not a model llama.cpp can run.
    pub fn load(config: &LocalConfig) -> Result<Self> {
        let path = &config.model_path;
        if !path.is_file() {
            return Err(Error::ModelFile {
                path: path.clone(),
                reason: "no such file; `vitrine models pull` installs the default model".into(),
            });
        }
        if config.slots == 0 || config.slots > 256 {
            return Err(Error::Config(format!(
                "slots must be 1..=256, not {}",
                config.slots
            )));
        }
        if config.replicas == 0 || config.replicas > 64 {
            return Err(Error::Config(format!(
                "replicas must be 1..=64, not {}",
                config.replicas
            )));
        }
        if config.context / config.slots < 64 || config.batch < config.slots || config.queue == 0 {
            return Err(Error::Config(
                "context must give each slot at least 64 tokens, batch must be at least the \
                 number of slots, and queue above 0"
                    .into(),
            ));
        }
        let backend = backend()?;
        let model = LlamaModel::load_from_file(backend, path, &LlamaModelParams::default())
            .map_err(|e| Error::ModelFile {
                path: path.clone(),
                reason: format!("llama.cpp cannot load it ({e}); is it a GGUF model?"),
            })?;
        let model = Arc::new(model);
        // A GGUF without a template gets ChatML, the most common instruct format.
        let template = model
            .chat_template(None)
            .or_else(|_| LlamaChatTemplate::new("chatml"))
            .map_err(|e| Error::Runtime(format!("chat template: {e}")))?;
        let context_length = (config.context / config.slots).min(model.n_ctx_train().max(64));
        let info = GeneratorInfo {
            model: config.model_id.clone(),
            backend: "local".into(),
            context_length,
        };
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
        let mut replica_config = config.clone();
        replica_config.threads = Some(config.threads.unwrap_or(cores / config.replicas).max(1));
        let mut replicas = Vec::new();
        let mut workers = Vec::new();
        for i in 0..config.replicas {
            match start_replica(backend, &model, &replica_config, i) {
                Ok((replica, worker)) => {
                    replicas.push(replica);
                    workers.push(worker);
                }
                Err(e) => {
                    // Closing the channels stops the replicas already started.
                    drop(replicas);
                    for worker in workers {
                        let _ = worker.join();
                    }
                    return Err(e);
                }
            }
        }
        Ok(Self {
            model,
            template,
            info,
            config: config.clone(),
            replicas,
            workers: Mutex::new(workers),
            pieces: OnceLock::new(),
        })
    }

    /// Renders a conversation with the model's chat template, ready for the assistant's turn.
    pub fn render(&self, prompt: &Prompt) -> std::result::Result<String, GenerateError> {
        match prompt {
            Prompt::Text(text) => Ok(text.clone()),
            Prompt::Chat(messages) => {
                if messages.is_empty() {
                    return Err(GenerateError::invalid("messages", "must not be empty"));
                }
                let chat = messages
                    .iter()
                    .enumerate()
                    .map(|(i, m)| {
                        LlamaChatMessage::new(m.role.as_str().into(), m.content.clone()).map_err(
                            |_| {
                                GenerateError::invalid(
                                    format!("messages[{i}].content"),
                                    "must not contain a NUL character",
                                )
                            },
                        )
                    })
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                self.model
                    .apply_chat_template(&self.template, &chat, true)
                    .map_err(|e| {
                        GenerateError::invalid("messages", format!("chat template failed: {e}"))
                    })
            }
        }
    }

    /// The prompt's tokens as the model will see them (template applied, BOS added when the
    /// model wants one), followed by the answer's beginning when the caller wrote one.
    fn tokenize(
        &self,
        prompt: &Prompt,
        prefill: Option<&str>,
    ) -> std::result::Result<Vec<LlamaToken>, GenerateError> {
        let mut text = self.render(prompt)?;
        if let Some(prefill) = prefill {
            text.push_str(prefill);
        }
        let vocab = self.model.vocab();
        // Templates write special tokens as text, so they are parsed; BOS is added by hand
        // because some templates (Gemma's) already start with it.
        let mut tokens = vocab.tokenize(text.as_bytes(), false, true);
        if vocab.should_add_bos() && tokens.first() != Some(&vocab.bos()) {
            tokens.insert(0, vocab.bos());
        }
        let field = match prompt {
            Prompt::Chat(_) => "messages",
            Prompt::Text(_) => "prompt",
        };
        let content = tokens.iter().filter(|&&t| t != vocab.bos()).count();
        if content == 0 {
            return Err(GenerateError::invalid(field, "must not be empty"));
        }
        Ok(tokens)
    }

    #[doc(hidden)]
    /// Makes the worker threads panic, as a bug in them would: for tests of failure reporting.
    pub fn crash_worker_for_tests(&self) {
        for replica in &self.replicas {
            let _ = replica.commands.send(Command::Crash);
        }
        self.join_workers();
    }

    /// Waits for the worker threads to end (once; later calls return at once).
    fn join_workers(&self) {
        let handles = std::mem::take(
            &mut *self
                .workers
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        for handle in handles {
            let _ = handle.join();
        }
    }

    /// Why the model cannot serve, once a replica has failed.
    fn failure(&self) -> Option<String> {
        self.replicas.iter().find_map(|r| r.shared.failure())
    }

    fn queued(&self) -> usize {
        self.replicas
            .iter()
            .map(|r| r.shared.queued.load(Ordering::Relaxed))
            .sum()
    }

    fn retry_after(&self, queued: usize) -> Duration {
        let mean = self
            .replicas
            .iter()
            .map(|r| r.shared.mean_ms.load(Ordering::Relaxed))
            .max()
            .unwrap_or(0)
            .max(1000);
        let slots = u64::from(self.config.slots) * self.replicas.len() as u64;
        let waves = queued as u64 / slots.max(1) + 1;
        Duration::from_millis(mean.saturating_mul(waves)).min(Duration::from_secs(60))
    }
}

/// Starts replica `index`: a context on `model` and its worker thread.
fn start_replica(
    backend: &'static LlamaBackend,
    model: &Arc<LlamaModel>,
    config: &LocalConfig,
    index: u32,
) -> Result<(Replica, JoinHandle<()>)> {
    let shared = Arc::new(Shared::default());
    let (commands, receiver) = mpsc::channel();
    let (ready_tx, ready_rx) = mpsc::channel();
    let worker = {
        let model = Arc::clone(model);
        let shared = Arc::clone(&shared);
        let config = config.clone();
        std::thread::Builder::new()
            .name(format!("vitrine-llm-{index}"))
            .spawn(move || Worker::run(backend, &model, &config, &shared, receiver, ready_tx))
            .map_err(|e| Error::Runtime(format!("cannot start the model thread: {e}")))?
    };
    match ready_rx.recv() {
        Ok(Ok(())) => Ok((Replica { shared, commands }, worker)),
        Ok(Err(reason)) => {
            let _ = worker.join();
            Err(Error::Runtime(reason))
        }
        Err(_) => {
            let _ = worker.join();
            Err(Error::Runtime(
                "the model thread died while starting".into(),
            ))
        }
    }
}

impl Drop for LocalGenerator {
    fn drop(&mut self) {
        // Closing the channels tells the workers to stop; they fail what is still in flight.
        for replica in &mut self.replicas {
            let (closed, _) = mpsc::channel();
            replica.commands = closed;
        }
        self.join_workers();
    }
}

impl TextGenerator for LocalGenerator {
    fn info(&self) -> GeneratorInfo {
        self.info.clone()
    }

    fn health(&self) -> GeneratorHealth {
        match self.failure() {
            Some(reason) => GeneratorHealth::Failed { reason },
            None => GeneratorHealth::Ok {
                active: self
                    .replicas
                    .iter()
                    .map(|r| r.shared.active.load(Ordering::Relaxed))
                    .sum(),
                queued: self.queued(),
            },
        }
    }

    fn submit(
        &self,
        request: GenerationRequest,
        sink: Box<dyn TokenSink>,
    ) -> std::result::Result<(), GenerateError> {
        if let Some(reason) = self.failure() {
            return Err(GenerateError::Unavailable(reason));
        }
        let submitted = Instant::now();
        sampler::validate(&request.sampling)?;
        let prefill = request.prefill.as_deref().filter(|p| !p.is_empty());
        if prefill.is_some() && request.format != ResponseFormat::Text {
            return Err(GenerateError::invalid(
                "prefill",
                "cannot be combined with a JSON response format",
            ));
        }
        let tokens = self.tokenize(&request.prompt, prefill)?;
        let limit = self.info.context_length as usize;
        let field = match request.prompt {
            Prompt::Chat(_) => "messages",
            Prompt::Text(_) => "prompt",
        };
        if tokens.len() >= limit {
            return Err(GenerateError::invalid(
                field,
                format!(
                    "the prompt takes {} tokens but the model's context holds {limit}, \
                     with room needed for the answer",
                    tokens.len()
                ),
            ));
        }
        let room = limit - tokens.len();
        let max_tokens = match request.max_tokens {
            Some(0) => return Err(GenerateError::invalid("max_tokens", "must be at least 1")),
            Some(n) if n as usize > room => {
                return Err(GenerateError::invalid(
                    "max_tokens",
                    format!(
                        "{n} does not fit: the prompt takes {} of the context's {limit} tokens, \
                         leaving {room}",
                        tokens.len()
                    ),
                ));
            }
            Some(n) => n,
            None => self
                .config
                .default_max_tokens
                .min(u32::try_from(room).unwrap_or(u32::MAX)),
        };
        if request.stop.len() > 16 || request.stop.iter().any(|s| s.len() > 256) {
            return Err(GenerateError::invalid(
                "stop",
                "at most 16 stop strings of at most 256 bytes",
            ));
        }
        let grammar = sampler::grammar_for(&request.format)?;
        let seed = match request.sampling.seed {
            // Fold the 64-bit seed into llama.cpp's 32 bits without losing the high half.
            Some(seed) => (seed ^ (seed >> 32)) as u32,
            None => RandomState::new().hash_one(submitted) as u32,
        };
        // Build the chain once here: an unusable grammar is the caller's error, found now.
        sampler::validate_steering(&request.steer)?;
        let sampler = sampler::build(
            &self.model,
            &request.sampling,
            grammar.as_deref(),
            &request.steer,
            prefill.unwrap_or_default(),
            || {
                Arc::clone(
                    self.pieces
                        .get_or_init(|| Arc::new(sampler::Pieces::new(&self.model))),
                )
            },
            seed,
        )?;
        let timeout = request.timeout.unwrap_or(self.config.timeout);

        let queued = self.queued();
        if queued >= self.config.queue {
            return Err(GenerateError::Busy {
                queued,
                retry_after: self.retry_after(queued),
            });
        }
        // The least loaded replica; the first among equals, so an idle model keeps using one
        // replica's cache.
        let replica = self
            .replicas
            .iter()
            .min_by_key(|r| r.load())
            .expect("at least one replica");
        replica.shared.queued.fetch_add(1, Ordering::AcqRel);
        let job = Job {
            tokens,
            max_tokens,
            sampler,
            stops: request.stop,
            deadline: submitted + timeout,
            timeout,
            sink: worker::Guarded::new(sink),
            reuse: request
                .cache_prompt
                .unwrap_or(request.sampling.seed.is_none()),
        };
        replica
            .commands
            .send(Command::Generate(Box::new(job)))
            .map_err(|_| {
                replica.shared.queued.fetch_sub(1, Ordering::AcqRel);
                GenerateError::Unavailable(
                    replica
                        .shared
                        .failure()
                        .unwrap_or_else(|| "the model thread has stopped".into()),
                )
            })
    }

    fn count_tokens(&self, prompt: &Prompt) -> std::result::Result<u32, GenerateError> {
        Ok(u32::try_from(self.tokenize(prompt, None)?.len()).unwrap_or(u32::MAX))
    }
}
