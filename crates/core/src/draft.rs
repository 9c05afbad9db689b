//! Generated content under review: every text a model writes is stored as a draft with its
//! provenance; a person approves, edits or rejects it, and only approved text is ever shown to
//! shoppers. A person's edit is a new draft of its own (`origin: human`) pointing at the one it
//! changed, so the record always says who wrote what.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::product::rfc3339 as rfc3339_serde;
use crate::{Error, Millis, Result};

/// What a piece of content is for. Each kind has its own JSON shape in `Draft::content`:
/// `description` is `{"text"}`, `seo` is `{"title","meta_description"}`, and the ad channels
/// carry their channel's fields (`search`: `{"headlines":[…],"descriptions":[…]}`, `social`:
/// `{"primary_text","headline"}`, `sms`: `{"text"}`, `push`: `{"title","body"}`, `email`:
/// `{"subject"}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ContentKind {
    /// A product description.
    Description,
    /// SEO title and meta description.
    Seo,
    /// A Google responsive search ad.
    Search,
    /// A social feed ad.
    Social,
    /// A text message.
    Sms,
    /// A push notification.
    Push,
    /// An email subject line.
    Email,
}

impl ContentKind {
    /// Every kind.
    pub const ALL: [ContentKind; 7] = [
        Self::Description,
        Self::Seo,
        Self::Search,
        Self::Social,
        Self::Sms,
        Self::Push,
        Self::Email,
    ];

    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Description => "description",
            Self::Seo => "seo",
            Self::Search => "search",
            Self::Social => "social",
            Self::Sms => "sms",
            Self::Push => "push",
            Self::Email => "email",
        }
    }
}

impl fmt::Display for ContentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ContentKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim())
            .ok_or_else(|| {
                Error::invalid(
                    "kind",
                    format!(
                        "'{s}' is not one of description, seo, search, social, sms, push, email"
                    ),
                )
            })
    }
}

/// Where a draft stands in review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DraftStatus {
    /// Waiting for a person.
    Draft,
    /// Approved: served to shoppers (at most one per product and kind).
    Approved,
    /// Rejected by a person.
    Rejected,
    /// Was approved until a newer draft of the same product and kind was approved.
    Superseded,
}

impl DraftStatus {
    /// Every status.
    pub const ALL: [DraftStatus; 4] = [
        Self::Draft,
        Self::Approved,
        Self::Rejected,
        Self::Superseded,
    ];

    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Superseded => "superseded",
        }
    }
}

impl fmt::Display for DraftStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DraftStatus {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim())
            .ok_or_else(|| {
                Error::invalid(
                    "status",
                    format!("'{s}' is not one of draft, approved, rejected, superseded"),
                )
            })
    }
}

/// Who wrote a draft's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// A language model.
    Model,
    /// A person, editing an earlier draft.
    Human,
}

impl Origin {
    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Model => "model",
            Self::Human => "human",
        }
    }
}

impl FromStr for Origin {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "model" => Ok(Self::Model),
            "human" => Ok(Self::Human),
            other => Err(Error::invalid(
                "origin",
                format!("'{other}' is not model or human"),
            )),
        }
    }
}

/// How a draft came to be: enough to reproduce a model's text, or to say who edited it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Provenance {
    /// The model that wrote it (absent for a person's edit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The prompt's version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_version: Option<String>,
    /// The sampling seed of the kept generation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Sampling settings and options, as sent.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub settings: serde_json::Value,
    /// Generations tried before this one was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
    /// The API key (or `cli`) that asked for it or edited it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// The batch job that made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
}

/// A draft about to be stored.
#[derive(Debug, Clone, PartialEq)]
pub struct DraftNew {
    /// Its id (the engine makes it).
    pub id: String,
    /// The product it is about.
    pub product_id: String,
    /// What it is for.
    pub kind: ContentKind,
    /// Who wrote it.
    pub origin: Origin,
    /// The draft a person's edit changed.
    pub parent: Option<String>,
    /// The text, shaped by `kind`.
    pub content: serde_json::Value,
    /// The claim check of the text.
    pub verification: serde_json::Value,
    /// How it came to be.
    pub provenance: Provenance,
    /// When it was made.
    pub created_at: Millis,
}

/// A stored draft.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Draft {
    /// Its id.
    pub id: String,
    /// The product it is about.
    pub product_id: String,
    /// What it is for.
    pub kind: ContentKind,
    /// Where it stands in review.
    pub status: DraftStatus,
    /// Who wrote it.
    pub origin: Origin,
    /// The draft a person's edit changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// The text, shaped by `kind`.
    #[schema(value_type = Object)]
    pub content: serde_json::Value,
    /// The claim check: claims found, supported, removed and why.
    #[schema(value_type = Object)]
    pub verification: serde_json::Value,
    /// How it came to be.
    pub provenance: Provenance,
    /// Who approved or rejected it, and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub review: Option<Review>,
    /// When it was made.
    #[serde(with = "rfc3339_serde")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Millis,
}

/// A person's decision on a draft.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Review {
    /// Who decided (an API key id, or `cli`).
    pub by: String,
    /// Why, if they said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// When.
    #[serde(with = "rfc3339_serde")]
    #[schema(value_type = String, format = DateTime)]
    pub at: Millis,
}

/// Filters and paging for drafts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DraftQuery {
    /// Only this product's.
    pub product: Option<String>,
    /// Only this kind.
    pub kind: Option<ContentKind>,
    /// Only this status.
    pub status: Option<DraftStatus>,
    /// Page size.
    pub limit: u32,
    /// Rows to skip.
    pub offset: u64,
}

/// A review decision to record.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The new status: `Approved` or `Rejected`.
    pub status: DraftStatus,
    /// Who decided, and why.
    pub review: Review,
}
