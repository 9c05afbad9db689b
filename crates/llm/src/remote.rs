//! A client for any OpenAI-compatible server (vLLM, llama.cpp's server, Ollama, another Vitrine)
//! behind the `TextGenerator` trait, so the engine cannot tell it from a local model.
//!
//! Synchronous like the rest of the model crates: each admitted request runs on its own thread
//! with a blocking HTTP client (ureq), streams the answer (`"stream": true`), and turns the SSE
//! `data:` lines into `GenerationEvent`s. Back-pressure is a cap on requests in flight; a sink
//! that returns `false` makes the thread drop the response, and closing the connection is what
//! cancels the generation on the remote side. Owns no prompts and no HTTP serving.

use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;
use vitrine_core::{
    ChatMessage, ChatRole, FinishReason, GenerateError, GenerationEvent, GenerationRequest,
    GeneratorHealth, GeneratorInfo, Prompt, ResponseFormat, TextGenerator, TokenSink, Usage,
};

use crate::{Error, Result};

/// The context length assumed for a remote model when none is configured.
pub const DEFAULT_CONTEXT: u32 = 8192;
/// The default cap on requests in flight to one remote server.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 16;
/// The default time one generation may take, waiting on the remote side included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// How long connecting to the server may take; generation time is bounded by the timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long listing the models may take.
const LIST_TIMEOUT: Duration = Duration::from_secs(30);
/// The most of an error body kept: enough for any message, bounded against a hostile server.
const ERROR_BODY_LIMIT: u64 = 64 * 1024;
/// A fair wait before retrying when our own cap on requests in flight is reached.
const BUSY_RETRY: Duration = Duration::from_secs(1);
/// How often `health()` may ask an unreachable server for its models again, so that health
/// recovers even when no request comes (a load balancer stops sending them to a failed node).
const PROBE_INTERVAL: Duration = Duration::from_secs(5);

/// How to reach a remote OpenAI-compatible server.
#[derive(Clone, PartialEq, Eq)]
pub struct RemoteConfig {
    /// The server's base URL, `http(s)://host:port`, with or without a trailing `/v1`.
    pub url: String,
    /// Sent as `Authorization: Bearer <key>`. Never printed by `Debug` or logged.
    pub api_key: Option<String>,
    /// The model to ask for; `None` takes the first one `GET /v1/models` lists at connect time.
    pub model: Option<String>,
    /// The most requests in flight at once; one more is refused with `GenerateError::Busy`.
    pub max_in_flight: usize,
    /// How long one generation may take when its request names no timeout.
    pub timeout: Duration,
    /// The model's context length in tokens, as reported by `info()` (the server does not say).
    pub context_length: u32,
}

impl RemoteConfig {
    /// A config for the server at `url` with default settings.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            api_key: None,
            model: None,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            timeout: DEFAULT_TIMEOUT,
            context_length: DEFAULT_CONTEXT,
        }
    }
}

impl fmt::Debug for RemoteConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteConfig")
            .field("url", &self.url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("model", &self.model)
            .field("max_in_flight", &self.max_in_flight)
            .field("timeout", &self.timeout)
            .field("context_length", &self.context_length)
            .finish()
    }
}

/// A `TextGenerator` served by a remote OpenAI-compatible server. Cheap to share; every clone
/// of the `Arc` it lives in shares one connection pool and one in-flight cap.
pub struct RemoteGenerator {
    shared: Arc<Shared>,
}

struct Shared {
    /// The URL without a trailing `/` or `/v1`; endpoints are `{root}/v1/...`.
    root: String,
    api_key: Option<String>,
    model: String,
    max_in_flight: usize,
    timeout: Duration,
    context_length: u32,
    agent: ureq::Agent,
    in_flight: AtomicUsize,
    /// Why the last attempt to reach the server failed; `None` once one succeeds.
    failure: Mutex<Option<String>>,
    /// Whether changes of reachability are logged; off while connecting, whose caller reports.
    announce: AtomicBool,
    /// A background probe is running.
    probing: AtomicBool,
    /// When the last probe started.
    last_probe: Mutex<Option<Instant>>,
}

