//! The OpenAI-compatible API: `POST /v1/chat/completions`, `POST /v1/completions` and
//! `GET /v1/models`, in OpenAI's JSON shapes and streamed as SSE on request, so that any OpenAI
//! client library can use Vitrine's language model. This module translates and validates the
//! protocol; generation is the engine's `TextGenerator`, reached through a channel whose closing
//! (a client going away) cancels the generation.

use std::collections::VecDeque;
use std::sync::{Arc, LazyLock};
use std::time::Instant;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::sync::mpsc;
use utoipa::ToSchema;
use vitrine_core::{
    ChatMessage, ChatRole, FinishReason, GenerateError, GenerationEvent, GenerationRequest,
    GeneratorInfo, Prompt, ResponseFormat, Sampling, TextGenerator, Usage,
};

use crate::extract::{Json, OpenAiJson};
use crate::{ApiError, AppState, ErrorBody};

/// The most stop strings a request may give (OpenAI's limit).
const MAX_STOP: usize = 4;

/// `created` of the model list: when this process first listed its model, in Unix seconds.
static STARTED: LazyLock<i64> = LazyLock::new(|| vitrine_core::now_millis() / 1000);

// ---- requests -----------------------------------------------------------------------------

/// A chat completion request, in OpenAI's shape. Fields not listed are ignored.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct ChatCompletionRequest {
    /// The model id, as `GET /v1/models` lists it.
    #[schema(value_type = String, example = "smollm2-135m")]
    model: Option<Value>,
    /// The conversation, oldest first.
    #[schema(value_type = Vec<ChatMessageParam>)]
    messages: Option<Value>,
    /// The last message is the beginning of the answer, from the assistant, and the model
    /// continues it (vLLM's and llama.cpp's extension); the answer does not repeat it.
    #[schema(value_type = Option<bool>)]
    continue_final_message: Option<Value>,
    /// Must be false (or absent) when `continue_final_message` is true; vLLM's extension.
    #[schema(value_type = Option<bool>)]
    add_generation_prompt: Option<Value>,
    #[serde(flatten)]
    options: Options,
}

/// One message of a chat completion request.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // Documentation only: messages are read from JSON values to name bad fields.
pub(crate) struct ChatMessageParam {
    /// `system`, `developer` (the same as `system`), `user` or `assistant`.
    #[schema(example = "user")]
    role: String,
    /// The text: a string, or an array of `{"type": "text", "text": "…"}` parts (joined with
    /// newlines).
    #[schema(value_type = Object)]
    content: String,
}

/// A text completion request (raw text continued without a chat template), in OpenAI's shape.
/// Fields not listed are ignored.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct CompletionRequest {
    /// The model id, as `GET /v1/models` lists it.
    #[schema(value_type = String, example = "smollm2-135m")]
    model: Option<Value>,
    /// The text to continue: a string, or an array holding exactly one string.
    #[schema(value_type = String)]
    prompt: Option<Value>,
    #[serde(flatten)]
    options: Options,
}

/// Settings both endpoints share. Read as JSON values and checked one by one, so that every
/// error names its field.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub(crate) struct Options {
    /// Sampling temperature, 0 to 2; 0 is greedy. Default 0.8.
    #[schema(value_type = Option<f32>, minimum = 0, maximum = 2)]
    temperature: Option<Value>,
    /// Nucleus sampling: keep the most likely tokens up to this probability mass, above 0 to 1.
    /// Default 0.95.
    #[schema(value_type = Option<f32>, maximum = 1)]
    top_p: Option<Value>,
    /// Keep only the k most likely tokens; 0 disables (llama.cpp extension). Default 40.
    #[schema(value_type = Option<u32>)]
    top_k: Option<Value>,
    /// The answer may not end before this many tokens (vLLM's extension).
    #[schema(value_type = Option<u32>)]
    min_tokens: Option<Value>,
    /// Drop tokens less likely than this times the most likely one, 0 to 1 (llama.cpp
    /// extension). Default 0.05.
    #[schema(value_type = Option<f32>, minimum = 0, maximum = 1)]
    min_p: Option<Value>,
    /// Divides the logits of recently seen tokens; 1 disables (llama.cpp extension). Default 1.1.
    #[schema(value_type = Option<f32>)]
    repeat_penalty: Option<Value>,
    /// Penalty per earlier occurrence of a token, -2 to 2.
    #[schema(value_type = Option<f32>, minimum = -2, maximum = 2)]
    frequency_penalty: Option<Value>,
    /// Penalty for a token having occurred at all, -2 to 2.
    #[schema(value_type = Option<f32>, minimum = -2, maximum = 2)]
    presence_penalty: Option<Value>,
    /// Seed for sampling: the same seed and settings give the same text.
    #[schema(value_type = Option<u64>)]
    seed: Option<Value>,
    /// The most tokens to generate, 1 to the model's context length.
    #[schema(value_type = Option<u32>, minimum = 1)]
    max_tokens: Option<Value>,
    /// OpenAI's newer name for `max_tokens`; wins when both are given.
    #[schema(value_type = Option<u32>, minimum = 1)]
    max_completion_tokens: Option<Value>,
    /// Stop before this string, or before the first of up to 4 strings.
    #[schema(value_type = Option<Object>)]
    stop: Option<Value>,
    /// Number of answers; only 1 is supported.
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 1)]
    n: Option<Value>,
    /// `{"type": "text"}`, `{"type": "json_object"}`, or `{"type": "json_schema",
    /// "json_schema": {"name", "schema", "strict"}}`; JSON output is constrained, so it always
    /// parses.
    #[schema(value_type = Option<Object>)]
    response_format: Option<Value>,
    /// Stream the answer as server-sent events, ending with `data: [DONE]`.
    #[schema(value_type = Option<bool>)]
    stream: Option<Value>,
    /// Reuse the KV cache of an earlier prompt with the same beginning (llama.cpp extension).
    /// Default: true unless `seed` is given, so seeded requests reproduce exactly.
    #[schema(value_type = Option<bool>)]
    cache_prompt: Option<Value>,
    /// `{"include_usage": true}` adds a last chunk with the token counts; streaming only.
    #[schema(value_type = Option<Object>)]
    stream_options: Option<Value>,
}

