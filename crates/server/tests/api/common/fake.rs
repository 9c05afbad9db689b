//! A deterministic `TextGenerator` for tests. It echoes the last user message (or the raw
//! prompt) one word per token, honours `max_tokens`, stop strings and the JSON formats, and can
//! be switched to be busy, failed, slow, timing out or failing midway. It records the last
//! request it admitted and how many times a sink cancelled.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use vitrine_core::{
    ChatRole, FinishReason, GenerateError, GenerationEvent, GenerationRequest, GeneratorHealth,
    GeneratorInfo, Prompt, ResponseFormat, TextGenerator, TokenSink, Usage,
};

/// The fake's model id.
pub const FAKE_MODEL: &str = "fake-echo";
/// The fake's context length, in words.
pub const FAKE_CONTEXT: u32 = 64;
/// Prompt tokens a chat template adds per message.
const TEMPLATE_TOKENS: u32 = 2;
/// Tokens a slow generation keeps producing after the echo, so that it is still running when a
/// client goes away.
const SLOW_TAIL: usize = 1000;

/// How the fake behaves.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    /// Echo at once.
    Normal,
    /// Refuse every request with `Busy`.
    Busy(Duration),
    /// Report `Failed` health and refuse with `Unavailable`.
    Failed(String),
    /// Admit, then fail with `Timeout` before any text.
    Timeout,
    /// Send two pieces, then fail with `Backend`.
    FailMidway,
    /// Wait this long before each piece, and keep going after the echo ("more more more…").
    Slow(Duration),
    /// Answer every request with this text instead of the echo.
    Reply(String),
}

#[derive(Debug)]
struct State {
    mode: Mutex<Mode>,
    last: Mutex<Option<GenerationRequest>>,
    cancels: AtomicUsize,
    active: AtomicUsize,
    context: std::sync::atomic::AtomicU32,
}

/// The fake generator; clones share their state.
#[derive(Debug, Clone)]
pub struct FakeGenerator {
    state: Arc<State>,
}

impl Default for FakeGenerator {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeGenerator {
    pub fn new() -> Self {
        Self {
            state: Arc::new(State {
                mode: Mutex::new(Mode::Normal),
                last: Mutex::new(None),
                cancels: AtomicUsize::new(0),
                active: AtomicUsize::new(0),
                context: std::sync::atomic::AtomicU32::new(FAKE_CONTEXT),
            }),
        }
    }

    /// A fake whose context holds `context` tokens (words), for long prompts.
    pub fn with_context(context: u32) -> Self {
        let fake = Self::new();
        fake.state.context.store(context, Ordering::SeqCst);
        fake
    }

    fn context(&self) -> u32 {
        self.state.context.load(Ordering::SeqCst)
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.state.mode.lock().unwrap() = mode;
    }

    fn mode(&self) -> Mode {
        self.state.mode.lock().unwrap().clone()
    }

    /// The last request admitted.
    pub fn last_request(&self) -> Option<GenerationRequest> {
        self.state.last.lock().unwrap().clone()
    }

    /// How many generations a sink cancelled.
    pub fn cancels(&self) -> usize {
        self.state.cancels.load(Ordering::SeqCst)
    }

    /// Waits until at least `n` generations were cancelled; false if that took over 30 s (a
    /// safety net against a hung test, not a timing assertion).
    pub fn wait_for_cancels(&self, n: usize) -> bool {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.cancels() >= n {
                return true;
            }
            thread::sleep(Duration::from_millis(5));
        }
        false
    }
}

/// The words of `text`, as the fake's tokens.
fn words(text: &str) -> u32 {
    text.split_whitespace().count() as u32
}

/// The pieces the fake answers `request` with, one per token.
fn pieces(request: &GenerationRequest, mode: &Mode) -> Vec<String> {
    let source = match (&request.prompt, mode) {
        (_, Mode::Reply(text)) => text.clone(),
        (Prompt::Chat(messages), _) => messages
            .iter()
            .rev()
            .find(|m| m.role == ChatRole::User)
            .map(|m| m.content.clone())
            .unwrap_or_default(),
        (Prompt::Text(text), _) => text.clone(),
    };
    let json = match &request.format {
        ResponseFormat::Text => None,
        ResponseFormat::JsonObject => Some(json!({ "text": source })),
        ResponseFormat::JsonSchema { schema, .. } => Some(fill(schema, &source)),
    };
    let mut pieces: Vec<String> = match json {
        // JSON comes out in pieces of up to 4 characters.
        Some(value) => value
            .to_string()
            .chars()
            .collect::<Vec<_>>()
            .chunks(4)
            .map(|c| c.iter().collect())
            .collect(),
        None => source
            .split_whitespace()
            .enumerate()
            .map(|(i, w)| {
                if i == 0 {
                    w.to_string()
                } else {
                    format!(" {w}")
                }
            })
            .collect(),
    };
    if matches!(mode, Mode::Slow(_)) {
        pieces.extend(std::iter::repeat_n(" more".to_string(), SLOW_TAIL));
    }
    pieces
}

