//! `vitrine db migrate|stats`.

use std::io::Write;

use clap::Subcommand;

use super::Global;
use crate::exit::Outcome;

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create the database or bring its schema up to date (also done by every command).
    Migrate,
    /// Print row counts.
    Stats,
}

pub(crate) fn run(global: &Global, cmd: Command) -> Outcome {
    let engine = global.engine()?;
    let mut out = std::io::stdout().lock();
    match cmd {
        Command::Migrate => writeln!(
            out,
            "{}: schema at version {}",
            global.db.display(),
            vitrine_engine::SCHEMA_VERSION
        )?,
        Command::Stats => {
            let s = engine.stats()?;
            writeln!(
                out,
                "products {}\nshoppers {}\nevents {}",
                s.products, s.shoppers, s.events
            )?;
        }
    }
    Ok(())
}
