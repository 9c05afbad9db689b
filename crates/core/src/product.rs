//! Products: the catalog record, the validated draft an import or a request produces, and the
//! partial update of a PATCH.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::{Error, Millis, Result, currency_exponent, format_minor, parse_price};

/// The largest text field a product may carry (64 KiB): longer is a broken export, not a product.
pub const MAX_FIELD_BYTES: usize = 64 * 1024;
/// The longest product id.
const MAX_ID_BYTES: usize = 256;
/// The most image URLs one product may carry.
const MAX_IMAGES: usize = 100;

/// A product as stored in the catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Product {
    /// The merchant's product id (Shopify handle, Myntra id, …).
    pub id: String,
    /// Stock keeping unit.
    pub sku: Option<String>,
    /// Product title.
    pub title: String,
    /// Brand or vendor.
    pub brand: Option<String>,
    /// Category or product type.
    pub category: Option<String>,
    /// Price as a decimal string in `currency` ("19.99").
    pub price: String,
    /// Price in the currency's minor unit (1999).
    pub price_minor: i64,
    /// ISO 4217 currency code.
    pub currency: String,
    /// Attributes: colour, material, sizes, variants… as a JSON object.
    #[schema(value_type = Object)]
    pub attributes: Map<String, Value>,
    /// Plain-text description.
    pub description: Option<String>,
    /// Image URLs.
    pub image_urls: Vec<String>,
    /// When the product was first stored (RFC 3339).
    #[serde(with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Millis,
    /// When the product last changed (RFC 3339).
    #[serde(with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Millis,
}

impl Product {
    /// Builds the stored record from a draft and its timestamps.
    pub fn from_draft(draft: ProductDraft, created_at: Millis, updated_at: Millis) -> Self {
        let exponent = currency_exponent(&draft.currency).unwrap_or(2);
        Self {
            price: format_minor(draft.price_minor, exponent),
            id: draft.id,
            sku: draft.sku,
            title: draft.title,
            brand: draft.brand,
            category: draft.category,
            price_minor: draft.price_minor,
            currency: draft.currency,
            attributes: draft.attributes,
            description: draft.description,
            image_urls: draft.image_urls,
            created_at,
            updated_at,
        }
    }

    /// The draft this record was made from (to apply a patch to it).
    pub fn to_draft(&self) -> ProductDraft {
        ProductDraft {
            id: self.id.clone(),
            sku: self.sku.clone(),
            title: self.title.clone(),
            brand: self.brand.clone(),
            category: self.category.clone(),
            price_minor: self.price_minor,
            currency: self.currency.clone(),
            attributes: self.attributes.clone(),
            description: self.description.clone(),
            image_urls: self.image_urls.clone(),
        }
    }
}

/// A product as a request or an import row gives it: validated, prices in minor units, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct ProductDraft {
    /// The merchant's product id.
    pub id: String,
    /// Stock keeping unit.
    pub sku: Option<String>,
    /// Product title.
    pub title: String,
    /// Brand or vendor.
    pub brand: Option<String>,
    /// Category or product type.
    pub category: Option<String>,
    /// Price in minor units.
    pub price_minor: i64,
    /// ISO 4217 code, upper case.
    pub currency: String,
    /// Attributes as a JSON object.
    pub attributes: Map<String, Value>,
    /// Plain-text description.
    pub description: Option<String>,
    /// Image URLs.
    pub image_urls: Vec<String>,
}

