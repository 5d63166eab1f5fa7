#!/usr/bin/env python3
"""Scale benchmark: how maintenance-rs behaves with many sites in one database.

For N sites on one backend (PostgreSQL, MariaDB/MySQL or SQLite) it measures:
  1. seeding N sites with bulk SQL (each with 5 ignored patterns and 2 allowed networks);
  2. the time from spawning two release `testproject-axum` servers until each serves the
     loaded state (a site turned on before the start answers 503, another one 200);
  3. each server's resident memory once ready (VmRSS, VmHWM), and again after the flips;
  4. one-site flips with the release `maintenance` CLI: the time from the end of the command
     until both servers show the change, and the command's own duration;
  5. `maintenance on --all` / `off --all`: the command's duration and the time until both
     servers show it (skipped with --skip-all, or given up past --timeout).

Builds nothing: run `cargo build --release -p maintenance-examples -p maintenance-cli` first.
Standard library only, plus the `psql`, `mysql` and `sqlite3` command-line clients.

Usage:
  python3 bench/scale.py --sites 1000 --db postgres://postgres@127.0.0.1:5432/
  python3 bench/scale.py --sites 1000 --db mysql://root@127.0.0.1:3306/
  python3 bench/scale.py --sites 1000 --db sqlite:///tmp/maintenance_bench.db

The database URL names a server, not a database: the script drops and recreates its own
database in it (--db-name, default maintenance_bench) and touches no other. For SQLite it names
the file, which is deleted and recreated (refused if it holds tables other than the
maintenance tables).
"""
import argparse
import datetime
import http.client
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.dont_write_bytecode = True  # no __pycache__ next to the scripts
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import callgrind as common  # noqa: E402  (the process, port and git helpers)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The site turned on before the servers start: a server serves the loaded state once it
# answers 503 for it (before its first snapshot, the fail mode `open` answers 200 for all).
# The probe site stays off and must answer 200.


def fail(message):
    raise SystemExit(f"scale.py: {message}")


# ---------------------------------------------------------------------------------------------
# The backends: how to reach the server with its client, and django-maintenancemode-2ing SQL.


class Backend:
    """A database server (or SQLite file) the benchmark owns one database in."""

    kind = ""

    def database_url(self):
        """The URL the servers and the CLI use."""
        raise NotImplementedError

    def recreate(self):
        """Drops and creates the benchmark's database."""
        raise NotImplementedError

    def run_sql(self, sql):
        """Runs SQL statements in the benchmark's database; stops on the first error.

        Returns what the client printed."""
        raise NotImplementedError

    def seed_sql(self, n):
        """The statements that add n sites with their patterns and networks."""
        raise NotImplementedError

    def describe(self):
        """The backend and its version, for the report."""
        return self.kind

    def query(self, sql):
        """The output of one SQL statement (without its `;`)."""
        return self.run_sql(sql + ";\n")

    def count(self, table):
        out = self.query(f"SELECT COUNT(*) FROM {table}")
        return int(out.strip())


def run(cmd, input_text=None, env=None, what="command"):
    proc = subprocess.run(cmd, input=input_text, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        fail(f"{what} failed (exit {proc.returncode}): {' '.join(cmd[:2])} ...\n"
             f"{proc.stderr.strip()[-2000:]}")
    return proc.stdout


def check_db_name(name):
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", name):
        fail(f"--db-name {name!r}: letters, digits and underscores only, not starting with a digit")
    return name


def check_server_url(url, parts):
    if parts.path not in ("", "/"):
        fail(f"--db {url!r}: give a server URL without a database (e.g. ending in :5432/); "
             f"the benchmark makes its own database, named by --db-name")
    if parts.query:
        fail(f"--db {url!r}: query parameters are not supported here")


class ServerBackend(Backend):
    """A database server given by a URL without a database (PostgreSQL, MySQL/MariaDB)."""

    def __init__(self, url, name):
        parts = urllib.parse.urlsplit(url)
        check_server_url(url, parts)
        self.base = parts
        self.name = name

    def _url(self, db):
        return urllib.parse.urlunsplit((self.base.scheme, self.base.netloc, "/" + db, "", ""))

    def database_url(self):
        return self._url(self.name)


class Postgres(ServerBackend):
    kind = "postgres"

    def _psql(self, db, sql):
        return run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", self._url(db)],
                   input_text=sql, what="psql")

    def recreate(self):
        self._psql("postgres", f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE);\n'
                               f'CREATE DATABASE "{self.name}";\n')

    def run_sql(self, sql):
        return self._psql(self.name, sql)

    def describe(self):
        version = self._psql("postgres", "SHOW server_version;\n").strip().split()[0]
        return f"PostgreSQL {version}"

    def seed_sql(self, n):
        return f"""
BEGIN;
INSERT INTO maintenance_sites (domain, name)
SELECT 'site' || i || '.example.com', 'Site ' || i FROM generate_series(0, {n - 1}) AS i;
INSERT INTO maintenance_ignored_paths (site_id, pattern)
SELECT s.id, '^site' || i || '/section' || k || '/[0-9]+/$'
FROM generate_series(0, {n - 1}) AS i
JOIN maintenance_sites s ON s.domain = 'site' || i || '.example.com'
CROSS JOIN generate_series(0, 4) AS k;
INSERT INTO maintenance_allowed_networks (site_id, cidr)
SELECT s.id, (10 + i / 65536) || '.' || (i / 256 % 256) || '.' || (i % 256) || '.0/24'
FROM generate_series(0, {n - 1}) AS i
JOIN maintenance_sites s ON s.domain = 'site' || i || '.example.com';
INSERT INTO maintenance_allowed_networks (site_id, cidr)
SELECT s.id, 'fd00:0:' || (i / 10000) || ':' || (i % 10000) || '::/64'
FROM generate_series(0, {n - 1}) AS i
JOIN maintenance_sites s ON s.domain = 'site' || i || '.example.com';
COMMIT;
"""


