//! `connect()`: the backend comes from the URL's scheme; a URL it cannot use is refused with an
//! error naming the URL (without its password) and the schemes this build accepts.
#![allow(clippy::unwrap_used)]

use maintenance_sqlx::{Backend, Error, SqlxBuild};

async fn connect_err(url: &str) -> Error {
    match maintenance_sqlx::connect(url).await {
        Ok(store) => panic!("{url} connected to {}", store.backend()),
        Err(e) => e,
    }
}

#[tokio::test]
async fn unknown_scheme_names_the_url_without_password_and_the_expected_schemes() {
    for url in [
        "redis://app:hunter2@cache:6379/0",
        "mongodb://app:hunter2@db/x",
        "maintenance.db",
    ] {
        let err = connect_err(url).await;
        assert!(matches!(err, Error::UnsupportedUrl { .. }), "{err:?}");
        let msg = err.to_string();
        maintenance_sql::testkit::assert_refused_url_message::<SqlxBuild>(&msg, url);
    }
}

#[tokio::test]
async fn scheme_is_case_insensitive() {
    if Backend::Sqlite.is_compiled() {
        let store = maintenance_sqlx::connect("SQLite::memory:").await.unwrap();
        assert_eq!(store.backend(), Backend::Sqlite);
    }
}

#[tokio::test]
async fn backend_without_its_feature_names_the_feature() {
    for (url, backend) in [
        ("sqlite::memory:", Backend::Sqlite),
        ("postgres://app:hunter2@127.0.0.1:1/x", Backend::Postgres),
        ("mariadb://app:hunter2@127.0.0.1:1/x", Backend::MySql),
    ] {
        if backend.is_compiled() {
            continue;
        }
        let err = connect_err(url).await;
        let msg = err.to_string();
        assert!(matches!(err, Error::BackendNotCompiled { .. }), "{err:?}");
        assert!(
            msg.contains(&format!("`{}` feature", backend.feature())),
            "{msg}"
        );
        assert!(!msg.contains("hunter2"), "{msg}");
    }
}

/// A URL the driver cannot use fails with the URL (without password) and the driver's reason.
#[tokio::test]
async fn unusable_url_names_the_url_without_password() {
    for (url, shown) in [
        (
            "postgres://app:hunter2@127.0.0.1:notaport/x",
            "postgres://app:***@127.0.0.1:notaport/x",
        ),
        (
            "mysql://app:hunter2@127.0.0.1:notaport/x",
            "mysql://app:***@127.0.0.1:notaport/x",
        ),
    ] {
        if !Backend::from_scheme(url).unwrap().is_compiled() {
            continue;
        }
        let err = connect_err(url).await;
        // The whole chain, the driver's reason included, as the CLI prints it.
        let msg = maintenance_core::ErrorChain(&err).to_string();
        assert!(matches!(err, Error::Connect { .. }), "{err:?}");
        assert!(msg.contains(shown), "{msg}");
        assert!(!msg.contains("hunter2"), "{msg}");
        let store_err = maintenance_core::StoreError::from(err);
        assert!(
            std::error::Error::source(&store_err).is_some(),
            "kept as the source"
        );
    }
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn store_is_usable_as_a_trait_object() {
    use std::sync::Arc;

    use maintenance_core::{MaintenanceStore, SiteRef, StateChange};

    let store = maintenance_sqlx::connect("sqlite::memory:").await.unwrap();
    store.migrate().await.unwrap();
    let store: Arc<dyn MaintenanceStore> = Arc::new(store);
    store
        .set_state(&SiteRef::Default, &StateChange::turn_on(), "t")
        .await
        .unwrap();
    assert!(store.site(&SiteRef::Default).await.unwrap().enabled);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

    /// Whatever a password holds (a raw `/ ? # @ :`, `%`, percent-encodings), the error of
    /// `connect` never shows it, through its whole chain of causes (`migrate` is checked
    /// through the binary in the CLI's tests).
    #[test]
    fn connect_errors_never_show_the_password(
        scheme in proptest::sample::select(vec!["postgres", "mysql"]),
        pieces in proptest::collection::vec(
            proptest::sample::select(vec!["a", "Z9", "/", "?", "#", "@", ":", "%", "%40", "%2F", "&", "="]),
            1..10,
        ),
    ) {
        let password = format!("PW{}", pieces.concat());
        let url = format!("{scheme}://app:{password}@127.0.0.1:1/x");
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let shown = runtime.block_on(async {
            let connect = maintenance_sqlx::connect(&url);
            match tokio::time::timeout(std::time::Duration::from_secs(3), connect).await {
                Ok(Err(e)) => maintenance_core::ErrorChain(&e).to_string(),
                Ok(Ok(_)) | Err(_) => String::new(),
            }
        });
        proptest::prop_assert!(!shown.contains("PW"), "{}: {}", url, shown);
    }
}
