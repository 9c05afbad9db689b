//! The words that make a checkable claim: colours, materials, certifications, superlatives,
//! guarantees, health and safety, performance and care, audiences, sizes and fits, sale terms.
//! Each entry maps its spellings to one canonical name, so "spandex" in the copy and "Lycra" in
//! the catalog are the same fact, and "navy" counts as a blue.
//!
//! Words that are puffery without a fact behind them ("stylish", "comfortable", "soft",
//! "durable", "lightweight") are deliberately absent: copy may use them freely.

use std::collections::HashMap;
use std::sync::LazyLock;

use crate::claim::ClaimKind;
use crate::token::{Token, phrase_key};

/// Canonical name, then its spellings (the canonical name is one of them implicitly).
type Group = (&'static str, &'static [&'static str]);

const COLOURS: &[Group] = &[
    ("black", &["jet black"]),
    ("white", &["pure white"]),
    ("off white", &["off-white", "ivory", "cream", "eggshell"]),
    ("grey", &["silver grey", "ash"]),
    ("charcoal", &["charcoal grey"]),
    ("blue", &["royal blue", "cobalt", "sapphire", "azure"]),
    ("navy", &["navy blue"]),
    ("sky blue", &["light blue", "baby blue", "powder blue"]),
    (
        "teal",
        &["teal blue", "teal green", "turquoise", "aqua", "cyan"],
    ),
    ("red", &["scarlet", "crimson", "cherry red"]),
    ("maroon", &["burgundy", "wine red", "oxblood"]),
    (
        "pink",
        &["blush", "fuchsia", "hot pink", "rose pink", "baby pink"],
    ),
    ("magenta", &[]),
    ("peach", &["salmon", "coral"]),
    ("orange", &["tangerine", "rust"]),
    ("yellow", &["lemon yellow"]),
    ("mustard", &["mustard yellow", "ochre"]),
    (
        "green",
        &["emerald", "lime green", "sea green", "bottle green"],
    ),
    ("olive", &["olive green", "army green"]),
    ("khaki", &[]),
    ("beige", &["nude", "tan", "camel", "sand", "taupe"]),
    ("brown", &["chocolate brown", "coffee brown", "mocha"]),
    ("purple", &["violet", "plum"]),
    ("lavender", &["lilac", "mauve"]),
    ("gold", &["golden", "gold-toned", "gold toned"]),
    ("silver", &["silver-toned", "silver toned"]),
    ("rose gold", &["rose-gold"]),
    ("bronze", &["copper-toned"]),
    (
        "multicolour",
        &["multicoloured", "multi-coloured", "multi-colour"],
    ),
];

/// A colour claim is also true of the families it belongs to: navy is a blue.
pub(crate) fn colour_families(canonical: &str) -> &'static [&'static str] {
    match canonical {
        "navy" | "sky blue" => &["blue"],
        "teal" => &["blue", "green"],
        "maroon" => &["red"],
        "magenta" => &["pink", "purple"],
        "peach" => &["pink", "orange"],
        "mustard" => &["yellow"],
        "olive" => &["green"],
        "khaki" => &["beige", "green"],
        "charcoal" => &["grey"],
        "off white" => &["white"],
        "lavender" => &["purple"],
        "rose gold" => &["gold", "pink"],
        _ => &[],
    }
}

const MATERIALS: &[Group] = &[
    ("cotton", &["pure cotton"]),
    (
        "polycotton",
        &["poly cotton", "cotton blend", "cotton-blend"],
    ),
    ("polyester", &["poly"]),
    ("linen", &[]),
    ("silk", &["pure silk"]),
    ("wool", &["woollen", "woolen", "merino", "merino wool"]),
    ("cashmere", &[]),
    ("denim", &[]),
    ("nylon", &[]),
    ("rayon", &[]),
    ("viscose", &["viscose rayon"]),
    ("modal", &[]),
    ("elastane", &["spandex", "lycra"]),
    ("acrylic", &[]),
    (
        "leather",
        &[
            "genuine leather",
            "real leather",
            "full-grain leather",
            "suede leather",
        ],
    ),
    (
        "faux leather",
        &[
            "pu",
            "pu leather",
            "vegan leather",
            "synthetic leather",
            "leatherette",
        ],
    ),
    ("suede", &["faux suede"]),
    ("velvet", &["velour"]),
    ("satin", &[]),
    ("chiffon", &[]),
    ("georgette", &[]),
    ("crepe", &[]),
    ("organza", &[]),
    ("net", &[]),
    ("lace", &[]),
    ("mesh", &[]),
    ("jersey", &[]),
    ("fleece", &[]),
    ("canvas", &[]),
    ("corduroy", &[]),
    ("chambray", &[]),
    ("poplin", &[]),
    ("twill", &[]),
    ("terry", &[]),
    ("muslin", &[]),
    ("khadi", &[]),
    ("microfibre", &[]),
    ("synthetic", &[]),
    ("rubber", &[]),
    ("eva", &[]),
    ("plastic", &["abs", "polycarbonate"]),
    ("metal", &[]),
    ("stainless steel", &["steel"]),
    ("alloy", &["metal alloy"]),
    ("aluminium", &[]),
    ("titanium", &[]),
    ("brass", &[]),
    ("copper", &[]),
    ("gold plated", &["gold-plated", "18k gold", "solid gold"]),
    ("silver plated", &["silver-plated"]),
    ("sterling silver", &["925 silver"]),
    ("wood", &["wooden", "solid wood"]),
    ("bamboo", &[]),
    ("glass", &["tempered glass"]),
    ("ceramic", &["porcelain", "stoneware"]),
    ("paper", &["cardboard"]),
    ("jute", &[]),
    (
        "down filling",
        &["goose down", "duck down", "down-filled", "down filled"],
    ),
];

const CERTIFICATIONS: &[Group] = &[
    ("organic", &["certified organic"]),
    ("certified", &["certification"]),
    ("bpa free", &["bpa-free"]),
    ("vegan", &["100% vegan"]),
    ("cruelty free", &["cruelty-free"]),
    ("fair trade", &["fairtrade"]),
    (
        "eco friendly",
        &[
            "eco-friendly",
            "environment friendly",
            "environmentally friendly",
        ],
    ),
    ("sustainable", &["sustainably made", "sustainably sourced"]),
    ("recycled", &["upcycled"]),
    ("biodegradable", &["compostable"]),
    ("natural", &["100% natural", "all natural", "all-natural"]),
    (
        "handmade",
        &[
            "handcrafted",
            "hand-crafted",
            "hand made",
            "handwoven",
            "hand-woven",
            "handloom",
        ],
    ),
    ("iso", &["iso certified"]),
    ("oeko tex", &["oeko-tex"]),
    ("gots", &[]),
    ("fda approved", &["fda-approved", "fda"]),
    ("ce certified", &["ce marked"]),
    ("isi", &["isi marked", "bis certified"]),
    ("made in", &[]),
];

const SUPERLATIVES: &[Group] = &[
    (
        "best selling",
        &[
            "best-selling",
            "bestseller",
            "best seller",
            "best-seller",
            "top selling",
            "top-selling",
        ],
    ),
    ("number one", &["#1", "no. 1", "no 1", "no.1", "#1 rated"]),
    (
        "top rated",
        &[
            "top-rated",
            "highest rated",
            "highest-rated",
            "five star",
            "5-star",
            "5 star",
        ],
    ),
    ("award winning", &["award-winning", "prize-winning"]),
    ("most popular", &["most loved", "most-loved"]),
    (
        "the best",
        &[
            "best product",
            "best quality",
            "the finest",
            "best of all",
            "of all time",
            "most innovative",
        ],
    ),
    (
        "highest quality",
        &[
            "highest-quality",
            "top quality",
            "top-quality",
            "finest quality",
        ],
    ),
    (
        "unmatched",
        &[
            "unrivalled",
            "unrivaled",
            "second to none",
            "like no other",
            "nothing else can match",
        ],
    ),
    (
        "newest",
        &[
            "latest edition",
            "new addition",
            "new arrival",
            "brand new",
            "just launched",
        ],
    ),
    ("world first", &["world's first", "first ever"]),
    (
        "world best",
        &[
            "world's best",
            "best in the world",
            "best in class",
            "best-in-class",
        ],
    ),
    (
        "industry leading",
        &["industry-leading", "market-leading", "market leading"],
    ),
    (
        "lowest price",
        &[
            "cheapest",
            "best price",
            "unbeatable price",
            "lowest prices",
        ],
    ),
    ("trusted by", &["loved by millions", "trusted by millions"]),
];

const GUARANTEES: &[Group] = &[
    ("warranty", &["guarantee", "guaranteed"]),
    ("lifetime warranty", &["lifetime guarantee", "for life"]),
    ("money back", &["money-back", "refund", "refundable"]),
    (
        "free returns",
        &[
            "free return",
            "easy returns",
            "easy return",
            "hassle-free returns",
        ],
    ),
    ("exchange", &["easy exchange", "exchangeable"]),
    ("free shipping", &["free delivery", "ships free"]),
    ("cash on delivery", &["cod"]),
];

const HEALTH_SAFETY: &[Group] = &[
    (
        "non toxic",
        &[
            "non-toxic",
            "toxin-free",
            "toxin free",
            "chemical-free",
            "chemical free",
        ],
    ),
    (
        "hypoallergenic",
        &[
            "hypo-allergenic",
            "allergy-free",
            "nickel-free",
            "nickel free",
        ],
    ),
    (
        "dermatologically tested",
        &[
            "dermatologist tested",
            "dermatologist-tested",
            "dermatologist approved",
            "dermatologist-approved",
        ],
    ),
    (
        "clinically proven",
        &[
            "clinically tested",
            "clinically-proven",
            "scientifically proven",
        ],
    ),
    (
        "antibacterial",
        &[
            "anti-bacterial",
            "antimicrobial",
            "anti-microbial",
            "antifungal",
            "anti-fungal",
        ],
    ),
    (
        "uv protection",
        &[
            "uv-protection",
            "uv protective",
            "upf",
            "spf",
            "uv400",
            "uv 400",
        ],
    ),
    (
        "safe for kids",
        &[
            "child safe",
            "child-safe",
            "kid safe",
            "kid-safe",
            "baby safe",
            "baby-safe",
            "safe for babies",
            "safe for children",
        ],
    ),
    (
        "skin friendly",
        &["skin-friendly", "gentle on skin", "safe for skin"],
    ),
    (
        "fire resistant",
        &[
            "fire-resistant",
            "fireproof",
            "flame retardant",
            "flame-retardant",
        ],
    ),
    (
        "pain relief",
        &[
            "relieves pain",
            "heals",
            "cures",
            "therapeutic",
            "orthopaedic",
            "orthopedic",
        ],
    ),
    ("food grade", &["food-grade", "food safe", "food-safe"]),
];

const PERFORMANCE: &[Group] = &[
    ("waterproof", &["water-proof", "water proof"]),
    (
        "water resistant",
        &[
            "water-resistant",
            "water repellent",
            "water-repellent",
            "splash-proof",
            "splash proof",
        ],
    ),
    (
        "windproof",
        &["wind-proof", "wind resistant", "wind-resistant"],
    ),
    ("breathable", &["breathability"]),
    (
        "moisture wicking",
        &[
            "moisture-wicking",
            "sweat-wicking",
            "quick dry",
            "quick-dry",
            "quick drying",
            "quick-drying",
            "dri-fit",
        ],
    ),
    (
        "stain resistant",
        &["stain-resistant", "stain proof", "stain-proof"],
    ),
    (
        "wrinkle free",
        &[
            "wrinkle-free",
            "wrinkle resistant",
            "wrinkle-resistant",
            "anti-wrinkle",
            "crease resistant",
            "crease-resistant",
        ],
    ),
    (
        "stretchable",
        &["stretch", "stretchy", "four-way stretch", "4-way stretch"],
    ),
    (
        "shockproof",
        &["shock-proof", "shock resistant", "shock-resistant"],
    ),
    (
        "scratch resistant",
        &["scratch-resistant", "scratch proof", "scratch-proof"],
    ),
    (
        "fade resistant",
        &[
            "fade-resistant",
            "colourfast",
            "colorfast",
            "no fade",
            "non-fading",
        ],
    ),
    (
        "rust proof",
        &[
            "rust-proof",
            "rustproof",
            "anti-rust",
            "rust resistant",
            "rust-resistant",
            "tarnish-free",
            "anti-tarnish",
        ],
    ),
    ("insulated", &["thermal", "keeps you warm"]),
    ("machine washable", &["machine wash", "machine-washable"]),
    ("hand wash", &["hand-wash", "hand wash only"]),
    ("dry clean", &["dry clean only", "dry-clean"]),
    (
        "non slip",
        &[
            "non-slip",
            "anti-slip",
            "anti slip",
            "slip-resistant",
            "slip resistant",
        ],
    ),
    ("wireless", &["bluetooth"]),
    ("rechargeable", &[]),
];

/// A performance claim that implies a weaker one the facts may state instead.
pub(crate) fn implied_by(canonical: &str) -> &'static [&'static str] {
    match canonical {
        "water resistant" => &["waterproof"],
        "warranty" => &["lifetime warranty"],
        _ => &[],
    }
}

