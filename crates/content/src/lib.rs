//! The commerce tasks as pure functions: reading a product's facts, finding the checkable
//! claims in a text and checking each against those facts, taking unsupported claims out, and
//! fitting copy to each ad channel's length limits, and laying out ad banners.
//! No I/O and no model here: the engine feeds texts in and stores what comes out.

mod ads;
mod banner;
mod borrowed;
mod channel;
mod claim;
mod complete;
mod error;
mod facts;
mod grounding;
mod lexicon;
mod metrics;
mod names;
mod prompt;
mod token;
mod verify;

pub use ads::{
    AD_PROMPT_VERSION, AdOptions, Candidate, Creative, DEFAULT_OPT_OUT, MAX_OPT_OUT_CHARS, Source,
    assemble, candidate_count, example_leaks, field_messages, field_schema, is_relevant,
    items_per_creative, parse_candidates, record_candidates, tidy,
};
pub use banner::{BannerError, BannerSize, MAX_CTA_CHARS, MAX_HEADLINE_CHARS, render_banner};
pub use borrowed::Borrowed;
pub use channel::{
    Channel, Counting, Field, SMS_GSM7_MAX, SMS_UCS2_MAX, dedupe, has_opt_out, sms_length,
    sms_with_opt_out,
};
pub use claim::{Claim, ClaimKind, Detail, Extractor};
pub use complete::{closing_sentence, key_fact_coverage, key_facts};
pub use error::{Error, Result};
pub use facts::{Facts, Grounding};
pub use grounding::steering;
pub use metrics::{Coverage, coverage, distinct_n, repeated_ngram, rouge_l};
pub use names::Names;
pub use prompt::{
    DEFAULT_EXAMPLES, DESCRIPTION_PROMPT_VERSION, DescriptionOptions, EXAMPLE_CHARS, Example,
    ExampleIndex, Length, MAX_AUDIENCE_CHARS, MAX_VARIANTS, Tone, description_lead,
    description_messages, fact_sheet, similar,
};
pub use token::split_run_ons;
pub use verify::{
    CheckedClaim, RemovedSentence, Repair, Report, Verdict, Verifier, remove_unsupported, sentences,
};
