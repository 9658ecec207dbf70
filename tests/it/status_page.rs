//! The status page at `/_qcc/` in a real browser: headless Chromium loads it from the real
//! daemon, the page's scripts fetch `/_qcc/status` and `/_qcc/usage`, and the rendered DOM
//! shows every endpoint, its state word and its figures (names escaped, never markup).
//! With an access token the JSON is refused without it, and the page given it through
//! `#token=` renders the data. Skipped with a note when Chromium is missing, unless `CI` is
//! set (then it fails). Screenshots go to `target/test-artifacts/`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use qcc::fake::{FakeUpstream, Fault};

use crate::harness::TestEnv;
use crate::harness::client::{PLAIN, STREAM, send};
use crate::harness::daemon::{client, runtime};

/// A name that would be markup if the page ever inserted it as HTML.
const HOSTILE_NAME: &str = "<img src=x onerror=alert(1)>beta";

/// The Chromium binary: `$QCC_CHROMIUM`, else `chromium` (or another usual name) on PATH.
fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("QCC_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser", "google-chrome", "chrome"] {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    None
}

/// Chromium, or `None` (the test is skipped) outside CI; in CI a missing one fails.
fn require_chromium() -> Option<PathBuf> {
    let found = chromium();
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium is required in CI (apt-get install -y chromium)"
        );
        eprintln!("skipped: chromium not found (install it, or set QCC_CHROMIUM)");
    }
    found
}

fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Run headless Chromium on `url` with `extra` (`--dump-dom`, `--screenshot=…`); its stdout.
fn headless(bin: &Path, profile: &Path, url: &str, extra: &[&str]) -> String {
    let out = Command::new(bin)
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-extensions",
            "--hide-scrollbars",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The page's DOM after its scripts ran, dumped again until `ready` holds (deadline 90 s:
/// each run lets the page poll for 5 s of virtual time).
fn dom_until(bin: &Path, profile: &Path, url: &str, ready: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let dom = headless(bin, profile, url, &["--dump-dom"]);
        if ready(&dom) {
            return dom;
        }
        assert!(
            Instant::now() < deadline,
            "the page never showed the data; last DOM:\n{dom}"
        );
    }
}

/// The text of the table cells of the row whose first cell is `id`.
fn row_cells(dom: &str, id: &str) -> Vec<String> {
    let start = dom
        .find(&format!("<td class=\"mono\">{id}</td>"))
        .unwrap_or_else(|| panic!("no row for {id} in:\n{dom}"));
    let row = &dom[start..dom[start..].find("</tr>").map_or(dom.len(), |e| start + e)];
    row.split("<td")
        .skip(1)
        .map(|c| {
            let text = &c[c.find('>').unwrap() + 1..];
            text[..text.find("</td>").unwrap_or(text.len())].to_owned()
        })
        .collect()
}

/// Profile `work`: `alpha` answers, the other (a hostile name) always 529s; breakers
/// open at the first failure. Some traffic goes through, so the second is `open`.
fn setup() -> (TestEnv, FakeUpstream, FakeUpstream, String, String) {
    let env = TestEnv::new();
    let good = FakeUpstream::spawn_named("good").unwrap();
    let bad = FakeUpstream::spawn_named("bad").unwrap();
    bad.set_default_fault(Fault::status(529));
    let a = env.endpoint_for("work", &good.url(), "sk-good-0000000001", "api-key");
    let b = env.endpoint_for("work", &bad.url(), "sk-bad-00000000002", "api-key");
    env.ok(&["endpoint", "edit", "work", &a, "--name", "alpha"]);
    env.ok(&["endpoint", "edit", "work", &b, "--name", HOSTILE_NAME]);
    env.ok(&["profile", "edit", "work", "--strategy", "round-robin"]);
    env.breakers_open_at_once();
    (env, good, bad, a, b)
}

fn traffic(base: &str) {
    let rt = runtime();
    let http = client();
    for i in 0..6 {
        let body = if i % 2 == 0 { STREAM } else { PLAIN };
        let r = rt.block_on(send(&http, base, body, None)).unwrap();
        assert_eq!(r.status, 200, "{r:?}");
    }
}

