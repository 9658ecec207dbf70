//! The daemon itself (`qcc proxy run`, in the foreground or re-executed by `proxy start`):
//! take the lifetime lock, load and validate the config, bind the proxy port and the
//! control socket, report readiness, serve, reload on request / SIGHUP / file change, and
//! on `stop` or SIGTERM drain in-flight requests, remove its files and exit.
//!
//! Everything that can fail at startup fails before readiness is reported, and the error
//! text goes back to `proxy start` through the readiness pipe.

use std::fs::File;
use std::io::Write;
use std::net::SocketAddr;
use std::os::fd::FromRawFd;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::net::{TcpListener, UnixListener};

use crate::daemon::control::{self, Daemon, Shutdown};
use crate::daemon::reload::Reloader;
use crate::daemon::{DaemonError, ensure_private_dir, io_err, liveness, logfile, open_lock_file};
use crate::proxy::Proxy;
use crate::state::secret::Secret;
use crate::state::shared::REDIS_URL_ENV;
use crate::state::store::write_atomic;
use crate::state::{Config, Paths, Store};

/// Environment variable holding the access token clients must present.
pub const ACCESS_TOKEN_ENV: &str = "QCC_ACCESS_TOKEN";
/// How long `SIGTERM` lets in-flight requests finish.
pub const DEFAULT_DRAIN: Duration = Duration::from_secs(30);

/// The one line the daemon writes on its readiness pipe.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadyReport {
    Ready {
        pid: u32,
        listen: String,
    },
    Failed {
        message: String,
        hint: Option<String>,
    },
}

#[derive(Debug, Default)]
pub struct RunOptions {
    /// Overrides `config.json` → `proxy.listen`.
    pub listen: Option<String>,
    /// Write the [`ReadyReport`] to this fd (set by `proxy start`).
    pub ready_fd: Option<i32>,
    /// Our stdout/stderr are this file: rotate it.
    pub log_file: Option<PathBuf>,
    pub verbose: u8,
}

