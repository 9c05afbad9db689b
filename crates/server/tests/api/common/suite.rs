//! The suite every `TextGenerator` must pass. Each check takes `&dyn TextGenerator` and asserts
//! only what any correct generator does (no exact wording), so the same checks run against the
//! fake, against the fake behind the API through `RemoteGenerator`, and against the local model,
//! directly and through the API in a loopback.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use vitrine_core::{
    ChatMessage, ChatRole, FinishReason, GenerateError, GenerationEvent, GenerationRequest,
    GeneratorHealth, ResponseFormat, Sampling, TextGenerator, generate,
};

/// Every check, in order.
pub fn all(g: &dyn TextGenerator) {
    streams_text_then_done(g);
    completes_raw_text(g);
    max_tokens_ends_with_length(g);
    stop_strings_end_the_text(g);
    json_object_parses(g);
    json_schema_is_followed(g);
    bad_requests_name_their_field(g);
    cancelling_stops_the_events(g);
}

/// Greedy sampling with a fixed seed: the same request gives the same text.
fn greedy() -> Sampling {
    Sampling {
        temperature: 0.0,
        seed: Some(42),
        ..Sampling::default()
    }
}

fn chat(text: &str) -> GenerationRequest {
    let mut request = GenerationRequest::chat(vec![
        ChatMessage::new(ChatRole::System, "You are a helpful shop assistant."),
        ChatMessage::new(ChatRole::User, text),
    ]);
    request.sampling = greedy();
    request
}

fn text(prompt: &str) -> GenerationRequest {
    let mut request = GenerationRequest::text(prompt);
    request.sampling = greedy();
    request
}

/// Runs `request`, returning every event it produced.
fn events(g: &dyn TextGenerator, request: GenerationRequest) -> Vec<GenerationEvent> {
    let (tx, rx) = mpsc::channel();
    g.submit(request, Box::new(tx)).expect("admitted");
    rx.into_iter().collect()
}

