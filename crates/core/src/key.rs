//! API keys and roles. Only a key's hash is ever stored; the key itself is shown once.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::product::rfc3339 as rfc3339_serde;
use crate::{Error, Millis, Result};

/// Every Vitrine API key starts with this, so a leaked one is easy to recognise in a scan.
pub const KEY_PREFIX: &str = "vtr_";

/// What a key may do. Roles are ordered: admin can do everything a merchant can, a merchant
/// everything a reader can.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read-only access to the catalog and events.
    Reader,
    /// Reads and writes the catalog and events.
    Merchant,
    /// Everything, including key management.
    Admin,
}

impl Role {
    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Merchant => "merchant",
            Role::Admin => "admin",
        }
    }

    /// Whether a key with this role may do what `required` allows.
    pub fn allows(self, required: Role) -> bool {
        self >= required
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim() {
            "reader" => Ok(Role::Reader),
            "merchant" => Ok(Role::Merchant),
            "admin" => Ok(Role::Admin),
            other => Err(Error::invalid(
                "role",
                format!("'{other}' is not one of admin, merchant, reader"),
            )),
        }
    }
}

/// A stored API key: its public id and metadata, never the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ApiKey {
    /// Public id (safe to log).
    pub id: String,
    /// A human label.
    pub name: String,
    /// What the key may do.
    pub role: Role,
    /// When it was created (RFC 3339).
    #[serde(with = "rfc3339_serde")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Millis,
    /// Whether it has been revoked.
    pub revoked: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered() {
        assert!(Role::Admin.allows(Role::Merchant));
        assert!(Role::Merchant.allows(Role::Reader));
        assert!(!Role::Reader.allows(Role::Merchant));
        assert!(!Role::Merchant.allows(Role::Admin));
        assert_eq!("merchant".parse::<Role>().unwrap(), Role::Merchant);
        assert!("root".parse::<Role>().is_err());
    }
}