/// What `Options` mean once checked.
#[derive(Debug)]
struct Settings {
    sampling: Sampling,
    max_tokens: Option<u32>,
    stop: Vec<String>,
    format: ResponseFormat,
    stream: bool,
    include_usage: bool,
    cache_prompt: Option<bool>,
    /// The answer's beginning (`continue_final_message`).
    prefill: Option<String>,
}

fn invalid(field: &str, reason: impl std::fmt::Display) -> ApiError {
    ApiError::InvalidRequest(format!("{field}: {reason}"))
}

/// An optional number for which `ok` holds.
fn float(
    field: &str,
    value: Option<&Value>,
    ok: impl Fn(f64) -> bool,
    expected: &str,
) -> Result<Option<f32>, ApiError> {
    match value {
        None => Ok(None),
        Some(v) => match v.as_f64() {
            Some(x) if ok(x) => Ok(Some(x as f32)),
            _ => Err(invalid(field, format!("must be {expected}"))),
        },
    }
}

/// An optional whole number in `min..=max`.
fn whole(field: &str, value: Option<&Value>, min: u64, max: u64) -> Result<Option<u64>, ApiError> {
    match value {
        None => Ok(None),
        Some(v) => match v.as_u64() {
            Some(x) if (min..=max).contains(&x) => Ok(Some(x)),
            _ => Err(invalid(
                field,
                format!("must be a whole number from {min} to {max}"),
            )),
        },
    }
}

fn boolean(field: &str, value: Option<&Value>) -> Result<Option<bool>, ApiError> {
    match value {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(invalid(field, "must be true or false")),
    }
}

impl Options {
    fn settings(&self, info: &GeneratorInfo) -> Result<Settings, ApiError> {
        let defaults = Sampling::default();
        let seed = whole("seed", self.seed.as_ref(), 0, u64::MAX)?;
        let sampling = Sampling {
            temperature: float(
                "temperature",
                self.temperature.as_ref(),
                |x| (0.0..=2.0).contains(&x),
                "a number from 0 to 2",
            )?
            .unwrap_or(defaults.temperature),
            top_k: whole("top_k", self.top_k.as_ref(), 0, u64::from(u32::MAX))?
                .map_or(defaults.top_k, |k| k as u32),
            top_p: float(
                "top_p",
                self.top_p.as_ref(),
                |x| x > 0.0 && x <= 1.0,
                "a number above 0, at most 1",
            )?
            .unwrap_or(defaults.top_p),
            min_p: float(
                "min_p",
                self.min_p.as_ref(),
                |x| (0.0..=1.0).contains(&x),
                "a number from 0 to 1",
            )?
            .unwrap_or(defaults.min_p),
            repeat_penalty: float(
                "repeat_penalty",
                self.repeat_penalty.as_ref(),
                |x| x > 0.0 && x <= 10.0,
                "a number above 0, at most 10",
            )?
            .unwrap_or(defaults.repeat_penalty),
            frequency_penalty: float(
                "frequency_penalty",
                self.frequency_penalty.as_ref(),
                |x| (-2.0..=2.0).contains(&x),
                "a number from -2 to 2",
            )?
            .unwrap_or(defaults.frequency_penalty),
            presence_penalty: float(
                "presence_penalty",
                self.presence_penalty.as_ref(),
                |x| (-2.0..=2.0).contains(&x),
                "a number from -2 to 2",
            )?
            .unwrap_or(defaults.presence_penalty),
            seed,
            min_tokens: whole(
                "min_tokens",
                self.min_tokens.as_ref(),
                0,
                u64::from(info.context_length.max(1)),
            )?
            .map_or(0, |n| n as u32),
        };
        let context = u64::from(info.context_length.max(1));
        let max_tokens = match (&self.max_completion_tokens, &self.max_tokens) {
            (Some(v), _) => whole("max_completion_tokens", Some(v), 1, context)?,
            (None, v) => whole("max_tokens", v.as_ref(), 1, context)?,
        }
        .map(|n| n as u32);
        if whole("n", self.n.as_ref(), 1, u64::MAX)?.is_some_and(|n| n != 1) {
            return Err(invalid("n", "only 1 is supported"));
        }
        let stream = boolean("stream", self.stream.as_ref())?.unwrap_or(false);
        let include_usage = match &self.stream_options {
            None => false,
            Some(_) if !stream => {
                return Err(invalid(
                    "stream_options",
                    "is only allowed when stream is true",
                ));
            }
            Some(Value::Object(o)) => {
                boolean("stream_options.include_usage", o.get("include_usage"))?.unwrap_or(false)
            }
            Some(_) => return Err(invalid("stream_options", "must be an object")),
        };
        Ok(Settings {
            sampling,
            max_tokens,
            stop: stop(self.stop.as_ref())?,
            format: response_format(self.response_format.as_ref())?,
            stream,
            include_usage,
            cache_prompt: boolean("cache_prompt", self.cache_prompt.as_ref())?,
            prefill: None,
        })
    }
}

