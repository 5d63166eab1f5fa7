#!/usr/bin/env python3
"""Fleet benchmark: one flip, from the database to a thousand followers through NATS.

On a PostgreSQL database of its own it runs:
  1. one `maintenance relay` (or --relays of them) writing to a fresh NATS JetStream bucket;
  2. --followers `Maintenance` handles, each with its own NATS connection, spread over
     --processes `fleet-followers` processes;
  3. --servers release `testproject-axum` servers with MAINTENANCE_STORE=nats;
and measures:
  - per flip (`maintenance on` / `off`, --flips of them): the time from the write (the site's
    `updated_at`, set in the database's transaction) until each follower's handle holds the
    new state; the flip's time is its slowest follower's, reported as p50 / p99 over the flips,
    with p50 / p99 over every follower of every flip beside it;
  - the time from the end of the CLI until all --servers answer the new status (polled);
  - the database connections in all (`pg_stat_activity`), the followers' memory (VmRSS
    growth per follower), the relay's CPU over the flips.
With --direct N it then measures the direct path for comparison: N followers on PostgreSQL
itself (each holds one connection once settled: it reads on its change feed's `LISTEN`
connection; two for up to 20 s after it starts), N capped to what `max_connections` leaves.

Builds nothing: run
  cargo build --release -p maintenance-cli -p maintenance-examples --bin maintenance \\
      --bin testproject-axum --bin fleet-followers
first. Standard library only, plus `psql`; needs a nats-server with JetStream.

Usage:
  python3 bench/fleet.py --db postgres://postgres@127.0.0.1:5432/ --nats nats://127.0.0.1:4222
  python3 bench/fleet.py --followers 1000 --processes 4 --servers 50 --flips 20 --direct 45

The database URL names a server: the script drops and recreates its own database in it
(--db-name, default maintenance_fleet) and touches no other.
"""
import argparse
import json
import os
import queue
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ next to the scripts
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import callgrind as common  # noqa: E402  (the process, port and git helpers)
import scale  # noqa: E402  (the backends, HTTP status, memory and percentile helpers)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def fail(message):
    raise SystemExit(f"fleet.py: {message}")


def cpu_seconds(pid):
    """User and system CPU time a process has used, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


class Followers:
    """One `fleet-followers` process; its report lines arrive on a queue."""

    def __init__(self, binary, args, logdir, index):
        self.log_path = os.path.join(logdir, f"followers{index}.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([binary, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.log, text=True)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.strip())

    def next_line(self, timeout):
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            fail(f"a follower process said nothing for {timeout} s:\n"
                 f"{common.file_tail(self.log_path, 2000)}")

    def ready(self, timeout):
        """(followers, RSS KiB before, RSS KiB after) once every follower has loaded."""
        words = self.next_line(timeout).split()
        if not words or words[0] != "ready":
            fail(f"unexpected line from a follower process: {' '.join(words)}")
        return int(words[1]), int(words[2]), int(words[3])

    def report(self, timeout):
        return json.loads(self.next_line(timeout))

    def stop(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        common.stop_process(self.proc, timeout=10)
        self.log.close()


class NatsServer:
    """A `testproject-axum` that follows the bucket (no database)."""

    def __init__(self, binary, nats, bucket, logdir, index):
        self.port = common.free_port()
        self.log_path = os.path.join(logdir, f"server{index}.log")
        self.log = open(self.log_path, "w")
        env = dict(os.environ, MAINTENANCE_STORE="nats", NATS_URL=nats, MAINTENANCE_NATS_BUCKET=bucket,
                   BIND=f"127.0.0.1:{self.port}", RUST_LOG="warn",
                   DATABASE_URL="postgres://unused@127.0.0.1:1/unused")
        self.proc = subprocess.Popen([binary], env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def stop(self):
        common.stop_process(self.proc, timeout=10)
        self.log.close()


def start_followers(binary, source_args, total, processes, logdir, tag):
    per = [total // processes + (1 if i < total % processes else 0) for i in range(processes)]
    procs = [Followers(binary, [*source_args, "--followers", str(n)], logdir, f"{tag}{i}")
             for i, n in enumerate(per) if n > 0]
    started = time.monotonic()
    memory = [p.ready(timeout=300) for p in procs]
    loaded = time.monotonic() - started
    count = sum(m[0] for m in memory)
    grown_kib = sum(m[2] - m[1] for m in memory)
    return procs, count, grown_kib / max(count, 1), loaded


def nats_server_pids():
    """The running nats-server processes (their CPU is part of what a flip costs)."""
    out = subprocess.run(["pgrep", "-x", "nats-server"], capture_output=True, text=True).stdout
    return [int(pid) for pid in out.split()]


def connections(backend):
    out = backend.run_sql("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database();\n")
    return int(out.strip()) - 1  # the counting session itself


def flip_all(cli, url, followers, servers, flips):
    """Flips the default site `flips` times; per flip the slowest follower, every latency, and
    the time from the CLI's end until every server answers the new status."""
    slowest, every, servers_seen, cli_times = [], [], [], []
    for k in range(flips):
        turn_on = k % 2 == 0
        start = time.monotonic()
        proc = subprocess.run([cli, "--database-url", url, "on" if turn_on else "off"],
                              capture_output=True, text=True, timeout=60)
        cli_times.append(time.monotonic() - start)
        if proc.returncode != 0:
            fail(f"maintenance {'on' if turn_on else 'off'} failed: {proc.stderr}")
        if servers:
            # Polled every 10 ms, so that the polling does not take the cores the followers need.
            seen = scale.wait_seen(servers, "localhost", 503 if turn_on else 200, 30, pause=0.01)
            if seen is None:
                fail("the servers did not all show a flip within 30 s")
            servers_seen.append(seen * 1000)
        latencies = []
        for p in followers:
            report = p.report(timeout=30)
            if report["enabled"] != turn_on:
                fail(f"a follower reported {report} for flip {k}")
            if report["seen"] < report["of"]:
                fail(f"only {report['seen']} of {report['of']} followers saw flip {k}")
            latencies.extend(report["latencies_ms"])
        slowest.append(max(latencies))
        every.extend(latencies)
        time.sleep(0.3)
    return slowest, every, servers_seen, cli_times


