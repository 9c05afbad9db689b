//! Background jobs over many products (generating descriptions for a whole catalog). A job
//! fixes its list of products when it is created; each item is finished in the same
//! transaction that stores its drafts, so a job killed at any moment resumes where it stopped
//! and never writes an item twice.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::product::rfc3339 as rfc3339_serde;
use crate::{Error, Millis, Result};

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Has items left; a runner works on it, or will when one takes it up again.
    Running,
    /// Every item is done or failed.
    Done,
    /// Stopped at someone's request; finished items keep their drafts.
    Cancelled,
}

impl JobStatus {
    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Done => "done",
            Self::Cancelled => "cancelled",
        }
    }

    /// Whether the job can still change.
    pub fn is_finished(self) -> bool {
        self != Self::Running
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobStatus {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "running" => Ok(Self::Running),
            "done" => Ok(Self::Done),
            "cancelled" => Ok(Self::Cancelled),
            other => Err(Error::invalid(
                "status",
                format!("'{other}' is not running, done or cancelled"),
            )),
        }
    }
}

/// A job about to be created.
#[derive(Debug, Clone, PartialEq)]
pub struct JobNew {
    /// Its id (the engine makes it).
    pub id: String,
    /// What it does (`descriptions`).
    pub kind: String,
    /// Its parameters; a rerun with equal parameters resumes the unfinished job.
    pub params: serde_json::Value,
    /// Who started it.
    pub actor: String,
    /// When.
    pub created_at: Millis,
}

/// A stored job with its progress.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Job {
    /// Its id.
    pub id: String,
    /// What it does.
    pub kind: String,
    /// Where it stands.
    pub status: JobStatus,
    /// Its parameters.
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
    /// Items in all.
    pub total: u64,
    /// Items finished with drafts stored.
    pub done: u64,
    /// Items that failed (the reason is on the item).
    pub failed: u64,
    /// Who started it.
    pub actor: String,
    /// When it was created.
    #[serde(with = "rfc3339_serde")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Millis,
    /// When it last changed.
    #[serde(with = "rfc3339_serde")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Millis,
}

impl Job {
    /// Items not yet done or failed.
    pub fn pending(&self) -> u64 {
        self.total.saturating_sub(self.done + self.failed)
    }
}

/// Where one item of a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    /// Not yet finished.
    Pending,
    /// Finished; its drafts are stored.
    Done,
    /// Failed; `error` says why.
    Failed,
}

impl ItemStatus {
    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Done => "done",
            Self::Failed => "failed",
        }
    }
}

impl FromStr for ItemStatus {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "pending" => Ok(Self::Pending),
            "done" => Ok(Self::Done),
            "failed" => Ok(Self::Failed),
            other => Err(Error::invalid(
                "status",
                format!("'{other}' is not pending, done or failed"),
            )),
        }
    }
}

/// One product of a job.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct JobItem {
    /// The product.
    pub product_id: String,
    /// Where it stands.
    pub status: ItemStatus,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The drafts it stored.
    pub drafts: Vec<String>,
    /// Time spent on it, in milliseconds.
    pub elapsed_ms: u64,
}

/// How an item ended.
#[derive(Debug, Clone, PartialEq)]
pub enum ItemOutcome {
    /// Its drafts, stored with the item in one transaction.
    Done {
        /// The drafts to store.
        drafts: Vec<crate::DraftNew>,
        /// Time spent.
        elapsed_ms: u64,
    },
    /// It failed; the job goes on.
    Failed {
        /// Why.
        error: String,
        /// Time spent.
        elapsed_ms: u64,
    },
}

/// Which products a new job covers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductSelection {
    /// Only this category.
    pub category: Option<String>,
    /// Only products with neither a catalog description nor a generated description waiting
    /// for review or approved.
    pub missing_description: bool,
}
