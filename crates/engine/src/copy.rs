//! Product descriptions: generated from a product's facts in the catalog's own style, steered
//! away from what the record does not state, checked claim by claim, repaired, and regenerated
//! when too little is left or the text loops. The pure parts (prompts, facts, claims,
//! steering, metrics) are in `vitrine-content`; this module runs them on a `TextGenerator`.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use vitrine_content::{
    Borrowed, DescriptionOptions, Example, Extractor, Facts, RemovedSentence, Report, Verifier,
    description_lead, description_messages, remove_unsupported, repeated_ngram, sentences,
    split_run_ons, steering,
};
use vitrine_core::{
    ChatMessage, FinishReason, GenerateError, GenerationRequest, Sampling, Steering, TextGenerator,
    generate,
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
}

impl Default for CopySettings {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            temperature: 0.7,
            steer: true,
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
    /// What the model wrote, before verification.
    pub raw: String,
    /// The claims in `raw`, checked.
    pub raw_report: Report,
    /// Sentences taken out of `raw`: unsupported claims, or repetition.
    pub removed: Vec<RemovedSentence>,
    /// Generations made (1 when the first was good).
    pub attempts: u32,
    /// The seed of the kept generation.
    pub seed: u64,
    /// Tokens generated over all attempts.
    pub completion_tokens: u32,
    /// Time over all attempts.
    pub elapsed: Duration,
}

/// A seed's step between attempts (a prime, so attempts of neighbouring variants never meet).
const ATTEMPT_SEED_STEP: u64 = 7_919;
/// A kept text has at least this share of the target length.
const MIN_LENGTH_SHARE: f64 = 0.5;

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
    let steer = if settings.steer {
        steering(facts, extractor)
    } else {
        Steering::default()
    };
    let messages = description_messages(facts, options, examples);
    let lead = description_lead(facts);
    let borrowed = Borrowed::new(facts, examples.iter().map(|e| e.description.as_str()));
    let job = Variant {
        generator,
        verifier: Verifier::new(facts, extractor),
        messages: &messages,
        options,
        settings,
        steer: &steer,
        lead: &lead,
        borrowed,
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
    verifier: Verifier<'a>,
    messages: &'a [ChatMessage],
    options: &'a DescriptionOptions,
    settings: &'a CopySettings,
    steer: &'a Steering,
    /// The text's beginning, which the model continues.
    lead: &'a str,
    /// Details of the examples' products, not to be passed off as this one's.
    borrowed: Borrowed,
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
        let mut best: Option<(f64, Described)> = None;
        let mut tokens = 0;
        for attempt in 0..settings.max_attempts.max(1) {
            let seed = seed.wrapping_add(u64::from(attempt) * ATTEMPT_SEED_STEP);
            let mut request = GenerationRequest::chat(self.messages.to_vec());
            request.max_tokens = Some(options.length.max_tokens());
            request.sampling = Sampling {
                temperature: settings.temperature,
                repeat_penalty: 1.15,
                frequency_penalty: 0.2,
                seed: Some(seed),
                ..Sampling::default()
            };
            request.steer = self.steer.clone();
            // Reuse the shared rules' KV cache even though the request is seeded: under a batch
            // load, exact reproduction is not on offer anyway, and prefill is most of the cost.
            request.cache_prompt = Some(true);
            request.prefill = Some(self.lead.to_owned());
            let answer = generate(generator, request)?;
            tokens += answer.usage.completion_tokens;
            let text = format!("{}{}", self.lead, answer.text);
            let raw = split_run_ons(
                &whole_sentences(&text, answer.finish_reason),
                &self.own_words,
            );
            let raw_report = verifier.check(&raw);
            let repair = remove_unsupported(&raw, &raw_report);
            let unborrowed = self.borrowed.remove(&repair.text);
            let (text, repeats) = drop_repeats(&unborrowed.text);
            let mut removed = repair.removed;
            removed.extend(unborrowed.removed);
            removed.extend(repeats);
            let report = verifier.check(&text);
            let words = text.split_whitespace().count() as f64;
            // Prefer texts near the target length with little removed.
            let score = (words / target).min(1.0) - 0.1 * removed.len() as f64;
            let good = words >= MIN_LENGTH_SHARE * target;
            let described = Described {
                text,
                report,
                raw,
                raw_report,
                removed,
                attempts: attempt + 1,
                seed,
                completion_tokens: 0,
                elapsed: Duration::ZERO,
            };
            if best.as_ref().is_none_or(|(s, _)| score > *s) {
                best = Some((score, described));
            }
            if good {
                break;
            }
        }
        let (_, mut best) = best.expect("at least one attempt ran");
        best.completion_tokens = tokens;
        best.elapsed = started.elapsed();
        Ok(best)
    }
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
        match repeated_ngram(&candidate, 4, 3) {
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