const AUDIENCES: &[Group] = &[
    (
        "man",
        &[
            "men",
            "male",
            "gentleman",
            "gentlemen",
            "gents",
            "menswear",
            "mens",
        ],
    ),
    (
        "woman",
        &["women", "female", "lady", "ladies", "womenswear", "womens"],
    ),
    ("boy", &["boys"]),
    ("girl", &["girls"]),
    ("kid", &["kids", "child", "children"]),
    (
        "baby",
        &[
            "babies", "infant", "infants", "toddler", "toddlers", "newborn",
        ],
    ),
    ("unisex", &[]),
];

/// Which audiences a product for `fact` also serves.
pub(crate) fn audience_covers(fact: &str) -> &'static [&'static str] {
    match fact {
        "unisex" => &["man", "woman"],
        "kid" => &["boy", "girl"],
        "boy" | "girl" => &["kid"],
        "baby" => &["kid"],
        _ => &[],
    }
}

const SIZES: &[Group] = &[
    (
        "free size",
        &["one size", "one-size", "free-size", "one size fits all"],
    ),
    ("plus size", &["plus-size", "plus sizes"]),
    ("petite", &[]),
    ("maternity", &[]),
    ("slim fit", &["slim-fit", "slim"]),
    ("skinny fit", &["skinny", "super skinny", "skinny-fit"]),
    ("regular fit", &["regular-fit", "classic fit"]),
    (
        "relaxed fit",
        &["relaxed", "loose fit", "loose-fit", "relaxed-fit"],
    ),
    (
        "straight fit",
        &["straight-fit", "straight leg", "straight-leg"],
    ),
    ("tapered fit", &["tapered"]),
    ("bootcut", &["boot cut", "boot-cut"]),
    ("oversized", &["oversize", "over-sized"]),
    (
        "high rise",
        &[
            "high-rise",
            "high waist",
            "high-waist",
            "high waisted",
            "high-waisted",
        ],
    ),
    ("mid rise", &["mid-rise"]),
    ("low rise", &["low-rise"]),
];

