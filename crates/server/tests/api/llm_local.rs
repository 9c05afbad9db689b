//! The real default model (SmolLM2-135M-Instruct) through the shared generator suite: directly,
//! and through Vitrine's OpenAI-compatible API on a loopback port as another Vitrine reaches it
//! with `--llm-url`. Skips, saying so, when the model is not installed (CI installs it).

use crate::common;

use std::sync::Arc;

use common::{Served, TestApp, suite};
use vitrine_core::{ChatMessage, ChatRole, GenerationRequest, TextGenerator, generate};
use vitrine_engine::models::{DEFAULT_MODEL, ModelDir};
use vitrine_engine::text::{LocalConfig, LocalGenerator, RemoteConfig, RemoteGenerator};

fn local() -> Option<Arc<LocalGenerator>> {
    let path = ModelDir::installed_default()
        .map_err(|why| eprintln!("skipped: {why}"))
        .ok()?;
    let mut config = LocalConfig::new(path, DEFAULT_MODEL);
    config.slots = 4;
    config.context = 4096;
    config.threads = Some(2);
    Some(Arc::new(
        LocalGenerator::load(&config).expect("the model loads"),
    ))
}

#[test]
fn the_local_model_passes_the_suite() {
    let Some(model) = local() else { return };
    suite::all(model.as_ref());
}

#[test]
fn a_vitrine_serves_another_vitrine() {
    let Some(model) = local() else { return };
    let app = TestApp::with_generator(model.clone());
    let served = Served::new(app.router.clone());
    let mut config = RemoteConfig::new(served.url());
    config.api_key = Some(app.reader.clone());
    config.context_length = model.info().context_length;
    let remote = RemoteGenerator::connect(&config).expect("connects to the loopback Vitrine");
    assert_eq!(
        remote.info().model,
        DEFAULT_MODEL,
        "discovered from /v1/models"
    );
    assert_eq!(remote.info().backend, "remote");
    suite::all(&remote);

    // Through the API or not, a seeded request gives the same text from the same idle model.
    let mut request = GenerationRequest::chat(vec![ChatMessage::new(
        ChatRole::User,
        "Name three colours of socks.",
    )]);
    request.sampling.seed = Some(5);
    request.max_tokens = Some(24);
    let direct = generate(model.as_ref(), request.clone()).expect("direct");
    let remote_text = generate(&remote, request).expect("remote");
    assert_eq!(remote_text.text, direct.text);
    assert_eq!(
        remote_text.usage.completion_tokens,
        direct.usage.completion_tokens
    );
}
