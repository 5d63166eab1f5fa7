//! The test projects never print a database password, whatever it holds: each binary is
//! started against databases it cannot use (a URL that does not parse once a raw `/ ? # @` is
//! in the password, a server that does not answer) and everything it prints in its first
//! seconds (start-up lines, warnings, the error it stops with) is searched for the password.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Passwords holding every character that moves a URL's parts, raw and percent-encoded.
const PASSWORDS: [&str; 6] = [
    "PWs3/cret",
    "PWa?b#c",
    "PWx@y:z",
    "PW%2F%40%3A",
    "PW/?#@:%",
    "PWqz7kx",
];

fn binaries() -> [(&'static str, &'static str); 4] {
    [
        ("testproject-axum", env!("CARGO_BIN_EXE_testproject-axum")),
        ("testproject-actix", env!("CARGO_BIN_EXE_testproject-actix")),
        (
            "testproject-rocket",
            env!("CARGO_BIN_EXE_testproject-rocket"),
        ),
        ("custom-hyper", env!("CARGO_BIN_EXE_custom-hyper")),
    ]
}

/// What `binary` prints (stdout and stderr) within `limit`, or until it exits.
fn output_of(binary: &str, database_url: &str, limit: Duration) -> String {
    let mut child = Command::new(binary)
        .env("DATABASE_URL", database_url)
        .env("BIND", "127.0.0.1:0")
        .env("RUST_LOG", "debug")
        .env_remove("MAINTENANCE_STORE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {binary}: {e}"));
    let start = Instant::now();
    while start.elapsed() < limit {
        if child.try_wait().ok().flatten().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    let mut text = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut text);
    }
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_string(&mut text);
    }
    text
}

#[test]
fn test_projects_never_print_a_database_password() {
    let mut runs = Vec::new();
    for (name, binary) in binaries() {
        for password in PASSWORDS {
            for scheme in ["postgres", "mysql"] {
                let url = format!("{scheme}://app:{password}@127.0.0.1:1/x");
                runs.push(std::thread::spawn(move || {
                    let text = output_of(binary, &url, Duration::from_millis(2500));
                    (name, url, password, text)
                }));
            }
        }
    }
    let mut printed_urls = 0;
    for run in runs {
        let (name, url, password, text) = run.join().expect("a run");
        // The password's tail too: a mask that kept part of it would still leak.
        let tail = &password[2..];
        assert!(
            !text.contains("PW") && !text.contains(tail),
            "{name} with {url} printed its password:\n{text}"
        );
        printed_urls += text.matches("app:***@").count() + text.matches("://***@").count();
    }
    // The URLs that cannot be parsed stop the servers with an error that names the database:
    // the search above saw masked URLs, not just silence.
    assert!(printed_urls > 0, "no run printed a masked URL");
}
