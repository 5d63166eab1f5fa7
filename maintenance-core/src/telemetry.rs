//! Numbers for dashboards, through the [`metrics`] facade: the application installs whatever
//! recorder it likes (Prometheus, StatsD, OpenTelemetry, ...), and without one every count is a
//! no-op.
//!
//! | name | kind | labels | what |
//! |---|---|---|---|
//! | `maintenance_requests_total` | counter | `outcome` (`allowed`, `blocked`, `bypass`), `reason` | each decision of [`crate::Maintenance::check`] |
//! | `maintenance_sites_in_maintenance` | gauge | | sites whose maintenance is in force now (windows included) |
//! | `maintenance_snapshot_revision` | gauge | | the store revision the snapshot was read at |
//! | `maintenance_store_errors_total` | counter | | failed loads, polls and subscriptions |
//! | `maintenance_override` | gauge | | the server's override in effect: 1 on, -1 off, 0 none ([`crate::server_override`]) |
//!
//! `reason` is the decision's stable name ([`crate::AllowReason::as_str`],
//! [`crate::BlockReason::as_str`], `bypass_link` for a bypass link). `bypass` counts requests
//! let through by the bypass secret (link, cookie or header); `allowed`, every other request
//! that passes, with or without maintenance.
//!
//! The handle registers its counters when it is made: install the recorder before
//! [`crate::Maintenance::new`] (or `start`), as early in `main` as logging.
//!
//! ```
//! use maintenance_core::telemetry;
//! assert_eq!(telemetry::REQUESTS_TOTAL, "maintenance_requests_total");
//! ```

use metrics::{Counter, Gauge};

use crate::decision::{AllowReason, BlockReason, Decision};

/// Requests decided, by `outcome` and `reason`.
pub const REQUESTS_TOTAL: &str = "maintenance_requests_total";
/// Sites whose maintenance is in force now.
pub const SITES_IN_MAINTENANCE: &str = "maintenance_sites_in_maintenance";
/// The revision of the snapshot in use.
pub const SNAPSHOT_REVISION: &str = "maintenance_snapshot_revision";
/// Failed loads, polls and subscriptions.
pub const STORE_ERRORS_TOTAL: &str = "maintenance_store_errors_total";
/// The server's override in effect: 1 on, -1 off, 0 none.
pub const OVERRIDE: &str = "maintenance_override";

/// The handle's metrics, registered once so that a decision only increments a counter.
pub(crate) struct Metrics {
    allowed: Vec<Counter>,
    bypass: [Counter; 3],
    blocked: Vec<Counter>,
    store_errors: Counter,
    sites_in_maintenance: Gauge,
    revision: Gauge,
    server_override: Gauge,
}

impl Metrics {
    /// Describes and registers every series with the recorder installed now.
    pub(crate) fn register() -> Self {
        metrics::describe_counter!(
            REQUESTS_TOTAL,
            "Requests decided by the maintenance layer, by outcome and reason"
        );
        metrics::describe_gauge!(
            SITES_IN_MAINTENANCE,
            "Sites whose maintenance is in force now"
        );
        metrics::describe_gauge!(
            SNAPSHOT_REVISION,
            "Store revision of the maintenance snapshot in use"
        );
        metrics::describe_counter!(
            STORE_ERRORS_TOTAL,
            "Failed reads of the maintenance store (loads, polls, subscriptions)"
        );
        metrics::describe_gauge!(
            OVERRIDE,
            "The server's maintenance override in effect: 1 on, -1 off, 0 none (the store decides)"
        );
        let requests = |outcome: &'static str, reason: &'static str| metrics::counter!(REQUESTS_TOTAL, "outcome" => outcome, "reason" => reason);
        Metrics {
            allowed: AllowReason::NAMES
                .iter()
                .map(|reason| requests("allowed", reason))
                .collect(),
            bypass: [
                requests("bypass", "bypass_link"),
                requests("bypass", AllowReason::BypassCookie.as_str()),
                requests("bypass", AllowReason::BypassHeader.as_str()),
            ],
            blocked: BlockReason::NAMES
                .iter()
                .map(|reason| requests("blocked", reason))
                .collect(),
            store_errors: metrics::counter!(STORE_ERRORS_TOTAL),
            sites_in_maintenance: metrics::gauge!(SITES_IN_MAINTENANCE),
            revision: metrics::gauge!(SNAPSHOT_REVISION),
            server_override: metrics::gauge!(OVERRIDE),
        }
    }

    /// Counts one decision.
    pub(crate) fn decided(&self, decision: &Decision) {
        let counter = match decision {
            Decision::Allow(AllowReason::BypassCookie) => &self.bypass[1],
            Decision::Allow(AllowReason::BypassHeader) => &self.bypass[2],
            Decision::Allow(reason) => &self.allowed[reason.index()],
            Decision::Bypass(_) => &self.bypass[0],
            Decision::Block(block) => &self.blocked[block.reason.index()],
            // Not a decision on a request for the application: not counted.
            Decision::Status(_) => return,
        };
        counter.increment(1);
    }

    pub(crate) fn store_error(&self) {
        self.store_errors.increment(1);
    }

    pub(crate) fn sites_in_maintenance(&self, count: usize) {
        self.sites_in_maintenance.set(count as f64);
    }

    pub(crate) fn server_override(&self, value: Option<crate::server_override::ServerOverride>) {
        self.server_override
            .set(crate::server_override::ServerOverride::gauge(value));
    }

    pub(crate) fn revision(&self, revision: i64) {
        self.revision.set(revision as f64);
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}
