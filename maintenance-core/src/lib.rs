#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod answer_cache;
pub mod bypass;
mod client_ip;
mod decision;
mod error;
mod follow;
mod handle;
mod host;
mod listing;
mod memory;
mod model;
mod pattern;
mod policy;
mod printable;
mod request;
mod response;
mod snapshot;
pub mod store;
pub mod telemetry;
pub mod validate;

#[cfg(any(test, feature = "testkit"))]
pub mod testkit;

#[cfg(test)]
mod tests;

pub use bypass::BypassGrant;
pub use bypass::{BypassSettings, MAX_BYPASS_COOKIE_TTL};
pub use client_ip::{ClientIpHeader, client_ip, in_networks};
pub use decision::{AllowReason, Block, BlockReason, Decision, decide, retry_after};
pub use error::{ErrorChain, PolicyError, StoreError, ValidationError};
pub use handle::Maintenance;
pub use host::{host_key, normalize_host, validate_domain};
pub use listing::{MAX_PAGE_SIZE, SitePage, SiteQuery, SiteSelection, StateFilter};
pub use memory::MemoryStore;
pub use model::{
    AllowedNetwork, AuditAction, Event, IgnoredPath, Mode, SiteRef, SiteState, StateChange,
};
pub use pattern::{PatternSet, path_for_matching, validate_pattern};
pub use policy::{DEFAULT_MESSAGE, FailMode, Policy, PolicyBuilder, Redirect, UnknownHost};
pub use printable::Printable;
pub use request::{Identity, IdentityLookup, PeerAddr, RequestView, WithPeer, header_text};
pub use response::{
    AnswerFormat, BlockedAnswer, answer_format, blocked_response, escape_html, grpc_message,
    html_body, json_body, problem_body, wants_json,
};
pub use snapshot::{LiveSite, Snapshot};
pub use store::{MaintenanceSource, MaintenanceStore};

pub use chrono;
pub use http;
pub use ipnet;
