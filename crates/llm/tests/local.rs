//! The local runtime against the real default model (SmolLM2-135M-Instruct Q4_1). These tests
//! skip, saying so, when the model is not installed; CI installs it (`make models`).

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::Duration;

use vitrine_core::{
    ChatMessage, ChatRole, FinishReason, GenerateError, GenerationEvent, GenerationRequest,
    GeneratorHealth, Prompt, RepeatLimit, ResponseFormat, TextGenerator, generate,
};
use vitrine_llm::{DEFAULT_MODEL, LocalConfig, LocalGenerator, ModelDir};

fn model_path() -> Option<PathBuf> {
    ModelDir::installed_default()
        .map_err(|why| eprintln!("skipped: {why}"))
        .ok()
}

fn config(path: PathBuf) -> LocalConfig {
    let mut config = LocalConfig::new(path, DEFAULT_MODEL);
    config.threads = Some(2);
    config.slots = 4;
    config.context = 4096;
    config
}

/// One loaded model shared by the tests that do not need special settings.
fn shared() -> Option<Arc<LocalGenerator>> {
    static MODEL: OnceLock<Option<Arc<LocalGenerator>>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            let path = model_path()?;
            Some(Arc::new(
                LocalGenerator::load(&config(path)).expect("the model loads"),
            ))
        })
        .clone()
}

fn chat(user: &str) -> GenerationRequest {
    GenerationRequest::chat(vec![
        ChatMessage::new(ChatRole::System, "You are a helpful shop assistant."),
        ChatMessage::new(ChatRole::User, user),
    ])
}

fn seeded(user: &str, seed: u64, max_tokens: u32) -> GenerationRequest {
    let mut request = chat(user);
    request.sampling.seed = Some(seed);
    request.max_tokens = Some(max_tokens);
    request
}

#[test]
fn the_chat_template_comes_from_the_gguf() {
    let Some(model) = shared() else { return };
    let text = model
        .render(&Prompt::Chat(vec![
            ChatMessage::new(ChatRole::System, "Be brief."),
            ChatMessage::new(ChatRole::User, "Hi"),
        ]))
        .expect("renders");
    // SmolLM2's template is ChatML.
    assert_eq!(
        text,
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    );
    let tokens = model
        .count_tokens(&Prompt::Chat(vec![ChatMessage::new(ChatRole::User, "Hi")]))
        .expect("counts");
    assert!(
        tokens > 3,
        "special tokens are parsed, not spelled out: {tokens}"
    );
}

/// Determinism holds for a request on an otherwise idle model; under concurrent load, batching
/// changes floating-point rounding (as in llama-server and vLLM), so this test has its own model.
#[test]
fn the_same_seed_gives_the_same_text() {
    let Some(path) = model_path() else { return };
    let model = LocalGenerator::load(&config(path)).expect("loads");
    let ask = "Describe a red wool scarf in two sentences.";
    let a = generate(&model, seeded(ask, 7, 48)).expect("generates");
    // A seeded request does not reuse cached prompts (their logits come from another batch
    // size and may differ in the last bits), so the second run recomputes and matches.
    let b = generate(&model, seeded(ask, 7, 48)).expect("generates");
    assert_eq!(b.usage.cached_tokens, 0);
    let c = generate(&model, seeded(ask, 8, 48)).expect("generates");
    assert!(!a.text.trim().is_empty());
    assert_eq!(a.text, b.text, "same seed, same settings");
    assert_ne!(a.text, c.text, "another seed gives another text");
    assert!(a.usage.prompt_tokens > 10 && a.usage.completion_tokens > 0);
    assert!(a.usage.completion_tokens <= 48);
}

#[test]
fn max_tokens_ends_with_length() {
    let Some(model) = shared() else { return };
    let out = generate(
        model.as_ref(),
        seeded("Write a long story about shoes.", 1, 5),
    )
    .expect("ok");
    assert_eq!(out.finish_reason, FinishReason::Length);
    assert_eq!(out.usage.completion_tokens, 5);
}

