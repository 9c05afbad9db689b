//! The claim extractor and checker on a table of hand-written true and false claims about two
//! products: a Myntra-style pair of jeans (facts in title and attributes) and a trolley bag
//! (facts in the merchant's description too). Each row is a sentence, the kind of claim it
//! makes, and whether the record supports it.

use serde_json::json;
use vitrine_content::{ClaimKind, Extractor, Facts, Grounding, Verifier, remove_unsupported};
use vitrine_core::{Product, ProductDraft};

fn product(v: serde_json::Value) -> Product {
    let text = |k: &str| v[k].as_str().map(str::to_owned);
    let draft = ProductDraft {
        id: text("id").expect("id"),
        sku: None,
        title: text("title").expect("title"),
        brand: text("brand"),
        category: text("category"),
        price_minor: v["price_minor"].as_i64().expect("price"),
        currency: text("currency").expect("currency"),
        attributes: v["attributes"].as_object().cloned().unwrap_or_default(),
        description: text("description"),
        image_urls: Vec::new(),
    };
    Product::from_draft(draft, 0, 0)
}

fn jeans() -> Product {
    product(json!({
        "id": "10009781",
        "title": "SPYKAR Women Pink Alexa Super Skinny Fit High-Rise Stretchable Cropped Jeans",
        "brand": "SPYKAR",
        "category": "Jeans",
        "price_minor": 89900,
        "currency": "INR",
        "attributes": {
            "gender": "Women",
            "primary_color": "Pink",
            "material": "98% cotton, 2% elastane",
            "pockets": "5-pocket",
            "sizes": ["S", "M", "L"],
            "machine_washable": true,
            "compare_at_price": 1499
        }
    }))
}

fn bag() -> Product {
    product(json!({
        "id": "10017413",
        "title": "DKNY Unisex Black & Grey Printed Medium Trolley Bag",
        "brand": "DKNY",
        "price_minor": 1174500,
        "currency": "INR",
        "attributes": {"gender": "Unisex", "primary_color": "Black", "weight_kg": 3.2},
        "description": "Black and grey printed medium trolley bag, secured with a TSA lock. Four \
            corner mounted inline skate wheels, one main zip compartment, two compression straps. \
            Polyester shell, water-resistant. Warranty: 5 years. Made in India."
    }))
}

/// (product, sentence, kind of its claim, supported?)
type Case = (&'static str, &'static str, ClaimKind, bool);

