//! Ad channels and their real length limits, counted the way each channel counts: Google
//! responsive search ads, social ads, SMS (GSM-7 septets, or 70 UCS-2 units once one character
//! falls outside GSM-7; the opt-out text included), push notifications, email subjects and SEO
//! tags. Texts that are too long are shortened at sentence or clause boundaries only, never
//! mid-word; when no boundary gives a fitting text, the caller regenerates.

use serde::{Deserialize, Serialize};

/// Where copy runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// Google responsive search ad: 3–15 headlines of ≤ 30, 2–4 descriptions of ≤ 90.
    Search,
    /// Social feed ad: primary text ≤ 125, headline ≤ 40.
    Social,
    /// Text message: ≤ 160 GSM-7 characters (70 UCS-2) including the opt-out text.
    Sms,
    /// Push notification: title ≤ 50, body ≤ 120.
    Push,
    /// Email subject line ≤ 60.
    Email,
    /// Search engine tags: title ≤ 60, meta description ≤ 155.
    Seo,
}

/// How a field's length is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Counting {
    /// Unicode characters.
    Chars,
    /// SMS encoding units: GSM-7 septets, or UCS-2 units with the lower limit.
    Sms,
}

/// One field of a channel's creative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Field {
    /// Its name in the creative's JSON.
    pub name: &'static str,
    /// The longest text allowed.
    pub max: usize,
    /// How many texts a creative has, at least and at most.
    pub min_items: usize,
    /// At most.
    pub max_items: usize,
    /// How length is counted.
    pub counting: Counting,
}

const fn one(name: &'static str, max: usize) -> Field {
    Field {
        name,
        max,
        min_items: 1,
        max_items: 1,
        counting: Counting::Chars,
    }
}

/// The longest SMS in GSM-7 and in UCS-2.
pub const SMS_GSM7_MAX: usize = 160;
/// With a character outside GSM-7 the message is UCS-2 encoded.
pub const SMS_UCS2_MAX: usize = 70;

impl Channel {
    /// Every channel.
    pub const ALL: [Channel; 6] = [
        Self::Search,
        Self::Social,
        Self::Sms,
        Self::Push,
        Self::Email,
        Self::Seo,
    ];

    /// The channel called `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Search => "search",
            Self::Social => "social",
            Self::Sms => "sms",
            Self::Push => "push",
            Self::Email => "email",
            Self::Seo => "seo",
        }
    }

    /// The field called `name`, if the channel has one.
    pub fn field(self, name: &str) -> Option<Field> {
        self.fields().iter().find(|f| f.name == name).copied()
    }

    /// The fields of one creative.
    pub fn fields(self) -> &'static [Field] {
        const SEARCH: &[Field] = &[
            Field {
                name: "headlines",
                max: 30,
                min_items: 3,
                max_items: 15,
                counting: Counting::Chars,
            },
            Field {
                name: "descriptions",
                max: 90,
                min_items: 2,
                max_items: 4,
                counting: Counting::Chars,
            },
        ];
        const SOCIAL: &[Field] = &[one("primary_text", 125), one("headline", 40)];
        const SMS: &[Field] = &[Field {
            name: "text",
            max: SMS_GSM7_MAX,
            min_items: 1,
            max_items: 1,
            counting: Counting::Sms,
        }];
        const PUSH: &[Field] = &[one("title", 50), one("body", 120)];
        const EMAIL: &[Field] = &[one("subject", 60)];
        const SEO: &[Field] = &[one("title", 60), one("meta_description", 155)];
        match self {
            Self::Search => SEARCH,
            Self::Social => SOCIAL,
            Self::Sms => SMS,
            Self::Push => PUSH,
            Self::Email => EMAIL,
            Self::Seo => SEO,
        }
    }
}

/// GSM 03.38 basic character set.
const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// GSM 03.38 extension table: two septets each.
const GSM7_EXTENDED: &str = "^{}\\[~]|€\u{c}";

