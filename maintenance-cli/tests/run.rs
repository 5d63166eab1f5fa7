//! `maintenance run -- CMD` against a running test project, on SQLite, PostgreSQL and MariaDB:
//! on while CMD runs; back to the previous state when it succeeds; left on, with CMD's exit
//! code and a `run.failed` event, when it fails; left on when `run` is interrupted (the signal
//! passed on to CMD); nothing changed when CMD cannot be started.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::{BIN, Backend, cli_async, fresh_db, ok, start_test_project, wait_for_status};

/// A `maintenance run` in progress, whose command waits for the test's go-ahead.
struct Running {
    child: tokio::process::Child,
}

/// The command `run` runs: marks that it started, waits for `go` (or a SIGTERM, which it
/// marks), then exits with `code`.
fn script(dir: &Path, code: i32) -> Vec<String> {
    let d = dir.display();
    vec![
        "sh".into(),
        "-c".into(),
        format!(
            "trap 'echo term > {d}/term; exit 0' TERM; touch {d}/started; \
             while [ ! -e {d}/go ]; do sleep 0.05; done; exit {code}"
        ),
    ]
}

async fn start_run(url: &str, options: &[&str], command: &[String]) -> Running {
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.arg("--database-url")
        .arg(url)
        .arg("run")
        .args(options)
        .arg("--")
        .args(command)
        .env("USER", "tester")
        .env_remove("DATABASE_URL")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    Running {
        child: cmd.spawn().expect("start maintenance run"),
    }
}

