//! Opening an input file as a stream: gzip is detected by its magic bytes and decoded on the
//! fly, bytes read are counted for progress, and lines are read with a length bound and a UTF-8
//! check so one bad line is a rejected row, not a failed import.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use flate2::read::MultiGzDecoder;

use super::ImportEvent;
use crate::{Error, Result};

/// Read buffer size: large enough to hold any header line for format detection.
const BUFFER: usize = 256 * 1024;
/// The longest line read whole; longer ones are skipped and rejected.
pub(crate) const MAX_LINE: usize = 4 * 1024 * 1024;

/// Counts bytes read from the file (before decompression), shared with the progress reporter.
#[derive(Debug, Clone)]
pub(crate) struct Progress {
    read: Arc<AtomicU64>,
    total: u64,
}

impl Progress {
    pub(crate) fn event(&self, records: u64) -> ImportEvent {
        ImportEvent::Progress {
            bytes: self.read.load(Ordering::Relaxed),
            total_bytes: self.total,
            records,
        }
    }
}

struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// An open input file.
pub(crate) struct Source {
    pub(crate) path: PathBuf,
    reader: BufReader<Box<dyn Read + Send>>,
    progress: Progress,
}

impl Source {
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let file_error = |e: std::io::Error| Error::File {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
        let mut file = File::open(path).map_err(file_error)?;
        let meta = file.metadata().map_err(file_error)?;
        if meta.is_dir() {
            return Err(Error::File {
                path: path.to_path_buf(),
                reason: "is a directory".into(),
            });
        }
        let mut magic = [0u8; 2];
        let gz = matches!(file.read(&mut magic), Ok(2) if magic == [0x1f, 0x8b]);
        let file = File::open(path).map_err(file_error)?;
        let read = Arc::new(AtomicU64::new(0));
        let counting = Counting {
            inner: file,
            read: read.clone(),
        };
        let inner: Box<dyn Read + Send> = if gz {
            Box::new(MultiGzDecoder::new(BufReader::with_capacity(
                BUFFER, counting,
            )))
        } else {
            Box::new(counting)
        };
        Ok(Self {
            path: path.to_path_buf(),
            reader: BufReader::with_capacity(BUFFER, inner),
            progress: Progress {
                read,
                total: meta.len(),
            },
        })
    }

    /// The first bytes of the (decompressed) content, without consuming them.
    pub(crate) fn head(&mut self) -> Result<&[u8]> {
        let path = self.path.clone();
        self.reader.fill_buf().map_err(|e| Error::File {
            path,
            reason: format!("cannot read: {e}"),
        })
    }

    pub(crate) fn progress(&self) -> Progress {
        self.progress.clone()
    }

    pub(crate) fn into_reader(self) -> BufReader<Box<dyn Read + Send>> {
        self.reader
    }

    pub(crate) fn lines(self) -> LineReader {
        LineReader {
            path: self.path,
            reader: self.reader,
            line: 0,
            buf: Vec::new(),
        }
    }
}

/// The lower-case extension, ignoring a trailing `.gz`.
pub(crate) fn extension(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    Path::new(name)
        .extension()
        .map(|e| e.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The file name without its extensions ("Beauty.txt.gz" → "Beauty").
pub(crate) fn stem(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    name.split('.').next().unwrap_or_default().to_string()
}

/// The first line of `head`, lossily decoded.
pub(crate) fn first_line(head: &[u8]) -> String {
    let end = head.iter().position(|b| *b == b'\n').unwrap_or(head.len());
    String::from_utf8_lossy(&head[..end])
        .trim_start_matches('\u{feff}')
        .trim_end_matches('\r')
        .to_string()
}

/// Reads lines with a length bound and a UTF-8 check.
pub(crate) struct LineReader {
    path: PathBuf,
    reader: BufReader<Box<dyn Read + Send>>,
    line: u64,
    buf: Vec<u8>,
}

/// One line: its number, and its text or why it cannot be read.
pub(crate) type Line = (u64, std::result::Result<String, String>);

impl Iterator for LineReader {
    type Item = Result<Line>;

    fn next(&mut self) -> Option<Self::Item> {
        self.buf.clear();
        let read = (&mut self.reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut self.buf);
        match read {
            Err(e) => Some(Err(Error::File {
                path: self.path.clone(),
                reason: format!("read failed after line {}: {e}", self.line),
            })),
            Ok(0) => None,
            Ok(_) => {
                self.line += 1;
                if self.buf.len() > MAX_LINE && self.buf.last() != Some(&b'\n') {
                    // Skip the rest of the over-long line without holding it.
                    let mut skipped = self.buf.len() as u64;
                    loop {
                        self.buf.clear();
                        match (&mut self.reader)
                            .take(MAX_LINE as u64)
                            .read_until(b'\n', &mut self.buf)
                        {
                            Ok(0) => break,
                            Ok(n) => {
                                skipped += n as u64;
                                if self.buf.last() == Some(&b'\n') {
                                    break;
                                }
                            }
                            Err(e) => {
                                return Some(Err(Error::File {
                                    path: self.path.clone(),
                                    reason: format!("read failed at line {}: {e}", self.line),
                                }));
                            }
                        }
                    }
                    return Some(Ok((
                        self.line,
                        Err(format!("line is {skipped} bytes, over the 4 MiB limit")),
                    )));
                }
                while matches!(self.buf.last(), Some(b'\n' | b'\r')) {
                    self.buf.pop();
                }
                let text = match std::str::from_utf8(&self.buf) {
                    // A byte-order mark some editors put at the start is not content.
                    Ok(s) if self.line == 1 => Ok(s.trim_start_matches('\u{feff}').to_string()),
                    Ok(s) => Ok(s.to_string()),
                    Err(e) => Err(format!("invalid UTF-8 at byte {}", e.valid_up_to())),
                };
                Some(Ok((self.line, text)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_ignores_gz() {
        assert_eq!(extension(Path::new("a/b.CSV.gz")), "csv");
        assert_eq!(extension(Path::new("x.jsonl")), "jsonl");
        assert_eq!(extension(Path::new("noext")), "");
        assert_eq!(stem(Path::new("data/Beauty.txt.gz")), "Beauty");
    }
}
