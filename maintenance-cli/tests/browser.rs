//! The admin page driven by a real headless Chromium (through chromedriver): log in, tick
//! "In maintenance mode", and see the test project (running in-process on the same database)
//! answer 503; untick, see 200; an invalid ignored pattern shows its error beside the field and
//! writes nothing.
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

use common::{Backend, fresh_db, start_admin, start_test_project, wait_for_status};
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_page_in_chromium_turns_maintenance_on_and_off() {
    const TEST: &str = "admin_page_in_chromium_turns_maintenance_on_and_off";
    let (Some(driver_path), true) = (chromedriver(), PathBuf::from(CHROMIUM).is_file()) else {
        let why = "chromedriver or chromium is not installed (install them with `apt-get install -y chromium chromium-driver`)";
        if std::env::var_os("CI").is_some() {
            panic!("{TEST}: {why}; CI must run this test");
        }
        eprintln!("{TEST}: skipped: {why}");
        return;
    };

    let db = fresh_db(Backend::Sqlite, TEST).await.unwrap();
    let app = start_test_project(&db.url).await;
    let admin = start_admin(&db.url, AdminAuth::token(TOKEN).unwrap()).await;
    let store = common::store(&db.url).await;
    let http = reqwest::Client::new();
    let home = format!("{app}/");
    wait_for_status(&http, &home, 200).await;

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
    let browser = ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&driver_url)
        .await
        .expect("a Chromium session through chromedriver");

    let result = drive(&browser, &admin, &home, &http, &store).await;
    let _ = browser.close().await;
    drop(driver);
    if let Err(e) = result {
        panic!("{TEST}: {e}");
    }
}

type Res = Result<(), Box<dyn std::error::Error>>;

/// Clicks `button` and waits until the browser has left the current page (its `html` element
/// is gone) and the next one has its body: the form's POST-redirect-GET is done.
async fn submit(browser: &fantoccini::Client, button: &str) -> Res {
    let old = browser.find(Locator::Css("html")).await?;
    browser.find(Locator::Css(button)).await?.click().await?;
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
    home: &str,
    http: &reqwest::Client,
    store: &dyn MaintenanceStore,
) -> Res {
    // Log in with the token.
    browser.goto(&format!("{admin}/")).await?;
    browser.wait().for_element(Locator::Id("token")).await?;
    browser
        .find(Locator::Id("token"))
        .await?
        .send_keys(TOKEN)
        .await?;
    submit(browser, "#login-submit").await?;
    browser.wait().for_element(Locator::Css(DEFAULT)).await?;

    // Tick "In maintenance mode" and save: the test project answers 503.
    let checkbox = format!("{DEFAULT} form.state input[name='enabled']");
    let save = format!("{DEFAULT} form.state button[type='submit']");
    let label = browser
        .find(Locator::Css(&format!("{DEFAULT} form.state label")))
        .await?
        .text()
        .await?;
    assert!(label.contains("In maintenance mode"), "{label}");
    let boxed = browser.find(Locator::Css(&checkbox)).await?;
    assert!(!boxed.is_selected().await?);
    boxed.click().await?;
    submit(browser, &save).await?;
    let notice = browser.find(Locator::Id("notice")).await?.text().await?;
    assert_eq!(notice, "Saved.");
    assert!(
        browser
            .find(Locator::Css(&checkbox))
            .await?
            .is_selected()
            .await?
    );
    wait_for_status(http, home, 503).await;
    let site = store.site(&SiteRef::Default).await?;
    assert!(site.enabled);
    assert!(
        site.updated_by
            .as_deref()
            .is_some_and(|a| a.starts_with("admin@")),
        "{:?}",
        site.updated_by
    );

    // Untick and save: 200 again.
    browser.find(Locator::Css(&checkbox)).await?.click().await?;
    submit(browser, &save).await?;
    let notice = browser.find(Locator::Id("notice")).await?.text().await?;
    assert_eq!(notice, "Saved.");
    assert!(
        !browser
            .find(Locator::Css(&checkbox))
            .await?
            .is_selected()
            .await?
    );
    wait_for_status(http, home, 200).await;

    // An invalid pattern: the error beside the field, the value kept, nothing written.
    let events = store.events(None, 10_000).await?.len();
    let form = format!("{DEFAULT} form[action='/ignored/add']");
    browser
        .find(Locator::Css(&format!("{form} input[name='pattern']")))
        .await?
        .send_keys("^(unclosed")
        .await?;
    browser
        .find(Locator::Css(&format!("{form} input[name='description']")))
        .await?
        .send_keys("broken")
        .await?;
    submit(browser, &format!("{form} button[type='submit']")).await?;
    let beside = format!("{form} input[name='pattern'] + span.error");
    browser.wait().for_element(Locator::Css(&beside)).await?;
    let error = browser.find(Locator::Css(&beside)).await?.text().await?;
    assert!(
        error.contains("invalid ignored-path pattern `^(unclosed`"),
        "{error}"
    );
    assert!(error.contains("unclosed group"), "{error}");
    let kept = browser
        .find(Locator::Css(&format!("{form} input[name='pattern']")))
        .await?
        .prop("value")
        .await?;
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
    let notice = browser.find(Locator::Id("notice")).await?.text().await?;
    assert_eq!(notice, "Ignored pattern saved.");
    let listed = browser
        .find(Locator::Css(&format!(
            "{DEFAULT} table[id^='ignored-list'] code"
        )))
        .await?
        .text()
        .await?;
    assert_eq!(listed, "^ignored-page/$");
    Ok(())
}