impl ProductDraft {
    /// Checks every domain rule: id and title present, sizes bounded, price non-negative, currency known.
    pub fn validate(&self) -> Result<()> {
        let id = self.id.trim();
        if id.is_empty() {
            return Err(Error::invalid("id", "is missing"));
        }
        if self.id.len() > MAX_ID_BYTES {
            return Err(Error::invalid(
                "id",
                format!(
                    "is {} bytes, over the {MAX_ID_BYTES}-byte limit",
                    self.id.len()
                ),
            ));
        }
        if self.id.chars().any(char::is_control) {
            return Err(Error::invalid("id", "contains control characters"));
        }
        if self.title.trim().is_empty() {
            return Err(Error::invalid("title", "is missing"));
        }
        check_len("title", &self.title)?;
        for (field, value) in [
            ("sku", &self.sku),
            ("brand", &self.brand),
            ("category", &self.category),
            ("description", &self.description),
        ] {
            if let Some(v) = value {
                check_len(field, v)?;
            }
        }
        if self.price_minor < 0 {
            return Err(Error::invalid("price", "is negative"));
        }
        currency_exponent(&self.currency)?;
        if self.image_urls.len() > MAX_IMAGES {
            return Err(Error::invalid(
                "image_urls",
                format!(
                    "has {} entries, over the limit of {MAX_IMAGES}",
                    self.image_urls.len()
                ),
            ));
        }
        for url in &self.image_urls {
            check_len("image_urls", url)?;
        }
        for (key, value) in &self.attributes {
            check_len("attributes", key)?;
            check_value_len(&format!("attributes.{key}"), value)?;
        }
        Ok(())
    }

    /// A SHA-256 over a canonical encoding of every field: equal drafts hash equal whatever the key
    /// order of their attributes, so a re-import can tell "unchanged" from "updated".
    pub fn content_hash(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        let mut field = |name: &str, v: Option<&str>| {
            h.update(name.as_bytes());
            match v {
                Some(v) => {
                    h.update([1]);
                    h.update((v.len() as u64).to_le_bytes());
                    h.update(v.as_bytes());
                }
                None => h.update([0]),
            }
        };
        field("id", Some(&self.id));
        field("sku", self.sku.as_deref());
        field("title", Some(&self.title));
        field("brand", self.brand.as_deref());
        field("category", self.category.as_deref());
        field("currency", Some(&self.currency));
        field("description", self.description.as_deref());
        h.update(self.price_minor.to_le_bytes());
        h.update((self.image_urls.len() as u64).to_le_bytes());
        for url in &self.image_urls {
            h.update((url.len() as u64).to_le_bytes());
            h.update(url.as_bytes());
        }
        hash_map(&mut h, &self.attributes);
        h.finalize().into()
    }
}

fn hash_value(h: &mut Sha256, v: &Value) {
    match v {
        Value::Null => h.update([b'n']),
        Value::Bool(b) => h.update([b'b', u8::from(*b)]),
        Value::Number(n) => {
            let s = n.to_string();
            h.update([b'#']);
            h.update((s.len() as u64).to_le_bytes());
            h.update(s.as_bytes());
        }
        Value::String(s) => {
            h.update([b's']);
            h.update((s.len() as u64).to_le_bytes());
            h.update(s.as_bytes());
        }
        Value::Array(items) => {
            h.update([b'[']);
            h.update((items.len() as u64).to_le_bytes());
            for item in items {
                hash_value(h, item);
            }
        }
        Value::Object(map) => hash_map(h, map),
    }
}

/// Keys in sorted order, so the hash does not depend on the order a file listed them in.
fn hash_map(h: &mut Sha256, map: &Map<String, Value>) {
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    entries.sort_unstable_by_key(|(k, _)| *k);
    h.update([b'{']);
    h.update((entries.len() as u64).to_le_bytes());
    for (k, v) in entries {
        h.update((k.len() as u64).to_le_bytes());
        h.update(k.as_bytes());
        hash_value(h, v);
    }
}

fn check_len(field: &str, value: &str) -> Result<()> {
    if value.len() > MAX_FIELD_BYTES {
        return Err(Error::invalid(
            field,
            format!("is {} bytes, over the 64 KiB limit", value.len()),
        ));
    }
    Ok(())
}

