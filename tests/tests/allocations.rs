//! A request that passes costs the maintenance layer no allocation, on every adapter: the same
//! requests go through the same app with and without the layer (and its identity hook, which
//! allocates whenever it runs), driven in-process on one thread, and a counting allocator
//! counts what that thread allocates.
//!
//! Each app is warmed up first (lazy statics, the snapshot's per-thread slots), then each side
//! runs [`REQUESTS`] requests built beforehand; the counts must be equal. The blocked path's
//! count is printed for the record: it allocates (a response, its headers), but never renders
//! its page again.

use std::future::Future;
use std::net::SocketAddr;

use maintenance_core::testkit::memory_handle;
use maintenance_core::{Identity, Maintenance, Policy};

const REQUESTS: usize = 200;
const WARM_UP: usize = 20;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

/// What this thread allocates while `block_on` runs `work` to completion.
fn allocations<F: Future>(block_on: impl FnOnce(F) -> F::Output, work: F) -> u64 {
    allocation_counter::measure(|| {
        block_on(work);
    })
    .count_total
}

/// An identity hook that allocates every time it runs, as a session lookup does.
fn costly_identity(cookie: Option<&str>) -> Identity {
    let owned: Option<String> = cookie.map(str::to_owned);
    match owned.as_deref() {
        Some("session=staff") => Identity::Staff,
        _ => Identity::Anonymous,
    }
}

fn assert_none_added(adapter: &str, with: u64, without: u64) {
    eprintln!(
        "{adapter}: {REQUESTS} allowed requests: {without} allocations without the layer, {with} with it"
    );
    assert_eq!(
        with,
        without,
        "{adapter}: the layer allocated {} times over {REQUESTS} requests that passed",
        with as i64 - without as i64
    );
}

async fn handle(on: bool) -> Maintenance {
    memory_handle(on, Policy::default()).await.0
}

mod axum_adapter {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::extract::ConnectInfo;
    use axum::routing::get;
    use http_body_util::BodyExt;
    use maintenance_axum::{MaintenanceLayer, MaintenanceService};
    use tower::util::Either;
    use tower::{Layer, ServiceExt};

    /// The routes, and the layer around them as a whole (as the crate's docs recommend:
    /// `Router::layer` would box every route once more, an allocation of axum's).
    fn app(maintenance: Option<Maintenance>) -> Either<MaintenanceService<Router>, Router> {
        let app = Router::new().route("/", get(|| async { "This is the home view." }));
        match maintenance {
            Some(m) => Either::Left(
                MaintenanceLayer::new(m)
                    .with_identity(|parts| {
                        costly_identity(parts.headers.get("cookie").and_then(|v| v.to_str().ok()))
                    })
                    .layer(app),
            ),
            None => Either::Right(app),
        }
    }

    fn requests(n: usize) -> Vec<axum::http::Request<Body>> {
        (0..n)
            .map(|_| {
                let mut req = axum::http::Request::builder()
                    .uri("/")
                    .header("host", "example.com")
                    .header("cookie", "session=abc")
                    .body(Body::empty())
                    .expect("a request");
                req.extensions_mut()
                    .insert(ConnectInfo(SocketAddr::from(([198, 51, 100, 7], 40000))));
                req
            })
            .collect()
    }

    type App = Either<MaintenanceService<Router>, Router>;

    async fn drive(app: App, requests: Vec<axum::http::Request<Body>>, status: u16) {
        for req in requests {
            let res = app.clone().oneshot(req).await.expect("infallible");
            assert_eq!(res.status(), status);
            res.into_body().collect().await.expect("a body");
        }
    }

    fn count(rt: &tokio::runtime::Runtime, app: &App, status: u16) -> u64 {
        rt.block_on(drive(app.clone(), requests(WARM_UP), status));
        let reqs = requests(REQUESTS);
        allocations(|f| rt.block_on(f), drive(app.clone(), reqs, status))
    }

    #[test]
    fn a_request_that_passes_allocates_nothing_more() {
        let rt = runtime();
        let with = app(Some(rt.block_on(handle(false))));
        let without = app(None);
        assert_none_added("axum", count(&rt, &with, 200), count(&rt, &without, 200));

        let blocked = app(Some(rt.block_on(handle(true))));
        let n = count(&rt, &blocked, 503);
        eprintln!("axum: {REQUESTS} blocked requests: {n} allocations");
    }
}

mod actix_adapter {
    use super::*;
    use actix_web::dev::{Service, ServiceResponse};
    use actix_web::test::{TestRequest, init_service, read_body};
    use actix_web::{App, HttpResponse, web};
    use maintenance_actix::MaintenanceMode;