impl fmt::Debug for RemoteGenerator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteGenerator")
            .field("url", &self.shared.root)
            .field("model", &self.shared.model)
            .field("max_in_flight", &self.shared.max_in_flight)
            .finish_non_exhaustive()
    }
}

impl RemoteGenerator {
    /// Checks `config` and asks the server for its models. Without a configured model, the
    /// first one listed is used, and an unreachable server is an error. With one, an unreachable
    /// server only marks the generator as failed (it recovers on the first success), so Vitrine
    /// can start before its inference cluster.
    pub fn connect(config: &RemoteConfig) -> Result<Self> {
        let url = config.url.trim();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(Error::Config(format!(
                "the model server URL '{url}' must start with http:// or https://"
            )));
        }
        if config.max_in_flight == 0 {
            return Err(Error::Config(
                "the remote model's requests in flight must be at least 1".into(),
            ));
        }
        if config.context_length == 0 {
            return Err(Error::Config(
                "the remote model's context length must be at least 1".into(),
            ));
        }
        if config.timeout.is_zero() {
            return Err(Error::Config(
                "the remote model's timeout must be above zero".into(),
            ));
        }
        let root = url.trim_end_matches('/');
        let root = root.strip_suffix("/v1").unwrap_or(root).to_string();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            // Error statuses carry the server's message: read them rather than getting an Err.
            .http_status_as_error(false)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .user_agent(concat!("vitrine/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        let mut shared = Shared {
            root,
            api_key: config.api_key.clone().filter(|k| !k.is_empty()),
            model: config.model.clone().unwrap_or_default(),
            max_in_flight: config.max_in_flight,
            timeout: config.timeout,
            context_length: config.context_length,
            agent,
            in_flight: AtomicUsize::new(0),
            failure: Mutex::new(None),
            announce: AtomicBool::new(false),
            probing: AtomicBool::new(false),
            last_probe: Mutex::new(None),
        };
        match (&config.model, shared.list_models()) {
            (Some(model), Ok(ids)) => {
                if !ids.iter().any(|id| id == model) {
                    tracing::warn!(url = %shared.root, model, available = ?ids,
                        "the remote server does not list the configured model");
                }
            }
            (Some(model), Err(e)) => {
                tracing::warn!(url = %shared.root, model, error = %e,
                    "cannot list the remote server's models; will retry on the first request");
            }
            (None, Ok(ids)) => match ids.into_iter().next() {
                Some(first) => shared.model = first,
                None => {
                    return Err(Error::Remote {
                        url: shared.root,
                        reason: "GET /v1/models lists no model".into(),
                    });
                }
            },
            (None, Err(e)) => {
                return Err(Error::Remote {
                    url: shared.root,
                    reason: e.to_string(),
                });
            }
        }
        tracing::info!(url = %shared.root, model = %shared.model, "using a remote model server");
        shared.announce.store(true, Ordering::Relaxed);
        Ok(Self {
            shared: Arc::new(shared),
        })
    }
}

impl TextGenerator for RemoteGenerator {
    fn info(&self) -> GeneratorInfo {
        GeneratorInfo {
            model: self.shared.model.clone(),
            backend: "remote".into(),
            context_length: self.shared.context_length,
        }
    }

    fn health(&self) -> GeneratorHealth {
        match self.shared.failure().clone() {
            Some(reason) => {
                Shared::probe(&self.shared);
                GeneratorHealth::Failed { reason }
            }
            None => GeneratorHealth::Ok {
                active: self.shared.in_flight.load(Ordering::Relaxed),
                queued: 0,
            },
        }
    }