fn stop(value: Option<&Value>) -> Result<Vec<String>, ApiError> {
    let list = match value {
        None => return Ok(Vec::new()),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => {
            if items.len() > MAX_STOP {
                return Err(invalid(
                    "stop",
                    format!("has {} strings, over the limit of {MAX_STOP}", items.len()),
                ));
            }
            items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    item.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| invalid(&format!("stop[{i}]"), "must be a string"))
                })
                .collect::<Result<_, _>>()?
        }
        Some(_) => {
            return Err(invalid(
                "stop",
                "must be a string or an array of up to 4 strings",
            ));
        }
    };
    if list.iter().any(String::is_empty) {
        return Err(invalid("stop", "must not contain an empty string"));
    }
    Ok(list)
}

fn response_format(value: Option<&Value>) -> Result<ResponseFormat, ApiError> {
    let Some(value) = value else {
        return Ok(ResponseFormat::Text);
    };
    let Some(format) = value.as_object() else {
        return Err(invalid("response_format", "must be an object with a type"));
    };
    match format.get("type").and_then(Value::as_str) {
        Some("text") => Ok(ResponseFormat::Text),
        Some("json_object") => Ok(ResponseFormat::JsonObject),
        Some("json_schema") => json_schema(format.get("json_schema")),
        _ => Err(invalid(
            "response_format.type",
            "must be text, json_object or json_schema",
        )),
    }
}

fn json_schema(value: Option<&Value>) -> Result<ResponseFormat, ApiError> {
    let Some(spec) = value.and_then(Value::as_object) else {
        return Err(invalid(
            "response_format.json_schema",
            "must be an object with a name and a schema",
        ));
    };
    let name = match spec.get("name") {
        Some(Value::String(name))
            if !name.is_empty()
                && name.len() <= 64
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') =>
        {
            name.clone()
        }
        Some(_) => {
            return Err(invalid(
                "response_format.json_schema.name",
                "must be 1 to 64 letters, digits, '_' or '-'",
            ));
        }
        None => return Err(invalid("response_format.json_schema.name", "is required")),
    };
    let schema = match spec.get("schema") {
        Some(schema @ Value::Object(_)) => schema.clone(),
        Some(_) => {
            return Err(invalid(
                "response_format.json_schema.schema",
                "must be a JSON Schema object",
            ));
        }
        None => {
            return Err(invalid("response_format.json_schema.schema", "is required"));
        }
    };
    // Output is always constrained to the schema, so `strict: false` gets the stricter answer.
    boolean("response_format.json_schema.strict", spec.get("strict"))?;
    Ok(ResponseFormat::JsonSchema { name, schema })
}

fn check_model(value: Option<&Value>, info: &GeneratorInfo) -> Result<(), ApiError> {
    match value {
        None => Err(invalid("model", "is required")),
        Some(Value::String(model)) if *model == info.model => Ok(()),
        Some(Value::String(model)) => Err(ApiError::ModelNotFound(model.clone())),
        Some(_) => Err(invalid("model", "must be a string")),
    }
}

fn messages(value: Option<&Value>) -> Result<Vec<ChatMessage>, ApiError> {
    let list = match value {
        None => return Err(invalid("messages", "is required")),
        Some(Value::Array(list)) => list,
        Some(_) => return Err(invalid("messages", "must be an array of messages")),
    };
    if list.is_empty() {
        return Err(invalid("messages", "must not be empty"));
    }
    list.iter()
        .enumerate()
        .map(|(i, message)| {
            let Some(message) = message.as_object() else {
                return Err(invalid(
                    &format!("messages[{i}]"),
                    "must be an object with a role and content",
                ));
            };
            let role = match message.get("role") {
                Some(Value::String(name)) => ChatRole::parse(name).ok_or_else(|| {
                    invalid(
                        &format!("messages[{i}].role"),
                        format!("'{name}' is not one of system, developer, user, assistant"),
                    )
                })?,
                Some(_) => return Err(invalid(&format!("messages[{i}].role"), "must be a string")),
                None => return Err(invalid(&format!("messages[{i}].role"), "is required")),
            };
            Ok(ChatMessage::new(role, content(i, message)?))
        })
        .collect()
}