#[rustfmt::skip]
const CASES: &[Case] = &[
    // Colours (and families: navy is blue; grey and gray are one word).
    ("jeans", "These pink jeans brighten any day.", ClaimKind::Colour, true),
    ("jeans", "A deep blue wash finishes them.", ClaimKind::Colour, false),
    ("jeans", "Invented in a red shade.", ClaimKind::Colour, false),
    ("bag", "A black shell with grey print.", ClaimKind::Colour, true),
    ("bag", "Its gray print stands out.", ClaimKind::Colour, true),
    ("bag", "A navy body travels well.", ClaimKind::Colour, false),
    ("bag", "Offered in olive green.", ClaimKind::Colour, false),
    // Materials: synonyms agree, faux and real leather do not.
    ("jeans", "Cut from soft cotton.", ClaimKind::Material, true),
    ("jeans", "A touch of spandex adds give.", ClaimKind::Material, true),
    ("jeans", "Made of pure silk.", ClaimKind::Material, false),
    ("jeans", "Trimmed with genuine leather.", ClaimKind::Material, false),
    ("bag", "A tough polyester shell.", ClaimKind::Material, true),
    ("bag", "The frame is aluminum.", ClaimKind::Material, false),
    ("bag", "The shell is made of paper.", ClaimKind::Material, false),
    // Numbers with units and counted nouns, converted when both are measures.
    ("jeans", "A classic 5-pocket design.", ClaimKind::Number, true),
    ("jeans", "Five pockets hold your essentials.", ClaimKind::Number, true),
    ("jeans", "Three pockets hold your essentials.", ClaimKind::Number, false),
    ("jeans", "The fabric is 98% cotton.", ClaimKind::Number, true),
    ("jeans", "The fabric is 100% cotton.", ClaimKind::Number, false),
    ("bag", "It weighs just 3.2 kg.", ClaimKind::Number, true),
    ("bag", "It weighs just 3200 g.", ClaimKind::Number, true),
    ("bag", "It weighs only 13kg.", ClaimKind::Number, false),
    ("bag", "It rolls on four wheels.", ClaimKind::Number, true),
    ("bag", "It rolls on 2 wheels.", ClaimKind::Number, false),
    ("bag", "Two compression straps keep things tight.", ClaimKind::Number, true),
    ("bag", "Since 1989 we have made bags.", ClaimKind::Number, false),
    // Prices and discounts, in the record's currency.
    ("jeans", "Yours for Rs. 899.", ClaimKind::Price, true),
    ("jeans", "Yours for ₹899.", ClaimKind::Price, true),
    ("jeans", "Yours for $5.79.", ClaimKind::Price, false),
    ("jeans", "Yours for Rs. 799.", ClaimKind::Price, false),
    ("jeans", "Was Rs 1,499.", ClaimKind::Price, true),
    ("jeans", "Now 40% off.", ClaimKind::Discount, true),
    ("jeans", "Now 60% off.", ClaimKind::Discount, false),
    ("jeans", "Save with Rs. 600 off.", ClaimKind::Discount, true),
    ("bag", "Now 20% off.", ClaimKind::Discount, false),
    ("bag", "Grab it on sale today.", ClaimKind::Discount, false),
    // Sizes and fits.
    ("jeans", "Available in sizes S, M and L.", ClaimKind::Size, true),
    ("jeans", "Also in XXL.", ClaimKind::Size, false),
    ("jeans", "A super skinny fit hugs the leg.", ClaimKind::Size, true),
    ("jeans", "A relaxed fit for easy days.", ClaimKind::Size, false),
    ("jeans", "The high-rise waist flatters.", ClaimKind::Size, true),
    ("jeans", "The low-rise waist sits on the hips.", ClaimKind::Size, false),
    ("bag", "It comes in one size.", ClaimKind::Size, false),
    // Audience.
    ("jeans", "Made for women who move.", ClaimKind::Audience, true),
    ("jeans", "A great pick for men.", ClaimKind::Audience, false),
    ("bag", "For men and women alike.", ClaimKind::Audience, true),
    ("bag", "Sized for kids.", ClaimKind::Audience, false),
    // Brands: the product's own, or another of the catalog.
    ("jeans", "A favourite from SPYKAR.", ClaimKind::Brand, true),
    ("jeans", "Styled like the best of Levis.", ClaimKind::Brand, false),
    ("bag", "Another classic by DKNY.", ClaimKind::Brand, true),
    ("bag", "Built with Samsonite know-how.", ClaimKind::Brand, false),
    // Certifications and origin.
    ("jeans", "Made from organic cotton.", ClaimKind::Certification, false),
    ("jeans", "Every pair is handcrafted.", ClaimKind::Certification, false),
    ("bag", "Proudly made in India.", ClaimKind::Certification, true),
    ("bag", "Proudly made in Italy.", ClaimKind::Certification, false),
    ("bag", "An eco-friendly companion.", ClaimKind::Certification, false),
    ("bag", "It is 100% natural.", ClaimKind::Certification, false),
    // Superlatives.
    ("jeans", "Our best-selling jeans.", ClaimKind::Superlative, false),
    ("jeans", "The #1 choice of stylists.", ClaimKind::Superlative, false),
    ("jeans", "The best product in its market.", ClaimKind::Superlative, false),
    ("jeans", "Jeans of the highest quality, unrivalled.", ClaimKind::Superlative, false),
    ("jeans", "A new arrival this season.", ClaimKind::Superlative, false),
    ("bag", "An award-winning design.", ClaimKind::Superlative, false),
    // Guarantees.
    ("bag", "Backed by a warranty.", ClaimKind::Guarantee, true),
    ("bag", "Backed by a lifetime warranty.", ClaimKind::Guarantee, false),
    ("jeans", "Comes with a money-back promise.", ClaimKind::Guarantee, false),
    ("jeans", "Enjoy free shipping.", ClaimKind::Guarantee, false),
    // Health and safety.
    ("jeans", "Hypoallergenic denim for sensitive skin.", ClaimKind::HealthSafety, false),
    ("jeans", "Treated to be antibacterial.", ClaimKind::HealthSafety, false),
    ("bag", "Non-toxic materials throughout.", ClaimKind::HealthSafety, false),
    // Performance and care.
    ("bag", "A water-resistant shell.", ClaimKind::Performance, true),
    ("bag", "A fully waterproof shell.", ClaimKind::Performance, false),
    ("jeans", "They are machine washable.", ClaimKind::Performance, true),
    ("jeans", "The stretchable denim moves with you.", ClaimKind::Performance, true),
    ("jeans", "Breathable and quick-dry.", ClaimKind::Performance, false),
    ("jeans", "Dry clean only.", ClaimKind::Performance, false),
];

