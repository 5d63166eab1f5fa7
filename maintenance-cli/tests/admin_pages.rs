//! The admin page's list and site pages over real HTTP on every backend: search, state filter,
//! paging, bulk actions on the selected sites, adding and removing sites, and the bypass
//! secret shown once.

// Tests may unwrap: a panic is how they fail.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Backend, csrf_of, fresh_db, no_redirects, start_admin};
use maintenance_cli::admin::AdminAuth;
use maintenance_core::{MaintenanceStore, SiteRef, SiteState, bypass};

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
        self.post_as(path, form, Some(&self.csrf), Some(&self.base))
            .await
    }

    /// POSTs `form` with `csrf` and the `Origin` header `origin`, each if given: status,
    /// location, body.
    async fn post_as(
        &self,
        path: &str,
        form: &[(&str, &str)],
        csrf: Option<&str>,
        origin: Option<&str>,
    ) -> (u16, String, String) {
        let mut fields: Vec<(&str, &str)> = csrf.map(|csrf| ("csrf", csrf)).into_iter().collect();
        fields.extend_from_slice(form);
        let mut request = self.http.post(format!("{}{path}", self.base));
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        let res = request.form(&fields).send().await.unwrap();
        let status = res.status().as_u16();
        let location = res
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (status, location, res.text().await.unwrap())
    }

    /// POSTs `form` as [`Admin::post`] and expects a redirect: where to.
    async fn redirected(&self, path: &str, form: &[(&str, &str)]) -> String {
        let (status, location, body) = self.post(path, form).await;
        assert_eq!(status, 303, "{path} {form:?}: {body}");
        location
    }

    /// POSTs `form` as [`Admin::post`] and expects it refused with `status`: the answer's body.
    async fn refused(&self, path: &str, form: &[(&str, &str)], status: u16) -> String {
        let (got, _, body) = self.post(path, form).await;
        assert_eq!(got, status, "{path} {form:?}: {body}");
        body
    }
}

/// A full page of the list: its path, its pager's words, its first rows, its last row, the
/// links it has.
type FullPage<'a> = (&'a str, &'a str, &'a [&'a str], &'a str, &'a [&'a str]);

/// A form the page refuses: its fields, the status and the words the answer shows.
type Refusal<'a> = (&'a [(&'a str, &'a str)], u16, &'a [&'a str]);

async fn event_count(store: &dyn MaintenanceStore) -> usize {
    store.events(None, 100_000).await.unwrap().len()
}

async fn site(store: &dyn MaintenanceStore, domain: &str) -> SiteState {
    store
        .site(&SiteRef::Domain(domain.to_owned()))
        .await
        .unwrap()
}