/// Set up logging to stderr (which is the log file when detached).
fn init_logging(verbose: u8, to_file: bool) {
    use std::io::IsTerminal;
    let default = match verbose {
        0 => "qcc=info,warn",
        1 => "qcc=debug,info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("QCC_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(!to_file && std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}

/// Run the daemon until it is stopped.
pub fn run(paths: Paths, opts: RunOptions) -> Result<(), DaemonError> {
    ignore_sigpipe();
    init_logging(opts.verbose, opts.log_file.is_some());
    // SAFETY: the fd was handed to us by `proxy start` for exactly this purpose.
    let mut ready = opts.ready_fd.map(|fd| unsafe { File::from_raw_fd(fd) });
    let result = run_inner(&paths, &opts, &mut ready);
    if let Err(e) = &result {
        tracing::error!("{e}");
        if let Some(pipe) = ready.take() {
            report(
                pipe,
                &ReadyReport::Failed {
                    message: e.to_string(),
                    hint: e.hint(),
                },
            );
        }
    }
    result
}

/// The CLI dies quietly on a closed pipe (`main` restores the default disposition); the
/// daemon must not: a client that resets its connection while an answer is being written
/// would raise SIGPIPE in the write and end the daemon for everyone. Ignored, the write
/// fails with EPIPE and only that connection ends.
fn ignore_sigpipe() {
    // SAFETY: setting a signal's disposition to SIG_IGN; called before the daemon starts
    // any thread of its own.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
}

fn report(mut pipe: File, r: &ReadyReport) {
    let mut line = serde_json::to_vec(r).expect("json");
    line.push(b'\n');
    let _ = pipe.write_all(&line);
}

/// Everything checked before the runtime starts.
struct Prepared {
    store: Store,
    config: Config,
    /// Bound already (a taken port is a startup error), not yet accepting.
    listener: std::net::TcpListener,
    local: SocketAddr,
    token: Option<Secret>,
    lock: File,
    /// `QCC_REDIS_URL` (checked).
    shared_env: Option<String>,
}

fn prepare(paths: &Paths, opts: &RunOptions) -> Result<Prepared, DaemonError> {
    ensure_private_dir(paths.runtime_dir())?;
    let lock = open_lock_file(&paths.daemon_lock())?;
    if fs4::FileExt::try_lock(&lock).is_err() {
        let pid = liveness::read_pid(paths).map_or("unknown".into(), |p| p.to_string());
        return Err(DaemonError::AlreadyRunning(pid));
    }
    let store = Store::open(paths.clone())?;
    let config: Config = store.read()?;
    let listen = opts
        .listen
        .clone()
        .unwrap_or_else(|| config.proxy.listen.clone());
    let addr: SocketAddr = listen
        .parse()
        .map_err(|_| DaemonError::BadListen(listen.clone()))?;
    let token = std::env::var(ACCESS_TOKEN_ENV)
        .ok()
        .filter(|t| !t.trim().is_empty())
        .map(Secret::new);
    if !addr.ip().is_loopback() && token.is_none() {
        return Err(DaemonError::NeedsToken(addr.to_string()));
    }
    // The shared state's URL from the environment (it wins over the config's, which the
    // routing snapshot checks): refused here, before anything is bound.
    let shared_env = std::env::var(REDIS_URL_ENV).ok();
    if let Some((url, crate::state::shared::Source::Env)) =
        crate::state::shared::resolve(shared_env.as_deref(), None)
    {
        crate::state::shared::check_url(&url).map_err(|source| DaemonError::BadSharedUrl {
            var: REDIS_URL_ENV,
            source,
        })?;
    }
    let bind_err = |source| DaemonError::Bind {
        addr: addr.to_string(),
        source,
    };
    let listener = std::net::TcpListener::bind(addr).map_err(bind_err)?;
    listener.set_nonblocking(true).map_err(bind_err)?;
    let local = listener.local_addr().map_err(bind_err)?;
    Ok(Prepared {
        store,
        config,
        listener,
        local,
        token,
        lock,
        shared_env,
    })
}

/// Every proxied stream holds two sockets: raise the soft open-file limit to the hard one.
fn raise_fd_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain getrlimit/setrlimit on a local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

fn run_inner(
    paths: &Paths,
    opts: &RunOptions,
    ready: &mut Option<File>,
) -> Result<(), DaemonError> {
    let prepared = prepare(paths, opts)?;
    raise_fd_limit();
    let queue = crate::queue::QueueStore::open(paths)
        .map_err(|e| DaemonError::Startup(format!("cannot open the failure queue: {e}")))?;
    let proxy = Arc::new(
        Proxy::new(
            &prepared.config,
            crate::proxy::guard::Access {
                token: prepared.token.clone(),
                loopback: prepared.local.ip().is_loopback(),
                listen: Some(prepared.local),
            },
            Some(queue),
            Arc::new(crate::usage::Usage::new(
                &prepared.config,
                Some(paths.usage_dir()),
            )),
        )
        .map_err(|e| match e {
            crate::proxy::ProxyError::Route(crate::proxy::routing::RouteError::SharedState(
                source,
            )) => DaemonError::BadSharedUrl {
                var: "proxy.shared_state",
                source,
            },
            e => DaemonError::Config(e.to_string()),
        })?,
    );
    // A month's (and a day's) budget survives restarts: the spend so far, from the files.
    let spent = crate::usage::spend_by_endpoint(paths.usage_dir(), chrono::Utc::now().date_naive());
    let now_ms = crate::upstream::limits::unix_ms();
    for (endpoint, (day, month)) in spent {
        proxy
            .router
            .registry()
            .limiter(&endpoint)
            .restore_spend(day, month, now_ms);
    }
    match crate::health::persist::restore(&proxy, &prepared.store) {
        Ok(0) => {}
        Ok(n) => tracing::info!("health figures of {n} endpoints carried on from health.json"),
        Err(e) => tracing::warn!("health.json not loaded, starting afresh: {e}"),
    }
    // The main runtime runs the acceptor, the control socket, reloads, health and the
    // queue; requests are served on their own threads (`proxy::server`).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| DaemonError::Startup(format!("cannot start the async runtime: {e}")))?;
    let result = runtime.block_on(serve(paths, opts, prepared, proxy, ready));
    runtime.shutdown_timeout(Duration::from_secs(1));
    result
}

async fn serve(
    paths: &Paths,
    opts: &RunOptions,
    prepared: Prepared,
    proxy: Arc<Proxy>,
    ready: &mut Option<File>,
) -> Result<(), DaemonError> {
    let Prepared {
        store,
        listener,
        local,
        lock,
        shared_env,
        ..
    } = prepared;
    // The shared state links from now on (its tasks run on this runtime); an unreachable
    // server is no startup error: the daemon serves on its own, `degraded`.
    proxy.shared.start(shared_env, &proxy.routes().settings);
    let listener = TcpListener::from_std(listener).map_err(|source| DaemonError::Bind {
        addr: local.to_string(),
        source,
    })?;
    let socket = paths.socket();
    let _ = std::fs::remove_file(&socket);
    let control_listener = UnixListener::bind(&socket).map_err(io_err("bind", &socket))?;
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o600))
        .map_err(io_err("set permissions on", &socket))?;
    write_atomic(
        &paths.pid_file(),
        format!("{}\n", std::process::id()).as_bytes(),
        0o600,
    )?;

    let health_store = store.clone();
    let health =
        crate::health::monitor::Monitor::new(proxy.clone()).map_err(DaemonError::Startup)?;
    let reloader = Arc::new(Reloader::new(store, proxy.clone()));
    let daemon = Arc::new(Daemon {
        health: health.clone(),
        proxy: proxy.clone(),
        reloader: reloader.clone(),
        shutdown: Shutdown::default(),
    });
    let handler = {
        let daemon = daemon.clone();
        Arc::new(move |req| {
            let daemon = daemon.clone();
            async move { control::handle(&daemon, req).await }
        })
    };
    tokio::spawn(crate::ipc::server::serve(control_listener, handler));
    tokio::spawn(reloader.clone().watch());
    tokio::spawn(proxy.clone().maintain());
    let routes = proxy.clone();
    tokio::spawn(proxy.router.keys().run(move || {
        let t = routes.routes();
        (
            Duration::from_secs(t.settings.key_ttl_secs),
            Duration::from_secs(t.settings.key_timeout_secs.max(1)),
        )
    }));
    tokio::spawn(health.run());
    // Each answered request, priced, also goes to the metrics (tokens, cost, requests by
    // model and outcome): off the request path, like the accounting.
    let metrics = proxy.clone();
    tokio::spawn(proxy.usage.clone().run(
        paths.usage_dir().to_owned(),
        move |a: &crate::usage::Answered, cost| {
            let (endpoint, outcome) = match a.endpoint.as_str() {
                "-" => (
                    crate::metrics::NO_ENDPOINT,
                    crate::metrics::Outcome::Unavailable,
                ),
                e => (e, crate::metrics::Outcome::of_status(a.status, a.cut)),
            };
            metrics
                .metrics()
                .record_answer(endpoint, &a.profile, &a.model, outcome, &a.tokens, cost);
            // The endpoint's day and month spend, against its budgets (kept for every
            // endpoint, so that a budget added later counts from the daemon's start).
            if let Some(usd) = cost.filter(|&c| c > 0.0 && a.endpoint != "-")
                && let Some(u) = metrics.routes().all.iter().find(|u| u.id == a.endpoint)
            {
                u.limiter.add_spend(usd, crate::upstream::limits::unix_ms());
            }
            // And to the counts shared with other daemons (docs/team.md), for an endpoint
            // whose limits count tokens or spend.
            if metrics.shared.enabled() && a.endpoint != "-" {
                let counts = metrics.routes().all.iter().any(|u| {
                    u.id == a.endpoint
                        && u.limits
                            .as_ref()
                            .is_some_and(|l| crate::shared::Limits::from(l).counts_usage())
                });
                if counts {
                    let (shared, id) = (metrics.shared.clone(), a.endpoint.clone());
                    let (tokens, usd) = (a.tokens.total(), cost.unwrap_or(0.0));
                    tokio::spawn(async move { shared.add_usage(&id, tokens, usd).await });
                }
            }
        },
    ));
    tokio::spawn(crate::health::persist::run(
        proxy.clone(),
        health_store.clone(),
    ));
    if let Some(queue) = proxy.queue.clone() {
        tokio::spawn(retry_queue(proxy.clone(), queue));
    }
    tokio::spawn(record_switches(
        proxy.router.subscribe(),
        Store::open(paths.clone())?,
    ));
    tokio::spawn(keep_facts(proxy.clone(), Store::open(paths.clone())?));
    tokio::spawn(signals(daemon.shutdown.clone(), reloader));
    if let Some(log) = opts.log_file.clone() {
        tokio::spawn(rotate_logs(log));
    }

    let threads = crate::proxy::server::thread_count();
    let lanes =
        crate::proxy::server::Lanes::start(&proxy, threads).map_err(DaemonError::Startup)?;
    tracing::info!(
        pid = std::process::id(),
        threads,
        serving = %proxy.router.tier_state().serving,
        "qcc {} listening on http://{local}",
        env!("CARGO_PKG_VERSION")
    );
    if let Some(pipe) = ready.take() {
        report(
            pipe,
            &ReadyReport::Ready {
                pid: std::process::id(),
                listen: local.to_string(),
            },
        );
    }

    let shutdown = daemon.shutdown.clone();
    let drained =
        crate::proxy::server::serve(listener, lanes, proxy, async move { shutdown.wait().await })
            .await;
    crate::health::persist::save(&daemon.proxy, &health_store).await;
    daemon
        .proxy
        .usage
        .save(paths.usage_dir(), Duration::from_secs(5))
        .await;
    let _ = std::fs::remove_file(&socket);
    let _ = std::fs::remove_file(paths.pid_file());
    tracing::info!(drained, "stopped");
    // Release the lifetime lock before the runtime closes control connections, so that a
    // `proxy stop` that sees its connection close can start a new daemon at once.
    drop(lock);
    Ok(())
}

