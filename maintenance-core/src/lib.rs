#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod adapter_settings;
mod answer_cache;
pub mod backoff;
pub mod bypass;
mod client_ip;
mod decision;
mod error;
mod follow;
mod handle;
pub mod host;
mod listing;
mod memory;
mod model;
pub mod pattern;
mod policy;
pub mod printable;
mod request;
pub mod response;
pub mod server_override;
pub mod snapshot;
mod source;
mod state_file;
pub mod status;
pub mod store;
pub mod telemetry;
pub mod validate;

#[cfg(any(test, feature = "testkit"))]
pub mod testkit;

#[cfg(test)]
mod tests;

/// Reading a request the way the decision does, for adapters and custom servers: the peer
/// address ([`PeerAddr`](adapter::PeerAddr), [`WithPeer`](adapter::WithPeer)), a header's text,
/// and the client address behind trusted proxies; and what an adapter's builder keeps
/// ([`Settings`](adapter::Settings)).
pub mod adapter {
    pub use crate::adapter_settings::Settings;
    pub use crate::client_ip::{client_ip, in_networks};
    pub use crate::request::{PeerAddr, WithPeer, header_text};
}

pub use client_ip::ClientIpHeader;
pub use decision::{AllowReason, Block, BlockReason, Decision, decide};
pub use error::{ErrorChain, PolicyError, StoreError, ValidationError};
pub use handle::Maintenance;
pub use listing::{MAX_PAGE_SIZE, SitePage, SiteQuery, SiteSelection, StateFilter};
pub use memory::MemoryStore;
pub use model::{
    AllowedNetwork, AuditAction, Event, IgnoredPath, Mode, SiteRef, SiteState, StateChange,
};
pub use policy::{DEFAULT_MESSAGE, FailMode, Policy, PolicyBuilder, Redirect, UnknownHost};
pub use request::{Identity, IdentityLookup, RequestView};
pub use source::{MaintenanceSource, MaintenanceStore};
pub use state_file::{StateFile, StateFileError};

pub use chrono;
pub use http;
pub use ipnet;