async fn enabled(store: &dyn MaintenanceStore, domain: &str) -> bool {
    site(store, domain).await.enabled
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
    // Each full page: its path, its pager's words, its first rows, its last row, its links.
    let full: [FullPage<'_>; 2] = [
        (
            "/",
            "121 sites · page 1 of 3",
            &["default", "site000.example"],
            "site048.example",
            &["href=\"/?page=2\" rel=\"next\""],
        ),
        (
            "/?page=2",
            "page 2 of 3",
            &["site049.example"],
            "site098.example",
            &["href=\"/\" rel=\"prev\"", "href=\"/?page=3\" rel=\"next\""],
        ),
    ];
    for (path, pager, first, last, links) in full {
        let page = admin.page(path).await;
        let domains = rows(&page);
        assert_eq!(domains.len(), 50, "{path}");
        assert_eq!(&domains[..first.len()], first, "{path}");
        assert_eq!(domains[49], last, "{path}");
        for words in [pager].iter().chain(links) {
            assert!(page.contains(words), "{path}: {words} in {page}");
        }
    }
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
    let location = admin
        .redirected(
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
    let bulk_off = [
        ("action", "off"),
        ("site", "site002.example"),
        ("state", "on"),
        ("page", "2"),
    ];
    let location = admin.redirected("/bulk", &bulk_off).await;
    assert_eq!(location, "/?state=on&page=2&done=bulk-off&count=1");
    assert!(!enabled(&store, "site002.example").await);
    let back = admin.page(&location).await;
    assert!(back.contains("1 site taken out of maintenance."), "{back}");

    // No selection, no action, an unknown site, a missing CSRF token, another origin:
    // refused, nothing written.
    let events = event_count(&store).await;
    let one = ("site", "site003.example");
    let refusals: [Refusal<'_>; 4] = [
        (
            &[("action", "on")],
            422,
            &["No site selected", "id=\"sites\""],
        ),
        (&[("action", ""), one], 422, &["No action chosen"]),
        (
            &[("action", "on"), one, ("site", "gone.example")],
            409,
            &["unknown site `gone.example`"],
        ),
        (
            &[("action", "on"), one, ("page", "x")],
            400,
            &["invalid page `x`"],
        ),
    ];
    for (form, status, words) in refusals {
        let body = admin.refused("/bulk", form, status).await;
        for word in words {
            assert!(body.contains(word), "{form:?}: {word} in {body}");
        }
    }
    // No CSRF token; the token, but from another origin.
    let form = [("action", "on"), one];
    let forged = admin.post_as("/bulk", &form, None, None).await;
    assert_eq!(forged.0, 403, "{forged:?}");
    let evil = Some("http://evil.example");
    let cross = admin.post_as("/bulk", &form, Some(&admin.csrf), evil).await;
    assert_eq!(cross.0, 403, "{cross:?}");
    assert!(!enabled(&store, "site003.example").await);
    assert_eq!(event_count(&store).await, events);

    // Adding a site: errors beside the field; then its page.
    for (domain, words) in [
        ("", "a domain is needed"),
        ("site005.example", "already exists"),
        ("bad domain!", "bad domain!"),
    ] {
        let body = admin
            .refused("/add-site", &[("domain", domain), ("name", "x")], 422)
            .await;
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
    let location = admin
        .redirected("/add-site", &[("domain", "New.Example"), ("name", "<New>")])
        .await;
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
    let body = admin
        .refused(
            "/remove-site",
            &[("site", "default"), ("confirm", "yes")],
            409,
        )
        .await;
    assert!(
        body.contains("the default site `default` cannot be removed"),
        "{body}"
    );
    assert!(store.site(&SiteRef::Default).await.is_ok());

    // Removing a site needs its confirmation.
    let body = admin
        .refused("/remove-site", &[("site", "new.example")], 422)
        .await;
    assert!(body.contains("id=\"confirm-error\""), "{body}");
    assert!(
        store
            .site(&SiteRef::Domain("new.example".into()))
            .await
            .is_ok()
    );
    let location = admin
        .redirected(
            "/remove-site",
            &[("site", "new.example"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(location, "/?done=site-removed");
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
    let hash = site(&store, "site005.example")
        .await
        .bypass_secret_hash
        .unwrap();
    assert!(!hash.contains(&secret));
    assert!(bypass::secret_matches(&secret, &hash));
    let later = admin.page("/sites/site005.example").await;
    assert!(!later.contains(&secret), "shown once");
    assert!(later.contains("id=\"bypass-state\">set<"), "{later}");
    assert!(later.contains("bypass"), "the site's audit log: {later}");
    let location = admin
        .redirected("/bypass/clear", &[("site", "site005.example")])
        .await;
    assert_eq!(location, "/sites/site005.example?done=bypass-cleared");
    let cleared = site(&store, "site005.example").await;
    assert!(cleared.bypass_secret_hash.is_none());
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

maintenance_tests::multi_thread_tests! {
    admin_list_and_site_pages_on_sqlite => list_and_site_pages(Backend::Sqlite, "admin_list_and_site_pages_on_sqlite");
    admin_list_and_site_pages_on_postgres => list_and_site_pages(Backend::Postgres, "admin_list_and_site_pages_on_postgres");
    admin_list_and_site_pages_on_mysql => list_and_site_pages(Backend::MySql, "admin_list_and_site_pages_on_mysql");
}