    fn submit(
        &self,
        request: GenerationRequest,
        sink: Box<dyn TokenSink>,
    ) -> Result<(), GenerateError> {
        let kind = match request.prompt {
            Prompt::Chat(_) => Endpoint::Chat,
            Prompt::Text(_) => Endpoint::Completion,
        };
        let body = self.shared.body(&request)?;
        let permit = Permit::acquire(&self.shared)?;
        let timeout = request.timeout.unwrap_or(self.shared.timeout);
        thread::Builder::new()
            .name("vitrine-remote-llm".into())
            .spawn(move || {
                let shared = Arc::clone(&permit.shared);
                shared.run(kind, &body, timeout, sink);
                drop(permit);
            })
            .map_err(|e| {
                GenerateError::Unavailable(format!("cannot start a request thread: {e}"))
            })?;
        Ok(())
    }

    fn count_tokens(&self, _prompt: &Prompt) -> Result<u32, GenerateError> {
        // OpenAI's API has no tokenizer endpoint, and an estimate would make callers trust a
        // budget that is wrong for this model's tokenizer and chat template.
        Err(GenerateError::Unavailable(
            "token counting is not available on a remote backend".into(),
        ))
    }
}

/// A slot among the requests in flight, given back when dropped.
struct Permit {
    shared: Arc<Shared>,
}

impl Permit {
    fn acquire(shared: &Arc<Shared>) -> Result<Self, GenerateError> {
        shared
            .in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < shared.max_in_flight).then_some(n + 1)
            })
            .map_err(|n| GenerateError::Busy {
                queued: n,
                retry_after: BUSY_RETRY,
            })?;
        Ok(Self {
            shared: Arc::clone(shared),
        })
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.shared.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Which OpenAI endpoint a request goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    /// `/v1/chat/completions`: text arrives in `choices[0].delta.content`.
    Chat,
    /// `/v1/completions`: text arrives in `choices[0].text`.
    Completion,
}

impl Endpoint {
    fn path(self) -> &'static str {
        match self {
            Endpoint::Chat => "/v1/chat/completions",
            Endpoint::Completion => "/v1/completions",
        }
    }
}

/// The request body. A struct rather than `json!` so that `f32` settings are written as the
/// shortest decimal that reads back as the same `f32` (0.8, not 0.800000011920929).
#[derive(Debug, Serialize)]
struct Body<'a> {
    model: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    messages: Option<Vec<&'a ChatMessage>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prompt: Option<std::borrow::Cow<'a, str>>,
    /// With a prefill: the last message is the answer's beginning, to be continued (vLLM's and
    /// llama.cpp's extension).
    #[serde(skip_serializing_if = "Option::is_none")]
    continue_final_message: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    add_generation_prompt: Option<bool>,
    stream: bool,
    stream_options: StreamOptions,
    temperature: f32,
    top_p: f32,
    /// llama.cpp's and vLLM's extensions; OpenAI-compatible servers ignore what they lack.
    top_k: u32,
    min_p: f32,
    repeat_penalty: f32,
    frequency_penalty: f32,
    presence_penalty: f32,
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    /// vLLM's extension; sent only when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    min_tokens: Option<u32>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    stop: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    response_format: Option<Value>,
    /// llama.cpp's (and Vitrine's) prompt-cache switch; sent only when the caller chose.
    #[serde(skip_serializing_if = "Option::is_none")]
    cache_prompt: Option<bool>,
}

#[derive(Debug, Serialize)]
struct StreamOptions {
    include_usage: bool,
}

/// What one SSE event means for the stream.
enum Step {
    /// Keep reading.
    More,
    /// `data: [DONE]`.
    End,
    /// The sink said stop.
    Cancelled,
}

/// The state of one streamed answer.
struct Answer {
    kind: Endpoint,
    finish: Option<FinishReason>,
    usage: Usage,
}

