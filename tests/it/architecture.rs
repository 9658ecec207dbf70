//! The layers of docs/architecture.md, checked on the source: every `crate::X` a top-level
//! module names (outside comments) must be a module of a lower layer, so the import graph
//! between top-level modules has no cycle. A new module must be given its layer here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Top-level modules by layer, bottom first. A module may use those of lower layers only.
const LAYERS: &[&[&str]] = &[
    &["state", "sse", "fake"],
    &["queue", "import", "openai"],
    &["report"],
    &["metrics", "shared"],
    &["upstream", "ipc", "usage"],
    &["balance"],
    &["proxy"],
    &["health"],
    &["daemon", "ui"],
    &["cli"],
];

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rs_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every top-level module and the files it is made of.
fn modules(src: &Path) -> BTreeMap<String, Vec<PathBuf>> {
    let mut mods = BTreeMap::new();
    for entry in std::fs::read_dir(src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            let mut files = Vec::new();
            rs_files(&path, &mut files);
            mods.insert(name, files);
        } else if name != "lib" && name != "main" {
            mods.insert(name, vec![path]);
        }
    }
    mods
}

/// The top-level modules named as `crate::NAME` in `file`, comments left out.
fn uses(file: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(file).unwrap();
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
        let mut rest = line;
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + "crate::".len()..];
            // `crate::{a, b::c}` names several modules.
            let names = match rest.strip_prefix('{') {
                Some(group) => group.split('}').next().unwrap_or_default(),
                None => rest,
            };
            for part in names.split(',') {
                let name: String = part
                    .trim_start()
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                out.push(name);
                if !rest.starts_with('{') {
                    break;
                }
            }
        }
    }
    out
}

#[test]
fn every_import_points_down_the_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let layer_of = |m: &str| LAYERS.iter().position(|l| l.contains(&m));
    let mods = modules(&src);
    let mut wrong = Vec::new();
    for (m, files) in &mods {
        let Some(own) = layer_of(m) else {
            wrong.push(format!("{m}: not in any layer of tests/it/architecture.rs"));
            continue;
        };
        for file in files {
            for used in uses(file) {
                if used == *m || !mods.contains_key(&used) {
                    continue;
                }
                if layer_of(&used).is_none_or(|l| l >= own) {
                    wrong.push(format!(
                        "{}: {m} uses crate::{used}, which is not below it",
                        file.strip_prefix(&src).unwrap().display()
                    ));
                }
            }
        }
    }
    wrong.sort();
    wrong.dedup();
    assert!(wrong.is_empty(), "layering broken:\n{}", wrong.join("\n"));
    // The check sees the tree: the modules it knows are the ones there.
    assert!(
        mods.contains_key("proxy") && mods.contains_key("upstream") && mods.contains_key("sse")
    );
}