/// Waits (up to 60 s, a safety net rather than a timing assertion) until nothing is generating.
fn wait_idle(g: &dyn TextGenerator) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match g.health() {
            GeneratorHealth::Ok {
                active: 0,
                queued: 0,
            } => return,
            GeneratorHealth::Failed { reason } => panic!("the generator failed: {reason}"),
            _ if Instant::now() > deadline => panic!("the generator never became idle"),
            _ => thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// Text pieces, never empty, then exactly one `Done` with sensible counts; the same request
/// gives the same text.
pub fn streams_text_then_done(g: &dyn TextGenerator) {
    let mut request = chat("Say hello to our shoppers in one short sentence.");
    request.max_tokens = Some(16);
    let all = events(g, request.clone());
    let (last, pieces) = all.split_last().expect("at least one event");
    assert!(!pieces.is_empty(), "no text before {last:?}");
    let mut streamed = String::new();
    for event in pieces {
        match event {
            GenerationEvent::Text(piece) => {
                assert!(!piece.is_empty(), "empty piece");
                streamed.push_str(piece);
            }
            other => panic!("{other:?} before the end"),
        }
    }
    let GenerationEvent::Done { usage, .. } = last else {
        panic!("ended with {last:?}");
    };
    assert!(usage.prompt_tokens > 0, "{usage:?}");
    assert!((1..=16).contains(&usage.completion_tokens), "{usage:?}");
    let again = generate(g, request).expect("generates");
    assert_eq!(again.text, streamed, "greedy generation is deterministic");
}

/// A raw-text prompt is continued.
pub fn completes_raw_text(g: &dyn TextGenerator) {
    let mut request = text("Our best-selling running shoes are");
    request.max_tokens = Some(8);
    let answer = generate(g, request).expect("generates");
    assert!(!answer.text.is_empty());
    assert!(answer.usage.completion_tokens <= 8, "{:?}", answer.usage);
}

/// Running out of `max_tokens` says `Length`.
pub fn max_tokens_ends_with_length(g: &dyn TextGenerator) {
    let mut request = text("one two three four five six seven eight nine ten eleven twelve");
    request.max_tokens = Some(3);
    let answer = generate(g, request).expect("generates");
    assert_eq!(answer.finish_reason, FinishReason::Length, "{answer:?}");
    assert!(
        (1..=3).contains(&answer.usage.completion_tokens),
        "{answer:?}"
    );
}

/// Stop strings end the text before them: the answer never contains one, and a list answer
/// (which has commas or line breaks) ends for that reason, well before `max_tokens`.
///
/// This does not compare against an unconstrained run: a rerun may reuse the first run's
/// cached prompt, and a local model's greedy choice between near-tied tokens can then differ.
pub fn stop_strings_end_the_text(g: &dyn TextGenerator) {
    let stops = ["\n".to_string(), ",".to_string(), ";".to_string()];
    let mut request = chat("List three colours of our cotton t-shirts, separated by commas.");
    request.max_tokens = Some(64);
    request.stop = stops.to_vec();
    let cut = generate(g, request).expect("generates");
    for stop in &stops {
        assert!(
            !cut.text.contains(stop.as_str()),
            "{stop:?} in {:?}",
            cut.text
        );
    }
    assert_eq!(cut.finish_reason, FinishReason::Stop, "{:?}", cut.text);
    assert!(cut.usage.completion_tokens < 64, "{:?}", cut.usage);
}

/// Enough tokens for a small JSON answer, within the context.
fn json_budget(g: &dyn TextGenerator) -> u32 {
    256.min(g.info().context_length / 2)
}

/// `JsonObject` output parses as a JSON object.
pub fn json_object_parses(g: &dyn TextGenerator) {
    let mut request = chat("Describe a red canvas sneaker as a JSON object.");
    request.format = ResponseFormat::JsonObject;
    request.max_tokens = Some(json_budget(g));
    let answer = generate(g, request).expect("generates");
    let value: Value = serde_json::from_str(&answer.text)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", answer.text));
    assert!(value.is_object(), "{value}");
}

/// `JsonSchema` output is valid against the schema.
pub fn json_schema_is_followed(g: &dyn TextGenerator) {
    let mut request = chat("Give the name of a product and whether it is in stock.");
    request.format = ResponseFormat::JsonSchema {
        name: "product".into(),
        schema: json!({
            "type": "object",
            "properties": {"name": {"type": "string"}, "in_stock": {"type": "boolean"}},
            "required": ["name", "in_stock"],
            "additionalProperties": false,
        }),
    };
    request.max_tokens = Some(json_budget(g));
    let answer = generate(g, request).expect("generates");
    let value: Value = serde_json::from_str(&answer.text)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", answer.text));
    assert!(value["name"].is_string(), "{value}");
    assert!(value["in_stock"].is_boolean(), "{value}");
}

fn invalid_field(result: Result<vitrine_core::Generation, GenerateError>) -> String {
    match result {
        Err(GenerateError::Invalid { field, .. }) => field,
        other => panic!("expected an invalid request, got {other:?}"),
    }
}

/// A prompt longer than the context and `max_tokens: 0` are refused, naming the field.
pub fn bad_requests_name_their_field(g: &dyn TextGenerator) {
    let words = g.info().context_length as usize * 2;
    let long = text(&"word ".repeat(words));
    assert_eq!(invalid_field(generate(g, long)), "prompt");
    let mut none = text("Hello");
    none.max_tokens = Some(0);
    assert_eq!(invalid_field(generate(g, none)), "max_tokens");
}

/// A sink that returns `false` gets no further events, its slot is freed, and the generator
/// keeps serving.
pub fn cancelling_stops_the_events(g: &dyn TextGenerator) {
    let mut request = text("one two three four five six seven eight nine ten eleven twelve");
    request.max_tokens = Some(12);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink_seen = Arc::clone(&seen);
    let sink = move |event: GenerationEvent| {
        sink_seen.lock().unwrap().push(event);
        false
    };
    g.submit(request, Box::new(sink)).expect("admitted");
    wait_idle(g);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1, "events after cancelling: {seen:?}");
    assert!(matches!(seen[0], GenerationEvent::Text(_)), "{seen:?}");
    drop(seen);
    let mut after = text("Still serving?");
    after.max_tokens = Some(4);
    generate(g, after).expect("serves after a cancel");
}
