//! Progress bars (indicatif) on stderr: shown only on a terminal and never with `--json`,
//! so pipes and scripts see clean output.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

/// A bar whose length may be learnt late (e.g. once a batch knows how many items it got).
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A bar labelled `label`; hidden when `quiet` or stderr is not a terminal.
    pub fn new(quiet: bool, label: &str) -> Self {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({elapsed})")
                    .expect("valid template")
                    .progress_chars("=> "),
            );
            bar.set_message(label.to_owned());
            bar
        });
        Self { bar }
    }

    /// One more done, out of `total`.
    pub fn step(&self, total: usize) {
        if let Some(bar) = &self.bar {
            bar.set_length(total as u64);
            bar.inc(1);
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// A spinner with a message, for a wait of unknown length (e.g. `qcc health check` while
/// the daemon probes); hidden when `quiet` or stderr is not a terminal.
pub fn spinner(quiet: bool, message: &str) -> Progress {
    let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
        let s = ProgressBar::new_spinner();
        s.set_style(
            ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("valid template"),
        );
        s.set_message(message.to_owned());
        s.enable_steady_tick(std::time::Duration::from_millis(120));
        s
    });
    Progress { bar }
}
