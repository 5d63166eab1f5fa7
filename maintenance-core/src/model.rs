//! The data model: sites, their maintenance state, and the audit log.
//!
//! These types are what every store reads and writes. They are plain data: the compiled,
//! request-ready form lives in [`crate::snapshot::Snapshot`].

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::error::ValidationError;
use crate::validate;

/// How much of a site maintenance takes down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Every request is blocked (django-maintenancemode-2's behaviour).
    #[default]
    Full,
    /// Safe methods (`GET`, `HEAD`, `OPTIONS`) pass, writes are blocked.
    ReadOnly,
}

impl Mode {
    /// The name stored in the database: `full` or `read-only`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Full => "full",
            Mode::ReadOnly => "read-only",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Mode {
    type Err = ValidationError;

    /// ```
    /// use maintenance_core::Mode;
    /// assert_eq!("read-only".parse::<Mode>().unwrap(), Mode::ReadOnly);
    /// assert!("readonly!".parse::<Mode>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "full" => Ok(Mode::Full),
            "read-only" | "read_only" | "readonly" => Ok(Mode::ReadOnly),
            other => Err(ValidationError::Mode(other.to_owned())),
        }
    }
}

/// An ignored path pattern of a site (django-maintenancemode-2's `IgnoredURL`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IgnoredPath {
    /// The regular expression, matched at the start of the path without its leading `/`.
    pub pattern: String,
    /// Why it is ignored, for operators.
    pub description: String,
}

/// A network whose clients pass while the site is in maintenance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllowedNetwork {
    /// The network, IPv4 or IPv6.
    pub network: IpNet,
    /// Whose network this is, for operators.
    pub description: String,
}

/// One site (a domain) and its whole maintenance state.
///
/// Its `Debug` output shows whether a bypass secret is set, never its hash.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SiteState {
    /// The store's identifier of the site.
    pub id: i64,
    /// The normalised domain (lower case, no port, no trailing dot).
    pub domain: String,
    /// A display name.
    pub name: String,
    /// Whether requests for unknown hosts use this site.
    pub is_default: bool,
    /// The maintenance flag (django-maintenancemode-2's `is_being_performed`).
    pub enabled: bool,
    /// Full or read-only maintenance.
    pub mode: Mode,
    /// The message shown to blocked users; `None` uses the default text.
    pub message: Option<String>,
    /// Maintenance is in force only from this instant on, when set.
    pub starts_at: Option<DateTime<Utc>>,
    /// Maintenance is in force only until this instant, when set.
    pub ends_at: Option<DateTime<Utc>>,
    /// The `Retry-After` value in seconds; `None` derives it from `ends_at`.
    pub retry_after_secs: Option<u32>,
    /// Partial maintenance: when not empty, only the paths matching one of these patterns
    /// (the meaning of ignored patterns) are in maintenance, and every other path passes.
    #[serde(default)]
    pub scope: Vec<String>,
    /// The site's tags (labels that group sites: `maintenance on --tag eu`), sorted, each
    /// once, in the form [`crate::validate::tag`] gives.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Paths that stay reachable.
    pub ignored_paths: Vec<IgnoredPath>,
    /// Networks whose clients stay served.
    pub allowed_networks: Vec<AllowedNetwork>,
    /// The hash of the bypass secret ([`crate::bypass::hash_secret`]), when one is set.
    pub bypass_secret_hash: Option<String>,
    /// When the state last changed.
    pub updated_at: Option<DateTime<Utc>>,
    /// Who last changed it.
    pub updated_by: Option<String>,
}

