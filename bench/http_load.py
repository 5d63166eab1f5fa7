#!/usr/bin/env python3
"""Serving cost over HTTP: throughput and latency with wrk, each test project with and without
the maintenance layer.

For each framework (testproject-axum, -actix, -rocket) and case, the release server is run in
pairs: once without the layer (MAINTENANCE_LAYER=off) and once with it, on the same SQLite
database, the same path and the same headers; the order alternates from pair to pair. Each run
is `wrk -t2 -c64 -d<duration> --latency` on 127.0.0.1; requests/s, p50 and p99 come from wrk's
output. Reported per case: the medians over the pairs with and without the layer, and the
median of the pairs' ratios (with / without).

Cases (the same as bench/callgrind.py; `bare`, the layer off, is the "without" side of every
pair, so it is no case of its own here):
  off      not in maintenance, GET /            with: 200   without: 200
  blocked  in maintenance, GET /                with: 503   without: 200 (the home view)
  ignored  in maintenance, GET /admin/login/    with: 200 (`^admin` ignored)   without: 200
  many     in maintenance, 50 ignored patterns and 20 allowed networks (none matching),
           GET /                                with: 503   without: 200
  bypass   in maintenance, GET / with a valid bypass cookie   with: 200   without: 200
           (the same cookie sent)

Builds nothing: run `cargo build --release -p maintenance-examples -p maintenance-cli` first.
Standard library only, plus wrk (apt-get install wrk). wrk and the server share the machine:
run it on an otherwise idle machine, and read differences under about 5% as noise.

Usage:
  python3 bench/http_load.py
  python3 bench/http_load.py --frameworks axum --cases off,blocked --pairs 7 --duration 10s
"""
import argparse
import datetime
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ next to the scripts
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import callgrind as common  # noqa: E402  (the cases, databases and servers)

LOAD_CASES = ("off", "lean", "blocked", "ignored", "many", "bypass")


def fail(message):
    common.fail(message)


def duration_seconds(text):
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([smh]?)", text.strip())
    if not m:
        fail(f"--duration {text!r}: e.g. 5s, 30s, 2m")
    return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[m.group(2)]


def to_us(value, unit):
    return float(value) * {"us": 1.0, "ms": 1e3, "s": 1e6, "m": 6e7, "h": 3.6e9}[unit]


def parse_wrk(out):
    """requests/s, p50 / p99 latency (µs), responses, non-2xx/3xx and socket errors."""
    def need(pattern):
        m = re.search(pattern, out, re.M)
        if m is None:
            fail(f"cannot read wrk's output ({pattern}):\n{out}")
        return m
    r = {"rps": float(need(r"^Requests/sec:\s+([\d.]+)").group(1)),
         "responses": int(need(r"^\s*(\d+) requests in ").group(1))}
    for p in ("50", "99"):
        m = need(rf"^\s*{p}(?:\.0+)?%\s+([\d.]+)(us|ms|s|m|h)\s*$")
        r[f"p{p}_us"] = to_us(m.group(1), m.group(2))
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    r["non_2xx_3xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    r["socket_errors"] = sum(int(x) for x in m.groups()) if m else 0
    return r


def run_wrk(port, c, cookie, args):
    cmd = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}", "--latency"]
    for name, value in common.case_headers(c, cookie).items():
        cmd += ["-H", f"{name}: {value}"]
    cmd.append(f"http://127.0.0.1:{port}{c['path']}")
    proc = subprocess.run(cmd, capture_output=True, text=True,
                          timeout=duration_seconds(args.duration) + 60)
    if proc.returncode != 0:
        fail(f"wrk failed ({proc.returncode}): {proc.stderr.strip()}\n{proc.stdout}")
    return parse_wrk(proc.stdout)


