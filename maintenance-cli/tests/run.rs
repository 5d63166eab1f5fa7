//! `maintenance run -- CMD` against a running test project, on SQLite, PostgreSQL and MariaDB:
//! on while CMD runs; back to the previous state when it succeeds; left on, with CMD's exit
//! code and a `run.failed` event, when it fails; left on when `run` is interrupted (the signal
//! passed on to CMD); nothing changed when CMD cannot be started.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::{
    BIN, Backend, TestDb, cli_async, cli_ok, fails, fresh_db, start_test_project, wait_for_status,
};
use nix::sys::signal::Signal;
use tokio::io::AsyncReadExt;

/// A `maintenance run` in progress, its command working in a directory of its own.
struct Running {
    child: tokio::process::Child,
    /// Where the command marks that it started or got a signal, and waits for `go`.
    dir: tempfile::TempDir,
}

/// The command `run` runs: marks that it started, waits for `go` (or a SIGTERM or SIGHUP,
/// which it marks), then exits with `code`.
fn script(dir: &Path, code: i32) -> Vec<String> {
    let d = dir.display();
    vec![
        "sh".into(),
        "-c".into(),
        format!(
            "trap 'echo term > {d}/term; exit 0' TERM; trap 'echo hup > {d}/hup; exit 0' HUP; \
             touch {d}/started; while [ ! -e {d}/go ]; do sleep 0.05; done; exit {code}"
        ),
    ]
}

impl Running {
    /// Starts `maintenance run OPTIONS -- COMMAND`, with COMMAND made for the run's directory.
    fn start(url: &str, options: &[&str], command: impl FnOnce(&Path) -> Vec<String>) -> Running {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut cmd = tokio::process::Command::new(BIN);
        cmd.arg("--database-url")
            .arg(url)
            .arg("run")
            .args(options)
            .arg("--")
            .args(command(dir.path()))
            .env("USER", "tester")
            .env_remove("DATABASE_URL")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        Running {
            child: cmd.spawn().expect("start maintenance run"),
            dir,
        }
    }

    /// Starts `run` with `options` around [`script`] exiting with `code`, and waits until the
    /// script has started.
    async fn started(url: &str, options: &[&str], code: i32) -> Running {
        let run = Running::start(url, options, |dir| script(dir, code));
        run.wait_for("started").await;
        run
    }

    /// Whether the command has made the file `name` in its directory.
    fn marked(&self, name: &str) -> bool {
        self.dir.path().join(name).exists()
    }

    async fn wait_for(&self, name: &str) {
        for _ in 0..400 {
            if self.marked(name) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("{} never appeared", self.dir.path().join(name).display());
    }

    /// Sends `signal` to `run` itself.
    fn signal(&self, signal: Signal) {
        let pid = self.child.id().expect("run's pid");
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(i32::try_from(pid).expect("pid")),
            signal,
        )
        .expect("signal run");
    }

    /// Lets [`script`] end, then as [`Running::finish`].
    async fn go(&mut self, code: i32) -> String {
        std::fs::write(self.dir.path().join("go"), "").expect("go");
        self.finish(code).await
    }

