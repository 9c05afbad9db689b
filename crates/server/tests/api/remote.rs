//! `RemoteGenerator` against the real thing: Vitrine's own OpenAI-compatible API served on a
//! loopback port over the fake generator. The shared generator suite runs on the fake directly
//! and through the API; the remote-only checks cover model discovery, passthrough of every
//! setting, error mapping (400, 401, 429, 503, 504, a server that is down) and cancellation
//! reaching the generator behind the server.

use crate::common;

use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use common::fake::{FAKE_CONTEXT, FAKE_MODEL, FakeGenerator, Mode};
use common::{Served, TestApp, suite};
use serde_json::json;
use vitrine_core::{
    ChatMessage, ChatRole, FinishReason, GenerateError, GenerationEvent, GenerationRequest,
    GeneratorHealth, Prompt, ResponseFormat, Sampling, TextGenerator, generate,
};
use vitrine_engine::text::{RemoteConfig, RemoteGenerator};

/// The fake behind the API on a loopback port.
struct Loopback {
    fake: FakeGenerator,
    app: TestApp,
    served: Served,
}

fn loopback() -> Loopback {
    let fake = FakeGenerator::new();
    let app = TestApp::with_generator(Arc::new(fake.clone()));
    let served = Served::new(app.router.clone());
    Loopback { fake, app, served }
}

impl Loopback {
    fn config(&self) -> RemoteConfig {
        let mut config = RemoteConfig::new(self.served.url());
        config.api_key = Some(self.app.reader.clone());
        config.context_length = FAKE_CONTEXT;
        config
    }

    fn remote(&self) -> RemoteGenerator {
        RemoteGenerator::connect(&self.config()).expect("connects")
    }
}

fn chat(text: &str) -> GenerationRequest {
    GenerationRequest::chat(vec![ChatMessage::new(ChatRole::User, text)])
}

#[test]
fn the_fake_passes_the_suite() {
    suite::all(&FakeGenerator::new());
}

#[test]
fn the_remote_backend_passes_the_suite() {
    let lo = loopback();
    suite::all(&lo.remote());
}

#[test]
fn connect_discovers_the_model_and_accepts_a_v1_url() {
    let lo = loopback();
    let remote = lo.remote();
    let info = remote.info();
    assert_eq!(info.model, FAKE_MODEL);
    assert_eq!(info.backend, "remote");
    assert_eq!(info.context_length, FAKE_CONTEXT);
    assert_eq!(
        remote.health(),
        GeneratorHealth::Ok {
            active: 0,
            queued: 0
        }
    );
    let mut config = lo.config();
    config.url = format!("{}/v1/", lo.served.url());
    assert_eq!(
        RemoteGenerator::connect(&config).unwrap().info().model,
        FAKE_MODEL
    );
    assert!(
        !format!("{remote:?}").contains(&lo.app.reader),
        "no key in Debug"
    );
}

#[test]
fn text_and_usage_come_through() {
    let lo = loopback();
    let remote = lo.remote();
    let (tx, rx) = mpsc::channel();
    remote
        .submit(chat("hello there shopper"), Box::new(tx))
        .unwrap();
    let events: Vec<_> = rx.into_iter().collect();
    assert_eq!(
        events,
        [
            GenerationEvent::Text("hello".into()),
            GenerationEvent::Text(" there".into()),
            GenerationEvent::Text(" shopper".into()),
            GenerationEvent::Done {
                finish_reason: FinishReason::Stop,
                usage: vitrine_core::Usage {
                    prompt_tokens: 5,
                    completion_tokens: 3,
                    cached_tokens: 0
                },
            },
        ]
    );
    let answer = generate(&remote, GenerationRequest::text("a b c d")).unwrap();
    assert_eq!(answer.text, "a b c d");
    assert_eq!(
        lo.fake.last_request().unwrap().prompt,
        Prompt::Text("a b c d".into()),
        "a raw-text prompt goes to /v1/completions"
    );
}

