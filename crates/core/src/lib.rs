//! Vitrine's domain: products, shoppers, events and API keys, and the traits every other layer
//! talks through (`Store`, `TextGenerator`). No I/O, no async, no tensors: this crate only
//! describes and validates.

mod draft;
mod error;
mod event;
mod job;
mod key;
mod money;
mod product;
mod steer;
mod store;
mod text;

pub use draft::{
    ContentKind, Decision, Draft, DraftNew, DraftQuery, DraftStatus, Origin, Provenance, Review,
};
pub use error::{Error, Result};
pub use event::{Event, EventDraft, EventInput, EventKind};
pub use job::{ItemOutcome, ItemStatus, Job, JobItem, JobNew, JobStatus, ProductSelection};
pub use key::{ApiKey, KEY_PREFIX, Role};
pub use money::{Price, currency_exponent, format_minor, parse_price};
pub use product::{MAX_FIELD_BYTES, Product, ProductDraft, ProductInput};
pub use steer::{RepeatGuard, SteeringCheck, words_after_numbers};
pub use store::{
    EventBatchOutcome, EventQuery, ImportTx, Page, ProductBatchOutcome, ProductQuery, Store,
    StoreStats, UpsertOutcome,
};
pub use text::{
    ChatMessage, ChatRole, FinishReason, GenerateError, Generation, GenerationEvent,
    GenerationRequest, GeneratorHealth, GeneratorInfo, Prompt, RepeatLimit, ResponseFormat,
    Sampling, Steering, TextGenerator, TokenSink, Usage, generate,
};

/// Milliseconds since the Unix epoch, UTC: the one time representation in the domain.
pub type Millis = i64;

/// Formats milliseconds since the epoch as RFC 3339 (UTC, millisecond precision).
pub fn format_millis(ms: Millis) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    match time::OffsetDateTime::from_unix_timestamp_nanos(nanos) {
        Ok(t) => t
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|_| ms.to_string()),
        Err(_) => ms.to_string(),
    }
}

/// Parses an RFC 3339 timestamp into milliseconds since the epoch.
pub fn parse_rfc3339(s: &str) -> Result<Millis> {
    let t = time::OffsetDateTime::parse(s.trim(), &time::format_description::well_known::Rfc3339)
        .map_err(|e| {
        Error::invalid("ts", format!("'{s}' is not an RFC 3339 timestamp: {e}"))
    })?;
    Ok((t.unix_timestamp_nanos() / 1_000_000) as Millis)
}

/// The current time in milliseconds since the epoch.
pub fn now_millis() -> Millis {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as Millis
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trip() {
        let ms = parse_rfc3339("2026-10-03T14:21:07Z").expect("valid");
        assert_eq!(ms, 1_791_037_267_000);
        assert_eq!(format_millis(ms), "2026-10-03T14:21:07Z");
        assert!(parse_rfc3339("yesterday").is_err());
    }
}