fn check_value_len(field: &str, value: &Value) -> Result<()> {
    match value {
        Value::String(s) => check_len(field, s),
        Value::Array(items) => items.iter().try_for_each(|v| check_value_len(field, v)),
        Value::Object(map) => map.values().try_for_each(|v| check_value_len(field, v)),
        _ => Ok(()),
    }
}

/// The JSON shape of a product in requests and JSON Lines imports.
///
/// `price` is a decimal string or number in `currency` ("19.99", 19.99); `price_minor` gives
/// minor units directly. Unknown keys are refused so that a typo is an error, not lost data.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductInput {
    /// Product id (required when creating).
    pub id: Option<String>,
    /// Stock keeping unit.
    pub sku: Option<String>,
    /// Product title (required when creating).
    pub title: Option<String>,
    /// Brand or vendor.
    pub brand: Option<String>,
    /// Category or product type.
    pub category: Option<String>,
    /// Decimal price in `currency`, as a string or a number.
    #[schema(value_type = Option<String>, example = "19.99")]
    pub price: Option<Value>,
    /// Price in minor units; an alternative to `price`.
    pub price_minor: Option<i64>,
    /// ISO 4217 currency code.
    pub currency: Option<String>,
    /// Attributes as a JSON object.
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<Map<String, Value>>,
    /// Plain-text description.
    pub description: Option<String>,
    /// Image URLs.
    pub image_urls: Option<Vec<String>>,
}

impl ProductInput {
    /// A complete new product: id, title and price are required; currency defaults to
    /// `default_currency`.
    pub fn into_draft(self, default_currency: &str) -> Result<ProductDraft> {
        let currency = normalise_currency(self.currency.as_deref().unwrap_or(default_currency));
        let price_minor = match (&self.price, self.price_minor) {
            (Some(_), Some(_)) => {
                return Err(Error::invalid(
                    "price",
                    "give either price or price_minor, not both",
                ));
            }
            (Some(p), None) => price_from_json(p, &currency)?,
            (None, Some(m)) => m,
            (None, None) => return Err(Error::invalid("price", "is missing")),
        };
        let draft = ProductDraft {
            id: self.id.unwrap_or_default().trim().to_string(),
            sku: non_empty(self.sku),
            title: self.title.unwrap_or_default().trim().to_string(),
            brand: non_empty(self.brand),
            category: non_empty(self.category),
            price_minor,
            currency,
            attributes: self.attributes.unwrap_or_default(),
            description: non_empty(self.description),
            image_urls: self.image_urls.unwrap_or_default(),
        };
        draft.validate()?;
        Ok(draft)
    }

    /// Applies the fields present to `base` and validates the result. The id cannot change.
    pub fn apply(self, mut base: ProductDraft) -> Result<ProductDraft> {
        if let Some(id) = &self.id
            && id.trim() != base.id
        {
            return Err(Error::invalid(
                "id",
                "cannot be changed; create a new product instead",
            ));
        }
        if let Some(c) = &self.currency {
            base.currency = normalise_currency(c);
        }
        match (&self.price, self.price_minor) {
            (Some(_), Some(_)) => {
                return Err(Error::invalid(
                    "price",
                    "give either price or price_minor, not both",
                ));
            }
            (Some(p), None) => base.price_minor = price_from_json(p, &base.currency)?,
            (None, Some(m)) => base.price_minor = m,
            (None, None) => {}
        }
        if let Some(t) = self.title {
            base.title = t.trim().to_string();
        }
        if self.sku.is_some() {
            base.sku = non_empty(self.sku);
        }
        if self.brand.is_some() {
            base.brand = non_empty(self.brand);
        }
        if self.category.is_some() {
            base.category = non_empty(self.category);
        }
        if self.description.is_some() {
            base.description = non_empty(self.description);
        }
        if let Some(a) = self.attributes {
            base.attributes = a;
        }
        if let Some(i) = self.image_urls {
            base.image_urls = i;
        }
        base.validate()?;
        Ok(base)
    }
}

