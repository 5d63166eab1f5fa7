//! The public status answer and the announcement of an upcoming window.
//!
//! With [`PolicyBuilder::status_path`](crate::PolicyBuilder::status_path) set, every adapter
//! answers `GET` (and `HEAD`) on that path itself, for the request's site, from the snapshot in
//! memory: never blocked, never a database query. The answer is JSON ([`SiteStatus`]) that a
//! page or a single-page application on another origin can poll to show a banner:
//!
//! ```json
//! {"site":"shop.example","state":"scheduled","starts_at":"2026-12-07T22:00:00Z",
//!  "ends_at":"2026-12-07T23:00:00Z","message":"Upgrading the database","mode":"full",
//!  "scope":[],"retry_after":null,"revision":42}
//! ```
//!
//! With [`PolicyBuilder::announce_within`](crate::PolicyBuilder::announce_within) set, a
//! request that passes while its site's window starts within that time gets a
//! [`WINDOW_HEADER`] on its response (`Maintenance-Window: starts=2026-12-07T22:00:00Z;
//! ends=2026-12-07T23:00:00Z`), so that a server-rendered page, a proxy or an API client learns
//! of it without a second request.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

use crate::decision::retry_after;
use crate::model::SiteState;
use crate::snapshot::Snapshot;

/// The response header that announces an upcoming window: `maintenance-window`.
pub const WINDOW_HEADER: &str = "maintenance-window";

/// Where a site stands, as the status answer says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum StatusState {
    /// Not in maintenance, and none scheduled.
    Off,
    /// The flag is on and the window starts later.
    Scheduled,
    /// Maintenance is in force now.
    Active,
    /// No state could be loaded yet (the source has not answered since the server started).
    Unknown,
}

/// The status answer's body for one site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SiteStatus {
    /// The site's domain; `None` when there is no site (no snapshot, or no site for the host
    /// and no default site).
    pub site: Option<String>,
    /// Off, scheduled, active, or unknown.
    pub state: StatusState,
    /// When the window starts, if it has a start (RFC 3339).
    #[serde(serialize_with = "rfc3339")]
    pub starts_at: Option<DateTime<Utc>>,
    /// When the window ends, if it has an end (RFC 3339).
    #[serde(serialize_with = "rfc3339")]
    pub ends_at: Option<DateTime<Utc>>,
    /// The message for users (the site's, else the policy's default) while maintenance is
    /// scheduled or active; `None` when off.
    pub message: Option<String>,
    /// `full` or `read-only` while scheduled or active.
    pub mode: Option<&'static str>,
    /// The paths in maintenance in partial maintenance (empty: every path).
    pub scope: Vec<String>,
    /// The seconds a blocked client is told to wait, while active and when known.
    pub retry_after: Option<u64>,
    /// The revision of the state answered, when one is loaded.
    pub revision: Option<i64>,
}

fn rfc3339<S: serde::Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
        None => s.serialize_none(),
    }
}

impl SiteStatus {
    /// The status of the site serving `host` in `snapshot` at `now`; `default_message` stands
    /// in for a site without a message of its own.
    pub fn of(
        snapshot: Option<&Snapshot>,
        host: Option<&str>,
        default_message: &str,
        now: DateTime<Utc>,
    ) -> SiteStatus {
        let Some(snapshot) = snapshot else {
            return SiteStatus::empty(StatusState::Unknown, None);
        };
        let revision = Some(snapshot.revision());
        let Some(site) = snapshot.site_for_host(host) else {
            return SiteStatus::empty(StatusState::Off, revision);
        };
        let state = site.state();
        let status = StatusState::of(state, now);
        if status == StatusState::Off {
            let mut off = SiteStatus::empty(StatusState::Off, revision);
            off.site = Some(state.domain.clone());
            return off;
        }
        SiteStatus {
            site: Some(state.domain.clone()),
            state: status,
            starts_at: state.starts_at,
            ends_at: state.ends_at,
            message: Some(
                state
                    .message
                    .as_deref()
                    .filter(|m| !m.trim().is_empty())
                    .unwrap_or(default_message)
                    .to_owned(),
            ),
            mode: Some(state.mode.as_str()),
            scope: state.scope.clone(),
            retry_after: (status == StatusState::Active)
                .then(|| retry_after(state, now))
                .flatten(),
            revision,
        }
    }

    fn empty(state: StatusState, revision: Option<i64>) -> SiteStatus {
        SiteStatus {
            site: None,
            state,
            starts_at: None,
            ends_at: None,
            message: None,
            mode: None,
            scope: Vec::new(),
            retry_after: None,
            revision,
        }
    }
}

impl StatusState {
    /// Where `state` stands at `now`: off (the flag off, or the window over), scheduled (the
    /// window starts later) or active.
    pub fn of(state: &SiteState, now: DateTime<Utc>) -> StatusState {
        if !state.enabled || state.ends_at.is_some_and(|end| now >= end) {
            StatusState::Off
        } else if state.starts_at.is_some_and(|start| now < start) {
            StatusState::Scheduled
        } else {
            StatusState::Active
        }
    }

    /// `off`, `scheduled`, `active` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            StatusState::Off => "off",
            StatusState::Scheduled => "scheduled",
            StatusState::Active => "active",
            StatusState::Unknown => "unknown",
        }
    }
}

