//! The tables as diesel sees them on each backend: the same columns everywhere, each backend
//! with its native timestamp type (text on SQLite, `TIMESTAMPTZ` on PostgreSQL, `DATETIME(6)`
//! on MariaDB/MySQL). The migrations (maintenance-sql's `migrations/`) create them.

/// Declares the seven tables, with `$time` as the timestamp type and `$revision_id` as the type
/// of the revision row's key.
macro_rules! maintenance_tables {
    ($time:ident, $revision_id:ident) => {
        diesel::table! {
            use diesel::sql_types::*;
            maintenance_sites (id) {
                id -> BigInt,
                domain -> Text,
                name -> Text,
                is_default -> Bool,
                enabled -> Bool,
                mode -> Text,
                message -> Nullable<Text>,
                starts_at -> Nullable<$time>,
                ends_at -> Nullable<$time>,
                retry_after_secs -> Nullable<BigInt>,
                bypass_secret_hash -> Nullable<Text>,
                updated_at -> Nullable<$time>,
                updated_by -> Nullable<Text>,
            }
        }

        diesel::table! {
            use diesel::sql_types::*;
            maintenance_ignored_paths (id) {
                id -> BigInt,
                site_id -> BigInt,
                pattern -> Text,
                description -> Text,
            }
        }

        diesel::table! {
            use diesel::sql_types::*;
            maintenance_allowed_networks (id) {
                id -> BigInt,
                site_id -> BigInt,
                cidr -> Text,
                description -> Text,
            }
        }

        diesel::table! {
            use diesel::sql_types::*;
            maintenance_events (id) {
                id -> BigInt,
                site_id -> Nullable<BigInt>,
                site_domain -> Nullable<Text>,
                at -> $time,
                actor -> Text,
                action -> Text,
                detail -> Text,
            }
        }

        diesel::table! {
            use diesel::sql_types::*;
            maintenance_site_changes (site_id) {
                site_id -> BigInt,
                version -> BigInt,
                removed -> Bool,
            }
        }

        diesel::table! {
            use diesel::sql_types::*;
            maintenance_site_scopes (site_id) {
                site_id -> BigInt,
                scope_patterns -> Text,
            }
        }

        // Site rows are read with their scope row joined.
        diesel::joinable!(maintenance_site_scopes -> maintenance_sites (site_id));

        // The changed sites are read with subselects on this table.
        diesel::allow_tables_to_appear_in_same_query!(
            maintenance_site_changes,
            maintenance_sites,
            maintenance_site_scopes,
            maintenance_ignored_paths,
            maintenance_allowed_networks,
        );

        diesel::table! {
            use diesel::sql_types::*;
            maintenance_revision (id) {
                id -> $revision_id,
                revision -> BigInt,
            }
        }
    };
}

/// SQLite: timestamps are RFC 3339 text, as maintenance-sqlx writes them.
#[cfg(feature = "sqlite")]
pub(crate) mod sqlite {
    maintenance_tables!(Text, Integer);
}

/// PostgreSQL: `TIMESTAMPTZ`.
#[cfg(feature = "postgres")]
pub(crate) mod postgres {
    maintenance_tables!(Timestamptz, SmallInt);
}

/// MariaDB/MySQL: `DATETIME(6)` holding UTC.
#[cfg(feature = "mysql")]
pub(crate) mod mysql {
    maintenance_tables!(Datetime, SmallInt);
}