fn facts(name: &str) -> Facts {
    let p = match name {
        "jeans" => jeans(),
        "bag" => bag(),
        other => panic!("no product {other}"),
    };
    Facts::from_product(&p, Grounding::WithDescription).expect("facts")
}

fn extractor() -> Extractor {
    Extractor::new(
        ["SPYKAR", "DKNY", "Levis", "Samsonite", "Roadster"],
        ["cheap"],
    )
}

#[test]
fn table_of_true_and_false_claims() {
    assert!(CASES.len() >= 60, "{} cases", CASES.len());
    let extractor = extractor();
    let mut failures = Vec::new();
    for &(product, sentence, kind, expected) in CASES {
        let facts = facts(product);
        let report = Verifier::new(&facts, &extractor).check(sentence);
        let of_kind: Vec<_> = report
            .claims
            .iter()
            .filter(|c| c.claim.kind == kind)
            .collect();
        if of_kind.is_empty() {
            failures.push(format!(
                "{product}: {sentence:?}: no {kind:?} claim found in {:?}",
                report.claims
            ));
            continue;
        }
        let all_supported = of_kind.iter().all(|c| c.is_supported());
        if all_supported != expected {
            failures.push(format!(
                "{product}: {sentence:?}: expected supported={expected}, got {:?}",
                of_kind
                    .iter()
                    .map(|c| (&c.claim.text, &c.verdict))
                    .collect::<Vec<_>>()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
}

#[test]
fn puffery_is_not_a_claim() {
    let facts = facts("jeans");
    let extractor = extractor();
    let report = Verifier::new(&facts, &extractor)
        .check("Stylish, comfortable and soft, these are the jeans you will reach for every day.");
    assert!(report.claims.is_empty(), "{:?}", report.claims);
}

#[test]
fn banned_phrases_are_never_supported() {
    let facts = facts("jeans");
    let extractor = extractor();
    let report = Verifier::new(&facts, &extractor).check("Cheap pink jeans.");
    assert_eq!(report.found(), 2);
    assert_eq!(report.supported(), 1);
    assert_eq!(
        report.unsupported().next().unwrap().claim.kind,
        ClaimKind::Banned
    );
}

#[test]
fn removal_drops_whole_sentences_with_unsupported_claims() {
    let facts = facts("bag");
    let extractor = extractor();
    let text = "A black trolley bag from DKNY. It weighs only 13kg and is 100% natural. \
                Four wheels glide anywhere.";
    let report = Verifier::new(&facts, &extractor).check(text);
    let repair = remove_unsupported(text, &report);
    assert_eq!(
        repair.text,
        "A black trolley bag from DKNY. Four wheels glide anywhere."
    );
    assert_eq!(repair.removed.len(), 1);
    assert_eq!(repair.removed[0].claims, ["13kg", "100% natural"]);
    assert!(
        Verifier::new(&facts, &extractor)
            .check(&repair.text)
            .is_clean()
    );
}

#[test]
fn a_record_with_only_a_title_cannot_ground_copy() {
    let p =
        product(json!({"id": "x", "title": "Mystery box", "price_minor": 100, "currency": "USD"}));
    let err = Facts::from_product(&p, Grounding::AttributesOnly).unwrap_err();
    assert!(err.to_string().contains("only a title"), "{err}");
}

#[test]
fn the_description_grounds_only_when_allowed() {
    let extractor = extractor();
    let with = Facts::from_product(&bag(), Grounding::WithDescription).unwrap();
    let without = Facts::from_product(&bag(), Grounding::AttributesOnly).unwrap();
    let text = "Backed by a 5-year warranty.";
    assert!(Verifier::new(&with, &extractor).check(text).is_clean());
    assert!(!Verifier::new(&without, &extractor).check(text).is_clean());
}

#[test]
fn steering_avoids_what_the_record_does_not_state() {
    let facts = facts("jeans");
    let steer = vitrine_content::steering(&facts, &extractor());
    let avoid = |w: &str| steer.avoid.iter().any(|a| a == w);
    for word in [
        "silk",
        "red",
        "waterproof",
        "men",
        "best-selling",
        "organic",
        "dkny",
        "xxl",
    ] {
        assert!(avoid(word), "{word} should be avoided");
    }
    for word in [
        "pink",
        "cotton",
        "spandex",
        "women",
        "stretchable",
        "spykar",
        "skinny",
    ] {
        assert!(!avoid(word), "{word} is in the record");
    }
    let numbers = steer.numbers.expect("numbers are steered");
    for n in ["899", "899.00", "98", "2", "5", "1499"] {
        assert!(numbers.iter().any(|x| x == n), "{n} in {numbers:?}");
    }
    assert!(!numbers.iter().any(|x| x == "100"));
}
