//! What the commands print: site states and audit events, as text for people and as JSON with
//! stable field names for scripts.

use std::borrow::Cow;

use chrono::{DateTime, SecondsFormat, Utc};
use maintenance_core::{Event, SiteState};
use serde::Serialize;

/// Where a site stands at a given instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Maintenance is off.
    Off,
    /// Maintenance is on and in force.
    On,
    /// Maintenance is on, but its window has not started.
    Scheduled,
    /// Maintenance is on, but its window is over.
    Ended,
}

impl Phase {
    /// The phase of `site` at `now`.
    pub fn of(site: &SiteState, now: DateTime<Utc>) -> Phase {
        if !site.enabled {
            Phase::Off
        } else if site.starts_at.is_some_and(|start| now < start) {
            Phase::Scheduled
        } else if site.ends_at.is_some_and(|end| now >= end) {
            Phase::Ended
        } else {
            Phase::On
        }
    }

    /// `off`, `on`, `scheduled` or `ended`.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Off => "off",
            Phase::On => "on",
            Phase::Scheduled => "scheduled",
            Phase::Ended => "ended",
        }
    }
}

/// Stored text made safe for a terminal: each control character (C0 such as ESC, BEL and CR,
/// DEL, C1) and each bidirectional-text control is written as Rust writes it, `\u{1b}`, so
/// that a site name or a message cannot move the cursor, retitle the window or hide text.
///
/// Every piece of stored text the CLI prints in text form goes through this (JSON output is
/// escaped by serde already).
///
/// ```
/// use maintenance_cli::report::escape;
/// assert_eq!(escape("shop\u{1b}[2J\u{7}\r"), "shop\\u{1b}[2J\\u{7}\\u{d}");
/// assert_eq!(escape("Café, back at 14:00"), "Café, back at 14:00");
/// ```
pub fn escape(text: &str) -> Cow<'_, str> {
    escape_except(text, &[])
}

/// Text to print, with every control character escaped as [`escape`] does but its line
/// breaks and tabs: the last guard before stdout and stderr, for text that is already laid
/// out.
pub fn escape_lines(text: &str) -> Cow<'_, str> {
    escape_except(text, &['\n', '\t'])
}

