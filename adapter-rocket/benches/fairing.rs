//! The fairing's cost in-process: the same rocket with and without `MaintenanceFairing`,
//! requests dispatched through rocket's local client on one thread (no sockets). The cases are
//! the core testkit's `ServingCase`s: `bare` (no fairing) against `off` (the fairing, the site
//! not in maintenance), and the answers while in maintenance (blocked, ignored path, 50
//! patterns and 20 networks, bypass cookie). Requests are built outside the timed part.
#![allow(missing_docs)]

use std::net::SocketAddr;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use maintenance_core::Identity;
use maintenance_core::testkit::{
    SERVING_ACCEPT, SERVING_HOST, SERVING_PEER, ServingCase, serving_case,
};
use maintenance_rocket::MaintenanceFairing;
use rocket::http::Header;
use rocket::local::asynchronous::{Client, LocalRequest};

#[rocket::get("/")]
fn home() -> &'static str {
    "This is the home view."
}

#[rocket::get("/admin/login")]
fn login() -> &'static str {
    "Log in"
}

fn request<'c>(client: &'c Client, case: ServingCase, cookie: &str) -> LocalRequest<'c> {
    let peer: SocketAddr = SERVING_PEER.parse().expect("an address");
    client
        .get(case.path())
        .header(Header::new("Host", SERVING_HOST))
        .header(Header::new("Accept", SERVING_ACCEPT))
        .header(Header::new("Cookie", cookie.to_owned()))
        .remote(peer)
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let mut group = c.benchmark_group("rocket");
    for case in ServingCase::ALL {
        let (maintenance, cookie) = rt.block_on(serving_case(case));
        let config = rocket::Config {
            log_level: rocket::config::LogLevel::Off,
            ..rocket::Config::release_default()
        };
        let mut app = rocket::custom(config).mount("/", rocket::routes![home, login]);
        if let Some(m) = maintenance {
            app = app.attach(MaintenanceFairing::new(m).with_identity(|req| {
                match req.headers().get_one("Cookie") {
                    Some("session=staff") => Identity::Staff,
                    _ => Identity::Anonymous,
                }
            }));
        }
        let client = rt.block_on(Client::untracked(app)).expect("a rocket");
        let status = case.status();
        let check = rt.block_on(request(&client, case, &cookie).dispatch());
        assert_eq!(check.status().code, status, "{case:?}");
        drop(check);
        group.bench_function(case.name(), |b| {
            b.iter_batched(
                || request(&client, case, &cookie),
                |req| {
                    rt.block_on(async {
                        let res = req.dispatch().await;
                        res.into_bytes().await
                    })
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