impl Shared {
    fn failure(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        // The guarded value is a plain Option: a panic elsewhere cannot leave it half-written.
        self.failure.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn announce(&self) -> bool {
        self.announce.load(Ordering::Relaxed)
    }

    /// Records that the server could not be reached; `health()` reports it until a success.
    fn unreachable(&self, reason: &str) {
        let mut failure = self.failure();
        if failure.is_none() && self.announce() {
            tracing::warn!(url = %self.root, reason, "the remote model server is unreachable");
        }
        *failure = Some(reason.to_string());
    }

    /// Records that the server answered with `status`; refusing our key does not count.
    fn answered(&self, status: u16) {
        if !matches!(status, 401 | 403) {
            self.reached();
        }
    }

    /// Records that the server answered.
    fn reached(&self) {
        let mut failure = self.failure();
        if failure.take().is_some() && self.announce() {
            tracing::info!(url = %self.root, "the remote model server answers again");
        }
    }

    /// Asks the server for its models on a thread of its own, at most once per
    /// `PROBE_INTERVAL`; a success clears the failure. Never blocks the caller.
    fn probe(shared: &Arc<Self>) {
        {
            let mut last = shared
                .last_probe
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if last.is_some_and(|at| at.elapsed() < PROBE_INTERVAL)
                || shared.probing.swap(true, Ordering::AcqRel)
            {
                return;
            }
            *last = Some(Instant::now());
        }
        let probed = Arc::clone(shared);
        let spawned = thread::Builder::new()
            .name("vitrine-remote-probe".into())
            .spawn(move || {
                // The outcome is recorded by `list_models` itself.
                let _ = probed.list_models();
                probed.probing.store(false, Ordering::Release);
            });
        if spawned.is_err() {
            shared.probing.store(false, Ordering::Release);
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.root)
    }

    fn authorize<B>(&self, request: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.api_key {
            Some(key) => request.header("Authorization", format!("Bearer {key}")),
            None => request,
        }
    }

    /// The ids `GET /v1/models` lists.
    fn list_models(&self) -> Result<Vec<String>, GenerateError> {
        let request = self
            .authorize(self.agent.get(self.url("/v1/models")))
            .config()
            .timeout_global(Some(LIST_TIMEOUT))
            .build();
        let response = request
            .call()
            .map_err(|e| self.request_error(e, LIST_TIMEOUT))?;
        let status = response.status().as_u16();
        self.answered(status);
        let mut body = response.into_body();
        if status != 200 {
            return Err(self.status_error(status, None, &read_error_body(body.as_reader())));
        }
        let list: Value = body
            .read_to_string()
            .map_err(|e| GenerateError::Backend(format!("cannot read GET /v1/models: {e}")))
            .and_then(|text| {
                serde_json::from_str(&text).map_err(|e| {
                    GenerateError::Backend(format!("GET /v1/models did not answer JSON: {e}"))
                })
            })?;
        Ok(list["data"]
            .as_array()
            .map(|models| {
                models
                    .iter()
                    .filter_map(|m| m["id"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default())
    }

    fn body(&self, request: &GenerationRequest) -> Result<String, GenerateError> {
        if request.max_tokens == Some(0) {
            return Err(GenerateError::invalid("max_tokens", "must be at least 1"));
        }
        let prefill = request.prefill.as_deref().filter(|p| !p.is_empty());
        if prefill.is_some() && request.format != ResponseFormat::Text {
            return Err(GenerateError::invalid(
                "prefill",
                "cannot be combined with a JSON response format",
            ));
        }
        let prefill_message = prefill.map(|p| ChatMessage::new(ChatRole::Assistant, p));
        let (messages, prompt) = match &request.prompt {
            Prompt::Chat(messages) if messages.is_empty() => {
                return Err(GenerateError::invalid("messages", "is empty"));
            }
            Prompt::Chat(messages) => (
                Some(messages.iter().chain(prefill_message.as_ref()).collect()),
                None,
            ),
            Prompt::Text(text) => (
                None,
                Some(match prefill {
                    Some(p) => format!("{text}{p}").into(),
                    None => text.as_str().into(),
                }),
            ),
        };
        let continues = prefill.is_some() && messages.is_some();
        let sampling = &request.sampling;
        let response_format = match &request.format {
            ResponseFormat::Text => None,
            ResponseFormat::JsonObject => Some(serde_json::json!({"type": "json_object"})),
            ResponseFormat::JsonSchema { name, schema } => Some(serde_json::json!({
                "type": "json_schema",
                "json_schema": {"name": name, "schema": schema, "strict": true},
            })),
        };
        let body = Body {
            model: &self.model,
            messages,
            prompt,
            continue_final_message: continues.then_some(true),
            add_generation_prompt: continues.then_some(false),
            stream: true,
            stream_options: StreamOptions {
                include_usage: true,
            },
            temperature: sampling.temperature,
            top_p: sampling.top_p,
            top_k: sampling.top_k,
            min_p: sampling.min_p,
            repeat_penalty: sampling.repeat_penalty,
            frequency_penalty: sampling.frequency_penalty,
            presence_penalty: sampling.presence_penalty,
            seed: sampling.seed,
            max_tokens: request.max_tokens,
            min_tokens: (sampling.min_tokens > 0).then_some(sampling.min_tokens),
            stop: &request.stop,
            response_format,
            cache_prompt: request.cache_prompt,
        };
        serde_json::to_string(&body)
            .map_err(|e| GenerateError::invalid("request", format!("cannot be encoded: {e}")))
    }

    /// Runs one admitted request on its own thread, ending with exactly one `Done` or `Failed`
    /// unless the sink cancels.
    fn run(&self, kind: Endpoint, body: &str, timeout: Duration, mut sink: Box<dyn TokenSink>) {
        let end = match self.stream(kind, body, timeout, sink.as_mut()) {
            Ok(Some(answer)) => GenerationEvent::Done {
                finish_reason: answer.finish.unwrap_or(FinishReason::Stop),
                usage: answer.usage,
            },
            Ok(None) => {
                tracing::debug!(url = %self.root, "generation cancelled by its client");
                return;
            }
            Err(e) => GenerationEvent::Failed(e),
        };
        sink.send(end);
    }

    /// Streams the answer into `sink`; `None` when the sink cancelled.
    fn stream(
        &self,
        kind: Endpoint,
        body: &str,
        timeout: Duration,
        sink: &mut dyn TokenSink,
    ) -> Result<Option<Answer>, GenerateError> {
        let request = self
            .authorize(self.agent.post(self.url(kind.path())))
            .header("Content-Type", "application/json")
            .header("Accept", "text/event-stream")
            .config()
            .timeout_global(Some(timeout))
            .build();
        let response = request
            .send(body)
            .map_err(|e| self.request_error(e, timeout))?;
        let status = response.status().as_u16();
        self.answered(status);
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        // A server that ignores `stream` answers with one JSON document.
        let whole = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        let mut body = response.into_body();
        if status != 200 {
            let text = read_error_body(body.as_reader());
            return Err(self.status_error(status, retry_after, &text));
        }
        let mut answer = Answer {
            kind,
            finish: None,
            usage: Usage::default(),
        };
        if whole {
            let mut text = body.read_to_string().map_err(|e| read_error(e, timeout))?;
            return match answer.event(&mut text, sink)? {
                Step::Cancelled => Ok(None),
                Step::More | Step::End => Ok(Some(answer)),
            };
        }
        let mut data = String::new();
        let mut ended = false;
        // Dropping the reader on return closes the connection mid-answer, which is what tells
        // the remote server to stop generating.
        for line in BufReader::new(body.into_reader()).lines() {
            let line = line.map_err(|e| read_error(ureq::Error::from(e), timeout))?;
            if line.is_empty() {
                match answer.event(&mut data, sink)? {
                    Step::More => continue,
                    Step::End => {
                        ended = true;
                        break;
                    }
                    Step::Cancelled => return Ok(None),
                }
            }
            // SSE: `data:` lines accumulate until a blank line; other fields and comments
            // (keep-alives start with ':') carry nothing for us.
            if let Some(rest) = line.strip_prefix("data:") {
                if !data.is_empty() {
                    data.push('\n');
                }
                data.push_str(rest.strip_prefix(' ').unwrap_or(rest));
            }
        }
        if !ended {
            match answer.event(&mut data, sink)? {
                Step::Cancelled => return Ok(None),
                Step::End => {}
                Step::More if answer.finish.is_some() => {}
                Step::More => {
                    return Err(GenerateError::Backend(
                        "the remote server closed the stream before the answer was finished".into(),
                    ));
                }
            }
        }
        Ok(Some(answer))
    }

    /// Maps a failure to send a request or read its answer's head.
    fn request_error(&self, e: ureq::Error, timeout: Duration) -> GenerateError {
        match e {
            ureq::Error::Timeout(_) => GenerateError::Timeout(timeout),
            ureq::Error::BadUri(_) | ureq::Error::Http(_) => {
                GenerateError::Backend(format!("cannot build the request: {e}"))
            }
            other => {
                let reason = format!("cannot reach {}: {other}", self.root);
                self.unreachable(&reason);
                GenerateError::Unavailable(reason)
            }
        }
    }

    /// Maps an answer with an error status.
    fn status_error(
        &self,
        status: u16,
        retry_after: Option<Duration>,
        body: &str,
    ) -> GenerateError {
        let (param, message) = remote_message(body);
        let message = message.unwrap_or_else(|| format!("HTTP status {status}"));
        match status {
            401 | 403 => {
                let reason = format!("the server refused the API key (HTTP {status}): {message}");
                self.unreachable(&reason);
                GenerateError::Unavailable(reason)
            }
            408 | 504 => GenerateError::Timeout(self.timeout),
            429 => GenerateError::Busy {
                queued: 0,
                retry_after: retry_after.unwrap_or(BUSY_RETRY),
            },
            400..=499 => match param {
                Some(field) => GenerateError::invalid(field, message),
                None => match split_field(&message) {
                    Some((field, reason)) => GenerateError::invalid(field, reason),
                    None => GenerateError::invalid("request", message),
                },
            },
            502 | 503 => GenerateError::Unavailable(format!("HTTP {status}: {message}")),
            _ => GenerateError::Backend(format!("HTTP {status}: {message}")),
        }
    }
}

impl Answer {
    /// Handles one complete SSE event's data, emptying `data`.
    fn event(
        &mut self,
        data: &mut String,
        sink: &mut dyn TokenSink,
    ) -> Result<Step, GenerateError> {
        let text = std::mem::take(data);
        let text = text.trim();
        if text.is_empty() {
            return Ok(Step::More);
        }
        if text == "[DONE]" {
            return Ok(Step::End);
        }
        let chunk: Value = serde_json::from_str(text).map_err(|e| {
            GenerateError::Backend(format!(
                "the remote server sent a chunk that is not JSON: {e}"
            ))
        })?;
        if let Some(error) = chunk.get("error").filter(|e| !e.is_null()) {
            let message = error["message"]
                .as_str()
                .map_or_else(|| error.to_string(), str::to_string);
            return Err(GenerateError::Backend(format!(
                "the remote server failed while generating: {message}"
            )));
        }
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            let count = |v: &Value| {
                v.as_u64()
                    .map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX))
            };
            self.usage = Usage {
                prompt_tokens: count(&usage["prompt_tokens"]),
                completion_tokens: count(&usage["completion_tokens"]),
                cached_tokens: count(&usage["prompt_tokens_details"]["cached_tokens"]),
            };
        }
        // Only one choice is ever asked for (no `n`).
        if let Some(choice) = chunk["choices"].as_array().and_then(|c| c.first()) {
            let piece = match self.kind {
                // `delta` in a stream, `message` in a whole answer.
                Endpoint::Chat if choice["delta"].is_object() => &choice["delta"]["content"],
                Endpoint::Chat => &choice["message"]["content"],
                Endpoint::Completion => &choice["text"],
            };
            if let Some(piece) = piece.as_str().filter(|p| !p.is_empty())
                && !sink.send(GenerationEvent::Text(piece.to_string()))
            {
                return Ok(Step::Cancelled);
            }
            if let Some(reason) = choice["finish_reason"].as_str() {
                self.finish = Some(match reason {
                    "length" => FinishReason::Length,
                    // "stop", and anything else a server may say ("eos", "content_filter").
                    _ => FinishReason::Stop,
                });
            }
        }
        Ok(Step::More)
    }
}

/// Maps a failure while reading a streamed answer: the server was reached, so it is not marked
/// unreachable.
fn read_error(e: ureq::Error, timeout: Duration) -> GenerateError {
    match e {
        ureq::Error::Timeout(_) => GenerateError::Timeout(timeout),
        other => GenerateError::Backend(format!("the answer's stream broke: {other}")),
    }
}

/// Reads (a bounded part of) an error answer's body.
fn read_error_body(reader: impl Read) -> String {
    let mut bytes = Vec::new();
    // A body that cannot be read leaves the message empty; the status still says enough.
    let _ = reader.take(ERROR_BODY_LIMIT).read_to_end(&mut bytes);
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The `param` and `message` of an error body in OpenAI's shape (`{"error":{"message",
/// "param"}}`), vLLM's older flat shape, or plain text.
fn remote_message(body: &str) -> (Option<String>, Option<String>) {
    let text = body.trim();
    let Ok(json) = serde_json::from_str::<Value>(text) else {
        let message = (!text.is_empty()).then(|| text.chars().take(500).collect());
        return (None, message);
    };
    let error = match json.get("error") {
        Some(e) if e.is_object() => e,
        Some(Value::String(s)) => return (None, Some(s.clone())),
        _ => &json,
    };
    let param = error["param"]
        .as_str()
        .filter(|p| !p.is_empty())
        .map(str::to_string);
    let message = error["message"].as_str().map(str::to_string);
    (param, message)
}

/// Splits "temperature: must be …" into the field and the reason, the way Vitrine's own API
/// writes its messages, so that a field survives a hop through another Vitrine.
fn split_field(message: &str) -> Option<(&str, &str)> {
    let (field, reason) = message.split_once(": ")?;
    let mut chars = field.chars();
    let starts_well = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || "_.[]".contains(c));
    (starts_well && rest_ok && !reason.is_empty()).then_some((field, reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Collect(Vec<GenerationEvent>, usize);

    impl TokenSink for Collect {
        fn send(&mut self, event: GenerationEvent) -> bool {
            self.0.push(event);
            self.0.len() < self.1
        }
    }

    fn answer(kind: Endpoint) -> Answer {
        Answer {
            kind,
            finish: None,
            usage: Usage::default(),
        }
    }

    #[test]
    fn chat_chunks_become_text_and_usage() {
        let mut a = answer(Endpoint::Chat);
        let mut sink = Collect(Vec::new(), usize::MAX);
        let events = [
            r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"Hé"},"finish_reason":null}],"usage":null}"#,
            r#"{"choices":[{"index":0,"delta":{},"finish_reason":"length"}]}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":1,"total_tokens":8,"prompt_tokens_details":{"cached_tokens":2}}}"#,
        ];
        for e in events {
            assert!(matches!(
                a.event(&mut e.to_string(), &mut sink),
                Ok(Step::More)
            ));
        }
        assert!(matches!(
            a.event(&mut "[DONE]".to_string(), &mut sink),
            Ok(Step::End)
        ));
        assert_eq!(sink.0, [GenerationEvent::Text("Hé".into())]);
        assert_eq!(a.finish, Some(FinishReason::Length));
        assert_eq!(
            a.usage,
            Usage {
                prompt_tokens: 7,
                completion_tokens: 1,
                cached_tokens: 2
            }
        );
    }

