//! The key facts a description names: the brand, who the product is for, its colour and its
//! price. A small model leaves some out (the bundled 135M one named the price in about half of
//! its descriptions, measured by `vitrine eval copy`), and verification can take out the
//! sentence that named one. The description then closes with one sentence, written from the
//! record, that states those left out ("Available in navy for men from Park Avenue at 1299
//! INR."): every word of it is a fact or a connective, so it is true by construction.

use crate::facts::Facts;
use crate::metrics::{Coverage, coverage};
use crate::token::format_number;

/// Attribute names that hold the product's colour.
const COLOUR_KEYS: &[&str] = &[
    "primary_color",
    "primary_colour",
    "color",
    "colour",
    "base_colour",
    "base_color",
];
/// Attribute names that say who the product is for.
const AUDIENCE_KEYS: &[&str] = &["gender", "audience"];

/// The key facts of a record that states them, as (name, value): `brand`, `gender`, `colour`
/// and `price` ("1299 INR"), in that order.
pub fn key_facts(facts: &Facts) -> Vec<(String, String)> {
    let attribute = |keys: &[&str]| {
        keys.iter().find_map(|key| {
            facts
                .texts()
                .find(|(name, _)| {
                    name.strip_prefix("attributes.")
                        .is_some_and(|n| n.eq_ignore_ascii_case(key))
                })
                .map(|(_, text)| text.trim().to_owned())
        })
    };
    let brand = facts
        .texts()
        .find(|(name, _)| *name == "brand")
        .map(|(_, text)| text.trim().to_owned());
    let price = facts
        .price
        .map(|p| format!("{} {}", format_number(p), facts.currency));
    [
        ("brand", brand),
        ("gender", attribute(AUDIENCE_KEYS)),
        ("colour", attribute(COLOUR_KEYS)),
        ("price", price),
    ]
    .into_iter()
    .filter_map(|(name, value)| {
        value
            .filter(|v| !v.is_empty())
            .map(|v| (name.to_owned(), v))
    })
    .collect()
}

/// Which of the key facts of `facts` `text` mentions.
pub fn key_fact_coverage(text: &str, facts: &Facts) -> Coverage {
    // Coverage finds a price by its number, without the currency.
    let probe: Vec<(String, String)> = key_facts(facts)
        .into_iter()
        .map(|(name, value)| match (name.as_str(), facts.price) {
            ("price", Some(p)) => (name, format_number(p)),
            _ => (name, value),
        })
        .collect();
    coverage(text, &probe)
}

/// A closing sentence stating the key facts `text` does not mention, and their names; `None`
/// when it mentions them all.
pub fn closing_sentence(text: &str, facts: &Facts) -> Option<(String, Vec<String>)> {
    let key = key_facts(facts);
    let missing = key_fact_coverage(text, facts).missing;
    if missing.is_empty() {
        return None;
    }
    let value = |name: &str| {
        key.iter()
            .find(|(n, _)| n == name && missing.iter().any(|m| m == name))
            .map(|(_, v)| v.as_str())
    };
    let mut sentence = String::from("Available");
    let mut audience = value("gender").map(str::to_lowercase);
    // "Unisex" is not someone a product is for: it leads ("Unisex, available …"), and what
    // follows it ("Unisex Kids") is the audience.
    if let Some(rest) = audience.as_deref().and_then(|a| a.strip_prefix("unisex")) {
        sentence = String::from("Unisex, available");
        audience = Some(rest.trim().to_owned()).filter(|r| !r.is_empty());
    }
    if let Some(colour) = value("colour") {
        sentence.push_str(" in ");
        sentence.push_str(&colour.to_lowercase());
    }
    if let Some(audience) = audience {
        sentence.push_str(" for ");
        sentence.push_str(&audience);
    }
    if let Some(brand) = value("brand") {
        sentence.push_str(" from ");
        sentence.push_str(brand);
    }
    if let Some(price) = value("price") {
        sentence.push_str(" at ");
        sentence.push_str(price);
    }
    sentence.push('.');
    Some((sentence, missing))
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use vitrine_core::{Product, ProductDraft};

    use super::*;
    use crate::Grounding;

    fn facts(gender: &str) -> Facts {
        let mut attributes = serde_json::Map::new();
        attributes.insert("gender".into(), json!(gender));
        attributes.insert("primary_color".into(), json!("Navy Blue"));
        let draft = ProductDraft {
            id: "p1".into(),
            sku: None,
            title: "Park Avenue Men Blue Regular Fit Formal Shirt".into(),
            brand: Some("Park Avenue".into()),
            category: None,
            price_minor: 129_900,
            currency: "INR".into(),
            attributes,
            description: None,
            image_urls: Vec::new(),
        };
        Facts::from_product(&Product::from_draft(draft, 0, 0), Grounding::AttributesOnly).unwrap()
    }

    #[test]
    fn only_what_the_text_leaves_out_is_added() {
        let f = facts("Men");
        assert_eq!(
            key_facts(&f),
            [
                ("brand".to_owned(), "Park Avenue".to_owned()),
                ("gender".to_owned(), "Men".to_owned()),
                ("colour".to_owned(), "Navy Blue".to_owned()),
                ("price".to_owned(), "1299 INR".to_owned()),
            ]
        );
        let (sentence, missing) =
            closing_sentence("A Park Avenue shirt for men, in navy blue.", &f).unwrap();
        assert_eq!(sentence, "Available at 1299 INR.");
        assert_eq!(missing, ["price"]);
        let (sentence, _) = closing_sentence("A crisp formal shirt.", &f).unwrap();
        assert_eq!(
            sentence,
            "Available in navy blue for men from Park Avenue at 1299 INR."
        );
        assert!(closing_sentence("Park Avenue's navy blue shirt for men, 1299 INR.", &f).is_none());
    }

    #[test]
    fn unisex_leads_the_sentence() {
        let (sentence, _) = closing_sentence("A shirt.", &facts("Unisex Kids")).unwrap();
        assert_eq!(
            sentence,
            "Unisex, available in navy blue for kids from Park Avenue at 1299 INR."
        );
        let (sentence, _) = closing_sentence("A shirt.", &facts("Unisex")).unwrap();
        assert_eq!(
            sentence,
            "Unisex, available in navy blue from Park Avenue at 1299 INR."
        );
    }
}
