//! Product descriptions: generated from a product's facts in the catalog's own style, steered
//! away from what the record does not state, checked claim by claim, repaired, and regenerated
//! when too little is left or the text loops. The pure parts (prompts, facts, claims,
//! steering, metrics) are in `vitrine-content`; this module runs them on a `TextGenerator`.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use vitrine_content::{
    Borrowed, DescriptionOptions, Example, Extractor, Facts, Names, RemovedSentence, Report,
    Verifier, closing_sentence, description_lead, description_messages, remove_unsupported,
    repeated_ngram, sentences, split_run_ons, steering,
};
use vitrine_core::{
    ChatMessage, FinishReason, GenerateError, GenerationRequest, RepeatLimit, Sampling, Steering,
    TextGenerator, generate,
};

/// How descriptions are generated.
#[derive(Debug, Clone)]
pub struct CopySettings {
    /// Generations tried per variant before the best one is kept.
    pub max_attempts: u32,
    /// Sampling temperature.
    pub temperature: f32,
    /// Whether sampling is steered away from unsupported words and numbers.
    pub steer: bool,
    /// Whether a text that leaves out a key fact (brand, audience, colour, price) closes with
    /// a sentence stating it from the record.
    pub complete: bool,
}

impl Default for CopySettings {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            temperature: 0.7,
            steer: true,
            complete: true,
        }
    }
}

/// One generated description and how it came to be.
#[derive(Debug, Clone)]
pub struct Described {
    /// The text after verification: every claim in it is supported.
    pub text: String,
    /// Its claims, all supported.
    pub report: Report,
    /// What the model wrote first, from the title, before any check.
    pub raw: String,
    /// The claims in `raw`, checked.
    pub raw_report: Report,
    /// Every attempt's text before its checks, in order (`raw` first). A later attempt
    /// continues the text that passed the checks before it.
    pub all_raw: Vec<String>,
    /// Sentences taken out of `raw`: unsupported claims, or repetition.
    pub removed: Vec<RemovedSentence>,
    /// The key facts the model left out, stated by the closing sentence added from the record.
    pub completed: Vec<String>,
    /// Generations made (1 when the first was good).
    pub attempts: u32,
    /// The seed of the first generation (later ones step from it).
    pub seed: u64,
    /// Tokens generated over all attempts.
    pub completion_tokens: u32,
    /// Time over all attempts.
    pub elapsed: Duration,
}

/// A seed's step between attempts (a prime, so attempts of neighbouring variants never meet).
const ATTEMPT_SEED_STEP: u64 = 7_919;
/// A text loops when a word 4-gram occurs a third time.
const LOOP: RepeatLimit = RepeatLimit { n: 4, times: 3 };
/// A kept text has at least this share of the target length.
const MIN_LENGTH_SHARE: f64 = 0.4;

/// Generates `options.variants` description variants of the product of `facts` at once (the
/// model batches them); variant `i` starts from seed `seed + i`.
pub fn describe(
    generator: &dyn TextGenerator,
    extractor: &Extractor,
    facts: &Facts,
    examples: &[Example],
    options: &DescriptionOptions,
    seed: u64,
    settings: &CopySettings,
) -> Vec<Result<Described, GenerateError>> {
    let mut steer = if settings.steer {
        steering(facts, extractor)
    } else {
        Steering::default()
    };
    // N-gram blocking: the measure of a looping text (a word 4-gram a third time), enforced
    // while the text is written rather than found afterwards.
    steer.repeats = Some(LOOP);
    let messages = description_messages(facts, options, examples);
    let lead = description_lead(facts);
    let borrowed = Borrowed::new(facts, examples.iter().map(|e| e.description.as_str()));
    let job = Variant {
        generator,
        facts,
        verifier: Verifier::new(facts, extractor),
        messages: &messages,
        options,
        settings,
        steer: &steer,
        lead: &lead,
        borrowed,
        names: Names::new(facts),
        own_words: facts.own_words(),
    };
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..options.variants.max(1))
            .map(|i| {
                let job = &job;
                scope.spawn(move || job.run(seed.wrapping_add(u64::from(i))))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(GenerateError::Backend(
                        "a description thread panicked".into(),
                    ))
                })
            })
            .collect()
    })
}

/// What one variant needs.
struct Variant<'a> {
    generator: &'a dyn TextGenerator,
    facts: &'a Facts,
    verifier: Verifier<'a>,
    messages: &'a [ChatMessage],
    options: &'a DescriptionOptions,
    settings: &'a CopySettings,
    steer: &'a Steering,
    /// The text's beginning, which the model continues.
    lead: &'a str,
    /// Details of the examples' products, not to be passed off as this one's.
    borrowed: Borrowed,
    /// The record's words: a name it does not have is invented.
    names: Names,
    /// The record's words, never split as run-on sentences.
    own_words: HashSet<String>,
}

