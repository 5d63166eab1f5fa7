//! For tests against a real nats-server: its URL from the environment, and bucket names no
//! other test uses.

use std::sync::atomic::{AtomicU32, Ordering};

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
