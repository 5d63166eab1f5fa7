//! # maintenance-core
//!
//! The framework-free core of maintenance-rs: put web services into maintenance mode from a
//! shared database, and decide for every request, without any I/O, whether it passes.
//!
//! - [`SiteState`], [`Snapshot`]: the sites and their maintenance state, compiled for requests.
//! - [`Policy`]: what the application decides in code (internal networks, ignored patterns,
//!   staff, trusted proxies, status, fail mode, bypass cookie).
//! - [`RequestView`], [`Identity`]: the request and who makes it.
//! - [`decide`] → [`Decision`]: pure, in the documented order, naming its reason.
//! - [`blocked_response`], [`BlockedAnswer`]: 503 with `Retry-After`, `Cache-Control:
//!   no-store`, JSON or HTML; the live handle renders each site's answer once.
//! - [`MaintenanceSource`], [`MaintenanceStore`], [`MemoryStore`]: where state lives. A
//!   source is what a server reads (every site, the revision, the change feed); a store adds
//!   the writes and the audit log, for the CLI and the admin page. Stores for databases are in
//!   `maintenance-sqlx` and `maintenance-diesel`.
//! - [`Maintenance`]: the live handle, refreshed in the background, checked on every request.
//!
//! The crate root is the application's API. What only store authors need (the contents a
//! source returns, the change feed, helpers to find sites, the default site's name) is in
//! [`store`]. What the SQL stores share is in the `maintenance-sql` crate.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use std::sync::Arc;
//! use maintenance_core::{Decision, Identity, Maintenance, MaintenanceStore, MemoryStore, Policy, SiteRef, StateChange};
//!
//! let store = Arc::new(MemoryStore::new());
//! store.set_state(&SiteRef::Default, &StateChange::turn_on(), "ops").await.unwrap();
//! let policy = Policy::builder().internal_networks(["10.0.0.0/8"]).build().unwrap();
//! let maintenance = Maintenance::start(store, policy).await;
//!
//! let req = http::Request::builder().uri("/").body(()).unwrap();
//! match maintenance.check(&req, Identity::Anonymous) {
//!     Decision::Block(block) => {
//!         let res = maintenance.blocked_response(&block, &req);
//!         assert_eq!(res.status(), 503);
//!     }
//!     other => panic!("expected a block, got {other:?}"),
//! }
//! # });
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

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
