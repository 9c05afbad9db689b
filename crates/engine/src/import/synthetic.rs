//! Synthetic catalogs and event streams for the import benchmark: deterministic for a seed,
//! written as a stream so a million rows cost no memory.

use std::io::Write;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const BRANDS: &[&str] = &[
    "Northfold",
    "Soundly",
    "Lumen & Co",
    "Brightwell",
    "Kestrel",
    "Orla",
    "Tidewater",
    "Ember",
    "Halcyon",
    "Juniper Lane",
    "Vantage",
    "Mossgrove",
];
const CATEGORIES: &[(&str, &[&str])] = &[
    (
        "apparel",
        &["T-Shirt", "Hoodie", "Chinos", "Dress", "Jacket", "Sweater"],
    ),
    (
        "footwear",
        &["Sneaker", "Boot", "Sandal", "Loafer", "Trail Runner"],
    ),
    (
        "electronics",
        &["Earbuds", "Headphones", "Speaker", "Charger", "Smartwatch"],
    ),
    (
        "home",
        &["Mug", "Throw Blanket", "Lamp", "Cutting Board", "Vase"],
    ),
    (
        "beauty",
        &[
            "Face Serum",
            "Lip Balm",
            "Shampoo",
            "Hand Cream",
            "Sunscreen",
        ],
    ),
];
const COLORS: &[&str] = &[
    "black", "white", "navy", "olive", "sand", "red", "grey", "teal",
];
const MATERIALS: &[&str] = &[
    "cotton",
    "wool",
    "leather",
    "recycled polyester",
    "ceramic",
    "oak",
];
const ADJECTIVES: &[&str] = &[
    "Classic",
    "Everyday",
    "Lightweight",
    "Relaxed",
    "Essential",
    "Pro",
];

/// Writes `count` products as JSON Lines.
pub fn write_products(out: &mut dyn Write, count: u64, seed: u64) -> std::io::Result<()> {
    let mut rng = StdRng::seed_from_u64(seed);
    for i in 0..count {
        let (category, nouns) = CATEGORIES[rng.random_range(0..CATEGORIES.len())];
        let noun = nouns[rng.random_range(0..nouns.len())];
        let brand = BRANDS[rng.random_range(0..BRANDS.len())];
        let color = COLORS[rng.random_range(0..COLORS.len())];
        let material = MATERIALS[rng.random_range(0..MATERIALS.len())];
        let adjective = ADJECTIVES[rng.random_range(0..ADJECTIVES.len())];
        let cents: u32 = rng.random_range(499..49_999);
        let row = serde_json::json!({
            "id": format!("p{i:08}"),
            "sku": format!("SKU-{i:08}"),
            "title": format!("{brand} {adjective} {noun} in {color}"),
            "brand": brand,
            "category": category,
            "price": format!("{}.{:02}", cents / 100, cents % 100),
            "currency": "USD",
            "attributes": {"color": color, "material": material, "rating_count": rng.random_range(0..5000)},
            "description": format!(
                "The {adjective} {noun} from {brand}, made of {material} in {color}. A {category} staple for every day."
            ),
            "image_urls": [format!("https://cdn.example.com/p{i:08}.jpg")]
        });
        serde_json::to_writer(&mut *out, &row)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// Writes `count` time-ordered events over `products` products as JSON Lines.
pub fn write_events(
    out: &mut dyn Write,
    count: u64,
    products: u64,
    seed: u64,
) -> std::io::Result<()> {
    let mut rng = StdRng::seed_from_u64(seed);
    let shoppers = (count / 25).max(1);
    // 2026-10-01T00:00:00Z, then a few hundred milliseconds between events.
    let mut ts: i64 = 1_790_812_800_000;
    for _ in 0..count {
        ts += rng.random_range(1..400);
        let kind = match rng.random_range(0..100) {
            0..=59 => "view",
            60..=84 => "impression",
            85..=92 => "cart",
            93..=96 => "click",
            _ => "purchase",
        };
        let row = serde_json::json!({
            "shopper": format!("s{:08}", rng.random_range(0..shoppers)),
            "product": format!("p{:08}", rng.random_range(0..products.max(1))),
            "kind": kind,
            "ts": vitrine_core::format_millis(ts),
        });
        serde_json::to_writer(&mut *out, &row)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}
