//! API key rows. Only SHA-256 hashes of secrets are stored.

use rusqlite::{Connection, OptionalExtension, Row, params};
use vitrine_core::{ApiKey, Error, Result, Role};

use crate::error::db;

fn from_row(row: &Row<'_>) -> rusqlite::Result<ApiKey> {
    let role: String = row.get(2)?;
    let revoked: Option<i64> = row.get(4)?;
    Ok(ApiKey {
        id: row.get(0)?,
        name: row.get(1)?,
        role: role.parse::<Role>().map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, Box::new(e))
        })?,
        created_at: row.get(3)?,
        revoked: revoked.is_some(),
    })
}

pub(crate) fn create(conn: &Connection, key: &ApiKey, hash: &[u8; 32]) -> Result<()> {
    conn.execute(
        "INSERT INTO api_keys (id, name, role, secret_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![key.id, key.name, key.role.as_str(), &hash[..], key.created_at],
    )
    .map_err(|e| match e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            Error::Conflict(format!("API key '{}' already exists", key.id))
        }
        other => db(other),
    })?;
    Ok(())
}

pub(crate) fn find(conn: &Connection, hash: &[u8; 32]) -> Result<Option<ApiKey>> {
    conn.prepare_cached(
        "SELECT id, name, role, created_at, revoked_at FROM api_keys \
         WHERE secret_hash = ?1 AND revoked_at IS NULL",
    )
    .and_then(|mut s| s.query_row([&hash[..]], from_row).optional())
    .map_err(db)
}

pub(crate) fn list(conn: &Connection) -> Result<Vec<ApiKey>> {
    conn.prepare_cached(
        "SELECT id, name, role, created_at, revoked_at FROM api_keys ORDER BY created_at, id",
    )
    .and_then(|mut s| s.query_map([], from_row)?.collect())
    .map_err(db)
}

pub(crate) fn revoke(conn: &Connection, id: &str, now: i64) -> Result<()> {
    let n = conn
        .execute(
            "UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?2) WHERE id = ?1",
            params![id, now],
        )
        .map_err(db)?;
    if n == 0 {
        return Err(Error::NotFound {
            kind: "API key",
            id: id.to_string(),
        });
    }
    Ok(())
}
