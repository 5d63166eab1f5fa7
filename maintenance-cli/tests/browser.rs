//! The admin page driven by a real headless Chromium (through chromedriver): log in, open the
//! default site's page from the list, tick "In maintenance mode", and see the test project
//! (running in-process on the same database) answer 503; untick, see 200; an invalid ignored
//! pattern shows its error beside the field and writes nothing. With 10,000 sites: search, open
//! a site, save it, filter the list by state, and put two selected sites in maintenance. With
//! HTML in every value a page shows (site name, message, scope, patterns, descriptions, audit
//! actor and detail, search text, a refused form's value): no value becomes an element.
//!
//! Needs `chromium` and `chromium-driver` (Debian). Without chromedriver the test fails when
//! `CI` is set and prints that it was skipped otherwise.

// Tests may unwrap: a panic is how they fail.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{
    Backend, Project, TestDb, fresh_db, start_admin, start_test_project, wait_for_status,
};
use fantoccini::{ClientBuilder, Locator};
use maintenance_cli::admin::AdminAuth;
use maintenance_core::{MaintenanceStore, SiteRef};

const TOKEN: &str = "browser-test-token-0123456789abcdefghij";
const CHROMIUM: &str = "/usr/bin/chromium";

/// chromedriver's path: /usr/bin/chromedriver, else the first on PATH.
fn chromedriver() -> Option<PathBuf> {
    let fixed = PathBuf::from("/usr/bin/chromedriver");
    if fixed.is_file() {
        return Some(fixed);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("chromedriver"))
            .find(|p| p.is_file())
    })
}