#[test]
fn every_setting_is_passed_through() {
    let lo = loopback();
    let remote = lo.remote();
    let schema = json!({"type": "object", "properties": {"name": {"type": "string"}}});
    let request = GenerationRequest {
        prompt: Prompt::Chat(vec![
            ChatMessage::new(ChatRole::System, "Be brief."),
            ChatMessage::new(ChatRole::User, "red shoe"),
            ChatMessage::new(ChatRole::Assistant, "Which size?"),
            ChatMessage::new(ChatRole::User, "nine"),
        ]),
        sampling: Sampling {
            temperature: 0.7,
            top_k: 17,
            top_p: 0.85,
            min_p: 0.07,
            repeat_penalty: 1.3,
            frequency_penalty: 0.25,
            presence_penalty: -0.75,
            seed: Some(u64::MAX),
            min_tokens: 5,
        },
        max_tokens: Some(40),
        stop: vec!["}}".into(), "END".into()],
        format: ResponseFormat::JsonSchema {
            name: "product".into(),
            schema: schema.clone(),
        },
        timeout: None,
        cache_prompt: Some(false),
        steer: Default::default(),
        prefill: None,
    };
    let answer = generate(&remote, request.clone()).unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&answer.text).unwrap(),
        json!({"name": "nine"})
    );
    let seen = lo.fake.last_request().unwrap();
    assert_eq!(seen, request, "the fake saw the same request");

    let mut object = chat("x");
    object.format = ResponseFormat::JsonObject;
    generate(&remote, object).unwrap();
    assert_eq!(
        lo.fake.last_request().unwrap().format,
        ResponseFormat::JsonObject
    );
}

#[test]
fn a_prefill_is_passed_through() {
    let lo = loopback();
    let remote = lo.remote();
    let mut request = chat("red shoe");
    request.prefill = Some("The red".into());
    generate(&remote, request.clone()).unwrap();
    assert_eq!(lo.fake.last_request().unwrap(), request);

    let mut json = chat("red shoe");
    json.prefill = Some("{".into());
    json.format = ResponseFormat::JsonObject;
    assert!(matches!(
        generate(&remote, json),
        Err(GenerateError::Invalid { field, .. }) if field == "prefill"
    ));
}

#[test]
fn stop_and_length_come_through() {
    let lo = loopback();
    let remote = lo.remote();
    let mut request = chat("a b c d e");
    request.stop = vec![" c".into()];
    let answer = generate(&remote, request).unwrap();
    assert_eq!(
        (answer.text.as_str(), answer.finish_reason),
        ("a b", FinishReason::Stop)
    );
    let mut request = chat("a b c d e");
    request.max_tokens = Some(4);
    let answer = generate(&remote, request).unwrap();
    assert_eq!(
        (answer.text.as_str(), answer.finish_reason),
        ("a b c d", FinishReason::Length)
    );
}