/// Persist the router's failover / recovery switches to `history.json` (off the request
/// path, on the blocking pool).
async fn record_switches(
    mut events: tokio::sync::mpsc::UnboundedReceiver<crate::state::model::SwitchRecord>,
    store: Store,
) {
    while let Some(record) = events.recv().await {
        let store = store.clone();
        let written = tokio::task::spawn_blocking(move || {
            store.update(|h: &mut crate::state::History| {
                h.push(record);
                Ok::<_, crate::state::StoreError>(())
            })
        })
        .await;
        if let Ok(Err(e)) = written {
            tracing::error!("cannot record a switch in history.json: {e}");
        }
    }
}

/// Keep the status report's parts that live in files fresh: the newest switch records of
/// `history.json` (manual switches are the CLI's) and the failure queue's counts, each read
/// again (on the blocking pool) every 2 s when its file changed.
async fn keep_facts(proxy: Arc<Proxy>, store: Store) {
    use crate::report::status::RECENT;
    type Stamp = Option<(Option<std::time::SystemTime>, u64)>;
    fn stamp(path: &std::path::Path) -> Stamp {
        std::fs::metadata(path)
            .ok()
            .map(|m| (m.modified().ok(), m.len()))
    }
    let history = store.paths().document("history.json");
    let index = store.paths().document("queue/index.json");
    let mut seen: (Stamp, Stamp) = (None, None);
    let mut facts = crate::proxy::Facts::default();
    let mut first = true;
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
        let (store, queue) = (store.clone(), proxy.queue.clone());
        let (history, index) = (history.clone(), index.clone());
        let job = move || {
            let now = (stamp(&history), stamp(&index));
            let mut changed = false;
            if first || now.0 != seen.0 {
                match store.read::<crate::state::History>() {
                    Ok(h) => facts.switches = h.latest(RECENT).cloned().collect(),
                    Err(e) => tracing::debug!("history.json not read for status: {e}"),
                }
                changed = true;
            }
            if let Some(q) = queue
                && (first || now.1 != seen.1)
            {
                match q.read() {
                    Ok(i) => facts.queue = Some(crate::report::queue::QueueCounts::of(&i)),
                    Err(e) => tracing::debug!("queue index not read for status: {e}"),
                }
                changed = true;
            }
            (now, facts, changed)
        };
        let Ok((now, read, changed)) = tokio::task::spawn_blocking(job).await else {
            return;
        };
        if changed {
            proxy.set_facts(read.clone());
        }
        (seen, facts, first) = (now, read, false);
    }
}

