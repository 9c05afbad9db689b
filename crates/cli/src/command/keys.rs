//! `vitrine keys create|list|revoke`.

use std::io::Write;

use clap::Subcommand;
use vitrine_core::Role;

use super::Global;
use crate::exit::{Failure, Outcome};

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create a key and print its secret (shown once, stored only as a hash).
    Create {
        /// admin, merchant or reader.
        #[arg(long)]
        role: String,
        /// A label to recognise the key by.
        #[arg(long, default_value = "cli")]
        name: String,
        /// Print only the secret (for scripts).
        #[arg(long)]
        quiet: bool,
    },
    /// List keys (never their secrets).
    List,
    /// Revoke a key by its id.
    Revoke {
        /// The key id (key_…).
        id: String,
    },
}

pub(crate) fn run(global: &Global, cmd: Command) -> Outcome {
    let engine = global.engine()?;
    let mut out = std::io::stdout().lock();
    match cmd {
        Command::Create { role, name, quiet } => {
            let role: Role = role
                .parse()
                .map_err(|e: vitrine_core::Error| Failure::BadInput(e.to_string()))?;
            let new = engine.create_key(&name, role)?;
            if quiet {
                writeln!(out, "{}", new.secret)?;
            } else {
                writeln!(
                    out,
                    "created {} key {} ({}); its secret is shown only now:\n{}",
                    new.key.role, new.key.id, new.key.name, new.secret
                )?;
            }
        }
        Command::List => {
            for k in engine.list_keys()? {
                writeln!(
                    out,
                    "{}\t{}\t{}\t{}{}",
                    k.id,
                    k.role,
                    k.name,
                    vitrine_core::format_millis(k.created_at),
                    if k.revoked { "\trevoked" } else { "" }
                )?;
            }
        }
        Command::Revoke { id } => {
            engine.revoke_key(&id)?;
            writeln!(out, "revoked {id}")?;
        }
    }
    Ok(())
}
