//! Column codecs shared by the row modules: domain enums stored by name, and values stored as
//! JSON text. A value that does not decode is a corrupt row, reported as a driver conversion
//! error so it surfaces through the usual `db` mapping.

use std::str::FromStr;

use rusqlite::Row;
use rusqlite::types::Type;
use serde::Serialize;
use serde::de::DeserializeOwned;
use vitrine_core::{Error, Result};

/// Reads column `col` as text and parses it with the type's `FromStr` (the enums' names).
pub(crate) fn named<T>(row: &Row<'_>, col: usize) -> rusqlite::Result<T>
where
    T: FromStr<Err = Error>,
{
    let text: String = row.get(col)?;
    text.parse()
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(col, Type::Text, Box::new(e)))
}

/// Reads column `col` as JSON text.
pub(crate) fn json<T: DeserializeOwned>(row: &Row<'_>, col: usize) -> rusqlite::Result<T> {
    let text: String = row.get(col)?;
    serde_json::from_str(&text)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(col, Type::Text, Box::new(e)))
}

/// Encodes a value as JSON text for a column.
pub(crate) fn to_json(value: &impl Serialize) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::Storage(e.to_string()))
}