def digits_cte(n):
    """A non-recursive CTE `seq(i)` with the integers 0..n-1, from a table of ten digits."""
    places = max(1, len(str(n - 1)))
    digits = " UNION ALL ".join(f"SELECT {d}" for d in range(10))
    terms = " + ".join(f"{10 ** p} * d{p}.x" for p in range(places))
    tables = ", ".join(f"digit d{p}" for p in range(places))
    return (f"WITH digit(x) AS ({digits}), "
            f"seq(i) AS (SELECT {terms} AS i FROM {tables}) ")


class MySql(ServerBackend):
    kind = "mysql"

    def _mysql(self, db, sql):
        p = self.base
        cmd = ["mysql", "--batch", "--skip-column-names", "-h", p.hostname or "127.0.0.1",
               "-P", str(p.port or 3306), "-u", urllib.parse.unquote(p.username or "root")]
        env = dict(os.environ)
        if p.password:
            env["MYSQL_PWD"] = urllib.parse.unquote(p.password)
        if db:
            cmd.append(db)
        return run(cmd, input_text=sql, env=env, what="mysql")

    def recreate(self):
        self._mysql(None, f"DROP DATABASE IF EXISTS `{self.name}`;\n"
                          f"CREATE DATABASE `{self.name}`;\n")

    def run_sql(self, sql):
        return self._mysql(self.name, sql)

    def describe(self):
        return "MySQL/MariaDB " + self._mysql(None, "SELECT VERSION();\n").strip()

    def seed_sql(self, n):
        seq = digits_cte(n)
        return f"""
START TRANSACTION;
INSERT INTO maintenance_sites (domain, name)
{seq}SELECT CONCAT('site', i, '.example.com'), CONCAT('Site ', i) FROM seq WHERE i < {n};
INSERT INTO maintenance_ignored_paths (site_id, pattern)
{seq}, k(k) AS (SELECT 0 UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4)
SELECT s.id, CONCAT('^site', i, '/section', k.k, '/[0-9]+/$')
FROM seq JOIN maintenance_sites s ON s.domain = CONCAT('site', i, '.example.com')
CROSS JOIN k WHERE i < {n};
INSERT INTO maintenance_allowed_networks (site_id, cidr)
{seq}SELECT s.id, CONCAT(10 + i DIV 65536, '.', (i DIV 256) % 256, '.', i % 256, '.0/24')
FROM seq JOIN maintenance_sites s ON s.domain = CONCAT('site', i, '.example.com') WHERE i < {n};
INSERT INTO maintenance_allowed_networks (site_id, cidr)
{seq}SELECT s.id, CONCAT('fd00:0:', i DIV 10000, ':', i % 10000, '::/64')
FROM seq JOIN maintenance_sites s ON s.domain = CONCAT('site', i, '.example.com') WHERE i < {n};
COMMIT;
"""


