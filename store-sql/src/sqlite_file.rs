//! Noticing that a SQLite database file was removed or replaced while a store serves it.
//!
//! A pooled connection still reads the file it opened, which may have been unlinked (then no
//! other writer can ever reach it). A store made from a file path keeps a [`FileWatch`] and
//! asks it, before handing out a pooled connection, whether that connection still reads the
//! file the path names; the pool closes the stale ones and opens new ones. Once the file
//! exists, new connections must not create it again ([`open_existing`] gives a name that
//! SQLite opens without creating it): reads and writes then fail until the file is back.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// What a store's connections opened: the file's identity, and since when.
#[derive(Debug)]
pub struct FileWatch {
    path: PathBuf,
    opened: AtomicBool,
    state: Mutex<WatchState>,
}

#[derive(Debug)]
struct WatchState {
    /// The identity of the file the connections opened, when known.
    identity: Option<FileId>,
    /// When the path was last seen naming another file: connections opened before this
    /// instant may read the previous one.
    replaced_at: Option<Instant>,
}

impl FileWatch {
    /// A watch on the database file at `path`, before any connection opened it.
    pub fn new(path: &Path) -> FileWatch {
        FileWatch {
            path: path.to_owned(),
            opened: AtomicBool::new(false),
            state: Mutex::new(WatchState {
                identity: None,
                replaced_at: None,
            }),
        }
    }

    /// The file watched.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, WatchState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records the identity of the file the first connection opened (and created, if it was
    /// missing): from now on [`FileWatch::has_opened`] is true.
    pub fn opened(&self) {
        self.lock().identity = file_id(&self.path).ok().flatten();
        self.opened.store(true, Ordering::Release);
    }

    /// Whether [`FileWatch::opened`] was called: new connections must then not create the
    /// file again.
    pub fn has_opened(&self) -> bool {
        self.opened.load(Ordering::Acquire)
    }

    /// Whether a pooled connection opened `age` ago may be used: the path still names the file
    /// it opened. The pool closes a stale connection and opens a new one (which fails while the
    /// file is missing).
    pub fn is_current(&self, age: Duration) -> bool {
        let now = Instant::now();
        let mut state = self.lock();
        match file_id(&self.path) {
            Err(e) => {
                tracing::debug!(path = %self.path.display(), error = %e,
                    "the SQLite file is gone; closing a connection to it");
                // Whatever file appears next is another one.
                state.identity = None;
                state.replaced_at = Some(now);
                return false;
            }
            Ok(id) => {
                if id != state.identity {
                    if state.identity.is_some() {
                        tracing::info!(path = %self.path.display(),
                            "the SQLite file was replaced; reopening it");
                    }
                    state.identity = id;
                    state.replaced_at = Some(now);
                }
            }
        }
        let opened_at = now.checked_sub(age);
        match (state.replaced_at, opened_at) {
            (Some(replaced), Some(opened)) => opened >= replaced,
            (Some(_), None) => false,
            (None, _) => true,
        }
    }
}

/// The device and inode of a file on Unix; `None` elsewhere (there, only a missing file is
/// noticed). An error when the file cannot be seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId {
    dev: u64,
    ino: u64,
}

#[cfg(unix)]
fn file_id(path: &Path) -> std::io::Result<Option<FileId>> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path)?;
    Ok(Some(FileId {
        dev: meta.dev(),
        ino: meta.ino(),
    }))
}

#[cfg(not(unix))]
fn file_id(path: &Path) -> std::io::Result<Option<FileId>> {
    std::fs::metadata(path).map(|_| None)
}

/// The name to give SQLite (opened with `SQLITE_OPEN_URI`) so that it opens `name`, a file
/// path or a `file:` URI, only if the file exists: a `file:` URI with `mode=rw`, unless the
/// URI already sets a mode.
pub fn open_existing(name: &str) -> String {
    if let Some(uri) = name.strip_prefix("file:") {
        let (_, params) = uri.split_once('?').unwrap_or((uri, ""));
        if params.split('&').any(|p| p.starts_with("mode=")) {
            return name.to_owned();
        }
        let separator = if uri.contains('?') { '&' } else { '?' };
        return format!("{name}{separator}mode=rw");
    }
    let mut uri = String::from(if name.starts_with('/') {
        "file://"
    } else {
        "file:"
    });
    for c in name.chars() {
        match c {
            '%' => uri.push_str("%25"),
            '?' => uri.push_str("%3f"),
            '#' => uri.push_str("%23"),
            c => uri.push(c),
        }
    }
    uri.push_str("?mode=rw");
    uri
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn removed_and_replaced_files_make_older_connections_stale() {
        let dir =
            std::env::temp_dir().join(format!("maintenance-sql-watch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("w.db");
        std::fs::write(&path, b"one").unwrap();
        let watch = FileWatch::new(&path);
        assert!(!watch.has_opened());
        watch.opened();
        assert!(watch.has_opened());
        assert!(watch.is_current(Duration::from_secs(5)));

        std::fs::remove_file(&path).unwrap();
        assert!(!watch.is_current(Duration::ZERO), "the file is gone");

        std::fs::write(&path, b"two").unwrap();
        std::thread::sleep(Duration::from_millis(20));
        assert!(
            !watch.is_current(Duration::from_secs(5)),
            "opened before the file came back"
        );
        assert!(watch.is_current(Duration::ZERO), "opened since");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn existing_files_are_opened_without_creating_them() {
        assert_eq!(open_existing("/tmp/m.db"), "file:///tmp/m.db?mode=rw");
        assert_eq!(open_existing("m.db"), "file:m.db?mode=rw");
        assert_eq!(open_existing("a%b?c#d.db"), "file:a%25b%3fc%23d.db?mode=rw");
        assert_eq!(
            open_existing("file:m.db?cache=shared"),
            "file:m.db?cache=shared&mode=rw"
        );
        assert_eq!(open_existing("file:m.db?mode=ro"), "file:m.db?mode=ro");
    }
}
