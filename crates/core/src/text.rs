//! Text generation as the rest of Vitrine sees it: the `TextGenerator` trait, the request it takes
//! and the events it streams back. A local llama.cpp model and a remote OpenAI-compatible server
//! both sit behind it, so callers never know which one answers.
//!
//! Generation is push-based and synchronous: `submit` admits a request (or refuses it at once,
//! e.g. when the queue is full) and the generator's own thread then calls the request's
//! [`TokenSink`] with each piece of text. A sink that returns `false` cancels the generation:
//! that is how a client going away frees its slot. No async runtime is involved, so the model
//! crates stay synchronous and the server bridges to its streams with a channel.

use std::fmt;
use std::sync::mpsc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Who wrote a chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ChatRole {
    /// Instructions from the application.
    System,
    /// The person talking to the model.
    User,
    /// The model's earlier turns.
    Assistant,
}

impl ChatRole {
    /// The name chat templates use.
    pub fn as_str(self) -> &'static str {
        match self {
            ChatRole::System => "system",
            ChatRole::User => "user",
            ChatRole::Assistant => "assistant",
        }
    }

    /// Parses a role name. OpenAI's `developer` is its newer name for `system`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "system" | "developer" => Some(ChatRole::System),
            "user" => Some(ChatRole::User),
            "assistant" => Some(ChatRole::Assistant),
            _ => None,
        }
    }
}

/// One turn of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Who wrote it.
    pub role: ChatRole,
    /// What was written.
    pub content: String,
}

impl ChatMessage {
    /// A message from `role`.
    pub fn new(role: ChatRole, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
        }
    }
}

/// What the model continues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prompt {
    /// A conversation, rendered with the model's own chat template.
    Chat(Vec<ChatMessage>),
    /// Raw text, continued as is (no template).
    Text(String),
}

/// How the next token is chosen. The defaults are llama.cpp's, except the repetition penalty:
/// 1.1 rather than 1 (off), because small models such as the bundled 135M one fall into loops
/// without it (our JSON tests caught "which is often a luxury item" repeated to the token limit).
#[derive(Debug, Clone, PartialEq)]
pub struct Sampling {
    /// Softmax temperature; 0 means greedy (always the most likely token).
    pub temperature: f32,
    /// Keep only the k most likely tokens; 0 disables.
    pub top_k: u32,
    /// Keep the smallest set of tokens whose probabilities sum to p; 1 disables.
    pub top_p: f32,
    /// Drop tokens less likely than `min_p` times the most likely one; 0 disables.
    pub min_p: f32,
    /// Divides the logits of recently seen tokens (1 disables).
    pub repeat_penalty: f32,
    /// Subtracted from a token's logit once per earlier occurrence (OpenAI semantics).
    pub frequency_penalty: f32,
    /// Subtracted from a token's logit if it occurred at all (OpenAI semantics).
    pub presence_penalty: f32,
    /// Seed for the random choice; the same seed and settings give the same text. `None` picks
    /// one at random.
    pub seed: Option<u64>,
    /// The text may not end before this many tokens (vLLM's `min_tokens`); 0 disables.
    pub min_tokens: u32,
}

impl Default for Sampling {
    fn default() -> Self {
        Self {
            temperature: 0.8,
            top_k: 40,
            top_p: 0.95,
            min_p: 0.05,
            repeat_penalty: 1.1,
            frequency_penalty: 0.0,
            presence_penalty: 0.0,
            seed: None,
            min_tokens: 0,
        }
    }
}

/// The shape of the answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum ResponseFormat {
    /// Free text.
    #[default]
    Text,
    /// Any JSON object.
    JsonObject,
    /// JSON valid against this JSON Schema; decoding is constrained, so the output always parses.
    JsonSchema {
        /// The schema's name (OpenAI's `json_schema.name`).
        name: String,
        /// The schema itself.
        schema: serde_json::Value,
    },
}