    async fn home() -> HttpResponse {
        HttpResponse::Ok().body("This is the home view.")
    }

    fn requests(n: usize) -> Vec<actix_http::Request> {
        (0..n)
            .map(|_| {
                TestRequest::get()
                    .uri("/")
                    .insert_header(("host", "example.com"))
                    .insert_header(("cookie", "session=abc"))
                    .peer_addr(SocketAddr::from(([198, 51, 100, 7], 40000)))
                    .to_request()
            })
            .collect()
    }

    async fn drive<S, B>(app: &S, requests: Vec<actix_http::Request>, status: u16)
    where
        S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
        B: actix_web::body::MessageBody,
    {
        for req in requests {
            let res = app.call(req).await.expect("a response");
            assert_eq!(res.status().as_u16(), status);
            read_body(res).await;
        }
    }

    fn count<S, B>(system: &actix_web::rt::SystemRunner, app: &S, status: u16) -> u64
    where
        S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
        B: actix_web::body::MessageBody,
    {
        system.block_on(drive(app, requests(WARM_UP), status));
        let reqs = requests(REQUESTS);
        allocations(|f| system.block_on(f), drive(app, reqs, status))
    }

    fn middleware(maintenance: Maintenance) -> MaintenanceMode {
        MaintenanceMode::new(maintenance).with_identity(|req| {
            costly_identity(req.headers().get("cookie").and_then(|v| v.to_str().ok()))
        })
    }

    #[test]
    fn a_request_that_passes_allocates_nothing_more() {
        let system = actix_web::rt::System::new();
        let off = system.block_on(handle(false));
        let on = system.block_on(handle(true));
        let with = system.block_on(init_service(
            App::new()
                .wrap(middleware(off))
                .route("/", web::get().to(home)),
        ));
        let without = system.block_on(init_service(App::new().route("/", web::get().to(home))));
        let blocked = system.block_on(init_service(
            App::new()
                .wrap(middleware(on))
                .route("/", web::get().to(home)),
        ));
        assert_none_added(
            "actix-web",
            count(&system, &with, 200),
            count(&system, &without, 200),
        );
        let n = count(&system, &blocked, 503);
        eprintln!("actix-web: {REQUESTS} blocked requests: {n} allocations");
    }
}

mod rocket_adapter {
    use super::*;
    use maintenance_rocket::MaintenanceFairing;
    use rocket::http::Header;
    use rocket::local::asynchronous::{Client, LocalRequest};

    #[rocket::get("/")]
    fn home() -> &'static str {
        "This is the home view."
    }

    async fn client(maintenance: Option<Maintenance>) -> Client {
        let config = rocket::Config {
            log_level: rocket::config::LogLevel::Off,
            ..rocket::Config::debug_default()
        };
        let mut app = rocket::custom(config).mount("/", rocket::routes![home]);
        if let Some(m) = maintenance {
            app = app.attach(
                MaintenanceFairing::new(m)
                    .with_identity(|req| costly_identity(req.headers().get_one("Cookie"))),
            );
        }
        Client::untracked(app).await.expect("a rocket")
    }

    fn requests(client: &Client, n: usize) -> Vec<LocalRequest<'_>> {
        (0..n)
            .map(|_| {
                client
                    .get("/")
                    .header(Header::new("Host", "example.com"))
                    .header(Header::new("Cookie", "session=abc"))
                    .remote(SocketAddr::from(([198, 51, 100, 7], 40000)))
            })
            .collect()
    }

    async fn drive(requests: Vec<LocalRequest<'_>>, status: u16) {
        for req in requests {
            let res = req.dispatch().await;
            assert_eq!(res.status().code, status);
            res.into_bytes().await;
        }
    }

    fn count(rt: &tokio::runtime::Runtime, client: &Client, status: u16) -> u64 {
        rt.block_on(drive(requests(client, WARM_UP), status));
        let reqs = requests(client, REQUESTS);
        allocations(|f| rt.block_on(f), drive(reqs, status))
    }

    #[test]
    fn a_request_that_passes_allocates_nothing_more() {
        let rt = runtime();
        let with = rt.block_on(async { client(Some(handle(false).await)).await });
        let without = rt.block_on(client(None));
        assert_none_added("rocket", count(&rt, &with, 200), count(&rt, &without, 200));
        let blocked = rt.block_on(async { client(Some(handle(true).await)).await });
        let n = count(&rt, &blocked, 503);
        eprintln!("rocket: {REQUESTS} blocked requests: {n} allocations");
    }
}