async fn wait_for_file(path: &Path) {
    for _ in 0..400 {
        if path.exists() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{} never appeared", path.display());
}

impl Running {
    /// Waits for `run` to end: its exit code and its stderr.
    async fn finish(self) -> (i32, String) {
        let out = tokio::time::timeout(Duration::from_secs(20), self.child.wait_with_output())
            .await
            .expect("run ends")
            .expect("run's output");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

async fn body(http: &reqwest::Client, url: &str) -> (u16, Option<String>, String) {
    let res = http.get(url).send().await.expect("get");
    let status = res.status().as_u16();
    let retry = res
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap_or("").to_owned());
    (status, retry, res.text().await.unwrap_or_default())
}

async fn last_event(url: &str) -> String {
    ok(&cli_async(url, &["log", "--limit", "1"]).await)
        .stdout
        .clone()
}

async fn scenario(backend: Backend, test: &str) {
    let Some(db) = fresh_db(backend, test).await else {
        return;
    };
    ok(&cli_async(&db.url, &["migrate"]).await);
    let app = start_test_project(&db.url).await;
    let home = format!("{app}/");
    let http = reqwest::Client::new();
    wait_for_status(&http, &home, 200).await;

    // 1. Success from off: on while the command runs, off again after.
    let dir = tempfile::tempdir().expect("temp dir");
    let run = start_run(&db.url, &["--message", "Migrating"], &script(dir.path(), 0)).await;
    wait_for_file(&dir.path().join("started")).await;
    wait_for_status(&http, &home, 503).await;
    assert!(body(&http, &home).await.2.contains("Migrating"));
    std::fs::write(dir.path().join("go"), "").expect("go");
    let (code, stderr) = run.finish().await;
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("maintenance off (as before `run`)"),
        "{stderr}"
    );
    wait_for_status(&http, &home, 200).await;

    // 2. Success from on with its own message and Retry-After: exactly that state again.
    ok(&cli_async(
        &db.url,
        &["on", "--message", "Old notice", "--retry-after", "30"],
    )
    .await);
    wait_for_status(&http, &home, 503).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let run = start_run(
        &db.url,
        &["--message", "Migrating", "--retry-after", "600"],
        &script(dir.path(), 0),
    )
    .await;
    wait_for_file(&dir.path().join("started")).await;
    let mut during = body(&http, &home).await;
    for _ in 0..200 {
        if during.2.contains("Migrating") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        during = body(&http, &home).await;
    }
    assert_eq!((during.0, during.1.as_deref()), (503, Some("600")));
    std::fs::write(dir.path().join("go"), "").expect("go");
    let (code, stderr) = run.finish().await;
    assert_eq!(code, 0, "{stderr}");
    let mut after = body(&http, &home).await;
    for _ in 0..200 {
        if after.2.contains("Old notice") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        after = body(&http, &home).await;
    }
    assert_eq!(
        (after.0, after.1.as_deref()),
        (503, Some("30")),
        "{}",
        after.2
    );
    let status = ok(&cli_async(&db.url, &["status", "--json", "--site", "default"]).await)
        .stdout
        .clone();
    let status: serde_json::Value = serde_json::from_str(&status).expect("json");
    assert_eq!(status["message"], "Old notice");
    assert_eq!(status["retry_after_secs"], 30);
    ok(&cli_async(&db.url, &["off"]).await);
    wait_for_status(&http, &home, 200).await;

    // 3. The command fails: maintenance stays on, `run` exits with its code, the log says so.
    let dir = tempfile::tempdir().expect("temp dir");
    let run = start_run(&db.url, &["--message", "Migrating"], &script(dir.path(), 3)).await;
    wait_for_file(&dir.path().join("started")).await;
    std::fs::write(dir.path().join("go"), "").expect("go");
    let (code, stderr) = run.finish().await;
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains("failed (exit code 3); maintenance stays on"),
        "{stderr}"
    );
    wait_for_status(&http, &home, 503).await;
    assert!(body(&http, &home).await.2.contains("Migrating"));
    let event = last_event(&db.url).await;
    assert!(
        event.contains("run.failed") && event.contains("exit code 3"),
        "{event}"
    );
    ok(&cli_async(&db.url, &["off"]).await);
    wait_for_status(&http, &home, 200).await;

    // 4. `run` gets SIGTERM: the command gets it too, maintenance stays on, exit 128 + 15.
    let dir = tempfile::tempdir().expect("temp dir");
    let run = start_run(&db.url, &[], &script(dir.path(), 0)).await;
    wait_for_file(&dir.path().join("started")).await;
    wait_for_status(&http, &home, 503).await;
    let pid = run.child.id().expect("run's pid");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(pid).expect("pid")),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("signal run");
    let (code, stderr) = run.finish().await;
    assert_eq!(code, 143, "{stderr}");
    assert!(
        dir.path().join("term").exists(),
        "the command got the signal: {stderr}"
    );
    assert_eq!(body(&http, &home).await.0, 503, "maintenance stays on");
    let event = last_event(&db.url).await;
    assert!(
        event.contains("run.failed") && event.contains("interrupted by SIGTERM"),
        "{event}"
    );
    ok(&cli_async(&db.url, &["off"]).await);
    wait_for_status(&http, &home, 200).await;

    // 5. The command cannot be started: nothing changes, not even the log.
    let before = last_event(&db.url).await;
    let missing = cli_async(&db.url, &["run", "--", "/nonexistent/migrate"]).await;
    assert_eq!(missing.code, 1, "{missing:#?}");
    assert!(
        missing.stderr.contains("cannot run `/nonexistent/migrate`")
            && missing.stderr.contains("nothing was changed"),
        "{missing:#?}"
    );
    assert_eq!(last_event(&db.url).await, before);
    assert_eq!(body(&http, &home).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_around_a_command_on_sqlite() {
    scenario(Backend::Sqlite, "run_sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_around_a_command_on_postgres() {
    scenario(Backend::Postgres, "run_postgres").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_around_a_command_on_mysql() {
    scenario(Backend::MySql, "run_mysql").await;
}

/// The default site's state as `status --json` gives it.
async fn default_status(url: &str) -> serde_json::Value {
    let out = ok(&cli_async(url, &["status", "--json", "--site", "default"]).await)
        .stdout
        .clone();
    serde_json::from_str(&out).expect("json")
}

async fn migrated(backend: Backend, test: &str) -> Option<common::TestDb> {
    let db = fresh_db(backend, test).await?;
    ok(&cli_async(&db.url, &["migrate"]).await);
    Some(db)
}

/// Another operator's `on --message "keep it down"` while CMD runs stays after CMD succeeds:
/// `run` leaves the site, says so, and records `run.kept`.
async fn keeps_a_change_made_meanwhile(backend: Backend, test: &str) {
    let Some(db) = migrated(backend, test).await else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let run = start_run(&db.url, &["--message", "Migrating"], &script(dir.path(), 0)).await;
    wait_for_file(&dir.path().join("started")).await;
    assert_eq!(default_status(&db.url).await["message"], "Migrating");
    let bob = common::cli_env(
        &db.url,
        &["--actor", "bob", "on", "--message", "keep it down"],
        &[],
        &[],
    );
    ok(&bob);
    std::fs::write(dir.path().join("go"), "").expect("go");
    let (code, stderr) = run.finish().await;
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("changed by bob while it ran") && stderr.contains("left as it is"),
        "{stderr}"
    );
    let status = default_status(&db.url).await;
    assert_eq!(status["state"], "on", "{status}");
    assert_eq!(status["message"], "keep it down", "{status}");
    assert_eq!(status["updated_by"], "bob", "{status}");
    let event = last_event(&db.url).await;
    assert!(
        event.contains("run.kept") && event.contains("changed by bob"),
        "{event}"
    );

    // Nobody else wrote: the site goes back as before, as always.
    ok(&cli_async(&db.url, &["off"]).await);
    let dir = tempfile::tempdir().expect("temp dir");
    let run = start_run(&db.url, &["--message", "Migrating"], &script(dir.path(), 0)).await;
    wait_for_file(&dir.path().join("started")).await;
    std::fs::write(dir.path().join("go"), "").expect("go");
    let (code, stderr) = run.finish().await;
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("maintenance off (as before `run`)"),
        "{stderr}"
    );
    assert_eq!(default_status(&db.url).await["state"], "off");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_keeps_a_change_made_meanwhile_on_sqlite() {
    keeps_a_change_made_meanwhile(Backend::Sqlite, "run_kept_sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_keeps_a_change_made_meanwhile_on_postgres() {
    keeps_a_change_made_meanwhile(Backend::Postgres, "run_kept_postgres").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_keeps_a_change_made_meanwhile_on_mysql() {
    keeps_a_change_made_meanwhile(Backend::MySql, "run_kept_mysql").await;
}

/// SIGHUP (the terminal closed) is handled like SIGTERM: passed on to CMD, maintenance stays
/// on, a `run.failed` event, exit 128 + 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_is_handled_like_sigterm() {
    let Some(db) = migrated(Backend::Sqlite, "run_sighup").await else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path().display();
    let command: Vec<String> = vec![
        "sh".into(),
        "-c".into(),
        format!(
            "trap 'echo hup > {d}/hup; exit 0' HUP; touch {d}/started; \
             while [ ! -e {d}/go ]; do sleep 0.05; done"
        ),
    ];
    let run = start_run(&db.url, &[], &command).await;
    wait_for_file(&dir.path().join("started")).await;
    let pid = run.child.id().expect("run's pid");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(pid).expect("pid")),
        nix::sys::signal::Signal::SIGHUP,
    )
    .expect("signal run");
    let (code, stderr) = run.finish().await;
    assert_eq!(code, 129, "{stderr}");
    assert!(
        dir.path().join("hup").exists(),
        "the command got the signal: {stderr}"
    );
    assert_eq!(default_status(&db.url).await["state"], "on");
    let event = last_event(&db.url).await;
    assert!(
        event.contains("run.failed") && event.contains("interrupted by SIGHUP"),
        "{event}"
    );
}

/// `run.failed` records the program and its exit code with the credentials of its arguments
/// masked: `log --json` (and the admin page, which reads the same rows) never holds them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_failed_keeps_no_credentials() {
    let Some(db) = migrated(Backend::Sqlite, "run_secret").await else {
        return;
    };
    let command: Vec<String> = [
        "sh",
        "-c",
        "exit 3",
        "postgres://app:hunter2@db/x",
        "PGPASSWORD=hunter2",
        "--password",
        "hunter2",
    ]
    .map(str::to_owned)
    .to_vec();
    let run = start_run(&db.url, &[], &command).await;
    let (code, stderr) = run.finish().await;
    assert_eq!(code, 3, "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
    let log = ok(&cli_async(&db.url, &["log", "--json"]).await)
        .stdout
        .clone();
    assert!(!log.contains("hunter2"), "{log}");
    assert!(
        log.contains("run.failed")
            && log.contains("exit code 3")
            && log.contains("postgres://app:***@db/x"),
        "{log}"
    );
}
