//! TAB completion driven the way the shells drive it: bash sources the committed script and
//! calls its completion function with COMP_WORDS/COMP_CWORD set; zsh's protocol (the
//! environment its script sets before calling `qcc`) is replayed directly.

use std::path::Path;

use crate::harness::TestEnv;

/// Complete `words` (the last one is being typed) in bash; return COMPREPLY without the
/// flags clap lists beside the values when the word is empty (unless the word is a flag).
fn bash_complete(env: &TestEnv, words: &[&str]) -> Vec<String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("completions/qcc.bash");
    let quoted: Vec<String> = words
        .iter()
        .map(|w| format!("'{}'", w.replace('\'', r"'\''")))
        .collect();
    let cword = words.len() - 1;
    let program = format!(
        r#"source '{script}'
COMP_WORDS=({words})
COMP_CWORD={cword}
COMP_LINE="${{COMP_WORDS[*]}}"
COMP_POINT=${{#COMP_LINE}}
COMP_TYPE=9
_clap_complete_qcc qcc "${{COMP_WORDS[$COMP_CWORD]}}" "${{COMP_WORDS[$((COMP_CWORD-1))]}}"
printf '%s\n' "${{COMPREPLY[@]}}""#,
        script = script.display(),
        words = quoted.join(" "),
    );
    let out = env
        .shell_cmd("bash")
        .args(["-c", &program])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
        .filter(|l| words.last().unwrap().starts_with('-') || !l.starts_with('-'))
        .collect()
}

/// What zsh's completer gets back for `words` (values before the first ':' of each line),
/// flags left out (zsh lists them beside the values when the word is empty).
fn zsh_complete(env: &TestEnv, words: &[&str]) -> Vec<String> {
    let out = env
        .cmd()
        .env("COMPLETE", "zsh")
        .env("_CLAP_IFS", "\n")
        .env("_CLAP_COMPLETE_INDEX", (words.len() - 1).to_string())
        .arg("--")
        .args(words)
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.split(':').next().unwrap().to_owned())
        .filter(|v| !v.starts_with('-'))
        .collect()
}

fn seeded() -> (TestEnv, Vec<String>, Vec<String>) {
    let env = TestEnv::new();
    let work = env.profile_with("work", 2);
    let home = env.profile_with("home", 1);
    (env, work, home)
}

#[test]
fn bash_offers_live_profile_names() {
    let (env, _, _) = seeded();
    for words in [
        &["qcc", "priority", "switch", ""][..],
        &["qcc", "endpoint", "add", ""][..],
        &["qcc", "endpoint", "add", "home", "--from", ""][..],
    ] {
        let mut got = bash_complete(&env, words);
        got.sort();
        assert_eq!(got, ["home", "work"], "{words:?}");
    }
    assert_eq!(
        bash_complete(&env, &["qcc", "priority", "switch", "wo"]),
        ["work"]
    );
}

#[test]
fn bash_offers_endpoint_ids_of_the_named_profile() {
    let (env, work, home) = seeded();
    let mut got = bash_complete(&env, &["qcc", "endpoint", "remove", "work", ""]);
    got.sort();
    let mut want = work.clone();
    want.sort();
    assert_eq!(got, want);
    assert_eq!(
        bash_complete(&env, &["qcc", "endpoint", "remove", "home", ""]),
        home
    );
}

#[test]
fn bash_offers_endpoint_names_beside_the_ids() {
    let (env, work, home) = seeded();
    let named = |profile: &str, id: &str, name: &str| {
        env.ok(&["endpoint", "edit", profile, id, "--name", name]);
    };
    named("work", &work[0], "relay-a");
    named("work", &work[1], "shared");
    named("home", &home[0], "shared");
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    // In the profile on the command line: its ids and its names.
    let got = sorted(bash_complete(
        &env,
        &["qcc", "endpoint", "disable", "work", ""],
    ));
    let want = sorted([work.clone(), vec!["relay-a".into(), "shared".into()]].concat());
    assert_eq!(got, want);
    assert_eq!(
        bash_complete(&env, &["qcc", "endpoint", "disable", "work", "Rel"]),
        ["relay-a"]
    );
    // Across profiles: a name two endpoints share is offered once.
    let got = sorted(bash_complete(&env, &["qcc", "health", "history", "s"]));
    assert_eq!(got, ["shared"]);
    let got = bash_complete(&env, &["qcc", "health", "history", ""]);
    assert_eq!(got.iter().filter(|c| *c == "shared").count(), 1, "{got:?}");
    assert_eq!(got.len(), 3 + 2, "three ids and two names: {got:?}");
    // `--only` offers the endpoints of the --from profile; `env -e` those of its profile.
    let got = sorted(bash_complete(
        &env,
        &[
            "qcc", "endpoint", "add", "x", "--from", "home", "--only", "",
        ],
    ));
    assert_eq!(got, sorted([home.clone(), vec!["shared".into()]].concat()));
    let got = sorted(bash_complete(&env, &["qcc", "env", "work", "-e", "re"]));
    assert_eq!(got, ["relay-a"]);
}

#[test]
fn bash_offers_profiles_and_route_patterns_for_routes() {
    let (env, _, _) = seeded();
    env.ok(&["route", "add", "claude-haiku-*", "home"]);
    env.ok(&["route", "add", "claude-opus-*", "work"]);
    let mut got = bash_complete(&env, &["qcc", "route", "add", "claude-x-*", ""]);
    got.sort();
    assert_eq!(got, ["home", "work"]);
    assert_eq!(
        bash_complete(&env, &["qcc", "route", "remove", ""]),
        ["claude-haiku-*", "claude-opus-*"]
    );
    assert_eq!(
        zsh_complete(&env, &["qcc", "route", "remove", "claude-o"]),
        ["claude-opus-*"]
    );
}

#[test]
fn bash_still_completes_commands_and_flags() {
    let (env, _, _) = seeded();
    let got = bash_complete(&env, &["qcc", "pri"]);
    assert_eq!(got, ["priority", "price"]);
    let got = bash_complete(&env, &["qcc", "prio"]);
    assert_eq!(got, ["priority"]);
    let got = bash_complete(&env, &["qcc", "endpoint", "add", "work", "--ke"]);
    assert!(
        got.contains(&"--key".to_owned()) && got.contains(&"--key-env".to_owned()),
        "{got:?}"
    );
}

#[test]
fn zsh_protocol_offers_live_values() {
    let (env, work, _) = seeded();
    let mut got = zsh_complete(&env, &["qcc", "priority", "switch", ""]);
    got.sort();
    assert_eq!(got, ["home", "work"]);
    let mut got = zsh_complete(&env, &["qcc", "endpoint", "remove", "work", ""]);
    got.sort();
    let mut want = work;
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn completion_with_no_state_offers_nothing_and_writes_nothing() {
    let env = TestEnv::new();
    std::fs::remove_dir(env.config_dir()).unwrap();
    assert!(bash_complete(&env, &["qcc", "priority", "switch", ""]).is_empty());
    assert!(
        !env.config_dir().exists(),
        "completion must not create state"
    );
}

#[test]
fn completions_command_prints_the_committed_scripts() {
    let env = TestEnv::new();
    for (shell, file) in [("bash", "qcc.bash"), ("zsh", "_qcc"), ("fish", "qcc.fish")] {
        let printed = env.ok(&["completions", shell]);
        let committed = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("completions")
                .join(file),
        )
        .unwrap();
        assert_eq!(printed, committed, "{shell}");
    }
}
