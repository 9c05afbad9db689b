//! JSON Lines: one product or event object per line, in the API's JSON shape. Blank lines are
//! skipped.

use vitrine_core::{EventDraft, EventInput, ProductDraft, ProductInput};

use super::source::Line;
use super::{Record, Records, Source};
use crate::Result;

fn parse<T>(
    item: Result<Line>,
    convert: impl Fn(&str) -> std::result::Result<T, String>,
) -> Option<Result<Record<T>>> {
    let (line, text) = match item {
        Ok(l) => l,
        Err(e) => return Some(Err(e)),
    };
    let record = match text {
        Err(reason) => Record::Rejected(vec![(line, reason)]),
        Ok(t) if t.trim().is_empty() => return None,
        Ok(t) => match convert(&t) {
            Ok(v) => Record::Ok(line, v),
            Err(reason) => Record::Rejected(vec![(line, reason)]),
        },
    };
    Some(Ok(record))
}

pub(crate) fn products(source: Source, default_currency: &str) -> Records<'static, ProductDraft> {
    let currency = default_currency.to_string();
    Box::new(source.lines().filter_map(move |item| {
        parse(item, |text| {
            let input: ProductInput =
                serde_json::from_str(text).map_err(|e| format!("malformed JSON: {e}"))?;
            input.into_draft(&currency).map_err(|e| e.to_string())
        })
    }))
}

pub(crate) fn events(source: Source) -> Records<'static, Vec<EventDraft>> {
    Box::new(source.lines().filter_map(|item| {
        parse(item, |text| {
            let input: EventInput =
                serde_json::from_str(text).map_err(|e| format!("malformed JSON: {e}"))?;
            input
                .into_draft(None)
                .map(|d| vec![d])
                .map_err(|e| e.to_string())
        })
    }))
}
