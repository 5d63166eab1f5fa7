//! Changes reach running servers: the CLI (as a process) and the admin page (over HTTP) change
//! the database, and the axum test project, started in-process on the same database, obeys.

// Tests may unwrap: a panic is how they fail.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use common::{
    Backend, Project, TestClock, cli_ok, csrf_of, fresh_db, no_redirects, start_admin,
    start_admin_clocked, start_admin_with, start_test_project, wait_for_status,
};
use maintenance_cli::admin::{AdminAuth, AdminConfig, BackoffPolicy};
use maintenance_core::{MaintenanceStore, SiteRef};

/// At least 32 characters: shorter tokens are refused at start-up.
const TOKEN: &str = "correct-horse-battery-staple-0123456789";

async fn cli_change_reaches_the_server(backend: Backend, test: &str) {
    let Some(db) = fresh_db(backend, test).await else {
        return;
    };
    let Project {
        base: app,
        home,
        http,
    } = start_test_project(&db.url).await;

    cli_ok(
        &db.url,
        &["on", "--message", "Upgrading", "--retry-after", "30"],
    )
    .await;
    wait_for_status(&http, &home, 503).await;
    let res = http.get(&home).send().await.unwrap();
    assert_eq!(res.headers()["retry-after"], "30");
    assert!(res.text().await.unwrap().contains("Upgrading"));
    // django-maintenancemode-2's admin pattern still passes.
    let login = http
        .get(format!("{app}/admin/login/"))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);

    cli_ok(&db.url, &["ignore", "add", "^ignored-page/$"]).await;
    wait_for_status(&http, &format!("{app}/ignored-page/"), 200).await;

    cli_ok(&db.url, &["off"]).await;
    wait_for_status(&http, &home, 200).await;

    cli_ok(&db.url, &["on", "--read-only"]).await;
    let post = || {
        http.post(format!("{app}/api/items"))
            .json(&serde_json::json!({"name": "x"}))
            .send()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if post().await.unwrap().status() == 503 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "read-only never blocked a POST"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(http.get(&home).send().await.unwrap().status(), 200);
    cli_ok(&db.url, &["off"]).await;
    wait_for_status(&http, &format!("{app}/api/items"), 200).await;
}

maintenance_tests::multi_thread_tests! {
    cli_change_reaches_a_running_server_on_sqlite => cli_change_reaches_the_server(Backend::Sqlite, "cli_change_reaches_a_running_server_on_sqlite");
    cli_change_reaches_a_running_server_on_postgres => cli_change_reaches_the_server(Backend::Postgres, "cli_change_reaches_a_running_server_on_postgres");
    cli_change_reaches_a_running_server_on_mysql => cli_change_reaches_the_server(Backend::MySql, "cli_change_reaches_a_running_server_on_mysql");
}

/// A POST of the token to the admin page's login form.
fn log_in(http: &reqwest::Client, admin: &str, token: &str) -> reqwest::RequestBuilder {
    http.post(format!("{admin}/login"))
        .form(&[("token", token)])
}

/// A POST to the admin page's `/state` that turns the default site on, with `csrf` if given.
fn turn_on(http: &reqwest::Client, admin: &str, csrf: Option<&str>) -> reqwest::RequestBuilder {
    let mut form = vec![("site", "default"), ("enabled", "on")];
    if let Some(csrf) = csrf {
        form.insert(0, ("csrf", csrf));
    }
    http.post(format!("{admin}/state")).form(&form)
}

/// Awaits `request` and asserts that it was answered with `status`.
async fn expect_status(
    request: impl std::future::Future<Output = reqwest::Result<reqwest::Response>>,
    status: u16,
) -> reqwest::Response {
    let res = request.await.unwrap();
    assert_eq!(res.status(), status, "{res:?}");
    res
}

