//! Terminal output: colours ([`style`]), tables ([`table`], one function per view),
//! prompts ([`prompt`]), progress bars ([`progress`]), `qcc usage`'s table and chart
//! ([`usage`]), and the JSON views with masked keys
//! that `--json` prints ([`views`]).
//!
//! Nothing outside `cli` calls into here; `ui` never reads or writes state.

pub mod progress;
pub mod prompt;
pub mod style;
pub mod table;
pub mod usage;
pub mod views;

use std::io::Write;

use serde::Serialize;

/// Print a value as pretty JSON on stdout (the `--json` output of every command).
pub fn print_json<T: Serialize + ?Sized>(value: &T) {
    let mut out = std::io::stdout().lock();
    let _ = serde_json::to_writer_pretty(&mut out, value);
    let _ = writeln!(out);
}