    #[test]
    fn a_whole_answer_is_one_event() {
        let mut a = answer(Endpoint::Chat);
        let mut sink = Collect(Vec::new(), usize::MAX);
        let whole = r#"{"object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"All of it"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":3}}"#;
        assert!(matches!(
            a.event(&mut whole.to_string(), &mut sink),
            Ok(Step::More)
        ));
        assert_eq!(sink.0, [GenerationEvent::Text("All of it".into())]);
        assert_eq!(a.finish, Some(FinishReason::Stop));
        assert_eq!(a.usage.completion_tokens, 3);
    }

    #[test]
    fn completion_chunks_and_cancellation() {
        let mut a = answer(Endpoint::Completion);
        let mut sink = Collect(Vec::new(), 1);
        let chunk = r#"{"choices":[{"index":0,"text":"once","finish_reason":null}]}"#;
        assert!(matches!(
            a.event(&mut chunk.to_string(), &mut sink),
            Ok(Step::Cancelled)
        ));
        let error = r#"{"error":{"code":"internal","message":"boom"}}"#;
        match a.event(&mut error.to_string(), &mut sink) {
            Err(GenerateError::Backend(m)) => assert!(m.contains("boom"), "{m}"),
            _ => panic!("an error chunk fails the generation"),
        }
    }

