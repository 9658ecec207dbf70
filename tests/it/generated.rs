//! completions/ and man/ are generated from the clap tree; this fails when they are stale.
//! Regenerate with `QCC_REGENERATE=1 cargo test generated`.

use std::collections::BTreeSet;
use std::path::Path;

#[test]
fn generated_files_are_current() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("QCC_REGENERATE").is_some() {
        qcc::cli::generate::write_all(root).unwrap();
    }
    let files = qcc::cli::generate::all_files();
    let mut stale = Vec::new();
    for (rel, bytes) in &files {
        if std::fs::read(root.join(rel)).ok().as_deref() != Some(bytes.as_slice()) {
            stale.push(rel.clone());
        }
    }
    let expected: BTreeSet<String> = files
        .iter()
        .filter_map(|(rel, _)| rel.strip_prefix("man/").map(str::to_owned))
        .collect();
    let on_disk: BTreeSet<String> = std::fs::read_dir(root.join("man"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    for extra in on_disk.difference(&expected) {
        stale.push(format!("man/{extra} (no longer generated)"));
    }
    assert!(
        stale.is_empty(),
        "generated files are stale: {stale:?}\nrun: QCC_REGENERATE=1 cargo test generated"
    );
}

#[test]
fn every_subcommand_has_a_man_page_and_examples() {
    use clap::CommandFactory;
    let pages: BTreeSet<String> = qcc::cli::generate::man_pages()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    for name in [
        "qcc.1",
        "qcc-profile-add.1",
        "qcc-endpoint-remove.1",
        "qcc-priority-switch.1",
    ] {
        assert!(pages.contains(name), "{name} missing from {pages:?}");
    }
    // Every leaf subcommand's help carries examples.
    fn walk(cmd: &clap::Command, path: String, missing: &mut Vec<String>) {
        let subs: Vec<_> = cmd
            .get_subcommands()
            .filter(|s| s.get_name() != "help")
            .collect();
        if subs.is_empty() {
            let help = cmd
                .get_after_help()
                .map(|h| h.to_string())
                .unwrap_or_default();
            if !help.contains("Examples:") {
                missing.push(path.clone());
            }
        }
        for s in subs {
            walk(s, format!("{path} {}", s.get_name()), missing);
        }
    }
    let mut missing = Vec::new();
    walk(&qcc::cli::Cli::command(), "qcc".into(), &mut missing);
    assert!(missing.is_empty(), "no examples in --help of: {missing:?}");
}