/// Sale and offer terms; a percentage or price before "off" is found by the extractor.
const DISCOUNTS: &[Group] = &[
    ("sale", &["on sale", "clearance", "clearance sale"]),
    (
        "discount",
        &[
            "discounted",
            "special price",
            "reduced price",
            "price drop",
            "markdown",
        ],
    ),
    (
        "limited time",
        &[
            "limited-time",
            "limited time offer",
            "today only",
            "while stocks last",
            "limited stock",
            "limited edition",
        ],
    ),
    (
        "offer",
        &[
            "deal",
            "special offer",
            "buy one get one",
            "bogo",
            "cashback",
            "coupon",
        ],
    ),
];

/// Size letters that count as a size wherever they stand.
pub(crate) const SIZE_LETTERS: &[&str] =
    &["xxs", "xs", "xl", "xxl", "xxxl", "2xl", "3xl", "4xl", "5xl"];

/// Size letters that count only after "size" or in a list of sizes.
pub(crate) const SHORT_SIZE_LETTERS: &[&str] = &["s", "m", "l"];

/// One spelling of a claim word.
#[derive(Debug)]
pub(crate) struct Entry {
    /// As written in the table.
    pub(crate) spelling: &'static str,
    pub(crate) kind: ClaimKind,
    pub(crate) canonical: &'static str,
    pub(crate) key: Vec<String>,
}