/// Length of `text` as an SMS counts it, and the limit that applies: GSM-7 septets against
/// 160, or UTF-16 units against 70 when any character is outside GSM-7 (one emoji or curly
/// quote switches the whole message).
pub fn sms_length(text: &str) -> (usize, usize) {
    let mut septets = 0;
    for c in text.chars() {
        if GSM7_BASIC.contains(c) {
            septets += 1;
        } else if GSM7_EXTENDED.contains(c) {
            septets += 2;
        } else {
            return (text.encode_utf16().count(), SMS_UCS2_MAX);
        }
    }
    (septets, SMS_GSM7_MAX)
}

impl Field {
    /// `text`'s length as this field counts it, and the limit that applies to it.
    pub fn measure(&self, text: &str) -> (usize, usize) {
        match self.counting {
            Counting::Chars => (text.chars().count(), self.max),
            Counting::Sms => {
                let (n, max) = sms_length(text);
                (n, max.min(self.max))
            }
        }
    }

    /// Whether `text` fits.
    pub fn fits(&self, text: &str) -> bool {
        let (n, max) = self.measure(text);
        !text.trim().is_empty() && n <= max
    }

    /// `text` if it fits, else the longest prefix ending at a sentence or clause boundary that
    /// fits and still says something (three words or more); `None` when there is none.
    pub fn shorten(&self, text: &str) -> Option<String> {
        self.shorten_with(text, |t| self.fits(t))
    }

    fn shorten_with(&self, text: &str, fits: impl Fn(&str) -> bool) -> Option<String> {
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if fits(&text) {
            return Some(text);
        }
        // Boundaries, best first: sentence ends, then clause breaks.
        for breaks in [
            &[". ", "! ", "? "][..],
            &[", ", "; ", " - ", " – ", " — ", ": "][..],
        ] {
            let mut cuts: Vec<usize> = breaks
                .iter()
                .flat_map(|b| text.match_indices(b).map(|(i, _)| i))
                .collect();
            cuts.sort_unstable_by(|a, b| b.cmp(a));
            for cut in cuts {
                let keep_stop = text[cut..].starts_with(['.', '!', '?']);
                let candidate = if keep_stop {
                    &text[..=cut]
                } else {
                    text[..cut].trim_end()
                };
                if candidate.split_whitespace().count() >= 3 && fits(candidate) {
                    return Some(candidate.to_owned());
                }
            }
        }
        None
    }
}

/// Whether a text tells how to stop receiving messages: "stop", "unsubscribe" or "opt out" as
/// words ("nonstop" does not count).
pub fn has_opt_out(text: &str) -> bool {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    words.iter().any(|w| w == "stop" || w == "unsubscribe")
        || words.windows(2).any(|p| p[0] == "opt" && p[1] == "out")
}

/// An SMS body with the merchant's opt-out text appended, shortened so the whole message fits;
/// `None` when even the shortest boundary does not.
pub fn sms_with_opt_out(body: &str, opt_out: &str) -> Option<String> {
    let field = Channel::Sms.fields()[0];
    let opt_out = opt_out.trim();
    let join = |b: &str| {
        if opt_out.is_empty() {
            b.to_owned()
        } else {
            format!("{b} {opt_out}")
        }
    };
    let body = field.shorten_with(body, |b| field.fits(&join(b)))?;
    Some(join(&body))
}

/// The texts of `texts` that are not the same as an earlier one, or nearly (word bigrams
/// overlapping by 80% or more, case and punctuation ignored), in order.
pub fn dedupe(texts: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut kept: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for text in texts {
        let words: Vec<String> = text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect();
        if words.is_empty() {
            continue;
        }
        let bigrams: Vec<(String, String)> = if words.len() == 1 {
            vec![(words[0].clone(), String::new())]
        } else {
            words
                .windows(2)
                .map(|w| (w[0].clone(), w[1].clone()))
                .collect()
        };
        let near = kept
            .iter()
            .any(|(_, other)| jaccard(&bigrams, other) >= 0.8);
        if !near {
            kept.push((text, bigrams));
        }
    }
    kept.into_iter().map(|(t, _)| t).collect()
}