impl std::fmt::Debug for SiteState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SiteState")
            .field("id", &self.id)
            .field("domain", &self.domain)
            .field("name", &self.name)
            .field("is_default", &self.is_default)
            .field("enabled", &self.enabled)
            .field("mode", &self.mode)
            .field("message", &self.message)
            .field("starts_at", &self.starts_at)
            .field("ends_at", &self.ends_at)
            .field("retry_after_secs", &self.retry_after_secs)
            .field("scope", &self.scope)
            .field("tags", &self.tags)
            .field("ignored_paths", &self.ignored_paths)
            .field("allowed_networks", &self.allowed_networks)
            .field(
                "bypass_secret_hash",
                &self.bypass_secret_hash.as_ref().map(|_| "<redacted>"),
            )
            .field("updated_at", &self.updated_at)
            .field("updated_by", &self.updated_by)
            .finish()
    }
}

impl SiteState {
    /// Checks the whole state as a store is about to write it: domain, name, message, window,
    /// patterns, descriptions and the secret hash, each with the limits of [`crate::validate`].
    ///
    /// ```
    /// let mut site = maintenance_core::SiteState::new(1, "example.com");
    /// assert!(site.validate().is_ok());
    /// site.domain = "not a domain".into();
    /// assert!(site.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), ValidationError> {
        self.validate_state()?;
        // The syntax only: a write that adds a pattern compiles it ([`validate::pattern`]);
        // compiling every stored pattern again on each write would cost tens of microseconds
        // per pattern.
        for p in &self.ignored_paths {
            validate::pattern_syntax(&p.pattern)?;
            validate::text("description", &p.description, validate::MAX_DESCRIPTION_LEN)?;
        }
        for n in &self.allowed_networks {
            validate::text("description", &n.description, validate::MAX_DESCRIPTION_LEN)?;
        }
        Ok(())
    }

    /// Checks the site's own columns (domain, name, message, window, secret hash), not its
    /// patterns and networks: what a state change can make invalid.
    pub fn validate_state(&self) -> Result<(), ValidationError> {
        validate::domain(&self.domain)?;
        validate::text("name", &self.name, validate::MAX_NAME_LEN)?;
        if let Some(m) = &self.message {
            validate::text("message", m, validate::MAX_MESSAGE_LEN)?;
        }
        if let (Some(start), Some(end)) = (self.starts_at, self.ends_at)
            && end <= start
        {
            return Err(ValidationError::Window {
                starts_at: start.to_rfc3339(),
                ends_at: end.to_rfc3339(),
            });
        }
        if let Some(h) = &self.bypass_secret_hash {
            validate::secret_hash(h)?;
        }
        validate::scope_size(self.scope.len())?;
        for p in &self.scope {
            validate::pattern_syntax(p)?;
        }
        validate::tag_count(self.tags.len())?;
        for t in &self.tags {
            if validate::tag(t)? != *t {
                return Err(ValidationError::Tag(t.clone()));
            }
        }
        Ok(())
    }

    /// A site that is not in maintenance, with nothing configured.
    ///
    /// ```
    /// let site = maintenance_core::SiteState::new(1, "example.com");
    /// assert!(!site.enabled);
    /// assert_eq!(site.name, "example.com");
    /// ```
    pub fn new(id: i64, domain: impl Into<String>) -> Self {
        let domain = domain.into();
        SiteState {
            id,
            name: domain.clone(),
            domain,
            is_default: false,
            enabled: false,
            mode: Mode::Full,
            message: None,
            starts_at: None,
            ends_at: None,
            retry_after_secs: None,
            scope: Vec::new(),
            tags: Vec::new(),
            ignored_paths: Vec::new(),
            allowed_networks: Vec::new(),
            bypass_secret_hash: None,
            updated_at: None,
            updated_by: None,
        }
    }

    /// Whether maintenance is in force at `now`: the flag is set and `now` is inside the
    /// window (`starts_at` inclusive, `ends_at` exclusive).
    pub fn is_active_at(&self, now: DateTime<Utc>) -> bool {
        self.enabled
            && self.starts_at.is_none_or(|start| now >= start)
            && self.ends_at.is_none_or(|end| now < end)
    }
}

