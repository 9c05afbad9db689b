//! A run directory's files, written so that a kill at any moment leaves either the old file or
//! the new one, never half of either: each is written beside its place and renamed over it.
//! Weights are burn's burnpack bytes of a module's record; settings, state and metrics JSON.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::store::ModuleRecord;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// What can go wrong with a run's file.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The file is not what it should be (not JSON of the expected shape, not weights of this
    /// model).
    #[error("{}: {reason}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

type Result<T> = std::result::Result<T, CheckpointError>;

fn corrupt(path: &Path, reason: impl std::fmt::Display) -> CheckpointError {
    CheckpointError::Corrupt {
        path: path.to_owned(),
        reason: reason.to_string(),
    }
}

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(".tmp");
    let tmp = path.with_file_name(name);
    std::fs::write(&tmp, bytes).map_err(|source| CheckpointError::Io {
        path: tmp.clone(),
        source,
    })?;
    std::fs::rename(&tmp, path).map_err(|source| CheckpointError::Io {
        path: path.to_owned(),
        source,
    })
}

/// Reads the whole file.
pub fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| CheckpointError::Io {
        path: path.to_owned(),
        source,
    })
}

/// Writes `value` as pretty JSON, atomically.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|e| corrupt(path, e))?;
    write_atomic(path, (text + "\n").as_bytes())
}

/// Reads JSON of type `T`.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let bytes = read(path)?;
    serde_json::from_slice(&bytes).map_err(|e| corrupt(path, e))
}

/// Reads JSON of type `T`, or `None` when the file does not exist (yet).
pub fn read_json_if_present<T: DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    if path.exists() {
        read_json(path).map(Some)
    } else {
        Ok(None)
    }
}

/// Saves a module's weights, atomically.
pub fn save_module<M: Module>(module: &M, path: &Path) -> Result<()> {
    let bytes = module
        .clone()
        .into_record()
        .into_bytes()
        .map_err(|e| corrupt(path, e))?;
    write_atomic(path, &bytes[..])
}

/// Loads weights saved by `save_module` into `fresh` (a module of the same shape); weights of
/// another shape or a damaged file are an error naming the file.
pub fn load_module<M: Module>(fresh: M, path: &Path) -> Result<M> {
    let bytes = read(path)?;
    let record = ModuleRecord::from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes))
        .map_err(|e| corrupt(path, format!("not a checkpoint of this model ({e})")))?;
    fresh
        .try_load_record(record)
        .map_err(|e| corrupt(path, format!("not a checkpoint of this model ({e})")))
}

#[cfg(test)]
mod tests {
    use burn::nn::{Linear, LinearConfig};
    use burn::prelude::*;

    use super::*;

    #[test]
    fn weights_and_json_round_trip_and_damage_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let device = Device::flex();
        device.seed(3);
        let linear: Linear = LinearConfig::new(3, 2).init(&device);
        let path = dir.path().join("w.bpk");
        save_module(&linear, &path).expect("saves");
        let loaded = load_module(LinearConfig::new(3, 2).init(&device), &path).expect("loads");
        let a: Vec<f32> = linear.weight.val().try_into_vec_as().unwrap();
        let b: Vec<f32> = loaded.weight.val().try_into_vec_as().unwrap();
        assert_eq!(a, b);
        let other = load_module(LinearConfig::new(4, 2).init(&device), &path);
        assert!(other.is_err(), "another shape is refused");
        std::fs::write(&path, b"not weights").unwrap();
        let e = load_module(LinearConfig::new(3, 2).init(&device), &path)
            .expect_err("damaged")
            .to_string();
        assert!(e.contains("w.bpk") && e.contains("not a checkpoint"), "{e}");

        let json = dir.path().join("state.json");
        write_json(&json, &vec![1, 2]).expect("writes");
        assert_eq!(read_json::<Vec<i32>>(&json).unwrap(), vec![1, 2]);
        assert!(read_json::<String>(&json).is_err());
        assert_eq!(
            read_json_if_present::<Vec<i32>>(&json).unwrap(),
            Some(vec![1, 2])
        );
        assert_eq!(
            read_json_if_present::<Vec<i32>>(&dir.path().join("none.json")).unwrap(),
            None
        );
        assert!(!dir.path().join("state.json.tmp").exists());
    }
}
