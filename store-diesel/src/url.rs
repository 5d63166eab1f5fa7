//! Database URLs: the backends this build includes, over [`maintenance_sql::url`].
//!
//! ```
//! use maintenance_diesel::redact_url;
//! assert_eq!(redact_url("postgres://app:s3cret@db:5432/x"), "postgres://app:***@db:5432/x");
//! assert_eq!(redact_url("mysql://root@db/x?password=s3cret&ssl-mode=required"),
//!            "mysql://root@db/x?password=***&ssl-mode=required");
//! assert_eq!(redact_url("sqlite://maintenance.db"), "sqlite://maintenance.db");
//! ```

maintenance_sql::backends!(DieselBuild, "maintenance-diesel", crate::Error);
