//! `maintenance watch`: tells other systems when maintenance starts and ends.
//!
//! It follows the database as a server does (PostgreSQL's `NOTIFY`, or polling the revision)
//! and, for every effective change of a watched site (turned on or off, a window starting or
//! ending with no write, a new message, mode, window or scope, a site added or removed),
//! delivers one [`Event`] as JSON: to a shell command's standard input (`--exec`) and/or in a
//! signed `POST` (`--webhook`). A delivery that fails is retried, with jittered backoff that
//! grows to 30 s, until it succeeds; events reach each receiver in order.
//!
//! Events missed while `watch` was not running are not invented: the first events after a
//! start state the current state of each watched site (`kind: "current"`). Each event has an
//! id made of the site, the revision and the state (`shop.example@42/active`), so that a
//! receiver can drop one it has seen (a delivery retried after a lost answer, two watchers).
//!
//! The webhook's signature, as Stripe and GitHub sign theirs:
//! `Maintenance-Signature: t=<unix seconds>,v1=<hex HMAC-SHA-256 of "<t>.<body>">`, keyed
//! with the secret from the environment (`MAINTENANCE_WEBHOOK_SECRET` unless `--secret-env`
//! names another variable). A receiver recomputes it over the raw body and refuses a
//! signature whose `t` is too old.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use hmac::{Hmac, Mac};
use maintenance_core::backoff::Backoff;
use maintenance_core::snapshot::Snapshot;
use maintenance_core::status::StatusState;
use maintenance_core::{Maintenance, MaintenanceSource, Policy, SiteState};
use serde::Serialize;
use sha2::Sha256;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

use crate::args::WatchArgs;
use crate::commands;
use crate::error::CliError;

/// The header that carries the webhook's signature.
pub const SIGNATURE_HEADER: &str = "maintenance-signature";
/// The header that carries the event's id.
pub const EVENT_ID_HEADER: &str = "maintenance-event-id";
const USER_AGENT: &str = concat!("maintenance-watch/", env!("CARGO_PKG_VERSION"));

/// How often the followed state is looked at (in memory: the handle follows the database).
const LOOK_EVERY: Duration = Duration::from_millis(100);
/// The first pause after a failed delivery; it doubles (with jitter) up to [`MAX_RETRY`].
const FIRST_RETRY: Duration = Duration::from_millis(500);
const MAX_RETRY: Duration = Duration::from_secs(30);
/// How long a webhook may take to answer, and a command to run.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);
/// Events a receiver that is down may fall behind by; past it, only the newest event of
/// each site is kept (the final state is never lost).
const MAX_PENDING: usize = 10_000;

/// What happened to a site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// Its state when `watch` started.
    Current,
    /// A site that appeared.
    Added,
    /// Its maintenance changed.
    Changed,
    /// A site that was removed.
    Removed,
}

/// One event, as delivered (JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    /// `<site>@<revision>/<state>`: the same for a repeat of the same event.
    pub id: String,
    /// The site's domain.
    pub site: String,
    /// The store revision the state was read at.
    pub revision: i64,
    /// When `watch` saw it (RFC 3339).
    pub at: String,
    /// What happened.
    pub kind: EventKind,
    /// `off`, `scheduled` or `active` (`off` for a removed site).
    pub state: &'static str,
    /// The state before, for `changed` events.
    pub previous: Option<&'static str>,
    /// `full` or `read-only`.
    pub mode: &'static str,
    /// The site's message for users, if it has one.
    pub message: Option<String>,
    /// The window's start and end, when set (RFC 3339).
    pub starts_at: Option<String>,
    /// See `starts_at`.
    pub ends_at: Option<String>,
    /// The paths in maintenance in partial maintenance (empty: the whole site).
    pub scope: Vec<String>,
    /// The site's tags.
    pub tags: Vec<String>,
}

