//! The `maintenance` binary run as a process against each backend: a table of commands with
//! their expected exit status and output, every bad input included. After each failing
//! command the state and the audit log are compared with before: nothing may be written.
//!
//! SQLite always runs; PostgreSQL and MariaDB run when `MAINTENANCE_TEST_POSTGRES_URL` /
//! `MAINTENANCE_TEST_MYSQL_URL` are set (each test creates its own database through them).

// Tests may unwrap: a panic is how they fail.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Backend, Run, cli, cli_env, fails, fresh_db, ok};
use serde_json::Value;

/// One command of the table.
struct Case {
    args: &'static [&'static str],
    code: i32,
    stdout: &'static [&'static str],
    stderr: &'static [&'static str],
}

/// A command that succeeds and prints each of `stdout`.
const fn prints(args: &'static [&'static str], stdout: &'static [&'static str]) -> Case {
    Case {
        args,
        code: 0,
        stdout,
        stderr: &[],
    }
}

/// A command refused with exit status `code` and each of `stderr` in its error.
const fn refused(
    code: i32,
    args: &'static [&'static str],
    stderr: &'static [&'static str],
) -> Case {
    Case {
        args,
        code,
        stdout: &[],
        stderr,
    }
}

/// The state and the audit log, to prove a failing command wrote nothing.
fn snapshot(url: &str) -> (String, String) {
    let status = ok(&cli(url, &["status", "--json"])).stdout.clone();
    let log = ok(&cli(url, &["log", "--json", "--limit", "10000"]))
        .stdout
        .clone();
    (status, log)
}

fn run_table(url: &str, cases: &[Case]) {
    let mut before: Option<(String, String)> = None;
    for c in cases {
        if c.code != 0 && before.is_none() {
            before = Some(snapshot(url));
        }
        let run = cli(url, c.args);
        let show = |run: &Run| format!("maintenance {:?}\n{run:#?}", c.args);
        assert_eq!(run.code, c.code, "exit status of {}", show(&run));
        for want in c.stdout {
            assert!(
                run.stdout.contains(want),
                "stdout lacks {want:?}: {}",
                show(&run)
            );
        }
        for want in c.stderr {
            assert!(
                run.stderr.contains(want),
                "stderr lacks {want:?}: {}",
                show(&run)
            );
        }
        if c.code == 0 {
            before = None;
        } else {
            assert!(
                run.stderr.starts_with("error:") || run.stderr.contains("Usage:"),
                "errors go to stderr: {}",
                show(&run)
            );
            let after = snapshot(url);
            assert_eq!(
                before.as_ref(),
                Some(&after),
                "a failing command changed the database: {}",
                show(&run)
            );
        }
    }
}

const SETUP: &[Case] = &[
    prints(&["migrate"], &["Migrated"]),
    prints(&["migrate"], &["Migrated", "1 site(s)"]),
    prints(
        &["status"],
        &[
            "default (Default site, the default site)",
            "state:       off",
            "bypass:      not set",
        ],
    ),
    prints(
        &["sites", "add", "shop.example.com", "--name", "Shop"],
        &["Added site shop.example.com (Shop)"],
    ),
    refused(
        1,
        &["sites", "add", "Shop.Example.COM"],
        &["shop.example.com", "already exists"],
    ),
    refused(
        2,
        &["sites", "add", "bad domain"],
        &["invalid site domain `bad domain`", "expected a host name"],
    ),
    refused(
        2,
        &["sites", "add", "x.example", "--name", ""],
        &["invalid site name"],
    ),
    prints(
        &["sites", "list"],
        &[
            "DOMAIN",
            "shop.example.com",
            "Shop",
            "(default site)",
            "sites 1-2 of 2 (page 1 of 1)",
        ],
    ),
    prints(
        &["sites", "list", "--search", "SHOP"],
        &["shop.example.com", "sites 1-1 of 1 (page 1 of 1)"],
    ),
    prints(
        &["sites", "list", "--per-page", "1", "--page", "2"],
        &["shop.example.com", "sites 2-2 of 2 (page 2 of 2)"],
    ),
    prints(&["sites", "list", "--state", "on"], &["no sites match"]),
    refused(
        2,
        &["sites", "list", "--state", "down"],
        &[
            "invalid state `down`",
            "expected `on`, `off` or `scheduled`",
        ],
    ),
    refused(
        2,
        &["sites", "list", "--per-page", "5000"],
        &["invalid page size `5000`", "from 1 to 1000"],
    ),
    refused(2, &["sites", "list", "--page", "0"], &["invalid page `0`"]),
];