def one_run(binary, c, db, layer, cookie, args, workdir, label):
    """One server run (with or without the layer) under wrk; returns wrk's figures."""
    extra = {"MAINTENANCE_POLL_MS": str(args.poll_ms)} if args.poll_ms else {}
    if layer:
        extra.update(c["env"])
    server = common.Server(binary, db["url"], layer, workdir, label, extra_env=extra)
    try:
        ready = common.ready_status(c) if layer else 200
        server.wait_status("/", ready, limit=args.startup_timeout)
        expected = c["status"] if layer else 200
        answer = common.request(server.port, c["path"], common.case_headers(c, cookie))
        if answer is None or answer[0] != expected:
            fail(f"{label}: the first GET {c['path']} answered {answer and answer[0]}, "
                 f"expected {expected}")
        r = run_wrk(server.port, c, cookie, args)
        bad = r["non_2xx_3xx"] if expected < 300 else r["responses"] - r["non_2xx_3xx"]
        if bad:
            fail(f"{label}: {bad} of {r['responses']} responses were not {expected}")
        if server.proc.poll() is not None:
            fail(f"{label}: the server exited during the run:\n{server.log_tail()}")
        return r
    finally:
        server.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    ap.add_argument("--frameworks", default=",".join(common.FRAMEWORKS),
                    help="comma-separated, of axum,actix,rocket (default all)")
    ap.add_argument("--cases", default=",".join(LOAD_CASES),
                    help=f"comma-separated, of {','.join(LOAD_CASES)} (default all)")
    ap.add_argument("--pairs", type=int, default=5, help="runs without and with the layer, per case (default 5)")
    ap.add_argument("--duration", default="5s", help="wrk -d of each run (default 5s)")
    ap.add_argument("--threads", type=int, default=2, help="wrk -t (default 2)")
    ap.add_argument("--connections", type=int, default=64, help="wrk -c (default 64)")
    ap.add_argument("--poll-ms", type=int, default=None,
                    help="MAINTENANCE_POLL_MS of the servers (default: theirs, 250)")
    ap.add_argument("--startup-timeout", type=float, default=60.0,
                    help="seconds a server may take to answer (default 60)")
    ap.add_argument("--target-dir", default=common.target_dir_default(),
                    help="where the release binaries are (default $CARGO_TARGET_DIR, else ./target)")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")
    args = ap.parse_args()
    # A TERM stops the script as an interrupt would: the servers it started are stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    frameworks = common.split_list(args.frameworks, common.FRAMEWORKS, "--frameworks")
    names = [v.strip() for v in args.cases.split(",") if v.strip()]
    if "bare" in names:
        fail("--cases bare: the layer off is the `without` side of every pair, not a case here")
    cases = [common.case(n) for n in common.split_list(args.cases, LOAD_CASES, "--cases")]
    if args.pairs < 1 or args.threads < 1 or args.connections < args.threads:
        fail("--pairs and --threads: at least 1; --connections: at least --threads")
    duration_seconds(args.duration)
    if shutil.which("wrk") is None:
        fail("wrk not found: install it (Debian/Ubuntu: apt-get install wrk), "
             "or put it on PATH")
    servers, cli = common.binaries(args.target_dir, frameworks)

    result = {
        "commit": common.source_commit(args.target_dir),
        "target_dir": os.path.abspath(args.target_dir),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "load_avg_at_start": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
        "wrk": f"-t{args.threads} -c{args.connections} -d{args.duration} --latency",
        "pairs": args.pairs, "poll_ms": args.poll_ms, "runs": [],
    }
    workdir = tempfile.mkdtemp(prefix="maintenance-http-load-")
    try:
        dbs = common.prepare_databases(cli, sorted({c["state"] for c in cases}), workdir)
        cookie = None
        if any(c["cookie"] for c in cases):
            server = common.Server(servers[frameworks[0]], dbs["bypass"]["url"], True, workdir,
                                   "cookie", extra_env={})
            try:
                server.wait_status("/", 503, limit=args.startup_timeout)
                cookie = common.bypass_cookie(server.port, dbs["bypass"]["bypass_path"])
            finally:
                server.stop()
        for f in frameworks:
            for c in cases:
                for i in range(args.pairs):
                    pair = {"framework": f, "case": c["name"], "pair": i + 1}
                    for layer in ((False, True) if i % 2 == 0 else (True, False)):
                        side = "with" if layer else "without"
                        label = f"{f}-{c['name']}-{i + 1}-{side}"
                        r = one_run(servers[f], c, dbs[c["state"]], layer, cookie, args, workdir, label)
                        pair[side] = r
                        print(f"  {label:<28} {r['rps']:>10,.0f} req/s  p50 {r['p50_us']:>8,.0f} µs  "
                              f"p99 {r['p99_us']:>8,.0f} µs", file=sys.stderr, flush=True)
                    pair["ratio"] = pair["with"]["rps"] / pair["without"]["rps"]
                    result["runs"].append(pair)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report(result, frameworks, cases, args)


def report(result, frameworks, cases, args):
    summary = []
    rows = []
    for f in frameworks:
        for c in cases:
            pairs = [p for p in result["runs"] if p["framework"] == f and p["case"] == c["name"]]
            med = lambda side, key: statistics.median(p[side][key] for p in pairs)  # noqa: E731
            ratios = [p["ratio"] for p in pairs]
            e = {"framework": f, "case": c["name"], "what": c["what"], "path": c["path"],
                 "status_with": c["status"], "pairs": len(pairs),
                 "rps_without": round(med("without", "rps")), "rps_with": round(med("with", "rps")),
                 "ratio_median": round(statistics.median(ratios), 3),
                 "ratio_min": round(min(ratios), 3), "ratio_max": round(max(ratios), 3),
                 "p50_us_without": round(med("without", "p50_us")), "p50_us_with": round(med("with", "p50_us")),
                 "p99_us_without": round(med("without", "p99_us")), "p99_us_with": round(med("with", "p99_us")),
                 "socket_errors": sum(p[s]["socket_errors"] for p in pairs for s in ("with", "without"))}
            summary.append(e)
            rows.append((f"testproject-{f}", c["name"], f"GET {c['path']} -> {c['status']}",
                         f"{e['rps_without']:,}", f"{e['rps_with']:,}",
                         f"{e['ratio_median']:.3f} ({e['ratio_min']:.2f}-{e['ratio_max']:.2f})",
                         f"{e['p50_us_without']:,} / {e['p50_us_with']:,}",
                         f"{e['p99_us_without']:,} / {e['p99_us_with']:,}"))
    head = ("framework", "case", "with the layer", "req/s without", "req/s with",
            "ratio median (range)", "p50 µs without / with", "p99 µs without / with")
    widths = [max(len(x[i]) for x in [head, *rows]) for i in range(len(head))]
    print(f"wrk {result['wrk']}, {result['pairs']} pairs per case (medians); commit "
          f"{result['commit']}; load average at start {result['load_avg_at_start']} "
          f"on {result['cpus']} CPUs")
    print("  ".join(h.ljust(w) for h, w in zip(head, widths)))
    for row in rows:
        print("  ".join(v.ljust(w) if i < 3 else v.rjust(w) for i, (v, w) in enumerate(zip(row, widths))))
    errors = sum(e["socket_errors"] for e in summary)
    if errors:
        print(f"note: wrk counted {errors} socket errors in all (see --json)")
    result["summary"] = summary
    common.write_json(args.json, result)


if __name__ == "__main__":
    main()