/// A value valid against the simple schemas tests use.
fn fill(schema: &Value, text: &str) -> Value {
    match schema["type"].as_str() {
        Some("object") => Value::Object(
            schema["properties"]
                .as_object()
                .map(|props| {
                    props
                        .iter()
                        .map(|(k, v)| (k.clone(), fill(v, text)))
                        .collect()
                })
                .unwrap_or_default(),
        ),
        Some("string") => Value::String(text.to_string()),
        Some("integer") | Some("number") => json!(words(text)),
        Some("boolean") => Value::Bool(true),
        Some("array") => json!([]),
        _ => Value::Null,
    }
}

impl TextGenerator for FakeGenerator {
    fn info(&self) -> GeneratorInfo {
        GeneratorInfo {
            model: FAKE_MODEL.into(),
            backend: "fake".into(),
            context_length: self.context(),
        }
    }

    fn health(&self) -> GeneratorHealth {
        match self.mode() {
            Mode::Failed(reason) => GeneratorHealth::Failed { reason },
            _ => GeneratorHealth::Ok {
                active: self.state.active.load(Ordering::SeqCst),
                queued: 0,
            },
        }
    }

    fn submit(
        &self,
        request: GenerationRequest,
        mut sink: Box<dyn TokenSink>,
    ) -> Result<(), GenerateError> {
        let mode = self.mode();
        match &mode {
            Mode::Failed(reason) => return Err(GenerateError::Unavailable(reason.clone())),
            Mode::Busy(retry_after) => {
                return Err(GenerateError::Busy {
                    queued: 3,
                    retry_after: *retry_after,
                });
            }
            _ => {}
        }
        if request.max_tokens == Some(0) {
            return Err(GenerateError::invalid("max_tokens", "must be at least 1"));
        }
        let prompt_tokens = self.count_tokens(&request.prompt)?;
        let context = self.context();
        if prompt_tokens > context {
            return Err(GenerateError::invalid(
                "prompt",
                format!("{prompt_tokens} tokens do not fit the context of {context}"),
            ));
        }
        *self.state.last.lock().unwrap() = Some(request.clone());
        let pieces = pieces(&request, &mode);
        let state = Arc::clone(&self.state);
        state.active.fetch_add(1, Ordering::SeqCst);
        thread::spawn(move || {
            let limit = request.max_tokens.map_or(usize::MAX, |n| n as usize);
            let mut send = |event| {
                let ok = sink.send(event);
                if !ok {
                    state.cancels.fetch_add(1, Ordering::SeqCst);
                }
                ok
            };
            let outcome = run(&request, &mode, &pieces, limit, &mut send);
            if let Some(end) = outcome {
                let end = match end {
                    GenerationEvent::Done {
                        finish_reason,
                        usage,
                    } => GenerationEvent::Done {
                        finish_reason,
                        usage: Usage {
                            prompt_tokens,
                            ..usage
                        },
                    },
                    other => other,
                };
                send(end);
            }
            state.active.fetch_sub(1, Ordering::SeqCst);
        });
        Ok(())
    }

    fn count_tokens(&self, prompt: &Prompt) -> Result<u32, GenerateError> {
        Ok(match prompt {
            Prompt::Chat(messages) => messages
                .iter()
                .map(|m| words(&m.content) + TEMPLATE_TOKENS)
                .sum(),
            Prompt::Text(text) => words(text),
        })
    }
}

/// Sends the pieces; the final event to send, or `None` when the sink cancelled.
fn run(
    request: &GenerationRequest,
    mode: &Mode,
    pieces: &[String],
    limit: usize,
    send: &mut dyn FnMut(GenerationEvent) -> bool,
) -> Option<GenerationEvent> {
    if *mode == Mode::Timeout {
        return Some(GenerationEvent::Failed(GenerateError::Timeout(
            Duration::from_secs(1),
        )));
    }
    let mut emitted = String::new();
    let mut tokens = 0u32;
    let done = |finish_reason, tokens| {
        Some(GenerationEvent::Done {
            finish_reason,
            usage: Usage {
                prompt_tokens: 0,
                completion_tokens: tokens,
                cached_tokens: 0,
            },
        })
    };
    for (i, piece) in pieces.iter().enumerate() {
        if i == limit {
            return done(FinishReason::Length, tokens);
        }
        if *mode == Mode::FailMidway && i == 2 {
            return Some(GenerationEvent::Failed(GenerateError::Backend(
                "the fake failed midway".into(),
            )));
        }
        if let Mode::Slow(delay) = mode {
            thread::sleep(*delay);
        }
        tokens += 1;
        let candidate = format!("{emitted}{piece}");
        let stop_at = request
            .stop
            .iter()
            .filter_map(|s| candidate.find(s.as_str()))
            .min();
        if let Some(at) = stop_at {
            if at > emitted.len()
                && !send(GenerationEvent::Text(candidate[emitted.len()..at].into()))
            {
                return None;
            }
            return done(FinishReason::Stop, tokens);
        }
        if !send(GenerationEvent::Text(piece.clone())) {
            return None;
        }
        emitted = candidate;
    }
    done(FinishReason::Stop, tokens)
}
