#!/usr/bin/env python3
"""What turning a tag's sites on and off costs: `maintenance on --tag` over many sites.

Seeds N sites as `scale.py` does (5 ignored patterns and 2 allowed networks each), tags every
other site `even` (N/2 sites) and every site `all` (N), then times, with the release
`maintenance` CLI, `on --tag even` / `off --tag even`, `on --tag all` / `off --tag all`, and
`on --all` / `off --all` for comparison, each `--runs` times, alternated. Every command runs in
one transaction; the times are the command's whole run (connect, read, write, commit).

    cargo build --release -p maintenance-cli
    python3 bench/tags.py --sites 10000 --db postgres://postgres@127.0.0.1:5432/
    python3 bench/tags.py --sites 10000 --db mysql://root@127.0.0.1:3306/
    python3 bench/tags.py --sites 10000 --db sqlite:///tmp/maintenance_tags.db

Builds nothing; drops and recreates its own database (`--db-name`, default
`maintenance_tags_bench`), as `scale.py` does.
"""

import argparse
import os
import shutil
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scale  # noqa: E402  (the backends, seeding and the CLI runner)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tag_sql(kind):
    """Tags every other seeded site `even` and every seeded site `all`, then bumps the revision."""
    even = "(s.id % 2) = 0" if kind != "mysql" else "MOD(s.id, 2) = 0"
    return (
        "INSERT INTO maintenance_site_tags (site_id, tag) "
        f"SELECT s.id, 'even' FROM maintenance_sites s WHERE s.domain LIKE 'site%' AND {even};\n"
        "INSERT INTO maintenance_site_tags (site_id, tag) "
        "SELECT s.id, 'all' FROM maintenance_sites s WHERE s.domain LIKE 'site%';\n"
        "UPDATE maintenance_revision SET revision = revision + 1 WHERE id = 1;\n"
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sites", type=int, default=10000, help="how many sites (default 10000)")
    ap.add_argument("--db", required=True,
                    help="postgres://USER@HOST:PORT/, mysql://USER@HOST:PORT/ or sqlite://FILE")
    ap.add_argument("--db-name", default="maintenance_tags_bench",
                    help="the database the script drops and recreates")
    ap.add_argument("--runs", type=int, default=3, help="runs of each command (default 3)")
    ap.add_argument("--target-dir", default=os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target"))
    args = ap.parse_args()
    n = args.sites
    if n < 2 or args.runs < 1:
        scale.fail("--sites must be at least 2 and --runs at least 1")
    cli = os.path.join(args.target_dir, "release", "maintenance")
    if not os.access(cli, os.X_OK):
        scale.fail(f"{cli} not found: run `cargo build --release -p maintenance-cli`")
    backend = scale.backend_for(args.db, scale.check_db_name(args.db_name))
    needed = {"postgres": "psql", "mysql": "mysql", "sqlite": "sqlite3"}[backend.kind]
    if shutil.which(needed) is None:
        scale.fail(f"the `{needed}` client is needed for {backend.kind}")
    env = dict(os.environ, DATABASE_URL=backend.database_url(), RUST_LOG="warn")

    backend.recreate()
    scale.run([cli, "migrate"], env=env, what="maintenance migrate")
    backend.run_sql(backend.seed_sql(n))
    backend.run_sql(tag_sql(backend.kind))
    tagged = backend.count("maintenance_site_tags")
    if tagged != n + n // 2 and tagged != n + (n + 1) // 2:
        scale.fail(f"tagging made {tagged} rows, expected about {n + n // 2}")

    commands = [
        ("on --tag even", ["on", "--tag", "even"], ["off", "--tag", "even"]),
        ("on --tag all", ["on", "--tag", "all"], ["off", "--tag", "all"]),
        ("on --all", ["on", "--all"], ["off", "--all"]),
    ]
    times = {}
    for _ in range(args.runs):
        for name, on, off in commands:
            for label, argv in ((name, on), (name.replace("on ", "off ", 1), off)):
                took = scale.cli_run(cli, env, argv, 300.0)
                if took is None:
                    scale.fail(f"maintenance {' '.join(argv)} took more than 300 s")
                times.setdefault(label, []).append(took)

    print(f"{backend.describe()}, {n} sites ({n // 2} tagged `even`, {n} tagged `all`), "
          f"{args.runs} runs, load average at the end {os.getloadavg()[0]:.2f}")
    for label, values in times.items():
        print(f"  {label:<16} median {statistics.median(values):6.2f} s  "
              f"(min {min(values):.2f}, max {max(values):.2f})")


if __name__ == "__main__":
    main()
