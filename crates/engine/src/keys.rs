//! API key issuing and checking. A key is `vtr_` + 64 hex digits (256 random bits); only its
//! SHA-256 is stored, so a stolen database does not yield working keys.

use rand::RngCore;
use sha2::{Digest, Sha256};
use vitrine_core::{ApiKey, KEY_PREFIX, Role, Store, now_millis};

use crate::Result;

/// A freshly created key: the record, and the secret that is shown exactly once.
#[derive(Clone)]
pub struct NewKey {
    /// The stored record.
    pub key: ApiKey,
    /// The bearer token. Never logged, never stored.
    pub secret: String,
}

impl std::fmt::Debug for NewKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewKey")
            .field("key", &self.key)
            .field("secret", &"<redacted>")
            .finish()
    }
}

pub(crate) fn hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

pub(crate) fn create(store: &dyn Store, name: &str, role: Role) -> Result<NewKey> {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret = format!("{KEY_PREFIX}{}", hex::encode(bytes));
    let digest = hash(&secret);
    // The public id is derived from the hash: stable, unique, and reveals nothing usable.
    let key = ApiKey {
        id: format!("key_{}", hex::encode(&digest[..6])),
        name: name.trim().to_string(),
        role,
        created_at: now_millis(),
        revoked: false,
    };
    store.create_api_key(&key, &digest)?;
    Ok(NewKey { key, secret })
}

pub(crate) fn authenticate(store: &dyn Store, secret: &str) -> Result<Option<ApiKey>> {
    let secret = secret.trim();
    if !secret.starts_with(KEY_PREFIX) || secret.len() != KEY_PREFIX.len() + 64 {
        return Ok(None);
    }
    Ok(store.find_api_key(&hash(secret))?)
}