/// Names a site in store calls.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SiteRef {
    /// The default site (the one a fresh database has).
    Default,
    /// The site with this domain (normalised by the store).
    Domain(String),
}

impl SiteRef {
    /// `None` means the default site, as the CLI's missing `--site` does.
    pub fn from_option(domain: Option<&str>) -> Self {
        match domain {
            Some(d) => SiteRef::Domain(d.to_owned()),
            None => SiteRef::Default,
        }
    }
}

impl fmt::Display for SiteRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SiteRef::Default => f.write_str("the default site"),
            SiteRef::Domain(d) => write!(f, "site `{d}`"),
        }
    }
}

/// A change to a site's state; fields left `None` keep their value.
///
/// ```
/// use maintenance_core::{Mode, StateChange};
/// let change = StateChange::turn_on().mode(Mode::ReadOnly).message("Back at 14:00");
/// assert_eq!(change.enabled, Some(true));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateChange {
    /// New maintenance flag.
    pub enabled: Option<bool>,
    /// New mode.
    pub mode: Option<Mode>,
    /// New message (`Some(None)` clears it).
    pub message: Option<Option<String>>,
    /// New window start (`Some(None)` clears it).
    pub starts_at: Option<Option<DateTime<Utc>>>,
    /// New window end (`Some(None)` clears it).
    pub ends_at: Option<Option<DateTime<Utc>>>,
    /// New `Retry-After` seconds (`Some(None)` clears it).
    pub retry_after_secs: Option<Option<u32>>,
    /// New scope of partial maintenance (`Some(vec![])`: the whole site).
    pub scope: Option<Vec<String>>,
}

impl StateChange {
    /// Turn maintenance on, keeping everything else.
    pub fn turn_on() -> Self {
        StateChange {
            enabled: Some(true),
            ..Default::default()
        }
    }

    /// Turn maintenance off and clear the window, so that it does not come back by itself.
    /// The scope stays, for the record: the next `on` sets its own.
    pub fn turn_off() -> Self {
        StateChange {
            enabled: Some(false),
            starts_at: Some(None),
            ends_at: Some(None),
            ..Default::default()
        }
    }

    /// Partial maintenance: only paths matching one of `patterns` (the meaning of ignored
    /// patterns: regexes matched at the start of the path without its leading `/`) are in
    /// maintenance. No pattern means the whole site, as `maintenance on` without `--only`
    /// says.
    ///
    /// ```
    /// use maintenance_core::{SiteState, StateChange};
    /// let mut site = SiteState::new(1, "example.com");
    /// StateChange::turn_on().only(["^checkout/", "^api/orders"]).apply_to(&mut site).unwrap();
    /// assert_eq!(site.scope, ["^checkout/", "^api/orders"]);
    /// assert!(StateChange::turn_on().only(["^(x"]).apply_to(&mut site).is_err());
    /// ```
    pub fn only<I, S>(mut self, patterns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scope = Some(patterns.into_iter().map(Into::into).collect());
        self
    }

