//! Description prompts: option ranges, the fact sheet, and few-shot examples from similar
//! products of the catalog.

use serde_json::json;
use vitrine_content::{
    DescriptionOptions, Example, Facts, Grounding, Length, Tone, description_messages, fact_sheet,
    similar,
};
use vitrine_core::{ChatRole, Product, ProductDraft};

fn product(
    id: &str,
    title: &str,
    brand: &str,
    category: &str,
    description: Option<&str>,
) -> Product {
    let draft = ProductDraft {
        id: id.into(),
        sku: None,
        title: title.into(),
        brand: Some(brand.into()),
        category: Some(category.into()),
        price_minor: 89_900,
        currency: "INR".into(),
        attributes: json!({"primary_color": "Pink", "gender": "Women"})
            .as_object()
            .cloned()
            .unwrap(),
        description: description.map(str::to_owned),
        image_urls: Vec::new(),
    };
    Product::from_draft(draft, 0, 0)
}

#[test]
fn options_out_of_range_name_the_field() {
    assert!(DescriptionOptions::default().validate().is_ok());
    for (options, field) in [
        (
            DescriptionOptions {
                variants: 0,
                ..Default::default()
            },
            "variants",
        ),
        (
            DescriptionOptions {
                variants: 9,
                ..Default::default()
            },
            "variants",
        ),
        (
            DescriptionOptions {
                audience: Some(" ".into()),
                ..Default::default()
            },
            "audience",
        ),
        (
            DescriptionOptions {
                audience: Some("x".repeat(81)),
                ..Default::default()
            },
            "audience",
        ),
        (
            DescriptionOptions {
                audience: Some("a\nb".into()),
                ..Default::default()
            },
            "audience",
        ),
    ] {
        let err = options.validate().unwrap_err().to_string();
        assert!(err.starts_with(field), "{err}");
    }
    let parsed: DescriptionOptions =
        serde_json::from_value(json!({"tone": "premium", "length": "short"})).unwrap();
    assert_eq!(
        (parsed.tone, parsed.length, parsed.variants),
        (Tone::Premium, Length::Short, 1)
    );
    assert!(serde_json::from_value::<DescriptionOptions>(json!({"tone": "angry"})).is_err());
}

#[test]
fn the_fact_sheet_lists_every_field_with_a_label() {
    let p = product(
        "1",
        "SPYKAR Women Pink Cropped Jeans",
        "SPYKAR",
        "Jeans",
        Some("Secret"),
    );
    let facts = Facts::from_product(&p, Grounding::AttributesOnly).unwrap();
    let sheet = fact_sheet(&facts);
    assert_eq!(
        sheet,
        "Title: SPYKAR Women Pink Cropped Jeans\nBrand: SPYKAR\nCategory: Jeans\n\
         Gender: Women\nPrimary color: Pink\nPrice: 899 INR"
    );
}

#[test]
fn examples_come_from_similar_products_never_the_product_itself() {
    let target = product(
        "1",
        "SPYKAR Women Pink Cropped Jeans",
        "SPYKAR",
        "Jeans",
        Some("own"),
    );
    let catalog = vec![
        target.clone(),
        product(
            "2",
            "Roadster Men Blue Slim Jeans",
            "Roadster",
            "Jeans",
            Some("jeans copy"),
        ),
        product(
            "3",
            "SPYKAR Women Pink Top",
            "SPYKAR",
            "Tops",
            Some("top copy"),
        ),
        product(
            "4",
            "SPYKAR Women Black Cropped Jeans",
            "SPYKAR",
            "Jeans",
            Some("best copy"),
        ),
        product(
            "5",
            "SPYKAR Women Pink Cropped Jeans",
            "SPYKAR",
            "Jeans",
            None,
        ),
    ];
    let ids: Vec<&str> = similar(&target, &catalog, 3)
        .iter()
        .map(|p| p.id.as_str())
        .collect();
    assert_eq!(ids, ["4", "2", "3"]);
}

#[test]
fn messages_hold_rules_examples_then_the_product() {
    let p = product(
        "1",
        "SPYKAR Women Pink Cropped Jeans",
        "SPYKAR",
        "Jeans",
        None,
    );
    let facts = Facts::from_product(&p, Grounding::AttributesOnly).unwrap();
    let options = DescriptionOptions {
        tone: Tone::Playful,
        length: Length::Short,
        audience: Some("students".into()),
        ..Default::default()
    };
    let examples = [Example {
        facts: "Title: Other".into(),
        description: "Other copy.".into(),
    }];
    let m = description_messages(&facts, &options, &examples);
    let roles: Vec<ChatRole> = m.iter().map(|m| m.role).collect();
    assert_eq!(
        roles,
        [
            ChatRole::System,
            ChatRole::User,
            ChatRole::Assistant,
            ChatRole::User
        ]
    );
    assert!(m[0].content.contains("about 40 words") && m[0].content.contains("playful"));
    assert!(m[0].content.contains("students"));
    assert_eq!(m[2].content, "Other copy.");
    assert!(m[3].content.contains("Primary color: Pink"));
}
