//! Colours: decided once at startup from `--color`, `NO_COLOR` and whether each stream is a
//! terminal; afterwards `console::style` does the right thing on stdout and stderr.

use std::io::IsTerminal;

/// `--color` values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// Colour when the stream is a terminal and NO_COLOR is unset.
    #[default]
    Auto,
    Always,
    Never,
}

/// Apply the colour choice to stdout and stderr.
pub fn init(choice: ColorChoice) {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let (out, err) = match choice {
        ColorChoice::Always => (true, true),
        ColorChoice::Never => (false, false),
        ColorChoice::Auto => (
            !no_color && std::io::stdout().is_terminal(),
            !no_color && std::io::stderr().is_terminal(),
        ),
    };
    console::set_colors_enabled(out);
    console::set_colors_enabled_stderr(err);
}

/// `error: <message>` and an optional `  hint: <hint>` line, on stderr.
pub fn report_error(message: &str, hint: Option<&str>) {
    eprintln!(
        "{} {message}",
        console::style("error:").for_stderr().red().bold()
    );
    if let Some(hint) = hint {
        eprintln!("  {} {hint}", console::style("hint:").for_stderr().cyan());
    }
}

/// A warning line on stderr.
pub fn warn(message: &str) {
    eprintln!(
        "{} {message}",
        console::style("warning:").for_stderr().yellow().bold()
    );
}

/// A success line on stdout: `✓ message`.
pub fn success(message: &str) {
    println!("{} {message}", console::style("✓").green());
}

/// A dimmed line on stdout (next steps, notes).
pub fn note(message: &str) {
    println!("{}", console::style(message).dim());
}
