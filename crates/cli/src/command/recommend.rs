//! `vitrine recommend`: a shopper's recommendations as the API gives them, as JSON.

use std::io::Write;

use crate::command::Global;
use crate::command::llm::LlmArgs;
use crate::exit::{Failure, Outcome};

/// Who phrases the explanations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ExplainWith {
    /// The language model (see --model, --llm-url), checked; the template where it fails.
    Model,
    /// The template only: no model is loaded.
    Template,
}

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The shopper's id, as their events name it.
    #[arg(long)]
    shopper: String,
    /// How many products (1 to 100).
    #[arg(long, default_value_t = 10)]
    k: usize,
    /// A SASRec run directory to recommend with (default: item-kNN fitted on the store).
    #[arg(long, env = "VITRINE_REC_RUN")]
    run: Option<std::path::PathBuf>,
    /// Add one sentence per product on why it is recommended, naming only the shopper's real
    /// history and the product's real attributes.
    #[arg(long, value_enum, value_name = "WITH", num_args = 0..=1,
        default_missing_value = "model")]
    explain: Option<ExplainWith>,
    #[command(flatten)]
    llm: LlmArgs,
}

pub(crate) fn run(global: &Global, args: Args) -> Outcome {
    let mut engine = global.engine()?;
    if let Some(run) = args.run {
        engine = engine.with_recommender_run(run);
    }
    if args.explain == Some(ExplainWith::Model) {
        engine = engine.with_generator(args.llm.generator()?);
    }
    let recs = engine.recommend(&args.shopper, args.k, args.explain.is_some())?;
    let text = serde_json::to_string_pretty(&recs).map_err(|e| Failure::Internal(e.into()))?;
    writeln!(std::io::stdout(), "{text}")?;
    Ok(())
}