/// Replay due queued requests in the background while `auto_retry` is on.
async fn retry_queue(proxy: Arc<Proxy>, queue: crate::queue::QueueStore) {
    use crate::proxy::replay::{self, Selection};
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
        if !proxy.routes().queue.auto_retry {
            continue;
        }
        // A cheap look (shared lock) before claiming anything.
        let q = queue.clone();
        let due = tokio::task::spawn_blocking(move || q.read()).await;
        // After the read: it shows items of a dead replayer as due "now".
        let now = chrono::Utc::now();
        let any_due = matches!(&due, Ok(Ok(index)) if index.items.iter().any(|i| {
            i.state == crate::queue::ItemState::Pending
                && i.next_attempt_at.is_none_or(|t| t <= now)
        }));
        if !any_due {
            continue;
        }
        match replay::run(
            proxy.clone(),
            queue.clone(),
            Selection::Due,
            control::QUEUE_CONCURRENCY,
            |_, _| {},
        )
        .await
        {
            Ok(s) if s.attempted > 0 => tracing::info!(
                succeeded = s.succeeded,
                failed = s.failed,
                dead = s.dead,
                "replayed {} queued request(s)",
                s.attempted
            ),
            Ok(_) => {}
            Err(e) => tracing::error!("queue retry failed: {e}"),
        }
    }
}

/// SIGTERM / SIGINT drain and stop; SIGHUP reloads.
async fn signals(shutdown: Shutdown, reloader: Arc<Reloader>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) else {
        tracing::error!("cannot install signal handlers");
        return;
    };
    loop {
        tokio::select! {
            _ = term.recv() => { tracing::info!("SIGTERM: draining"); shutdown.trigger(DEFAULT_DRAIN); }
            _ = int.recv() => { tracing::info!("SIGINT: draining"); shutdown.trigger(DEFAULT_DRAIN); }
            _ = hup.recv() => { let _ = reloader.reload("SIGHUP").await; }
        }
    }
}

/// Keep the log under its size cap.
async fn rotate_logs(path: PathBuf) {
    let cap = logfile::max_bytes();
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        tick.tick().await;
        let p = path.clone();
        let rotated = tokio::task::spawn_blocking(move || logfile::rotate_if_needed(&p, cap)).await;
        match rotated {
            Ok(Ok(Some(fresh))) => {
                logfile::redirect_std_streams(&fresh);
                tracing::info!("log rotated");
            }
            Ok(Err(e)) => tracing::warn!("log rotation failed: {e}"),
            _ => {}
        }
    }
}
