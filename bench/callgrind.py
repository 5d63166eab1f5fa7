#!/usr/bin/env python3
"""Serving cost: instructions per request of each test project, with and without the layer.

For each framework (testproject-axum, -actix, -rocket) and case, the release server is run
under `valgrind --tool=callgrind` on a SQLite database of its own; after a warm-up the counters
are zeroed (`callgrind_control -z`), exactly N keep-alive requests are sent over one connection,
the counters are dumped (`callgrind_control -d`), and the dump's total instructions (Ir), all
threads together, are divided by N. The client runs outside valgrind: only the server counts.
The servers run with one tokio worker (--workers; with two, the counts of axum vary by up to 2%
from run to run with the worker the connection lands on) and no poll of the database while
measuring (--poll-ms). Under valgrind the CPU shows no SHA extensions: SHA-256 (the bypass
cookie's HMAC) runs in software, dearer than natively on a CPU that has them.

Cases (the same in bench/http_load.py):
  bare     MAINTENANCE_LAYER=off, GET /                                   -> 200
  off      layer on, site not in maintenance, GET /                     -> 200
  blocked  site in maintenance, GET /                                   -> 503
  ignored  site in maintenance, GET /admin/login/ (`^admin` ignored)    -> 200
  many     in maintenance, 50 ignored patterns and 20 allowed networks
           (none matching), GET /                                       -> 503
  bypass   in maintenance, GET / with a valid bypass cookie             -> 200
and, only if asked for (--cases), `bare-admin`: MAINTENANCE_LAYER=off, GET /admin/login/
(the handler `ignored` reaches, without the layer), and `lean`: `off` with
MAINTENANCE_ALLOW_REASON=off (the layer as a library gives it by default: the test projects
ask for the allow reason for their banner, an extension per request).

Builds nothing: run `cargo build --release -p maintenance-examples -p maintenance-cli` first.
Standard library only, plus valgrind (`valgrind`, `callgrind_control`).

Usage:
  python3 bench/callgrind.py
  python3 bench/callgrind.py --frameworks axum --cases bare,off,blocked --requests 5000
  python3 bench/callgrind.py --target-dir /work/before/target --json before.json
"""
import argparse
import datetime
import glob
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

FRAMEWORKS = ("axum", "actix", "rocket")

# A fixed key, so that a bypass cookie granted by one server run is valid for the next one (it
# would be without a key too, signed from the stored hash; with one the servers do not warn).
SIGNING_KEY = "bench-only-signing-key-0123456789abcdef0123456789abcdef"

# name -> (what, layer on, database state, path, expected status, sends the bypass cookie)
CASES = {
    "bare": ("MAINTENANCE_LAYER=off, GET /", False, "off", "/", 200, False),
    "off": ("layer on, not in maintenance, GET /", True, "off", "/", 200, False),
    "blocked": ("in maintenance, GET / (503)", True, "on", "/", 503, False),
    "ignored": ("in maintenance, GET /admin/login/ (^admin ignored)", True, "on", "/admin/login/", 200, False),
    "many": ("in maintenance, 50 patterns + 20 networks, GET / (503)", True, "many", "/", 503, False),
    "bypass": ("in maintenance, GET / with a bypass cookie", True, "bypass", "/", 200, True),
    "bare-admin": ("MAINTENANCE_LAYER=off, GET /admin/login/", False, "off", "/admin/login/", 200, False),
    "lean": ("layer on without the allow reason, not in maintenance, GET /", True, "off", "/", 200, False),
    "status": ("the status answer, not in maintenance, GET /_maintenance/status", True, "off", "/_maintenance/status", 200, False),
    "status-on": ("the status answer, in maintenance, GET /_maintenance/status", True, "on", "/_maintenance/status", 200, False),
}
# What a case sets beside the rest: `lean` runs the test project with
# MAINTENANCE_ALLOW_REASON=off, the layer as a library user gets it by default (the test
# projects ask for the allow reason, for their banner, which costs an extension per request).
CASE_ENV = {"lean": {"MAINTENANCE_ALLOW_REASON": "off"}}
DEFAULT_CASES = ("bare", "off", "blocked", "ignored", "many", "bypass")


def fail(message):
    raise SystemExit(f"{os.path.basename(sys.argv[0])}: {message}")


def case(name):
    what, layer, state, path, status, cookie = CASES[name]
    return {"name": name, "what": what, "layer": layer, "state": state, "path": path,
            "status": status, "cookie": cookie, "env": CASE_ENV.get(name, {})}