class Sqlite(Backend):
    kind = "sqlite"

    def __init__(self, url):
        if url.startswith("sqlite://"):
            path = url[len("sqlite://"):]
        elif url.startswith("sqlite:"):
            path = url[len("sqlite:"):]
        else:
            path = url
        path = path.split("?", 1)[0]
        if not path:
            fail(f"--db {url!r}: name the SQLite file, e.g. sqlite:///tmp/maintenance_bench.db")
        self.path = os.path.abspath(path)

    def database_url(self):
        return "sqlite://" + self.path

    def _sqlite(self, sql):
        return run(["sqlite3", "-batch", "-bail", self.path], input_text=sql, what="sqlite3")

    def recreate(self):
        if os.path.exists(self.path):
            tables = self._sqlite("SELECT name FROM sqlite_master WHERE type = 'table';\n").split()
            foreign = [t for t in tables
                       if not t.startswith("maintenance_") and t not in ("sqlite_sequence", "_sqlx_migrations")]
            if foreign:
                fail(f"{self.path} holds other tables ({', '.join(foreign[:5])}): "
                     f"not deleting it; name another file")
        for suffix in ("", "-wal", "-shm", "-journal"):
            if os.path.exists(self.path + suffix):
                os.remove(self.path + suffix)
        self._sqlite("PRAGMA journal_mode = WAL;\n")

    def run_sql(self, sql):
        return self._sqlite(sql)

    def describe(self):
        return "SQLite " + self._sqlite("SELECT sqlite_version();\n").strip()

    def seed_sql(self, n):
        seq = f"WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < {n - 1}) "
        return f"""
BEGIN;
INSERT INTO maintenance_sites (domain, name)
{seq}SELECT 'site' || i || '.example.com', 'Site ' || i FROM seq;
INSERT INTO maintenance_ignored_paths (site_id, pattern)
{seq}, k(k) AS (SELECT 0 UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4)
SELECT s.id, '^site' || i || '/section' || k.k || '/[0-9]+/$'
FROM seq JOIN maintenance_sites s ON s.domain = 'site' || i || '.example.com' CROSS JOIN k;
INSERT INTO maintenance_allowed_networks (site_id, cidr)
{seq}SELECT s.id, (10 + i / 65536) || '.' || (i / 256 % 256) || '.' || (i % 256) || '.0/24'
FROM seq JOIN maintenance_sites s ON s.domain = 'site' || i || '.example.com';
INSERT INTO maintenance_allowed_networks (site_id, cidr)
{seq}SELECT s.id, 'fd00:0:' || (i / 10000) || ':' || (i % 10000) || '::/64'
FROM seq JOIN maintenance_sites s ON s.domain = 'site' || i || '.example.com';
COMMIT;
"""


def backend_for(url, name):
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme in ("postgres", "postgresql"):
        return Postgres(url, name)
    if scheme in ("mysql", "mariadb"):
        return MySql(url, name)
    if scheme == "sqlite" or url.endswith(".db") or url.endswith(".sqlite"):
        return Sqlite(url)
    fail(f"--db {url!r}: expected postgres://..., mysql://..., mariadb://... or sqlite://FILE")


# ---------------------------------------------------------------------------------------------
# The servers.


def status(port, host, timeout=5.0):
    """The status of `GET /` with this Host header, or None if the server does not answer."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", "/", headers={"Host": host})
        res = conn.getresponse()
        res.read()
        return res.status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def memory_mib(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0]) / 1024  # kB -> MiB
    return fields


class Server:
    def __init__(self, binary, url, logdir, index):
        self.port = common.free_port()
        self.log_path = os.path.join(logdir, f"server{index}.log")
        self.log = open(self.log_path, "w")
        env = dict(os.environ, DATABASE_URL=url, BIND=f"127.0.0.1:{self.port}",
                   RUST_LOG="warn", MAINTENANCE_MIGRATE="off")
        self.spawned = time.monotonic()
        self.proc = subprocess.Popen([binary], env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.first_answer = None
        self.ready = None

    def stop(self):
        common.stop_process(self.proc, timeout=10)
        self.log.close()

    def log_tail(self):
        return common.file_tail(self.log_path, 2000)


def wait_ready(servers, on_host, off_host, limit):
    """Waits until every server answers 503 for `on_host` and 200 for `off_host`."""
    while True:
        pending = [s for s in servers if s.ready is None]
        if not pending:
            return
        for s in pending:
            if s.proc.poll() is not None:
                fail(f"server on port {s.port} exited ({s.proc.returncode}):\n{s.log_tail()}")
            if time.monotonic() - s.spawned > limit:
                fail(f"server on port {s.port} not ready within {limit} s:\n{s.log_tail()}")
            code = status(s.port, on_host)
            now = time.monotonic()
            if code is not None and s.first_answer is None:
                s.first_answer = now - s.spawned
            if code == 503 and status(s.port, off_host) == 200:
                s.ready = time.monotonic() - s.spawned
        time.sleep(0.001)


def wait_seen(servers, host, code, limit, pause=0.001):
    """Seconds from now until every server answers `code` for `host` (each polled in turn,
    `pause` seconds between rounds)."""
    start = time.monotonic()
    seen = {}
    while len(seen) < len(servers):
        for s in servers:
            if s.port not in seen and status(s.port, host) == code:
                seen[s.port] = time.monotonic() - start
        if time.monotonic() - start > limit:
            return None
        time.sleep(pause)
    return max(seen.values())


# ---------------------------------------------------------------------------------------------


def percentile(values, p):
    """The p-th percentile (nearest rank) of values."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), -(-len(ordered) * p // 100)))
    return ordered[int(rank) - 1]


