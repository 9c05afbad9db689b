//! The S3-Rec sequence format (Zhou et al., CIKM 2020): `user item item …` per line, items in
//! time order, no timestamps. Each item becomes one event of the chosen kind; its timestamp is
//! its position in the sequence (seconds since the Unix epoch), which keeps the order and makes
//! a re-import land on the same events.
//!
//! Ids are numbers that only mean something inside their dataset (Beauty's user 1 is not Toys'
//! user 1), so they are namespaced: `Beauty:1`. The prefix defaults to the file's stem.

use vitrine_core::{EventDraft, EventKind};

use super::{Record, Records, Source};

pub(crate) fn events(
    source: Source,
    kind: EventKind,
    prefix: String,
) -> Records<'static, Vec<EventDraft>> {
    Box::new(source.lines().filter_map(move |item| {
        let (line, text) = match item {
            Ok(l) => l,
            Err(e) => return Some(Err(e)),
        };
        let text = match text {
            Ok(t) => t,
            Err(reason) => return Some(Ok(Record::Rejected(vec![(line, reason)]))),
        };
        let mut tokens = text.split_ascii_whitespace();
        let user = tokens.next()?;
        Some(Ok(match sequence(&prefix, user, tokens, kind) {
            Ok(events) => Record::Ok(line, events),
            Err(reason) => Record::Rejected(vec![(line, reason)]),
        }))
    }))
}

fn sequence<'a>(
    prefix: &str,
    user: &str,
    items: impl Iterator<Item = &'a str>,
    kind: EventKind,
) -> Result<Vec<EventDraft>, String> {
    let numeric = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    if !numeric(user) {
        return Err(format!("user id '{user}' is not a number"));
    }
    let events = items
        .enumerate()
        .map(|(position, item)| {
            if !numeric(item) {
                return Err(format!("item '{item}' is not a number"));
            }
            let event = EventDraft {
                shopper: format!("{prefix}{user}"),
                product: format!("{prefix}{item}"),
                kind,
                ts: position as i64 * 1000,
                variant: None,
            };
            event.validate().map_err(|e| e.to_string())?;
            Ok(event)
        })
        .collect::<Result<Vec<_>, String>>()?;
    if events.is_empty() {
        return Err(format!("user {user} has no items"));
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_keep_order() {
        let e = sequence("", "7", "3 1 3".split(' '), EventKind::Purchase).unwrap();
        assert_eq!(e.len(), 3);
        assert_eq!((e[0].product.as_str(), e[0].ts), ("3", 0));
        assert_eq!((e[2].product.as_str(), e[2].ts), ("3", 2000));
        let e = sequence("Toys:", "7", "3".split(' '), EventKind::View).unwrap();
        assert_eq!(
            (e[0].shopper.as_str(), e[0].product.as_str()),
            ("Toys:7", "Toys:3")
        );
        assert!(sequence("", "7", std::iter::empty(), EventKind::View).is_err());
        assert!(sequence("", "x", "1".split(' '), EventKind::View).is_err());
        assert!(sequence("", "7", "1 b".split(' '), EventKind::View).is_err());
        let long = "9".repeat(300);
        assert!(sequence("", "7", std::iter::once(long.as_str()), EventKind::View).is_err());
    }
}
