//! Shopper events: what a shopper did with a product, and when.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::product::rfc3339 as rfc3339_serde;
use crate::{Error, Millis, Result, parse_rfc3339};

/// The longest shopper, product or variant id an event may carry.
const MAX_REF_BYTES: usize = 256;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    /// The shopper looked at the product page.
    View,
    /// The shopper added the product to the cart.
    Cart,
    /// The shopper bought the product.
    Purchase,
    /// The product (or a content variant of it) was shown to the shopper.
    Impression,
    /// The shopper clicked an impression.
    Click,
}

impl EventKind {
    /// Every kind, in storage order.
    pub const ALL: [EventKind; 5] = [
        EventKind::View,
        EventKind::Cart,
        EventKind::Purchase,
        EventKind::Impression,
        EventKind::Click,
    ];

    /// The lower-case name used in JSON and SQL.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::View => "view",
            EventKind::Cart => "cart",
            EventKind::Purchase => "purchase",
            EventKind::Impression => "impression",
            EventKind::Click => "click",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        EventKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim())
            .ok_or_else(|| {
                Error::invalid(
                    "kind",
                    format!("'{s}' is not one of view, cart, purchase, impression, click"),
                )
            })
    }
}

/// A validated event, ready to store. Events are identified by their content: the same shopper,
/// product, kind, variant and millisecond is the same event, so re-sending or re-importing it is a
/// no-op.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventDraft {
    /// Pseudonymous shopper id.
    pub shopper: String,
    /// Product id.
    pub product: String,
    /// What happened.
    pub kind: EventKind,
    /// When, in milliseconds since the epoch.
    pub ts: Millis,
    /// The content variant shown, for impressions and clicks.
    pub variant: Option<String>,
}

impl EventDraft {
    /// Checks ids are present, bounded and printable.
    pub fn validate(&self) -> Result<()> {
        check_ref("shopper", &self.shopper)?;
        check_ref("product", &self.product)?;
        if let Some(v) = &self.variant {
            check_ref("variant", v)?;
        }
        Ok(())
    }
}

fn check_ref(field: &str, value: &str) -> Result<()> {
    if value.trim().is_empty() {
        return Err(Error::invalid(field, "is missing"));
    }
    if value.len() > MAX_REF_BYTES {
        return Err(Error::invalid(
            field,
            format!("is over {MAX_REF_BYTES} bytes"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::invalid(field, "contains control characters"));
    }
    Ok(())
}

/// The JSON shape of an event in requests and JSON Lines imports.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventInput {
    /// Pseudonymous shopper id.
    #[serde(alias = "shopper_id")]
    pub shopper: Option<String>,
    /// Product id.
    #[serde(alias = "product_id")]
    pub product: Option<String>,
    /// view, cart, purchase, impression or click.
    pub kind: Option<String>,
    /// RFC 3339 timestamp; requests may omit it (the server's receipt time is used), imports may not.
    pub ts: Option<String>,
    /// Content variant id, for impressions and clicks.
    #[serde(alias = "variant_id")]
    pub variant: Option<String>,
}

impl EventInput {
    /// Validates into a draft; `default_ts` fills a missing timestamp, or `None` makes it an error.
    pub fn into_draft(self, default_ts: Option<Millis>) -> Result<EventDraft> {
        let kind: EventKind = self
            .kind
            .as_deref()
            .ok_or_else(|| Error::invalid("kind", "is missing"))?
            .parse()?;
        let ts = match (self.ts.as_deref(), default_ts) {
            (Some(ts), _) => parse_rfc3339(ts)?,
            (None, Some(now)) => now,
            (None, None) => return Err(Error::invalid("ts", "is missing")),
        };
        let draft = EventDraft {
            shopper: self.shopper.unwrap_or_default().trim().to_string(),
            product: self.product.unwrap_or_default().trim().to_string(),
            kind,
            ts,
            variant: self
                .variant
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty()),
        };
        draft.validate()?;
        Ok(draft)
    }
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Event {
    /// Store-assigned id.
    pub id: i64,
    /// Pseudonymous shopper id.
    pub shopper: String,
    /// Product id.
    pub product: String,
    /// What happened.
    pub kind: EventKind,
    /// When (RFC 3339).
    #[serde(with = "rfc3339_serde")]
    #[schema(value_type = String, format = DateTime)]
    pub ts: Millis,
    /// Content variant id.
    pub variant: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(json: &str) -> EventInput {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn parses_and_validates() {
        let d =
            input(r#"{"shopper":"s1","product":"p1","kind":"view","ts":"2026-10-01T00:00:00Z"}"#)
                .into_draft(None)
                .unwrap();
        assert_eq!(d.kind, EventKind::View);
        let bad = [
            (
                r#"{"product":"p1","kind":"view","ts":"2026-10-01T00:00:00Z"}"#,
                "shopper",
            ),
            (
                r#"{"shopper":"s","kind":"view","ts":"2026-10-01T00:00:00Z"}"#,
                "product",
            ),
            (
                r#"{"shopper":"s","product":"p","kind":"like","ts":"2026-10-01T00:00:00Z"}"#,
                "kind",
            ),
            (r#"{"shopper":"s","product":"p","kind":"view"}"#, "ts"),
            (
                r#"{"shopper":"s","product":"p","kind":"view","ts":"soon"}"#,
                "ts",
            ),
        ];
        for (json, field) in bad {
            match input(json).into_draft(None) {
                Err(Error::Invalid { field: f, .. }) => assert_eq!(f, field, "{json}"),
                other => panic!("{json}: {other:?}"),
            }
        }
        let d = input(r#"{"shopper":"s","product":"p","kind":"click"}"#)
            .into_draft(Some(42))
            .unwrap();
        assert_eq!(d.ts, 42);
    }
}
