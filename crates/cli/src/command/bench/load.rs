//! The load generator of `vitrine bench llm`: a blocking OpenAI-API client that streams chat
//! completions (SSE) and times each token's arrival, and a driver that runs many such streams
//! at once on threads. Both servers are measured by this same code, with the same prompts.
//! Knows nothing of how the servers are started (see `child.rs`).

use std::io::{BufRead, BufReader, Read};
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

/// Longest one request may take, queueing included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(600);

/// A client of one server's OpenAI-compatible API.
#[derive(Debug, Clone)]
pub(super) struct Client {
    agent: ureq::Agent,
    base_url: String,
    api_key: Option<String>,
    /// The `model` sent with every request: the first one the server lists.
    pub(super) model: String,
}

/// One chat completion to stream.
#[derive(Debug, Clone)]
pub(super) struct Chat {
    /// The system message, if any.
    pub(super) system: Option<String>,
    /// The user message.
    pub(super) user: String,
    /// `max_tokens`.
    pub(super) max_tokens: u32,
    /// `seed`.
    pub(super) seed: u64,
}

/// What one streamed completion took.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Timing {
    /// From sending the request to the first chunk carrying text (or a finish reason).
    pub(super) ttft: Duration,
    /// From the first chunk carrying text to the last one.
    pub(super) first_to_last: Duration,
    /// From sending the request to the end of the stream.
    pub(super) total: Duration,
    /// `usage.prompt_tokens`.
    pub(super) prompt_tokens: u64,
    /// `usage.completion_tokens`.
    pub(super) completion_tokens: u64,
    /// Whether `finish_reason` was `length` (the whole `max_tokens` was generated).
    pub(super) hit_length: bool,
}

impl Timing {
    /// Decode speed of this stream: tokens after the first over the time they took.
    pub(super) fn decode_tok_s(&self) -> Option<f64> {
        let secs = self.first_to_last.as_secs_f64();
        (self.completion_tokens > 1 && secs > 0.0)
            .then(|| (self.completion_tokens - 1) as f64 / secs)
    }

    /// Prefill speed: prompt tokens over the time to the first token.
    pub(super) fn prefill_tok_s(&self) -> Option<f64> {
        let secs = self.ttft.as_secs_f64();
        (secs > 0.0).then(|| self.prompt_tokens as f64 / secs)
    }
}

impl Client {
    /// Connects to `base_url` and picks the first model `GET /v1/models` lists.
    pub(super) fn connect(base_url: &str, api_key: Option<String>) -> anyhow::Result<Self> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(REQUEST_TIMEOUT))
            .max_idle_connections_per_host(64)
            .max_idle_connections(64)
            .build()
            .into();
        let mut client = Self {
            agent,
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key,
            model: String::new(),
        };
        let models = client.get("/v1/models")?;
        client.model = models["data"][0]["id"]
            .as_str()
            .context("GET /v1/models listed no model")?
            .to_string();
        Ok(client)
    }

    fn auth(&self) -> Option<String> {
        self.api_key.as_ref().map(|k| format!("Bearer {k}"))
    }

    fn get(&self, path: &str) -> anyhow::Result<Value> {
        let mut req = self.agent.get(format!("{}{path}", self.base_url));
        if let Some(auth) = self.auth() {
            req = req.header("Authorization", auth);
        }
        let mut resp = req.call().with_context(|| format!("GET {path}"))?;
        let body = resp.body_mut().read_to_string()?;
        if resp.status() != 200 {
            bail!("GET {path}: {} {body}", resp.status());
        }
        serde_json::from_str(&body).with_context(|| format!("GET {path}: not JSON"))
    }

    /// Streams one chat completion and times it. `ignore_eos` (a llama.cpp extension that
    /// servers without it ignore) asks for exactly `max_tokens` tokens.
    pub(super) fn stream_chat(&self, chat: &Chat) -> anyhow::Result<Timing> {
        let mut messages = Vec::new();
        if let Some(system) = &chat.system {
            messages.push(json!({"role": "system", "content": system}));
        }
        messages.push(json!({"role": "user", "content": chat.user}));
        let body = json!({
            "model": self.model,
            "messages": messages,
            "max_tokens": chat.max_tokens,
            "temperature": 0.7,
            // Vitrine's default repetition penalty is 1.1, llama-server's is off: the same
            // settings for both, so both do the same work per token.
            "repeat_penalty": 1.0,
            "seed": chat.seed,
            "stream": true,
            "stream_options": {"include_usage": true},
            "ignore_eos": true,
            // Both servers reuse cached prompt prefixes; Vitrine only does for seeded requests
            // when asked, and llama-server's default is the same switch set to true.
            "cache_prompt": true,
        });
        let mut req = self
            .agent
            .post(format!("{}/v1/chat/completions", self.base_url))
            .header("Content-Type", "application/json")
            .header("Accept", "text/event-stream");
        if let Some(auth) = self.auth() {
            req = req.header("Authorization", auth);
        }
        let started = Instant::now();
        let mut resp = req
            .send(body.to_string())
            .context("POST /v1/chat/completions")?;
        if resp.status() != 200 {
            let text = resp.body_mut().read_to_string().unwrap_or_default();
            bail!("POST /v1/chat/completions: {} {text}", resp.status());
        }
        read_stream(resp.body_mut().as_reader(), started)
    }
}