/// Every entry, found by its first word.
#[derive(Debug)]
pub(crate) struct Lexicon {
    entries: Vec<Entry>,
    by_first: HashMap<String, Vec<usize>>,
}

impl Lexicon {
    fn build() -> Self {
        let tables: [(ClaimKind, &[Group]); 10] = [
            (ClaimKind::Colour, COLOURS),
            (ClaimKind::Material, MATERIALS),
            (ClaimKind::Certification, CERTIFICATIONS),
            (ClaimKind::Superlative, SUPERLATIVES),
            (ClaimKind::Guarantee, GUARANTEES),
            (ClaimKind::HealthSafety, HEALTH_SAFETY),
            (ClaimKind::Performance, PERFORMANCE),
            (ClaimKind::Audience, AUDIENCES),
            (ClaimKind::Size, SIZES),
            (ClaimKind::Discount, DISCOUNTS),
        ];
        let mut entries = Vec::new();
        for (kind, groups) in tables {
            for &(canonical, spellings) in groups {
                for spelling in std::iter::once(&canonical).chain(spellings) {
                    let key = phrase_key(spelling);
                    if !key.is_empty() {
                        entries.push(Entry {
                            spelling,
                            kind,
                            canonical,
                            key,
                        });
                    }
                }
            }
        }
        let mut by_first: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, e) in entries.iter().enumerate() {
            by_first.entry(e.key[0].clone()).or_default().push(i);
        }
        // Longest spellings first, so "navy blue" wins over "navy" and "faux leather" over
        // "leather".
        for list in by_first.values_mut() {
            list.sort_by_key(|&i| std::cmp::Reverse(entries[i].key.len()));
        }
        Self { entries, by_first }
    }

    /// Every spelling of every entry.
    pub(crate) fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The longest entry starting at `view[at]`, and how many view positions it covers.
    pub(crate) fn longest(
        &self,
        tokens: &[Token],
        view: &[usize],
        at: usize,
    ) -> Option<(&Entry, usize)> {
        let first = &tokens[view[at]].norm;
        self.by_first.get(first)?.iter().find_map(|&i| {
            let e = &self.entries[i];
            let n = e.key.len();
            (at + n <= view.len()
                && view[at..at + n]
                    .iter()
                    .zip(&e.key)
                    .all(|(&t, k)| tokens[t].norm == *k))
            .then_some((e, n))
        })
    }
}

