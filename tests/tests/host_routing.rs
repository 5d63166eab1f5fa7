//! The site the layer decides for is the site the router picks, for every form a `Host` (or
//! an absolute-form target) can take.
//!
//! Each framework serves two sites by its own host routing: actix-web's `guard::Host`, rocket's
//! `Request::host`, and on axum both `Uri::host` (with the `Host` header when the target has no
//! authority) and the raw `Host` value. A handler answers with the name of the site the router
//! gave it. With one site in maintenance and the other up, a request that reaches the handler
//! of the site in maintenance is a bypass: for every form, in both states, that must never
//! happen. Plain forms must still reach their own site while it is up.
//!
//! The same idea covers paths: rocket routes `/api/items/` to `/api/items`, and tower-http's
//! and actix's `NormalizePath` inside the layer do the same, so a scope anchored with `$` must
//! hold both, and with `trailing_slash_insensitive` an exemption must name both.

use std::net::SocketAddr;
use std::sync::Arc;

use maintenance_core::{Maintenance, MaintenanceStore, MemoryStore, Policy, SiteRef, StateChange};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SHOP: &str = "shop.example";
/// A host that names no site: the default site serves it, and so does the router's default.
const DEFAULT: &str = "example.com";

/// Which of the two sites is in maintenance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Down {
    Shop,
    Default,
}

impl Down {
    fn name(self) -> &'static str {
        match self {
            Down::Shop => "shop",
            Down::Default => "default",
        }
    }
}

async fn handle(down: Down, change: StateChange) -> Maintenance {
    handle_with(down, change, &[], Policy::default()).await
}

/// [`handle`] with ignored patterns on the site in maintenance, and a policy.
async fn handle_with(
    down: Down,
    change: StateChange,
    ignored: &[&str],
    policy: Policy,
) -> Maintenance {
    let store = Arc::new(MemoryStore::new());
    store.add_site(SHOP, None, "test").await.expect("add shop");
    let site = match down {
        Down::Shop => SiteRef::Domain(SHOP.into()),
        Down::Default => SiteRef::Default,
    };
    store
        .set_state(&site, &change, "test")
        .await
        .expect("turn on");
    for pattern in ignored {
        store
            .add_ignored_path(&site, pattern, "", "test")
            .await
            .expect("ignore");
    }
    let maintenance = Maintenance::new(store, policy);
    maintenance.refresh().await.expect("first load");
    maintenance
}

/// One request: the request line's target and the `Host` lines.
struct Case {
    target: String,
    hosts: Vec<Vec<u8>>,
}

impl Case {
    fn host(host: &[u8]) -> Case {
        Case {
            target: "/checkout".into(),
            hosts: vec![host.to_vec()],
        }
    }
    fn absolute(target: &str, host: &str) -> Case {
        Case {
            target: target.into(),
            hosts: vec![host.as_bytes().to_vec()],
        }
    }
    fn label(&self) -> String {
        let hosts: Vec<String> = self
            .hosts
            .iter()
            .map(|h| String::from_utf8_lossy(h).into_owned())
            .collect();
        format!("POST {} Host: {}", self.target, hosts.join(" | "))
    }
}

/// Every form of the review, and ports, case, trailing dots, IPv6 literals, IDN.
fn cases() -> Vec<Case> {
    let mut cases: Vec<Case> = [
        &b"x@shop.example"[..],
        b"a:b@shop.example:80",
        b"@shop.example",
        b"http://shop.example",
        b"https://shop.example/",
        b"shop.example/checkout",
        b"shop.example:80x",
        b"shop%2Eexample",
        b"SHOP.EXAMPLE",
        b"shop.example.",
        b"shop.example:8080",
        b"Shop.Example.:443",
        b"shop.example..",
        b"[::1]",
        b"[::1]:3000",
        b"xn--shp-sna.example",
        "shöp.example".as_bytes(),
        b"x@example.com",
        b"http://example.com",
        b"example.com",
        b"",
    ]
    .iter()
    .map(|h| Case::host(h))
    .collect();
    for (target, host) in [
        ("http://x@shop.example/checkout", "example.com"),
        ("http://shop.example/checkout", "example.com"),
        ("http://example.com/checkout", "shop.example"),
        ("http://a:b@example.com:80/checkout", "shop.example"),
        ("http://SHOP.example:80/checkout", "example.com"),
    ] {
        cases.push(Case::absolute(target, host));
    }
    cases.push(Case {
        target: "/checkout".into(),
        hosts: vec![b"example.com".to_vec(), b"shop.example".to_vec()],
    });
    cases.push(Case {
        target: "/checkout".into(),
        hosts: vec![b"shop.example".to_vec(), b"example.com".to_vec()],
    });
    cases
}

