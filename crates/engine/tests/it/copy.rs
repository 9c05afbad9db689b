//! Grounded descriptions with the real default model: every claim of the kept text is
//! supported by the record and nothing loops. Skips, saying so, when the model is not installed; CI
//! installs it (`make models`).

use serde_json::json;
use vitrine_content::{
    DescriptionOptions, Extractor, Facts, Grounding, Length, Verifier, repeated_ngram,
};
use vitrine_core::{Product, ProductDraft};
use vitrine_engine::copy::{CopySettings, describe};
use vitrine_engine::eval::key_fact_coverage;
use vitrine_engine::models::{DEFAULT_MODEL, ModelDir};
use vitrine_engine::text::{LocalConfig, LocalGenerator};

fn generator() -> Option<LocalGenerator> {
    let path = ModelDir::installed_default()
        .map_err(|why| eprintln!("skipped: {why}"))
        .ok()?;
    let mut config = LocalConfig::new(path, DEFAULT_MODEL);
    config.threads = Some(2);
    config.slots = 4;
    config.context = 4096;
    Some(LocalGenerator::load(&config).expect("the model loads"))
}

fn jeans() -> Product {
    let draft = ProductDraft {
        id: "10009781".into(),
        sku: None,
        title: "SPYKAR Women Pink Super Skinny Fit High-Rise Cropped Jeans".into(),
        brand: Some("SPYKAR".into()),
        category: Some("Jeans".into()),
        price_minor: 89_900,
        currency: "INR".into(),
        attributes: json!({"gender": "Women", "primary_color": "Pink"})
            .as_object()
            .cloned()
            .unwrap(),
        description: None,
        image_urls: Vec::new(),
    };
    Product::from_draft(draft, 0, 0)
}

#[test]
fn grounded_descriptions_hold_only_supported_claims() {
    let Some(generator) = generator() else { return };
    let product = jeans();
    let facts = Facts::from_product(&product, Grounding::AttributesOnly).unwrap();
    let extractor = Extractor::new(["SPYKAR", "Levis", "DKNY", "Roadster"], ["cheap"]);
    let options = DescriptionOptions {
        length: Length::Short,
        variants: 2,
        ..DescriptionOptions::default()
    };
    let variants = describe(
        &generator,
        &extractor,
        &facts,
        &[],
        &options,
        7,
        &CopySettings::default(),
    );
    assert_eq!(variants.len(), 2);
    let verifier = Verifier::new(&facts, &extractor);
    for v in variants {
        let v = v.expect("generates");
        assert!(!v.text.trim().is_empty(), "nothing kept of {:?}", v.raw);
        assert!(v.report.is_clean(), "{:?}", v.report);
        assert!(verifier.check(&v.text).is_clean(), "{:?}", v.text);
        assert!(repeated_ngram(&v.text, 4, 3).is_none(), "{:?}", v.text);
        // Steering blocks the loop as it is written, not only afterwards.
        assert!(repeated_ngram(&v.raw, 4, 3).is_none(), "{:?}", v.raw);
        assert!((1..=3).contains(&v.attempts));
        assert_eq!(v.all_raw.len(), v.attempts as usize);
        // Brand, audience, colour and price: named by the model or by the closing sentence.
        assert_eq!(
            key_fact_coverage(&product, &v.text),
            Some(1.0),
            "{:?}",
            v.text
        );
    }
}