/// Reads an SSE stream of chat completion chunks to its `[DONE]`.
fn read_stream(reader: impl Read, started: Instant) -> anyhow::Result<Timing> {
    let mut timing = Timing::default();
    let mut first: Option<Instant> = None;
    let mut last = started;
    let mut usage = None;
    for line in BufReader::new(reader).lines() {
        let line = line.context("reading the event stream")?;
        let Some(data) = line.strip_prefix("data:") else {
            continue;
        };
        let data = data.trim();
        if data == "[DONE]" {
            break;
        }
        let chunk: Value = serde_json::from_str(data).context("an event that is not JSON")?;
        if let Some(error) = chunk.get("error") {
            bail!("the server reported an error mid-stream: {error}");
        }
        let choice = &chunk["choices"][0];
        let text = choice["delta"]["content"]
            .as_str()
            .is_some_and(|s| !s.is_empty());
        let reason = choice["finish_reason"].as_str();
        if text || reason.is_some() {
            // A generation whose first token ends it carries no text: its finish is its first
            // token.
            let now = Instant::now();
            first.get_or_insert(now);
            if text {
                last = now;
            }
        }
        if let Some(reason) = reason {
            timing.hit_length = reason == "length";
        }
        if chunk["usage"].is_object() {
            usage = Some(chunk["usage"].clone());
        }
    }
    timing.total = started.elapsed();
    let first = first.context("the stream carried neither text nor a finish reason")?;
    timing.ttft = first - started;
    timing.first_to_last = last.saturating_duration_since(first);
    let usage = usage.context("the stream ended without usage (stream_options.include_usage)")?;
    timing.prompt_tokens = usage["prompt_tokens"].as_u64().unwrap_or(0);
    timing.completion_tokens = usage["completion_tokens"].as_u64().unwrap_or(0);
    Ok(timing)
}

/// What one concurrency level measured.
#[derive(Debug)]
pub(super) struct Level {
    /// From releasing all threads to the last stream's end.
    pub(super) wall: Duration,
    /// Every finished request.
    pub(super) timings: Vec<Timing>,
    /// Failed requests, with the first error.
    pub(super) errors: usize,
    pub(super) first_error: Option<String>,
}

impl Level {
    /// Generated tokens per second of wall time, over all streams.
    pub(super) fn aggregate_tok_s(&self) -> f64 {
        let tokens: u64 = self.timings.iter().map(|t| t.completion_tokens).sum();
        tokens as f64 / self.wall.as_secs_f64().max(1e-9)
    }
}

/// Runs `streams` threads, each sending its share of `chats` one after another (a closed loop),
/// all released together.
pub(super) fn run_level(client: &Client, streams: usize, chats: &[Chat]) -> Level {
    let barrier = Barrier::new(streams + 1);
    let results = Mutex::new(Vec::new());
    let errors = Mutex::new(Vec::new());
    let started = std::thread::scope(|scope| {
        for s in 0..streams {
            let (barrier, results, errors) = (&barrier, &results, &errors);
            scope.spawn(move || {
                barrier.wait();
                for chat in chats.iter().skip(s).step_by(streams) {
                    match client.stream_chat(chat) {
                        Ok(t) => results.lock().unwrap_or_else(|e| e.into_inner()).push(t),
                        Err(e) => errors
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(format!("{e:#}")),
                    }
                }
            });
        }
        barrier.wait();
        Instant::now()
    });
    // The scope has joined every thread: this is the last stream's end.
    let wall = started.elapsed();
    let errors = errors.into_inner().unwrap_or_else(|e| e.into_inner());
    Level {
        wall,
        timings: results.into_inner().unwrap_or_else(|e| e.into_inner()),
        errors: errors.len(),
        first_error: errors.into_iter().next(),
    }
}

/// The `q`-quantile (0 to 1) of `values`, by the nearest-rank method.
pub(super) fn quantile(values: &[f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = (q * sorted.len() as f64).ceil().max(1.0) as usize;
    Some(sorted[rank.min(sorted.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stream as llama.cpp's server sends it: a role chunk, text chunks, a finish chunk, usage.
    #[test]
    fn reads_a_stream_with_usage() {
        let sse = concat!(
            "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":null}}]}\n\n",
            "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n",
            ": keep-alive\n\n",
            "data: {\"choices\":[{\"delta\":{\"content\":\"lo\"}}]}\n\n",
            "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"length\"}]}\n\n",
            "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":2}}\n\n",
            "data: [DONE]\n\n",
        );
        let t = read_stream(sse.as_bytes(), Instant::now()).unwrap();
        assert_eq!((t.prompt_tokens, t.completion_tokens), (12, 2));
        assert!(t.hit_length);
        assert!(t.ttft <= t.total);
    }

    #[test]
    fn a_stream_without_usage_is_an_error() {
        let sse = "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\ndata: [DONE]\n\n";
        let e = read_stream(sse.as_bytes(), Instant::now()).unwrap_err();
        assert!(e.to_string().contains("usage"), "{e}");
    }

    #[test]
    fn an_error_event_is_an_error() {
        let sse = "data: {\"error\":{\"code\":500,\"message\":\"boom\"}}\n\n";
        let e = read_stream(sse.as_bytes(), Instant::now()).unwrap_err();
        assert!(e.to_string().contains("boom"), "{e}");
    }

    #[test]
    fn nearest_rank_quantiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.5), Some(50.0));
        assert_eq!(quantile(&v, 0.99), Some(99.0));
        assert_eq!(quantile(&[3.0, 1.0, 2.0], 0.5), Some(2.0));
        assert_eq!(quantile(&[7.0], 0.99), Some(7.0));
        assert_eq!(quantile(&[], 0.5), None);
    }
}