fn content(i: usize, message: &Map<String, Value>) -> Result<String, ApiError> {
    match message.get("content") {
        Some(Value::String(text)) => Ok(text.clone()),
        Some(Value::Array(parts)) => {
            let mut texts = Vec::with_capacity(parts.len());
            for (j, part) in parts.iter().enumerate() {
                if part.get("type").and_then(Value::as_str) != Some("text") {
                    return Err(invalid(
                        &format!("messages[{i}].content[{j}].type"),
                        "only text parts are supported",
                    ));
                }
                let Some(text) = part.get("text").and_then(Value::as_str) else {
                    return Err(invalid(
                        &format!("messages[{i}].content[{j}].text"),
                        "must be a string",
                    ));
                };
                texts.push(text);
            }
            Ok(texts.join("\n"))
        }
        None | Some(Value::Null) => Err(invalid(&format!("messages[{i}].content"), "is required")),
        Some(_) => Err(invalid(
            &format!("messages[{i}].content"),
            "must be a string or an array of text parts",
        )),
    }
}

fn prompt(value: Option<&Value>) -> Result<String, ApiError> {
    match value {
        Some(Value::String(text)) => Ok(text.clone()),
        Some(Value::Array(items)) if items.len() == 1 && items[0].is_string() => {
            Ok(items[0].as_str().unwrap_or_default().to_string())
        }
        None => Err(invalid("prompt", "is required")),
        Some(_) => Err(invalid(
            "prompt",
            "must be a string (or an array of exactly one string)",
        )),
    }
}

fn request(prompt: Prompt, settings: &Settings) -> GenerationRequest {
    GenerationRequest {
        prompt,
        sampling: settings.sampling.clone(),
        max_tokens: settings.max_tokens,
        stop: settings.stop.clone(),
        format: settings.format.clone(),
        timeout: None,
        cache_prompt: settings.cache_prompt,
        steer: Default::default(),
        prefill: settings.prefill.clone(),
    }
}

fn generator(state: &AppState) -> Result<Arc<dyn TextGenerator>, ApiError> {
    state.generator().ok_or(ApiError::NoModel)
}

// ---- responses ----------------------------------------------------------------------------

/// Token counts, in OpenAI's shape.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UsageBody {
    /// Tokens in the prompt, chat template included.
    prompt_tokens: u32,
    /// Tokens generated.
    completion_tokens: u32,
    /// The sum of both.
    total_tokens: u32,
    /// Where the prompt's tokens came from.
    prompt_tokens_details: PromptTokensDetails,
}

/// Details of the prompt's tokens.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PromptTokensDetails {
    /// Prompt tokens whose computation was reused from an earlier request.
    cached_tokens: u32,
}

impl From<Usage> for UsageBody {
    fn from(u: Usage) -> Self {
        Self {
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
            total_tokens: u.prompt_tokens.saturating_add(u.completion_tokens),
            prompt_tokens_details: PromptTokensDetails {
                cached_tokens: u.cached_tokens,
            },
        }
    }
}

/// A whole chat answer.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ChatCompletion {
    /// `chatcmpl-…`.
    id: String,
    /// Always `chat.completion`.
    #[schema(example = "chat.completion")]
    object: &'static str,
    /// Unix seconds.
    created: i64,
    /// The model that answered.
    model: String,
    /// The one answer.
    choices: Vec<ChatChoice>,
    /// Token counts.
    usage: UsageBody,
}

/// One chat answer.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ChatChoice {
    /// Always 0.
    index: u32,
    /// The assistant's message.
    message: AssistantMessage,
    /// Always null: log probabilities are not returned.
    #[schema(value_type = Option<Object>)]
    logprobs: Option<Value>,
    /// `stop` (the model ended, or a stop string was reached) or `length`.
    finish_reason: FinishReason,
}

/// The assistant's answer.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AssistantMessage {
    /// Always `assistant`.
    #[schema(example = "assistant")]
    role: &'static str,
    /// The text.
    content: String,
}

/// One server-sent event of a streamed chat answer. The first carries the role, the last one
/// with choices a `finish_reason`; with `stream_options.include_usage`, a final chunk with
/// empty `choices` carries `usage` (null in every other chunk). `data: [DONE]` ends the
/// stream; a failure after the stream started is sent as `data: {"error": {…}}` instead.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ChatCompletionChunk {
    /// `chatcmpl-…`, the same in every chunk.
    id: String,
    /// Always `chat.completion.chunk`.
    #[schema(example = "chat.completion.chunk")]
    object: &'static str,
    /// Unix seconds.
    created: i64,
    /// The model that answers.
    model: String,
    /// The new piece.
    choices: Vec<ChatChunkChoice>,
    /// Token counts, in the usage chunk only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<UsageBody>)]
    usage: Option<Option<UsageBody>>,
}