def cli_run(cli, env, args, timeout):
    """Runs the CLI; its duration in seconds, or None past the timeout."""
    start = time.monotonic()
    try:
        proc = subprocess.run([cli, *args], env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    took = time.monotonic() - start
    if proc.returncode != 0:
        fail(f"maintenance {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return took


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sites", type=int, default=1000, help="how many sites to seed (default 1000)")
    ap.add_argument("--db", required=True,
                    help="postgres://USER@HOST:PORT/, mysql://USER@HOST:PORT/ or sqlite://FILE")
    ap.add_argument("--db-name", default="maintenance_bench",
                    help="the database the script drops and recreates (default maintenance_bench)")
    ap.add_argument("--flips", type=int, default=20, help="one-site changes to time (default 20)")
    ap.add_argument("--skip-all", action="store_true", help="skip `on --all` / `off --all`")
    ap.add_argument("--timeout", type=float, default=300.0,
                    help="seconds any one step may take before it is given up (default 300)")
    ap.add_argument("--target-dir", default=os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target"),
                    help="where the release binaries are (default $CARGO_TARGET_DIR, else ./target)")
    ap.add_argument("--seed", type=int, default=None, help="random seed for the flipped sites")
    args = ap.parse_args()

    n = args.sites
    if n < 2:
        fail(f"--sites {n}: at least 2")
    if args.flips < 0:
        fail(f"--flips {args.flips}: 0 or more")
    if args.seed is not None:
        random.seed(args.seed)
    server_bin = os.path.join(args.target_dir, "release", "testproject-axum")
    cli = os.path.join(args.target_dir, "release", "maintenance")
    for binary in (server_bin, cli):
        if not os.access(binary, os.X_OK):
            fail(f"{binary} not found: run `cargo build --release -p maintenance-examples "
                 f"-p maintenance-cli` (or give --target-dir)")

    backend = backend_for(args.db, check_db_name(args.db_name))
    needed = {"postgres": "psql", "mysql": "mysql", "sqlite": "sqlite3"}[backend.kind]
    if shutil.which(needed) is None:
        fail(f"the `{needed}` client is needed for {backend.kind}")
    url = backend.database_url()
    env = dict(os.environ, DATABASE_URL=url, RUST_LOG="warn")
    result = {
        "backend": backend.kind,
        "sites": n,
        "commit": common.git_commit(ROOT),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "load_avg_at_start": round(os.getloadavg()[0], 2),
    }

    # 1. Seeding.
    backend.recreate()
    result["server_version"] = backend.describe()
    run([cli, "migrate"], env=env, what="maintenance migrate")
    on_site, off_site = n - 1, 0
    on_host, off_host = f"site{on_site}.example.com", f"site{off_site}.example.com"
    start = time.monotonic()
    backend.run_sql(backend.seed_sql(n))
    backend.run_sql(f"UPDATE maintenance_sites SET enabled = TRUE WHERE domain = '{on_host}';\n"
                    "UPDATE maintenance_revision SET revision = revision + 1 WHERE id = 1;\n")
    result["seed_s"] = round(time.monotonic() - start, 3)
    counts = {t: backend.count(f"maintenance_{t}") for t in ("sites", "ignored_paths", "allowed_networks")}
    expected = {"sites": n + 1, "ignored_paths": 5 * n, "allowed_networks": 2 * n}
    if counts != expected:
        fail(f"seeding made {counts}, expected {expected}")

    logdir = tempfile.mkdtemp(prefix="maintenance-scale-")
    servers = []
    try:
        # 2. Time to the first snapshot, 3. memory.
        servers = [Server(server_bin, url, logdir, i) for i in range(2)]
        wait_ready(servers, on_host, off_host, args.timeout)
        result["servers"] = []
        for s in servers:
            mem = memory_mib(s.proc.pid)
            result["servers"].append({
                "first_answer_s": round(s.first_answer, 3),
                "ready_s": round(s.ready, 3),
                "rss_mib": round(mem["VmRSS"], 1),
                "hwm_mib": round(mem["VmHWM"], 1),
            })

        # 4. One-site flips, seen by both servers.
        delays, commands = [], []
        site = None
        for i in range(args.flips):
            if i % 2 == 0:
                site = random.choice(range(1, n - 1))
                verb, code = "on", 503
            else:
                verb, code = "off", 200
            host = f"site{site}.example.com"
            time.sleep(random.uniform(0, 0.3))  # not in step with the servers' polling
            took = cli_run(cli, env, [verb, "--site", host], args.timeout)
            if took is None:
                fail(f"maintenance {verb} --site {host} took longer than {args.timeout} s")
            commands.append(took * 1000)
            seen = wait_seen(servers, host, code, args.timeout)
            if seen is None:
                fail(f"the servers did not show `{verb}` for {host} within {args.timeout} s")
            delays.append(seen * 1000)
        if delays:
            result["flip_seen_ms"] = {"p50": round(statistics.median(delays), 1),
                                      "p99": round(percentile(delays, 99), 1),
                                      "max": round(max(delays), 1), "count": len(delays)}
            result["flip_cli_ms"] = {"p50": round(statistics.median(commands), 1),
                                     "p99": round(percentile(commands, 99), 1),
                                     "max": round(max(commands), 1)}
        for s, entry in zip(servers, result["servers"]):
            mem = memory_mib(s.proc.pid)
            entry["rss_after_flips_mib"] = round(mem["VmRSS"], 1)
            entry["hwm_after_flips_mib"] = round(mem["VmHWM"], 1)

        # 5. on --all / off --all.
        if args.skip_all:
            result["all"] = {"skipped": "--skip-all"}
        else:
            result["all"] = {}
            probe = f"site{random.choice(range(1, n - 1))}.example.com"
            for verb, code in (("on", 503), ("off", 200)):
                took = cli_run(cli, env, [verb, "--all"], args.timeout)
                if took is None:
                    result["all"][verb] = {"skipped": f"longer than {args.timeout:g} s"}
                    break
                seen = wait_seen(servers, probe if verb == "on" else on_host, code, args.timeout)
                result["all"][verb] = {"cli_s": round(took, 3),
                                       "seen_s": None if seen is None else round(seen, 3)}
    finally:
        for s in servers:
            s.stop()
    shutil.rmtree(logdir, ignore_errors=True)
    report(result, args)


def report(r, args):
    rows = [
        ("backend", f"{r['backend']} ({r['server_version']})"),
        ("sites", f"{r['sites']:,}"),
        ("commit / date", f"{r['commit']} / {r['date']}"),
        ("load average at start", f"{r['load_avg_at_start']}"),
        ("seeding (bulk SQL)", f"{r['seed_s']:.2f} s"),
    ]
    for i, s in enumerate(r["servers"]):
        rows.append((f"server {i + 1}: first answer / ready", f"{s['first_answer_s']:.2f} s / {s['ready_s']:.2f} s"))
        rows.append((f"server {i + 1}: VmRSS / VmHWM when ready",
                     f"{s['rss_mib']:.0f} / {s['hwm_mib']:.0f} MiB"))
        rows.append((f"server {i + 1}: VmRSS / VmHWM after flips",
                     f"{s['rss_after_flips_mib']:.0f} / {s['hwm_after_flips_mib']:.0f} MiB"))
    if "flip_seen_ms" in r:
        f, c = r["flip_seen_ms"], r["flip_cli_ms"]
        rows.append((f"flip seen by both ({f['count']}): p50 / p99 / max",
                     f"{f['p50']:.0f} / {f['p99']:.0f} / {f['max']:.0f} ms"))
        rows.append(("flip command: p50 / p99 / max", f"{c['p50']:.0f} / {c['p99']:.0f} / {c['max']:.0f} ms"))
    for verb in ("on", "off"):
        a = r["all"].get(verb) if isinstance(r["all"], dict) else None
        if "skipped" in r["all"]:
            rows.append((f"{verb} --all", f"skipped ({r['all']['skipped']})"))
        elif a is None:
            rows.append((f"{verb} --all", "not run (the step before was given up)"))
        elif "skipped" in a:
            rows.append((f"{verb} --all", f"given up ({a['skipped']})"))
        else:
            seen = "not seen in time" if a["seen_s"] is None else f"{a['seen_s']:.2f} s"
            rows.append((f"{verb} --all: command / seen by both", f"{a['cli_s']:.2f} s / {seen}"))
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k.ljust(width)}  {v}")
    print(json.dumps(r, sort_keys=True))


if __name__ == "__main__":
    main()
