//! For tests against a real nats-server: its URL from the environment, and bucket names no
//! other test uses.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// The variable that holds the shared test server's URL (JetStream on).
pub const NATS_URL_VAR: &str = "MAINTENANCE_TEST_NATS_URL";

/// The shared test server's URL from [`NATS_URL_VAR`], or `None` after printing that `test` is
/// skipped. Panics when the variable is unset and `CI` is set: CI runs every test.
pub fn nats_url(test: &str) -> Option<String> {
    match std::env::var(NATS_URL_VAR) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "{test}: {NATS_URL_VAR} is not set, and CI runs every test"
            );
            eprintln!("skipped {test}: {NATS_URL_VAR} is not set");
            None
        }
    }
}

/// A bucket name for `test` that no other test, process or run uses.
pub fn unique_bucket(test: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let stem: String = test
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(30)
        .collect();
    format!(
        "t_{stem}_{}_{}_{}",
        std::process::id(),
        chrono::Utc::now().timestamp_micros() % 1_000_000_000,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Deletes `bucket` (best effort): tests clean up after themselves.
pub async fn drop_bucket(url: &str, bucket: &str) {
    if let Ok(client) = async_nats::connect(url).await {
        let _ = async_nats::jetstream::new(client)
            .delete_key_value(bucket)
            .await;
    }
}

/// A nats-server of the test's own, on a free port, with its store in `dir`.
pub struct OwnServer {
    child: Child,
    port: u16,
}

/// The nats-server binary: `MAINTENANCE_TEST_NATS_SERVER`, or `nats-server` on the `PATH`.
pub fn nats_server_binary() -> String {
    std::env::var("MAINTENANCE_TEST_NATS_SERVER").unwrap_or_else(|_| "nats-server".into())
}

impl OwnServer {
    /// Starts one on `port` (a free one if `None`), with JetStream storing in `jetstream` if
    /// given; waits until it listens.
    pub fn start(port: Option<u16>, jetstream: Option<&Path>) -> OwnServer {
        let port = port.unwrap_or_else(|| {
            TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port()
        });
        let mut cmd = Command::new(nats_server_binary());
        cmd.args(["-a", "127.0.0.1", "-p", &port.to_string()]);
        if let Some(dir) = jetstream {
            cmd.arg("-js").arg("-sd").arg(dir);
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server runs (set MAINTENANCE_TEST_NATS_SERVER to its path)");
        let server = OwnServer { child, port };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return server;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("nats-server did not listen on {port}");
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Stops it (killed, as a crash would) and returns its port, to start it again there.
    pub fn stop(mut self) -> u16 {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.port
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