fn jaccard(a: &[(String, String)], b: &[(String, String)]) -> f64 {
    use std::collections::HashSet;
    let a: HashSet<_> = a.iter().collect();
    let b: HashSet<_> = b.iter().collect();
    let union = a.union(&b).count();
    if union == 0 {
        return 1.0;
    }
    a.intersection(&b).count() as f64 / union as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(channel: Channel, name: &str) -> Field {
        channel.field(name).expect("field")
    }

    #[test]
    fn limits_are_the_channels_own() {
        let limits: Vec<(&str, &str, usize)> = Channel::ALL
            .iter()
            .flat_map(|c| c.fields().iter().map(move |f| (c.as_str(), f.name, f.max)))
            .collect();
        assert_eq!(
            limits,
            [
                ("search", "headlines", 30),
                ("search", "descriptions", 90),
                ("social", "primary_text", 125),
                ("social", "headline", 40),
                ("sms", "text", 160),
                ("push", "title", 50),
                ("push", "body", 120),
                ("email", "subject", 60),
                ("seo", "title", 60),
                ("seo", "meta_description", 155),
            ]
        );
        let search = field(Channel::Search, "headlines");
        assert_eq!((search.min_items, search.max_items), (3, 15));
    }

    #[test]
    fn counts_characters_not_bytes() {
        let headline = field(Channel::Search, "headlines");
        assert!(headline.fits("Crème brûlée café — très chic"));
        assert_eq!(headline.measure("Crème").0, 5);
        assert!(headline.fits(&"a".repeat(30)));
        assert!(!headline.fits(&"a".repeat(31)));
        assert!(!headline.fits("   "));
    }

    #[test]
    fn sms_counts_gsm7_septets_and_falls_back_to_ucs2() {
        assert_eq!(sms_length("Hello"), (5, 160));
        assert_eq!(sms_length("Price: 5€ [new]"), (18, 160));
        assert_eq!(sms_length("Sale 😀"), (7, 70));
        assert_eq!(sms_length("It’s here"), (9, 70));
        let sms = field(Channel::Sms, "text");
        assert!(sms.fits(&"a".repeat(160)));
        assert!(sms.fits(&format!("{}😀", "a".repeat(68))));
        assert!(!sms.fits(&format!("{}😀", "a".repeat(69))));
    }

    #[test]
    fn shortens_at_boundaries_never_mid_word() {
        let title = field(Channel::Push, "title");
        let text = "Pink skinny jeans are back. Stretchable, high-rise and cropped for summer days";
        assert_eq!(
            title.shorten(text).as_deref(),
            Some("Pink skinny jeans are back.")
        );
        let clause =
            "Pink skinny jeans, stretchable and high-rise, cropped for long summer days out";
        assert_eq!(
            title.shorten(clause).as_deref(),
            Some("Pink skinny jeans, stretchable and high-rise")
        );
        assert_eq!(title.shorten(&"word ".repeat(20)), None);
    }

    #[test]
    fn sms_opt_out_is_inside_the_limit() {
        let body = "New season, new jeans. Our pink skinny jeans are here in every size you love, \
                    with stretch that moves with you all day long. Shop the pink jeans now before \
                    they are gone for good this summer.";
        let sms = sms_with_opt_out(body, "Reply STOP to opt out").expect("fits");
        assert!(sms.ends_with("Reply STOP to opt out"));
        assert!(sms_length(&sms).0 <= 160);
        assert!(sms_with_opt_out("Short and sweet message here.", "Reply STOP").is_some());
    }

    #[test]
    fn dedupe_drops_exact_and_near_copies() {
        let out = dedupe(
            [
                "Pink jeans for summer",
                "pink jeans, for summer!",
                "Pink jeans for the summer",
                "Stretch denim you will love",
            ]
            .map(String::from),
        );
        assert_eq!(
            out,
            [
                "Pink jeans for summer",
                "Pink jeans for the summer",
                "Stretch denim you will love"
            ]
        );
    }
}
