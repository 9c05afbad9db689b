//! The local model: a GGUF file run by llama.cpp (through `llama-cpp-2`) in this process. This is
//! the only place in Vitrine that touches llama.cpp.
//!
//! One worker thread owns the llama context and serves every request (STYLE.md: model crates are
//! synchronous and own their threads). Callers' threads do the cheap, parallel part themselves —
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
    GenerateError, GenerationRequest, GeneratorHealth, GeneratorInfo, Prompt, TextGenerator,
    TokenSink,
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
    /// CPU threads for llama.cpp; `None` uses every core.
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

/// A GGUF model served by llama.cpp on a worker thread of its own.
pub struct LocalGenerator {
    model: Arc<LlamaModel>,
    template: LlamaChatTemplate,
    info: GeneratorInfo,
    config: LocalConfig,
    shared: Arc<Shared>,
    commands: mpsc::Sender<Command>,
    worker: Mutex<Option<JoinHandle<()>>>,
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
        let shared = Arc::new(Shared::default());
        let (commands, receiver) = mpsc::channel();
        let (ready_tx, ready_rx) = mpsc::channel();
        let worker = {
            let model = Arc::clone(&model);
            let shared = Arc::clone(&shared);
            let config = config.clone();
            std::thread::Builder::new()
                .name("vitrine-llm".into())
                .spawn(move || Worker::run(backend, &model, &config, &shared, receiver, ready_tx))
                .map_err(|e| Error::Runtime(format!("cannot start the model thread: {e}")))?
        };
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(reason)) => {
                let _ = worker.join();
                return Err(Error::Runtime(reason));
            }
            Err(_) => {
                let _ = worker.join();
                return Err(Error::Runtime(
                    "the model thread died while starting".into(),
                ));
            }
        }
        Ok(Self {
            model,
            template,
            info,
            config: config.clone(),
            shared,
            commands,
            worker: Mutex::new(Some(worker)),
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
    /// model wants one).
    fn tokenize(&self, prompt: &Prompt) -> std::result::Result<Vec<LlamaToken>, GenerateError> {
        let text = self.render(prompt)?;
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
    /// Makes the worker thread panic, as a bug in it would: for tests of failure reporting.
    pub fn crash_worker_for_tests(&self) {
        let _ = self.commands.send(Command::Crash);
        self.join_worker();
    }

    /// Waits for the worker thread to end (once; later calls return at once).
    fn join_worker(&self) {
        let handle = self
            .worker
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }

    fn retry_after(&self, queued: usize) -> Duration {
        let mean = self.shared.mean_ms.load(Ordering::Relaxed).max(1000);
        let waves = queued as u64 / u64::from(self.config.slots) + 1;
        Duration::from_millis(mean.saturating_mul(waves)).min(Duration::from_secs(60))
    }
}

impl Drop for LocalGenerator {
    fn drop(&mut self) {
        // Closing the channel tells the worker to stop; it fails what is still in flight.
        let (closed, _) = mpsc::channel();
        self.commands = closed;
        self.join_worker();
    }
}

impl TextGenerator for LocalGenerator {
    fn info(&self) -> GeneratorInfo {
        self.info.clone()
    }

    fn health(&self) -> GeneratorHealth {
        match self.shared.failure() {
            Some(reason) => GeneratorHealth::Failed { reason },
            None => GeneratorHealth::Ok {
                active: self.shared.active.load(Ordering::Relaxed),
                queued: self.shared.queued.load(Ordering::Relaxed),
            },
        }
    }

    fn submit(
        &self,
        request: GenerationRequest,
        sink: Box<dyn TokenSink>,
    ) -> std::result::Result<(), GenerateError> {
        if let Some(reason) = self.shared.failure() {
            return Err(GenerateError::Unavailable(reason));
        }
        let submitted = Instant::now();
        sampler::validate(&request.sampling)?;
        let tokens = self.tokenize(&request.prompt)?;
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
            seed,
        )?;
        let timeout = request.timeout.unwrap_or(self.config.timeout);

        let queued = self.shared.queued.fetch_add(1, Ordering::AcqRel);
        if queued >= self.config.queue {
            self.shared.queued.fetch_sub(1, Ordering::AcqRel);
            return Err(GenerateError::Busy {
                queued,
                retry_after: self.retry_after(queued),
            });
        }
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
        self.commands
            .send(Command::Generate(Box::new(job)))
            .map_err(|_| {
                self.shared.queued.fetch_sub(1, Ordering::AcqRel);
                GenerateError::Unavailable(
                    self.shared
                        .failure()
                        .unwrap_or_else(|| "the model thread has stopped".into()),
                )
            })
    }

    fn count_tokens(&self, prompt: &Prompt) -> std::result::Result<u32, GenerateError> {
        Ok(u32::try_from(self.tokenize(prompt)?.len()).unwrap_or(u32::MAX))
    }
}