#[test]
fn a_remote_400_is_invalid_with_its_field() {
    let lo = loopback();
    let remote = lo.remote();
    let mut request = chat("hi");
    request.sampling.temperature = 5.0;
    match generate(&remote, request) {
        Err(GenerateError::Invalid { field, reason }) => {
            assert_eq!(field, "temperature");
            assert!(reason.contains("0 to 2"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_remote_429_is_busy_with_its_retry_after() {
    let lo = loopback();
    let remote = lo.remote();
    lo.fake.set_mode(Mode::Busy(Duration::from_millis(2500)));
    match generate(&remote, chat("hi")) {
        Err(GenerateError::Busy { retry_after, .. }) => {
            assert_eq!(retry_after, Duration::from_secs(3));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn too_many_requests_in_flight_are_refused_at_once() {
    let lo = loopback();
    lo.fake.set_mode(Mode::Slow(Duration::from_millis(5)));
    let mut config = lo.config();
    config.max_in_flight = 1;
    let remote = RemoteGenerator::connect(&config).unwrap();
    let (tx, rx) = mpsc::channel();
    remote.submit(chat("a"), Box::new(tx)).unwrap();
    let refused = remote.submit(chat("b"), Box::new(|_| true));
    assert!(
        matches!(refused, Err(GenerateError::Busy { queued: 1, .. })),
        "{refused:?}"
    );
    assert!(matches!(
        remote.health(),
        GeneratorHealth::Ok { active: 1, .. }
    ));
    drop(rx);
    assert!(lo.fake.wait_for_cancels(1));
}

#[test]
fn remote_failures_keep_their_meaning() {
    let lo = loopback();
    let remote = lo.remote();
    lo.fake.set_mode(Mode::Failed("dead".into()));
    assert!(matches!(
        generate(&remote, chat("hi")),
        Err(GenerateError::Unavailable(_))
    ));
    lo.fake.set_mode(Mode::Timeout);
    assert!(matches!(
        generate(&remote, chat("hi")),
        Err(GenerateError::Timeout(_))
    ));
    lo.fake.set_mode(Mode::FailMidway);
    let (tx, rx) = mpsc::channel();
    remote.submit(chat("a b c d"), Box::new(tx)).unwrap();
    let events: Vec<_> = rx.into_iter().collect();
    assert_eq!(events.len(), 3, "{events:?}");
    assert!(
        matches!(
            &events[2],
            GenerationEvent::Failed(GenerateError::Backend(_))
        ),
        "{events:?}"
    );
    assert!(matches!(
        remote.count_tokens(&Prompt::Text("hi".into())),
        Err(GenerateError::Unavailable(_))
    ));
}

#[test]
fn a_wrong_key_makes_the_backend_unavailable() {
    let lo = loopback();
    let mut config = lo.config();
    config.model = Some(FAKE_MODEL.into());
    config.api_key = Some(common::UNKNOWN_KEY.into());
    let remote = RemoteGenerator::connect(&config).expect("a named model does not need the list");
    assert!(matches!(remote.health(), GeneratorHealth::Failed { .. }));
    assert!(matches!(
        generate(&remote, chat("hi")),
        Err(GenerateError::Unavailable(_))
    ));
    config.model = None;
    assert!(RemoteGenerator::connect(&config).is_err());
}

/// An address nothing listens on (bound, then released).
fn dead_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

#[test]
fn a_server_that_is_down_is_unavailable_until_it_answers() {
    let app = TestApp::with_generator(Arc::new(FakeGenerator::new()));
    let addr = dead_addr();
    let mut config = RemoteConfig::new(format!("http://{addr}"));
    config.api_key = Some(app.reader.clone());
    assert!(
        RemoteGenerator::connect(&config).is_err(),
        "without a model name, the list is needed"
    );
    config.model = Some(FAKE_MODEL.into());
    let remote = RemoteGenerator::connect(&config).expect("starts without the server");
    assert!(matches!(remote.health(), GeneratorHealth::Failed { .. }));
    assert!(matches!(
        generate(&remote, chat("hi")),
        Err(GenerateError::Unavailable(_))
    ));

    // The server comes up on that address: the same generator recovers.
    let served = Served::at(app.router.clone(), addr);
    assert_eq!(generate(&remote, chat("up")).unwrap().text, "up");
    assert!(matches!(remote.health(), GeneratorHealth::Ok { .. }));

    // It goes down, and comes back.
    drop(served);
    assert!(matches!(
        generate(&remote, chat("hi")),
        Err(GenerateError::Unavailable(_))
    ));
    assert!(matches!(remote.health(), GeneratorHealth::Failed { .. }));
    let _served = Served::at(app.router.clone(), addr);
    assert_eq!(generate(&remote, chat("back")).unwrap().text, "back");
    assert!(matches!(remote.health(), GeneratorHealth::Ok { .. }));
}

#[test]
fn health_recovers_without_requests() {
    let app = TestApp::with_generator(Arc::new(FakeGenerator::new()));
    let addr = dead_addr();
    let mut config = RemoteConfig::new(format!("http://{addr}"));
    config.api_key = Some(app.reader.clone());
    config.model = Some(FAKE_MODEL.into());
    let remote = RemoteGenerator::connect(&config).expect("starts without the server");
    let _served = Served::at(app.router.clone(), addr);
    // The first look at a failed health starts a probe in the background; a load balancer
    // polling /healthz sees the server come back without any generation request.
    assert!(matches!(remote.health(), GeneratorHealth::Failed { .. }));
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !matches!(remote.health(), GeneratorHealth::Ok { .. }) {
        assert!(
            std::time::Instant::now() < deadline,
            "health never recovered"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn cancelling_reaches_the_generator_behind_the_server() {
    let lo = loopback();
    let remote = lo.remote();
    lo.fake.set_mode(Mode::Slow(Duration::from_millis(5)));
    let (tx, rx) = mpsc::channel();
    remote.submit(chat("a b c"), Box::new(tx)).unwrap();
    assert_eq!(rx.recv().unwrap(), GenerationEvent::Text("a".into()));
    drop(rx);
    assert!(
        lo.fake.wait_for_cancels(1),
        "closing the connection must cancel the remote generation"
    );
}