const STATE: &[Case] = &[
    // Several sites: every one must exist before any is written.
    refused(
        1,
        &[
            "on",
            "--site",
            "shop.example.com",
            "--site",
            "nope.example.com",
        ],
        &[
            "unknown site `nope.example.com`",
            "expected one of",
            "shop.example.com",
        ],
    ),
    refused(
        2,
        &["on", "--for", "30m", "--until", "2037-01-01T00:00:00Z"],
        &["'--for <DUR>' cannot be used with '--until <TIME>'"],
    ),
    refused(
        2,
        &["on", "--site", "shop.example.com", "--all"],
        &["cannot be used with"],
    ),
    refused(
        2,
        &["on", "--until", "2099-13-01T00:00:00Z"],
        &["invalid time `2099-13-01T00:00:00Z`", "expected RFC 3339"],
    ),
    refused(
        2,
        &["on", "--from", "tomorrow"],
        &["invalid time `tomorrow`", "expected RFC 3339"],
    ),
    refused(
        2,
        &["on", "--for", "5x"],
        &["invalid duration `5x`", "expected a duration such as"],
    ),
    refused(
        2,
        &["on", "--for", "30"],
        &["invalid duration `30`", "has no unit"],
    ),
    refused(
        2,
        &["on", "--for", "0s"],
        &["invalid duration `0s`", "it is zero"],
    ),
    refused(
        2,
        &["on", "--until", "2001-01-01T00:00:00Z"],
        &[
            "invalid window",
            "2001-01-01T00:00:00Z",
            "not in the future",
        ],
    ),
    refused(
        2,
        &[
            "on",
            "--from",
            "2037-01-02T00:00:00Z",
            "--until",
            "2037-01-01T00:00:00Z",
        ],
        &[
            "invalid window",
            "--until 2037-01-01T00:00:00Z is not after --from 2037-01-02T00:00:00Z",
        ],
    ),
    refused(
        2,
        &["on", "--retry-after", "soon"],
        &["invalid value 'soon' for '--retry-after <SECS>'"],
    ),
    refused(
        2,
        &["on", "--retry-after", "-5"],
        &["unexpected argument '-5'"],
    ),
    refused(2, &["on", "--bogus"], &["unexpected argument '--bogus'"]),
    refused(
        1,
        &["off", "--site", "nope.example.com"],
        &["unknown site `nope.example.com`"],
    ),
    prints(
        &[
            "on",
            "--site",
            "shop.example.com",
            "--from",
            "2037-01-01T00:00:00Z",
            "--for",
            "1h30m",
        ],
        &[
            "shop.example.com: maintenance scheduled (mode full, from 2037-01-01T00:00:00Z until 2037-01-01T01:30:00Z)",
        ],
    ),
    prints(
        &["status", "--site", "SHOP.example.com"],
        &[
            "shop.example.com (Shop)",
            "state:       scheduled",
            "window:      from 2037-01-01T00:00:00Z until 2037-01-01T01:30:00Z",
        ],
    ),
    prints(
        &[
            "on",
            "--message",
            "Back at 14:00",
            "--retry-after",
            "120",
            "--read-only",
        ],
        &["default: maintenance on (mode read-only, retry after 120s)"],
    ),
    prints(
        &["status", "--site", "default"],
        &[
            "state:       on",
            "mode:        read-only",
            "message:     Back at 14:00",
            "retry-after: 120s",
            "last change: tester at ",
        ],
    ),
    // `on` without --read-only is full maintenance, and resets what is not given.
    prints(&["on"], &["default: maintenance on (mode full)"]),
    prints(
        &["status", "--site", "default"],
        &[
            "mode:        full",
            "message:     (the default text)",
            "retry-after: derived from the window end",
        ],
    ),
    prints(
        &["on", "--for", "2h"],
        &["default: maintenance on (mode full, until "],
    ),
    // Partial maintenance: `--only` (repeatable) sets the scope, `on` without it clears it.
    prints(
        &["on", "--only", "^checkout/", "--only", "^api/orders"],
        &["default: maintenance on (mode full, only ^checkout/ ^api/orders)"],
    ),
    prints(
        &["status", "--site", "default"],
        &["only:        ^checkout/\n               ^api/orders"],
    ),
    refused(
        2,
        &["on", "--only", "^(unclosed"],
        &["invalid ignored-path pattern `^(unclosed`", "--only"],
    ),
    prints(
        &["status", "--site", "default"],
        &["only:        ^checkout/"],
    ),
    prints(
        &["log", "--limit", "1"],
        &[r#"only=["^checkout/", "^api/orders"]"#],
    ),
    prints(&["on"], &["default: maintenance on (mode full)"]),
    prints(
        &["status", "--site", "default"],
        &["only:        the whole site"],
    ),
    prints(
        &["on", "--for", "2h"],
        &["default: maintenance on (mode full, until "],
    ),
    refused(
        1,
        &["status", "--site", "nope.example.com"],
        &["unknown site `nope.example.com`"],
    ),
];

const LISTS: &[Case] = &[
    refused(
        2,
        &["ignore", "add", "^(unclosed"],
        &[
            "invalid ignored-path pattern `^(unclosed`",
            "regex parse error",
            "unclosed group",
        ],
    ),
    refused(
        2,
        &["ignore", "add", ""],
        &["invalid ignored-path pattern ``"],
    ),
    prints(
        &[
            "ignore",
            "add",
            "^health/$",
            "--description",
            "Health checks",
        ],
        &["Added ignored pattern `^health/$` to default"],
    ),
    prints(
        &["ignore", "add", "^health/$", "--description", "Probes"],
        &["Added ignored pattern `^health/$`"],
    ),
    prints(&["ignore", "list"], &["^health/$\tProbes"]),
    prints(
        &["ignore", "list", "--site", "shop.example.com"],
        &["No ignored patterns for shop.example.com."],
    ),
    refused(
        1,
        &["ignore", "--site", "nope.example.com", "add", "^api/"],
        &["unknown site `nope.example.com`"],
    ),
    refused(
        1,
        &["ignore", "remove", "^nothere"],
        &[
            "`^nothere`",
            "is not set on site `default`",
            "`maintenance ignore list` shows",
        ],
    ),
    refused(
        2,
        &["allow", "add", "10.0.0.0/33"],
        &["invalid network `10.0.0.0/33`", "expected CIDR notation"],
    ),
    refused(
        2,
        &["allow", "add", "not-an-ip"],
        &["invalid network `not-an-ip`"],
    ),
    refused(
        2,
        &["allow", "remove", "10.0.0.0/99"],
        &["invalid network `10.0.0.0/99`"],
    ),
    prints(
        &[
            "allow",
            "--site",
            "shop.example.com",
            "add",
            "10.0.0.0/8",
            "--description",
            "Office",
        ],
        &["Added allowed network 10.0.0.0/8 to shop.example.com"],
    ),
    prints(
        &["allow", "add", "2001:db8::/32"],
        &["Added allowed network 2001:db8::/32 to default"],
    ),
    prints(
        &["allow", "list", "--site", "shop.example.com"],
        &["10.0.0.0/8\tOffice"],
    ),
    prints(
        &["allow", "remove", "2001:db8::/32"],
        &["Removed allowed network 2001:db8::/32 from default"],
    ),
    prints(&["allow", "list"], &["No allowed networks for default."]),
    refused(
        1,
        &[
            "allow",
            "remove",
            "192.168.0.0/16",
            "--site",
            "shop.example.com",
        ],
        &[
            "192.168.0.0/16",
            "is not set on site `shop.example.com`",
            "`maintenance allow list --site shop.example.com` shows",
        ],
    ),
    refused(
        2,
        &["bypass", "new", "--base-url", "ftp://x"],
        &["invalid base URL `ftp://x`", "expected http:// or https://"],
    ),
    refused(
        1,
        &["bypass", "new", "--site", "nope.example.com"],
        &["unknown site `nope.example.com`"],
    ),
    prints(&["bypass", "clear"], &["default had no bypass secret"]),
];

const END: &[Case] = &[
    prints(
        &["off", "--all"],
        &[
            "default: maintenance off",
            "shop.example.com: maintenance off",
        ],
    ),
    prints(&["status"], &["state:       off"]),
    refused(
        1,
        &["log", "--site", "nope.example.com"],
        &["unknown site `nope.example.com`"],
    ),
    refused(
        2,
        &["log", "--limit", "0"],
        &["invalid value '0' for '--limit <N>'"],
    ),
    refused(
        2,
        &["log", "--limit", "many"],
        &["invalid value 'many' for '--limit <N>'"],
    ),
    prints(
        &["log", "--site", "shop.example.com"],
        &["shop.example.com  tester  allow.add  10.0.0.0/8"],
    ),
    refused(
        1,
        &["sites", "remove", "default"],
        &["the default site `default` cannot be removed"],
    ),
    refused(
        1,
        &["sites", "remove", "nope.example.com"],
        &["unknown site `nope.example.com`"],
    ),
    refused(2, &[], &["Usage: maintenance"]),
    refused(
        2,
        &["frobnicate"],
        &["unrecognized subcommand 'frobnicate'"],
    ),
    refused(2, &["sites"], &["Usage: maintenance sites"]),
    refused(2, &["--actor", "", "status"], &["invalid actor ``"]),
    refused(
        2,
        &["admin"],
        &[
            "refusing to start the admin page without a token",
            "MAINTENANCE_ADMIN_TOKEN",
        ],
    ),
    refused(
        2,
        &["admin", "--listen", "0.0.0.0:0", "--insecure-no-auth"],
        &["refusing --insecure-no-auth on 0.0.0.0:0", "loopback"],
    ),
    refused(
        2,
        &["admin", "--token", "correct-horse-battery-staple"],
        &[
            "refusing an admin token of 28 characters",
            "at least 32 characters",
            "openssl rand -hex 32",
        ],
    ),
    refused(
        2,
        &[
            "admin",
            "--token",
            "0123456789abcdef0123456789abcdef",
            "--public-origin",
            "https://ops.example.com",
            "--public-origin",
            "ftp://ops.example.com",
        ],
        &["error: invalid public origin `ftp://ops.example.com`: expected http:// or https://"],
    ),
    refused(
        2,
        &[
            "admin",
            "--token",
            "0123456789abcdef0123456789abcdef",
            "--public-origin",
            "https://ops.example.com/admin/",
        ],
        &["invalid public origin `https://ops.example.com/admin/`: it has a path"],
    ),
    refused(
        2,
        &["admin", "--listen", "nowhere", "--token", "t"],
        &["invalid value 'nowhere' for '--listen <ADDR>'"],
    ),
    prints(
        &["--actor", "alice", "sites", "remove", "shop.example.com"],
        &["Removed site shop.example.com"],
    ),
    prints(&["sites", "list"], &["default"]),
];

fn site<'a>(status: &'a Value, domain: &str) -> &'a Value {
    status
        .as_array()
        .expect("status --json is an array")
        .iter()
        .find(|s| s["domain"] == domain)
        .unwrap_or_else(|| panic!("{domain} in {status}"))
}

