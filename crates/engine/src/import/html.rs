//! HTML to plain text, for Shopify's `Body (HTML)`.

/// Strips tags and decodes entities, keeping paragraph and list breaks as newlines and
/// collapsing runs of spaces.
pub(crate) fn to_text(html: &str) -> String {
    let text = html2text::config::plain_no_decorate()
        .string_from_read(html.as_bytes(), 100_000)
        .unwrap_or_else(|_| html.to_string());
    let mut out = String::with_capacity(text.len());
    let mut blank_run = 0;
    for line in text.lines() {
        let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
        if line.is_empty() {
            blank_run += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank_run > 0 { "\n\n" } else { "\n" });
        }
        blank_run = 0;
        out.push_str(&line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_tags_and_entities() {
        let t =
            to_text("<p>Soft <b>organic</b> cotton &amp; linen.</p><ul><li>Machine wash</li></ul>");
        assert!(t.contains("Soft organic cotton & linen."), "{t}");
        assert!(t.contains("Machine wash"), "{t}");
        assert!(!t.contains('<'), "{t}");
    }
}