/// What an event says of a site: two views that differ make an event.
#[derive(Debug, Clone, PartialEq, Eq)]
struct View {
    state: StatusState,
    mode: &'static str,
    message: Option<String>,
    starts_at: Option<DateTime<Utc>>,
    ends_at: Option<DateTime<Utc>>,
    scope: Vec<String>,
    tags: Vec<String>,
}

impl View {
    fn of(site: &SiteState, now: DateTime<Utc>) -> View {
        View {
            state: StatusState::of(site, now),
            mode: site.mode.as_str(),
            message: site.message.clone(),
            starts_at: site.starts_at,
            ends_at: site.ends_at,
            scope: site.scope.clone(),
            tags: site.tags.clone(),
        }
    }

    fn event(
        &self,
        site: &str,
        revision: i64,
        now: DateTime<Utc>,
        kind: EventKind,
        previous: Option<StatusState>,
    ) -> Event {
        let time = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::AutoSi, true);
        let state = self.state.as_str();
        Event {
            id: format!("{site}@{revision}/{state}"),
            site: site.to_owned(),
            revision,
            at: time(now),
            kind,
            state,
            previous: previous.map(StatusState::as_str),
            mode: self.mode,
            message: self.message.clone(),
            starts_at: self.starts_at.map(time),
            ends_at: self.ends_at.map(time),
            scope: self.scope.clone(),
            tags: self.tags.clone(),
        }
    }
}

/// The watched sites as last seen, and the events their changes make.
#[derive(Debug, Default)]
pub struct Watcher {
    /// The domains watched.
    only: Vec<String>,
    /// The tags whose sites are watched; every site when neither is given.
    tags: Vec<String>,
    seen: Option<BTreeMap<String, View>>,
}

impl Watcher {
    /// Watches the sites `only` names (normalised domains) and those carrying one of `tags`,
    /// or every site when both are empty. A site tagged later joins (an `added` event); one
    /// untagged leaves (`removed`).
    pub fn new(only: Vec<String>, tags: Vec<String>) -> Self {
        Watcher {
            only,
            tags,
            seen: None,
        }
    }

    fn watches(&self, site: &SiteState) -> bool {
        (self.only.is_empty() && self.tags.is_empty())
            || self.only.contains(&site.domain)
            || site.tags.iter().any(|t| self.tags.contains(t))
    }

    /// The events that `snapshot` at `now` makes after what was seen before; the first call
    /// gives the current state of every watched site.
    pub fn events(&mut self, snapshot: &Snapshot, now: DateTime<Utc>) -> Vec<Event> {
        let revision = snapshot.revision();
        let views: BTreeMap<String, View> = snapshot
            .sites()
            .map(|s| s.state())
            .filter(|s| self.watches(s))
            .map(|s| (s.domain.clone(), View::of(s, now)))
            .collect();
        let mut events = Vec::new();
        match &self.seen {
            None => {
                for (site, view) in &views {
                    events.push(view.event(site, revision, now, EventKind::Current, None));
                }
            }
            Some(seen) => {
                for (site, view) in &views {
                    match seen.get(site) {
                        None => {
                            events.push(view.event(site, revision, now, EventKind::Added, None));
                        }
                        Some(before) if before != view => events.push(view.event(
                            site,
                            revision,
                            now,
                            EventKind::Changed,
                            Some(before.state),
                        )),
                        Some(_) => {}
                    }
                }
                for (site, before) in seen {
                    if !views.contains_key(site) {
                        let mut gone = before.clone();
                        gone.state = StatusState::Off;
                        let mut event =
                            gone.event(site, revision, now, EventKind::Removed, Some(before.state));
                        event.id = format!("{site}@{revision}/removed");
                        events.push(event);
                    }
                }
            }
        }
        self.seen = Some(views);
        events
    }
}

/// Where events go.
#[derive(Debug, Clone)]
enum Sink {
    /// `sh -c CMD`, the event on its standard input.
    Exec(String),
    /// A signed `POST`.
    Webhook {
        url: http::Uri,
        secret: Arc<[u8]>,
        client: Box<HttpClient>,
    },
}

