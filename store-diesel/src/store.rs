//! [`impl_maintenance_store!`]: the `MaintenanceStore` implementation every backend type shares,
//! handing each call to the functions of [`maintenance_core::sqlstore`].

/// Implements [`maintenance_core::MaintenanceStore`] for a type that implements
/// [`maintenance_core::sqlstore::Engine`].
macro_rules! impl_maintenance_store {
    ($ty:ty) => {
        #[async_trait::async_trait]
        impl maintenance_core::MaintenanceStore for $ty {
            async fn load(
                &self,
            ) -> Result<maintenance_core::StoreContents, maintenance_core::StoreError> {
                maintenance_core::sqlstore::load(self).await
            }

            async fn revision(&self) -> Result<i64, maintenance_core::StoreError> {
                maintenance_core::sqlstore::revision(self).await
            }

            async fn subscribe(
                &self,
            ) -> Result<Option<maintenance_core::ChangeFeed>, maintenance_core::StoreError> {
                maintenance_core::sqlstore::Engine::change_feed(self).await
            }

            async fn add_site(
                &self,
                domain: &str,
                name: Option<&str>,
                actor: &str,
            ) -> Result<maintenance_core::SiteState, maintenance_core::StoreError> {
                maintenance_core::sqlstore::add_site(self, domain, name, actor).await
            }

            async fn remove_site(
                &self,
                domain: &str,
                actor: &str,
            ) -> Result<(), maintenance_core::StoreError> {
                maintenance_core::sqlstore::remove_site(self, domain, actor).await
            }

            async fn set_state(
                &self,
                site: &maintenance_core::SiteRef,
                change: &maintenance_core::StateChange,
                actor: &str,
            ) -> Result<maintenance_core::SiteState, maintenance_core::StoreError> {
                maintenance_core::sqlstore::set_state(self, site, change, actor).await
            }

            async fn add_ignored_path(
                &self,
                site: &maintenance_core::SiteRef,
                pattern: &str,
                description: &str,
                actor: &str,
            ) -> Result<(), maintenance_core::StoreError> {
                maintenance_core::sqlstore::add_ignored_path(
                    self,
                    site,
                    pattern,
                    description,
                    actor,
                )
                .await
            }

            async fn remove_ignored_path(
                &self,
                site: &maintenance_core::SiteRef,
                pattern: &str,
                actor: &str,
            ) -> Result<(), maintenance_core::StoreError> {
                maintenance_core::sqlstore::remove_ignored_path(self, site, pattern, actor).await
            }

            async fn add_allowed_network(
                &self,
                site: &maintenance_core::SiteRef,
                network: &str,
                description: &str,
                actor: &str,
            ) -> Result<(), maintenance_core::StoreError> {
                maintenance_core::sqlstore::add_allowed_network(
                    self,
                    site,
                    network,
                    description,
                    actor,
                )
                .await
            }

            async fn remove_allowed_network(
                &self,
                site: &maintenance_core::SiteRef,
                network: &str,
                actor: &str,
            ) -> Result<(), maintenance_core::StoreError> {
                maintenance_core::sqlstore::remove_allowed_network(self, site, network, actor).await
            }

            async fn set_bypass_secret_hash(
                &self,
                site: &maintenance_core::SiteRef,
                hash: Option<&str>,
                actor: &str,
            ) -> Result<(), maintenance_core::StoreError> {
                maintenance_core::sqlstore::set_bypass_secret_hash(self, site, hash, actor).await
            }

            async fn events(
                &self,
                site: Option<&maintenance_core::SiteRef>,
                limit: u32,
            ) -> Result<Vec<maintenance_core::Event>, maintenance_core::StoreError> {
                maintenance_core::sqlstore::events(self, site, limit).await
            }
        }
    };
}
pub(crate) use impl_maintenance_store;
