//! `testproject-tonic` over real TCP with tonic's own client: `SayHello` passes when off and
//! fails with UNAVAILABLE and the site's message when on, the health service always answers,
//! `:authority` picks the site, and internal networks pass.

use std::time::Duration;

use maintenance_core::{MaintenanceStore, SiteRef, StateChange};
use maintenance_examples::tonic_app::{self, HelloReply, HelloRequest, SAY_HELLO};
use maintenance_examples::{Config, open_store};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

struct GrpcSite {
    addr: std::net::SocketAddr,
    maintenance: maintenance_core::Maintenance,
    store: std::sync::Arc<dyn MaintenanceStore>,
    server: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Drop for GrpcSite {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn start(configure: impl FnOnce(&mut Config)) -> GrpcSite {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("maintenance.db").display());
    let mut config = Config {
        database_url: url.clone(),
        bind: "127.0.0.1:0".parse().expect("bind"),
        poll_interval: Duration::from_millis(25),
        ..Config::default()
    };
    configure(&mut config);
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .expect("listen");
    let addr = listener.local_addr().expect("address");
    let (app, maintenance) = tonic_app::build(&config).await.expect("tonic app");
    let maintenance = maintenance.expect("the layer is on");
    let server = tokio::spawn(async move {
        let _ = tonic_app::serve(listener, app).await;
    });
    let store = open_store(&url).await.expect("store");
    GrpcSite {
        addr,
        maintenance,
        store,
        server,
        _dir: dir,
    }
}

impl GrpcSite {
    /// A channel to the server whose `:authority` is `authority` (the address itself if
    /// `None`).
    async fn channel(&self, authority: Option<&str>) -> Channel {
        let mut endpoint =
            Endpoint::from_shared(format!("http://{}", self.addr)).expect("endpoint");
        if let Some(authority) = authority {
            endpoint = endpoint.origin(format!("http://{authority}").parse().expect("origin"));
        }
        endpoint.connect().await.expect("connect")
    }

    async fn say_hello(&self, authority: Option<&str>) -> Result<String, Status> {
        let mut grpc = tonic::client::Grpc::new(self.channel(authority).await);
        grpc.ready().await.expect("ready");
        let reply: tonic::Response<HelloReply> = grpc
            .unary(
                tonic::Request::new(HelloRequest {
                    name: "Ferris".into(),
                }),
                tonic::codegen::http::uri::PathAndQuery::from_static(SAY_HELLO),
                tonic_prost::ProstCodec::default(),
            )
            .await?;
        Ok(reply.into_inner().message)
    }

    /// Waits until `SayHello` on `authority` gives `want` (an answer or a status code).
    async fn wait_for(&self, authority: Option<&str>, want: Option<Code>) {
        for _ in 0..400 {
            let got = self.say_hello(authority).await.err().map(|s| s.code());
            if got == want {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("SayHello on {authority:?} never gave {want:?} within 10 s");
    }

    /// Applies `change` to `site` through the second connection, as an operator would.
    async fn change(&self, site: &SiteRef, change: &StateChange) {
        self.store
            .set_state(site, change, "ops")
            .await
            .expect("set_state");
    }

    /// `GET path` over HTTP/1.1: the body of its 200 answer.
    async fn http_get(&self, path: &str) -> String {
        let res = reqwest::get(format!("http://{}{path}", self.addr))
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        assert_eq!(res.status(), 200, "GET {path}");
        res.text().await.expect("body")
    }

    async fn health(&self, service: &str) -> ServingStatus {
        let mut client = HealthClient::new(self.channel(None).await);
        let res = client
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .expect("health check");
        res.into_inner().status()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn say_hello_passes_when_off_and_is_unavailable_when_on() {
    let site = start(|_| {}).await;
    assert_eq!(site.say_hello(None).await.expect("hello"), "Hello Ferris!");

    site.change(
        &SiteRef::Default,
        &StateChange::turn_on().message("Back at 5 — 100% sure"),
    )
    .await;
    site.wait_for(None, Some(Code::Unavailable)).await;
    let status = site.say_hello(None).await.expect_err("blocked");
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(status.message(), "Back at 5 — 100% sure");

    site.change(&SiteRef::Default, &StateChange::turn_off())
        .await;
    site.wait_for(None, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_served_during_maintenance() {
    let site = start(|_| {}).await;
    site.change(&SiteRef::Default, &StateChange::turn_on())
        .await;
    site.wait_for(None, Some(Code::Unavailable)).await;
    let status = site.say_hello(None).await.expect_err("blocked");
    assert_eq!(
        status.message(),
        "Sorry, the service is temporarily down for maintenance"
    );
    assert_eq!(site.health("").await, ServingStatus::Serving);
    // The HTTP probes and the metrics answer too, over HTTP/1.1.
    assert_eq!(site.http_get("/healthz").await, "ok");
    let page = site.http_get("/metrics").await;
    let blocked = maintenance_tests::http::prometheus_value(
        &page,
        r#"maintenance_requests_total{outcome="blocked",reason="maintenance"}"#,
    );
    assert!(blocked.is_some_and(|n| n >= 1.0), "{page}");
    assert_eq!(
        site.health("helloworld.Greeter").await,
        ServingStatus::Serving
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authority_picks_the_site() {
    let site = start(|_| {}).await;
    site.store
        .add_site("shop.example", None, "ops")
        .await
        .expect("site");
    site.change(
        &SiteRef::Domain("shop.example".into()),
        &StateChange::turn_on().message("The shop is closed"),
    )
    .await;
    site.wait_for(Some("shop.example"), Some(Code::Unavailable))
        .await;
    let status = site
        .say_hello(Some("shop.example:50051"))
        .await
        .expect_err("blocked");
    assert_eq!(status.message(), "The shop is closed");
    // The default site is not in maintenance.
    assert_eq!(
        site.say_hello(Some("other.example")).await.expect("hello"),
        "Hello Ferris!"
    );
    assert_eq!(site.say_hello(None).await.expect("hello"), "Hello Ferris!");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_networks_pass() {
    let site = start(|c| c.internal_ips = vec!["127.0.0.1".into()]).await;
    site.change(&SiteRef::Default, &StateChange::turn_on())
        .await;
    // Once the server's handle has the change, the peer address is the only thing that lets
    // this client through.
    let mut changes = site.maintenance.watch();
    while !site.maintenance.is_in_maintenance("127.0.0.1") {
        tokio::time::timeout(Duration::from_secs(10), changes.changed())
            .await
            .expect("the change reaches the server")
            .expect("handle alive");
    }
    assert_eq!(site.say_hello(None).await.expect("hello"), "Hello Ferris!");
}
