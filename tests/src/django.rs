//! A real Django project with django-maintenancemode-2 (`tests/django/`), for the interop
//! suites: its tables built by the package's own migrations, and its state changed through
//! the Django ORM (`tests/django/orm.py`), as the Django admin changes it.
//!
//! The Python comes from `MAINTENANCE_TEST_DJANGO_PYTHON`: a virtual environment's `python`
//! with Django 4.2 and django-maintenancemode-2 installed (`.ci/run` creates it and sets the
//! variable). Without it a test prints that it was skipped, unless `CI` is set: then it
//! fails and says why, so CI never reports success for a test it did not run.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::databases::fresh_postgres_url;

/// The variable naming the Python of a virtual environment with Django and
/// django-maintenancemode-2.
pub const PYTHON_ENV: &str = "MAINTENANCE_TEST_DJANGO_PYTHON";

/// The venv's Python, or `None` after printing that `test` was skipped.
///
/// # Panics
/// When the variable is unset (or names no file) and `CI` is set: CI must run these tests.
pub fn python(test: &str) -> Option<PathBuf> {
    let why = match std::env::var_os(PYTHON_ENV) {
        Some(p) if Path::new(&p).is_file() => return Some(PathBuf::from(p)),
        Some(p) => format!("{PYTHON_ENV}={} is not a file", Path::new(&p).display()),
        None => format!(
            "{PYTHON_ENV} is not set (a virtual environment's python with Django 4.2 and \
             django-maintenancemode-2; `bash .ci/run` makes one)"
        ),
    };
    if std::env::var_os("CI").is_some() {
        panic!("{test}: {why}; CI must run this test");
    }
    eprintln!("skipped {test}: {why}");
    None
}

/// The Django project's folder, `tests/django`.
pub fn project_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("django")
}

/// A Django project's database, migrated by Django, and the ORM to change it with.
pub struct DjangoDb {
    /// The database URL, as both Django (`DJANGO_DATABASE_URL`, see
    /// `tests/django/interop/settings.py`) and maintenance-rs read it: `sqlite:///abs/path`
    /// or `postgres://...`.
    pub url: String,
    python: PathBuf,
    _dir: Option<tempfile::TempDir>,
}

impl DjangoDb {
    /// A fresh SQLite file, migrated by Django; `None` when skipped (see [`python`]).
    ///
    /// # Panics
    /// When the migrations fail.
    pub async fn sqlite(test: &str) -> Option<DjangoDb> {
        let python = python(test)?;
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!("sqlite://{}", dir.path().join("django.sqlite3").display());
        let db = DjangoDb {
            url,
            python,
            _dir: Some(dir),
        };
        db.orm(&["migrate"]).await;
        Some(db)
    }

    /// A fresh PostgreSQL database, migrated by Django; `None` when skipped (no Python, or no
    /// `MAINTENANCE_TEST_POSTGRES_URL`).
    ///
    /// # Panics
    /// When the database cannot be created or the migrations fail.
    pub async fn postgres(test: &str) -> Option<DjangoDb> {
        let python = python(test)?;
        let url = fresh_postgres_url(test).await?;
        let db = DjangoDb {
            url,
            python,
            _dir: None,
        };
        db.orm(&["migrate"]).await;
        Some(db)
    }

    /// The same database through another URL (another role's), for the servers; the ORM
    /// keeps using `db`'s.
    pub fn with_url(db: &DjangoDb, url: String) -> DjangoDb {
        DjangoDb {
            url,
            python: db.python.clone(),
            _dir: None,
        }
    }

    /// Runs `orm.py` with `args` and returns what it printed; the change is committed when it
    /// returns.
    ///
    /// # Panics
    /// When the command fails, with its output.
    pub async fn orm(&self, args: &[&str]) -> String {
        self.run_orm(args).await.0
    }

    /// Runs `orm.py` with `args` (a change) and returns when its transaction committed, as
    /// the script saw the clock right after the commit.
    ///
    /// # Panics
    /// When the command fails, or does not say when it committed.
    pub async fn orm_committed_at(&self, args: &[&str]) -> std::time::SystemTime {
        let stderr = self.run_orm(args).await.1;
        let secs: f64 = stderr
            .lines()
            .find_map(|l| l.strip_prefix("committed-at "))
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or_else(|| panic!("orm.py {args:?} did not say when it committed:\n{stderr}"));
        std::time::UNIX_EPOCH + std::time::Duration::from_secs_f64(secs)
    }

    async fn run_orm(&self, args: &[&str]) -> (String, String) {
        let output = tokio::process::Command::new(&self.python)
            .arg(project_dir().join("orm.py"))
            .args(args)
            .env("DJANGO_DATABASE_URL", &self.url)
            .stdin(Stdio::null())
            .output()
            .await
            .unwrap_or_else(|e| panic!("run {}: {e}", self.python.display()));
        assert!(
            output.status.success(),
            "orm.py {args:?} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        (
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }
}