#[test]
fn stop_strings_end_the_text_before_them() {
    // Its own model, idle: the rerun reuses the first run's cache and must answer the same.
    let Some(path) = model_path() else { return };
    let model = Arc::new(LocalGenerator::load(&config(path)).expect("loads"));
    let mut free = seeded("List five colours, one per line.", 3, 40);
    free.sampling.temperature = 0.0;
    let full = generate(model.as_ref(), free.clone()).expect("ok").text;
    // Stop at the second word of the greedy answer: the output must be exactly what precedes it.
    let words: Vec<&str> = full.split_whitespace().collect();
    assert!(words.len() > 2, "{full:?}");
    let stop = words[1].to_owned();
    let at = full.find(&stop).expect("present");
    let mut stopped = free;
    stopped.stop = vec![stop.clone(), "never-appears-xyz".into()];
    let out = generate(model.as_ref(), stopped).expect("ok");
    assert_eq!(out.text, full[..at], "stop {stop:?} in {full:?}");
    assert_eq!(out.finish_reason, FinishReason::Stop);
}

#[test]
fn json_schema_output_always_parses() {
    let Some(model) = shared() else { return };
    let schema = serde_json::json!({
        "type": "object",
        "properties": {
            "headline": {"type": "string", "maxLength": 40},
            "tags": {"type": "array", "items": {"type": "string", "maxLength": 12}, "maxItems": 3},
            "in_stock": {"type": "boolean"}
        },
        "required": ["headline", "tags", "in_stock"],
        "additionalProperties": false
    });
    // 50 generations, submitted together so they are batched, each with its own seed.
    let receivers: Vec<_> = (0..50u64)
        .map(|seed| {
            let mut request = seeded(
                "Reply with a JSON object with the keys headline, tags and in_stock: an ad for a cotton t-shirt.",
                seed,
                100,
            );
            request.format = ResponseFormat::JsonSchema {
                name: "ad".into(),
                schema: schema.clone(),
            };
            // A safety net for a loaded machine, not a speed assertion.
            request.timeout = Some(Duration::from_secs(1800));
            let (tx, rx) = mpsc::channel();
            model.submit(request, Box::new(tx)).expect("admitted");
            rx
        })
        .collect();
    for (seed, rx) in receivers.into_iter().enumerate() {
        let mut text = String::new();
        for event in rx {
            match event {
                GenerationEvent::Text(t) => text.push_str(&t),
                GenerationEvent::Done { finish_reason, .. } => {
                    assert_eq!(finish_reason, FinishReason::Stop, "seed {seed}: {text}");
                }
                GenerationEvent::Failed(e) => panic!("seed {seed}: {e}"),
            }
        }
        let value: serde_json::Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("seed {seed}: {e}: {text}"));
        assert!(value["headline"].is_string(), "{value}");
        assert!(value["tags"].is_array(), "{value}");
        assert!(value["in_stock"].is_boolean(), "{value}");
        assert_eq!(value.as_object().map(|o| o.len()), Some(3), "{value}");
    }
}

#[test]
fn a_sink_that_says_stop_cancels_and_frees_the_slot() {
    let Some(model) = shared() else { return };
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&seen);
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let done = Mutex::new(Some(done_tx));
    model
        .submit(
            seeded("Write a very long essay about socks.", 5, 400),
            Box::new(move |event: GenerationEvent| {
                assert!(
                    matches!(event, GenerationEvent::Text(_)),
                    "no end after a cancel"
                );
                if counter.fetch_add(1, Ordering::SeqCst) + 1 == 3 {
                    done.lock().unwrap().take();
                    return false;
                }
                true
            }),
        )
        .expect("admitted");
    // The sender is dropped with the sink once the worker lets go of the request.
    let _ = done_rx.recv_timeout(Duration::from_secs(60));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(seen.load(Ordering::SeqCst), 3, "nothing after the cancel");
    // The model still serves.
    let out = generate(model.as_ref(), seeded("Say hello.", 1, 8)).expect("serves after a cancel");
    assert!(out.usage.completion_tokens > 0);
}

#[test]
fn a_shared_prefix_is_reused_without_evicting_another_conversation() {
    let Some(path) = model_path() else { return };
    let model = LocalGenerator::load(&config(path)).expect("loads");
    let system = "You are the assistant of Northwind Outfitters. ".repeat(12);
    let ask = |user: &str| {
        let mut request = GenerationRequest::chat(vec![
            ChatMessage::new(ChatRole::System, system.clone()),
            ChatMessage::new(ChatRole::User, user),
        ]);
        request.sampling.seed = Some(11);
        request.max_tokens = Some(24);
        // Seeded requests skip the cache unless asked.
        request.cache_prompt = Some(true);
        request
    };
    let first = generate(&model, ask("Do you sell boots?")).expect("ok");
    assert_eq!(
        first.usage.cached_tokens, 0,
        "a fresh model has nothing cached"
    );
    let second = generate(&model, ask("Do you sell hats?")).expect("ok");
    assert!(
        second.usage.cached_tokens > 100,
        "the system prompt is reused: {:?}",
        second.usage
    );
    // The same request again reuses all but its last prompt token: the hats request copied the
    // shared part of the boots cache instead of cutting the boots cache down.
    let again = generate(&model, ask("Do you sell boots?")).expect("ok");
    assert_eq!(again.usage.cached_tokens, first.usage.prompt_tokens - 1);
    assert!(!again.text.is_empty());
}