/// The webhook's client: HTTP/1.1, over TLS for `https://`.
type HttpClient = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    http_body_util::Full<bytes::Bytes>,
>;

impl Sink {
    fn name(&self) -> String {
        match self {
            Sink::Exec(cmd) => format!("command `{cmd}`"),
            Sink::Webhook { url, .. } => format!("webhook {url}"),
        }
    }

    /// Delivers `body` (the event `id`) once; the error says why it failed.
    async fn deliver(&self, id: &str, body: &str) -> Result<(), String> {
        match self {
            Sink::Exec(cmd) => run_command(cmd, id, body).await,
            Sink::Webhook {
                url,
                secret,
                client,
            } => {
                let t = Utc::now().timestamp();
                let req = http::Request::post(url.clone())
                    .header(http::header::CONTENT_TYPE, "application/json")
                    .header(http::header::USER_AGENT, USER_AGENT)
                    .header(EVENT_ID_HEADER, id)
                    .header(SIGNATURE_HEADER, signature(secret, t, body))
                    .body(http_body_util::Full::new(bytes::Bytes::from(
                        body.to_owned(),
                    )))
                    .map_err(|e| format!("could not make the request: {e}"))?;
                let res = client
                    .request(req)
                    .await
                    .map_err(|e| format!("{}", maintenance_core::ErrorChain(&e)))?;
                let status = res.status();
                if status.is_success() {
                    Ok(())
                } else {
                    Err(format!("it answered {status}"))
                }
            }
        }
    }
}

/// `t=<t>,v1=<hex HMAC-SHA-256(secret, "<t>.<body>")>`.
pub fn signature(secret: &[u8], t: i64, body: &str) -> String {
    // HMAC takes a key of any length.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts keys of every length"),
    };
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