async fn event_count(store: &dyn MaintenanceStore) -> usize {
    store.events(None, 10_000).await.unwrap().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_page_logs_in_checks_csrf_and_shows_errors_beside_fields() {
    let db = fresh_db(Backend::Sqlite, "admin").await.unwrap();
    let clock = TestClock::new();
    let admin = start_admin_clocked(&db.url, AdminAuth::token(TOKEN).unwrap(), &clock).await;
    let store: Arc<dyn MaintenanceStore> = Arc::new(common::store(&db.url).await);
    let http = no_redirects();

    // Not logged in: the page sends to the login form; POSTs are refused.
    let res = expect_status(http.get(format!("{admin}/")).send(), 303).await;
    assert_eq!(res.headers()["location"], "/login");
    expect_status(turn_on(&http, &admin, None).send(), 401).await;

    // A wrong token: 401, the message beside the field, no cookie.
    let res = expect_status(log_in(&http, &admin, "wrong").send(), 401).await;
    assert!(res.headers().get("set-cookie").is_none());
    let body = res.text().await.unwrap();
    assert!(
        body.contains("<span class=\"error\" id=\"token-error\""),
        "{body}"
    );
    assert!(body.contains("Wrong token"), "{body}");
    // The next token from this address waits (see the backoff test).
    clock.advance(Duration::from_secs(1));

    // A cross-origin login is refused.
    let from_evil = log_in(&http, &admin, TOKEN).header("origin", "http://evil.example");
    expect_status(from_evil.send(), 403).await;

    // The right token: a strict, HttpOnly session cookie.
    let res = expect_status(log_in(&http, &admin, TOKEN).send(), 303).await;
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let session = cookie.split(';').next().unwrap().to_owned();
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
    let res = log_in(&http, &admin, TOKEN)
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    let behind_tls = res.headers()["set-cookie"].to_str().unwrap();
    assert!(behind_tls.contains("; Secure"), "{behind_tls}");

    let get = |path: &str| {
        http.get(format!("{admin}{path}"))
            .header("cookie", &session)
            .send()
    };
    let list = expect_status(get("/"), 200).await.text().await.unwrap();
    assert!(list.contains("1 site · page 1 of 1"), "{list}");
    assert!(list.contains("href=\"/sites/default\""), "{list}");
    let page = expect_status(get("/sites/default"), 200).await;
    assert_eq!(page.headers()["cache-control"], "no-store");
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("form-action 'self'")
    );
    let page = page.text().await.unwrap();
    assert!(page.contains("In maintenance mode"), "{page}");
    assert!(page.contains("Audit log"), "{page}");
    let csrf = csrf_of(&page);

    let post = |path: &str, form: Vec<(&str, &str)>| {
        http.post(format!("{admin}{path}"))
            .header("cookie", &session)
            .form(&form)
            .send()
    };
    let page_text = |path: &str| {
        let get = get(path);
        async move { get.await.unwrap().text().await.unwrap() }
    };
    let events = event_count(store.as_ref()).await;

    // Without the CSRF token, or with a wrong one, or from another origin: refused.
    for (csrf, origin) in [
        (None, None),
        (Some("nope"), None),
        (Some(csrf.as_str()), Some("http://evil.example")),
    ] {
        let mut request = turn_on(&http, &admin, csrf).header("cookie", &session);
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        let res = request.send().await.unwrap();
        assert_eq!(
            res.status(),
            403,
            "csrf {csrf:?}, origin {origin:?}: {res:?}"
        );
    }
    assert_eq!(event_count(store.as_ref()).await, events);
    assert!(!store.site(&SiteRef::Default).await.unwrap().enabled);

    // A valid change: POST-redirect-GET, written with the admin actor.
    let res = expect_status(
        http.post(format!("{admin}/state"))
            .header("cookie", &session)
            .header("origin", admin.as_str())
            .form(&[
                ("csrf", csrf.as_str()),
                ("site", "default"),
                ("enabled", "on"),
                ("mode", "read-only"),
                ("message", "Back <soon>"),
                ("starts_at", ""),
                ("ends_at", "2037-01-01T00:00"),
                ("retry_after", "90"),
                ("scope", "^checkout/\r\n\r\n  ^api/orders \r\n"),
            ])
            .send(),
        303,
    )
    .await;
    assert!(
        res.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/sites/default?done=saved")
    );
    let site = store.site(&SiteRef::Default).await.unwrap();
    assert!(site.enabled);
    assert_eq!(site.mode.as_str(), "read-only");
    assert_eq!(site.message.as_deref(), Some("Back <soon>"));
    assert_eq!(site.retry_after_secs, Some(90));
    assert_eq!(
        site.scope,
        ["^checkout/", "^api/orders"],
        "one pattern a line"
    );
    assert_eq!(
        site.ends_at.map(|t| t.to_rfc3339()),
        Some("2037-01-01T00:00:00+00:00".to_owned())
    );
    let last = &store.events(None, 1).await.unwrap()[0];
    assert_eq!(last.actor, "admin@127.0.0.1");
    let page = page_text("/sites/default?done=saved").await;
    assert!(page.contains("Saved."), "{page}");
    assert!(
        page.contains(">^checkout/\n^api/orders</textarea>"),
        "the scope is shown: {page}"
    );
    assert!(page.contains("Back &lt;soon&gt;"), "escaped: {page}");
    assert!(!page.contains("Back <soon>"), "escaped: {page}");

    // Bad values: 422, the page again with each message beside its field, nothing written.
    let events = event_count(store.as_ref()).await;
    let before = store.site(&SiteRef::Default).await.unwrap();
    let res = expect_status(
        post(
            "/ignored/add",
            vec![
                ("csrf", &csrf),
                ("site", "default"),
                ("pattern", "^(unclosed"),
                ("description", "x"),
            ],
        ),
        422,
    )
    .await;
    let body = res.text().await.unwrap();
    assert!(
        body.contains("data-domain=\"default\"") && !body.contains("id=\"sites\""),
        "the site's page again: {body}"
    );
    assert!(
        body.contains("value=\"^(unclosed\" placeholder=\"^health/$\" aria-invalid=\"true\""),
        "the value is kept: {body}"
    );
    let error_at = body
        .find("-error\" role=\"alert\">invalid ignored-path pattern `^(unclosed`")
        .expect("error span");
    let input_at = body.find("value=\"^(unclosed\"").unwrap();
    assert!(
        error_at > input_at && error_at - input_at < 300,
        "the error is beside the field"
    );
    assert!(body.contains("unclosed group"), "the regex error: {body}");

    // Each refused form, sent with the CSRF token: the path, its other fields, the status and
    // the words the answer shows.
    let refused: [Refused<'_>; 5] = [
        (
            "/networks/add",
            &[("site", "default"), ("network", "10.0.0.0/33")],
            422,
            &[
                "invalid network `10.0.0.0/33`",
                "id=\"network-network-1-error\"",
            ],
        ),
        (
            "/state",
            &[
                ("site", "default"),
                ("enabled", "on"),
                ("mode", "full"),
                ("starts_at", "soon"),
                ("ends_at", ""),
                ("retry_after", "-1"),
            ],
            422,
            &[
                "id=\"starts_at-1-error\" role=\"alert\">invalid time `soon`",
                "id=\"retry_after-1-error\" role=\"alert\">invalid Retry-After `-1`",
            ],
        ),
        (
            "/state",
            &[
                ("site", "default"),
                ("enabled", "on"),
                ("mode", "full"),
                ("scope", "^ok\n^(broken"),
            ],
            422,
            &[
                "id=\"scope-1-error\" role=\"alert\">invalid ignored-path pattern `^(broken`",
                "^ok\n^(broken</textarea>",
            ],
        ),
        (
            "/state",
            &[
                ("site", "default"),
                ("mode", "full"),
                ("starts_at", "2037-01-02T00:00:00Z"),
                ("ends_at", "2037-01-01T00:00:00Z"),
            ],
            422,
            &["id=\"ends_at-1-error\" role=\"alert\">invalid window"],
        ),
        (
            "/ignored/add",
            &[("site", "gone.example"), ("pattern", "^x")],
            404,
            &["unknown site `gone.example`"],
        ),
    ];
    for (path, form, status, messages) in refused {
        let mut fields = vec![("csrf", csrf.as_str())];
        fields.extend_from_slice(form);
        let body = expect_status(post(path, fields), status)
            .await
            .text()
            .await
            .unwrap();
        for message in messages {
            assert!(body.contains(message), "{path}: {message} in {body}");
        }
    }

    expect_status(
        post(
            "/ignored/remove",
            vec![
                ("csrf", &csrf),
                ("site", "default"),
                ("pattern", "^not-there"),
            ],
        ),
        409,
    )
    .await;
    assert_eq!(
        event_count(store.as_ref()).await,
        events,
        "nothing was written"
    );
    assert_eq!(store.site(&SiteRef::Default).await.unwrap(), before);

    // Adding and removing inline.
    let lists = [
        ("/ignored", "pattern", "^health/$", "<probes>"),
        ("/networks", "network", "10.0.0.0/8", "Office"),
    ];
    for (list, field, value, description) in lists {
        let form = vec![
            ("csrf", csrf.as_str()),
            ("site", "default"),
            (field, value),
            ("description", description),
        ];
        expect_status(post(&format!("{list}/add"), form), 303).await;
    }
    let site = store.site(&SiteRef::Default).await.unwrap();
    assert_eq!(site.ignored_paths[0].pattern, "^health/$");
    assert_eq!(site.allowed_networks[0].network.to_string(), "10.0.0.0/8");
    let page = page_text("/sites/default").await;
    assert!(
        page.contains("&lt;probes&gt;") && !page.contains("<probes>"),
        "{page}"
    );
    assert!(page.contains("admin@127.0.0.1"), "the audit log: {page}");
    for (list, field, value, _) in lists {
        let form = vec![("csrf", csrf.as_str()), ("site", "default"), (field, value)];
        expect_status(post(&format!("{list}/remove"), form), 303).await;
    }
    let site = store.site(&SiteRef::Default).await.unwrap();
    assert!(site.ignored_paths.is_empty() && site.allowed_networks.is_empty());

    // Scripts: a bearer token instead of the cookie and CSRF token.
    expect_status(
        http.post(format!("{admin}/state"))
            .bearer_auth(TOKEN)
            .form(&[("site", "default"), ("mode", "full")])
            .send(),
        303,
    )
    .await;
    assert!(!store.site(&SiteRef::Default).await.unwrap().enabled);
    expect_status(
        turn_on(&http, &admin, None).bearer_auth("wrong").send(),
        401,
    )
    .await;

    // Log out: the session is gone.
    expect_status(post("/logout", vec![("csrf", &csrf)]), 303).await;
    expect_status(get("/"), 303).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_page_without_auth_still_needs_the_csrf_token() {
    let db = fresh_db(Backend::Sqlite, "admin-open").await.unwrap();
    let admin = start_admin(&db.url, AdminAuth::Open).await;
    let http = no_redirects();
    let res = expect_status(http.get(format!("{admin}/")).send(), 200).await;
    let page = res.text().await.unwrap();
    assert!(!page.contains("id=\"logout\""));
    let csrf = csrf_of(&page);
    for (csrf, status) in [
        (None, 403),
        (Some("forged"), 403),
        (Some(csrf.as_str()), 303),
    ] {
        let res = turn_on(&http, &admin, csrf).send().await.unwrap();
        assert_eq!(res.status(), status, "csrf {csrf:?}: {res:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_page_without_auth_stores_nothing_for_anonymous_views() {
    let db = fresh_db(Backend::Sqlite, "admin-open-views").await.unwrap();
    let admin = start_admin(&db.url, AdminAuth::Open).await;
    let store = common::store(&db.url).await;
    let http = no_redirects();
    // The operator's page, loaded first.
    let res = expect_status(http.get(format!("{admin}/")).send(), 200).await;
    let csrf = csrf_of(&res.text().await.unwrap());
    // 1,200 anonymous GETs (image tags on any page): none gets a cookie, none evicts anything.
    for n in 0..1200 {
        let path = if n % 2 == 0 { "/" } else { "/sites/default" };
        let res = http.get(format!("{admin}{path}")).send().await.unwrap();
        assert!(res.headers().get("set-cookie").is_none(), "{path}");
    }
    // The operator's form still works.
    expect_status(turn_on(&http, &admin, Some(&csrf)).send(), 303).await;
    assert!(store.site(&SiteRef::Default).await.unwrap().enabled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_page_without_a_token_refuses_bearer_tokens() {
    let db = fresh_db(Backend::Sqlite, "admin-open-bearer")
        .await
        .unwrap();
    let admin = start_admin(&db.url, AdminAuth::Open).await;
    let store = common::store(&db.url).await;
    let http = no_redirects();
    for token in [TOKEN, "anything"] {
        let res = expect_status(turn_on(&http, &admin, None).bearer_auth(token).send(), 401).await;
        let body = res.text().await.unwrap();
        assert!(body.contains("--insecure-no-auth"), "{body}");
        expect_status(http.get(format!("{admin}/")).bearer_auth(token).send(), 401).await;
    }
    assert!(!store.site(&SiteRef::Default).await.unwrap().enabled);
}

/// A client whose requests come from `from` (another loopback address is another client).
fn client_from(from: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .local_address(from.parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap()
}

/// A backoff short enough to wait for: 300 ms after a first failure, at most 1.2 s.
fn short_backoff() -> BackoffPolicy {
    BackoffPolicy {
        first_delay: Duration::from_millis(300),
        max_delay: Duration::from_millis(1200),
        ..BackoffPolicy::default()
    }
}

/// Starts the admin page with `TOKEN`, `backoff`, the system clock and `trusted_proxies`.
async fn start_admin_backoff(
    url: &str,
    backoff: BackoffPolicy,
    trusted_proxies: &[&str],
) -> String {
    let proxies = trusted_proxies.iter().map(|p| p.parse().unwrap()).collect();
    start_admin_with(url, move |addr| AdminConfig {
        backoff,
        ..AdminConfig::new(AdminAuth::token(TOKEN).unwrap(), addr, Vec::new())
            .with_trusted_proxies(proxies)
    })
    .await
}

/// Awaits `request`: its status and how long its answer took.
async fn timed(
    request: impl std::future::Future<Output = reqwest::Result<reqwest::Response>>,
) -> (u16, Duration) {
    let start = std::time::Instant::now();
    let res = request.await.unwrap();
    (res.status().as_u16(), start.elapsed())
}

const HELD: Duration = Duration::from_millis(250);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_login_failures_hold_the_next_attempt_but_never_refuse_the_right_token() {
    let db = fresh_db(Backend::Sqlite, "admin-backoff").await.unwrap();
    let admin = start_admin_backoff(&db.url, short_backoff(), &[]).await;
    let one = client_from("127.0.0.1");
    let other = client_from("127.0.0.2");
    let login = |http: &reqwest::Client, token: &str| log_in(http, &admin, token).send();
    let bearer = |http: &reqwest::Client, token: &str| {
        http.get(format!("{admin}/")).bearer_auth(token).send()
    };

    // A wrong token: the next attempt from the address is held, then compared: the right
    // token gets in (never a 429), and clears the count.
    let (status, took) = timed(login(&one, "wrong")).await;
    assert_eq!((status, took < HELD), (401, true), "{took:?}");
    let (status, took) = timed(login(&one, TOKEN)).await;
    assert_eq!((status, took >= HELD), (303, true), "{took:?}");
    let (status, took) = timed(bearer(&one, TOKEN)).await;
    assert_eq!((status, took < HELD), (200, true), "{took:?}");

    // Another address is not affected.
    assert_eq!(timed(login(&one, "wrong")).await.0, 401);
    let (status, took) = timed(login(&other, TOKEN)).await;
    assert_eq!((status, took < HELD), (303, true), "{took:?}");

    // Each further failure, by form or bearer token, holds the next one longer (600 ms).
    let (status, took) = timed(bearer(&one, "wrong")).await;
    assert_eq!((status, took >= HELD), (401, true), "{took:?}");
    let (status, took) = timed(bearer(&one, TOKEN)).await;
    assert_eq!((status, took >= 2 * HELD), (200, true), "{took:?}");

    // Many wrong tokens at once: each is held after the one before (300 ms, 900 ms, then the
    // longest wait, 1.2 s), none refused unchecked.
    assert_eq!(timed(login(&one, "wrong")).await.0, 401);
    let start = std::time::Instant::now();
    let all = futures_join(vec![
        login(&one, "wrong-1"),
        login(&one, "wrong-2"),
        login(&one, "wrong-3"),
    ])
    .await;
    assert!(all.iter().all(|s| *s == 401), "{all:?}");
    assert!(
        start.elapsed() >= Duration::from_millis(1150),
        "{:?}",
        start.elapsed()
    );
    // An empty form is no guess and not counted.
    let (status, took) = timed(login(&other, "")).await;
    assert_eq!((status, took < HELD), (401, true), "{took:?}");
}

/// The statuses of `requests`, sent at once.
async fn futures_join(
    requests: Vec<
        impl std::future::Future<Output = reqwest::Result<reqwest::Response>> + Send + 'static,
    >,
) -> Vec<u16> {
    let tasks: Vec<_> = requests.into_iter().map(tokio::spawn).collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap().unwrap().status().as_u16());
    }
    statuses
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_backoff_behind_a_trusted_proxy_counts_each_client() {
    let db = fresh_db(Backend::Sqlite, "admin-proxy").await.unwrap();
    let admin = start_admin_backoff(&db.url, short_backoff(), &["127.0.0.1/32"]).await;
    let store = common::store(&db.url).await;
    let proxy = client_from("127.0.0.1");
    let login = |client: &str, token: &str| {
        log_in(&proxy, &admin, token)
            .header("x-forwarded-for", format!("198.51.100.7, {client}"))
            .send()
    };
    // Every client comes through one proxy: an attacker's wrong tokens hold only its own next
    // attempts, and the operator's right token gets in at once.
    for _ in 0..3 {
        assert_eq!(timed(login("203.0.113.66", "wrong")).await.0, 401);
    }
    let (status, took) = timed(login("203.0.113.10", TOKEN)).await;
    assert_eq!((status, took < HELD), (303, true), "{took:?}");
    let (status, took) = timed(login("203.0.113.66", "wrong")).await;
    assert_eq!((status, took >= HELD), (401, true), "{took:?}");
    // The audit log names the client, not the proxy.
    let res = turn_on(&proxy, &admin, None)
        .header("x-forwarded-for", "203.0.113.10")
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let events = store.events(None, 10).await.unwrap();
    assert_eq!(events[0].actor, "admin@203.0.113.10", "{events:?}");

    // A peer that is not a trusted proxy is its own client, whatever it forwards.
    let direct = client_from("127.0.0.2");
    let send = |forwarded: &str, token: &str| {
        log_in(&direct, &admin, token)
            .header("x-forwarded-for", forwarded.to_owned())
            .send()
    };
    assert_eq!(timed(send("192.0.2.1", "wrong")).await.0, 401);
    let (status, took) = timed(send("192.0.2.2", TOKEN)).await;
    assert_eq!((status, took >= HELD), (303, true), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_backoff_is_not_reset_by_address_churn() {
    let db = fresh_db(Backend::Sqlite, "admin-churn").await.unwrap();
    // Room for 2 clients and 3 wrong tokens from all of them, then one attempt per 600 ms.
    let backoff = BackoffPolicy {
        max_clients: 2,
        global_burst: 3,
        global_interval: Duration::from_millis(600),
        ..short_backoff()
    };
    let admin = start_admin_backoff(&db.url, backoff, &["127.0.0.1/32"]).await;
    let proxy = client_from("127.0.0.1");
    let login = |client: String, token: &str| {
        log_in(&proxy, &admin, token)
            .header("x-forwarded-for", client)
            .send()
    };
    // An attacker with a fresh address for every guess: the first 4 pass unheld, then each is
    // held, though the table forgets all but 2 addresses.
    for n in 0..4 {
        let (status, took) = timed(login(format!("203.0.113.{n}"), "wrong")).await;
        assert_eq!((status, took < HELD), (401, true), "guess {n}: {took:?}");
    }
    let (status, took) = timed(login("203.0.113.50".to_owned(), "wrong")).await;
    assert_eq!((status, took >= HELD), (401, true), "{took:?}");
    // The operator, from an address never seen, is held too, but gets in.
    let (status, took) = timed(login("198.51.100.1".to_owned(), TOKEN)).await;
    assert_eq!((status, took >= HELD), (303, true), "{took:?}");
}

/// Sends `request` as raw bytes (to leave out or repeat headers no client library would) and
/// returns the whole answer.
async fn raw_http(base: &str, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .expect("an answer within 10 s")
        .unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_page_answers_only_its_own_hosts() {
    let db = fresh_db(Backend::Sqlite, "admin-hosts").await.unwrap();
    let admin = start_admin_with(&db.url, |addr| {
        AdminConfig::new(
            AdminAuth::token(TOKEN).unwrap(),
            addr,
            vec!["https://ops.example.com".parse().unwrap()],
        )
    })
    .await;
    let port = admin.rsplit(':').next().unwrap().to_owned();
    let http = no_redirects();
    let get = |path: &str, host: String| {
        http.get(format!("{admin}{path}"))
            .header("host", host)
            .send()
    };

    // DNS rebinding: a name that resolves here, but is not this page's.
    for (path, host) in [
        ("/login", format!("evil.example:{port}")),
        ("/", format!("evil.example:{port}")),
        ("/no-such-page", format!("evil.example:{port}")),
        ("/login", "evil.example".to_owned()),
        ("/login", "localhost".to_owned()),
        ("/login", "localhost:1".to_owned()),
        ("/login", format!("127.1:{port}")),
        ("/login", format!("ops.example.com:{port}")),
    ] {
        let res = get(path, host.clone()).await.unwrap();
        assert_eq!(res.status(), 421, "{path} as {host}");
        assert_eq!(
            res.headers()["content-type"],
            "text/plain; charset=utf-8",
            "{host}"
        );
        let body = res.text().await.unwrap();
        assert!(body.contains(&format!("Refused Host `{host}`")), "{body}");
        assert!(body.contains("--public-origin"), "{body}");
    }
    // Refused before any login: neither the token nor a bearer token gets in.
    let res = expect_status(
        log_in(&http, &admin, TOKEN)
            .header("host", "evil.example")
            .send(),
        421,
    )
    .await;
    assert!(res.headers().get("set-cookie").is_none());
    let bearer = |host: &str| {
        http.get(format!("{admin}/"))
            .header("host", host.to_owned())
            .bearer_auth(TOKEN)
            .send()
    };
    expect_status(bearer("evil.example"), 421).await;

    // The listen address, the loopback names with the listen port, the public origin.
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("LocalHost:{port}"),
        format!("[::1]:{port}"),
        "ops.example.com".to_owned(),
        "ops.example.com:443".to_owned(),
    ] {
        let res = get("/login", host.clone()).await.unwrap();
        assert_eq!(res.status(), 200, "{host}");
    }
    expect_status(bearer("ops.example.com"), 200).await;

    // Behind a proxy that sends the listen address as Host, the public origin is a valid
    // Origin; the same name over plain HTTP is not.
    let login = |origin: &'static str| log_in(&http, &admin, TOKEN).header("origin", origin).send();
    assert_eq!(
        login("https://ops.example.com").await.unwrap().status(),
        303
    );
    assert_eq!(login("http://ops.example.com").await.unwrap().status(), 403);
    assert_eq!(login("https://evil.example").await.unwrap().status(), 403);

    // No Host at all (HTTP/1.1 requires one; HTTP/1.0 is held to the same rule), or two.
    for request in [
        "GET /login HTTP/1.1\r\nConnection: close\r\n\r\n".to_owned(),
        "GET /login HTTP/1.0\r\n\r\n".to_owned(),
    ] {
        let answer = raw_http(&admin, &request).await;
        assert!(answer.starts_with("HTTP/1."), "{answer}");
        assert!(answer.contains(" 400 Bad Request\r\n"), "{answer}");
        assert!(answer.contains("no Host header"), "{answer}");
    }
    let answer = raw_http(
        &admin,
        &format!(
            "GET /login HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nHost: evil.example\r\n\
             Connection: close\r\n\r\n"
        ),
    )
    .await;
    assert!(answer.contains(" 400 Bad Request\r\n"), "{answer}");
    // A host in the request line counts as well.
    let answer = raw_http(
        &admin,
        &format!(
            "GET http://evil.example:{port}/login HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
             Connection: close\r\n\r\n"
        ),
    )
    .await;
    assert!(answer.contains(" 421 Misdirected Request\r\n"), "{answer}");
    let answer = raw_http(
        &admin,
        &format!("GET /login HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n\r\n"),
    )
    .await;
    assert!(answer.contains(" 200 OK\r\n"), "{answer}");
}

/// Kills the child process when dropped.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_binary_serves_the_page_and_logs_refusals_with_the_client_address() {
    let db = fresh_db(Backend::Sqlite, "admin-binary").await.unwrap();
    cli_ok(&db.url, &["migrate"]).await;
    let mut child = Child(
        std::process::Command::new(common::BIN)
            .args([
                "--database-url",
                &db.url,
                "admin",
                "--listen",
                "127.0.0.1:0",
            ])
            .env("MAINTENANCE_ADMIN_TOKEN", TOKEN)
            .env(
                "MAINTENANCE_ADMIN_PUBLIC_ORIGIN",
                "https://ops.example.com,https://ops2.example.com:8443",
            )
            .env_remove("MAINTENANCE_LOG")
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stdout = child.0.stdout.take().unwrap();
    let stderr = child.0.stderr.take().unwrap();
    let lines = tokio::task::spawn_blocking(move || {
        let mut reader = BufReader::new(stdout);
        let mut lines = Vec::new();
        for _ in 0..3 {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            lines.push(line);
        }
        lines
    })
    .await
    .unwrap();
    let line = &lines[0];
    assert!(
        line.starts_with("Admin page on http://127.0.0.1:"),
        "{line}"
    );
    assert_eq!(lines[1], "Also answering as https://ops.example.com\n");
    assert_eq!(
        lines[2],
        "Also answering as https://ops2.example.com:8443\n"
    );
    let base = line
        .split_whitespace()
        .nth(3)
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    let http = no_redirects();
    expect_status(http.get(format!("{base}/login")).send(), 200).await;
    expect_status(log_in(&http, &base, TOKEN).send(), 303).await;
    for host in ["ops.example.com", "ops2.example.com:8443"] {
        let res = http
            .get(format!("{base}/login"))
            .header("host", host)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{host}");
    }

    // A wrong token and a foreign host: refused, and each logged with the client address.
    expect_status(log_in(&http, &base, "not-the-token").send(), 401).await;
    expect_status(
        http.get(format!("{base}/"))
            .header("host", "rebound.example")
            .send(),
        421,
    )
    .await;
    let _ = child.0.kill();
    let _ = child.0.wait();
    let logs = tokio::task::spawn_blocking(move || {
        let mut logs = String::new();
        std::io::Read::read_to_string(&mut BufReader::new(stderr), &mut logs).map(|_| logs)
    })
    .await
    .unwrap()
    .unwrap();
    let logged = [
        (
            "admin login failed",
            &["WARN", "wrong token from 127.0.0.1;", "client=127.0.0.1"],
        ),
        (
            "admin request refused",
            &["WARN", "client=127.0.0.1", "rebound.example"],
        ),
    ];
    for (event, words) in logged {
        let line = logs
            .lines()
            .find(|l| l.contains(event))
            .unwrap_or_else(|| panic!("no {event:?} in the logs: {logs}"));
        for word in words {
            assert!(line.contains(word), "{word} in {line}");
        }
    }
    assert!(!logs.contains("not-the-token"), "{logs}");
    assert!(!logs.contains(TOKEN), "{logs}");
}

/// A form the admin page refuses: its path, its fields, the status and the words shown.
type Refused<'a> = (&'a str, &'a [(&'a str, &'a str)], u16, &'a [&'a str]);
