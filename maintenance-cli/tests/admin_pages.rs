//! The admin page's list and site pages over real HTTP on every backend: search, state filter,
//! paging, bulk actions on the selected sites, adding and removing sites, and the bypass
//! secret shown once.

// Tests may unwrap: a panic is how they fail.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Backend, fresh_db, start_admin};
use maintenance_cli::admin::AdminAuth;
use maintenance_core::{MaintenanceStore, SiteRef, bypass};

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The value of the first hidden `csrf` field in a page.
fn csrf_of(page: &str) -> String {
    let start = page
        .find("name=\"csrf\" value=\"")
        .unwrap_or_else(|| panic!("no csrf field in {page}"))
        + "name=\"csrf\" value=\"".len();
    page[start..].split('"').next().unwrap().to_owned()
}

/// The domains of the list's rows, in order.
fn rows(page: &str) -> Vec<String> {
    page.split("<tr data-domain=\"")
        .skip(1)
        .map(|r| r.split('"').next().unwrap().to_owned())
        .collect()
}

/// A browser-like client of an open admin page: GET, and POST with the page's CSRF token.
struct Admin {
    base: String,
    http: reqwest::Client,
    csrf: String,
}

impl Admin {
    async fn open(base: String) -> Admin {
        let http = no_redirects();
        let res = http.get(format!("{base}/")).send().await.unwrap();
        assert_eq!(res.status(), 200);
        // Without a token, nothing is stored per visitor: no cookie, one CSRF token.
        assert!(res.headers().get("set-cookie").is_none());
        let csrf = csrf_of(&res.text().await.unwrap());
        Admin { base, http, csrf }
    }

    /// GETs `path`: its status and body.
    async fn get(&self, path: &str) -> (u16, String) {
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.text().await.unwrap())
    }

    /// GETs `path` and expects 200.
    async fn page(&self, path: &str) -> String {
        let (status, body) = self.get(path).await;
        assert_eq!(status, 200, "{path}: {body}");
        body
    }

    /// POSTs `form` (with the CSRF token) from the page's origin: status, location, body.
    async fn post(&self, path: &str, form: &[(&str, &str)]) -> (u16, String, String) {
        let mut fields = vec![("csrf", self.csrf.as_str())];
        fields.extend_from_slice(form);
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .header("origin", &self.base)
            .form(&fields)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let location = res
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (status, location, res.text().await.unwrap())
    }
}

async fn event_count(store: &dyn MaintenanceStore) -> usize {
    store.events(None, 100_000).await.unwrap().len()
}

async fn enabled(store: &dyn MaintenanceStore, domain: &str) -> bool {
    store
        .site(&SiteRef::Domain(domain.to_owned()))
        .await
        .unwrap()
        .enabled
}

