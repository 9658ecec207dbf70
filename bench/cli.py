#!/usr/bin/env python3
"""CLI latency benchmark: wall time of whole `qcc` invocations on a large state.

State: 50 profiles x 20 endpoints = 1,000 endpoints, in a temp config dir.
Measures `qcc endpoint list --json`, `qcc priority list` and `qcc endpoint add`
(each add writes the whole document: lock, read, change, temp, fsync, rename, fsync dir).
Prints a Markdown table: runs, median, p95, max in milliseconds.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

QCC = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "target/release/qcc")
RUNS = int(os.environ.get("BENCH_RUNS", "200"))


def env_for(config_dir):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QCC_", "XDG_")) and k not in ("NO_COLOR", "COLUMNS")}
    env["QCC_CONFIG_DIR"] = config_dir
    env["HOME"] = os.path.dirname(config_dir)
    return env


def seed(config_dir):
    """Write the big state through the real binary's own format (one add per profile, then
    a direct JSON expansion, which is far faster than 1,000 CLI calls)."""
    env = env_for(config_dir)
    for p in range(50):
        subprocess.run([QCC, "profile", "add", f"p{p:02d}"], env=env, check=True, stdout=subprocess.DEVNULL)
        subprocess.run([QCC, "endpoint", "add", f"p{p:02d}", "--url", f"https://seed-{p}.example.com",
                        "--key", f"sk-ant-api03-seed-{p:04d}-abcdefghijklmnop"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        tier = ["primary", "secondary", "fallback", "none"][p % 4]
        subprocess.run([QCC, "priority", "set", f"p{p:02d}", tier], env=env, check=True, stdout=subprocess.DEVNULL)
    path = os.path.join(config_dir, "config.json")
    with open(path) as f:
        cfg = json.load(f)
    n = 0
    for p in cfg["profiles"]:
        template = p["endpoints"][0]
        for i in range(1, 20):
            e = dict(template)
            n += 1
            e["id"] = f"{0xa00000 + n:06x}"
            e["url"] = f"https://{p['name']}-{i}.relay.example.com/anthropic"
            e["key"] = f"sk-ant-api03-{p['name']}-{i:04d}-" + "k" * 64
            e["name"] = f"relay {i}"
            p["endpoints"].append(e)
    with open(path, "w") as f:
        json.dump(cfg, f, indent=2)
    os.chmod(path, 0o600)
    total = sum(len(p["endpoints"]) for p in cfg["profiles"])
    assert total == 1000, total


def measure(name, argv_for_run, env):
    samples = []
    for i in range(RUNS):
        argv = argv_for_run(i)
        t = time.perf_counter()
        subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    p95 = samples[int(len(samples) * 0.95) - 1]
    return f"| `{name}` | {RUNS} | {statistics.median(samples):.2f} | {p95:.2f} | {samples[-1]:.2f} |"


def main():
    with tempfile.TemporaryDirectory(prefix="qcc-bench-") as root:
        config_dir = os.path.join(root, "config")
        seed(config_dir)
        env = env_for(config_dir)
        size = os.path.getsize(os.path.join(config_dir, "config.json"))
        print(f"state: 50 profiles, 1,000 endpoints, config.json {size / 1024:.0f} KiB; {RUNS} runs each\n")
        print("| command | runs | median ms | p95 ms | max ms |")
        print("|---|---|---|---|---|")
        print(measure("qcc --version (process floor)", lambda i: [QCC, "--version"], env))
        print(measure("qcc endpoint list --json", lambda i: [QCC, "endpoint", "list", "--json"], env))
        print(measure("qcc priority list", lambda i: [QCC, "priority", "list"], env))
        print(measure("qcc endpoint add", lambda i: [QCC, "endpoint", "add", "p00", "--url",
                                                     f"https://bench-{i}.example.com", "--key", f"sk-bench-{i:06d}-xyz"], env))


if __name__ == "__main__":
    main()