fn escape_except<'a>(text: &'a str, keep: &[char]) -> Cow<'a, str> {
    let unsafe_char = |c: char| !keep.contains(&c) && is_unsafe_for_terminals(c);
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// C0, DEL and C1 controls, and the characters that reorder text (Trojan Source).
pub(crate) fn is_unsafe_for_terminals(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{61c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// A time as printed everywhere: RFC 3339 in UTC, whole seconds.
pub fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The window in words: `from X until Y`, `until Y`, `from X`, or `none`.
pub fn window(site: &SiteState) -> String {
    match (site.starts_at, site.ends_at) {
        (Some(s), Some(e)) => format!("from {} until {}", time(s), time(e)),
        (None, Some(e)) => format!("until {}", time(e)),
        (Some(s), None) => format!("from {}", time(s)),
        (None, None) => "none".to_owned(),
    }
}

/// One site in `status --json`. The field names are part of the command's interface.
#[derive(Debug, Clone, Serialize)]
pub struct SiteReport {
    /// The site's domain (`default` for the default site).
    pub domain: String,
    /// Its display name.
    pub name: String,
    /// Whether it is the default site.
    pub is_default: bool,
    /// `off`, `on`, `scheduled` or `ended`, computed at `now`.
    pub state: Phase,
    /// The stored maintenance flag.
    pub enabled: bool,
    /// `full` or `read-only`.
    pub mode: String,
    /// The message, or null for the default text.
    pub message: Option<String>,
    /// The window's start (RFC 3339), or null.
    pub starts_at: Option<String>,
    /// The window's end (RFC 3339), or null.
    pub ends_at: Option<String>,
    /// The Retry-After seconds, or null to derive it from the window end.
    pub retry_after_secs: Option<u32>,
    /// Partial maintenance: the patterns of the paths in maintenance; empty for the whole
    /// site.
    pub scope: Vec<String>,
    /// The site's tags, sorted.
    pub tags: Vec<String>,
    /// The ignored path patterns.
    pub ignored_paths: Vec<PatternReport>,
    /// The allowed networks.
    pub allowed_networks: Vec<NetworkReport>,
    /// Whether a bypass secret is set (the secret itself is never stored).
    pub bypass_secret_set: bool,
    /// When the state last changed (RFC 3339), or null.
    pub updated_at: Option<String>,
    /// Who last changed it, or null.
    pub updated_by: Option<String>,
}

/// An ignored pattern in `status --json`.
#[derive(Debug, Clone, Serialize)]
pub struct PatternReport {
    /// The regular expression.
    pub pattern: String,
    /// Why it is ignored.
    pub description: String,
}

/// An allowed network in `status --json`.
#[derive(Debug, Clone, Serialize)]
pub struct NetworkReport {
    /// The network in CIDR notation.
    pub network: String,
    /// Whose network it is.
    pub description: String,
}

impl SiteReport {
    /// The report of `site` at `now`.
    pub fn new(site: &SiteState, now: DateTime<Utc>) -> Self {
        SiteReport {
            domain: site.domain.clone(),
            name: site.name.clone(),
            is_default: site.is_default,
            state: Phase::of(site, now),
            enabled: site.enabled,
            mode: site.mode.as_str().to_owned(),
            message: site.message.clone(),
            starts_at: site.starts_at.map(time),
            ends_at: site.ends_at.map(time),
            retry_after_secs: site.retry_after_secs,
            scope: site.scope.clone(),
            tags: site.tags.clone(),
            ignored_paths: site
                .ignored_paths
                .iter()
                .map(|p| PatternReport {
                    pattern: p.pattern.clone(),
                    description: p.description.clone(),
                })
                .collect(),
            allowed_networks: site
                .allowed_networks
                .iter()
                .map(|n| NetworkReport {
                    network: n.network.to_string(),
                    description: n.description.clone(),
                })
                .collect(),
            bypass_secret_set: site.bypass_secret_hash.is_some(),
            updated_at: site.updated_at.map(time),
            updated_by: site.updated_by.clone(),
        }
    }
}

fn described(value: &str, description: &str) -> String {
    if description.is_empty() {
        escape(value).into_owned()
    } else {
        format!("{}  ({})", escape(value), escape(description))
    }
}

/// A site as `status` prints it.
pub fn site_text(site: &SiteState, now: DateTime<Utc>) -> String {
    let mut out = String::new();
    let default = if site.is_default {
        ", the default site"
    } else {
        ""
    };
    out.push_str(&format!(
        "{} ({}{default})\n",
        escape(&site.domain),
        escape(&site.name)
    ));
    let mut line = |label: &str, value: &str| out.push_str(&format!("  {label:<13}{value}\n"));
    line("state:", Phase::of(site, now).as_str());
    line("mode:", site.mode.as_str());
    line(
        "message:",
        &site
            .message
            .as_deref()
            .map_or(Cow::Borrowed("(the default text)"), escape),
    );
    line("window:", &window(site));
    let retry = match site.retry_after_secs {
        Some(s) => format!("{s}s"),
        None => "derived from the window end".to_owned(),
    };
    line("retry-after:", &retry);
    let tags = if site.tags.is_empty() {
        "none".to_owned()
    } else {
        site.tags.join(", ")
    };
    line("tags:", &tags);
    let list = |items: Vec<String>| {
        if items.is_empty() {
            "none".to_owned()
        } else {
            items.join(&format!("\n  {:<13}", ""))
        }
    };
    let scope = if site.scope.is_empty() {
        "the whole site".to_owned()
    } else {
        list(site.scope.iter().map(|p| escape(p).into_owned()).collect())
    };
    line("only:", &scope);
    line(
        "ignored:",
        &list(
            site.ignored_paths
                .iter()
                .map(|p| described(&p.pattern, &p.description))
                .collect(),
        ),
    );
    line(
        "allowed:",
        &list(
            site.allowed_networks
                .iter()
                .map(|n| described(&n.network.to_string(), &n.description))
                .collect(),
        ),
    );
    line(
        "bypass:",
        if site.bypass_secret_hash.is_some() {
            "secret set"
        } else {
            "not set"
        },
    );
    let last = match (&site.updated_by, site.updated_at) {
        (Some(by), Some(at)) => format!("{} at {}", escape(by), time(at)),
        (Some(by), None) => escape(by).into_owned(),
        (None, Some(at)) => time(at),
        (None, None) => "never".to_owned(),
    };
    line("last change:", &last);
    out
}

/// One line about a site's state after `on` or `off`.
pub fn state_line(site: &SiteState, now: DateTime<Utc>) -> String {
    let phase = Phase::of(site, now);
    match phase {
        Phase::Off => format!("{}: maintenance off", escape(&site.domain)),
        _ => {
            let mut s = format!(
                "{}: maintenance {} (mode {}",
                escape(&site.domain),
                phase.as_str(),
                site.mode
            );
            if site.starts_at.is_some() || site.ends_at.is_some() {
                s.push_str(&format!(", {}", window(site)));
            }
            if let Some(r) = site.retry_after_secs {
                s.push_str(&format!(", retry after {r}s"));
            }
            if !site.scope.is_empty() {
                s.push_str(&format!(", only {}", escape(&site.scope.join(" "))));
            }
            s.push(')');
            s
        }
    }
}

/// The audit log as `log` prints it, newest first.
pub fn events_text(events: &[Event]) -> String {
    if events.is_empty() {
        return "No events.\n".to_owned();
    }
    let mut out = String::new();
    for e in events {
        let line = format!(
            "{}  {}  {}  {}  {}",
            time(e.at),
            escape(e.site.as_deref().unwrap_or("-")),
            escape(&e.actor),
            escape(&e.action),
            escape(&e.detail)
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// One event in `log --json`. The field names are part of the command's interface.
#[derive(Debug, Clone, Serialize)]
pub struct EventReport {
    /// The store's identifier.
    pub id: i64,
    /// The site's domain at the time, or null.
    pub site: Option<String>,
    /// When (RFC 3339).
    pub at: String,
    /// Who.
    pub actor: String,
    /// What: `on`, `off`, `update`, `ignore.add`, ...
    pub action: String,
    /// Details.
    pub detail: String,
}

impl From<&Event> for EventReport {
    fn from(e: &Event) -> Self {
        EventReport {
            id: e.id,
            site: e.site.clone(),
            at: time(e.at),
            actor: e.actor.clone(),
            action: e.action.clone(),
            detail: e.detail.clone(),
        }
    }
}

/// The windows still to start, soonest first, as `status` ends its listing of every site:
/// `None` when there is none.
///
/// ```text
/// upcoming windows (2):
///   2026-12-08T10:00:00Z until 2026-12-08T11:00:00Z  default
///   2026-12-09T10:00:00Z until (no end)              blog.example
/// ```
pub fn upcoming_text(sites: &[SiteState], now: DateTime<Utc>) -> Option<String> {
    let mut upcoming: Vec<(DateTime<Utc>, &SiteState)> = sites
        .iter()
        .filter(|s| Phase::of(s, now) == Phase::Scheduled)
        .filter_map(|s| Some((s.starts_at?, s)))
        .collect();
    if upcoming.is_empty() {
        return None;
    }
    upcoming.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.domain.cmp(&b.1.domain)));
    let mut out = format!("upcoming windows ({}):\n", upcoming.len());
    for (start, site) in upcoming {
        let end = site.ends_at.map_or_else(|| "(no end)".to_owned(), time);
        out.push_str(&format!(
            "  {} until {end:<20}  {}\n",
            time(start),
            escape(&site.domain)
        ));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2030, 1, 1, h, 0, 0).unwrap()
    }

    #[test]
    fn phase_follows_flag_and_window() {
        let mut site = SiteState::new(1, "a.example");
        assert_eq!(Phase::of(&site, t(5)), Phase::Off);
        site.enabled = true;
        assert_eq!(Phase::of(&site, t(5)), Phase::On);
        site.starts_at = Some(t(6));
        site.ends_at = Some(t(8));
        assert_eq!(Phase::of(&site, t(5)), Phase::Scheduled);
        assert_eq!(Phase::of(&site, t(6)), Phase::On);
        assert_eq!(Phase::of(&site, t(8)), Phase::Ended);
        site.enabled = false;
        assert_eq!(Phase::of(&site, t(7)), Phase::Off);
    }

    #[test]
    fn upcoming_windows_are_listed_soonest_first() {
        let scheduled = |id, domain: &str, start, end: Option<u32>| {
            let mut s = SiteState::new(id, domain);
            s.enabled = true;
            s.starts_at = Some(t(start));
            s.ends_at = end.map(t);
            s
        };
        let on = {
            let mut s = SiteState::new(3, "on.example");
            s.enabled = true;
            s
        };
        let sites = [
            scheduled(1, "later.example", 9, None),
            on,
            scheduled(2, "soon.example", 6, Some(7)),
            scheduled(4, "past.example", 1, Some(2)),
        ];
        let text = upcoming_text(&sites, t(5)).unwrap();
        assert_eq!(
            text,
            "upcoming windows (2):\n  \
             2030-01-01T06:00:00Z until 2030-01-01T07:00:00Z  soon.example\n  \
             2030-01-01T09:00:00Z until (no end)              later.example\n"
        );
        assert_eq!(upcoming_text(&sites[1..2], t(5)), None);
    }

    #[test]
    fn control_characters_are_escaped_and_the_rest_kept() {
        for (text, want) in [
            ("a\u{1b}[31mb", "a\\u{1b}[31mb"),
            ("bell\u{7}", "bell\\u{7}"),
            (
                "cr\rlf\nnul\0tab\tdel\u{7f}",
                "cr\\u{d}lf\\u{a}nul\\u{0}tab\\u{9}del\\u{7f}",
            ),
            ("c1\u{9b}2J", "c1\\u{9b}2J"),
            ("rtl\u{202e}txt", "rtl\\u{202e}txt"),
            ("Grüße, 東京 — ok", "Grüße, 東京 — ok"),
        ] {
            assert_eq!(escape(text), want, "{text:?}");
            assert_eq!(
                escape(&escape(text)),
                want,
                "escaping twice changes nothing"
            );
        }
        assert_eq!(escape_lines("a\u{1b}\nb\r\t\n"), "a\\u{1b}\nb\\u{d}\t\n");
    }

    #[test]
    fn stored_text_is_escaped_in_status_state_lines_and_the_log() {
        let mut site = SiteState::new(1, "a.example");
        site.name = "Shop\u{1b}]0;pwned\u{7}".into();
        site.enabled = true;
        site.message = Some("down\u{1b}[2J".into());
        site.updated_by = Some("eve\r".into());
        site.scope = vec!["^x\u{7}".into()];
        let event = Event {
            id: 1,
            site: Some("a.example".into()),
            at: t(1),
            actor: "eve\u{1b}[1A".into(),
            action: "on".into(),
            detail: "message=\"\u{7}\"".into(),
        };
        for text in [
            site_text(&site, t(5)),
            state_line(&site, t(5)),
            events_text(&[event]),
        ] {
            assert!(!text.contains(['\u{1b}', '\u{7}', '\r']), "{text:?}");
            assert!(
                text.contains("\\u{1b}") || text.contains("\\u{7}"),
                "{text}"
            );
        }
    }

    #[test]
    fn status_text_names_everything() {
        let mut site = SiteState::new(1, "a.example");
        site.enabled = true;
        site.ends_at = Some(t(8));
        site.ignored_paths.push(maintenance_core::IgnoredPath {
            pattern: "^health$".into(),
            description: "probes".into(),
        });
        let text = site_text(&site, t(5));
        for want in [
            "a.example",
            "state:       on",
            "until 2030-01-01T08:00:00Z",
            "^health$  (probes)",
            "allowed:     none",
            "bypass:      not set",
        ] {
            assert!(text.contains(want), "{want} in\n{text}");
        }
    }
}