/// The new piece of a streamed chat answer.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ChatChunkChoice {
    /// Always 0.
    index: u32,
    /// What to append.
    delta: Delta,
    /// Always null.
    #[schema(value_type = Option<Object>)]
    logprobs: Option<Value>,
    /// Null until the last chunk.
    finish_reason: Option<FinishReason>,
}

/// What a chunk appends to the answer.
#[derive(Debug, Default, Serialize, ToSchema)]
pub(crate) struct Delta {
    /// `assistant`, in the first chunk only.
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    /// The next piece of text.
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<String>,
}

/// A whole text completion.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Completion {
    /// `cmpl-…`.
    id: String,
    /// Always `text_completion`.
    #[schema(example = "text_completion")]
    object: &'static str,
    /// Unix seconds.
    created: i64,
    /// The model that answered.
    model: String,
    /// The one continuation.
    choices: Vec<CompletionChoice>,
    /// Token counts; in a stream, only in the usage chunk.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<UsageBody>)]
    usage: Option<Option<UsageBody>>,
}

/// One continuation, or in a stream the next piece of it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CompletionChoice {
    /// Always 0.
    index: u32,
    /// The text.
    text: String,
    /// Always null.
    #[schema(value_type = Option<Object>)]
    logprobs: Option<Value>,
    /// `stop` or `length`; null in a stream until the last chunk.
    finish_reason: Option<FinishReason>,
}

/// The models served.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ModelList {
    /// Always `list`.
    #[schema(example = "list")]
    object: &'static str,
    /// The one model this server generates with; empty when it runs without one.
    data: Vec<ModelCard>,
}

/// A model.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ModelCard {
    /// The id requests name.
    id: String,
    /// Always `model`.
    #[schema(example = "model")]
    object: &'static str,
    /// Unix seconds when this server first listed it.
    created: i64,
    /// Always `vitrine`.
    owned_by: &'static str,
}

// ---- generation ---------------------------------------------------------------------------

/// A generation in progress: its events arrive on a channel from the generator's thread. Dropping
/// it closes the channel, which makes the sink return `false` and cancels the generation.
struct Generation {
    events: mpsc::UnboundedReceiver<GenerationEvent>,
    state: AppState,
    started: Instant,
    seen_text: bool,
}

impl Generation {
    fn start(
        state: &AppState,
        generator: &dyn TextGenerator,
        request: GenerationRequest,
    ) -> Result<Self, ApiError> {
        let (tx, events) = mpsc::unbounded_channel();
        let started = Instant::now();
        // `submit` only admits or refuses; it does not wait for the model.
        generator.submit(
            request,
            Box::new(move |event: GenerationEvent| tx.send(event).is_ok()),
        )?;
        Ok(Self {
            events,
            state: state.clone(),
            started,
            seen_text: false,
        })
    }

    async fn next(&mut self) -> GenerationEvent {
        let event = self.events.recv().await.unwrap_or_else(|| {
            GenerationEvent::Failed(GenerateError::Backend(
                "the generator dropped the request without an answer".into(),
            ))
        });
        match &event {
            GenerationEvent::Text(_) if !self.seen_text => {
                self.seen_text = true;
                self.state.metrics().first_token(self.started.elapsed());
            }
            GenerationEvent::Done { usage, .. } => {
                self.state.metrics().generated(usage.completion_tokens);
            }
            _ => {}
        }
        event
    }

    /// Waits for the whole answer.
    async fn finish(mut self) -> Result<(String, FinishReason, Usage), ApiError> {
        let mut text = String::new();
        loop {
            match self.next().await {
                GenerationEvent::Text(piece) => text.push_str(&piece),
                GenerationEvent::Done {
                    finish_reason,
                    usage,
                } => return Ok((text, finish_reason, usage)),
                GenerationEvent::Failed(e) => return Err(e.into()),
            }
        }
    }
}

/// Which endpoint a stream answers, and what every chunk of it repeats.
#[derive(Debug)]
struct Framing {
    chat: bool,
    id: String,
    created: i64,
    model: String,
    include_usage: bool,
}

impl Framing {
    fn new(chat: bool, model: String, include_usage: bool) -> Self {
        let prefix = if chat { "chatcmpl" } else { "cmpl" };
        Self {
            chat,
            id: format!("{prefix}-{:024x}", rand::random::<u128>() >> 32),
            created: vitrine_core::now_millis() / 1000,
            model,
            include_usage,
        }
    }

    /// `null` in every chunk but the usage chunk when usage was asked for; absent otherwise.
    fn no_usage(&self) -> Option<Option<UsageBody>> {
        self.include_usage.then_some(None)
    }

