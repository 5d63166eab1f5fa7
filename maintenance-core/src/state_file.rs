//! The last known state on disk: a server that starts while its source cannot be reached
//! serves what it saved last time instead of the fail mode.
//!
//! The handle writes its snapshot after each change (to a temporary file beside it, synced,
//! then renamed over it, so a crash leaves the old file or the new one, never half of one).
//! The file names where its state came from (the database or bucket, as the caller words
//! it): a file from another origin, one written in a newer format, or a damaged one is
//! ignored with a warning, and the fail mode applies as without a file.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::SiteState;
use crate::snapshot::Snapshot;

/// The format this version writes, and the newest it reads.
const FORMAT: u32 = 1;

/// Where the handle keeps its last known state ([`crate::Maintenance::with_state_file`]).
///
/// ```
/// use maintenance_core::{Maintenance, MemoryStore, Policy, StateFile};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let dir = std::env::temp_dir().join("maintenance-state-doc");
/// let file = StateFile::new(dir.join("state.json"), "postgres://db.internal/shop");
/// let maintenance = Maintenance::new(MemoryStore::new(), Policy::default()).with_state_file(file);
/// maintenance.load_and_follow().await;
/// # });
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateFile {
    path: PathBuf,
    origin: String,
}

/// What the file holds.
#[derive(Debug, Serialize, Deserialize)]
struct Saved {
    format: u32,
    origin: String,
    revision: i64,
    saved_at: DateTime<Utc>,
    sites: Vec<SiteState>,
}

/// Why a state file was not used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateFileError {
    /// There is no file (the first start): not worth a warning.
    #[error("there is no state file `{}` yet", .0.display())]
    Missing(PathBuf),
    /// The file could not be read or written.
    #[error("could not {action} the state file `{}`", path.display())]
    Io {
        /// `read` or `write`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a state file this version can read: damaged, or not one at all.
    #[error("the state file `{}` is damaged", path.display())]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What the decoder said.
        #[source]
        source: serde_json::Error,
    },
    /// The file was written by a newer version.
    #[error("the state file `{}` is in format {found}; this version reads up to {FORMAT}", path.display())]
    NewerFormat {
        /// The file.
        path: PathBuf,
        /// Its format.
        found: u32,
    },
    /// The file holds the state of another database or bucket.
    #[error("the state file `{}` holds the state of `{found}`, not of `{expected}`", path.display())]
    OtherOrigin {
        /// The file.
        path: PathBuf,
        /// The origin it names.
        found: String,
        /// The origin of this handle.
        expected: String,
    },
}

/// A state read back from a file.
#[derive(Debug)]
pub(crate) struct SavedState {
    pub(crate) revision: i64,
    pub(crate) saved_at: DateTime<Utc>,
    pub(crate) sites: Vec<SiteState>,
}

impl StateFile {
    /// The file at `path`, for the state of `origin`: the database or bucket the handle reads
    /// (a URL without its password, say), so that a file left by another is never served.
    pub fn new(path: impl Into<PathBuf>, origin: impl Into<String>) -> Self {
        StateFile {
            path: path.into(),
            origin: origin.into(),
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The origin its state must come from.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Reads the state saved last, if it is of this origin and readable.
    pub(crate) fn read(&self) -> Result<SavedState, StateFileError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StateFileError::Missing(self.path.clone()));
            }
            Err(source) => {
                return Err(StateFileError::Io {
                    action: "read",
                    path: self.path.clone(),
                    source,
                });
            }
        };
        let damaged = |source| StateFileError::Damaged {
            path: self.path.clone(),
            source,
        };
        #[derive(Deserialize)]
        struct Versioned {
            format: u32,
        }
        let Versioned { format } = serde_json::from_slice(&bytes).map_err(damaged)?;
        if format > FORMAT {
            return Err(StateFileError::NewerFormat {
                path: self.path.clone(),
                found: format,
            });
        }
        let saved: Saved = serde_json::from_slice(&bytes).map_err(damaged)?;
        if saved.origin != self.origin {
            return Err(StateFileError::OtherOrigin {
                path: self.path.clone(),
                found: saved.origin,
                expected: self.origin.clone(),
            });
        }
        Ok(SavedState {
            revision: saved.revision,
            saved_at: saved.saved_at,
            sites: saved.sites,
        })
    }

    /// Saves `snapshot`: written beside the file, synced, then renamed over it.
    pub(crate) fn write(&self, snapshot: &Snapshot) -> Result<(), StateFileError> {
        let io = |source| StateFileError::Io {
            action: "write",
            path: self.path.clone(),
            source,
        };
        let saved = Saved {
            format: FORMAT,
            origin: self.origin.clone(),
            revision: snapshot.revision(),
            saved_at: Utc::now(),
            sites: snapshot.sites().map(|s| s.state().clone()).collect(),
        };
        let bytes = serde_json::to_vec(&saved).map_err(|e| io(std::io::Error::other(e)))?;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut tmp_name = self.path.as_os_str().to_owned();
        tmp_name.push(format!(".tmp{}", std::process::id()));
        let tmp = PathBuf::from(tmp_name);
        let written = (|| {
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(&bytes)?;
            file.sync_all()?;
            std::fs::rename(&tmp, &self.path)
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written.map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot() -> Snapshot {
        let mut site = SiteState::new(1, "default");
        site.is_default = true;
        site.enabled = true;
        Snapshot::new(7, vec![site, SiteState::new(2, "shop.example")])
    }

    #[test]
    fn a_saved_state_reads_back_for_its_origin_only() {
        let dir = tempdir();
        let file = StateFile::new(dir.join("s/state.json"), "postgres://db/app");
        file.write(&snapshot()).unwrap();
        let saved = file.read().unwrap();
        assert_eq!(saved.revision, 7);
        assert_eq!(saved.sites.len(), 2);
        assert!(saved.sites[0].enabled);

        let other = StateFile::new(file.path(), "postgres://db/other");
        let err = other.read().unwrap_err();
        assert!(matches!(err, StateFileError::OtherOrigin { .. }));
        assert!(
            err.to_string()
                .ends_with("holds the state of `postgres://db/app`, not of `postgres://db/other`"),
            "{err}"
        );
        let leftovers: Vec<_> = std::fs::read_dir(dir.join("s")).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file left behind");
    }

    #[test]
    fn damaged_newer_and_missing_files_are_told_apart() {
        let dir = tempdir();
        let path = dir.join("state.json");
        let file = StateFile::new(&path, "x");
        assert!(matches!(file.read(), Err(StateFileError::Missing(_))));
        std::fs::write(&path, b"{\"format\":1,\"origin\":\"x\",\"revision\":3").unwrap();
        let err = file.read().unwrap_err();
        assert!(matches!(err, StateFileError::Damaged { .. }), "{err}");
        assert!(err.to_string().ends_with("state.json` is damaged"), "{err}");
        std::fs::write(&path, b"{\"format\":2,\"whatever\":[]}").unwrap();
        let err = file.read().unwrap_err();
        assert!(matches!(err, StateFileError::NewerFormat { found: 2, .. }));
    }

    fn tempdir() -> PathBuf {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "maintenance-state-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