async fn list_and_site_pages(backend: Backend, test: &str) {
    let Some(db) = fresh_db(backend, test).await else {
        return;
    };
    let base = start_admin(&db.url, AdminAuth::Open).await;
    let store = common::store(&db.url).await;
    // 120 sites besides the default one; one with a name to search for.
    for i in 0..120 {
        let name = if i == 77 {
            "Special shop".to_owned()
        } else {
            format!("Shop {i}")
        };
        store
            .add_site(&format!("site{i:03}.example"), Some(&name), "seed")
            .await
            .unwrap();
    }
    let admin = Admin::open(base).await;

    // Paging: the default site first, then by domain; 50 a page.
    let first = admin.page("/").await;
    assert!(first.contains("121 sites · page 1 of 3"), "{first}");
    let domains = rows(&first);
    assert_eq!(domains.len(), 50);
    assert_eq!(domains[0], "default");
    assert_eq!(domains[1], "site000.example");
    assert_eq!(domains[49], "site048.example");
    assert!(first.contains("href=\"/?page=2\" rel=\"next\""), "{first}");
    let second = admin.page("/?page=2").await;
    assert!(second.contains("page 2 of 3"), "{second}");
    let domains = rows(&second);
    assert_eq!(domains.len(), 50);
    assert_eq!(domains[0], "site049.example");
    assert_eq!(domains[49], "site098.example");
    assert!(second.contains("href=\"/\" rel=\"prev\""), "{second}");
    assert!(
        second.contains("href=\"/?page=3\" rel=\"next\""),
        "{second}"
    );
    let third = admin.page("/?page=3").await;
    assert_eq!(rows(&third).len(), 21);
    assert!(!third.contains("rel=\"next\""), "{third}");
    let beyond = admin.page("/?page=9").await;
    assert!(rows(&beyond).is_empty());
    assert!(
        beyond.contains("No sites on page 9: there are 3 page(s)."),
        "{beyond}"
    );

    // Search by domain and by name, case-insensitive; the search is kept in the links.
    let found = admin.page("/?q=SITE11").await;
    assert!(found.contains("10 sites · page 1 of 1"), "{found}");
    assert_eq!(
        rows(&found).first().map(String::as_str),
        Some("site110.example")
    );
    let found = admin.page("/?q=special").await;
    assert_eq!(rows(&found), ["site077.example"]);
    assert!(found.contains("Special shop"), "{found}");
    assert!(found.contains("value=\"special\""), "{found}");
    let none = admin.page("/?q=nothing-like-this").await;
    assert!(none.contains("No sites match."), "{none}");

    // Bad list parameters: 400 naming the value.
    for (path, words) in [
        ("/?state=down", "invalid state `down`"),
        ("/?page=0", "invalid page `0`"),
        ("/?page=two", "invalid page `two`"),
    ] {
        let (status, body) = admin.get(path).await;
        assert_eq!(status, 400, "{path}");
        assert!(body.contains(words), "{path}: {body}");
    }

    // Nothing is on yet.
    let on = admin.page("/?state=on").await;
    assert!(on.contains("0 sites"), "{on}");

    // Bulk: put two selected sites in maintenance; back to the same list with the count.
    let events = event_count(&store).await;
    let (status, location, _) = admin
        .post(
            "/bulk",
            &[
                ("action", "on"),
                ("site", "site001.example"),
                ("site", "site002.example"),
                ("q", "site00"),
                ("state", ""),
                ("page", "1"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    assert_eq!(location, "/?q=site00&done=bulk-on&count=2");
    assert!(enabled(&store, "site001.example").await);
    assert!(enabled(&store, "site002.example").await);
    assert!(!enabled(&store, "site003.example").await);
    let new_events = store.events(None, 2).await.unwrap();
    assert_eq!(event_count(&store).await, events + 2);
    for ev in &new_events {
        assert_eq!(ev.action, "on");
        assert_eq!(ev.actor, "admin@127.0.0.1");
    }
    let back = admin.page(&location).await;
    assert!(back.contains("2 sites put in maintenance."), "{back}");
    assert!(
        back.contains("value=\"site00\""),
        "the search is kept: {back}"
    );
    let on = admin.page("/?state=on").await;
    assert_eq!(rows(&on), ["site001.example", "site002.example"]);
    assert!(on.contains("<span class=\"badge on\">on</span>"), "{on}");
    let off = admin.page("/?state=off").await;
    assert!(off.contains("119 sites"), "{off}");

    // Take one out again, from page 2 of a filtered list.
    let (status, location, _) = admin
        .post(
            "/bulk",
            &[
                ("action", "off"),
                ("site", "site002.example"),
                ("state", "on"),
                ("page", "2"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    assert_eq!(location, "/?state=on&page=2&done=bulk-off&count=1");
    assert!(!enabled(&store, "site002.example").await);
    let back = admin.page(&location).await;
    assert!(back.contains("1 site taken out of maintenance."), "{back}");

    // No selection, no action, an unknown site, a missing CSRF token, another origin:
    // refused, nothing written.
    let events = event_count(&store).await;
    let (status, _, body) = admin.post("/bulk", &[("action", "on")]).await;
    assert_eq!(status, 422);
    assert!(body.contains("No site selected"), "{body}");
    assert!(body.contains("id=\"sites\""), "the list again: {body}");
    let (status, _, body) = admin
        .post("/bulk", &[("action", ""), ("site", "site003.example")])
        .await;
    assert_eq!(status, 422);
    assert!(body.contains("No action chosen"), "{body}");
    let (status, _, body) = admin
        .post(
            "/bulk",
            &[
                ("action", "on"),
                ("site", "site003.example"),
                ("site", "gone.example"),
            ],
        )
        .await;
    assert_eq!(status, 409);
    assert!(body.contains("unknown site `gone.example`"), "{body}");
    let (status, _, body) = admin
        .post(
            "/bulk",
            &[("action", "on"), ("site", "site003.example"), ("page", "x")],
        )
        .await;
    assert_eq!(status, 400);
    assert!(body.contains("invalid page `x`"), "{body}");
    let forged = admin
        .http
        .post(format!("{}/bulk", admin.base))
        .form(&[("action", "on"), ("site", "site003.example")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let cross = admin
        .http
        .post(format!("{}/bulk", admin.base))
        .header("origin", "http://evil.example")
        .form(&[
            ("csrf", admin.csrf.as_str()),
            ("action", "on"),
            ("site", "site003.example"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), 403);
    assert!(!enabled(&store, "site003.example").await);
    assert_eq!(event_count(&store).await, events);

    // Adding a site: errors beside the field; then its page.
    for (domain, words) in [
        ("", "a domain is needed"),
        ("site005.example", "already exists"),
        ("bad domain!", "bad domain!"),
    ] {
        let (status, _, body) = admin
            .post("/add-site", &[("domain", domain), ("name", "x")])
            .await;
        assert_eq!(status, 422, "{domain}: {body}");
        let beside = body
            .split("id=\"domain-error\" role=\"alert\">")
            .nth(1)
            .unwrap_or_else(|| panic!("{domain}: no error beside the field: {body}"));
        assert!(
            beside.split("</span>").next().unwrap().contains(words),
            "{domain}: {beside}"
        );
    }
    assert_eq!(event_count(&store).await, events);
    let (status, location, _) = admin
        .post("/add-site", &[("domain", "New.Example"), ("name", "<New>")])
        .await;
    assert_eq!(status, 303);
    assert_eq!(location, "/sites/new.example?done=site-added");
    let page = admin.page(&location).await;
    assert!(page.contains("Site added."), "{page}");
    assert!(
        page.contains("&lt;New&gt;") && !page.contains("<New>"),
        "{page}"
    );
    assert!(page.contains("id=\"remove-site\""), "{page}");
    let (status, body) = admin.get("/sites/nowhere.example").await;
    assert_eq!(status, 404);
    assert!(body.contains("no site `nowhere.example`"), "{body}");

    // The default site: reachable, no remove button, a forged removal refused.
    let default = admin.page("/sites/default").await;
    assert!(default.contains("data-domain=\"default\""), "{default}");
    assert!(!default.contains("/remove-site"), "{default}");
    let (status, _, body) = admin
        .post("/remove-site", &[("site", "default"), ("confirm", "yes")])
        .await;
    assert_eq!(status, 409);
    assert!(
        body.contains("the default site `default` cannot be removed"),
        "{body}"
    );
    assert!(store.site(&SiteRef::Default).await.is_ok());

    // Removing a site needs its confirmation.
    let (status, _, body) = admin.post("/remove-site", &[("site", "new.example")]).await;
    assert_eq!(status, 422);
    assert!(body.contains("id=\"confirm-error\""), "{body}");
    assert!(
        store
            .site(&SiteRef::Domain("new.example".into()))
            .await
            .is_ok()
    );
    let (status, location, _) = admin
        .post(
            "/remove-site",
            &[("site", "new.example"), ("confirm", "yes")],
        )
        .await;
    assert_eq!((status, location.as_str()), (303, "/?done=site-removed"));
    assert!(
        store
            .site(&SiteRef::Domain("new.example".into()))
            .await
            .is_err()
    );
    assert!(
        admin
            .page("/?done=site-removed")
            .await
            .contains("Site removed.")
    );
    let removed = &store.events(None, 1).await.unwrap()[0];
    assert_eq!(removed.site.as_deref(), Some("new.example"));
    assert_eq!(removed.actor, "admin@127.0.0.1");

    // A bypass secret: shown once on the answer (not in a redirect), stored hashed.
    let (status, location, body) = admin
        .post("/bypass/new", &[("site", "site005.example")])
        .await;
    assert_eq!(status, 200);
    assert!(location.is_empty());
    let secret = body
        .split("<code id=\"secret\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_owned();
    assert!(secret.len() >= 20, "{secret}");
    assert!(
        body.contains(&format!(
            "http://site005.example/_maintenance/bypass/{secret}"
        )),
        "{body}"
    );
    let site = store
        .site(&SiteRef::Domain("site005.example".into()))
        .await
        .unwrap();
    let hash = site.bypass_secret_hash.unwrap();
    assert!(!hash.contains(&secret));
    assert!(bypass::secret_matches(&secret, &hash));
    let later = admin.page("/sites/site005.example").await;
    assert!(!later.contains(&secret), "shown once");
    assert!(later.contains("id=\"bypass-state\">set<"), "{later}");
    assert!(later.contains("bypass"), "the site's audit log: {later}");
    let (status, location, _) = admin
        .post("/bypass/clear", &[("site", "site005.example")])
        .await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/sites/site005.example?done=bypass-cleared")
    );
    let site = store
        .site(&SiteRef::Domain("site005.example".into()))
        .await
        .unwrap();
    assert!(site.bypass_secret_hash.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_search_is_refused_with_400_naming_the_cap() {
    let db = fresh_db(Backend::Sqlite, "admin-long-search")
        .await
        .unwrap();
    let admin = Admin::open(start_admin(&db.url, AdminAuth::Open).await).await;
    let (status, body) = admin.get(&format!("/?q={}", "x".repeat(50_000))).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("search text of 50000 characters"), "{body}");
    assert!(body.contains("at most 200 characters"), "{body}");
    assert!(!body.contains("database unavailable"), "{body}");
    // At the cap, a search still runs.
    let (status, body) = admin.get(&format!("/?q={}", "x".repeat(200))).await;
    assert_eq!(status, 200, "{body}");
    // The bulk form's return fields are read the same way; nothing is written.
    let long = "x".repeat(201);
    let (status, _, body) = admin
        .post(
            "/bulk",
            &[("action", "on"), ("site", "default"), ("q", &long)],
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("nothing was changed"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_carries_the_security_headers() {
    let db = fresh_db(Backend::Sqlite, "admin-headers").await.unwrap();
    let base = start_admin(&db.url, AdminAuth::token(&"t".repeat(32)).unwrap()).await;
    let port = base.rsplit(':').next().unwrap().to_owned();
    let http = no_redirects();
    let cases = [
        // axum's own answers: a wrong method (405), a path that is not UTF-8 (400).
        (http.get(format!("{base}/logout")), 405),
        (http.post(format!("{base}/")), 405),
        (http.get(format!("{base}/sites/%FF")), 400),
        // The pages' own, the host check's and the fallback's.
        (http.get(format!("{base}/login")), 200),
        (http.get(format!("{base}/")), 303),
        (http.get(format!("{base}/nowhere")), 404),
        (
            http.get(format!("{base}/login"))
                .header("host", format!("evil.example:{port}")),
            421,
        ),
    ];
    for (n, (request, status)) in cases.into_iter().enumerate() {
        let res = request.send().await.unwrap();
        assert_eq!(res.status(), status, "case {n}");
        let h = res.headers();
        assert_eq!(h["cache-control"], "no-store", "case {n}");
        assert_eq!(h["x-frame-options"], "DENY", "case {n}");
        assert_eq!(h["x-content-type-options"], "nosniff", "case {n}");
        assert_eq!(h["referrer-policy"], "same-origin", "case {n}");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("default-src 'none'"), "case {n}: {csp}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_list_and_site_pages_on_sqlite() {
    list_and_site_pages(Backend::Sqlite, "admin_list_and_site_pages_on_sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_list_and_site_pages_on_postgres() {
    list_and_site_pages(Backend::Postgres, "admin_list_and_site_pages_on_postgres").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_list_and_site_pages_on_mysql() {
    list_and_site_pages(Backend::MySql, "admin_list_and_site_pages_on_mysql").await;
}
