//! `vitrine recommend`: a shopper's recommendations as the API gives them, as JSON.

use std::io::Write;

use crate::command::Global;
use crate::exit::{Failure, Outcome};

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
}

pub(crate) fn run(global: &Global, args: Args) -> Outcome {
    let mut engine = global.engine()?;
    if let Some(run) = args.run {
        engine = engine.with_recommender_run(run);
    }
    let recs = engine.recommend(&args.shopper, args.k)?;
    let text = serde_json::to_string_pretty(&recs).map_err(|e| Failure::Internal(e.into()))?;
    writeln!(std::io::stdout(), "{text}")?;
    Ok(())
}