    fn chunk(
        &self,
        role: bool,
        text: Option<String>,
        finish_reason: Option<FinishReason>,
    ) -> Result<Event, axum::Error> {
        if self.chat {
            Event::default().json_data(ChatCompletionChunk {
                id: self.id.clone(),
                object: "chat.completion.chunk",
                created: self.created,
                model: self.model.clone(),
                choices: vec![ChatChunkChoice {
                    index: 0,
                    delta: Delta {
                        role: role.then_some("assistant"),
                        content: text,
                    },
                    logprobs: None,
                    finish_reason,
                }],
                usage: self.no_usage(),
            })
        } else {
            Event::default().json_data(Completion {
                id: self.id.clone(),
                object: "text_completion",
                created: self.created,
                model: self.model.clone(),
                choices: vec![CompletionChoice {
                    index: 0,
                    text: text.unwrap_or_default(),
                    logprobs: None,
                    finish_reason,
                }],
                usage: self.no_usage(),
            })
        }
    }

    fn usage_chunk(&self, usage: Usage) -> Result<Event, axum::Error> {
        if self.chat {
            Event::default().json_data(ChatCompletionChunk {
                id: self.id.clone(),
                object: "chat.completion.chunk",
                created: self.created,
                model: self.model.clone(),
                choices: Vec::new(),
                usage: Some(Some(usage.into())),
            })
        } else {
            Event::default().json_data(Completion {
                id: self.id.clone(),
                object: "text_completion",
                created: self.created,
                model: self.model.clone(),
                choices: Vec::new(),
                usage: Some(Some(usage.into())),
            })
        }
    }
}

/// Turns a generation's events into SSE events, several at a time when one event ends the
/// answer (finish chunk, usage chunk, `[DONE]`).
struct Streamer {
    generation: Generation,
    framing: Framing,
    pending: VecDeque<Result<Event, axum::Error>>,
    finished: bool,
}

impl Streamer {
    fn handle(&mut self, event: GenerationEvent) {
        match event {
            GenerationEvent::Text(piece) => {
                let chunk = self.framing.chunk(false, Some(piece), None);
                self.pending.push_back(chunk);
            }
            GenerationEvent::Done {
                finish_reason,
                usage,
            } => {
                let last = self.framing.chunk(false, None, Some(finish_reason));
                self.pending.push_back(last);
                if self.framing.include_usage {
                    self.pending.push_back(self.framing.usage_chunk(usage));
                }
                self.pending.push_back(Ok(Event::default().data("[DONE]")));
                self.finished = true;
            }
            GenerationEvent::Failed(e) => {
                let body = ApiError::from(e).body();
                self.pending.push_back(Event::default().json_data(body));
                self.finished = true;
            }
        }
    }
}

/// Answers with the whole text, or with a stream once the first event shows the generation
/// started (so that a refusal, a queue timeout or an early failure is still an HTTP status).
async fn respond(
    state: &AppState,
    generator: &dyn TextGenerator,
    prompt: Prompt,
    settings: Settings,
    chat: bool,
) -> Result<Response, ApiError> {
    let model = generator.info().model;
    let mut generation = Generation::start(state, generator, request(prompt, &settings))?;
    let framing = Framing::new(chat, model, settings.include_usage);
    if !settings.stream {
        let (text, finish_reason, usage) = generation.finish().await?;
        // Serialized from the structs, not through a `Value`, to keep OpenAI's field order.
        let response = if chat {
            Json(ChatCompletion {
                id: framing.id,
                object: "chat.completion",
                created: framing.created,
                model: framing.model,
                choices: vec![ChatChoice {
                    index: 0,
                    message: AssistantMessage {
                        role: "assistant",
                        content: text,
                    },
                    logprobs: None,
                    finish_reason,
                }],
                usage: usage.into(),
            })
            .into_response()
        } else {
            Json(Completion {
                id: framing.id,
                object: "text_completion",
                created: framing.created,
                model: framing.model,
                choices: vec![CompletionChoice {
                    index: 0,
                    text,
                    logprobs: None,
                    finish_reason: Some(finish_reason),
                }],
                usage: Some(Some(usage.into())),
            })
            .into_response()
        };
        return Ok(response);
    }
    let first = generation.next().await;
    if let GenerationEvent::Failed(e) = first {
        return Err(e.into());
    }
    let mut streamer = Streamer {
        generation,
        pending: VecDeque::new(),
        finished: false,
        framing,
    };
    if chat {
        let opening = streamer.framing.chunk(true, Some(String::new()), None);
        streamer.pending.push_back(opening);
    }
    streamer.handle(first);
    let events = stream::unfold(streamer, |mut s| async move {
        loop {
            if let Some(event) = s.pending.pop_front() {
                return Some((event, s));
            }
            if s.finished {
                return None;
            }
            let event = s.generation.next().await;
            s.handle(event);
        }
    });
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response())
}

// ---- handlers -----------------------------------------------------------------------------

