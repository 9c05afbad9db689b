//! The OpenAI-compatible API over a fake generator: the shapes of all three endpoints, SSE
//! framing, every bad input named by field, the error statuses (404, 429, 503, 504), failures
//! after a stream started, cancellation by a client going away, health, metrics and auth.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, StatusCode, header};
use common::fake::{FAKE_CONTEXT, FAKE_MODEL, FakeGenerator, Mode};
use common::{Reply, TestApp, request};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use vitrine_core::{ChatRole, FinishReason, ResponseFormat};

fn app() -> (TestApp, FakeGenerator) {
    let fake = FakeGenerator::new();
    (TestApp::with_generator(Arc::new(fake.clone())), fake)
}

fn chat_body(text: &str) -> Value {
    json!({"model": FAKE_MODEL, "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": text},
    ]})
}

fn with(mut body: Value, extra: Value) -> Value {
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

async fn chat(app: &TestApp, body: Value) -> Reply {
    app.json(Method::POST, "/v1/chat/completions", &app.reader, body)
        .await
}

async fn complete(app: &TestApp, body: Value) -> Reply {
    app.json(Method::POST, "/v1/completions", &app.reader, body)
        .await
}

/// The `data:` payloads of an SSE body, in order.
fn sse_data(reply: &Reply) -> Vec<String> {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(
        reply.headers[header::CONTENT_TYPE].to_str().unwrap(),
        "text/event-stream"
    );
    reply
        .text()
        .split("\n\n")
        .filter(|event| !event.trim().is_empty())
        .map(|event| {
            event
                .lines()
                .filter_map(|line| line.strip_prefix("data: "))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect()
}

fn parse(data: &str) -> Value {
    serde_json::from_str(data).unwrap_or_else(|e| panic!("not JSON ({e}): {data}"))
}

#[tokio::test]
async fn models_lists_the_served_model() {
    let (app, _) = app();
    let reply = app.get("/v1/models", &app.reader).await;
    assert_eq!(reply.status, StatusCode::OK);
    let body = reply.json();
    assert_eq!(body["object"], "list");
    assert_eq!(body["data"].as_array().unwrap().len(), 1);
    let model = &body["data"][0];
    assert_eq!(model["id"], FAKE_MODEL);
    assert_eq!(model["object"], "model");
    assert_eq!(model["owned_by"], "vitrine");
    assert!(model["created"].as_i64().unwrap() > 1_700_000_000);

    let bare = TestApp::new();
    let reply = bare.get("/v1/models", &bare.reader).await;
    assert_eq!(reply.json(), json!({"object": "list", "data": []}));
}

#[tokio::test]
async fn chat_completion_has_openai_shape() {
    let (app, fake) = app();
    let reply = chat(&app, chat_body("hello there shopper")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let body = reply.json();
    assert!(
        body["id"].as_str().unwrap().starts_with("chatcmpl-"),
        "{body}"
    );
    assert_eq!(body["object"], "chat.completion");
    assert!(body["created"].is_i64());
    assert_eq!(body["model"], FAKE_MODEL);
    assert_eq!(
        body["choices"],
        json!([{
            "index": 0,
            "message": {"role": "assistant", "content": "hello there shopper"},
            "logprobs": null,
            "finish_reason": "stop",
        }])
    );
    // Two messages of 2 and 3 words, plus 2 template tokens each.
    assert_eq!(
        body["usage"],
        json!({"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12,
            "prompt_tokens_details": {"cached_tokens": 0}})
    );
    let sent = fake.last_request().unwrap();
    let vitrine_core::Prompt::Chat(messages) = sent.prompt else {
        panic!("a chat prompt");
    };
    assert_eq!(messages[0].role, ChatRole::System);
    assert_eq!(sent.sampling, vitrine_core::Sampling::default());
    assert_eq!((sent.max_tokens, sent.format), (None, ResponseFormat::Text));
}

#[tokio::test]
async fn settings_reach_the_generator() {
    let (app, fake) = app();
    let body = with(
        chat_body("a b c"),
        json!({"temperature": 0.3, "top_p": 0.9, "top_k": 5, "min_p": 0.1,
            "repeat_penalty": 1.2, "frequency_penalty": 0.5, "presence_penalty": -0.5,
            "seed": 12345678901234_u64, "max_completion_tokens": 7, "stop": ["x", "y"], "n": 1,
            "user": "ignored", "logit_bias": {}}),
    );
    assert_eq!(chat(&app, body).await.status, StatusCode::OK);
    let sent = fake.last_request().unwrap();
    let s = sent.sampling;
    assert_eq!(
        (s.temperature, s.top_p, s.top_k, s.min_p),
        (0.3, 0.9, 5, 0.1)
    );
    assert_eq!(
        (s.repeat_penalty, s.frequency_penalty, s.presence_penalty),
        (1.2, 0.5, -0.5)
    );
    assert_eq!(s.seed, Some(12_345_678_901_234));
    assert_eq!(sent.max_tokens, Some(7));
    assert_eq!(sent.stop, ["x", "y"]);
}

#[tokio::test]
async fn a_final_assistant_message_is_continued_when_asked() {
    let (app, fake) = app();
    let mut body = chat_body("a red cap");
    body["messages"]
        .as_array_mut()
        .unwrap()
        .push(json!({"role": "assistant", "content": "The red cap"}));
    body["continue_final_message"] = json!(true);
    body["add_generation_prompt"] = json!(false);
    assert_eq!(chat(&app, body.clone()).await.status, StatusCode::OK);
    let sent = fake.last_request().unwrap();
    assert_eq!(sent.prefill.as_deref(), Some("The red cap"));
    let vitrine_core::Prompt::Chat(messages) = sent.prompt else {
        panic!("a chat prompt");
    };
    assert_eq!(messages.len(), 2, "the prefill is not a turn of its own");

    // Without the flag, an assistant message is an earlier turn.
    body["continue_final_message"] = json!(false);
    assert_eq!(chat(&app, body.clone()).await.status, StatusCode::OK);
    assert_eq!(fake.last_request().unwrap().prefill, None);

    let bad = [
        (
            with(chat_body("x"), json!({"continue_final_message": true})),
            "messages",
        ),
        (
            with(body.clone(), json!({"continue_final_message": "yes"})),
            "continue_final_message",
        ),
        (
            with(
                body.clone(),
                json!({"continue_final_message": true, "add_generation_prompt": true}),
            ),
            "add_generation_prompt",
        ),
        (
            with(
                body.clone(),
                json!({"continue_final_message": true,
                    "response_format": {"type": "json_object"}}),
            ),
            "continue_final_message",
        ),
    ];
    for (body, field) in bad {
        let message = chat(&app, body.clone())
            .await
            .assert_error(400, "invalid_request");
        assert!(
            message.starts_with(&format!("{field}: ")),
            "{body} → {message}"
        );
    }
}

#[tokio::test]
async fn content_parts_and_developer_role_are_accepted() {
    let (app, fake) = app();
    let body = json!({"model": FAKE_MODEL, "messages": [
        {"role": "developer", "content": [{"type": "text", "text": "Rules."}]},
        {"role": "user", "content": [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]},
    ]});
    let reply = chat(&app, body).await;
    assert_eq!(reply.json()["choices"][0]["message"]["content"], "one two");
    let vitrine_core::Prompt::Chat(messages) = fake.last_request().unwrap().prompt else {
        panic!("a chat prompt");
    };
    assert_eq!(messages[0].role, ChatRole::System);
    assert_eq!(messages[1].content, "one\ntwo");
}

#[tokio::test]
async fn max_tokens_and_stop_end_the_answer() {
    let (app, _) = app();
    let reply = chat(&app, with(chat_body("a b c d e"), json!({"max_tokens": 2}))).await;
    let choice = &reply.json()["choices"][0];
    assert_eq!(choice["message"]["content"], "a b");
    assert_eq!(choice["finish_reason"], "length");

    let reply = chat(&app, with(chat_body("a b c d e"), json!({"stop": " c"}))).await;
    let choice = &reply.json()["choices"][0];
    assert_eq!(choice["message"]["content"], "a b");
    assert_eq!(choice["finish_reason"], "stop");
}

#[tokio::test]
async fn json_formats_reach_the_generator() {
    let (app, fake) = app();
    let reply = chat(
        &app,
        with(
            chat_body("red shoe"),
            json!({"response_format": {"type": "json_object"}}),
        ),
    )
    .await;
    let content = reply.json()["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(parse(&content), json!({"text": "red shoe"}));
    assert_eq!(
        fake.last_request().unwrap().format,
        ResponseFormat::JsonObject
    );

    let schema = json!({"type": "object", "properties": {"name": {"type": "string"}}});
    let reply = chat(
        &app,
        with(
            chat_body("red shoe"),
            json!({"response_format": {"type": "json_schema",
                "json_schema": {"name": "product", "schema": schema, "strict": true}}}),
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(
        fake.last_request().unwrap().format,
        ResponseFormat::JsonSchema {
            name: "product".into(),
            schema
        }
    );
}

#[tokio::test]
async fn completion_has_openai_shape() {
    let (app, fake) = app();
    let reply = complete(
        &app,
        json!({"model": FAKE_MODEL, "prompt": "once upon a time", "max_tokens": 3}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let body = reply.json();
    assert!(body["id"].as_str().unwrap().starts_with("cmpl-"), "{body}");
    assert_eq!(body["object"], "text_completion");
    assert_eq!(body["model"], FAKE_MODEL);
    assert_eq!(
        body["choices"],
        json!([{"index": 0, "text": "once upon a", "logprobs": null, "finish_reason": "length"}])
    );
    assert_eq!(
        body["usage"],
        json!({"prompt_tokens": 4, "completion_tokens": 3, "total_tokens": 7,
            "prompt_tokens_details": {"cached_tokens": 0}})
    );
    assert_eq!(
        fake.last_request().unwrap().prompt,
        vitrine_core::Prompt::Text("once upon a time".into())
    );
    // An array of exactly one string is the same prompt.
    let reply = complete(&app, json!({"model": FAKE_MODEL, "prompt": ["hi there"]})).await;
    assert_eq!(reply.json()["choices"][0]["text"], "hi there");
}

#[tokio::test]
async fn chat_stream_is_framed_like_openai() {
    let (app, _) = app();
    let body = with(
        chat_body("hello there shopper"),
        json!({"stream": true, "stream_options": {"include_usage": true}}),
    );
    let data = sse_data(&chat(&app, body).await);
    assert_eq!(data.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = data[..data.len() - 1].iter().map(|d| parse(d)).collect();
    let id = chunks[0]["id"].as_str().unwrap();
    assert!(id.starts_with("chatcmpl-"));
    for chunk in &chunks {
        assert_eq!(chunk["id"], id, "one id for the whole stream");
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(chunk["model"], FAKE_MODEL);
    }
    assert_eq!(
        chunks[0]["choices"],
        json!([{"index": 0, "delta": {"role": "assistant", "content": ""},
            "logprobs": null, "finish_reason": null}])
    );
    assert_eq!(chunks[0]["usage"], Value::Null);
    let (usage_chunk, rest) = chunks.split_last().unwrap();
    let (finish, pieces) = rest[1..].split_last().unwrap();
    let text: String = pieces
        .iter()
        .map(|c| {
            assert_eq!(c["choices"][0]["finish_reason"], Value::Null);
            c["choices"][0]["delta"]["content"].as_str().unwrap()
        })
        .collect();
    assert_eq!(text, "hello there shopper");
    assert_eq!(finish["choices"][0]["delta"], json!({}));
    assert_eq!(finish["choices"][0]["finish_reason"], "stop");
    assert_eq!(usage_chunk["choices"], json!([]));
    assert_eq!(
        usage_chunk["usage"],
        json!({"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12,
            "prompt_tokens_details": {"cached_tokens": 0}})
    );
}

#[tokio::test]
async fn streams_without_usage_have_no_usage_field() {
    let (app, _) = app();
    let data = sse_data(&chat(&app, with(chat_body("a b"), json!({"stream": true}))).await);
    assert_eq!(data.len(), 5, "role, 2 pieces, finish, [DONE]: {data:?}");
    for d in &data[..4] {
        assert!(parse(d).get("usage").is_none(), "{d}");
    }
}

#[tokio::test]
async fn completion_stream_is_framed_like_openai() {
    let (app, _) = app();
    let body = json!({"model": FAKE_MODEL, "prompt": "a b c", "max_tokens": 2, "stream": true,
        "stream_options": {"include_usage": true}});
    let data = sse_data(&complete(&app, body).await);
    assert_eq!(data.len(), 5, "2 pieces, finish, usage, [DONE]: {data:?}");
    let chunks: Vec<Value> = data[..4].iter().map(|d| parse(d)).collect();
    assert!(chunks.iter().all(|c| c["object"] == "text_completion"));
    assert_eq!(
        chunks[0]["choices"],
        json!([{"index": 0, "text": "a", "logprobs": null, "finish_reason": null}])
    );
    assert_eq!(chunks[1]["choices"][0]["text"], " b");
    assert_eq!(chunks[2]["choices"][0]["text"], "");
    assert_eq!(chunks[2]["choices"][0]["finish_reason"], "length");
    assert_eq!(chunks[3]["usage"]["completion_tokens"], 2);
    assert_eq!(data[4], "[DONE]");
}

#[tokio::test]
async fn every_bad_input_is_a_400_naming_its_field() {
    let (app, _) = app();
    let long = "w ".repeat(FAKE_CONTEXT as usize + 1);
    let over = u64::from(FAKE_CONTEXT) + 1;
    let cases = [
        (json!({"model": FAKE_MODEL, "messages": []}), "messages"),
        (json!({"model": FAKE_MODEL}), "messages"),
        (
            json!({"messages": [{"role": "user", "content": "hi"}]}),
            "model",
        ),
        (
            json!({"model": FAKE_MODEL, "messages": [{"role": "tool", "content": "x"}]}),
            "messages[0].role",
        ),
        (
            json!({"model": FAKE_MODEL, "messages": [{"role": "user", "content": "a"},
                {"role": "user", "content": 5}]}),
            "messages[1].content",
        ),
        (
            json!({"model": FAKE_MODEL, "messages": [{"role": "user",
                "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}),
            "messages[0].content[0].type",
        ),
        (
            with(chat_body("hi"), json!({"temperature": 2.5})),
            "temperature",
        ),
        (
            with(chat_body("hi"), json!({"temperature": "hot"})),
            "temperature",
        ),
        (with(chat_body("hi"), json!({"top_p": 0})), "top_p"),
        (with(chat_body("hi"), json!({"top_p": 1.1})), "top_p"),
        (with(chat_body("hi"), json!({"top_k": -1})), "top_k"),
        (with(chat_body("hi"), json!({"min_p": 2})), "min_p"),
        (
            with(chat_body("hi"), json!({"repeat_penalty": 0})),
            "repeat_penalty",
        ),
        (
            with(chat_body("hi"), json!({"frequency_penalty": 2.5})),
            "frequency_penalty",
        ),
        (
            with(chat_body("hi"), json!({"presence_penalty": -3})),
            "presence_penalty",
        ),
        (with(chat_body("hi"), json!({"seed": -1})), "seed"),
        (with(chat_body("hi"), json!({"seed": 1.5})), "seed"),
        (
            with(chat_body("hi"), json!({"max_tokens": 0})),
            "max_tokens",
        ),
        (
            with(chat_body("hi"), json!({"max_tokens": over})),
            "max_tokens",
        ),
        (
            with(chat_body("hi"), json!({"max_completion_tokens": 0})),
            "max_completion_tokens",
        ),
        (
            with(chat_body("hi"), json!({"stop": ["a", "b", "c", "d", "e"]})),
            "stop",
        ),
        (with(chat_body("hi"), json!({"stop": ""})), "stop"),
        (with(chat_body("hi"), json!({"stop": 7})), "stop"),
        (with(chat_body("hi"), json!({"n": 2})), "n"),
        (
            with(
                chat_body("hi"),
                json!({"response_format": {"type": "yaml"}}),
            ),
            "response_format.type",
        ),
        (
            with(
                chat_body("hi"),
                json!({"response_format": {"type": "json_schema", "json_schema": {"schema": {}}}}),
            ),
            "response_format.json_schema.name",
        ),
        (
            with(
                chat_body("hi"),
                json!({"response_format": {"type": "json_schema",
                    "json_schema": {"name": "x", "schema": "any"}}}),
            ),
            "response_format.json_schema.schema",
        ),
        (
            with(
                chat_body("hi"),
                json!({"stream_options": {"include_usage": true}}),
            ),
            "stream_options",
        ),
        (with(chat_body("hi"), json!({"stream": "yes"})), "stream"),
        // The generator's own refusal: the prompt does not fit the context.
        (chat_body(&long), "prompt"),
    ];
    for (body, field) in cases {
        let message = chat(&app, body.clone())
            .await
            .assert_error(400, "invalid_request");
        assert!(
            message.starts_with(&format!("{field}: ")),
            "{body} → {message} (expected the field {field})"
        );
    }
    let completion_cases = [
        (json!({"model": FAKE_MODEL}), "prompt"),
        (json!({"model": FAKE_MODEL, "prompt": ["a", "b"]}), "prompt"),
        (
            json!({"model": FAKE_MODEL, "prompt": "hi", "temperature": -1}),
            "temperature",
        ),
        (json!({"model": FAKE_MODEL, "prompt": long}), "prompt"),
    ];
    for (body, field) in completion_cases {
        let message = complete(&app, body.clone())
            .await
            .assert_error(400, "invalid_request");
        assert!(
            message.starts_with(&format!("{field}: ")),
            "{body} → {message}"
        );
    }
    // A body that is JSON but not an object, and one that is not JSON.
    chat(&app, json!([1, 2]))
        .await
        .assert_error(400, "invalid_request");
    let mut bad = request(
        Method::POST,
        "/v1/chat/completions",
        Some(&app.reader),
        None,
    );
    bad.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    *bad.body_mut() = axum::body::Body::from("{not json");
    app.send(bad).await.assert_error(400, "invalid_json");
}

#[tokio::test]
async fn an_unknown_model_is_a_404() {
    let (app, _) = app();
    let mut body = chat_body("hi");
    body["model"] = json!("gpt-4o");
    let message = chat(&app, body).await.assert_error(404, "model_not_found");
    assert!(message.contains("gpt-4o"), "{message}");
    complete(&app, json!({"model": "gpt-4o", "prompt": "hi"}))
        .await
        .assert_error(404, "model_not_found");
}

#[tokio::test]
async fn a_full_queue_is_a_429_with_retry_after() {
    let (app, fake) = app();
    fake.set_mode(Mode::Busy(Duration::from_millis(1500)));
    for stream in [false, true] {
        let reply = chat(&app, with(chat_body("hi"), json!({"stream": stream}))).await;
        reply.assert_error(429, "busy");
        assert_eq!(reply.headers[header::RETRY_AFTER], "2", "rounded up");
    }
}

#[tokio::test]
async fn a_failed_or_absent_model_is_a_503() {
    let (app, fake) = app();
    fake.set_mode(Mode::Failed("the worker died at /secret/path".into()));
    let message = chat(&app, chat_body("hi"))
        .await
        .assert_error(503, "unavailable");
    assert!(!message.contains("/secret/path"), "details stay in the log");
    let health = app.send(request(Method::GET, "/healthz", None, None)).await;
    assert_eq!(health.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        health.json(),
        json!({"status": "unavailable", "database": "ok",
            "llm": {"model": FAKE_MODEL, "backend": "fake", "status": "failed"}})
    );

    let bare = TestApp::new();
    let message = bare
        .json(
            Method::POST,
            "/v1/chat/completions",
            &bare.reader,
            chat_body("hi"),
        )
        .await
        .assert_error(503, "unavailable");
    assert!(
        message.contains("--llm-url") && message.contains("--model"),
        "{message}"
    );
    bare.json(
        Method::POST,
        "/v1/completions",
        &bare.reader,
        json!({"model": "x", "prompt": "hi"}),
    )
    .await
    .assert_error(503, "unavailable");
}

#[tokio::test]
async fn health_reports_the_model() {
    let (app, _) = app();
    let reply = app.send(request(Method::GET, "/healthz", None, None)).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.json(),
        json!({"status": "ok", "database": "ok", "llm": {"model": FAKE_MODEL,
            "backend": "fake", "status": "ok", "active": 0, "queued": 0}})
    );
}

#[tokio::test]
async fn a_timeout_is_a_504() {
    let (app, fake) = app();
    fake.set_mode(Mode::Timeout);
    for stream in [false, true] {
        chat(&app, with(chat_body("hi"), json!({"stream": stream})))
            .await
            .assert_error(504, "timeout");
    }
}

#[tokio::test]
async fn a_failure_after_the_stream_started_is_an_error_event() {
    let (app, fake) = app();
    fake.set_mode(Mode::FailMidway);
    let data = sse_data(&chat(&app, with(chat_body("a b c d"), json!({"stream": true}))).await);
    let last = parse(data.last().unwrap());
    assert_eq!(last["error"]["code"], "internal", "{data:?}");
    assert_eq!(last["error"]["message"], "internal server error");
    assert!(!data.iter().any(|d| d == "[DONE]"), "{data:?}");
    // Without streaming, the same failure is a plain 500.
    chat(&app, chat_body("a b c d"))
        .await
        .assert_error(500, "internal");
}

#[tokio::test]
async fn a_client_dropping_a_stream_cancels_the_generation() {
    let (app, fake) = app();
    fake.set_mode(Mode::Slow(Duration::from_millis(5)));
    let body = with(chat_body("a b c"), json!({"stream": true}));
    let response = app
        .router
        .clone()
        .oneshot(request(
            Method::POST,
            "/v1/chat/completions",
            Some(&app.reader),
            Some(body),
        ))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    let first = body
        .frame()
        .await
        .expect("a first event")
        .expect("readable");
    let first = String::from_utf8_lossy(first.data_ref().expect("data")).into_owned();
    assert!(first.contains(r#""role":"assistant""#), "{first}");
    assert_eq!(fake.cancels(), 0);
    drop(body);
    assert!(
        fake.wait_for_cancels(1),
        "the generator never saw the cancel"
    );
}

#[tokio::test]
async fn a_client_giving_up_on_a_whole_answer_cancels_it() {
    let (app, fake) = app();
    fake.set_mode(Mode::Slow(Duration::from_millis(5)));
    let gave_up = tokio::time::timeout(Duration::from_millis(50), chat(&app, chat_body("a")))
        .await
        .is_err();
    assert!(gave_up, "a slow answer of 1000 tokens cannot finish");
    assert!(
        fake.wait_for_cancels(1),
        "the generator never saw the cancel"
    );
}

#[tokio::test]
async fn the_api_needs_a_key_and_a_reader_may_call_it() {
    let (app, _) = app();
    for (method, path) in [
        (Method::POST, "/v1/chat/completions"),
        (Method::POST, "/v1/completions"),
        (Method::GET, "/v1/models"),
    ] {
        app.send(request(method.clone(), path, None, Some(chat_body("hi"))))
            .await
            .assert_error(401, "unauthorized");
        app.send(request(
            method.clone(),
            path,
            Some(common::UNKNOWN_KEY),
            Some(chat_body("hi")),
        ))
        .await
        .assert_error(401, "unauthorized");
    }
    assert_eq!(chat(&app, chat_body("hi")).await.status, StatusCode::OK);
    for key in [&app.merchant, &app.admin] {
        let reply = app
            .json(Method::POST, "/v1/chat/completions", key, chat_body("hi"))
            .await;
        assert_eq!(reply.status, StatusCode::OK);
    }
}

#[tokio::test]
async fn metrics_count_tokens_and_time_to_first_token() {
    let (app, _) = app();
    chat(&app, chat_body("one two three")).await;
    let data = sse_data(&chat(&app, with(chat_body("four five"), json!({"stream": true}))).await);
    assert_eq!(data.last().unwrap(), "[DONE]");
    let metrics = app.get("/metrics", &app.reader).await.text();
    assert!(
        metrics.contains("vitrine_llm_generated_tokens_total 5"),
        "{metrics}"
    );
    assert!(
        metrics.contains("vitrine_llm_time_to_first_token_seconds_count 2"),
        "{metrics}"
    );
}

#[test]
fn finish_reasons_serialize_as_openai_names() {
    assert_eq!(json!(FinishReason::Length), json!("length"));
}