/// Sends one raw HTTP/1.1 request and returns the status and body (empty when the server
/// closed the connection without an answer).
async fn send(addr: SocketAddr, method: &str, target: &str, hosts: &[Vec<u8>]) -> (u16, String) {
    let mut req = format!("{method} {target} HTTP/1.1\r\n").into_bytes();
    for host in hosts {
        req.extend_from_slice(b"Host: ");
        req.extend_from_slice(host);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"Content-Length: 0\r\nConnection: close\r\n\r\n");
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(&req).await.expect("write");
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw).await;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Runs every case against a server in each state and fails on any bypass.
/// With the default site in maintenance for `^api/items$` only, a server that `start` starts
/// (one that serves `/api/items/` as `/api/items`) blocks both forms and serves `/checkout`.
async fn a_trailing_slash_stays_in_the_scope_of(
    start: impl AsyncFnOnce(Maintenance) -> SocketAddr,
) {
    let change = StateChange::turn_on().only(["^api/items$"]);
    let addr = start(handle(Down::Default, change).await).await;
    let host = [DEFAULT.as_bytes().to_vec()];
    for path in ["/api/items", "/api/items/"] {
        let (status, body) = send(addr, "POST", path, &host).await;
        assert_eq!(status, 503, "POST {path}: {body}");
    }
    let (status, body) = send(addr, "POST", "/checkout", &host).await;
    assert_eq!(
        (status, body.as_str()),
        (200, "default"),
        "outside the scope"
    );
}

async fn no_form_reaches_a_site_in_maintenance(
    framework: &str,
    start: impl AsyncFn(Maintenance) -> SocketAddr,
) {
    let mut failures = Vec::new();
    for down in [Down::Shop, Down::Default] {
        let addr = start(handle(down, StateChange::turn_on()).await).await;
        for case in cases() {
            let (status, body) = send(addr, "POST", &case.target, &case.hosts).await;
            if status == 200 && body == down.name() {
                failures.push(format!(
                    "{framework}: {} reached the {} site in maintenance",
                    case.label(),
                    down.name()
                ));
            }
        }
        // Plain hosts still reach the site that is up, and only that one.
        let up = match down {
            Down::Shop => (DEFAULT, "default"),
            Down::Default => (SHOP, "shop"),
        };
        let (status, body) = send(addr, "POST", "/checkout", &[up.0.as_bytes().to_vec()]).await;
        assert_eq!(
            (status, body.as_str()),
            (200, up.1),
            "{framework}: {} is up",
            up.0
        );
        let gone = match down {
            Down::Shop => SHOP,
            Down::Default => DEFAULT,
        };
        let (status, _) = send(addr, "POST", "/checkout", &[gone.as_bytes().to_vec()]).await;
        assert_eq!(status, 503, "{framework}: {gone} is in maintenance");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The site a host names, as a router that compares names does.
fn site_of(host: Option<&str>) -> &'static str {
    let host = host.unwrap_or("");
    let name = host.rsplit_once(':').map_or(host, |(name, _)| name);
    if name.eq_ignore_ascii_case(SHOP) {
        "shop"
    } else {
        "default"
    }
}

mod axum_router {
    use super::*;
    use axum::Router;
    use axum::extract::Request;
    use axum::routing::post;
    use maintenance_axum::MaintenanceLayer;
    use tower::Layer;

    /// `routed` names the site from the request, as the application's router does.
    async fn serve(maintenance: Maintenance, routed: fn(&Request) -> &'static str) -> SocketAddr {
        let app = Router::new()
            .route(
                "/checkout",
                post(move |req: Request| async move { routed(&req) }),
            )
            .route("/api/items", post(|| async { "created" }));
        listen(MaintenanceLayer::new(maintenance).layer(app)).await
    }

    /// Serves `app` on a free port, with the peer address the layer reads.
    async fn listen<S>(app: S) -> SocketAddr
    where
        S: tower::Service<
                Request,
                Response = axum::response::Response,
                Error = std::convert::Infallible,
            > + Clone
            + Send
            + 'static,
        S::Future: Send,
    {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            axum::serve(
                listener,
                axum::ServiceExt::<Request>::into_make_service_with_connect_info::<SocketAddr>(app),
            )
            .await
        });
        addr
    }

    /// hyper and axum code that reads `uri().host()`, else the `Host` header.
    fn by_uri_host(req: &Request) -> &'static str {
        let host = req
            .uri()
            .host()
            .or_else(|| req.headers().get("host").and_then(|v| v.to_str().ok()));
        site_of(host)
    }

    /// Code that compares the raw `Host` value, as axum-extra's `Host` extractor gives it.
    fn by_host_header(req: &Request) -> &'static str {
        site_of(req.headers().get("host").and_then(|v| v.to_str().ok()))
    }

    /// tower-http's `NormalizePath` inside the layer: `/api/items/` reaches `/api/items`.
    async fn serve_trimming(maintenance: Maintenance) -> SocketAddr {
        use tower_http::normalize_path::NormalizePathLayer;
        let app = Router::new()
            .route("/checkout", post(|| async { "default" }))
            .route("/api/items", post(|| async { "created" }));
        listen(
            MaintenanceLayer::new(maintenance)
                .layer(NormalizePathLayer::trim_trailing_slash().layer(app)),
        )
        .await
    }

    #[tokio::test]
    async fn a_trimmed_trailing_slash_stays_in_the_scope() {
        a_trailing_slash_stays_in_the_scope_of(serve_trimming).await;
    }

    /// `^api/items/$` names the path with its slash; the router serves it as `/api/items`.
    /// As django-maintenancemode-2 reads it, the exemption holds; when the policy says the
    /// router trims slashes, it does not, since the route it reaches is not what it names.
    #[tokio::test]
    async fn an_exemption_never_reaches_more_than_it_names_when_slashes_are_trimmed() {
        for (insensitive, want) in [(false, 200), (true, 503)] {
            let policy = Policy::builder()
                .trailing_slash_insensitive(insensitive)
                .build()
                .expect("policy");
            let m = handle_with(
                Down::Default,
                StateChange::turn_on(),
                &["^api/items/$"],
                policy,
            )
            .await;
            let addr = serve_trimming(m).await;
            let host = [DEFAULT.as_bytes().to_vec()];
            let (status, body) = send(addr, "POST", "/api/items/", &host).await;
            assert_eq!(status, want, "insensitive={insensitive}: {body}");
            let (status, _) = send(addr, "POST", "/api/items", &host).await;
            assert_eq!(
                status, 503,
                "insensitive={insensitive}: no pattern names /api/items"
            );
        }
    }

    #[tokio::test]
    async fn uri_host_routing_never_reaches_a_site_in_maintenance() {
        no_form_reaches_a_site_in_maintenance("axum uri().host()", async |m| {
            serve(m, by_uri_host).await
        })
        .await;
    }

    #[tokio::test]
    async fn host_header_routing_never_reaches_a_site_in_maintenance() {
        no_form_reaches_a_site_in_maintenance("axum Host header", async |m| {
            serve(m, by_host_header).await
        })
        .await;
    }
}

