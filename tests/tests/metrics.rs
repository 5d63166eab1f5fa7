//! `GET /metrics` on every test project, scraped over HTTP: each decision counted under its
//! outcome and reason, the gauges, and the page itself never blocked.
//!
//! One test walks every server in turn, so that no other server of this process counts
//! between two scrapes and the differences are exact.

use maintenance_core::{SiteRef, StateChange};
use maintenance_tests::http::{Server, client, prometheus_value, start};
use reqwest::StatusCode;

const BLOCKED: &str = r#"maintenance_requests_total{outcome="blocked",reason="maintenance"}"#;
const IGNORED: &str = r#"maintenance_requests_total{outcome="allowed",reason="ignored_path"}"#;
const SUPERUSER: &str = r#"maintenance_requests_total{outcome="allowed",reason="superuser"}"#;
const BYPASS: &str = r#"maintenance_requests_total{outcome="bypass",reason="bypass_header"}"#;

async fn scrape(url: &str) -> String {
    let res = client().get(url).send().await.expect("scrape");
    assert_eq!(res.status(), StatusCode::OK, "GET /metrics");
    res.text().await.expect("metrics page")
}

fn value(page: &str, series: &str) -> f64 {
    prometheus_value(page, series).unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_test_project_counts_its_decisions() {
    for server in [Server::Axum, Server::Hyper, Server::Actix, Server::Rocket] {
        let site = start(server, |_| {}).await;
        site.turn_on().await;
        let secret = "metrics-bypass-secret-0123456789";
        site.store
            .set_bypass_secret_hash(
                &SiteRef::Default,
                Some(&maintenance_core::bypass::hash_secret(secret)),
                "metrics",
            )
            .await
            .expect("bypass secret");
        // Wait until the server has the secret: a request with it passes.
        let mut passed = false;
        for _ in 0..400 {
            let res = site.get("/", &[("x-maintenance-bypass", secret)]).await;
            if res.status() == StatusCode::OK {
                passed = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        assert!(
            passed,
            "{server:?}: the bypass secret never reached the server"
        );

        let before = scrape(&site.url("/metrics")).await;
        for _ in 0..3 {
            assert_eq!(site.status("/").await, StatusCode::SERVICE_UNAVAILABLE);
        }
        for _ in 0..2 {
            assert_eq!(
                site.status("/ignored-page/").await,
                StatusCode::SERVICE_UNAVAILABLE
            );
            assert_eq!(site.status("/healthz").await, StatusCode::OK);
        }
        let superuser = client();
        site.login(&superuser, "super").await;
        let res = superuser.get(site.url("/")).send().await.expect("get");
        assert_eq!(res.status(), StatusCode::OK);
        let res = site.get("/", &[("x-maintenance-bypass", secret)]).await;
        assert_eq!(res.status(), StatusCode::OK);
        let after = scrape(&site.url("/metrics")).await;

        let delta = |series: &str| value(&after, series) - value(&before, series);
        // 3 home pages and 2 ignored pages (not ignored: no pattern for them yet).
        assert_eq!(delta(BLOCKED), 5.0, "{server:?}\n{after}");
        // 2 health checks, the login (`^admin`) and the second scrape.
        assert_eq!(delta(IGNORED), 4.0, "{server:?}\n{after}");
        assert_eq!(delta(SUPERUSER), 1.0, "{server:?}\n{after}");
        assert_eq!(delta(BYPASS), 1.0, "{server:?}\n{after}");
        assert_eq!(
            value(&after, "maintenance_sites_in_maintenance"),
            1.0,
            "{server:?}\n{after}"
        );
        let revision = site.store.revision().await.expect("revision");
        assert_eq!(
            value(&after, "maintenance_snapshot_revision"),
            revision as f64,
            "{server:?}\n{after}"
        );
        assert!(
            after.contains("# TYPE maintenance_requests_total counter"),
            "{after}"
        );

        site.change(&StateChange::turn_off()).await;
        site.wait_for("/", StatusCode::OK).await;
        let off = scrape(&site.url("/metrics")).await;
        assert_eq!(
            value(&off, "maintenance_sites_in_maintenance"),
            0.0,
            "{off}"
        );
    }
}