/// The one lexicon.
pub(crate) static LEXICON: LazyLock<Lexicon> = LazyLock::new(Lexicon::build);

/// Units a number may carry, with their dimension and factor to the dimension's base unit.
pub(crate) fn unit(norm: &str) -> Option<(&'static str, &'static str, f64)> {
    Some(match norm {
        "mg" | "milligram" => ("mg", "mass", 0.001),
        "g" | "gm" | "gram" | "gms" | "grm" => ("g", "mass", 1.0),
        "kg" | "kilo" | "kilogram" | "kgs" => ("kg", "mass", 1000.0),
        "lb" | "lbs" | "pound" => ("lb", "mass", 453.592),
        "oz" | "ounce" => ("oz", "mass", 28.3495),
        "mm" | "millimetre" => ("mm", "length", 0.1),
        "cm" | "centimetre" | "cms" => ("cm", "length", 1.0),
        "m" | "metre" | "mtr" => ("m", "length", 100.0),
        "inch" | "inche" => ("inch", "length", 2.54),
        "ft" | "foot" => ("ft", "length", 30.48),
        "ml" | "millilitre" => ("ml", "volume", 1.0),
        "l" | "litre" | "ltr" => ("l", "volume", 1000.0),
        "sec" | "second" => ("s", "time", 1.0),
        "min" | "minute" | "mins" => ("min", "time", 60.0),
        "h" | "hr" | "hour" | "hrs" => ("h", "time", 3600.0),
        "day" => ("day", "time", 86_400.0),
        "week" => ("week", "time", 604_800.0),
        "month" => ("month", "time", 2_592_000.0),
        "year" | "yr" | "yrs" => ("year", "time", 31_536_000.0),
        "%" | "percent" | "per cent" => ("%", "percent", 1.0),
        "mah" => ("mAh", "charge", 1.0),
        "w" | "watt" => ("W", "power", 1.0),
        "v" | "volt" => ("V", "voltage", 1.0),
        "gb" => ("GB", "data", 1.0),
        "tb" => ("TB", "data", 1000.0),
        "mp" | "megapixel" => ("MP", "resolution", 1.0),
        "k" => ("k", "karat", 1.0),
        "carat" | "ct" => ("ct", "carat", 1.0),
        _ => return None,
    })
}

