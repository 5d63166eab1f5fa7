//! Database URLs: the backends this build includes, over [`maintenance_sql::url`].
//!
//! ```
//! use maintenance_sqlx::Backend;
//! assert_eq!(Backend::from_scheme("postgresql://db/x"), Some(Backend::Postgres));
//! assert_eq!(Backend::from_scheme("MariaDB://db/x"), Some(Backend::MySql));
//! assert_eq!(Backend::from_scheme("sqlite::memory:"), Some(Backend::Sqlite));
//! assert_eq!(Backend::from_scheme("redis://db"), None);
//! ```

maintenance_sql::backends!(SqlxBuild, "maintenance-sqlx", crate::Error);
