//! `connect()`: the scheme picks the backend; a bad URL is refused with a clear message.
#![allow(clippy::unwrap_used)]

use maintenance_diesel::{Backend, DieselBuild, Error};

#[tokio::test]
async fn unknown_scheme_is_refused_naming_the_url_without_its_password() {
    let err = maintenance_diesel::connect("redis://user:hunter2@cache:6379/0")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::UnsupportedUrl { .. }), "{err:?}");
    let msg = err.to_string();
    maintenance_sql::testkit::assert_refused_url_message::<DieselBuild>(
        &msg,
        "redis://user:hunter2@cache:6379/0",
    );
}

#[tokio::test]
async fn an_unreachable_server_names_the_url_without_its_password() {
    for (url, compiled) in [
        (
            "postgres://app:hunter2@127.0.0.1:1/none",
            Backend::Postgres.is_compiled(),
        ),
        (
            "mysql://app:hunter2@127.0.0.1:1/none",
            Backend::MySql.is_compiled(),
        ),
    ] {
        let err = maintenance_diesel::connect(url).await.unwrap_err();
        // The whole chain, the driver's reason included, as the CLI prints it.
        let msg = maintenance_core::ErrorChain(&err).to_string();
        assert!(!msg.contains("hunter2"), "{msg}");
        assert!(msg.contains("app:***@127.0.0.1:1/none"), "{msg}");
        if compiled {
            assert!(matches!(err, Error::Connect { .. }), "{err:?}");
        } else {
            assert!(matches!(err, Error::BackendNotCompiled { .. }), "{err:?}");
        }
    }
}
