//! The errors of maintenance-nats: each message names the URL, bucket or key concerned and
//! keeps its cause as the source.

use maintenance_core::StoreError;

use crate::record::RecordError;

/// An error of the NATS source or of the relay.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The NATS URL cannot be used.
    #[error("invalid NATS URL `{url}`: expected nats://host:port (or tls://, ws://)")]
    Url {
        /// The URL given.
        url: String,
        /// Why it was refused.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The bucket's name is not one JetStream accepts.
    #[error(
        "invalid bucket name `{0}`: expected letters, digits, `-` and `_` (the default is `maintenance`)"
    )]
    BucketName(String),
    /// The NATS server did not answer.
    #[error("could not connect to NATS at `{url}`")]
    Connect {
        /// The URL.
        url: String,
        /// What the client said.
        #[source]
        source: async_nats::ConnectError,
    },
    /// The bucket could not be opened or created: most often, JetStream is not enabled on
    /// the server.
    #[error(
        "could not open the key-value bucket `{bucket}` (is JetStream enabled? nats-server -js)"
    )]
    Bucket {
        /// The bucket.
        bucket: String,
        /// What JetStream said.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The client has lost its connection to NATS; it reconnects by itself.
    #[error("not connected to NATS at `{url}`; reconnecting")]
    Disconnected {
        /// The URL.
        url: String,
    },
    /// The bucket has not been read whole yet.
    #[error("the bucket `{bucket}` has not been read yet")]
    NotLoaded {
        /// The bucket.
        bucket: String,
    },
    /// No relay has written to the bucket yet.
    #[error(
        "the bucket `{bucket}` holds no maintenance state yet: start `maintenance relay` on it"
    )]
    Empty {
        /// The bucket.
        bucket: String,
    },
    /// A value of the bucket cannot be read (a newer format, or not ours).
    #[error(transparent)]
    Record(#[from] RecordError),
    /// The bucket holds a value the source refused (see [`Error::Record`]): it serves its last
    /// state rather than one it may have misread.
    #[error("the bucket `{bucket}` holds a value this maintenance-nats cannot read: {reason}")]
    Refused {
        /// The bucket.
        bucket: String,
        /// Which key, and why.
        reason: String,
    },
    /// Reading or writing a key failed.
    #[error("could not {action} `{key}` in the bucket `{bucket}`")]
    Key {
        /// `read` or `write`.
        action: &'static str,
        /// The key.
        key: String,
        /// The bucket.
        bucket: String,
        /// What JetStream said.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The bucket follows another database: a relay writes only to a bucket of its own
    /// database (or a new one).
    #[error(
        "the bucket `{bucket}` follows the database `{found}`, not `{database}`: name another bucket with --bucket"
    )]
    OtherDatabase {
        /// The bucket.
        bucket: String,
        /// The database its meta record names.
        found: String,
        /// The relay's database.
        database: String,
    },
    /// The relay's database failed.
    #[error("the relay could not read the database")]
    Database(#[source] StoreError),
}

impl From<Error> for StoreError {
    fn from(err: Error) -> Self {
        StoreError::backend(err)
    }
}
