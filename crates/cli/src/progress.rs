//! Progress for long commands: a bar on a terminal, a plain line every few seconds otherwise.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// A counting bar on stderr drawn with `template` (indicatif's syntax).
pub(crate) fn styled_bar(template: &str, len: u64) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar
}

/// `styled_bar` when stderr is a terminal; `None` otherwise (logs get no bar).
pub(crate) fn terminal_bar(template: &str, len: u64) -> Option<ProgressBar> {
    std::io::stderr()
        .is_terminal()
        .then(|| styled_bar(template, len))
}

/// Reports progress in bytes of a file.
#[derive(Debug)]
pub(crate) enum Progress {
    /// An interactive bar on stderr.
    Bar(ProgressBar),
    /// Plain lines on stderr, at most one per interval.
    Lines {
        label: String,
        last: Instant,
        every: Duration,
    },
}

impl Progress {
    pub(crate) fn new(label: &str, total_bytes: u64) -> Self {
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(total_bytes);
            bar.set_style(
                ProgressStyle::with_template(
                    "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta} · {prefix}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.set_message(label.to_string());
            Progress::Bar(bar)
        } else {
            Progress::Lines {
                label: label.to_string(),
                last: Instant::now(),
                every: Duration::from_secs(2),
            }
        }
    }

    pub(crate) fn update(&mut self, bytes: u64, total: u64, records: u64) {
        match self {
            Progress::Bar(bar) => {
                bar.set_length(total);
                bar.set_position(bytes);
                bar.set_prefix(format!("{records} records"));
            }
            Progress::Lines { label, last, every } => {
                if last.elapsed() >= *every {
                    *last = Instant::now();
                    let pct = if total == 0 {
                        100.0
                    } else {
                        bytes as f64 * 100.0 / total as f64
                    };
                    eprintln!("{label}: {records} records, {pct:.0}% of the file read");
                }
            }
        }
    }

    /// Prints a line without tearing the bar.
    pub(crate) fn println(&self, line: &str) {
        match self {
            Progress::Bar(bar) => bar.suspend(|| eprintln!("{line}")),
            Progress::Lines { .. } => eprintln!("{line}"),
        }
    }

    pub(crate) fn finish(self) {
        if let Progress::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}
