#!/usr/bin/env python3
"""Instructions per request of the qcc daemon, counted by callgrind (repeatable whatever
else the machine does, unlike wall-clock figures).

    bench/callgrind.py [--qcc target/release/qcc] [--requests 300] [--mode stream|whole]
                       [--out callgrind.out] [--annotate] [--with-openai] [--usage-off]

Starts a canned upstream (this script, on 127.0.0.1: a 3.2 KB SSE stream of 20 deltas or a
0.44 KB JSON message per request, one write, keep-alive), a temporary config dir with one
endpoint, and `qcc proxy run` under `valgrind --tool=callgrind`; sends warm-up requests,
zeroes the counters, sends the measured requests one after another over one keep-alive
connection, dumps the counters and prints instructions per request (user space, the whole
daemon: every thread). `--annotate` also prints the top functions (callgrind_annotate).
`--with-openai` adds an `openai` endpoint in a second profile (never used by the measured
requests): what Anthropic pass-through costs once the config has one. `--usage-off` turns
the usage accounting off (`usage.enabled: false`), to measure what it costs.
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

SSE_EVENTS = (
    ['event: message_start\ndata: {"type":"message_start","message":{"id":"msg_bench","type":"message",'
     '"role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,'
     '"stop_sequence":null,"usage":{"input_tokens":12,"output_tokens":1}}}\n\n',
     'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
     '"content_block":{"type":"text","text":""}}\n\n']
    + ['event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
       '"delta":{"type":"text_delta","text":"token %02d of the answer, "}}\n\n' % i for i in range(20)]
    + ['event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n',
       'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn",'
       '"stop_sequence":null},"usage":{"output_tokens":20}}\n\n',
       'event: message_stop\ndata: {"type":"message_stop"}\n\n']
)
SSE = "".join(SSE_EVENTS).encode()
JSON = json.dumps({
    "id": "msg_bench", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
    "content": [{"type": "text", "text": "A short answer of a few words, as a model gives it."}],
    "stop_reason": "end_turn", "stop_sequence": None,
    "usage": {"input_tokens": 12, "output_tokens": 14},
}).encode()


def response(stream: bool) -> bytes:
    body, ctype = (SSE, "text/event-stream") if stream else (JSON, "application/json")
    head = ("HTTP/1.1 200 OK\r\ncontent-type: %s\r\ncontent-length: %d\r\n"
            "request-id: req_bench\r\n\r\n" % (ctype, len(body))).encode()
    return head + body


def read_request(conn, buf: bytes):
    """One HTTP/1.1 request (headers + content-length body): (request, rest) or None."""
    while b"\r\n\r\n" not in buf:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    while len(rest) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        rest += chunk
    return head + b"\r\n\r\n" + rest[:length], rest[length:]


def upstream(listener):
    def serve(conn):
        buf = b""
        with conn:
            while True:
                got = read_request(conn, buf)
                if got is None:
                    return
                req, buf = got
                conn.sendall(response(b'"stream":true' in req))
    while True:
        conn, _ = listener.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


def read_response(conn, buf: bytes):
    while b"\r\n\r\n" not in buf:
        chunk = conn.recv(65536)
        if not chunk:
            raise SystemExit("the proxy closed the connection")
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    status = head.split(b" ", 2)[1]
    if status != b"200":
        raise SystemExit("proxy answered %s: %r" % (status, head + rest[:300]))
    lines = {l.split(b":", 1)[0].strip().lower(): l.split(b":", 1)[1].strip()
             for l in head.split(b"\r\n")[1:] if b":" in l}
    if b"content-length" in lines:
        n = int(lines[b"content-length"])
        while len(rest) < n:
            rest += conn.recv(65536)
        return rest[n:]
    # chunked: read to the terminating chunk
    while not rest.endswith(b"0\r\n\r\n"):
        chunk = conn.recv(65536)
        if not chunk:
            raise SystemExit("stream cut")
        rest += chunk
    return b""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--qcc", default="target/release/qcc")
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--warmup", type=int, default=30)
    ap.add_argument("--mode", choices=["stream", "whole"], default="stream")
    ap.add_argument("--out", default=None)
    ap.add_argument("--annotate", action="store_true")
    ap.add_argument("--threads", action="store_true",
                    help="also print each thread's share (serving lanes vs the main runtime)")
    ap.add_argument("--usage-off", action="store_true",
                    help="usage.enabled false: no usage accounting (to compare on and off)")
    ap.add_argument("--with-openai", action="store_true",
                    help="also configure an openai endpoint (in another profile): what an "
                         "Anthropic request costs once the config has one")
    args = ap.parse_args()

    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(64)
    threading.Thread(target=upstream, args=(lst,), daemon=True).start()
    up = "http://127.0.0.1:%d" % lst.getsockname()[1]

    tmp = tempfile.mkdtemp(prefix="qcc-callgrind-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("QCC_")}
    env.update(QCC_CONFIG_DIR=os.path.join(tmp, "config"), HOME=tmp,
               XDG_RUNTIME_DIR=os.path.join(tmp, "run"), QCC_LOG="warn")
    os.makedirs(env["XDG_RUNTIME_DIR"], mode=0o700)
    run = lambda *a: subprocess.run([args.qcc, *a], env=env, check=True,
                                    stdout=subprocess.DEVNULL)
    run("profile", "add", "bench")
    run("endpoint", "add", "bench", "--url", up, "--key", "sk-ant-api03-bench-000000000000")
    if args.usage_off:
        path = os.path.join(env["QCC_CONFIG_DIR"], "config.json")
        with open(path) as f:
            config = json.load(f)
        config.setdefault("usage", {})["enabled"] = False
        with open(path, "w") as f:
            json.dump(config, f)
    if args.with_openai:
        run("profile", "add", "chat")
        run("endpoint", "add", "chat", "--kind", "openai", "--url", up, "--key", "sk-chat-0000000000")
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    out = args.out or os.path.join(tmp, "callgrind.out")
    daemon = subprocess.Popen(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out]
        + (["--separate-threads=yes"] if args.threads else [])
        + [args.qcc, "proxy", "run", "--listen", "127.0.0.1:%d" % port],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    body = json.dumps({"model": "claude-sonnet-4-5", "max_tokens": 64,
                       "stream": args.mode == "stream",
                       "messages": [{"role": "user", "content": "hi"}]},
                      separators=(",", ":")).encode()
    request = (b"POST /v1/messages HTTP/1.1\r\nhost: 127.0.0.1:%d\r\n"
               b"content-type: application/json\r\nx-api-key: sk-client\r\n"
               b"anthropic-version: 2023-06-01\r\ncontent-length: %d\r\n\r\n"
               % (port, len(body))) + body
    deadline = time.time() + 120
    while True:
        try:
            conn = socket.create_connection(("127.0.0.1", port))
            break
        except OSError:
            if time.time() > deadline or daemon.poll() is not None:
                raise SystemExit("the daemon did not start: %s" % daemon.stderr.read())
            time.sleep(0.2)
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = b""
    for _ in range(args.warmup):
        conn.sendall(request)
        buf = read_response(conn, buf)
    subprocess.run(["callgrind_control", "-z", str(daemon.pid)], check=True,
                   stdout=subprocess.DEVNULL)
    for _ in range(args.requests):
        conn.sendall(request)
        buf = read_response(conn, buf)
    subprocess.run(["callgrind_control", "-d", str(daemon.pid)], check=True,
                   stdout=subprocess.DEVNULL)
    conn.close()
    daemon.terminate()
    daemon.wait(timeout=60)
    # The dump `callgrind_control -d` asked for is "<out>.<n>", its trigger "dump".
    total = None
    per_thread = []
    for name in sorted(os.listdir(os.path.dirname(out))):
        path = os.path.join(os.path.dirname(out), name)
        if not name.startswith(os.path.basename(out)):
            continue
        with open(path) as f:
            text = f.read()
        if "desc: Trigger: dump" in text:
            for line in text.splitlines():
                if line.startswith("summary:") or line.startswith("totals:"):
                    n = int(line.split()[1])
                    per_thread.append((name, n))
                    total = (total or 0) + n if args.threads else n
                    dump = path
                    break
    if total is None:
        raise SystemExit("no callgrind dump found next to %s" % out)
    print("%s %s: %d instructions per request (%d requests, %s)"
          % (args.qcc, args.mode, total // args.requests, args.requests, dump))
    if args.threads:
        for name, n in per_thread:
            print("  %s: %d per request" % (name, n // args.requests))
    if args.annotate:
        subprocess.run(["callgrind_annotate", "--inclusive=no", dump], check=False)


if __name__ == "__main__":
    main()