fn json(run: &Run) -> Value {
    serde_json::from_str(&ok(run).stdout).unwrap_or_else(|e| panic!("JSON: {e}\n{run:#?}"))
}

/// Every site's state, as `status --json` gives it.
fn all_sites(url: &str) -> Value {
    json(&cli(url, &["status", "--json"]))
}

/// The stdout of a command that must succeed.
fn stdout(url: &str, args: &[&str]) -> String {
    ok(&cli(url, args)).stdout.clone()
}

/// A SQLite database file in a temporary directory, not created yet: the directory and the
/// database URL.
fn temp_sqlite(file: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join(file).display());
    (dir, url)
}

/// A migrated SQLite database in a temporary directory: the directory and the database URL.
fn migrated_sqlite() -> (tempfile::TempDir, String) {
    let (dir, url) = temp_sqlite("m.db");
    ok(&cli(&url, &["migrate"]));
    (dir, url)
}

/// The whole scenario on one database.
fn scenario(url: &str) {
    run_table(url, SETUP);
    run_table(url, STATE);

    // --json: stable field names, computed state, the window as given.
    let status = all_sites(url);
    let shop = site(&status, "shop.example.com");
    assert_eq!(shop["state"], "scheduled");
    assert_eq!(shop["enabled"], true);
    assert_eq!(shop["starts_at"], "2037-01-01T00:00:00Z");
    assert_eq!(shop["ends_at"], "2037-01-01T01:30:00Z");
    assert_eq!(shop["is_default"], false);
    let default = site(&status, "default");
    assert_eq!(default["state"], "on");
    assert_eq!(default["mode"], "full");
    assert_eq!(default["message"], Value::Null);
    assert_eq!(default["starts_at"], Value::Null);
    assert!(default["ends_at"].is_string(), "{default}");
    assert_eq!(default["updated_by"], "tester");
    assert_eq!(default["scope"], serde_json::json!([]));
    ok(&cli(url, &["on", "--only", "^checkout/"]));
    let status = json(&cli(url, &["status", "--json", "--site", "default"]));
    assert_eq!(
        status["scope"],
        serde_json::json!(["^checkout/"]),
        "{status}"
    );
    ok(&cli(url, &["on", "--for", "2h"]));
    for field in [
        "domain",
        "name",
        "is_default",
        "state",
        "enabled",
        "mode",
        "message",
        "starts_at",
        "ends_at",
        "retry_after_secs",
        "scope",
        "ignored_paths",
        "allowed_networks",
        "bypass_secret_set",
        "updated_at",
        "updated_by",
    ] {
        assert!(default.get(field).is_some(), "field {field} in {default}");
    }
    let one = json(&cli(url, &["status", "--site", "default", "--json"]));
    assert!(one.is_object(), "{one}");
    assert_eq!(one["domain"], "default");

    run_table(url, LISTS);

    let status = all_sites(url);
    let default = site(&status, "default");
    assert_eq!(default["ignored_paths"][0]["pattern"], "^health/$");
    assert_eq!(default["ignored_paths"][0]["description"], "Probes");
    assert_eq!(default["allowed_networks"], serde_json::json!([]));
    let shop = site(&status, "shop.example.com");
    assert_eq!(shop["allowed_networks"][0]["network"], "10.0.0.0/8");

    // The bypass secret is printed once, with its URL; only the hash is stored.
    let run = ok(&cli(url, &["bypass", "new"])).clone();
    let secret = run
        .stdout
        .lines()
        .nth(1)
        .map(str::trim)
        .expect("the secret on the second line")
        .to_owned();
    assert_eq!(secret.len(), 64, "{run:#?}");
    assert!(secret.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(
        run.stdout
            .contains(&format!("http://default/_maintenance/bypass/{secret}")),
        "{run:#?}"
    );
    let run = ok(&cli(
        url,
        &[
            "bypass",
            "new",
            "--site",
            "shop.example.com",
            "--base-url",
            "https://shop.example.com/",
        ],
    ))
    .clone();
    assert!(
        run.stdout
            .contains("https://shop.example.com/_maintenance/bypass/"),
        "{run:#?}"
    );
    let status = all_sites(url);
    assert_eq!(site(&status, "default")["bypass_secret_set"], true);
    assert!(
        !status.to_string().contains(&secret),
        "the secret is not stored"
    );
    ok(&cli(url, &["bypass", "clear"]));
    let status = all_sites(url);
    assert_eq!(site(&status, "default")["bypass_secret_set"], false);
    assert_eq!(site(&status, "shop.example.com")["bypass_secret_set"], true);

    run_table(url, END);

    // Every change is in the audit log, with its actor.
    let log = json(&cli(url, &["log", "--json", "--limit", "1000"]));
    let events = log.as_array().expect("log --json is an array");
    let actions: Vec<&str> = events.iter().filter_map(|e| e["action"].as_str()).collect();
    for want in [
        "site.add",
        "on",
        "off",
        "ignore.add",
        "allow.add",
        "allow.remove",
        "bypass.set",
        "bypass.clear",
        "site.remove",
    ] {
        assert!(actions.contains(&want), "{want} in {actions:?}");
    }
    assert!(
        events
            .iter()
            .all(|e| e["actor"] == "tester" || e["actor"] == "alice"),
        "{log}"
    );
    assert_eq!(events[0]["actor"], "alice");
    assert_eq!(events[0]["action"], "site.remove");
    for field in ["id", "site", "at", "actor", "action", "detail"] {
        assert!(events[0].get(field).is_some(), "{field} in {}", events[0]);
    }
    let run = ok(&cli(url, &["log", "--limit", "2"])).clone();
    assert_eq!(run.stdout.lines().count(), 2, "{run:#?}");
}

/// `on --all`, `off` of several sites and the listing's filters, on one database.
fn bulk_scenario(url: &str) {
    ok(&cli(url, &["migrate"]));
    for domain in ["a.bulk.example", "b.bulk.example", "c.bulk.example"] {
        ok(&cli(url, &["sites", "add", domain]));
    }
    let on = stdout(url, &["on", "--all", "--message", "Bulk"]);
    for domain in [
        "default",
        "a.bulk.example",
        "b.bulk.example",
        "c.bulk.example",
    ] {
        assert!(on.contains(&format!("{domain}: maintenance on")), "{on}");
    }
    let status = all_sites(url);
    for s in status.as_array().expect("an array") {
        assert_eq!(s["state"], "on", "{s}");
        assert_eq!(s["message"], "Bulk", "{s}");
    }
    let log = json(&cli(url, &["log", "--json", "--limit", "4"]));
    let events = log.as_array().expect("an array");
    assert_eq!(events.len(), 4);
    assert!(events.iter().all(|e| e["action"] == "on"), "{log}");

    ok(&cli(
        url,
        &[
            "off",
            "--site",
            "a.bulk.example",
            "--site",
            "C.bulk.example",
        ],
    ));
    let status = all_sites(url);
    assert_eq!(site(&status, "a.bulk.example")["state"], "off");
    assert_eq!(site(&status, "b.bulk.example")["state"], "on");
    assert_eq!(site(&status, "c.bulk.example")["state"], "off");

    // An unknown site among several: nothing is written.
    let before = snapshot(url);
    let run = cli(
        url,
        &["off", "--site", "b.bulk.example", "--site", "nope.example"],
    );
    fails(&run, 1, &["unknown site `nope.example`"]);
    assert_eq!(snapshot(url), before);

    let on = stdout(url, &["sites", "list", "--state", "on"]);
    assert!(on.contains("b.bulk.example"), "{on}");
    assert!(!on.contains("a.bulk.example"), "{on}");
    assert!(on.contains("sites 1-2 of 2 (page 1 of 1)"), "{on}");
    let search = ["sites", "list", "--search", "bulk", "--per-page", "2"];
    let last = stdout(url, &[&search[..], &["--page", "2"]].concat());
    assert!(last.contains("c.bulk.example"), "{last}");
    assert!(last.contains("sites 3-3 of 3 (page 2 of 2)"), "{last}");
    let page = json(&cli(
        url,
        &[
            "sites",
            "list",
            "--json",
            "--state",
            "off",
            "--per-page",
            "1",
        ],
    ));
    assert_eq!(page["total"], 2, "{page}");
    assert_eq!(page["pages"], 2, "{page}");
    assert_eq!(page["sites"][0]["domain"], "a.bulk.example", "{page}");
}

/// `sites tag add|remove`, `sites list --tag`, and `--tag` on `on`, `off`, `status` and `run`.
fn tags_scenario(url: &str) {
    ok(&cli(url, &["migrate"]));
    for domain in ["a.tags.example", "b.tags.example", "c.tags.example"] {
        ok(&cli(url, &["sites", "add", domain]));
    }
    let out = stdout(
        url,
        &["sites", "tag", "add", "a.tags.example", "EU", "shop"],
    );
    assert!(out.contains("it carries: eu, shop"), "{out}");
    ok(&cli(url, &["sites", "tag", "add", "b.tags.example", "eu"]));
    ok(&cli(url, &["sites", "tag", "add", "c.tags.example", "us"]));
    let status = all_sites(url);
    assert_eq!(
        site(&status, "a.tags.example")["tags"],
        serde_json::json!(["eu", "shop"])
    );
    assert_eq!(site(&status, "default")["tags"], serde_json::json!([]));
    let text = stdout(url, &["status", "--site", "a.tags.example"]);
    assert!(text.contains("tags:        eu, shop"), "{text}");

    let list = stdout(url, &["sites", "list", "--tag", "eu"]);
    assert!(
        list.contains("a.tags.example") && list.contains("b.tags.example"),
        "{list}"
    );
    assert!(!list.contains("c.tags.example"), "{list}");
    assert!(list.contains("tags: eu, shop"), "{list}");
    assert!(list.contains("sites 1-2 of 2"), "{list}");

    // A tag and a site together: the union, in one transaction.
    let on = stdout(url, &["on", "--tag", "eu", "--site", "c.tags.example"]);
    for domain in ["a.tags.example", "b.tags.example", "c.tags.example"] {
        assert!(on.contains(&format!("{domain}: maintenance on")), "{on}");
    }
    assert!(!on.contains("default"), "{on}");
    let status = all_sites(url);
    assert_eq!(site(&status, "default")["state"], "off");
    let only_us = json(&cli(url, &["status", "--tag", "us", "--json"]));
    assert_eq!(only_us.as_array().map(Vec::len), Some(1), "{only_us}");
    ok(&cli(url, &["off", "--tag", "EU"]));
    let status = all_sites(url);
    assert_eq!(site(&status, "a.tags.example")["state"], "off");
    assert_eq!(site(&status, "c.tags.example")["state"], "on");

    // `run --tag`: on while the command runs, back off after.
    let run = ok(&cli(url, &["run", "--tag", "shop", "--", "true"]))
        .stderr
        .clone();
    assert!(run.contains("a.tags.example: maintenance on"), "{run}");
    assert_eq!(site(&all_sites(url), "a.tags.example")["state"], "off");

    // Refused, and nothing written.
    let before = snapshot(url);
    fails(
        &cli(url, &["on", "--tag", "nowhere"]),
        1,
        &["no site carries the tag `nowhere`"],
    );
    fails(
        &cli(url, &["off", "--tag", "eu", "--tag", "nowhere"]),
        1,
        &["`nowhere`"],
    );
    fails(
        &cli(url, &["status", "--tag", "nowhere"]),
        1,
        &["`nowhere`"],
    );
    fails(
        &cli(url, &["on", "--tag", "two words"]),
        2,
        &["invalid tag `two words`"],
    );
    fails(&cli(url, &["on", "--tag", "eu", "--all"]), 2, &["--all"]);
    fails(
        &cli(url, &["sites", "tag", "add", "a.tags.example", "bad/tag"]),
        2,
        &["invalid tag `bad/tag`"],
    );
    fails(
        &cli(url, &["sites", "tag", "remove", "a.tags.example", "us"]),
        1,
        &["tag `us` is not set on site `a.tags.example`"],
    );
    fails(
        &cli(url, &["sites", "tag", "add", "nope.example", "eu"]),
        1,
        &["unknown site `nope.example`"],
    );
    assert_eq!(snapshot(url), before);

    let out = stdout(
        url,
        &["sites", "tag", "remove", "a.tags.example", "shop", "eu"],
    );
    assert!(out.contains("it carries: no tag"), "{out}");
    let log = json(&cli(
        url,
        &["log", "--json", "--limit", "1", "--site", "a.tags.example"],
    ));
    assert_eq!(log[0]["action"], "tag.remove", "{log}");
    assert_eq!(log[0]["detail"], "eu shop", "{log}");
}

async fn run_on(backend: Backend, test: &str, scenario: fn(&str)) {
    let Some(db) = fresh_db(backend, test).await else {
        return;
    };
    let url = db.url.clone();
    tokio::task::spawn_blocking(move || scenario(&url))
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    drop(db);
}

maintenance_tests::multi_thread_tests! {
    commands_behave_as_documented_on_sqlite => run_on(Backend::Sqlite, "commands_behave_as_documented_on_sqlite", scenario);
    commands_behave_as_documented_on_postgres => run_on(Backend::Postgres, "commands_behave_as_documented_on_postgres", scenario);
    commands_behave_as_documented_on_mysql => run_on(Backend::MySql, "commands_behave_as_documented_on_mysql", scenario);
    bulk_changes_and_listings_on_sqlite => run_on(Backend::Sqlite, "bulk_changes_and_listings_on_sqlite", bulk_scenario);
    bulk_changes_and_listings_on_postgres => run_on(Backend::Postgres, "bulk_changes_and_listings_on_postgres", bulk_scenario);
    bulk_changes_and_listings_on_mysql => run_on(Backend::MySql, "bulk_changes_and_listings_on_mysql", bulk_scenario);
    tags_select_sites_on_sqlite => run_on(Backend::Sqlite, "tags_select_sites_on_sqlite", tags_scenario);
    tags_select_sites_on_postgres => run_on(Backend::Postgres, "tags_select_sites_on_postgres", tags_scenario);
    tags_select_sites_on_mysql => run_on(Backend::MySql, "tags_select_sites_on_mysql", tags_scenario);
}

#[test]
fn unreachable_database_is_named_without_its_password() {
    let timeout = [("MAINTENANCE_CONNECT_TIMEOUT", "2")];
    for url in [
        "postgres://maint:s3cret@127.0.0.1:1/nothing",
        "mysql://maint:s3cret@127.0.0.1:1/nothing",
    ] {
        let run = cli_env(url, &["status"], &timeout, &[]);
        let shown = format!("`{}`", url.replace("s3cret", "***"));
        fails(&run, 1, &[&shown]);
        assert!(!run.stderr.contains("s3cret"), "{run:#?}");
        assert!(!run.stdout.contains("s3cret"), "{run:#?}");
    }
    let (_dir, url) = temp_sqlite("missing-dir/m.db");
    let run = cli(&url, &["status"]);
    fails(&run, 1, &[&format!("could not connect to `{url}`")]);

    let run = cli("redis://u:s3cret@cache/0", &["status"]);
    fails(
        &run,
        2,
        &[
            "unsupported database URL `redis://u:***@cache/0`",
            "expected a URL starting with",
        ],
    );

    let run = cli_env(
        "postgres://127.0.0.1:1/x",
        &["status"],
        &[("MAINTENANCE_CONNECT_TIMEOUT", "soon")],
        &[],
    );
    fails(&run, 2, &["invalid MAINTENANCE_CONNECT_TIMEOUT=\"soon\""]);
}

/// Passwords holding a raw `/ ? # @ :` (which move a URL parser's idea of the host), or
/// percent-encodings, never reach stdout or stderr: not through `status`, `migrate`, the admin
/// page's start-up, nor `import-django` (which names the Django URL twice).
#[test]
fn database_passwords_never_print_whatever_they_hold() {
    let timeout = [("MAINTENANCE_CONNECT_TIMEOUT", "2")];
    let (_dir, ours) = migrated_sqlite();
    for secret in [
        "PWs3/cret",
        "PWs3?cret",
        "PWs3#cret",
        "PWs3@cret",
        "PWs3:cret",
        "PW/?#@:%",
        "PWs3%2Fcr%40t",
        "PW1234/cret",
    ] {
        for scheme in ["postgres", "mysql"] {
            for host in ["127.0.0.1:1", "db.invalid"] {
                let url = format!("{scheme}://app:{secret}@{host}/x");
                let runs = [
                    cli_env(&url, &["status"], &timeout, &[]),
                    cli_env(&url, &["migrate"], &timeout, &[]),
                    cli_env(
                        &ours,
                        &["import-django", "--from", &url, "--dry-run"],
                        &timeout,
                        &[],
                    ),
                ];
                for run in runs {
                    assert_ne!(run.code, 0, "{url}: {run:#?}");
                    for shown in [&run.stdout, &run.stderr] {
                        assert!(!shown.contains("PW"), "{url}: {run:#?}");
                        assert!(
                            !shown.contains("cret") && !shown.contains("cr%40t"),
                            "{url}: {run:#?}"
                        );
                    }
                }
            }
        }
    }
}

/// ESC, BEL, CR and the other controls in a site's name, message, patterns and descriptions
/// are printed escaped by `sites list`, `status`, `log` and the state lines; `--json` keeps
/// them as JSON escapes.
#[test]
fn control_characters_in_stored_text_are_escaped() {
    let (_dir, url) = migrated_sqlite();
    let name = "Shop\u{1b}]0;pwned\u{7}\r";
    let message = "down\u{1b}[2J\u{1b}[1;1H\u{7}\u{9b}";
    let mut runs = vec![
        ok(&cli(
            &url,
            &["sites", "add", "shop.example", "--name", name],
        ))
        .clone(),
        ok(&cli(
            &url,
            &[
                "on",
                "--site",
                "shop.example",
                "--message",
                message,
                "--only",
                "^x\u{1b}",
            ],
        ))
        .clone(),
        ok(&cli(
            &url,
            &[
                "ignore",
                "add",
                "--site",
                "shop.example",
                "^health\u{7}",
                "--description",
                "probes\u{1b}[8m",
            ],
        ))
        .clone(),
    ];
    for args in [
        &["sites", "list"][..],
        &["status"],
        &["status", "--site", "shop.example"],
        &["log"],
        &["ignore", "list", "--site", "shop.example"],
    ] {
        runs.push(ok(&cli(&url, args)).clone());
    }
    runs.push(cli(&url, &["status", "--site", "shop.exampl\u{1b}"]));
    for run in &runs {
        for shown in [&run.stdout, &run.stderr] {
            assert!(
                !shown.contains(['\u{1b}', '\u{7}', '\r', '\u{9b}']),
                "a raw control character reached the terminal: {run:#?}"
            );
        }
    }
    let status = &runs[4].stdout;
    assert!(
        status.contains("Shop\\u{1b}]0;pwned\\u{7}\\u{d}"),
        "{status}"
    );
    assert!(status.contains("down\\u{1b}[2J"), "{status}");
    let log = &runs[6].stdout;
    assert!(log.contains("\\u{1b}[2J"), "{log}");
    let json: Value = serde_json::from_str(
        &ok(&cli(&url, &["status", "--json", "--site", "shop.example"])).stdout,
    )
    .unwrap();
    assert_eq!(json["message"], message);
    assert_eq!(json["name"], name);
}

/// An unknown `--site` among many sites names a few close ones and counts the rest, instead
/// of listing every domain.
#[test]
fn an_unknown_site_among_many_gets_a_short_error() {
    let (_dir, url) = migrated_sqlite();
    for i in 0..40 {
        ok(&cli(&url, &["sites", "add", &format!("shop{i}.example")]));
    }
    let run = cli(&url, &["on", "--site", "shop7.exmple"]);
    fails(
        &run,
        1,
        &[
            "unknown site `shop7.exmple`",
            "of the 41 sites; the closest: shop7.example",
            "and 36 more",
        ],
    );
    assert!(run.stderr.matches(".example").count() <= 5, "{run:#?}");
}

#[test]
fn missing_tables_say_to_migrate() {
    let (_dir, url) = temp_sqlite("m.db");
    fails(
        &cli(&url, &["status"]),
        1,
        &["run `maintenance migrate` first"],
    );
}

#[test]
fn database_url_comes_from_the_flag_then_the_environment() {
    let (dir, url) = temp_sqlite("env.db");
    let mut cmd = std::process::Command::new(common::BIN);
    let out = cmd
        .args(["migrate"])
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains(&url));
    // The default is sqlite://maintenance.db in the working directory.
    let out = std::process::Command::new(common::BIN)
        .args(["migrate"])
        .env_remove("DATABASE_URL")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(dir.path().join("maintenance.db").exists());
}