def summary(slowest, every):
    p = scale.percentile
    return {
        "flip_seen_by_all_ms": {"p50": round(p(slowest, 50), 1), "p99": round(p(slowest, 99), 1),
                                "max": round(max(slowest), 1)},
        "every_follower_ms": {"p50": round(p(every, 50), 1), "p99": round(p(every, 99), 1)},
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", default="postgres://postgres@127.0.0.1:5432/",
                    help="the PostgreSQL server (default postgres://postgres@127.0.0.1:5432/)")
    ap.add_argument("--db-name", default="maintenance_fleet", help="the database to (re)create")
    ap.add_argument("--nats", default="nats://127.0.0.1:4222", help="the NATS server (JetStream on)")
    ap.add_argument("--followers", type=int, default=1000, help="NATS followers (default 1000)")
    ap.add_argument("--processes", type=int, default=4, help="processes they are spread over (default 4)")
    ap.add_argument("--servers", type=int, default=50, help="test-project servers on NATS (default 50)")
    ap.add_argument("--relays", type=int, default=1, help="relays writing the bucket (default 1)")
    ap.add_argument("--flips", type=int, default=20, help="flips to time (default 20)")
    ap.add_argument("--direct", type=int, default=0,
                    help="then N followers on PostgreSQL directly (capped by max_connections)")
    ap.add_argument("--target-dir", default=os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target"))
    args = ap.parse_args()

    release = os.path.join(args.target_dir, "release")
    cli, server_bin, followers_bin = (os.path.join(release, b)
                                      for b in ("maintenance", "testproject-axum", "fleet-followers"))
    for b in (cli, server_bin, followers_bin):
        if not os.path.exists(b):
            fail(f"{b} is missing: build the release binaries first (see --help)")
    backend = scale.backend_for(args.db, args.db_name)
    if backend.kind != "postgres":
        fail("--db must be a PostgreSQL server (the direct path's comparison is PostgreSQL's)")
    backend.recreate()
    url = backend.database_url()
    bucket = f"fleet_{int(time.time())}"
    subprocess.run([cli, "--database-url", url, "migrate"], check=True, capture_output=True)
    logdir = os.path.join(args.target_dir, "fleet-bench")
    os.makedirs(logdir, exist_ok=True)
    result = {"commit": common.git_commit(ROOT), "database": backend.describe(), "bucket": bucket,
              "followers": args.followers, "processes": args.processes, "servers": args.servers,
              "relays": args.relays, "flips": args.flips, "cores": os.cpu_count()}
    started = []
    try:
        relays = []
        for i in range(args.relays):
            log = open(os.path.join(logdir, f"relay{i}.log"), "w")
            relays.append(subprocess.Popen([cli, "--database-url", url, "relay", "--nats-url", args.nats,
                                            "--bucket", bucket], stdout=log, stderr=subprocess.STDOUT))
        started += relays
        time.sleep(1.0)
        procs, count, kib_each, loaded = start_followers(
            followers_bin, ["--nats-url", args.nats, "--bucket", bucket], args.followers,
            args.processes, logdir, "nats")
        started += [p.proc for p in procs]
        result["nats_followers"] = {"count": count, "memory_kib_each": round(kib_each, 1),
                                    "all_loaded_s": round(loaded, 2)}
        servers = [NatsServer(server_bin, args.nats, bucket, logdir, i) for i in range(args.servers)]
        started += [s.proc for s in servers]
        if servers and scale.wait_seen(servers, "localhost", 200, 60) is None:
            fail("the servers did not all answer within 60 s")
        result["database_connections"] = connections(backend)
        cpu_before = sum(cpu_seconds(r.pid) for r in relays)
        nats_pids = nats_server_pids()
        nats_before = sum(cpu_seconds(pid) for pid in nats_pids)
        followers_before = sum(cpu_seconds(p.proc.pid) for p in procs)
        clock = time.monotonic()
        slowest, every, servers_seen, cli_times = flip_all(cli, url, procs, servers, args.flips)
        elapsed = time.monotonic() - clock
        relay_cpu = sum(cpu_seconds(r.pid) for r in relays) - cpu_before
        nats_cpu = sum(cpu_seconds(pid) for pid in nats_pids) - nats_before
        followers_cpu = sum(cpu_seconds(p.proc.pid) for p in procs) - followers_before
        result["nats"] = summary(slowest, every)
        if servers_seen:
            result["nats"]["servers_after_cli_ms"] = {"p50": round(scale.percentile(servers_seen, 50), 1),
                                                      "p99": round(scale.percentile(servers_seen, 99), 1)}
        result["nats"]["relay_cpu_percent"] = round(100 * relay_cpu / elapsed, 2)
        # CPU per flip: what a flip costs the NATS server and the follower processes.
        result["nats"]["nats_server_cpu_ms_per_flip"] = round(1000 * nats_cpu / args.flips, 1)
        result["nats"]["followers_cpu_ms_per_flip"] = round(1000 * followers_cpu / args.flips, 1)
        result["nats"]["cli_s"] = round(scale.percentile(cli_times, 50), 3)
        result["database_connections_after"] = connections(backend)
        for p in procs:
            p.stop()
        for s in servers:
            s.stop()
        for r in relays:
            common.stop_process(r, timeout=10)

        if args.direct:
            limit = int(backend.run_sql("SHOW max_connections;\n").strip())
            reserved = int(backend.run_sql("SHOW superuser_reserved_connections;\n").strip())
            used = int(backend.run_sql("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend';\n").strip())
            # One connection each once settled (reads on the LISTEN connection), but two for up to
            # 20 s after a start (the first load's, until it idles out); room for the CLI's.
            n = min(args.direct, (limit - reserved - used - 4) // 2)
            procs, count, kib_each, loaded = start_followers(
                followers_bin, ["--database-url", url], n, min(args.processes, n), logdir, "direct")
            started += [p.proc for p in procs]
            at_start = connections(backend)
            time.sleep(25)
            conns = connections(backend)
            slowest, every, _, _ = flip_all(cli, url, procs, [], args.flips)
            result["direct"] = {"count": count, "max_connections": limit, "database_connections": conns,
                                "database_connections_at_start": at_start,
                                "memory_kib_each": round(kib_each, 1), **summary(slowest, every)}
            for p in procs:
                p.stop()
    finally:
        for proc in started:
            common.stop_process(proc, timeout=10)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
