#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod bulk;
pub mod change_feed;
pub mod conn;
pub mod django;
pub mod engine;
pub mod feed_conn;
pub mod listing;
pub mod migrations;
pub mod rows;
pub mod sqlite_file;
pub mod startup;
pub mod statements;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod url;

#[doc(hidden)]
pub use async_trait::async_trait as __async_trait;
#[doc(hidden)]
pub use maintenance_core as __core;

/// Implements [`MaintenanceSource`](maintenance_core::MaintenanceSource) and
/// [`MaintenanceStore`](maintenance_core::MaintenanceStore) for a type that implements
/// [`Engine`](engine::Engine), each call running the steps of [`engine`] over its SQL.
///
/// With `=> field`, the engine is that field of the store rather than the store itself:
///
/// ```ignore
/// maintenance_sql::sql_store!(PgStore);        // PgStore: Engine
/// maintenance_sql::sql_store!(PgStore => sql); // PgStore { sql: impl Engine, .. }
/// ```
#[macro_export]
macro_rules! sql_store {
    ($store:ty $(=> $field:ident)?) => {
        #[$crate::__async_trait]
        impl $crate::__core::MaintenanceSource for $store {
            async fn load(
                &self,
            ) -> ::std::result::Result<
                $crate::__core::store::StoreContents,
                $crate::__core::StoreError,
            > {
                $crate::engine::load(&(*self)$(.$field)?).await
            }

            async fn revision(&self) -> ::std::result::Result<i64, $crate::__core::StoreError> {
                $crate::engine::revision(&(*self)$(.$field)?).await
            }

            async fn changes_since(
                &self,
                since: i64,
            ) -> ::std::result::Result<
                ::std::option::Option<$crate::__core::store::StoreChanges>,
                $crate::__core::StoreError,
            > {
                $crate::engine::changes_since(&(*self)$(.$field)?, since).await
            }

            async fn subscribe(
                &self,
            ) -> ::std::result::Result<
                ::std::option::Option<$crate::__core::store::ChangeFeed>,
                $crate::__core::StoreError,
            > {
                $crate::engine::Engine::change_feed(&(*self)$(.$field)?).await
            }
        }

        #[$crate::__async_trait]
        impl $crate::__core::MaintenanceStore for $store {
            async fn add_site(
                &self,
                domain: &str,
                name: ::std::option::Option<&str>,
                actor: &str,
            ) -> ::std::result::Result<$crate::__core::SiteState, $crate::__core::StoreError> {
                $crate::engine::add_site(&(*self)$(.$field)?, domain, name, actor).await
            }

            async fn remove_site(
                &self,
                domain: &str,
                actor: &str,
            ) -> ::std::result::Result<(), $crate::__core::StoreError> {
                $crate::engine::remove_site(&(*self)$(.$field)?, domain, actor).await
            }

            async fn set_state(
                &self,
                site: &$crate::__core::SiteRef,
                change: &$crate::__core::StateChange,
                actor: &str,
            ) -> ::std::result::Result<$crate::__core::SiteState, $crate::__core::StoreError> {
                $crate::engine::set_state(&(*self)$(.$field)?, site, change, actor).await
            }

            async fn set_state_if(
                &self,
                site: &$crate::__core::SiteRef,
                expected: &$crate::__core::StateChange,
                change: &$crate::__core::StateChange,
                actor: &str,
            ) -> ::std::result::Result<
                $crate::__core::store::GuardedWrite,
                $crate::__core::StoreError,
            > {
                $crate::engine::set_state_if(&(*self)$(.$field)?, site, expected, change, actor).await
            }

            async fn record_event(
                &self,
                site: &$crate::__core::SiteRef,
                action: $crate::__core::AuditAction,
                detail: &str,
                actor: &str,
            ) -> ::std::result::Result<(), $crate::__core::StoreError> {
                $crate::engine::record_event(&(*self)$(.$field)?, site, action, detail, actor).await
            }

            async fn add_ignored_path(
                &self,
                site: &$crate::__core::SiteRef,
                pattern: &str,
                description: &str,
                actor: &str,
            ) -> ::std::result::Result<(), $crate::__core::StoreError> {
                $crate::engine::add_ignored_path(&(*self)$(.$field)?, site, pattern, description, actor).await
            }

            async fn remove_ignored_path(
                &self,
                site: &$crate::__core::SiteRef,
                pattern: &str,
                actor: &str,
            ) -> ::std::result::Result<(), $crate::__core::StoreError> {
                $crate::engine::remove_ignored_path(&(*self)$(.$field)?, site, pattern, actor).await
            }

            async fn add_allowed_network(
                &self,
                site: &$crate::__core::SiteRef,
                network: &str,
                description: &str,
                actor: &str,
            ) -> ::std::result::Result<(), $crate::__core::StoreError> {
                $crate::engine::add_allowed_network(&(*self)$(.$field)?, site, network, description, actor).await
            }

            async fn remove_allowed_network(
                &self,
                site: &$crate::__core::SiteRef,
                network: &str,
                actor: &str,
            ) -> ::std::result::Result<(), $crate::__core::StoreError> {
                $crate::engine::remove_allowed_network(&(*self)$(.$field)?, site, network, actor).await
            }

            async fn set_bypass_secret_hash(
                &self,
                site: &$crate::__core::SiteRef,
                hash: ::std::option::Option<&str>,
                actor: &str,
            ) -> ::std::result::Result<(), $crate::__core::StoreError> {
                $crate::engine::set_bypass_secret_hash(&(*self)$(.$field)?, site, hash, actor).await
            }

            async fn events(
                &self,
                site: ::std::option::Option<&$crate::__core::SiteRef>,
                limit: u32,
            ) -> ::std::result::Result<
                ::std::vec::Vec<$crate::__core::Event>,
                $crate::__core::StoreError,
            > {
                $crate::engine::events(&(*self)$(.$field)?, site, limit).await
            }

            async fn add_tags(
                &self,
                site: &$crate::__core::SiteRef,
                tags: &[::std::string::String],
                actor: &str,
            ) -> ::std::result::Result<$crate::__core::SiteState, $crate::__core::StoreError> {
                $crate::engine::add_tags(&(*self)$(.$field)?, site, tags, actor).await
            }

            async fn remove_tags(
                &self,
                site: &$crate::__core::SiteRef,
                tags: &[::std::string::String],
                actor: &str,
            ) -> ::std::result::Result<$crate::__core::SiteState, $crate::__core::StoreError> {
                $crate::engine::remove_tags(&(*self)$(.$field)?, site, tags, actor).await
            }

            async fn set_state_many(
                &self,
                sites: &$crate::__core::SiteSelection,
                change: &$crate::__core::StateChange,
                actor: &str,
            ) -> ::std::result::Result<
                ::std::vec::Vec<$crate::__core::SiteState>,
                $crate::__core::StoreError,
            > {
                $crate::bulk::set_state_many(&(*self)$(.$field)?, sites, change, actor).await
            }

            async fn list_sites(
                &self,
                query: &$crate::__core::SiteQuery,
            ) -> ::std::result::Result<$crate::__core::SitePage, $crate::__core::StoreError> {
                $crate::listing::list_sites(&(*self)$(.$field)?, query).await
            }
        }
    };
}