#[test]
fn concurrent_requests_are_batched_and_all_finish() {
    let Some(model) = shared() else { return };
    let asks = [
        "a blue cap",
        "green socks",
        "a leather belt",
        "a rain jacket",
        "wool gloves",
        "a tote bag",
    ];
    let receivers: Vec<_> = asks
        .iter()
        .enumerate()
        .map(|(i, ask)| {
            let (tx, rx) = mpsc::channel();
            model
                .submit(
                    seeded(&format!("Describe {ask}."), i as u64, 32),
                    Box::new(tx),
                )
                .expect("admitted");
            rx
        })
        .collect();
    for rx in receivers {
        let events: Vec<_> = rx.iter().collect();
        assert!(
            matches!(events.last(), Some(GenerationEvent::Done { .. })),
            "{events:?}"
        );
    }
}

#[test]
fn replicas_share_the_load_and_a_seed_gives_the_same_text_on_either() {
    let Some(path) = model_path() else { return };
    let mut cfg = config(path);
    cfg.replicas = 2;
    cfg.threads = Some(1);
    cfg.slots = 2;
    cfg.context = 2048;
    let model = LocalGenerator::load(&cfg).expect("loads");
    let text = |rx: mpsc::Receiver<GenerationEvent>| -> String {
        let mut out = String::new();
        for event in rx {
            match event {
                GenerationEvent::Text(t) => out.push_str(&t),
                GenerationEvent::Done { .. } => return out,
                other => panic!("unexpected {other:?}"),
            }
        }
        panic!("no end")
    };
    let ask = || seeded("Describe a red scarf.", 7, 24);
    // Alone, the request runs on the first replica.
    let (tx, rx) = mpsc::channel();
    model.submit(ask(), Box::new(tx)).expect("admitted");
    let alone = text(rx);
    // With the first replica busy, the same request goes to the second.
    let (busy_tx, busy_rx) = mpsc::channel();
    model
        .submit(seeded("Tell a long story.", 1, 64), Box::new(busy_tx))
        .expect("admitted");
    let (tx, rx) = mpsc::channel();
    model.submit(ask(), Box::new(tx)).expect("admitted");
    match model.health() {
        GeneratorHealth::Ok { active, queued } => assert_eq!(active + queued, 2),
        other => panic!("{other:?}"),
    }
    assert_eq!(text(rx), alone);
    text(busy_rx);

    cfg.replicas = 0;
    let zero = LocalGenerator::load(&cfg).expect_err("no replica");
    assert!(zero.to_string().contains("replicas"), "{zero}");
}

#[test]
fn a_full_queue_refuses_with_busy() {
    let Some(path) = model_path() else { return };
    let mut cfg = config(path);
    cfg.slots = 1;
    cfg.queue = 2;
    let model = LocalGenerator::load(&cfg).expect("loads");
    let mut receivers = Vec::new();
    let mut busy = None;
    for i in 0..6 {
        let (tx, rx) = mpsc::channel();
        match model.submit(seeded("Tell a long story.", i, 64), Box::new(tx)) {
            Ok(()) => receivers.push(rx),
            Err(e) => {
                busy = Some(e);
                break;
            }
        }
    }
    match busy {
        Some(GenerateError::Busy { retry_after, .. }) => {
            assert!(retry_after >= Duration::from_secs(1));
        }
        other => panic!("expected Busy, got {other:?}"),
    }
    // What was admitted still finishes.
    for rx in receivers {
        assert!(rx.iter().any(|e| matches!(e, GenerationEvent::Done { .. })));
    }
}

#[test]
fn a_request_past_its_timeout_fails() {
    let Some(model) = shared() else { return };
    let mut request = seeded("Write a long poem.", 2, 500);
    request.timeout = Some(Duration::from_millis(200));
    match generate(model.as_ref(), request) {
        Err(GenerateError::Timeout(t)) => assert_eq!(t, Duration::from_millis(200)),
        other => panic!("expected a timeout, got {other:?}"),
    }
}