async fn run_command(cmd: &str, id: &str, body: &str) -> Result<(), String> {
    let mut child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .env("MAINTENANCE_EVENT_ID", id)
        .stdin(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("could not start it: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A command that does not read its input is fine: a closed pipe is not a failure.
        let _ = stdin.write_all(body.as_bytes()).await;
        let _ = stdin.write_all(b"\n").await;
    }
    let status = child
        .wait()
        .await
        .map_err(|e| format!("could not wait for it: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("it exited with {status}"))
    }
}

/// Delivers the events `rx` gives to `sink`, in order, each until it succeeds.
async fn deliver_all(sink: Sink, mut rx: mpsc::UnboundedReceiver<Event>) {
    let mut pending: VecDeque<Event> = VecDeque::new();
    let name = sink.name();
    loop {
        if pending.is_empty() {
            match rx.recv().await {
                Some(event) => pending.push_back(event),
                None => return,
            }
        }
        while let Ok(event) = rx.try_recv() {
            pending.push_back(event);
        }
        coalesce(&mut pending);
        let Some(event) = pending.pop_front() else {
            continue;
        };
        let body = match serde_json::to_string(&event) {
            Ok(body) => body,
            Err(e) => {
                tracing::error!(error = %e, "could not write an event as JSON");
                continue;
            }
        };
        let mut backoff = Backoff::new(FIRST_RETRY, MAX_RETRY);
        let mut attempt = 1u32;
        loop {
            let result = tokio::time::timeout(DELIVERY_TIMEOUT, sink.deliver(&event.id, &body))
                .await
                .unwrap_or_else(|_| {
                    Err(format!("no answer within {} s", DELIVERY_TIMEOUT.as_secs()))
                });
            match result {
                Ok(()) => {
                    println!("delivered {} to the {name}", event.id);
                    break;
                }
                Err(e) => {
                    let wait = backoff.pause();
                    tracing::warn!(event = %event.id, receiver = %name, attempt, error = %e,
                        retry_in_ms = wait.as_millis() as u64, "could not deliver a maintenance event; retrying");
                    attempt += 1;
                    tokio::time::sleep(wait).await;
                    // Newer events keep arriving meanwhile; they wait behind this one.
                    while let Ok(newer) = rx.try_recv() {
                        pending.push_back(newer);
                    }
                    coalesce(&mut pending);
                }
            }
        }
    }
}

/// Past [`MAX_PENDING`] waiting events, keeps only the newest of each site.
fn coalesce(pending: &mut VecDeque<Event>) {
    if pending.len() <= MAX_PENDING {
        return;
    }
    let mut newest: BTreeMap<String, usize> = BTreeMap::new();
    for (i, e) in pending.iter().enumerate() {
        newest.insert(e.site.clone(), i);
    }
    let keep: std::collections::BTreeSet<usize> = newest.into_values().collect();
    let before = pending.len();
    let mut i = 0;
    pending.retain(|_| {
        let kept = keep.contains(&i);
        i += 1;
        kept
    });
    tracing::warn!(
        dropped = before - pending.len(),
        "a receiver fell far behind: only the newest event of each site is kept"
    );
}

/// Runs `watch` until `shutdown` resolves.
pub async fn serve(
    database_url: &str,
    args: &WatchArgs,
    shutdown: impl Future<Output = ()>,
) -> Result<(), CliError> {
    let sinks = sinks(args)?;
    let store = commands::connect(database_url).await?;
    let contents = store.load().await?;
    let mut only = Vec::new();
    for domain in &args.sites {
        let normalized = maintenance_core::host::normalize_host(domain).into_owned();
        if !contents.sites.iter().any(|s| s.domain == normalized) {
            return Err(CliError::Usage(format!(
                "no site `{domain}`: `maintenance sites list` shows them"
            )));
        }
        only.push(normalized);
    }
    for tag in &args.tags {
        if !contents.sites.iter().any(|s| s.tags.contains(tag)) {
            return Err(CliError::Usage(format!(
                "no site carries the tag `{tag}`: `maintenance sites tag add DOMAIN {tag}` gives it to one"
            )));
        }
    }
    drop(store);
    let store = maintenance_sqlx::connect_lazy(database_url).await?;
    let source: Arc<dyn MaintenanceSource> = Arc::new(store);
    // `watch` decides no request, so no bypass cookie is ever made or checked here: a key of
    // its own keeps the handle from warning that cookies would be signed without one.
    let policy = Policy::builder()
        .bypass_signing_key(b"maintenance watch checks no bypass cookie".to_vec())
        .build()
        .map_err(|e| CliError::Failed(format!("could not set up the follower: {e}")))?;
    let handle = Maintenance::new(source, policy);
    handle.load_and_follow().await;
    let senders: Vec<mpsc::UnboundedSender<Event>> = sinks
        .into_iter()
        .map(|sink| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(deliver_all(sink, rx));
            tx
        })
        .collect();
    let mut what: Vec<String> = only.clone();
    what.extend(args.tags.iter().map(|t| format!("the sites tagged {t}")));
    println!(
        "Watching {} of `{}` (Ctrl-C or SIGTERM stops it)",
        if what.is_empty() {
            "every site".to_owned()
        } else {
            what.join(", ")
        },
        maintenance_sqlx::redact_url(database_url)
    );
    let mut watcher = Watcher::new(only, args.tags.clone());
    let follow = async {
        let mut tick = tokio::time::interval(LOOK_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(snapshot) = handle.snapshot() else {
                continue;
            };
            for event in watcher.events(&snapshot, Utc::now()) {
                for tx in &senders {
                    let _ = tx.send(event.clone());
                }
            }
        }
    };
    tokio::select! {
        () = follow => {}
        () = shutdown => {}
    }
    Ok(())
}

/// The receivers the arguments name; a usage error without one, or for a bad URL or a
/// missing secret.
fn sinks(args: &WatchArgs) -> Result<Vec<Sink>, CliError> {
    let mut sinks = Vec::new();
    if let Some(cmd) = &args.exec {
        if cmd.trim().is_empty() {
            return Err(CliError::Usage("--exec: the command is empty".to_owned()));
        }
        sinks.push(Sink::Exec(cmd.clone()));
    }
    if let Some(url) = &args.webhook {
        let parsed: http::Uri = url
            .parse()
            .map_err(|e| CliError::Usage(format!("--webhook `{url}` is not a URL: {e}")))?;
        if !matches!(parsed.scheme_str(), Some("http" | "https")) || parsed.host().is_none() {
            return Err(CliError::Usage(format!(
                "--webhook `{url}`: expected an http:// or https:// URL"
            )));
        }
        let secret = std::env::var(&args.secret_env).unwrap_or_default();
        if secret.is_empty() {
            return Err(CliError::Usage(format!(
                "--webhook needs a signing secret in the environment variable {} (say, from `openssl rand -hex 32`)",
                args.secret_env
            )));
        }
        // TLS with ring, which the NATS client builds already (rustls deprecates it for lacking
        // post-quantum key exchange, which webhooks do not need), for this client alone.
        #[allow(deprecated)]
        let provider = rustls::crypto::ring::default_provider();
        let tls_error = |e: &dyn std::fmt::Display| {
            CliError::Failed(format!(
                "could not set up TLS for the webhook (the system's root certificates): {e}"
            ))
        };
        let builder = hyper_rustls::HttpsConnectorBuilder::new();
        let builder = if parsed.scheme_str() == Some("https") {
            builder
                .with_provider_and_native_roots(provider)
                .map_err(|e| tls_error(&e))?
        } else {
            // Plain HTTP: no root certificates are needed (nor read).
            let config = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
                .with_safe_default_protocol_versions()
                .map_err(|e| tls_error(&e))?
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth();
            builder.with_tls_config(config)
        };
        let https = builder.https_or_http().enable_http1().build();
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build(https);
        sinks.push(Sink::Webhook {
            url: parsed,
            secret: Arc::from(secret.into_bytes()),
            client: Box::new(client),
        });
    }
    if sinks.is_empty() {
        return Err(CliError::Usage(
            "nothing to deliver to: give --exec CMD and/or --webhook URL".to_owned(),
        ));
    }
    Ok(sinks)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn t(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(secs, 0).unwrap()
    }

    fn site(id: i64, domain: &str) -> SiteState {
        let mut s = SiteState::new(id, domain);
        s.is_default = id == 1;
        s
    }

    #[test]
    fn the_first_look_states_every_site_then_only_changes_make_events() {
        let mut w = Watcher::new(Vec::new(), Vec::new());
        let a = site(1, "a.example");
        let mut b = site(2, "b.example");
        let first = w.events(&Snapshot::new(1, vec![a.clone(), b.clone()]), t(0));
        assert_eq!(first.len(), 2);
        assert!(
            first
                .iter()
                .all(|e| e.kind == EventKind::Current && e.state == "off")
        );
        assert_eq!(first[0].id, "a.example@1/off");

        // Nothing changed: nothing to say.
        assert!(
            w.events(&Snapshot::new(1, vec![a.clone(), b.clone()]), t(1))
                .is_empty()
        );

        // A window on b: scheduled now, active at its start, off at its end, with no write.
        b.enabled = true;
        b.starts_at = Some(t(100));
        b.ends_at = Some(t(200));
        let snap = Snapshot::new(2, vec![a.clone(), b.clone()]);
        let scheduled = w.events(&snap, t(10));
        assert_eq!(scheduled.len(), 1);
        assert_eq!(scheduled[0].state, "scheduled");
        assert_eq!(scheduled[0].previous, Some("off"));
        assert_eq!(
            scheduled[0].starts_at.as_deref(),
            Some("1970-01-01T00:01:40Z")
        );
        let started = w.events(&snap, t(100));
        assert_eq!(started[0].state, "active");
        assert_eq!(started[0].id, "b.example@2/active");
        let ended = w.events(&snap, t(200));
        assert_eq!(ended[0].state, "off");
        assert_eq!(ended[0].previous, Some("active"));

        // A new message is a change too; a removed site and an added one are said.
        let mut a2 = a.clone();
        a2.message = Some("Soon".to_owned());
        let c = site(3, "c.example");
        let events = w.events(&Snapshot::new(3, vec![a2, c]), t(300));
        let kinds: Vec<_> = events.iter().map(|e| (e.site.as_str(), e.kind)).collect();
        assert_eq!(
            kinds,
            [
                ("a.example", EventKind::Changed),
                ("c.example", EventKind::Added),
                ("b.example", EventKind::Removed)
            ]
        );
        assert_eq!(events[2].id, "b.example@3/removed");
    }

    #[test]
    fn sites_tagged_later_join_and_untagged_ones_leave() {
        let mut w = Watcher::new(Vec::new(), vec!["eu".to_owned()]);
        let a = site(1, "a.example");
        let mut b = site(2, "b.example");
        b.tags = vec!["eu".to_owned()];
        let first = w.events(&Snapshot::new(1, vec![a.clone(), b.clone()]), t(0));
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].site, "b.example");
        assert_eq!(first[0].tags, ["eu"]);
        let mut a2 = a.clone();
        a2.tags = vec!["eu".to_owned()];
        b.tags.clear();
        let events = w.events(&Snapshot::new(2, vec![a2, b]), t(1));
        let kinds: Vec<_> = events.iter().map(|e| (e.site.as_str(), e.kind)).collect();
        assert_eq!(
            kinds,
            [
                ("a.example", EventKind::Added),
                ("b.example", EventKind::Removed)
            ]
        );
    }

    #[test]
    fn only_the_sites_named_are_watched() {
        let mut w = Watcher::new(vec!["b.example".to_owned()], Vec::new());
        let mut a = site(1, "a.example");
        let b = site(2, "b.example");
        let first = w.events(&Snapshot::new(1, vec![a.clone(), b.clone()]), t(0));
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].site, "b.example");
        a.enabled = true;
        assert!(w.events(&Snapshot::new(2, vec![a, b]), t(1)).is_empty());
    }

    #[test]
    fn the_signature_is_an_hmac_of_time_and_body() {
        // Known answer: HMAC-SHA-256("secret", "1700000000.{}").
        let sig = signature(b"secret", 1_700_000_000, "{}");
        assert!(sig.starts_with("t=1700000000,v1="), "{sig}");
        let mut mac = Hmac::<Sha256>::new_from_slice(b"secret").unwrap();
        mac.update(b"1700000000.{}");
        let want = hex::encode(mac.finalize().into_bytes());
        assert_eq!(sig, format!("t=1700000000,v1={want}"));
        assert_ne!(signature(b"other", 1_700_000_000, "{}"), sig);
    }

    #[test]
    fn a_receiver_far_behind_keeps_the_newest_event_of_each_site() {
        let event = |site: &str, n: i64| Event {
            id: format!("{site}@{n}/off"),
            site: site.to_owned(),
            revision: n,
            at: String::new(),
            kind: EventKind::Changed,
            state: "off",
            previous: None,
            mode: "full",
            message: None,
            starts_at: None,
            ends_at: None,
            scope: Vec::new(),
            tags: Vec::new(),
        };
        let mut pending: VecDeque<Event> = (0..MAX_PENDING as i64 + 5)
            .map(|n| event(if n % 2 == 0 { "a" } else { "b" }, n))
            .collect();
        coalesce(&mut pending);
        assert_eq!(pending.len(), 2);
        let last = MAX_PENDING as i64 + 4;
        assert!(pending.iter().any(|e| e.id == format!("a@{last}/off")));
    }
}