/// The status answer: `200` with [`SiteStatus`] as JSON, cacheable for a few seconds by
/// anyone, readable from any origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusAnswer {
    status: SiteStatus,
    body: String,
    max_age: Duration,
}

impl StatusAnswer {
    /// The answer for `status`, cacheable for `max_age`.
    pub fn new(status: SiteStatus, max_age: Duration) -> StatusAnswer {
        // A struct of strings, numbers and options: serialising it cannot fail.
        let body = serde_json::to_string(&status).unwrap_or_else(|_| "{}".to_owned());
        StatusAnswer {
            status,
            body,
            max_age,
        }
    }

    /// What it says.
    pub fn status(&self) -> &SiteStatus {
        &self.status
    }

    /// The JSON body.
    pub fn body(&self) -> &str {
        &self.body
    }

    /// The response: `200`, `Content-Type: application/json`, `Cache-Control: public,
    /// max-age=N`, `Access-Control-Allow-Origin: *`.
    pub fn to_response(&self) -> http::Response<String> {
        let mut res = http::Response::new(self.body.clone());
        *res.status_mut() = StatusCode::OK;
        let headers = res.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Ok(v) = HeaderValue::from_str(&format!("public, max-age={}", self.max_age.as_secs()))
        {
            headers.insert(header::CACHE_CONTROL, v);
        }
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        res
    }
}

/// The [`WINDOW_HEADER`] value for a window from `starts_at` to `ends_at`:
/// `starts=<RFC 3339>` and, when the window has an end, `; ends=<RFC 3339>`.
pub fn window_header(starts_at: DateTime<Utc>, ends_at: Option<DateTime<Utc>>) -> HeaderValue {
    let mut value = format!(
        "starts={}",
        starts_at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
    );
    if let Some(end) = ends_at {
        value.push_str("; ends=");
        value.push_str(&end.to_rfc3339_opts(SecondsFormat::AutoSi, true));
    }
    // RFC 3339 times are ASCII: always a valid value.
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("starts=unknown"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::TimeZone;

    use super::*;

    fn t(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(secs, 0).unwrap()
    }

    fn snapshot(site: SiteState) -> Snapshot {
        Snapshot::new(7, vec![site])
    }

    fn site() -> SiteState {
        let mut site = SiteState::new(1, "shop.example");
        site.is_default = true;
        site
    }

    #[test]
    fn a_window_goes_from_off_to_scheduled_active_and_off() {
        let mut s = site();
        s.enabled = true;
        s.starts_at = Some(t(1_000));
        s.ends_at = Some(t(2_000));
        s.message = Some("Upgrading".to_owned());
        let snap = snapshot(s);
        let at = |now| SiteStatus::of(Some(&snap), Some("shop.example"), "default", t(now));

        let before = at(999);
        assert_eq!(before.state, StatusState::Scheduled);
        assert_eq!(before.starts_at, Some(t(1_000)));
        assert_eq!(before.ends_at, Some(t(2_000)));
        assert_eq!(before.message.as_deref(), Some("Upgrading"));
        assert_eq!(before.retry_after, None, "nobody is blocked yet");

        let during = at(1_500);
        assert_eq!(during.state, StatusState::Active);
        assert_eq!(during.retry_after, Some(500));
        assert_eq!(during.mode, Some("full"));
        assert_eq!(during.revision, Some(7));

        let after = at(2_000);
        assert_eq!(after.state, StatusState::Off);
        assert_eq!(after.message, None);
        assert_eq!(after.site.as_deref(), Some("shop.example"));
    }

    #[test]
    fn no_snapshot_is_unknown_and_no_flag_is_off() {
        let unknown = SiteStatus::of(None, Some("shop.example"), "d", t(0));
        assert_eq!(unknown.state, StatusState::Unknown);
        assert_eq!(unknown.revision, None);
        let snap = snapshot(site());
        let off = SiteStatus::of(Some(&snap), None, "d", t(0));
        assert_eq!(off.state, StatusState::Off);
    }

    #[test]
    fn the_answer_is_cacheable_json_for_any_origin() {
        let mut s = site();
        s.enabled = true;
        s.scope = vec!["^checkout".to_owned()];
        let snap = snapshot(s);
        let status = SiteStatus::of(Some(&snap), Some("shop.example"), "Back soon", t(0));
        let res = StatusAnswer::new(status, Duration::from_secs(5)).to_response();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], "application/json");
        assert_eq!(res.headers()["cache-control"], "public, max-age=5");
        assert_eq!(res.headers()["access-control-allow-origin"], "*");
        let json: serde_json::Value = serde_json::from_str(res.body()).unwrap();
        assert_eq!(json["state"], "active");
        assert_eq!(json["message"], "Back soon");
        assert_eq!(json["scope"][0], "^checkout");
        assert_eq!(json["starts_at"], serde_json::Value::Null);
    }

    #[test]
    fn the_window_header_names_start_and_end() {
        assert_eq!(
            window_header(t(0), Some(t(3_600))),
            "starts=1970-01-01T00:00:00Z; ends=1970-01-01T01:00:00Z"
        );
        assert_eq!(window_header(t(0), None), "starts=1970-01-01T00:00:00Z");
    }
}