#[test]
fn bad_requests_are_refused_with_the_field_named() {
    let Some(model) = shared() else { return };
    let field = |request: GenerationRequest| match model.submit(request, Box::new(|_| true)) {
        Err(GenerateError::Invalid { field, .. }) => field,
        other => panic!("expected Invalid, got {other:?}"),
    };
    assert_eq!(field(GenerationRequest::chat(vec![])), "messages");
    assert_eq!(field(GenerationRequest::text("")), "prompt");
    let mut zero = chat("hi");
    zero.max_tokens = Some(0);
    assert_eq!(field(zero), "max_tokens");
    let mut huge = chat("hi");
    huge.max_tokens = Some(1_000_000);
    assert_eq!(field(huge), "max_tokens");
    let mut hot = chat("hi");
    hot.sampling.temperature = 9.0;
    assert_eq!(field(hot), "temperature");
    let mut nan = chat("hi");
    nan.sampling.top_p = f32::NAN;
    assert_eq!(field(nan), "top_p");
    let long =
        GenerationRequest::chat(vec![ChatMessage::new(ChatRole::User, "word ".repeat(5000))]);
    assert_eq!(field(long), "messages");
    let mut schema = chat("hi");
    schema.format = ResponseFormat::JsonSchema {
        name: "x".into(),
        schema: serde_json::json!({"$ref": "#/definitions/missing"}),
    };
    assert_eq!(field(schema), "response_format.json_schema.schema");
    let mut nul = chat("hi");
    nul.prompt = Prompt::Chat(vec![ChatMessage::new(ChatRole::User, "a\0b")]);
    assert_eq!(field(nul), "messages[0].content");
    let mut empty_avoid = chat("hi");
    empty_avoid.steer.avoid = vec![" ".into()];
    assert_eq!(field(empty_avoid), "steer.avoid");
    let mut words = chat("hi");
    words.steer.numbers = Some(vec!["five".into()]);
    assert_eq!(field(words), "steer.numbers");
}

#[test]
fn a_prefill_is_continued_and_steering_reads_it() {
    let Some(model) = shared() else { return };
    let mut request = seeded("What do the red shoes cost?", 3, 12);
    // The answer already started a number: only the allowed one may complete it.
    request.prefill = Some("The red shoes cost 8".into());
    request.steer.numbers = Some(vec!["899".into()]);
    let answer = generate(model.as_ref(), request).expect("generates");
    assert!(answer.text.starts_with("99"), "{:?}", answer.text);

    let mut json = chat("hi");
    json.prefill = Some("{".into());
    json.format = ResponseFormat::JsonObject;
    assert!(matches!(
        generate(model.as_ref(), json),
        Err(GenerateError::Invalid { field, .. }) if field == "prefill"
    ));
}

