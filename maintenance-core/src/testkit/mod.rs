//! The store conformance suite (feature `testkit`): one set of assertions every store passes.
//!
//! In a store crate's tests, give the macro an `async fn` that returns a fresh, migrated store
//! (or `None` to skip, e.g. when a database URL is not set):
//!
//! ```text
//! async fn fresh_store() -> Option<MyStore> { Some(MyStore::connect_fresh().await) }
//! maintenance_core::store_conformance_tests!(fresh_store);
//! ```
//!
//! Each case becomes one `#[tokio::test]`. [`CountingStore`] counts the calls a handle makes
//! of its source.
//!
//! For the decision, [`RawRequest`] carries any input the [`crate::RequestView`] trait allows,
//! and [`check_decision`] and [`check_client_ip`] check the properties that must hold for every
//! such request; the property tests and the fuzz targets (`fuzz/` at the workspace root) both
//! use them.

mod conformance;
mod counting;
mod fixtures;
mod logs;
mod properties;
mod raw_request;
mod serving;

pub use conformance::*;
pub use counting::CountingStore;
pub use fixtures::*;
pub use logs::AskEachTime;
pub use properties::{
    ADDRESS_PIECES, HEADER_NAMES, PATH_PIECES, PROPERTY_PEER, PROPERTY_SECRET, check_client_ip,
    check_decision, names_address, path_is_ambiguous,
};
pub use raw_request::RawRequest;
pub use serving::*;