/// Currency words and symbols, as ISO 4217 codes.
pub(crate) fn currency(norm: &str) -> Option<&'static str> {
    Some(match norm {
        "$" | "usd" | "dollar" => "USD",
        "€" | "eur" | "euro" => "EUR",
        "£" | "gbp" => "GBP",
        "₹" | "inr" | "rs" | "rupee" => "INR",
        "¥" | "jpy" | "yen" => "JPY",
        _ => return None,
    })
}

/// Number words and their values.
pub(crate) const NUMBER_WORDS: &[(&str, f64)] = &[
    ("one", 1.0),
    ("two", 2.0),
    ("pair", 2.0),
    ("three", 3.0),
    ("four", 4.0),
    ("five", 5.0),
    ("six", 6.0),
    ("seven", 7.0),
    ("eight", 8.0),
    ("nine", 9.0),
    ("ten", 10.0),
    ("eleven", 11.0),
    ("twelve", 12.0),
    ("dozen", 12.0),
    ("twenty", 20.0),
    ("thirty", 30.0),
    ("fifty", 50.0),
    ("hundred", 100.0),
];

/// Number words, counted only before a unit or a plural noun ("two pockets", "5 years").
pub(crate) fn number_word(norm: &str) -> Option<f64> {
    NUMBER_WORDS
        .iter()
        .find(|(word, _)| *word == norm)
        .map(|&(_, value)| value)
}

/// Currency spellings as a model writes them, with their ISO codes.
pub(crate) const CURRENCY_SPELLINGS: &[(&str, &str)] = &[
    ("$", "USD"),
    ("usd", "USD"),
    ("dollar", "USD"),
    ("dollars", "USD"),
    ("€", "EUR"),
    ("eur", "EUR"),
    ("euro", "EUR"),
    ("euros", "EUR"),
    ("£", "GBP"),
    ("gbp", "GBP"),
    ("₹", "INR"),
    ("inr", "INR"),
    ("rs", "INR"),
    ("rupee", "INR"),
    ("rupees", "INR"),
    ("¥", "JPY"),
    ("jpy", "JPY"),
    ("yen", "JPY"),
];