def split_list(value, choices, option):
    items = [v.strip() for v in value.split(",") if v.strip()]
    for v in items:
        if v not in choices:
            fail(f"{option} {v!r}: expected some of {', '.join(choices)}")
    if not items:
        fail(f"{option}: empty")
    return items


def binaries(target_dir, frameworks):
    """The server binaries by framework, and the CLI; fails if one is missing."""
    release = os.path.join(target_dir, "release")
    servers = {f: os.path.join(release, f"testproject-{f}") for f in frameworks}
    cli = os.path.join(release, "maintenance")
    for binary in (*servers.values(), cli):
        if not os.access(binary, os.X_OK):
            fail(f"{binary} not found: run `cargo build --release -p maintenance-examples "
                 f"-p maintenance-cli` (or give --target-dir)")
    return servers, cli


def target_dir_default():
    return os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")


def git_commit(path):
    try:
        commit = subprocess.run(["git", "-C", path, "rev-parse", "--short=12", "HEAD"],
                                capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", path, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True).stdout.strip()
        return commit + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def source_commit(target_dir):
    """The commit of the sources next to the target directory if there are any, else ROOT's."""
    parent = os.path.dirname(os.path.abspath(target_dir))
    if os.path.exists(os.path.join(parent, "Cargo.toml")):
        return git_commit(parent)
    return git_commit(ROOT)


# ---------------------------------------------------------------------------------------------
# The databases: one SQLite file per state, set up with the release CLI.


def cli_run(cli, url, args):
    env = dict(os.environ, DATABASE_URL=url, RUST_LOG="warn")
    proc = subprocess.run([cli, *args], env=env, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        fail(f"maintenance {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


def many_patterns():
    return [f"^section{n}/(page|item)/[0-9]+/$" for n in range(50)]


def many_networks():
    """20 documentation networks (RFC 5737, RFC 3849): none holds the client, 127.0.0.1."""
    return ([f"198.51.100.{i}/32" for i in range(1, 9)]
            + [f"203.0.113.{i}/32" for i in range(1, 9)]
            + [f"2001:db8:{i}::/48" for i in range(1, 5)])


def prepare_databases(cli, states, workdir):
    """Creates one database per state; returns state -> {"url", "bypass_path"}."""
    dbs = {}
    for state in states:
        path = os.path.join(workdir, f"{state}.db")
        url = "sqlite://" + path
        cli_run(cli, url, ["migrate"])
        entry = {"url": url, "bypass_path": None}
        if state != "off":
            cli_run(cli, url, ["on", "--message", "Benchmark"])
        if state == "many":
            for i, pattern in enumerate(many_patterns()):
                cli_run(cli, url, ["ignore", "add", pattern, "--description", f"bench {i}"])
            for network in many_networks():
                cli_run(cli, url, ["allow", "add", network, "--description", "documentation range"])
            listed = cli_run(cli, url, ["ignore", "list"])
            missing = [p for p in many_patterns() if p not in listed]
            if missing:
                fail(f"`maintenance ignore list` lacks {missing[:3]}:\n{listed}")
        if state == "bypass":
            out = cli_run(cli, url, ["bypass", "new", "--base-url", "http://127.0.0.1"])
            m = re.search(r"http://127\.0\.0\.1(/\S+)", out)
            if not m:
                fail(f"no bypass URL in the output of `maintenance bypass new`:\n{out}")
            entry["bypass_path"] = m.group(1)
        dbs[state] = entry
    return dbs


# ---------------------------------------------------------------------------------------------
# The servers.


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(proc, timeout):
    """Stops a server with SIGTERM, then SIGKILL if it is still running after `timeout` s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def file_tail(path, chars):
    """The last `chars` characters of a (log) file, for an error message."""
    with open(path, errors="replace") as f:
        return f.read()[-chars:]


def request(port, path, headers=None, timeout=10.0):
    """(status, headers, body) of one GET on a new connection, or None if nothing answers."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        res = conn.getresponse()
        body = res.read()
        return res.status, res.getheaders(), body
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


class Server:
    """A test project on a free port of 127.0.0.1, maybe under a wrapper (valgrind)."""

    def __init__(self, binary, url, layer, logdir, label, wrapper=(), extra_env=None):
        self.port = free_port()
        self.label = label
        self.log_path = os.path.join(logdir, f"{label}.log")
        self.log = open(self.log_path, "w")
        env = dict(os.environ, DATABASE_URL=url, BIND=f"127.0.0.1:{self.port}", RUST_LOG="warn",
                   MAINTENANCE_LAYER="on" if layer else "off", MAINTENANCE_MIGRATE="off",
                   # Bind only once the first snapshot is loaded (slow under valgrind): until
                   # then the fail mode would answer, and a 200 would prove nothing.
                   MAINTENANCE_STARTUP_WAIT_MS="600000",
                   BYPASS_SIGNING_KEY=SIGNING_KEY, INTERNAL_IPS="", TRUSTED_PROXIES="")
        env.update(extra_env or {})
        self.spawned = time.monotonic()
        # Its own session: a Ctrl-C in the terminal reaches the script only, whose clean-up
        # then stops the server (valgrind runs the server in its own process: one pid).
        self.proc = subprocess.Popen([*wrapper, binary], env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def pid(self):
        return self.proc.pid

    def wait_status(self, path, status, headers=None, limit=60.0):
        """Waits until `GET path` answers `status`; fails past `limit` seconds."""
        last = None
        while True:
            if self.proc.poll() is not None:
                fail(f"{self.label}: server exited ({self.proc.returncode}):\n{self.log_tail()}")
            answer = request(self.port, path, headers, timeout=max(10.0, limit / 4))
            if answer is not None:
                last = answer[0]
                if last == status:
                    return time.monotonic() - self.spawned
            if time.monotonic() - self.spawned > limit:
                fail(f"{self.label}: GET {path} answered {last} instead of {status} within "
                     f"{limit:g} s:\n{self.log_tail()}")
            time.sleep(0.2 if answer is None else 0.05)

    def stop(self):
        stop_process(self.proc, timeout=30)
        self.log.close()

    def log_tail(self):
        self.log.flush()
        return file_tail(self.log_path, 3000)


def bypass_cookie(port, bypass_path):
    """Visits the bypass URL: the `name=value` of the cookie it sets (303 with Set-Cookie)."""
    answer = request(port, bypass_path)
    if answer is None:
        fail(f"GET {bypass_path}: no answer")
    status, headers, _ = answer
    cookies = [v for k, v in headers if k.lower() == "set-cookie"]
    if status not in (301, 302, 303, 307) or not cookies:
        fail(f"GET <bypass URL> answered {status} with {len(cookies)} Set-Cookie; "
             f"expected a redirect that sets a cookie")
    return cookies[0].split(";", 1)[0].strip()


def ready_status(c):
    """What `GET /` without a cookie answers once the server serves the case's state."""
    return 200 if not c["layer"] or c["state"] == "off" else 503


# Every request is a browser's: its `Accept` line and a session cookie that names nobody (the
# test projects' identity hook would look it up if the decision asked), plus the bypass cookie
# in the `bypass` case. The same headers with and without the layer.
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
SESSION_COOKIE = "sessionid=0123456789abcdef0123456789abcdef"


def case_headers(c, cookie):
    cookies = SESSION_COOKIE + (f"; {cookie}" if c["cookie"] else "")
    return {"Accept": BROWSER_ACCEPT, "Cookie": cookies}


# ---------------------------------------------------------------------------------------------
# callgrind.


class KeepAlive:
    """One keep-alive connection; counts the connections it had to open."""

    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.sock = None
        self.connections = 0

    def get(self, path, headers):
        self.conn.request("GET", path, headers=headers)
        if self.conn.sock is not self.sock:
            self.sock = self.conn.sock
            self.connections += 1
        res = self.conn.getresponse()
        res.read()
        return res.status

    def close(self):
        self.conn.close()


def callgrind_control(flag, pid):
    proc = subprocess.run(["callgrind_control", flag, str(pid)], capture_output=True, text=True,
                          timeout=300)
    if proc.returncode != 0 or "Error" in proc.stdout:
        fail(f"callgrind_control {flag} {pid} failed ({proc.returncode}): "
             f"{(proc.stdout + proc.stderr).strip()}")


def dump_total(pattern, before, limit=120.0):
    """The total Ir of the dump files matching `pattern` that are not in `before`."""
    deadline = time.monotonic() + limit
    while True:
        new = sorted(set(glob.glob(pattern)) - before)
        totals = []
        for path in new:
            with open(path, errors="replace") as f:
                text = f.read()
            # `summary:` (the dump's event count) is in the header, `totals:` (the sum of its
            # cost lines, a few hundred more) at the end: once that is there, the file is whole.
            m = re.search(r"^summary:\s+(\d+)", text, re.M)
            if m is None or not re.search(r"^totals:\s+\d+", text, re.M):
                break  # still being written
            totals.append(int(m.group(1)))
        else:
            if new:
                return sum(totals), new
        if time.monotonic() > deadline:
            fail(f"no complete callgrind dump ({pattern}) within {limit:g} s")
        time.sleep(0.2)


def measure(binary, c, db, args, workdir, label):
    """Instructions per request of one server run; returns a dict."""
    out_base = os.path.join(workdir, f"{label}.callgrind")
    wrapper = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_base}",
               "--dump-instr=no", "--collect-jumps=no"]
    # No poll of the database's revision during the measurement (one would cost a query).
    env = {"MAINTENANCE_POLL_MS": str(args.poll_ms)}
    if args.workers:
        # axum's #[tokio::main] and rocket's runtime read these; actix-web runs each
        # connection on one single-threaded worker anyway.
        env.update(TOKIO_WORKER_THREADS=str(args.workers), ROCKET_WORKERS=str(args.workers))
    env.update(c["env"])
    server = Server(binary, db["url"], c["layer"], workdir, label, wrapper, env)
    conn = None
    try:
        ready = server.wait_status("/", ready_status(c), limit=args.startup_timeout)
        cookie = bypass_cookie(server.port, db["bypass_path"]) if c["cookie"] else None
        headers = case_headers(c, cookie)
        conn = KeepAlive(server.port)
        first = conn.get(c["path"], headers)
        if first != c["status"]:
            fail(f"{label}: the first GET {c['path']} answered {first}, expected {c['status']}")
        for _ in range(args.warmup):
            status = conn.get(c["path"], headers)
            if status != c["status"]:
                fail(f"{label}: warm-up GET {c['path']} answered {status}, expected {c['status']}")
        before = set(glob.glob(out_base + "*"))
        callgrind_control("-z", server.pid)
        wrong = 0
        start = time.monotonic()
        connections_before = conn.connections
        for _ in range(args.requests):
            if conn.get(c["path"], headers) != c["status"]:
                wrong += 1
        took = time.monotonic() - start
        reconnects = conn.connections - connections_before
        callgrind_control("-d", server.pid)
        total, files = dump_total(out_base + "*", before)
        if wrong:
            fail(f"{label}: {wrong} of {args.requests} answers were not {c['status']}")
        if reconnects:
            fail(f"{label}: the server closed the keep-alive connection ({reconnects} new "
                 f"connections during the measurement)")
        return {"ir_total": total, "ir_per_request": total / args.requests,
                "dump_files": len(files), "ready_s": round(ready, 1), "measure_s": round(took, 2)}
    finally:
        if conn is not None:
            conn.close()
        server.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    ap.add_argument("--frameworks", default=",".join(FRAMEWORKS),
                    help="comma-separated, of axum,actix,rocket (default all)")
    ap.add_argument("--cases", default=",".join(DEFAULT_CASES),
                    help=f"comma-separated, of {','.join(CASES)} (default {','.join(DEFAULT_CASES)})")
    ap.add_argument("--requests", type=int, default=2000, help="measured requests per run (default 2000)")
    ap.add_argument("--warmup", type=int, default=200, help="requests before the counters are zeroed (default 200)")
    ap.add_argument("--repeat", type=int, default=2, help="runs of each case (default 2)")
    ap.add_argument("--poll-ms", type=int, default=3_600_000,
                    help="MAINTENANCE_POLL_MS of the servers (default 3600000: no poll while measuring)")
    ap.add_argument("--workers", type=int, default=1,
                    help="tokio worker threads of the axum and rocket servers (default 1: with two, "
                         "the connection's task lands on either worker and the counts vary by up "
                         "to 2%% from run to run; 0 leaves the servers' default, one per core)")
    ap.add_argument("--startup-timeout", type=float, default=180.0,
                    help="seconds a server under valgrind may take to answer (default 180)")
    ap.add_argument("--target-dir", default=target_dir_default(),
                    help="where the release binaries are (default $CARGO_TARGET_DIR, else ./target)")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")
    ap.add_argument("--keep", action="store_true",
                    help="keep the work directory (databases, callgrind dumps) to read with callgrind_annotate")
    args = ap.parse_args()
    # A TERM stops the script as an interrupt would: the servers it started are stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    frameworks = split_list(args.frameworks, FRAMEWORKS, "--frameworks")
    cases = [case(n) for n in split_list(args.cases, tuple(CASES), "--cases")]
    if args.requests < 1 or args.warmup < 0 or args.repeat < 1 or args.poll_ms < 1 or args.workers < 0:
        fail("--requests and --repeat: at least 1; --warmup, --workers: 0 or more; --poll-ms: at least 1")
    for tool in ("valgrind", "callgrind_control"):
        if shutil.which(tool) is None:
            fail(f"`{tool}` not found: install valgrind (apt-get install valgrind)")
    servers, cli = binaries(args.target_dir, frameworks)

    result = {
        "commit": source_commit(args.target_dir),
        "target_dir": os.path.abspath(args.target_dir),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "valgrind": subprocess.run(["valgrind", "--version"], capture_output=True, text=True).stdout.strip(),
        "requests": args.requests, "warmup": args.warmup, "poll_ms": args.poll_ms,
        "workers": args.workers or "default",
        "runs": [],
    }
    workdir = tempfile.mkdtemp(prefix="maintenance-callgrind-")
    try:
        dbs = prepare_databases(cli, sorted({c["state"] for c in cases}), workdir)
        for rep in range(args.repeat):
            for f in frameworks:
                for c in cases:
                    label = f"{f}-{c['name']}-{rep + 1}"
                    r = measure(servers[f], c, dbs[c["state"]], args, workdir, label)
                    r.update(framework=f, case=c["name"], repeat=rep + 1)
                    result["runs"].append(r)
                    print(f"  {label:<22} {r['ir_per_request']:>12,.0f} Ir/request "
                          f"(ready after {r['ready_s']} s, {r['measure_s']} s for {args.requests})",
                          file=sys.stderr, flush=True)
    finally:
        if args.keep:
            print(f"callgrind dumps kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    report(result, frameworks, cases, args)


def report(result, frameworks, cases, args):
    by = {}
    for r in result["runs"]:
        by.setdefault((r["framework"], r["case"]), []).append(r["ir_per_request"])
    mean = lambda values: sum(values) / len(values)  # noqa: E731
    rows, summary = [], []
    for f in frameworks:
        bare = mean(by[(f, "bare")]) if (f, "bare") in by else None
        admin = mean(by[(f, "bare-admin")]) if (f, "bare-admin") in by else None
        for c in cases:
            values = by[(f, c["name"])]
            m = mean(values)
            e = {"framework": f, "case": c["name"], "what": c["what"], "path": c["path"],
                 "status": c["status"], "ir_per_request": [round(v, 1) for v in values],
                 "mean": round(m, 1), "spread_pct": round((max(values) - min(values)) / m * 100, 3)}
            if bare:
                e.update(ratio_vs_bare=round(m / bare, 4), over_bare=round(m - bare, 1))
            if admin and c["name"] == "ignored":
                e["over_bare_admin"] = round(m - admin, 1)
            summary.append(e)
            rows.append((f"testproject-{f}", c["name"], " / ".join(f"{v:,.0f}" for v in values),
                         f"{e['spread_pct']:.2f}%",
                         f"{e['ratio_vs_bare']:.3f}" if bare else "-",
                         f"{e['over_bare']:+,.0f}" if bare else "-",
                         f"{e['over_bare_admin']:+,.0f} vs bare-admin" if "over_bare_admin" in e else ""))
    runs = max(len(v) for v in by.values())
    head = ("framework", "case", f"Ir/request ({runs} run{'s' if runs > 1 else ''})", "spread",
            "vs bare", "Ir over bare", "")
    widths = [max(len(x[i]) for x in [head, *rows]) for i in range(len(head))]
    print(f"callgrind: {result['requests']} requests per run over one keep-alive connection after "
          f"{result['warmup']} warm-up; tokio workers: {result['workers']}; {result['valgrind']}; "
          f"commit {result['commit']}")
    print("  ".join(h.ljust(w) if i < 2 else h.rjust(w) for i, (h, w) in enumerate(zip(head, widths))).rstrip())
    for row in rows:
        print("  ".join(v.ljust(w) if i < 2 or i == 6 else v.rjust(w)
                        for i, (v, w) in enumerate(zip(row, widths))).rstrip())
    result["summary"] = summary
    write_json(args.json, result)


def write_json(path, result):
    """Writes `result` to `path` as indented JSON, when a path is given (`--json`)."""
    if path:
        with open(path, "w") as out:
            json.dump(result, out, indent=2, sort_keys=True)
            out.write("\n")


if __name__ == "__main__":
    main()