/// Whole lower-case words of `text`.
fn words_of(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

#[test]
fn steering_keeps_avoided_words_out_of_the_text() {
    let Some(model) = shared() else { return };
    let colours = [
        "red", "blue", "green", "yellow", "black", "white", "orange", "purple", "pink", "brown",
        "grey", "gray",
    ];
    for seed in 0..3 {
        let mut request = seeded("Name ten colours, separated by commas.", seed, 60);
        let free = generate(model.as_ref(), request.clone()).expect("generates");
        request.steer.avoid = colours.iter().map(|c| c.to_string()).collect();
        let steered = generate(model.as_ref(), request).expect("generates");
        let said: Vec<String> = words_of(&steered.text)
            .into_iter()
            .filter(|w| colours.contains(&w.as_str()))
            .collect();
        assert!(
            said.is_empty(),
            "seed {seed}: {said:?} in {:?}",
            steered.text
        );
        // The model does name these colours unsteered, so the test tests something.
        if seed == 0 {
            assert!(
                words_of(&free.text)
                    .iter()
                    .any(|w| colours.contains(&w.as_str())),
                "{:?}",
                free.text
            );
        }
    }
}

#[test]
fn steering_allows_only_the_given_numbers() {
    let Some(model) = shared() else { return };
    let allowed = ["1", "2", "3", "899"];
    for seed in 0..3 {
        let mut request = seeded("Count from 1 to 20, separated by commas.", seed, 60);
        request.steer.numbers = Some(allowed.iter().map(|n| n.to_string()).collect());
        let answer = generate(model.as_ref(), request).expect("generates");
        let numbers: Vec<&str> = answer
            .text
            .split(|c: char| !c.is_ascii_digit())
            .filter(|n| !n.is_empty())
            .collect();
        assert!(
            numbers.iter().all(|n| allowed.contains(n)),
            "seed {seed}: {numbers:?} in {:?}",
            answer.text
        );
    }
}

#[test]
fn the_text_does_not_end_before_min_tokens() {
    let Some(model) = shared() else { return };
    let free = generate(model.as_ref(), seeded("Say hi.", 1, 64)).expect("generates");
    assert!(free.usage.completion_tokens < 30, "{:?}", free.text);
    assert_eq!(free.finish_reason, FinishReason::Stop);
    let mut request = seeded("Say hi.", 1, 64);
    request.sampling.min_tokens = 30;
    let longer = generate(model.as_ref(), request).expect("generates");
    assert!(
        longer.usage.completion_tokens >= 30,
        "{} tokens: {:?}",
        longer.usage.completion_tokens,
        longer.text
    );
}

/// Whether a word `n`-gram of `text` occurs `times` times.
fn loops(text: &str, n: usize, times: usize) -> bool {
    let words = words_of(text);
    let mut counts = std::collections::HashMap::new();
    words.windows(n).any(|gram| {
        let c = counts.entry(gram.to_vec()).or_insert(0);
        *c += 1;
        *c >= times
    })
}

#[test]
fn a_repeat_limit_keeps_the_text_from_looping() {
    let Some(model) = shared() else { return };
    let limit = RepeatLimit { n: 4, times: 3 };
    // A raw-text prompt that a small model continues by looping.
    let prompt = "Our bestsellers: red leather shoes, red leather shoes, red leather shoes,";
    for seed in 0..3 {
        let mut request = GenerationRequest::text(prompt);
        request.sampling.seed = Some(seed);
        request.sampling.temperature = 0.2 * seed as f32;
        request.sampling.repeat_penalty = 1.0;
        request.max_tokens = Some(120);
        let free = generate(model.as_ref(), request.clone()).expect("generates");
        // Unsteered and greedy, the model does loop, so the test tests something.
        if seed == 0 {
            assert!(loops(&free.text, limit.n, limit.times), "{:?}", free.text);
        }
        request.steer.repeats = Some(limit);
        let steered = generate(model.as_ref(), request).expect("generates");
        assert!(
            !loops(&steered.text, limit.n, limit.times),
            "seed {seed}: {:?}",
            steered.text
        );
    }
}

#[test]
fn a_repeat_limit_counts_the_prefill() {
    let Some(model) = shared() else { return };
    let limit = RepeatLimit { n: 4, times: 3 };
    let title = "Metro Women Gold-Toned Solid Mules";
    for seed in 0..3 {
        let mut request = seeded(&format!("Write \"{title}\" five times."), seed, 80);
        request.sampling.repeat_penalty = 1.0;
        request.sampling.min_tokens = 60;
        request.prefill = Some(title.into());
        request.steer.repeats = Some(limit);
        let answer = generate(model.as_ref(), request).expect("generates");
        let whole = format!("{title}{}", answer.text);
        eprintln!("{whole:?}");
        assert!(
            !loops(&whole, limit.n, limit.times),
            "seed {seed}: {whole:?}"
        );
    }
}

#[test]
fn a_crashed_worker_reports_and_refuses() {
    let Some(path) = model_path() else { return };
    let model = LocalGenerator::load(&config(path)).expect("loads");
    assert!(matches!(model.health(), GeneratorHealth::Ok { .. }));
    model.crash_worker_for_tests();
    match model.health() {
        GeneratorHealth::Failed { reason } => assert!(reason.contains("crashed"), "{reason}"),
        other => panic!("expected Failed, got {other:?}"),
    }
    assert!(matches!(
        model.submit(chat("hi"), Box::new(|_| true)),
        Err(GenerateError::Unavailable(_))
    ));
}

#[test]
fn a_missing_or_bad_model_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = LocalGenerator::load(&LocalConfig::new(dir.path().join("nope.gguf"), "x"))
        .expect_err("missing");
    assert!(missing.to_string().contains("models pull"), "{missing}");
    let junk = dir.path().join("junk.gguf");
    std::fs::write(&junk, b"not a model at all").unwrap();
    let bad = LocalGenerator::load(&LocalConfig::new(&junk, "x")).expect_err("junk");
    assert!(bad.to_string().contains("GGUF"), "{bad}");
}
