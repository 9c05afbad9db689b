//! `vitrine drafts` and `vitrine jobs`: review generated content, follow and cancel jobs.

use std::io::Write;

use clap::Subcommand;
use serde::Serialize;
use vitrine_core::{ContentKind, DraftQuery, DraftStatus, JobStatus};

use super::Global;
use super::generate::ACTOR;
use crate::exit::{Failure, Outcome};

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Drafts, newest first, as JSON lines.
    List {
        /// Only this product's.
        #[arg(long)]
        product: Option<String>,
        /// Only this kind: description, seo, search, social, sms, push, email.
        #[arg(long)]
        kind: Option<String>,
        /// Only this status: draft, approved, rejected, superseded.
        #[arg(long)]
        status: Option<String>,
        /// Most drafts listed.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// One draft with its provenance and verification report, as JSON.
    Show {
        /// The draft's id.
        id: String,
    },
    /// Approve a draft: it replaces the product's approved text of its kind.
    Approve {
        /// The draft's id.
        id: String,
        /// Why, for the record.
        #[arg(long)]
        note: Option<String>,
    },
    /// Reject a draft.
    Reject {
        /// The draft's id.
        id: String,
        /// Why, for the record.
        #[arg(long)]
        note: Option<String>,
    },
    /// Store your edit of a draft as a new draft (its claims are checked and reported).
    Edit {
        /// The draft's id.
        id: String,
        /// The new text of a description.
        #[arg(long, conflicts_with = "content")]
        text: Option<String>,
        /// The new content as JSON, in the draft kind's shape.
        #[arg(long)]
        content: Option<String>,
        /// Why, for the record.
        #[arg(long)]
        note: Option<String>,
        /// Approve the edit at once.
        #[arg(long)]
        approve: bool,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum JobCommand {
    /// Jobs, newest first, as JSON lines.
    List {
        /// Only jobs in this state: running, done, cancelled.
        #[arg(long)]
        status: Option<String>,
    },
    /// One job and its failed items, as JSON.
    Show {
        /// The job's id.
        id: String,
    },
    /// Cancel a running job; finished items keep their drafts.
    Cancel {
        /// The job's id.
        id: String,
    },
}

fn print_json(value: &impl Serialize) -> Outcome {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, value).map_err(|e| Failure::Internal(e.into()))?;
    writeln!(out)?;
    Ok(())
}

fn parse<T: std::str::FromStr<Err = vitrine_core::Error>>(
    value: Option<String>,
) -> Result<Option<T>, Failure> {
    value
        .map(|v| v.parse::<T>())
        .transpose()
        .map_err(|e| Failure::BadInput(e.to_string()))
}

pub(crate) fn run(global: &Global, command: Command) -> Outcome {
    let engine = global.engine()?;
    match command {
        Command::List {
            product,
            kind,
            status,
            limit,
        } => {
            let page = engine.drafts(&DraftQuery {
                product,
                kind: parse::<ContentKind>(kind)?,
                status: parse::<DraftStatus>(status)?,
                limit,
                offset: 0,
            })?;
            for draft in &page.items {
                print_json(draft)?;
            }
            Ok(())
        }
        Command::Show { id } => print_json(&engine.draft(&id)?),
        Command::Approve { id, note } => {
            print_json(&engine.review_draft(&id, DraftStatus::Approved, ACTOR, note)?)
        }
        Command::Reject { id, note } => {
            print_json(&engine.review_draft(&id, DraftStatus::Rejected, ACTOR, note)?)
        }
        Command::Edit {
            id,
            text,
            content,
            note,
            approve,
        } => {
            let content = match (text, content) {
                (Some(text), _) => serde_json::json!({ "text": text }),
                (None, Some(json)) => serde_json::from_str(&json)
                    .map_err(|e| Failure::BadInput(format!("--content is not JSON: {e}")))?,
                (None, None) => {
                    return Err(Failure::BadInput("give --text or --content".into()));
                }
            };
            print_json(&engine.edit_draft(&id, content, ACTOR, note, approve)?)
        }
    }
}

pub(crate) fn run_jobs(global: &Global, command: JobCommand) -> Outcome {
    let engine = global.engine()?;
    match command {
        JobCommand::List { status } => {
            let page = engine.jobs(parse::<JobStatus>(status)?, vitrine_engine::MAX_PAGE, 0)?;
            for job in &page.items {
                print_json(job)?;
            }
            Ok(())
        }
        JobCommand::Show { id } => {
            let job = engine.job(&id)?;
            let mut failed = Vec::new();
            let mut offset = 0;
            loop {
                let page = engine.job_items(&id, vitrine_engine::MAX_PAGE, offset)?;
                failed.extend(page.items.iter().filter(|i| i.error.is_some()).cloned());
                offset += page.items.len() as u64;
                if page.items.is_empty() || offset >= page.total {
                    break;
                }
            }
            print_json(&serde_json::json!({ "job": job, "failed_items": failed }))
        }
        JobCommand::Cancel { id } => print_json(&engine.cancel_job(&id)?),
    }
}