/// One generation request.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationRequest {
    /// What to continue.
    pub prompt: Prompt,
    /// How to choose tokens.
    pub sampling: Sampling,
    /// The most tokens to generate; `None` lets the generator choose (what fits the context, up
    /// to its own cap).
    pub max_tokens: Option<u32>,
    /// Generation stops before the first of these strings; it is not part of the output.
    pub stop: Vec<String>,
    /// The shape of the answer.
    pub format: ResponseFormat,
    /// Give up after this long (waiting in the queue included); `None` uses the generator's
    /// default.
    pub timeout: Option<Duration>,
    /// Whether the prompt may reuse KV cache computed for an earlier request (llama.cpp's
    /// `cache_prompt`). Reuse skips recomputing a shared prefix, but the reused part was computed
    /// in a batch of another size, so logits may differ in the last bits and a seeded text may
    /// change. `None`: reuse unless a seed is given, so seeded requests reproduce on an idle
    /// model.
    pub cache_prompt: Option<bool>,
    /// Words and numbers the text must not contain (grounded generation).
    pub steer: Steering,
    /// The beginning of the answer, written by the caller; the model continues it (an
    /// "assistant prefill": llama.cpp's and vLLM's `continue_final_message`). The generated
    /// text does not repeat it. Plain-text answers only.
    pub prefill: Option<String>,
}

/// What a text may not say, enforced while sampling by a generator that can (the local one),
/// and left to the caller's own check by one that cannot (an OpenAI-compatible server has no
/// such option).
///
/// Grounded copy uses it so the model cannot name a colour, material, brand or number the
/// product record does not state: a token that would complete such a word is never chosen, and
/// the next most likely one is taken instead.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Steering {
    /// Words and phrases never to write, matched without regard to case at the start of a
    /// word and ended by the end of a word ("men" is not found in "women", nor "silk" in
    /// "silky").
    pub avoid: Vec<String>,
    /// If set, every number written must be one of these, digits as they would be written
    /// ("899", "3.2"); thousands separators are ignored.
    pub numbers: Option<Vec<String>>,
    /// If set, a word written right after a number (with spaces or nothing between, on the
    /// same line) must be one of these, lower case: "899 INR" and "2 pockets" may stand when
    /// the record says so, "1349 kg" and "159s" may not.
    pub after_numbers: Option<Vec<String>>,
    /// If set, no word n-gram may occur this often: the word that would complete its last
    /// allowed occurrence is never ended there (n-gram blocking against loops).
    pub repeats: Option<RepeatLimit>,
}

/// A limit on repeated word n-grams: no run of `n` words (letters and digits, case ignored)
/// occurs `times` times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RepeatLimit {
    /// Words per n-gram (at least 1).
    pub n: usize,
    /// The count never reached (at least 2).
    pub times: usize,
}

impl Steering {
    /// Whether it constrains anything.
    pub fn is_empty(&self) -> bool {
        self.avoid.is_empty()
            && self.numbers.is_none()
            && self.after_numbers.is_none()
            && self.repeats.is_none()
    }
}

impl GenerationRequest {
    /// A chat request with default settings.
    pub fn chat(messages: Vec<ChatMessage>) -> Self {
        Self::new(Prompt::Chat(messages))
    }

    /// A raw-text completion request with default settings.
    pub fn text(prompt: impl Into<String>) -> Self {
        Self::new(Prompt::Text(prompt.into()))
    }

    fn new(prompt: Prompt) -> Self {
        Self {
            prompt,
            sampling: Sampling::default(),
            max_tokens: None,
            stop: Vec::new(),
            format: ResponseFormat::Text,
            timeout: None,
            cache_prompt: None,
            steer: Steering::default(),
            prefill: None,
        }
    }
}

/// Why a generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// The model ended its answer, or a stop string was reached.
    Stop,
    /// `max_tokens` (or the context) ran out.
    Length,
}

impl FinishReason {
    /// OpenAI's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
        }
    }
}

/// Token counts of one generation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Usage {
    /// Tokens in the prompt as the model saw it (template included).
    pub prompt_tokens: u32,
    /// Tokens generated.
    pub completion_tokens: u32,
    /// Prompt tokens whose KV cache was reused from an earlier request (not computed again).
    #[serde(default)]
    pub cached_tokens: u32,
}

/// What a generation streams to its sink.
#[derive(Debug, Clone, PartialEq)]
pub enum GenerationEvent {
    /// The next piece of text (never empty; never splits a UTF-8 character).
    Text(String),
    /// The end: nothing follows.
    Done {
        /// Why it ended.
        finish_reason: FinishReason,
        /// Token counts.
        usage: Usage,
    },
    /// The generation failed after it was admitted; nothing follows.
    Failed(GenerateError),
}

/// Receives a generation's events, on the generator's thread. Returning `false` cancels the
/// generation (the client went away); no further events arrive after that.
pub trait TokenSink: Send {
    /// Takes one event; `false` means "stop".
    fn send(&mut self, event: GenerationEvent) -> bool;
}

impl<F> TokenSink for F
where
    F: FnMut(GenerationEvent) -> bool + Send,
{
    fn send(&mut self, event: GenerationEvent) -> bool {
        self(event)
    }
}