    /// Set the mode.
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = Some(mode);
        self
    }

    /// Set the message.
    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(Some(message.into()));
        self
    }

    /// Set the window; either end may be open.
    pub fn window(
        mut self,
        starts_at: Option<DateTime<Utc>>,
        ends_at: Option<DateTime<Utc>>,
    ) -> Self {
        self.starts_at = Some(starts_at);
        self.ends_at = Some(ends_at);
        self
    }

    /// Set the `Retry-After` seconds.
    pub fn retry_after_secs(mut self, secs: u32) -> Self {
        self.retry_after_secs = Some(Some(secs));
        self
    }

    /// The change that sets every state field to what `site` holds: the flag, mode, message,
    /// window, `Retry-After` and scope (not its patterns, networks or bypass secret).
    ///
    /// ```
    /// use maintenance_core::{SiteState, StateChange};
    /// let mut site = SiteState::new(1, "example.com");
    /// let before = StateChange::of_state(&site);
    /// StateChange::turn_on().message("Soon").apply_to(&mut site).unwrap();
    /// assert!(!before.holds_for(&site));
    /// before.apply_to(&mut site).unwrap();
    /// assert!(before.holds_for(&site) && !site.enabled && site.message.is_none());
    /// ```
    pub fn of_state(site: &SiteState) -> Self {
        StateChange {
            enabled: Some(site.enabled),
            mode: Some(site.mode),
            message: Some(site.message.clone()),
            starts_at: Some(site.starts_at),
            ends_at: Some(site.ends_at),
            retry_after_secs: Some(site.retry_after_secs),
            scope: Some(site.scope.clone()),
        }
    }

    /// Whether `site` already holds every field the change sets (applying it would change
    /// nothing of them).
    pub fn holds_for(&self, site: &SiteState) -> bool {
        fn same<T: PartialEq>(wanted: Option<&T>, held: &T) -> bool {
            wanted.is_none_or(|w| w == held)
        }
        same(self.enabled.as_ref(), &site.enabled)
            && same(self.mode.as_ref(), &site.mode)
            && same(self.message.as_ref(), &site.message)
            && same(self.starts_at.as_ref(), &site.starts_at)
            && same(self.ends_at.as_ref(), &site.ends_at)
            && same(self.retry_after_secs.as_ref(), &site.retry_after_secs)
            && same(self.scope.as_ref(), &site.scope)
    }

    /// Applies the change to `site` and checks the result ([`SiteState::validate_state`]: a
    /// state change touches no pattern or network). On error `site` is left untouched.
    pub fn apply_to(&self, site: &mut SiteState) -> Result<(), ValidationError> {
        let mut next = site.clone();
        if let Some(v) = self.enabled {
            next.enabled = v;
        }
        if let Some(v) = self.mode {
            next.mode = v;
        }
        if let Some(v) = &self.message {
            next.message = v.clone();
        }
        if let Some(v) = self.starts_at {
            next.starts_at = v;
        }
        if let Some(v) = self.ends_at {
            next.ends_at = v;
        }
        if let Some(v) = self.retry_after_secs {
            next.retry_after_secs = v;
        }
        if let Some(patterns) = &self.scope {
            validate::scope_size(patterns.len())?;
            validate::pattern_set(patterns.iter().map(String::as_str))?;
            next.scope = patterns.clone();
        }
        next.validate_state()?;
        *site = next;
        Ok(())
    }

    /// A short human description for the audit log, e.g. `enabled=true mode=read-only`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(v) = self.enabled {
            parts.push(format!("enabled={v}"));
        }
        if let Some(v) = self.mode {
            parts.push(format!("mode={v}"));
        }
        if let Some(v) = &self.message {
            parts.push(format!("message={:?}", v.as_deref().unwrap_or("")));
        }
        let time =
            |t: &Option<DateTime<Utc>>| t.map_or_else(|| "none".to_owned(), |t| t.to_rfc3339());
        if let Some(v) = &self.starts_at {
            parts.push(format!("starts_at={}", time(v)));
        }
        if let Some(v) = &self.ends_at {
            parts.push(format!("ends_at={}", time(v)));
        }
        if let Some(v) = self.retry_after_secs {
            parts.push(format!(
                "retry_after={}",
                v.map_or_else(|| "none".to_owned(), |s| s.to_string())
            ));
        }
        if let Some(v) = &self.scope {
            if v.is_empty() {
                parts.push("only=none".to_owned());
            } else {
                parts.push(format!("only={v:?}"));
            }
        }
        parts.join(" ")
    }
}

