//! The server's override: this server in maintenance, or not, whatever the store says.
//!
//! For when the store cannot be the switch: the database migration that takes it down, an
//! operator locked out of the admin page, one server of a fleet taken out for a repair. The
//! policy names it ([`PolicyBuilder::server_override`](crate::PolicyBuilder::server_override)
//! for a value the application reads at start-up, say from `MAINTENANCE_OVERRIDE`;
//! [`PolicyBuilder::override_file`](crate::PolicyBuilder::override_file) for a file that the
//! handle watches). A file holding `on` or `off` beats the value; an empty or missing file
//! leaves the value (or, without one, the store) in charge.
//!
//! While an override is in effect every site of this server is in maintenance (`on`: the
//! window ignored, the exemptions kept: staff, internal and allowed networks, ignored paths,
//! the bypass secret), or none is (`off`), even with no state loaded at all; the handle logs
//! when it takes and leaves effect, and the gauge
//! [`OVERRIDE`](crate::telemetry::OVERRIDE) says which is in effect. Requests pay nothing for
//! it: the file is looked at by the handle's background task (its modification time, every
//! [`PolicyBuilder::override_poll`](crate::PolicyBuilder::override_poll)), never on a
//! request.
//!
//! ```
//! use maintenance_core::server_override::ServerOverride;
//! assert_eq!(ServerOverride::parse("on").unwrap(), Some(ServerOverride::On));
//! assert_eq!(ServerOverride::parse(" OFF\n").unwrap(), Some(ServerOverride::Off));
//! assert_eq!(ServerOverride::parse("").unwrap(), None);
//! assert!(ServerOverride::parse("of").is_err());
//! ```

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::model::SiteState;
use crate::snapshot::Snapshot;

/// What an override makes of this server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerOverride {
    /// In maintenance, whatever the store says.
    On,
    /// Not in maintenance, whatever the store says.
    Off,
}

/// A text that is no override: names what was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an override: expected on, off, or nothing (the store decides)")]
pub struct BadOverride(pub String);

impl ServerOverride {
    /// Reads `on` or `off` (any case, surrounding white space ignored); an empty text, `auto`
    /// or `none` is no override.
    pub fn parse(text: &str) -> Result<Option<ServerOverride>, BadOverride> {
        match text.trim().to_ascii_lowercase().as_str() {
            "on" => Ok(Some(ServerOverride::On)),
            "off" => Ok(Some(ServerOverride::Off)),
            "" | "auto" | "none" => Ok(None),
            _ => Err(BadOverride(
                crate::printable::Printable(text.trim()).to_string(),
            )),
        }
    }

    /// `on` or `off`.
    pub fn as_str(self) -> &'static str {
        match self {
            ServerOverride::On => "on",
            ServerOverride::Off => "off",
        }
    }

    /// The gauge's value: 1 for on, -1 for off.
    pub(crate) fn gauge(override_: Option<ServerOverride>) -> f64 {
        match override_ {
            Some(ServerOverride::On) => 1.0,
            Some(ServerOverride::Off) => -1.0,
            None => 0.0,
        }
    }

    /// The snapshot this override makes of the source's `snapshot`: every site in maintenance
    /// (window cleared) or none; with nothing loaded, a default site alone.
    pub(crate) fn apply(self, snapshot: Option<&Snapshot>) -> Snapshot {
        let on = self == ServerOverride::On;
        let force = |mut state: SiteState| {
            state.enabled = on;
            state.starts_at = None;
            state.ends_at = None;
            state
        };
        match snapshot {
            Some(snapshot) => Snapshot::new(
                snapshot.revision(),
                snapshot.sites().map(|s| force(s.state().clone())).collect(),
            ),
            None => {
                let mut site = SiteState::new(0, "default");
                site.is_default = true;
                Snapshot::new(0, vec![force(site)])
            }
        }
    }
}

/// What was last seen of the override file: enough to tell that it changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FileMark {
    /// Not there.
    Missing,
    /// There, with this modification time and length.
    Present(Option<SystemTime>, u64),
    /// Could not be looked at; the error's text.
    Unreadable(String),
}

/// Looks at the override file.
pub(crate) fn mark(path: &Path) -> FileMark {
    match std::fs::metadata(path) {
        Ok(meta) => FileMark::Present(meta.modified().ok(), meta.len()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => FileMark::Missing,
        Err(e) => FileMark::Unreadable(e.to_string()),
    }
}

/// What the override file says: `Ok(None)` when it is missing or empty.
pub(crate) fn read_file(path: &Path) -> Result<Option<ServerOverride>, String> {
    match std::fs::read(path) {
        Ok(bytes) if bytes.len() > 64 => {
            Err(format!("{} bytes, more than an override", bytes.len()))
        }
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            ServerOverride::parse(&text).map_err(|e| e.to_string())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

/// The override settings of a policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct OverrideSettings {
    pub(crate) value: Option<ServerOverride>,
    pub(crate) file: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn an_override_forces_every_site_and_needs_no_snapshot() {
        let mut a = SiteState::new(1, "a.example");
        a.is_default = true;
        a.enabled = true;
        a.starts_at = chrono::DateTime::from_timestamp(4_000_000_000, 0);
        let b = SiteState::new(2, "b.example");
        let snap = Snapshot::new(9, vec![a, b]);

        let on = ServerOverride::On.apply(Some(&snap));
        assert_eq!(on.revision(), 9);
        assert!(
            on.sites()
                .all(|s| s.state().enabled && s.state().starts_at.is_none())
        );
        let off = ServerOverride::Off.apply(Some(&snap));
        assert!(off.all_off());

        let alone = ServerOverride::On.apply(None);
        assert!(alone.default_site().is_some_and(|s| s.state().enabled));
    }

    #[test]
    fn the_file_says_on_off_or_nothing() {
        let dir = std::env::temp_dir().join(format!("override-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("override");
        assert_eq!(read_file(&path), Ok(None));
        assert_eq!(mark(&path), FileMark::Missing);
        std::fs::write(&path, "on\n").unwrap();
        assert_eq!(read_file(&path), Ok(Some(ServerOverride::On)));
        assert!(matches!(mark(&path), FileMark::Present(_, 3)));
        std::fs::write(&path, "maybe").unwrap();
        let err = read_file(&path).unwrap_err();
        assert!(err.contains("maybe"), "{err}");
        std::fs::write(&path, "").unwrap();
        assert_eq!(read_file(&path), Ok(None));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