/// Answers a conversation (OpenAI's chat completions), whole or streamed.
#[utoipa::path(
    post,
    path = "/v1/chat/completions",
    operation_id = "create_chat_completion",
    tag = "openai",
    request_body = ChatCompletionRequest,
    responses(
        (status = 200, description = "The answer; with `stream: true`, server-sent events of \
            chunks ending with `data: [DONE]`", content(
            (ChatCompletion = "application/json"),
            (ChatCompletionChunk = "text/event-stream"),
        )),
        (status = 400, description = "A field is invalid (the message names it), or the prompt \
            does not fit the model", body = ErrorBody),
        (status = 404, description = "The model is not the one served (`model_not_found`)",
            body = ErrorBody),
        (status = 429, description = "The model's queue is full", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))),
        (status = 503, description = "No language model is configured, or it cannot serve",
            body = ErrorBody),
        (status = 504, description = "The generation timed out", body = ErrorBody),
    )
)]
pub(crate) async fn chat_completions(
    State(state): State<AppState>,
    OpenAiJson(body): OpenAiJson<ChatCompletionRequest>,
) -> Result<Response, ApiError> {
    let generator = generator(&state)?;
    let info = generator.info();
    check_model(body.model.as_ref(), &info)?;
    let mut messages = messages(body.messages.as_ref())?;
    let mut settings = body.options.settings(&info)?;
    if boolean(
        "continue_final_message",
        body.continue_final_message.as_ref(),
    )? == Some(true)
    {
        if boolean("add_generation_prompt", body.add_generation_prompt.as_ref())? == Some(true) {
            return Err(invalid(
                "add_generation_prompt",
                "must be false when continue_final_message is true",
            ));
        }
        match messages.pop() {
            Some(last) if last.role == ChatRole::Assistant && !messages.is_empty() => {
                settings.prefill = Some(last.content);
            }
            _ => {
                return Err(invalid(
                    "messages",
                    "with continue_final_message, the last message must be the assistant's \
                     and follow at least one other",
                ));
            }
        }
        if settings.format != ResponseFormat::Text {
            return Err(invalid(
                "continue_final_message",
                "cannot be combined with a JSON response_format",
            ));
        }
    }
    respond(
        &state,
        generator.as_ref(),
        Prompt::Chat(messages),
        settings,
        true,
    )
    .await
}

/// Continues raw text without a chat template (OpenAI's legacy completions), whole or
/// streamed.
#[utoipa::path(
    post,
    path = "/v1/completions",
    operation_id = "create_completion",
    tag = "openai",
    request_body = CompletionRequest,
    responses(
        (status = 200, description = "The continuation; with `stream: true`, server-sent events \
            of `text_completion` chunks ending with `data: [DONE]`", content(
            (Completion = "application/json"),
            (Completion = "text/event-stream"),
        )),
        (status = 400, description = "A field is invalid (the message names it), or the prompt \
            does not fit the model", body = ErrorBody),
        (status = 404, description = "The model is not the one served (`model_not_found`)",
            body = ErrorBody),
        (status = 429, description = "The model's queue is full", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))),
        (status = 503, description = "No language model is configured, or it cannot serve",
            body = ErrorBody),
        (status = 504, description = "The generation timed out", body = ErrorBody),
    )
)]
pub(crate) async fn completions(
    State(state): State<AppState>,
    OpenAiJson(body): OpenAiJson<CompletionRequest>,
) -> Result<Response, ApiError> {
    let generator = generator(&state)?;
    let info = generator.info();
    check_model(body.model.as_ref(), &info)?;
    let prompt = prompt(body.prompt.as_ref())?;
    let settings = body.options.settings(&info)?;
    respond(
        &state,
        generator.as_ref(),
        Prompt::Text(prompt),
        settings,
        false,
    )
    .await
}