/// Kills chromedriver when the test ends, whatever happens.
struct Driver(std::process::Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

async fn wait_until_ready(url: &str) {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(res) = http.get(format!("{url}/status")).send().await
            && res.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver at {url} did not come up within 20 s");
}

/// A headless Chromium driven through chromedriver; both end when it is dropped.
struct Browser {
    client: fantoccini::Client,
    _driver: Driver,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Ends the session, then fails the test `test` with `result`'s error, if any.
    async fn close(self, test: &str, result: Res) {
        let _ = self.client.clone().close().await;
        if let Err(e) = result {
            panic!("{test}: {e}");
        }
    }
}

/// Starts chromedriver and a Chromium session, and makes a fresh SQLite database for `test`;
/// or `None` (after saying the test was skipped) when they are not installed and `CI` is not
/// set.
async fn start_browser(test: &str) -> Option<(Browser, TestDb)> {
    let (Some(driver_path), true) = (chromedriver(), PathBuf::from(CHROMIUM).is_file()) else {
        let why = "chromedriver or chromium is not installed (install them with `apt-get install -y chromium chromium-driver`)";
        if std::env::var_os("CI").is_some() {
            panic!("{test}: {why}; CI must run this test");
        }
        eprintln!("{test}: skipped: {why}");
        return None;
    };
    let port = free_port();
    let driver = Driver(
        Command::new(&driver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", driver_path.display())),
    );
    let driver_url = format!("http://127.0.0.1:{port}");
    wait_until_ready(&driver_url).await;

    let profile = tempfile::tempdir().unwrap();
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".to_owned(),
        serde_json::json!({
            "binary": CHROMIUM,
            "args": [
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                format!("--user-data-dir={}", profile.path().display()),
            ],
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let client = ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&driver_url)
        .await
        .expect("a Chromium session through chromedriver");
    let browser = Browser {
        client,
        _driver: driver,
        _profile: profile,
    };
    let db = fresh_db(Backend::Sqlite, test)
        .await
        .expect("SQLite needs no server");
    Some((browser, db))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_page_in_chromium_turns_maintenance_on_and_off() {
    const TEST: &str = "admin_page_in_chromium_turns_maintenance_on_and_off";
    let Some((browser, db)) = start_browser(TEST).await else {
        return;
    };
    let app = start_test_project(&db.url).await;
    let admin = start_admin(&db.url, AdminAuth::token(TOKEN).unwrap()).await;
    let store = common::store(&db.url).await;
    let result = drive(&browser.client, &admin, &app, &store).await;
    browser.close(TEST, result).await;
}

type Res = Result<(), Box<dyn std::error::Error>>;

/// Logs in with the token on the admin page at `admin`.
async fn log_in(browser: &fantoccini::Client, admin: &str) -> Res {
    browser.goto(&format!("{admin}/")).await?;
    browser.wait().for_element(Locator::Id("token")).await?;
    type_into(browser, "#token", TOKEN).await?;
    submit(browser, "#login-submit").await
}

/// Clicks `button` and waits until the browser has left the current page (its `html` element
/// is gone) and the next one has its body: the form's POST-redirect-GET is done.
async fn submit(browser: &fantoccini::Client, button: &str) -> Res {
    let old = browser.find(Locator::Css("html")).await?;
    click(browser, button).await?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while old.tag_name().await.is_ok() {
        if Instant::now() > deadline {
            return Err(format!("clicking {button} did not load a new page within 10 s").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    browser.wait().for_element(Locator::Css("body")).await?;
    Ok(())
}

const DEFAULT: &str = "section[data-domain='default']";

async fn drive(
    browser: &fantoccini::Client,
    admin: &str,
    app: &Project,
    store: &dyn MaintenanceStore,
) -> Res {
    let (http, home) = (&app.http, app.home.as_str());
    log_in(browser, admin).await?;
    // The list of sites; the default site's page from its row.
    browser.wait().for_element(Locator::Id("sites")).await?;
    submit(browser, "tr[data-domain='default'] a.site-link").await?;
    browser.wait().for_element(Locator::Css(DEFAULT)).await?;

    // Tick "In maintenance mode" and save: the test project answers 503. Untick and save:
    // 200 again.
    let checkbox = format!("{DEFAULT} form.state input[name='enabled']");
    let save = format!("{DEFAULT} form.state button[type='submit']");
    let label = text_of(browser, &format!("{DEFAULT} form.state label")).await?;
    assert!(label.contains("In maintenance mode"), "{label}");
    for (on, status) in [(true, 503), (false, 200)] {
        let boxed = browser.find(Locator::Css(&checkbox)).await?;
        assert_eq!(boxed.is_selected().await?, !on, "before saving on={on}");
        boxed.click().await?;
        submit(browser, &save).await?;
        assert_eq!(text_of(browser, "#notice").await?, "Saved.", "on={on}");
        let boxed = browser.find(Locator::Css(&checkbox)).await?;
        assert_eq!(boxed.is_selected().await?, on, "after saving on={on}");
        wait_for_status(http, home, status).await;
        let site = store.site(&SiteRef::Default).await?;
        assert_eq!(site.enabled, on);
        assert!(
            site.updated_by
                .as_deref()
                .is_some_and(|a| a.starts_with("admin@")),
            "on={on}: {:?}",
            site.updated_by
        );
    }

    // An invalid pattern: the error beside the field, the value kept, nothing written.
    let events = store.events(None, 10_000).await?.len();
    let form = format!("{DEFAULT} form[action='/ignored/add']");
    type_into(
        browser,
        &format!("{form} input[name='pattern']"),
        "^(unclosed",
    )
    .await?;
    type_into(
        browser,
        &format!("{form} input[name='description']"),
        "broken",
    )
    .await?;
    submit(browser, &format!("{form} button[type='submit']")).await?;
    let beside = format!("{form} input[name='pattern'] + span.error");
    browser.wait().for_element(Locator::Css(&beside)).await?;
    let error = text_of(browser, &beside).await?;
    assert!(
        error.contains("invalid ignored-path pattern `^(unclosed`"),
        "{error}"
    );
    assert!(error.contains("unclosed group"), "{error}");
    let kept = value_of(browser, &format!("{form} input[name='pattern']")).await?;
    assert_eq!(kept.as_deref(), Some("^(unclosed"));
    assert_eq!(
        store.events(None, 10_000).await?.len(),
        events,
        "nothing was written"
    );
    assert!(
        store
            .site(&SiteRef::Default)
            .await?
            .ignored_paths
            .is_empty()
    );

    // A valid pattern from the same form is saved and listed.
    let input = browser
        .find(Locator::Css(&format!("{form} input[name='pattern']")))
        .await?;
    input.clear().await?;
    input.send_keys("^ignored-page/$").await?;
    submit(browser, &format!("{form} button[type='submit']")).await?;
    assert_eq!(text_of(browser, "#notice").await?, "Ignored pattern saved.");
    let listed = text_of(
        browser,
        &format!("{DEFAULT} table[id^='ignored-list'] code"),
    )
    .await?;
    assert_eq!(listed, "^ignored-page/$");
    Ok(())
}

/// Adds `count` sites `site00001.example`... to a migrated SQLite database in one statement,
/// and bumps the revision as a store's write would.
async fn seed_sites(url: &str, count: u32) {
    run_sql(
        url,
        format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {count}) \
             INSERT INTO maintenance_sites (domain, name) \
             SELECT printf('site%05d.example', i), printf('Site %d', i) FROM n; \
             UPDATE maintenance_revision SET revision = revision + 1;"
        ),
    )
    .await;
}

/// Runs `sql` on the SQLite database at `url`.
async fn run_sql(url: &str, sql: String) {
    use maintenance_sqlx::sqlx::{self, AssertSqlSafe, Connection};
    let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
    sqlx::raw_sql(AssertSqlSafe(sql))
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
}

/// A browser, and the admin page on a fresh database of `sites` seeded sites.
async fn start_list(
    test: &str,
    sites: u32,
) -> Option<(Browser, TestDb, maintenance_sqlx::SqlxStore, String)> {
    let (browser, db) = start_browser(test).await?;
    let store = common::store(&db.url).await;
    store.migrate().await.unwrap();
    seed_sites(&db.url, sites).await;
    let admin = start_admin(&db.url, AdminAuth::token(TOKEN).unwrap()).await;
    Some((browser, db, store, admin))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_list_in_chromium_with_ten_thousand_sites() {
    const TEST: &str = "admin_list_in_chromium_with_ten_thousand_sites";
    let Some((browser, _db, store, admin)) = start_list(TEST, 10_000).await else {
        return;
    };

    let result = drive_list(&browser.client, &admin, &store).await;
    browser.close(TEST, result).await;
}

/// The domains of the list's rows, in order.
async fn listed(browser: &fantoccini::Client) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let mut domains = Vec::new();
    for row in browser
        .find_all(Locator::Css("#sites tbody tr[data-domain]"))
        .await?
    {
        domains.push(row.attr("data-domain").await?.unwrap_or_default());
    }
    Ok(domains)
}

async fn text_of(
    browser: &fantoccini::Client,
    css: &str,
) -> Result<String, Box<dyn std::error::Error>> {
    Ok(browser.find(Locator::Css(css)).await?.text().await?)
}

/// The value of the form field found by `css`, as the browser holds it.
async fn value_of(
    browser: &fantoccini::Client,
    css: &str,
) -> Result<Option<String>, Box<dyn std::error::Error>> {
    Ok(browser.find(Locator::Css(css)).await?.prop("value").await?)
}

/// Clicks the element found by `css`.
async fn click(browser: &fantoccini::Client, css: &str) -> Res {
    browser.find(Locator::Css(css)).await?.click().await?;
    Ok(())
}

/// Types `text` into the form field found by `css`.
async fn type_into(browser: &fantoccini::Client, css: &str, text: &str) -> Res {
    browser
        .find(Locator::Css(css))
        .await?
        .send_keys(text)
        .await?;
    Ok(())
}

/// Ticks the rows of `domains` on the list, chooses `action` (`on` or `off`) and presses Go.
async fn bulk_action(browser: &fantoccini::Client, domains: &[&str], action: &str) -> Res {
    for domain in domains {
        click(
            browser,
            &format!("tr[data-domain='{domain}'] input[name='site']"),
        )
        .await?;
    }
    browser
        .find(Locator::Id("action"))
        .await?
        .select_by_value(action)
        .await?;
    submit(browser, "#bulk-submit").await
}

/// Searches for `q` with the state filter `state` (its option's value) from the list's form.
async fn search(browser: &fantoccini::Client, q: &str, state: &str) -> Res {
    let input = browser.find(Locator::Id("q")).await?;
    input.clear().await?;
    input.send_keys(q).await?;
    browser
        .find(Locator::Id("state"))
        .await?
        .select_by_value(state)
        .await?;
    submit(browser, "#search-submit").await
}

async fn drive_list(
    browser: &fantoccini::Client,
    admin: &str,
    store: &dyn MaintenanceStore,
) -> Res {
    log_in(browser, admin).await?;
    browser.wait().for_element(Locator::Id("sites")).await?;
    let pager = text_of(browser, "#pager").await?;
    assert!(pager.starts_with("10001 sites · page 1 of 201"), "{pager}");
    assert_eq!(listed(browser).await?.len(), 50);

    // Search for one site and open its page.
    search(browser, "site04321", "").await?;
    assert_eq!(listed(browser).await?, ["site04321.example"]);
    let pager = text_of(browser, "#pager").await?;
    assert!(pager.starts_with("1 site · page 1 of 1"), "{pager}");
    submit(browser, "tr[data-domain='site04321.example'] a.site-link").await?;
    let section = "section[data-domain='site04321.example']";
    browser.wait().for_element(Locator::Css(section)).await?;

    // Tick maintenance and save.
    click(
        browser,
        &format!("{section} form.state input[name='enabled']"),
    )
    .await?;
    submit(
        browser,
        &format!("{section} form.state button[type='submit']"),
    )
    .await?;
    assert_eq!(text_of(browser, "#notice").await?, "Saved.");
    let site = SiteRef::Domain("site04321.example".into());
    assert!(store.site(&site).await?.enabled);

    // Back to the list, filtered by state: the site is listed, alone.
    submit(browser, "#back").await?;
    search(browser, "", "on").await?;
    assert_eq!(listed(browser).await?, ["site04321.example"]);
    assert!(
        text_of(browser, "tr[data-domain='site04321.example'] td.state")
            .await?
            .starts_with("on"),
    );

    // Select two sites of a search and put them in maintenance.
    search(browser, "site0001", "").await?;
    let rows = listed(browser).await?;
    assert_eq!(rows.len(), 10, "{rows:?}");
    assert_eq!(rows[0], "site00010.example");
    bulk_action(browser, &["site00010.example", "site00011.example"], "on").await?;
    assert_eq!(
        text_of(browser, "#notice").await?,
        "2 sites put in maintenance."
    );
    let url = browser.current_url().await?;
    assert_eq!(
        url.query(),
        Some("q=site0001&done=bulk-on&count=2"),
        "{url}"
    );
    assert_eq!(listed(browser).await?.len(), 10, "the same list");
    for domain in [
        "site00010.example",
        "site00011.example",
        "site04321.example",
    ] {
        assert!(
            store.site(&SiteRef::Domain(domain.into())).await?.enabled,
            "{domain}"
        );
    }
    assert!(
        !store
            .site(&SiteRef::Domain("site00012.example".into()))
            .await?
            .enabled
    );
    let on = store
        .list_sites(
            &maintenance_core::SiteQuery::all(chrono::Utc::now())
                .state(maintenance_core::StateFilter::On),
        )
        .await?;
    assert_eq!(on.total, 3);
    search(browser, "", "on").await?;
    assert_eq!(
        listed(browser).await?,
        [
            "site00010.example",
            "site00011.example",
            "site04321.example"
        ]
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_list_in_chromium_filters_and_acts_by_tag() {
    const TEST: &str = "admin_list_in_chromium_filters_and_acts_by_tag";
    let Some((browser, db, store, admin)) = start_list(TEST, 120).await else {
        return;
    };
    // Every even site (60, more than a page) carries `eu`.
    run_sql(
        &db.url,
        "INSERT INTO maintenance_site_tags (site_id, tag) SELECT id, 'eu' FROM maintenance_sites \
         WHERE domain LIKE 'site%' AND CAST(substr(domain, 5, 5) AS INTEGER) % 2 = 0; \
         UPDATE maintenance_revision SET revision = revision + 1;"
            .to_owned(),
    )
    .await;
    let result = drive_tags(&browser.client, &admin, &store).await;
    browser.close(TEST, result).await;
}

/// The page's notice, or an error holding the page's text when it has none.
async fn notice_of(browser: &fantoccini::Client) -> Result<String, Box<dyn std::error::Error>> {
    match browser.find(Locator::Id("notice")).await {
        Ok(notice) => Ok(notice.text().await?),
        Err(_) => {
            let url = browser.current_url().await?;
            let page = text_of(browser, "body").await?;
            Err(format!("no notice at {url}: {page}").into())
        }
    }
}

async fn drive_tags(
    browser: &fantoccini::Client,
    admin: &str,
    store: &dyn MaintenanceStore,
) -> Res {
    log_in(browser, admin).await?;
    browser.wait().for_element(Locator::Id("sites")).await?;
    assert_eq!(
        text_of(browser, "tr[data-domain='site00002.example'] td.tags").await?,
        "eu"
    );

    // Tag one site from its page.
    search(browser, "site00003", "").await?;
    submit(browser, "tr[data-domain='site00003.example'] a.site-link").await?;
    let section = "section[data-domain='site00003.example']";
    browser.wait().for_element(Locator::Css(section)).await?;
    type_into(
        browser,
        &format!("{section} form[action='/tags/add'] input[name='tag']"),
        "Blue",
    )
    .await?;
    submit(
        browser,
        &format!("{section} form[action='/tags/add'] button"),
    )
    .await?;
    assert_eq!(notice_of(browser).await?, "Tag added.");
    let three = SiteRef::Domain("site00003.example".into());
    assert_eq!(store.site(&three).await?.tags, ["blue"]);
    // A bad tag is refused beside its field, nothing written.
    type_into(
        browser,
        &format!("{section} form[action='/tags/add'] input[name='tag']"),
        "no spaces",
    )
    .await?;
    submit(
        browser,
        &format!("{section} form[action='/tags/add'] button"),
    )
    .await?;
    let error = text_of(
        browser,
        &format!("{section} form[action='/tags/add'] .error"),
    )
    .await?;
    assert!(error.contains("invalid tag `no spaces`"), "{error}");
    assert_eq!(store.site(&three).await?.tags, ["blue"]);

    // Its tag links to the list filtered by it.
    submit(browser, &format!("{section} ul.tags a.tag")).await?;
    assert_eq!(listed(browser).await?, ["site00003.example"]);
    assert_eq!(value_of(browser, "#tag").await?.as_deref(), Some("blue"));

    // Filter by `eu` with the list's control: 60 sites over two pages.
    let tag = browser.find(Locator::Id("tag")).await?;
    tag.clear().await?;
    tag.send_keys("eu").await?;
    submit(browser, "#search-submit").await?;
    let pager = text_of(browser, "#pager").await?;
    assert!(pager.starts_with("60 sites · page 1 of 2"), "{pager}");
    let rows = listed(browser).await?;
    assert_eq!(rows.len(), 50);
    assert!(!rows.contains(&"site00003.example".to_owned()), "{rows:?}");

    // Bulk on to every site tagged `eu`, both pages, none ticked.
    click(browser, "#whole-tag").await?;
    bulk_action(browser, &[], "on").await?;
    assert_eq!(notice_of(browser).await?, "60 sites put in maintenance.");
    let url = browser.current_url().await?;
    assert_eq!(url.query(), Some("tag=eu&done=bulk-on&count=60"), "{url}");
    let on = store
        .list_sites(
            &maintenance_core::SiteQuery::all(chrono::Utc::now())
                .state(maintenance_core::StateFilter::On),
        )
        .await?;
    assert_eq!(on.total, 60);
    assert!(on.sites.iter().all(|s| s.tags == ["eu"]));

    // Off again for two ticked sites only (the box left unticked).
    bulk_action(browser, &["site00002.example", "site00004.example"], "off").await?;
    assert_eq!(
        notice_of(browser).await?,
        "2 sites taken out of maintenance."
    );
    let on = store
        .list_sites(
            &maintenance_core::SiteQuery::all(chrono::Utc::now())
                .state(maintenance_core::StateFilter::On),
        )
        .await?;
    assert_eq!(on.total, 58);

    // Remove the tag from its site's page.
    browser
        .goto(&format!("{admin}/sites/site00003.example"))
        .await?;
    submit(
        browser,
        &format!("{section} ul.tags li[data-tag='blue'] button"),
    )
    .await?;
    assert_eq!(notice_of(browser).await?, "Tag removed.");
    assert!(store.site(&three).await?.tags.is_empty());
    Ok(())
}

/// Markup that would become elements (and run a handler) if a page wrote it unescaped, in
/// text or in an attribute; each piece is a valid regex too, so it can be an ignored pattern
/// and a scope.
const PAYLOAD: &str =
    "\"><img src=x class=xss-probe onerror=\"document.title='xss'\"><b class='xss-probe'>b</b>";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_pages_in_chromium_show_html_in_every_value_as_text() {
    const TEST: &str = "admin_pages_in_chromium_show_html_in_every_value_as_text";
    let Some((browser, db)) = start_browser(TEST).await else {
        return;
    };
    let admin = start_admin(&db.url, AdminAuth::token(TOKEN).unwrap()).await;
    let store = common::store(&db.url).await;
    let result = show_payloads(&browser.client, &admin, &store).await;
    browser.close(TEST, result).await;
}

/// Every value the pages show holds [`PAYLOAD`]: the site's name, message, scope, an ignored
/// pattern and its description, a network's description, the audit log's actor and detail,
/// the search text, and a refused form's value and its message; each page is checked.
async fn show_payloads(
    browser: &fantoccini::Client,
    admin: &str,
    store: &dyn MaintenanceStore,
) -> Res {
    use maintenance_core::{AuditAction, StateChange};
    let domain = "payload.example";
    let site = SiteRef::Domain(domain.to_owned());
    store.add_site(domain, Some(PAYLOAD), PAYLOAD).await?;
    let change = StateChange::turn_on()
        .message(PAYLOAD)
        .only([PAYLOAD.to_owned()]);
    store.set_state(&site, &change, PAYLOAD).await?;
    store
        .add_ignored_path(&site, PAYLOAD, PAYLOAD, PAYLOAD)
        .await?;
    store
        .add_allowed_network(&site, "10.0.0.0/8", PAYLOAD, PAYLOAD)
        .await?;
    store
        .record_event(&site, AuditAction::RunFailed, PAYLOAD, PAYLOAD)
        .await?;

    log_in(browser, admin).await?;
    browser.wait().for_element(Locator::Id("sites")).await?;
    no_markup(
        browser,
        "the list",
        &["tr[data-domain='payload.example']", "#log"],
    )
    .await?;

    // The search text, back in its field and nowhere as markup.
    let query: String = form_urlencoded::byte_serialize(PAYLOAD.as_bytes()).collect();
    browser.goto(&format!("{admin}/?q={query}")).await?;
    browser.wait().for_element(Locator::Id("q")).await?;
    let typed = value_of(browser, "#q").await?;
    assert_eq!(typed.as_deref(), Some(PAYLOAD));
    no_markup(browser, "the list searched for the payload", &[]).await?;

    // The site's page: name, message, scope, pattern, descriptions, actor, detail.
    browser.goto(&format!("{admin}/sites/{domain}")).await?;
    browser
        .wait()
        .for_element(Locator::Css("section[data-domain='payload.example']"))
        .await?;
    no_markup(
        browser,
        "the site's page",
        &[
            "section.site h2",
            "table[id^='ignored-list']",
            "table[id^='network-list']",
            "#log",
        ],
    )
    .await?;
    for field in ["message", "scope"] {
        let shown = value_of(browser, &format!("textarea[name='{field}']")).await?;
        assert_eq!(shown.as_deref(), Some(PAYLOAD), "{field}");
    }

    // Typed into a form: a description saved through the page, and a refused time shown
    // again with its message.
    let form = "form[action='/networks/add']";
    type_into(
        browser,
        &format!("{form} input[name='network']"),
        "192.0.2.0/24",
    )
    .await?;
    type_into(
        browser,
        &format!("{form} input[name='description']"),
        PAYLOAD,
    )
    .await?;
    submit(browser, &format!("{form} button[type='submit']")).await?;
    assert_eq!(text_of(browser, "#notice").await?, "Allowed network saved.");
    no_markup(
        browser,
        "the site's page after a save",
        &["table[id^='network-list']"],
    )
    .await?;
    let saved = store.site(&site).await?;
    assert!(
        saved
            .allowed_networks
            .iter()
            .any(|n| n.network.to_string() == "192.0.2.0/24" && n.description == PAYLOAD),
        "{:?}",
        saved.allowed_networks
    );

    let starts = "form.state input[name='starts_at']";
    type_into(browser, starts, PAYLOAD).await?;
    submit(browser, "form.state button[type='submit']").await?;
    let beside = format!("{starts} + span.error");
    browser.wait().for_element(Locator::Css(&beside)).await?;
    no_markup(browser, "a refused form", &[]).await?;
    let kept = value_of(browser, starts).await?;
    assert_eq!(kept.as_deref(), Some(PAYLOAD));
    Ok(())
}

/// Checks the page in the browser: no element of the payload's (no `img`, nothing of class
/// `xss-probe`), no handler of it ran (the title is the page's), and each of `holders` shows
/// the payload as text.
async fn no_markup(browser: &fantoccini::Client, page: &str, holders: &[&str]) -> Res {
    let found = browser
        .execute(
            "return document.querySelectorAll('img, .xss-probe, [onerror]').length",
            vec![],
        )
        .await?;
    assert_eq!(
        found,
        serde_json::json!(0),
        "{page}: the payload became elements"
    );
    let title = browser.title().await?;
    assert!(
        title.contains("Maintenance") && !title.contains("xss"),
        "{page}: title {title}"
    );
    for holder in holders {
        let text = text_of(browser, holder).await?;
        assert!(
            text.contains("<img src=x class=xss-probe")
                && text.contains("<b class='xss-probe'>b</b>"),
            "{page}: {holder} does not show the payload as text: {text}"
        );
    }
    Ok(())
}
