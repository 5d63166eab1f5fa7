//! [`any_store!`](crate::any_store): a store's enum over its compiled-in backends, each call
//! handed to the store of the backend in use.

/// Declares a store's enum over its per-backend stores, chosen at run time, with `backend()`,
/// `migrate()`, a `From` impl per backend and the core's traits.
///
/// Each variant is named after its [`Backend`](crate::url::Backend) and carries the
/// `#[cfg(feature = ...)]` of its store, evaluated in the crate that expands the macro; the
/// short form `{ sqlite: SqliteStore, postgres: PgStore, mysql: MySqlStore }` declares the
/// three behind the features `sqlite`, `postgres` and `mysql`. The
/// per-backend stores implement [`Engine`](crate::engine::Engine) (their core traits come from
/// [`sql_store!`](crate::sql_store)) and have `async fn migrate(&self) -> Result<(), $error>`;
/// the enum's [`Engine`](crate::engine::Engine) hands each read and write to the one in use.
///
/// ```ignore
/// maintenance_sql::any_store! {
///     /// A maintenance store on any compiled-in backend.
///     pub enum SqlxStore: SqlxBuild, Error {
///         /// SQLite.
///         #[cfg(feature = "sqlite")]
///         Sqlite(SqliteStore),
///     }
/// }
/// ```
#[macro_export]
macro_rules! any_store {
    (
        $(#[doc = $doc:literal])*
        pub enum $name:ident: $build:ty, $error:ty {
            sqlite: $sqlite:ty,
            postgres: $postgres:ty,
            mysql: $mysql:ty $(,)?
        }
    ) => {
        $crate::any_store! {
            $(#[doc = $doc])*
            pub enum $name: $build, $error {
                /// SQLite.
                #[cfg(feature = "sqlite")]
                Sqlite($sqlite),
                /// PostgreSQL.
                #[cfg(feature = "postgres")]
                Postgres($postgres),
                /// MariaDB or MySQL.
                #[cfg(feature = "mysql")]
                MySql($mysql),
            }
        }
    };
    (
        $(#[doc = $doc:literal])*
        pub enum $name:ident: $build:ty, $error:ty {
            $(
                $(#[doc = $vdoc:literal])*
                #[cfg($cfg:meta)]
                $variant:ident($store:ty)
            ),* $(,)?
        }
    ) => {
        $(#[doc = $doc])*
        #[derive(Debug, Clone)]
        #[non_exhaustive]
        pub enum $name {
            $(
                $(#[doc = $vdoc])*
                #[cfg($cfg)]
                $variant($store),
            )*
        }

        impl $name {
            /// The backend in use.
            pub fn backend(&self) -> $crate::url::Backend<$build> {
                match *self {
                    $(#[cfg($cfg)] $name::$variant(_) => $crate::url::Backend::$variant,)*
                }
            }

            /// Runs the backend's embedded migrations and makes sure the default site exists.
            /// Safe to run again, and from several servers at once.
            pub async fn migrate(&self) -> ::std::result::Result<(), $error> {
                match *self {
                    $(#[cfg($cfg)] $name::$variant(ref s) => s.migrate().await,)*
                }
            }

            fn engine(&self) -> &dyn $crate::engine::Engine {
                match *self {
                    $(#[cfg($cfg)] $name::$variant(ref s) => s,)*
                }
            }
        }

        $(
            #[cfg($cfg)]
            impl ::std::convert::From<$store> for $name {
                fn from(store: $store) -> Self {
                    $name::$variant(store)
                }
            }
        )*

        #[$crate::__async_trait]
        impl $crate::engine::Engine for $name {
            async fn begin_write(
                &self,
            ) -> ::std::result::Result<
                ::std::boxed::Box<dyn $crate::engine::WriteTx + '_>,
                $crate::__core::StoreError,
            > {
                self.engine().begin_write().await
            }

            async fn read_all(
                &self,
            ) -> ::std::result::Result<$crate::rows::Rows, $crate::__core::StoreError> {
                self.engine().read_all().await
            }

            async fn read_changes(
                &self,
                since: i64,
            ) -> ::std::result::Result<
                ::std::option::Option<$crate::engine::ChangeRows>,
                $crate::__core::StoreError,
            > {
                self.engine().read_changes(since).await
            }

            async fn read_revision(
                &self,
            ) -> ::std::result::Result<::std::option::Option<i64>, $crate::__core::StoreError>
            {
                self.engine().read_revision().await
            }

            async fn read_site_domain(
                &self,
                key: &$crate::engine::SiteKey,
            ) -> ::std::result::Result<
                ::std::option::Option<::std::string::String>,
                $crate::__core::StoreError,
            > {
                self.engine().read_site_domain(key).await
            }

            async fn read_events(
                &self,
                domain: ::std::option::Option<&str>,
                limit: i64,
            ) -> ::std::result::Result<
                ::std::vec::Vec<$crate::__core::Event>,
                $crate::__core::StoreError,
            > {
                self.engine().read_events(domain, limit).await
            }

            async fn change_feed(
                &self,
            ) -> ::std::result::Result<
                ::std::option::Option<$crate::__core::store::ChangeFeed>,
                $crate::__core::StoreError,
            > {
                self.engine().change_feed().await
            }

            fn no_revision_row(&self) -> $crate::__core::StoreError {
                self.engine().no_revision_row()
            }

            async fn read_listing(
                &self,
                query: &$crate::__core::SiteQuery,
            ) -> ::std::result::Result<
                ::std::option::Option<(u64, $crate::rows::Rows)>,
                $crate::__core::StoreError,
            > {
                self.engine().read_listing(query).await
            }
        }

        $crate::sql_store!($name);
    };
}