/// The model this server generates with (OpenAI's model list).
#[utoipa::path(
    get,
    path = "/v1/models",
    operation_id = "list_models",
    tag = "openai",
    responses((status = 200, description = "The model served; empty without one",
        body = ModelList))
)]
pub(crate) async fn models(State(state): State<AppState>) -> Json<ModelList> {
    let data = state
        .generator()
        .map(|g| ModelCard {
            id: g.info().model,
            object: "model",
            created: *STARTED,
            owned_by: "vitrine",
        })
        .into_iter()
        .collect();
    Json(ModelList {
        object: "list",
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn info() -> GeneratorInfo {
        GeneratorInfo {
            model: "m".into(),
            backend: "local".into(),
            context_length: 100,
        }
    }

    fn options(body: Value) -> Result<Settings, ApiError> {
        serde_json::from_value::<Options>(body)
            .expect("options parse from any object")
            .settings(&info())
    }

    fn field_of(e: ApiError) -> String {
        match e {
            ApiError::InvalidRequest(m) => m.split(':').next().unwrap_or_default().to_string(),
            other => panic!("not an invalid request: {other:?}"),
        }
    }

    #[test]
    fn unset_options_keep_the_generator_defaults() {
        let s = options(json!({})).unwrap();
        assert_eq!(s.sampling, Sampling::default());
        assert_eq!(
            (s.max_tokens, s.stream, s.include_usage),
            (None, false, false)
        );
        assert_eq!(s.format, ResponseFormat::Text);
        let s = options(
            json!({"temperature": 0, "seed": 7, "max_completion_tokens": 5,
            "max_tokens": 9, "stop": "\n", "stream": true,
            "stream_options": {"include_usage": true}}),
        )
        .unwrap();
        assert_eq!(s.sampling.temperature, 0.0);
        assert_eq!(s.sampling.seed, Some(7));
        assert_eq!(s.max_tokens, Some(5));
        assert_eq!(s.stop, ["\n"]);
        assert!(s.stream && s.include_usage);
    }

    #[test]
    fn every_bad_option_names_its_field() {
        let cases = [
            (json!({"temperature": 2.5}), "temperature"),
            (json!({"temperature": "hot"}), "temperature"),
            (json!({"top_p": 0}), "top_p"),
            (json!({"top_k": -1}), "top_k"),
            (json!({"min_p": 1.5}), "min_p"),
            (json!({"repeat_penalty": 0}), "repeat_penalty"),
            (json!({"frequency_penalty": -3}), "frequency_penalty"),
            (json!({"presence_penalty": 2.1}), "presence_penalty"),
            (json!({"seed": -1}), "seed"),
            (json!({"max_tokens": 0}), "max_tokens"),
            (json!({"max_tokens": 101}), "max_tokens"),
            (
                json!({"max_completion_tokens": 1.5}),
                "max_completion_tokens",
            ),
            (json!({"stop": ["a", "b", "c", "d", "e"]}), "stop"),
            (json!({"stop": ""}), "stop"),
            (json!({"stop": [1]}), "stop[0]"),
            (json!({"n": 2}), "n"),
            (json!({"stream": "yes"}), "stream"),
            (
                json!({"stream_options": {"include_usage": true}}),
                "stream_options",
            ),
            (
                json!({"response_format": {"type": "xml"}}),
                "response_format.type",
            ),
            (
                json!({"response_format": {"type": "json_schema"}}),
                "response_format.json_schema",
            ),
            (
                json!({"response_format": {"type": "json_schema", "json_schema": {"schema": {}}}}),
                "response_format.json_schema.name",
            ),
            (
                json!({"response_format": {"type": "json_schema", "json_schema": {"name": "a b", "schema": {}}}}),
                "response_format.json_schema.name",
            ),
            (
                json!({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": 3}}}),
                "response_format.json_schema.schema",
            ),
        ];
        for (body, field) in cases {
            let e = options(body.clone()).expect_err(&body.to_string());
            assert_eq!(field_of(e), field, "{body}");
        }
    }

    #[test]
    fn messages_take_strings_and_text_parts() {
        let parsed = messages(Some(&json!([
            {"role": "developer", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
        ])))
        .unwrap();
        assert_eq!(
            parsed,
            [
                ChatMessage::new(ChatRole::System, "Be brief."),
                ChatMessage::new(ChatRole::User, "a\nb"),
            ]
        );
        let cases = [
            (json!([]), "messages"),
            (json!("hi"), "messages"),
            (
                json!([{"role": "tool", "content": "x"}]),
                "messages[0].role",
            ),
            (json!([{"content": "x"}]), "messages[0].role"),
            (json!([{"role": "user"}]), "messages[0].content"),
            (
                json!([{"role": "user", "content": "ok"}, {"role": "user", "content": [{"type": "image_url"}]}]),
                "messages[1].content[0].type",
            ),
        ];
        for (body, field) in cases {
            let e = messages(Some(&body)).expect_err(&body.to_string());
            assert_eq!(field_of(e), field, "{body}");
        }
    }

    #[test]
    fn only_the_served_model_is_found() {
        assert!(check_model(Some(&json!("m")), &info()).is_ok());
        assert!(matches!(
            check_model(Some(&json!("gpt-4")), &info()),
            Err(ApiError::ModelNotFound(_))
        ));
        assert_eq!(field_of(check_model(None, &info()).unwrap_err()), "model");
    }

    #[test]
    fn chunks_have_openai_shapes() {
        let framing = Framing::new(true, "m".into(), true);
        assert!(framing.id.starts_with("chatcmpl-"));
        let chunk = ChatCompletionChunk {
            id: framing.id.clone(),
            object: "chat.completion.chunk",
            created: 1,
            model: "m".into(),
            choices: vec![ChatChunkChoice {
                index: 0,
                delta: Delta::default(),
                logprobs: None,
                finish_reason: Some(FinishReason::Length),
            }],
            usage: framing.no_usage(),
        };
        let value = serde_json::to_value(chunk).unwrap();
        assert_eq!(
            value["choices"][0],
            json!({"index": 0, "delta": {}, "logprobs": null, "finish_reason": "length"})
        );
        assert_eq!(value["usage"], Value::Null);
        assert!(value.as_object().unwrap().contains_key("usage"));
    }
}