    #[test]
    fn error_bodies_name_their_field() {
        assert_eq!(
            remote_message(r#"{"error":{"message":"bad","param":"top_p","code":null}}"#),
            (Some("top_p".into()), Some("bad".into()))
        );
        assert_eq!(
            remote_message(r#"{"object":"error","message":"flat","param":null}"#),
            (None, Some("flat".into()))
        );
        assert_eq!(remote_message("oops"), (None, Some("oops".into())));
        assert_eq!(remote_message(""), (None, None));
        assert_eq!(
            split_field("messages[1].role: unknown role"),
            Some(("messages[1].role", "unknown role"))
        );
        assert_eq!(split_field("This model's maximum context: 8192"), None);
    }

    #[test]
    fn config_debug_hides_the_key() {
        let mut config = RemoteConfig::new("http://localhost:8000");
        config.api_key = Some("sk-secret".into());
        let debug = format!("{config:?}");
        assert!(!debug.contains("sk-secret"), "{debug}");
        assert!(debug.contains("<redacted>"), "{debug}");
    }

    #[test]
    fn bad_settings_are_refused_before_any_connection() {
        let bad_url = RemoteConfig::new("localhost:8000");
        assert!(matches!(
            RemoteGenerator::connect(&bad_url),
            Err(Error::Config(_))
        ));
        let mut no_slots = RemoteConfig::new("http://localhost:8000");
        no_slots.max_in_flight = 0;
        assert!(matches!(
            RemoteGenerator::connect(&no_slots),
            Err(Error::Config(_))
        ));
    }

    #[test]
    fn floats_are_sent_as_written() {
        let shared = Shared {
            root: "http://x".into(),
            api_key: None,
            model: "m".into(),
            max_in_flight: 1,
            timeout: DEFAULT_TIMEOUT,
            context_length: DEFAULT_CONTEXT,
            agent: ureq::Agent::new_with_defaults(),
            in_flight: AtomicUsize::new(0),
            failure: Mutex::new(None),
            announce: AtomicBool::new(true),
            probing: AtomicBool::new(false),
            last_probe: Mutex::new(None),
        };
        let mut request = GenerationRequest::text("hi");
        request.sampling.temperature = 0.8;
        request.format = ResponseFormat::JsonObject;
        let body: Value = serde_json::from_str(&shared.body(&request).unwrap()).unwrap();
        assert_eq!(body["temperature"].to_string(), "0.8");
        assert_eq!(body["prompt"], "hi");
        assert_eq!(body["response_format"]["type"], "json_object");
        assert_eq!(body["stream_options"]["include_usage"], true);
        assert!(body.get("messages").is_none() && body.get("stop").is_none());
        assert!(matches!(
            shared.body(&GenerationRequest::chat(Vec::new())),
            Err(GenerateError::Invalid { field, .. }) if field == "messages"
        ));
    }
}
