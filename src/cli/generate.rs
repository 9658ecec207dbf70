//! Generated artefacts: completion scripts and man pages, both derived from the one clap
//! tree. The committed copies in `completions/` and `man/` are checked by a test
//! (`generated_files_are_current`); regenerate them with `QCC_REGENERATE=1 cargo test`.

use std::path::Path;

use clap::CommandFactory;
use clap_complete::env::EnvCompleter;

use crate::cli::Cli;
use crate::cli::completions::Shell;

/// The registration script for a shell: it calls `qcc` back for every completion.
pub fn completion_script(shell: Shell) -> String {
    let completer: &dyn EnvCompleter = match shell {
        Shell::Bash => &clap_complete::env::Bash,
        Shell::Zsh => &clap_complete::env::Zsh,
        Shell::Fish => &clap_complete::env::Fish,
    };
    let mut buf = Vec::new();
    completer
        .write_registration("COMPLETE", "qcc", "qcc", "qcc", &mut buf)
        .expect("writing to a Vec cannot fail");
    String::from_utf8(buf).expect("completion scripts are UTF-8")
}

/// File name of each shell's script in `completions/`.
pub fn completion_file(shell: Shell) -> &'static str {
    match shell {
        Shell::Bash => "qcc.bash",
        Shell::Zsh => "_qcc",
        Shell::Fish => "qcc.fish",
    }
}

/// Every man page: `qcc.1` and one per subcommand (`qcc-profile-add.1`, …).
pub fn man_pages() -> Vec<(String, Vec<u8>)> {
    let mut cmd = Cli::command();
    cmd.build();
    let mut pages = Vec::new();
    collect_pages(&cmd, "qcc", &mut pages);
    pages
}

fn collect_pages(cmd: &clap::Command, name: &str, pages: &mut Vec<(String, Vec<u8>)>) {
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd.clone().name(name.to_owned()))
        .render(&mut buf)
        .expect("writing to a Vec cannot fail");
    pages.push((format!("{name}.1"), buf));
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        if sub.get_name() == "help" {
            continue;
        }
        collect_pages(sub, &format!("{name}-{}", sub.get_name()), pages);
    }
}

/// Every generated file, as (path relative to the repo root, contents).
pub fn all_files() -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = [Shell::Bash, Shell::Zsh, Shell::Fish]
        .into_iter()
        .map(|s| {
            (
                format!("completions/{}", completion_file(s)),
                completion_script(s).into_bytes(),
            )
        })
        .collect();
    files.extend(
        man_pages()
            .into_iter()
            .map(|(name, bytes)| (format!("man/{name}"), bytes)),
    );
    files
}

/// Write every generated file under `root` (the repo root), removing stale man pages.
pub fn write_all(root: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(root.join("completions"))?;
    let man = root.join("man");
    if man.is_dir() {
        std::fs::remove_dir_all(&man)?;
    }
    std::fs::create_dir_all(&man)?;
    for (rel, bytes) in all_files() {
        std::fs::write(root.join(rel), bytes)?;
    }
    Ok(())
}