mod actix_router {
    use super::*;
    use actix_web::{App, HttpResponse, HttpServer, guard, middleware::NormalizePath, web};
    use maintenance_actix::MaintenanceMode;

    /// An actix-web server on its own thread and system, routing by `guard::Host`, with
    /// `NormalizePath::trim()` inside the maintenance middleware.
    fn serve(maintenance: Maintenance) -> SocketAddr {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = HttpServer::new(move || {
                    App::new()
                        .wrap(NormalizePath::trim())
                        .wrap(MaintenanceMode::new(maintenance.clone()))
                        .service(
                            web::scope("")
                                .guard(guard::Host(SHOP))
                                .route("/checkout", web::post().to(|| async { "shop" })),
                        )
                        .route("/checkout", web::post().to(|| async { "default" }))
                        .route(
                            "/api/items",
                            web::post().to(|| async { HttpResponse::Created().body("created") }),
                        )
                })
                .workers(1)
                .bind(("127.0.0.1", 0))
                .expect("bind");
                tx.send(server.addrs()[0]).expect("send the address");
                server.run().await
            })
        });
        rx.recv().expect("the server's address")
    }

    #[tokio::test]
    async fn guard_host_never_reaches_a_site_in_maintenance() {
        no_form_reaches_a_site_in_maintenance("actix guard::Host", async |m| serve(m)).await;
    }

    #[tokio::test]
    async fn a_normalised_trailing_slash_stays_in_the_scope() {
        a_trailing_slash_stays_in_the_scope_of(async |m| serve(m)).await;
    }
}

mod rocket_router {
    use super::*;
    use maintenance_rocket::MaintenanceFairing;
    use rocket::config::LogLevel;
    use rocket::request::{FromRequest, Outcome};

    /// The site rocket's own `Request::host` names.
    struct RoutedSite(&'static str);

    #[rocket::async_trait]
    impl<'r> FromRequest<'r> for RoutedSite {
        type Error = ();
        async fn from_request(req: &'r rocket::Request<'_>) -> Outcome<Self, ()> {
            Outcome::Success(RoutedSite(site_of(req.host().map(|h| h.domain().as_str()))))
        }
    }

    #[rocket::post("/checkout")]
    fn checkout(site: RoutedSite) -> &'static str {
        site.0
    }

    #[rocket::post("/api/items")]
    fn create_item() -> rocket::response::status::Created<&'static str> {
        rocket::response::status::Created::new("/api/items/1").body("created")
    }

    async fn serve(maintenance: Maintenance) -> SocketAddr {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let config = rocket::Config {
            port,
            address: std::net::Ipv4Addr::LOCALHOST.into(),
            log_level: LogLevel::Off,
            ..rocket::Config::debug_default()
        };
        let rocket = rocket::custom(config)
            .attach(MaintenanceFairing::new(maintenance))
            .mount("/", rocket::routes![checkout, create_item]);
        let ignited = rocket.ignite().await.expect("ignite");
        tokio::spawn(ignited.launch());
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        for _ in 0..200 {
            if TcpStream::connect(addr).await.is_ok() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        addr
    }

    #[tokio::test]
    async fn request_host_never_reaches_a_site_in_maintenance() {
        no_form_reaches_a_site_in_maintenance("rocket Request::host", async |m| serve(m).await)
            .await;
    }

    #[tokio::test]
    async fn a_trailing_slash_stays_in_the_scope() {
        // Rocket routes both to `/api/items`.
        a_trailing_slash_stays_in_the_scope_of(serve).await;
    }
}