#[test]
fn actor_is_the_flag_then_user_then_unknown() {
    let (_dir, url) = migrated_sqlite();
    ok(&cli_env(&url, &["on"], &[("USER", "carol")], &[]));
    ok(&cli_env(&url, &["off"], &[], &["USER"]));
    ok(&cli(&url, &["--actor", "dave", "on"]));
    let log = json(&cli(&url, &["log", "--json"]));
    let actors: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["actor"].as_str())
        .collect();
    assert_eq!(actors, ["dave", "unknown", "carol"]);
}

#[test]
fn help_lists_every_command() {
    let run = cli("sqlite::memory:", &["--help"]);
    assert_eq!(run.code, 0, "{run:#?}");
    for command in [
        "migrate", "status", "on", "off", "sites", "ignore", "allow", "bypass", "log", "admin",
    ] {
        assert!(run.stdout.contains(command), "{command} in {}", run.stdout);
    }
    let run = cli("sqlite::memory:", &["on", "--help"]);
    for flag in [
        "--site",
        "--all",
        "--message",
        "--for",
        "--until",
        "--from",
        "--retry-after",
        "--read-only",
    ] {
        assert!(run.stdout.contains(flag), "{flag} in {}", run.stdout);
    }
}

#[test]
fn database_names_are_replaced() {
    use common::with_database;
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/test", "mt_1"),
        "postgres://postgres@127.0.0.1:5432/mt_1"
    );
    assert_eq!(
        with_database("mysql://root@127.0.0.1:3306", "mt_1"),
        "mysql://root@127.0.0.1:3306/mt_1"
    );
    assert_eq!(
        with_database("postgres://u:p@h/db?sslmode=disable", "mt_2"),
        "postgres://u:p@h/mt_2?sslmode=disable"
    );
}