/// What an audit event records. Every store writes these names, and `maintenance log` and the
/// admin page read them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuditAction {
    /// Maintenance turned on (`on`).
    On,
    /// Maintenance turned off (`off`).
    Off,
    /// The state changed without turning maintenance on or off (`update`).
    Update,
    /// A site added (`site.add`).
    SiteAdd,
    /// A site removed (`site.remove`).
    SiteRemove,
    /// An ignored-path pattern added (`ignore.add`).
    IgnoreAdd,
    /// An ignored-path pattern removed (`ignore.remove`).
    IgnoreRemove,
    /// An allowed network added (`allow.add`).
    AllowAdd,
    /// An allowed network removed (`allow.remove`).
    AllowRemove,
    /// A bypass secret set (`bypass.set`).
    BypassSet,
    /// The bypass secret cleared (`bypass.clear`).
    BypassClear,
    /// `maintenance run`: the command failed or was interrupted, and maintenance stays on
    /// (`run.failed`).
    RunFailed,
    /// `maintenance run`: the command succeeded, but the site's state was changed by someone
    /// else meanwhile, so `run` left it as they set it (`run.kept`).
    RunKept,
    /// Tags added to a site (`tag.add`).
    TagAdd,
    /// Tags removed from a site (`tag.remove`).
    TagRemove,
}

impl AuditAction {
    /// Every action.
    pub const ALL: [AuditAction; 15] = [
        AuditAction::On,
        AuditAction::Off,
        AuditAction::Update,
        AuditAction::SiteAdd,
        AuditAction::SiteRemove,
        AuditAction::IgnoreAdd,
        AuditAction::IgnoreRemove,
        AuditAction::AllowAdd,
        AuditAction::AllowRemove,
        AuditAction::BypassSet,
        AuditAction::BypassClear,
        AuditAction::RunFailed,
        AuditAction::RunKept,
        AuditAction::TagAdd,
        AuditAction::TagRemove,
    ];

    /// The name stored in the audit log, e.g. `ignore.add`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::On => "on",
            AuditAction::Off => "off",
            AuditAction::Update => "update",
            AuditAction::SiteAdd => "site.add",
            AuditAction::SiteRemove => "site.remove",
            AuditAction::IgnoreAdd => "ignore.add",
            AuditAction::IgnoreRemove => "ignore.remove",
            AuditAction::AllowAdd => "allow.add",
            AuditAction::AllowRemove => "allow.remove",
            AuditAction::BypassSet => "bypass.set",
            AuditAction::BypassClear => "bypass.clear",
            AuditAction::RunFailed => "run.failed",
            AuditAction::RunKept => "run.kept",
            AuditAction::TagAdd => "tag.add",
            AuditAction::TagRemove => "tag.remove",
        }
    }

    /// The action of a state change: `on`, `off` or `update`.
    pub fn of_change(change: &StateChange) -> AuditAction {
        match change.enabled {
            Some(true) => AuditAction::On,
            Some(false) => AuditAction::Off,
            None => AuditAction::Update,
        }
    }

    /// The action of setting (`Some`) or clearing (`None`) the bypass secret.
    pub fn of_bypass(hash: Option<&str>) -> AuditAction {
        if hash.is_some() {
            AuditAction::BypassSet
        } else {
            AuditAction::BypassClear
        }
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AuditAction {
    type Err = String;

    /// Reads a stored name; an unknown one is given back.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AuditAction::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| s.to_owned())
    }
}

/// One entry of the audit log: who did what to which site, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The store's identifier of the event.
    pub id: i64,
    /// The site's domain at the time of the event (kept when the site is removed).
    pub site: Option<String>,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Who did it (a user name, `admin:<addr>`, ...).
    pub actor: String,
    /// What was done, as stored: an [`AuditAction`] name such as `on` or `ignore.add` (a
    /// row written by hand may hold anything; see [`Event::kind`]).
    pub action: String,
    /// Details of the change.
    pub detail: String,
}

impl Event {
    /// The action, when it is one of the [`AuditAction`]s.
    pub fn kind(&self) -> Option<AuditAction> {
        self.action.parse().ok()
    }
}