#[test]
fn status_page_renders_endpoints_states_and_figures_in_chromium() {
    let Some(bin) = require_chromium() else {
        return;
    };
    let (env, _good, _bad, a, b) = setup();
    // A second tier and a model route, for the page to list.
    let spare = FakeUpstream::spawn_named("spare").unwrap();
    env.endpoint_for("spare", &spare.url(), "sk-spare-000000003", "api-key");
    env.ok(&["priority", "set", "work", "primary"]);
    env.ok(&["priority", "set", "spare", "secondary"]);
    env.ok(&["route", "add", "claude-haiku-*", "spare"]);
    let proxy = env.start_proxy();
    traffic(&proxy.base_url);
    env.wait_status(Duration::from_secs(10), "B open", |s| {
        s["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["id"] == b.as_str() && e["state"] == "open")
    });

    // The JSON the page reads, and its headers.
    let rt = runtime();
    let http = client();
    let get = |path: &str| {
        rt.block_on(async {
            let r = http
                .get(format!("{}{path}", proxy.base_url))
                .send()
                .await
                .unwrap();
            let h = r.headers().clone();
            (r.status().as_u16(), h, r.text().await.unwrap())
        })
    };
    let (status, h, body) = get("/_qcc/");
    assert_eq!(status, 200);
    assert_eq!(h["content-type"], "text/html; charset=utf-8");
    assert_eq!(h["cache-control"], "no-store");
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert!(body.contains("app.js") && !body.contains("<script>"));
    let (status, h, _) = get("/_qcc/app.js");
    assert_eq!(
        (status, h["content-type"].to_str().unwrap()),
        (200, "text/javascript; charset=utf-8")
    );
    let (status, h, _) = get("/_qcc/app.css");
    assert_eq!(
        (status, h["content-type"].to_str().unwrap()),
        (200, "text/css; charset=utf-8")
    );
    let (status, h, usage) = get("/_qcc/usage");
    assert_eq!(status, 200, "{usage}");
    assert_eq!(h["cache-control"], "no-store");
    let usage: serde_json::Value = serde_json::from_str(&usage).unwrap();
    assert!(
        usage["today"].is_array() && usage["last_hour"].is_array(),
        "{usage}"
    );
    let (_, _, status_json) = get("/_qcc/status");
    let report: serde_json::Value = serde_json::from_str(&status_json).unwrap();
    assert!(
        report["recent_state_changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["endpoint"] == b.as_str() && c["to"] == "open"),
        "{report}"
    );
    assert_eq!(report["tiers"][0]["profile"], "work", "{report}");
    assert_eq!(report["tiers"][1]["tier"], "secondary", "{report}");
    assert!(report["queue"].is_object(), "queue counts: {report}");

    let url = format!("{}/_qcc/", proxy.base_url);
    let profile = env.root().join("chromium");
    let dom = dom_until(&bin, &profile, &url, |d| {
        d.contains("data-ready=\"1\"") && d.contains(&format!("<td class=\"mono\">{b}</td>"))
    });
    let good_row = row_cells(&dom, &a);
    let bad_row = row_cells(&dom, &b);
    assert_eq!(good_row[1], "alpha", "{good_row:?}");
    assert_eq!(
        bad_row[1], "&lt;img src=x onerror=alert(1)&gt;beta",
        "the name is text, not markup: {bad_row:?}"
    );
    assert!(!dom.contains("<img src=\"x\""), "no element made of a name");
    assert_eq!(good_row[3], "healthy", "{good_row:?}");
    assert_eq!(bad_row[3], "open", "{bad_row:?}");
    assert!(bad_row[4].ends_with("s left"), "cooldown: {bad_row:?}");
    let requests = |row: &[String]| row[7].replace(',', "").parse::<u64>().unwrap();
    assert!(
        requests(&good_row) > 0 && requests(&bad_row) > 0,
        "{good_row:?} {bad_row:?}"
    );
    assert!(
        bad_row[8].parse::<u64>().unwrap() > 0,
        "errors: {bad_row:?}"
    );
    assert_ne!(good_row[10], "-", "p50 latency: {good_row:?}");
    assert!(!good_row[12].starts_with('-'), "first token: {good_row:?}");
    assert!(
        dom.contains("Serving") && dom.contains(">work<"),
        "serving profile"
    );
    assert!(dom.contains("no usage recorded yet"), "empty usage state");
    assert!(dom.contains("→"), "the state changes are listed");
    assert!(
        dom.contains(">secondary<") && dom.contains(">spare<") && dom.contains(">claude-haiku-*<"),
        "tiers and routes"
    );

    // The screenshot, with requests going on meanwhile (the live chart).
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = {
        let (stop, base) = (stop.clone(), proxy.base_url.clone());
        std::thread::spawn(move || {
            let rt = runtime();
            let http = client();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = rt.block_on(send(&http, &base, PLAIN, None));
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };

    let shot = artifacts().join("status-page.png");
    let _ = std::fs::remove_file(&shot);
    headless(
        &bin,
        &profile,
        &url,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1280,900",
        ],
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    load.join().unwrap();
    assert!(
        std::fs::metadata(&shot).unwrap().len() > 10_000,
        "screenshot written"
    );
}

#[test]
fn status_page_with_a_token_reads_it_from_the_fragment() {
    let Some(bin) = require_chromium() else {
        return;
    };
    let (env, _good, _bad, a, _b) = setup();
    let token = "page-token-4f9a2c";
    let proxy = env.start_proxy_env(&[], &[("QCC_ACCESS_TOKEN", token.as_ref())]);
    traffic_with_token(&proxy.base_url, token);

    let rt = runtime();
    let http = client();
    let status = |path: &str, auth: Option<&str>| {
        rt.block_on(async {
            let mut r = http.get(format!("{}{path}", proxy.base_url));
            if let Some(a) = auth {
                r = r.header("authorization", a);
            }
            r.send().await.unwrap().status().as_u16()
        })
    };
    for path in ["/_qcc/status", "/_qcc/usage"] {
        assert_eq!(status(path, None), 401, "{path}");
        assert_eq!(status(path, Some("Bearer wrong")), 401, "{path}");
        assert_eq!(
            status(path, Some(&format!("Bearer {token}"))),
            200,
            "{path}"
        );
    }
    // The shell holds no data: served without the token (the page then asks for it).
    assert_eq!(status("/_qcc/", None), 200);
    assert_eq!(status("/_qcc/app.js", None), 200);

    let profile = env.root().join("chromium");
    // Without the token: the login form, no data.
    let dom = headless(
        &bin,
        &profile,
        &format!("{}/_qcc/", proxy.base_url),
        &["--dump-dom"],
    );
    assert!(
        dom.contains("<form id=\"login\">") && !dom.contains(&format!(">{a}<")),
        "the form, and no endpoint: {dom}"
    );
    // With it in the fragment: the data.
    let url = format!("{}/_qcc/#token={token}", proxy.base_url);
    let dom = dom_until(&bin, &profile, &url, |d| d.contains("data-ready=\"1\""));
    let row = row_cells(&dom, &a);
    assert_eq!(row[1], "alpha");
    assert!(row[7].parse::<u64>().unwrap() > 0, "{row:?}");
    assert!(
        !dom.contains(token),
        "the token leaves the address and the DOM"
    );
    let shot = artifacts().join("status-page-token.png");
    headless(
        &bin,
        &profile,
        &url,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1280,900",
        ],
    );
    assert!(shot.is_file());
}

fn traffic_with_token(base: &str, token: &str) {
    let rt = runtime();
    let http = client();
    for _ in 0..4 {
        let r = rt.block_on(async {
            http.post(format!("{base}/v1/messages"))
                .header("x-api-key", token)
                .header("content-type", "application/json")
                .body(PLAIN)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        });
        assert_eq!(r, 200);
    }
}

/// `proxy status --watch` without a terminal: each refresh printed under a time line, no
/// terminal codes, requests per second from the second frame; `--json`: a line each;
/// Ctrl-C ends it cleanly.
#[test]
fn proxy_status_watch_prints_every_refresh_when_not_a_terminal() {
    let (env, _good, _bad, a, b) = setup();
    let proxy = env.start_proxy();
    traffic(&proxy.base_url);
    env.wait_status(Duration::from_secs(10), "B open", |s| {
        s["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["state"] == "open")
    });

    let started = Instant::now();
    let out = env.ok(&[
        "proxy",
        "status",
        "--watch",
        "--interval",
        "1",
        "--count",
        "2",
    ]);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "one interval between the two"
    );
    let stamps = out.lines().filter(|l| l.starts_with("--- 20")).count();
    assert_eq!(stamps, 2, "{out}");
    assert_eq!(out.matches(" running (pid ").count(), 2, "{out}");
    assert!(!out.contains('\x1b'), "no terminal codes: {out:?}");
    assert!(out.contains(&a) && out.contains(&b), "{out}");
    assert!(out.contains("healthy") && out.contains("open"), "{out}");
    assert!(
        out.contains(", -/s") && out.contains(", 0.00/s"),
        "rate: {out}"
    );
    assert!(out.contains("1ST TOKEN P50/P95"), "{out}");
    // The usage accounting counted the traffic (its model has no price).
    assert!(
        out.contains("today:     tokens in") && out.contains("requests without a price"),
        "{out}"
    );
    assert!(out.contains("queue:     0 pending"), "{out}");
    assert!(
        out.contains("state changes (newest first):") && out.contains("→ open"),
        "{out}"
    );

    let out = env.ok(&[
        "proxy",
        "status",
        "--watch",
        "--interval",
        "1",
        "--count",
        "2",
        "--json",
    ]);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines
            .iter()
            .all(|v| v["running"] == true && v["requests"].as_u64() > Some(0))
    );

    // Flags of --watch alone are usage errors.
    env.fail(2, &["proxy", "status", "--interval", "1"]);
    env.fail(2, &["proxy", "status", "--watch", "--interval", "0"]);

    // Ctrl-C: exit 0 after the frame in progress.
    let mut child = env
        .cmd()
        .args(["proxy", "status", "--watch", "--interval", "1"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut first).unwrap();
    assert!(first.starts_with("--- 20"), "{first}");
    crate::harness::daemon::kill(child.id(), libc::SIGINT);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "Ctrl-C ends the watch cleanly");
}