impl Variant<'_> {
    /// Generates, checks and repairs until a text is long enough, at most `max_attempts`
    /// times; keeps the best.
    fn run(&self, seed: u64) -> Result<Described, GenerateError> {
        let (generator, verifier, options, settings) =
            (self.generator, &self.verifier, self.options, self.settings);
        let target = options.length.words() as f64;
        let started = Instant::now();
        let mut tokens = 0;
        let mut all_raw = Vec::new();
        let mut first: Option<(String, Report)> = None;
        // The text that passed every check so far: a later attempt continues it rather than
        // starting over, so the sentences already good are neither lost nor paid for again.
        let mut kept = String::new();
        let mut removed = Vec::new();
        let mut attempts = 0;
        for attempt in 0..settings.max_attempts.max(1) {
            attempts = attempt + 1;
            let seed = seed.wrapping_add(u64::from(attempt) * ATTEMPT_SEED_STEP);
            let prefill = if kept.is_empty() {
                self.lead.to_owned()
            } else {
                format!("{kept} ")
            };
            let mut request = GenerationRequest::chat(self.messages.to_vec());
            request.max_tokens = Some(options.length.max_tokens());
            request.sampling = Sampling {
                temperature: settings.temperature,
                repeat_penalty: 1.15,
                frequency_penalty: 0.2,
                seed: Some(seed),
                min_tokens: options.length.min_tokens(),
                ..Sampling::default()
            };
            request.steer = self.steer.clone();
            // Reuse the shared rules' KV cache even though the request is seeded: under a batch
            // load, exact reproduction is not on offer anyway, and prefill is most of the cost.
            request.cache_prompt = Some(true);
            request.prefill = Some(prefill.clone());
            let answer = generate(generator, request)?;
            tokens += answer.usage.completion_tokens;
            let text = format!("{prefill}{}", before_markup(&answer.text));
            let raw = split_run_ons(
                &whole_sentences(&text, answer.finish_reason),
                &self.own_words,
            );
            all_raw.push(raw.clone());
            if first.is_none() {
                let report = verifier.check(&raw);
                first = Some((raw.clone(), report));
            }
            let (text, out) = self.repair(&raw);
            removed.extend(out);
            kept = text;
            if kept.split_whitespace().count() as f64 >= MIN_LENGTH_SHARE * target {
                break;
            }
        }
        let (text, completed) = if settings.complete {
            self.complete(kept)
        } else {
            (kept, Vec::new())
        };
        let report = verifier.check(&text);
        // `repair` and `complete` leave only supported claims; this is the last line.
        let (text, report) = if report.is_clean() {
            (text, report)
        } else {
            (String::new(), verifier.check(""))
        };
        let (raw, raw_report) = first.unwrap_or_else(|| (String::new(), verifier.check("")));
        Ok(Described {
            text,
            report,
            raw,
            raw_report,
            all_raw,
            removed,
            completed,
            attempts,
            seed,
            completion_tokens: tokens,
            elapsed: started.elapsed(),
        })
    }

    /// `raw` with every unsupported claim, borrowed detail, invented name and loop taken out,
    /// and what was taken out.
    fn repair(&self, raw: &str) -> (String, Vec<RemovedSentence>) {
        let verifier = &self.verifier;
        let repair = remove_unsupported(raw, &verifier.check(raw));
        let unborrowed = self.borrowed.remove(&repair.text);
        let named = self.names.remove(&unborrowed.text);
        let (text, repeats) = drop_repeats(&named.text);
        let mut removed = repair.removed;
        removed.extend(unborrowed.removed);
        removed.extend(named.removed);
        removed.extend(repeats);
        let (text, more) = settle(verifier, text);
        removed.extend(more);
        (text, removed)
    }
}

impl Variant<'_> {
    /// `text` closed with a sentence stating the key facts it leaves out, and their names.
    fn complete(&self, text: String) -> (String, Vec<String>) {
        let mut body = text.trim_end().to_owned();
        loop {
            let Some((closing, missing)) = closing_sentence(&body, self.facts) else {
                return (body, Vec::new());
            };
            let completed = match body.chars().last() {
                None => closing,
                Some('.' | '!' | '?') => format!("{body} {closing}"),
                Some(_) => format!("{body}. {closing}"),
            };
            // The closing sentence must not make the text loop (in 1,000 verified texts of
            // `vitrine eval copy --sample 500`, 3 did): the body's last sentence goes instead.
            if !body.is_empty() && repeated_ngram(&completed, LOOP.n, LOOP.times).is_some() {
                body = without_last_sentence(&body);
                continue;
            }
            // Built from the record, so it checks clean; should a fact ever read otherwise,
            // the text goes without it.
            return if self.verifier.check(&completed).is_clean() {
                (completed, missing)
            } else {
                (body, Vec::new())
            };
        }
    }
}

/// `text` without its last sentence.
fn without_last_sentence(text: &str) -> String {
    match sentences(text).last() {
        Some(&(start, _)) => text[..start].trim_end().to_owned(),
        None => String::new(),
    }
}

/// How many times a text is checked again after sentences were taken out of it.
const SETTLE_ROUNDS: usize = 3;

