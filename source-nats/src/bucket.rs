//! Reaching NATS and the bucket: checking what the user gave, the client's options, opening
//! (or creating) the bucket with errors that say what to fix.

use std::time::Duration;

use async_nats::jetstream::{self, kv};

use crate::backoff::reconnect_delay;
use crate::error::Error;

/// The bucket used when none is named.
pub const DEFAULT_BUCKET: &str = "maintenance";

/// Checks a NATS URL (or a comma-separated list of them) before anything connects.
pub(crate) fn check_url(url: &str) -> Result<(), Error> {
    let refuse = |source: Box<dyn std::error::Error + Send + Sync>| Error::Url {
        url: url.to_owned(),
        source,
    };
    if url.trim().is_empty() {
        return Err(refuse("it is empty".into()));
    }
    for one in url.split(',') {
        let addr: async_nats::ServerAddr = one.trim().parse().map_err(|e| refuse(Box::new(e)))?;
        if addr.host().is_empty() {
            return Err(refuse("it names no host".into()));
        }
    }
    Ok(())
}

/// Checks a bucket name as JetStream will.
pub(crate) fn check_bucket(bucket: &str) -> Result<(), Error> {
    let valid = !bucket.is_empty()
        && bucket.len() <= 64
        && bucket
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(Error::BucketName(bucket.to_owned()))
    }
}

/// The client options both the source and the relay use: a name that says who connects,
/// and jittered reconnection pauses.
pub(crate) fn connect_options(name: &str) -> async_nats::ConnectOptions {
    async_nats::ConnectOptions::new()
        .name(name)
        .connection_timeout(Duration::from_secs(5))
        .reconnect_delay_callback(reconnect_delay)
}

/// Checks `url` and `bucket`, then connects to `url` with `options`.
pub(crate) async fn connect(
    options: async_nats::ConnectOptions,
    url: &str,
    bucket: &str,
) -> Result<async_nats::Client, Error> {
    check_url(url)?;
    check_bucket(bucket)?;
    options.connect(url).await.map_err(|source| Error::Connect {
        url: url.to_owned(),
        source,
    })
}

/// Opens the bucket; with `create`, creates it first if it is not there (one value per key:
/// the bucket holds states, not their history).
pub(crate) async fn open(
    js: &jetstream::Context,
    bucket: &str,
    create: bool,
) -> Result<kv::Store, Error> {
    let failed = |source: Box<dyn std::error::Error + Send + Sync>| Error::Bucket {
        bucket: bucket.to_owned(),
        source,
    };
    match js.get_key_value(bucket).await {
        Ok(store) => Ok(store),
        Err(e) if create && e.kind() == jetstream::context::KeyValueErrorKind::GetBucket => {
            // The bucket's stream, made as JetStream's key-value buckets are. Not through
            // `create_key_value`: it first reads the account's limits in a shape newer than
            // what nats-server 2.9 answers.
            let config = jetstream::stream::Config {
                name: format!("KV_{bucket}"),
                description: Some(
                    "maintenance-rs: the state of every site, written by `maintenance relay`"
                        .to_owned(),
                ),
                subjects: vec![format!("$KV.{bucket}.>")],
                max_messages_per_subject: 1,
                allow_rollup: true,
                deny_delete: true,
                allow_direct: true,
                discard: jetstream::stream::DiscardPolicy::New,
                num_replicas: 1,
                ..Default::default()
            };
            // An error may be another relay creating it meanwhile: opening it again tells.
            if let Err(e) = js.create_stream(config).await {
                tracing::debug!(bucket, error = %e, "could not create the bucket's stream");
            }
            js.get_key_value(bucket)
                .await
                .map_err(|e| failed(Box::new(e)))
        }
        Err(e) => Err(failed(Box::new(e))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_before_connecting() {
        for good in [
            "nats://127.0.0.1:4222",
            "127.0.0.1:4222",
            "nats://a:4222,nats://b:4222",
            "tls://nats.example:4222",
        ] {
            assert!(check_url(good).is_ok(), "{good}");
        }
        for bad in ["", "nats://", "http://[::1:4222", "nats://a:port"] {
            let err = check_url(bad).unwrap_err();
            assert!(
                err.to_string()
                    .starts_with(&format!("invalid NATS URL `{bad}`")),
                "{err}"
            );
        }
    }

    #[test]
    fn bucket_names_are_checked() {
        assert!(check_bucket("maintenance").is_ok());
        assert!(check_bucket("shop_prod-2").is_ok());
        for bad in ["", "a.b", "a b", "a*", &"x".repeat(65)] {
            assert!(
                matches!(check_bucket(bad), Err(Error::BucketName(_))),
                "{bad}"
            );
        }
    }
}
