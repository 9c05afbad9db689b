//! Ad copy and SEO tags for one product: per field of the channel, the model writes a list of
//! candidates under a JSON schema (the fields run at once, so the model batches them), steered
//! away from what the record does not state; every candidate is tidied to its limit and checked
//! claim by claim; the record's own phrases complete what the model could not; creatives are
//! assembled from what is left, each within every limit. The pure parts are in
//! `vitrine_content::ads`.

use std::time::{Duration, Instant};

use serde::Serialize;
use vitrine_content::{
    AdOptions, Candidate, CheckedClaim, Creative, Extractor, Facts, Report, Source, Verifier,
    assemble, candidate_count, example_leaks, field_messages, field_schema, is_relevant,
    parse_candidates, record_candidates, steering, tidy,
};
use vitrine_core::{
    GenerateError, GenerationRequest, Product, ResponseFormat, Sampling, Steering, TextGenerator,
    generate,
};

use crate::copy::CopySettings;

/// A creative with the check of its texts.
#[derive(Debug, Clone)]
pub struct Advertised {
    /// The creative; every text within its limit and supported by the record.
    pub creative: Creative,
    /// The claims of its texts, all supported.
    pub report: Report,
}

/// A candidate the checks refused.
#[derive(Debug, Clone, Serialize)]
pub struct Refused {
    /// The field.
    pub field: String,
    /// The text as the model wrote it.
    pub text: String,
    /// Why: unsupported claims, or no fitting boundary.
    pub reasons: Vec<String>,
}

/// What one ad request produced.
#[derive(Debug, Clone)]
pub struct AdsOutcome {
    /// The creatives, at most `options.variants`.
    pub creatives: Vec<Advertised>,
    /// Model candidates refused, with why.
    pub refused: Vec<Refused>,
    /// The seed the model's candidates were sampled with.
    pub seed: u64,
    /// Tokens generated.
    pub completion_tokens: u32,
    /// Time taken.
    pub elapsed: Duration,
}

/// Writes `options.variants` creatives for `options.channel`.
pub fn advertise(
    generator: &dyn TextGenerator,
    extractor: &Extractor,
    facts: &Facts,
    product: &Product,
    options: &AdOptions,
    seed: u64,
    settings: &CopySettings,
) -> Result<AdsOutcome, GenerateError> {
    let started = Instant::now();
    let channel = options.channel;
    let opt_out = options.opt_out();
    let steer = if settings.steer {
        let mut steer = steering(facts, extractor);
        steer.avoid.extend(example_leaks(facts));
        steer
    } else {
        Steering::default()
    };
    let verifier = Verifier::new(facts, extractor);
    let fields = channel.fields();
    let answers: Vec<Result<(String, u32), GenerateError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = fields
            .iter()
            .enumerate()
            .map(|(i, field)| {
                let steer = steer.clone();
                scope.spawn(move || {
                    let count = candidate_count(field, options.variants);
                    let mut request = GenerationRequest::chat(field_messages(
                        facts,
                        channel,
                        field,
                        count,
                        options.tone,
                        opt_out,
                    ));
                    request.format = ResponseFormat::JsonSchema {
                        name: format!("{}_{}", channel.as_str(), field.name),
                        schema: field_schema(field, count, opt_out),
                    };
                    request.max_tokens = Some((count * (field.max / 3 + 8)) as u32 + 16);
                    request.sampling = Sampling {
                        temperature: settings.temperature,
                        repeat_penalty: 1.1,
                        seed: Some(seed.wrapping_add(i as u64)),
                        ..Sampling::default()
                    };
                    request.steer = steer;
                    generate(generator, request)
                        .map(|answer| (answer.text, answer.usage.completion_tokens))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(GenerateError::Backend("an ad thread panicked".into())))
            })
            .collect()
    });
    let mut refused = Vec::new();
    let mut pools = Vec::new();
    let mut tokens = 0;
    for (field, answer) in fields.iter().zip(answers) {
        let (answer, used) = answer?;
        tokens += used;
        let mut pool = Vec::new();
        for text in parse_candidates(&answer, field) {
            let Some(tidied) = tidy(field, &text, opt_out) else {
                refused.push(Refused {
                    field: field.name.to_owned(),
                    text,
                    reasons: vec![format!(
                        "not a whole phrase within {} characters",
                        field.max
                    )],
                });
                continue;
            };
            if !is_relevant(field, &tidied, facts) {
                refused.push(Refused {
                    field: field.name.to_owned(),
                    text,
                    reasons: vec!["too little of it is about the product".into()],
                });
                continue;
            }
            let report = verifier.check(&tidied);
            if !report.is_clean() {
                refused.push(Refused {
                    field: field.name.to_owned(),
                    text,
                    reasons: report.unsupported().map(describe_claim).collect(),
                });
                continue;
            }
            pool.push(Candidate {
                text: tidied,
                source: Source::Model,
            });
        }
        pool.extend(
            record_candidates(product, field, opt_out)
                .into_iter()
                .filter(|c| verifier.check(&c.text).is_clean()),
        );
        pools.push((*field, pool));
    }
    let creatives = assemble(channel, &pools, options.variants, opt_out)
        .into_iter()
        .map(|creative| {
            let claims = creative
                .texts()
                .flat_map(|t| verifier.check(t).claims)
                .collect();
            Advertised {
                creative,
                report: Report { claims },
            }
        })
        .collect();
    Ok(AdsOutcome {
        creatives,
        refused,
        seed,
        completion_tokens: tokens,
        elapsed: started.elapsed(),
    })
}

/// "colour 'red': the record states no such colour".
pub(crate) fn describe_claim(claim: &CheckedClaim) -> String {
    match &claim.verdict {
        vitrine_content::Verdict::Unsupported { reason } => {
            format!(
                "{} '{}': {reason}",
                claim.claim.kind.as_str(),
                claim.claim.text
            )
        }
        vitrine_content::Verdict::Supported { evidence } => {
            format!(
                "{} '{}' (from {evidence})",
                claim.claim.kind.as_str(),
                claim.claim.text
            )
        }
    }
}