#[test]
fn short_admin_token_from_the_environment_is_refused_without_showing_it() {
    let run = cli_env(
        "sqlite::memory:",
        &["admin", "--listen", "127.0.0.1:0"],
        &[("MAINTENANCE_ADMIN_TOKEN", "hunter2-hunter2")],
        &[],
    );
    fails(
        &run,
        2,
        &[
            "refusing an admin token of 15 characters",
            "MAINTENANCE_ADMIN_TOKEN",
            "openssl rand -hex 32",
            "head -c 32 /dev/urandom | base64",
        ],
    );
    assert!(!run.stderr.contains("hunter2"), "{run:#?}");
    assert!(!run.stdout.contains("Admin page on"), "{run:#?}");
}

#[test]
fn public_origins_from_the_environment_are_checked_at_start_up() {
    let run = cli_env(
        "sqlite::memory:",
        &["admin", "--listen", "127.0.0.1:0"],
        &[
            (
                "MAINTENANCE_ADMIN_TOKEN",
                "0123456789abcdef0123456789abcdef",
            ),
            (
                "MAINTENANCE_ADMIN_PUBLIC_ORIGIN",
                "https://ops.example.com, http://ops.example.com:8o8o",
            ),
        ],
        &[],
    );
    fails(
        &run,
        2,
        &["invalid public origin `http://ops.example.com:8o8o`: invalid port `8o8o`"],
    );
    assert!(!run.stdout.contains("Admin page on"), "{run:#?}");
}
