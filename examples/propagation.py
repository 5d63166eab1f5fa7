#!/usr/bin/env python3
"""How long a change takes to reach a running test project: the time from the end of a
`maintenance on` / `maintenance off` command to the first response that shows it.

Usage: python3 examples/propagation.py DATABASE_URL [ROUNDS]
Builds nothing: run `cargo build --release -p maintenance-examples -p maintenance-cli` first.
"""
import os
import random
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVER = os.path.join(ROOT, "target", "release", "testproject-axum")
CLI = os.path.join(ROOT, "target", "release", "maintenance")
PORT = 3998


def status():
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/", timeout=2) as res:
            return res.status
    except urllib.error.HTTPError as err:
        return err.code


def wait_for(code, limit=10.0):
    start = time.monotonic()
    while time.monotonic() - start < limit:
        if status() == code:
            return time.monotonic() - start
        time.sleep(0.002)
    raise SystemExit(f"no {code} within {limit} s")


def main():
    url = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    env = dict(os.environ, DATABASE_URL=url, BIND=f"127.0.0.1:{PORT}", RUST_LOG="warn")
    subprocess.run([CLI, "migrate"], env=env, check=True, capture_output=True)
    subprocess.run([CLI, "off"], env=env, check=True, capture_output=True)
    server = subprocess.Popen([SERVER], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.5)
        wait_for(200)
        delays = []
        for i in range(rounds):
            command, code = ("on", 503) if i % 2 == 0 else ("off", 200)
            # Changes come at random moments, not in step with the server's polling.
            time.sleep(random.uniform(0, 0.3))
            subprocess.run([CLI, command], env=env, check=True, capture_output=True)
            delays.append(wait_for(code) * 1000)
        delays.sort()
        print(f"{url.split(':')[0]}: {rounds} changes, delay until the server shows them (ms): "
              f"median {statistics.median(delays):.0f}, max {max(delays):.0f}, min {min(delays):.0f}")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