fn normalise_currency(c: &str) -> String {
    c.trim().to_ascii_uppercase()
}

fn non_empty(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

fn price_from_json(v: &Value, currency: &str) -> Result<i64> {
    match v {
        Value::String(s) => parse_price(s, currency),
        Value::Number(n) => parse_price(&n.to_string(), currency),
        other => Err(Error::invalid(
            "price",
            format!("must be a decimal string or number, not {other}"),
        )),
    }
}

pub(crate) mod rfc3339 {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::{Millis, format_millis, parse_rfc3339};

    pub fn serialize<S: Serializer>(ms: &Millis, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_millis(*ms))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Millis, D::Error> {
        let s = String::deserialize(d)?;
        parse_rfc3339(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patch(json: &str) -> ProductInput {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn draft_from_json_with_decimal_price() {
        let d = patch(r#"{"id":"p1","title":"Tee","price":"19.90","currency":"usd"}"#)
            .into_draft("EUR")
            .unwrap();
        assert_eq!(d.price_minor, 1990);
        assert_eq!(d.currency, "USD");
        let d = patch(r#"{"id":"p1","title":"Tee","price":5}"#)
            .into_draft("EUR")
            .unwrap();
        assert_eq!((d.price_minor, d.currency.as_str()), (500, "EUR"));
    }

    #[test]
    fn draft_rejections_name_the_field() {
        let cases = [
            (r#"{"title":"Tee","price":"1"}"#, "id"),
            (r#"{"id":"p","price":"1"}"#, "title"),
            (r#"{"id":"p","title":"T","price":"-1"}"#, "price"),
            (r#"{"id":"p","title":"T","price":"ten"}"#, "price"),
            (
                r#"{"id":"p","title":"T","price":"1","currency":"XYZ"}"#,
                "currency",
            ),
            (r#"{"id":"p","title":"T"}"#, "price"),
        ];
        for (json, field) in cases {
            match patch(json).into_draft("USD") {
                Err(Error::Invalid { field: f, .. }) => assert_eq!(f, field, "{json}"),
                other => panic!("{json}: expected invalid {field}, got {other:?}"),
            }
        }
        let long = "x".repeat(MAX_FIELD_BYTES + 1);
        let json = format!(r#"{{"id":"p","title":"T","price":"1","description":"{long}"}}"#);
        assert!(matches!(
            patch(&json).into_draft("USD"),
            Err(Error::Invalid { field, .. }) if field == "description"
        ));
    }

    #[test]
    fn hash_ignores_attribute_key_order() {
        let a = patch(r#"{"id":"p","title":"T","price":"1","attributes":{"a":1,"b":[1,2]}}"#)
            .into_draft("USD")
            .unwrap();
        let b = patch(r#"{"id":"p","title":"T","price":"1","attributes":{"b":[1,2],"a":1}}"#)
            .into_draft("USD")
            .unwrap();
        assert_eq!(a.content_hash(), b.content_hash());
        let c = patch(r#"{"id":"p","title":"T","price":"1.01","attributes":{"a":1,"b":[1,2]}}"#)
            .into_draft("USD")
            .unwrap();
        assert_ne!(a.content_hash(), c.content_hash());
    }

    #[test]
    fn patch_keeps_id_and_validates() {
        let base = patch(r#"{"id":"p","title":"T","price":"1"}"#)
            .into_draft("USD")
            .unwrap();
        let updated = patch(r#"{"price":"2.50","brand":"Acme"}"#)
            .apply(base.clone())
            .unwrap();
        assert_eq!(updated.price_minor, 250);
        assert_eq!(updated.brand.as_deref(), Some("Acme"));
        assert!(patch(r#"{"id":"q"}"#).apply(base.clone()).is_err());
        assert!(patch(r#"{"title":"  "}"#).apply(base).is_err());
    }
}