    /// Waits for `run` to end and expects it to exit with `code`: its stderr.
    async fn finish(&mut self, code: i32) -> String {
        let mut pipe = self.child.stderr.take().expect("run's stderr");
        let mut stderr = String::new();
        let (status, read) = tokio::time::timeout(Duration::from_secs(20), async {
            tokio::join!(self.child.wait(), pipe.read_to_string(&mut stderr))
        })
        .await
        .expect("run ends");
        read.expect("run's stderr");
        let status = status.expect("run's exit status");
        assert_eq!(status.code().unwrap_or(-1), code, "{stderr}");
        stderr
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

/// [`body`], again until the body holds `text` (for at most 10 s).
async fn body_with(http: &reqwest::Client, url: &str, text: &str) -> (u16, Option<String>, String) {
    let mut answer = body(http, url).await;
    for _ in 0..200 {
        if answer.2.contains(text) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        answer = body(http, url).await;
    }
    answer
}

async fn last_event(url: &str) -> String {
    cli_ok(url, &["log", "--limit", "1"]).await.stdout
}

/// Asserts that the audit log's last event is an `action` whose line holds `detail`.
async fn assert_last_event(url: &str, action: &str, detail: &str) {
    let event = last_event(url).await;
    assert!(
        event.contains(action) && event.contains(detail),
        "{action} with {detail:?}: {event}"
    );
}

/// The default site's state as `status --json` gives it.
async fn default_status(url: &str) -> serde_json::Value {
    let out = cli_ok(url, &["status", "--json", "--site", "default"]).await;
    serde_json::from_str(&out.stdout).expect("json")
}

async fn migrated(backend: Backend, test: &str) -> Option<TestDb> {
    let db = fresh_db(backend, test).await?;
    cli_ok(&db.url, &["migrate"]).await;
    Some(db)
}

async fn scenario(backend: Backend, test: &str) {
    let Some(db) = migrated(backend, test).await else {
        return;
    };
    let app = start_test_project(&db.url).await;
    let (http, home) = (&app.http, app.home.as_str());

    // 1. Success from off: on while the command runs, off again after.
    let mut run = Running::started(&db.url, &["--message", "Migrating"], 0).await;
    wait_for_status(http, home, 503).await;
    assert!(body(http, home).await.2.contains("Migrating"));
    let stderr = run.go(0).await;
    assert!(
        stderr.contains("maintenance off (as before `run`)"),
        "{stderr}"
    );
    wait_for_status(http, home, 200).await;

    // 2. Success from on with its own message and Retry-After: exactly that state again.
    cli_ok(
        &db.url,
        &["on", "--message", "Old notice", "--retry-after", "30"],
    )
    .await;
    wait_for_status(http, home, 503).await;
    let options = ["--message", "Migrating", "--retry-after", "600"];
    let mut run = Running::started(&db.url, &options, 0).await;
    let during = body_with(http, home, "Migrating").await;
    assert_eq!((during.0, during.1.as_deref()), (503, Some("600")));
    run.go(0).await;
    let after = body_with(http, home, "Old notice").await;
    assert_eq!(
        (after.0, after.1.as_deref()),
        (503, Some("30")),
        "{}",
        after.2
    );
    let status = default_status(&db.url).await;
    assert_eq!(status["message"], "Old notice");
    assert_eq!(status["retry_after_secs"], 30);
    cli_ok(&db.url, &["off"]).await;
    wait_for_status(http, home, 200).await;

    // 3. The command fails: maintenance stays on, `run` exits with its code, the log says so.
    let mut run = Running::started(&db.url, &["--message", "Migrating"], 3).await;
    let stderr = run.go(3).await;
    assert!(
        stderr.contains("failed (exit code 3); maintenance stays on"),
        "{stderr}"
    );
    wait_for_status(http, home, 503).await;
    assert!(body(http, home).await.2.contains("Migrating"));
    assert_last_event(&db.url, "run.failed", "exit code 3").await;
    cli_ok(&db.url, &["off"]).await;
    wait_for_status(http, home, 200).await;

    // 4. `run` gets SIGTERM: the command gets it too, maintenance stays on, exit 128 + 15.
    let mut run = Running::started(&db.url, &[], 0).await;
    wait_for_status(http, home, 503).await;
    run.signal(Signal::SIGTERM);
    let stderr = run.finish(143).await;
    assert!(run.marked("term"), "the command got the signal: {stderr}");
    assert_eq!(body(http, home).await.0, 503, "maintenance stays on");
    assert_last_event(&db.url, "run.failed", "interrupted by SIGTERM").await;
    cli_ok(&db.url, &["off"]).await;
    wait_for_status(http, home, 200).await;

    // 5. The command cannot be started: nothing changes, not even the log.
    let before = last_event(&db.url).await;
    let missing = cli_async(&db.url, &["run", "--", "/nonexistent/migrate"]).await;
    fails(
        &missing,
        1,
        &["cannot run `/nonexistent/migrate`", "nothing was changed"],
    );
    assert_eq!(last_event(&db.url).await, before);
    assert_eq!(body(http, home).await.0, 200);
}

/// Another operator's `on --message "keep it down"` while CMD runs stays after CMD succeeds:
/// `run` leaves the site, says so, and records `run.kept`.
async fn keeps_a_change_made_meanwhile(backend: Backend, test: &str) {
    let Some(db) = migrated(backend, test).await else {
        return;
    };
    let mut run = Running::started(&db.url, &["--message", "Migrating"], 0).await;
    assert_eq!(default_status(&db.url).await["message"], "Migrating");
    cli_ok(
        &db.url,
        &["--actor", "bob", "on", "--message", "keep it down"],
    )
    .await;
    let stderr = run.go(0).await;
    assert!(
        stderr.contains("changed by bob while it ran") && stderr.contains("left as it is"),
        "{stderr}"
    );
    let status = default_status(&db.url).await;
    assert_eq!(status["state"], "on", "{status}");
    assert_eq!(status["message"], "keep it down", "{status}");
    assert_eq!(status["updated_by"], "bob", "{status}");
    assert_last_event(&db.url, "run.kept", "changed by bob").await;

    // Nobody else wrote: the site goes back as before, as always.
    cli_ok(&db.url, &["off"]).await;
    let mut run = Running::started(&db.url, &["--message", "Migrating"], 0).await;
    let stderr = run.go(0).await;
    assert!(
        stderr.contains("maintenance off (as before `run`)"),
        "{stderr}"
    );
    assert_eq!(default_status(&db.url).await["state"], "off");
}

maintenance_tests::multi_thread_tests! {
    run_around_a_command_on_sqlite => scenario(Backend::Sqlite, "run_sqlite");
    run_around_a_command_on_postgres => scenario(Backend::Postgres, "run_postgres");
    run_around_a_command_on_mysql => scenario(Backend::MySql, "run_mysql");
    run_keeps_a_change_made_meanwhile_on_sqlite => keeps_a_change_made_meanwhile(Backend::Sqlite, "run_kept_sqlite");
    run_keeps_a_change_made_meanwhile_on_postgres => keeps_a_change_made_meanwhile(Backend::Postgres, "run_kept_postgres");
    run_keeps_a_change_made_meanwhile_on_mysql => keeps_a_change_made_meanwhile(Backend::MySql, "run_kept_mysql");
}

/// SIGHUP (the terminal closed) is handled like SIGTERM: passed on to CMD, maintenance stays
/// on, a `run.failed` event, exit 128 + 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_is_handled_like_sigterm() {
    let Some(db) = migrated(Backend::Sqlite, "run_sighup").await else {
        return;
    };
    let mut run = Running::started(&db.url, &[], 0).await;
    run.signal(Signal::SIGHUP);
    let stderr = run.finish(129).await;
    assert!(run.marked("hup"), "the command got the signal: {stderr}");
    assert_eq!(default_status(&db.url).await["state"], "on");
    assert_last_event(&db.url, "run.failed", "interrupted by SIGHUP").await;
}

/// `run.failed` records the program and its exit code with the credentials of its arguments
/// masked: `log --json` (and the admin page, which reads the same rows) never holds them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_failed_keeps_no_credentials() {
    let Some(db) = migrated(Backend::Sqlite, "run_secret").await else {
        return;
    };
    let command = [
        "sh",
        "-c",
        "exit 3",
        "postgres://app:hunter2@db/x",
        "PGPASSWORD=hunter2",
        "--password",
        "hunter2",
    ];
    let mut run = Running::start(&db.url, &[], |_| command.map(str::to_owned).to_vec());
    let stderr = run.finish(3).await;
    assert!(!stderr.contains("hunter2"), "{stderr}");
    let log = cli_ok(&db.url, &["log", "--json"]).await.stdout;
    assert!(!log.contains("hunter2"), "{log}");
    assert!(
        log.contains("run.failed")
            && log.contains("exit code 3")
            && log.contains("postgres://app:***@db/x"),
        "{log}"
    );
}