/// `text` checked again until every claim in it is supported, and the sentences taken out.
/// Taking sentences out joins their neighbours, and that can make a claim of its own: "Price:
/// 159" and "Title …" on two lines are no claim, "Price: 159 Title …" on one counts titles.
fn settle(verifier: &Verifier<'_>, mut text: String) -> (String, Vec<RemovedSentence>) {
    let mut removed = Vec::new();
    for _ in 0..SETTLE_ROUNDS {
        let report = verifier.check(&text);
        if report.is_clean() {
            return (text, removed);
        }
        let repair = remove_unsupported(&text, &report);
        removed.extend(repair.removed);
        text = repair.text;
    }
    if verifier.check(&text).is_clean() {
        (text, removed)
    } else {
        removed.push(RemovedSentence {
            sentence: text,
            claims: vec!["still unsupported after repair".into()],
        });
        (String::new(), removed)
    }
}

/// Chat markup that a model writes as text when it means to stop (held to a minimum length,
/// or confused by its template): what follows it is another turn, not the answer.
const MARKUP: &[&str] = &["<|", "|>", "<start_of_turn>", "<end_of_turn>", "</s>"];

/// `text` up to the first chat markup in it.
pub fn before_markup(text: &str) -> &str {
    let end = MARKUP
        .iter()
        .filter_map(|m| text.find(m))
        .min()
        .unwrap_or(text.len());
    &text[..end]
}

/// `text` without a sentence cut off by the token limit.
pub fn whole_sentences(text: &str, finish: FinishReason) -> String {
    let text = text.trim();
    if finish != FinishReason::Length {
        return text.to_owned();
    }
    match text.rfind(['.', '!', '?']) {
        Some(end) if end > 0 => text[..=end].to_owned(),
        _ => text.to_owned(),
    }
}

/// `text` without the sentences that make a word 4-gram occur a third time, and those
/// sentences.
pub fn drop_repeats(text: &str) -> (String, Vec<RemovedSentence>) {
    let mut kept: Vec<&str> = Vec::new();
    let mut removed = Vec::new();
    for (start, end) in sentences(text) {
        let sentence = text[start..end].trim();
        let mut candidate = kept.join(" ");
        candidate.push(' ');
        candidate.push_str(sentence);
        match repeated_ngram(&candidate, LOOP.n, LOOP.times) {
            Some(gram) => removed.push(RemovedSentence {
                sentence: sentence.to_owned(),
                claims: vec![format!("repeats \"{gram}\"")],
            }),
            None => kept.push(sentence),
        }
    }
    (kept.join(" "), removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_off_sentence_is_dropped_only_at_the_limit() {
        assert_eq!(
            whole_sentences("Soft jeans. They are pin", FinishReason::Length),
            "Soft jeans."
        );
        assert_eq!(
            whole_sentences("Soft jeans. They are pin", FinishReason::Stop),
            "Soft jeans. They are pin"
        );
    }

    #[test]
    fn chat_markup_ends_the_answer() {
        assert_eq!(
            before_markup("Soft jeans.<|im_end|> <|im_start|>user Write"),
            "Soft jeans."
        );
        assert_eq!(before_markup("Soft jeans.<end_of_turn>"), "Soft jeans.");
        assert_eq!(before_markup("Soft jeans."), "Soft jeans.");
    }

    #[test]
    fn sentences_joined_by_a_repair_are_checked_again() {
        use vitrine_content::Grounding;
        use vitrine_core::{Product, ProductDraft};
        let draft = ProductDraft {
            id: "j1".into(),
            sku: None,
            title: "SPYKAR Women Pink Skinny Jeans".into(),
            brand: Some("SPYKAR".into()),
            category: None,
            price_minor: 89_900,
            currency: "INR".into(),
            attributes: serde_json::Map::new(),
            description: None,
            image_urls: Vec::new(),
        };
        let facts =
            Facts::from_product(&Product::from_draft(draft, 0, 0), Grounding::AttributesOnly)
                .unwrap();
        let extractor = Extractor::default();
        let verifier = Verifier::new(&facts, &extractor);
        // On two lines, "899" counts nothing; once joined, it counts pockets.
        assert!(verifier.check("Only 899\nPockets galore.").is_clean());
        let (text, removed) = settle(&verifier, "Pink jeans. Only 899 Pockets galore.".into());
        assert_eq!(text, "Pink jeans.");
        assert_eq!(removed.len(), 1);
    }

    #[test]
    fn the_last_sentence_goes() {
        assert_eq!(without_last_sentence("Soft jeans. In pink."), "Soft jeans.");
        assert_eq!(without_last_sentence("Soft jeans."), "");
        assert_eq!(without_last_sentence(""), "");
    }

    #[test]
    fn repeating_sentences_are_dropped() {
        let text = "It is a luxury item. It is a luxury item. It is a luxury item. Pink denim.";
        let (kept, removed) = drop_repeats(text);
        assert_eq!(
            kept,
            "It is a luxury item. It is a luxury item. Pink denim."
        );
        assert_eq!(removed.len(), 1);
    }
}