impl TokenSink for mpsc::Sender<GenerationEvent> {
    fn send(&mut self, event: GenerationEvent) -> bool {
        mpsc::Sender::send(self, event).is_ok()
    }
}

/// Why a generation could not be done.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GenerateError {
    /// The request is malformed or cannot fit (empty prompt, prompt longer than the context,
    /// invalid schema, out-of-range setting); `field` names the culprit.
    #[error("{field}: {reason}")]
    Invalid {
        /// The request field at fault.
        field: String,
        /// Why.
        reason: String,
    },
    /// Too many requests are waiting; try again after the given time.
    #[error("the generator is busy ({queued} requests waiting); retry in {retry_after:?}")]
    Busy {
        /// Requests already queued.
        queued: usize,
        /// A fair wait before retrying.
        retry_after: Duration,
    },
    /// The request ran out of time (queue wait included).
    #[error("generation timed out after {0:?}")]
    Timeout(Duration),
    /// The generator cannot serve: its worker failed, or the remote server is unreachable.
    #[error("text generation is unavailable: {0}")]
    Unavailable(String),
    /// The backend failed while generating (a decode error, a remote server's error).
    #[error("text generation failed: {0}")]
    Backend(String),
}

impl GenerateError {
    /// An invalid-request error on `field`.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// What a generator serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GeneratorInfo {
    /// The model id clients name (OpenAI's `model`).
    pub model: String,
    /// Where it runs: `local` (llama.cpp in this process) or `remote` (an OpenAI-compatible URL).
    pub backend: String,
    /// The most tokens one request may use (prompt plus output).
    pub context_length: u32,
}

/// Whether a generator can serve right now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum GeneratorHealth {
    /// Serving.
    Ok {
        /// Requests being generated.
        active: usize,
        /// Requests waiting for a slot.
        queued: usize,
    },
    /// Not serving; every request gets `GenerateError::Unavailable`.
    Failed {
        /// What happened, for the operator.
        reason: String,
    },
}

/// A language model that turns prompts into text. Implementations are cheap to share
/// (`Arc<dyn TextGenerator>`) and safe to call from many threads at once.
pub trait TextGenerator: Send + Sync + fmt::Debug {
    /// What this generator serves.
    fn info(&self) -> GeneratorInfo;

    /// Whether it can serve right now.
    fn health(&self) -> GeneratorHealth;

    /// Admits `request`: validates it (prompt length, schema, settings) and queues it, or
    /// refuses at once. Once admitted, events go to `sink` from another thread, ending with
    /// exactly one `Done` or `Failed` unless the sink cancels first.
    fn submit(
        &self,
        request: GenerationRequest,
        sink: Box<dyn TokenSink>,
    ) -> Result<(), GenerateError>;

    /// Counts the tokens `prompt` takes, template included.
    fn count_tokens(&self, prompt: &Prompt) -> Result<u32, GenerateError>;
}

/// A finished generation.
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    /// The whole text.
    pub text: String,
    /// Why it ended.
    pub finish_reason: FinishReason,
    /// Token counts.
    pub usage: Usage,
}

/// Runs `request` to the end on `generator`, blocking the calling thread.
pub fn generate(
    generator: &dyn TextGenerator,
    request: GenerationRequest,
) -> Result<Generation, GenerateError> {
    let (tx, rx) = mpsc::channel();
    generator.submit(request, Box::new(tx))?;
    let mut text = String::new();
    for event in rx {
        match event {
            GenerationEvent::Text(piece) => text.push_str(&piece),
            GenerationEvent::Done {
                finish_reason,
                usage,
            } => {
                return Ok(Generation {
                    text,
                    finish_reason,
                    usage,
                });
            }
            GenerationEvent::Failed(e) => return Err(e),
        }
    }
    Err(GenerateError::Backend(
        "the generator dropped the request without an answer".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_openai_names() {
        assert_eq!(ChatRole::parse("developer"), Some(ChatRole::System));
        assert_eq!(ChatRole::parse("assistant"), Some(ChatRole::Assistant));
        assert_eq!(ChatRole::parse("tool"), None);
    }

    #[test]
    fn a_closed_channel_cancels() {
        let (tx, rx) = mpsc::channel();
        let mut sink: Box<dyn TokenSink> = Box::new(tx);
        assert!(sink.send(GenerationEvent::Text("a".into())));
        drop(rx);
        assert!(!sink.send(GenerationEvent::Text("b".into())));
    }
}
