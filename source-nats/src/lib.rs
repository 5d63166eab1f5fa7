#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod backoff;
mod bucket;
mod error;
mod mirror;
pub mod record;
mod relay;
mod source;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use bucket::DEFAULT_BUCKET;
pub use error::Error;
pub use relay::{
    RELAY_ERRORS_TOTAL, RELAY_LAG_SECONDS, RELAY_RESYNCS_TOTAL, RELAY_REVISION, RELAY_WRITES_TOTAL,
    Relay, RelayOptions, Relayed,
};
pub use source::NatsSource;

/// The NATS client this crate is built on, for callers that configure their own.
pub use async_nats;
