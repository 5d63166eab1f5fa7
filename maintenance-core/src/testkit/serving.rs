//! The serving benchmarks' cases, the same for every adapter.

use chrono::Utc;

use crate::MaintenanceStore;
use crate::model::SiteRef;

use super::fixtures::{BYPASS_SECRET, memory_handle};

/// The cases of the serving benchmarks, the same for every adapter (`benches/` of each adapter
/// crate, and `bench/` for the test projects over HTTP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServingCase {
    /// The app without the layer, `GET /`: what every other case is compared with.
    Bare,
    /// The layer on, the site not in maintenance, `GET /` (200).
    Off,
    /// The site in maintenance, `GET /` (503).
    Blocked,
    /// The site in maintenance, `GET /admin/login/` (200: the policy ignores `^admin`).
    Ignored,
    /// The site in maintenance with 50 ignored patterns and 20 allowed networks, none of which
    /// lets `GET /` through (503 after every check).
    Many,
    /// The site in maintenance, `GET /` with a valid bypass cookie (200).
    Bypass,
}

impl ServingCase {
    /// Every case, `Bare` first.
    pub const ALL: [ServingCase; 6] = [
        ServingCase::Bare,
        ServingCase::Off,
        ServingCase::Blocked,
        ServingCase::Ignored,
        ServingCase::Many,
        ServingCase::Bypass,
    ];

    /// A short name: `bare`, `off`, `blocked`, `ignored`, `many`, `bypass`.
    pub fn name(self) -> &'static str {
        match self {
            ServingCase::Bare => "bare",
            ServingCase::Off => "off",
            ServingCase::Blocked => "blocked",
            ServingCase::Ignored => "ignored",
            ServingCase::Many => "many",
            ServingCase::Bypass => "bypass",
        }
    }

    /// The path requested.
    pub fn path(self) -> &'static str {
        match self {
            ServingCase::Ignored => "/admin/login/",
            _ => "/",
        }
    }

    /// The status expected.
    pub fn status(self) -> u16 {
        match self {
            ServingCase::Blocked | ServingCase::Many => 503,
            _ => 200,
        }
    }
}

/// The host every serving-benchmark request names.
pub const SERVING_HOST: &str = "example.com";
/// The peer address of every serving-benchmark request (TEST-NET-3: in no allowed network).
pub const SERVING_PEER: &str = "203.0.113.50:40000";
/// The `Accept` line of every serving-benchmark request: a browser's.
pub const SERVING_ACCEPT: &str =
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8";

/// The handle for `case` (none for [`ServingCase::Bare`]) on a fresh memory store, with no
/// background refresher, and the `Cookie` line its requests carry: a session cookie that
/// names nobody, and for [`ServingCase::Bypass`] a valid bypass cookie.
pub async fn serving_case(case: ServingCase) -> (Option<crate::Maintenance>, String) {
    let session = "session=0123456789abcdef".to_owned();
    let on = !matches!(case, ServingCase::Bare | ServingCase::Off);
    let policy = crate::Policy::default();
    let cookie_name = policy.bypass().cookie_name.clone();
    let (handle, store) = memory_handle(on, policy).await;
    let mut cookie = session;
    match case {
        ServingCase::Bare => return (None, cookie),
        ServingCase::Many => {
            for n in 0..50 {
                let pattern = format!("^section{n}/(page|item)/[0-9]+/$");
                store
                    .add_ignored_path(&SiteRef::Default, &pattern, "", "bench")
                    .await
                    .expect("a valid pattern");
            }
            for n in 0..20 {
                let network = format!("198.51.100.{n}/32");
                store
                    .add_allowed_network(&SiteRef::Default, &network, "", "bench")
                    .await
                    .expect("a valid network");
            }
        }
        ServingCase::Bypass => {
            let hash = crate::bypass::hash_secret(BYPASS_SECRET);
            store
                .set_bypass_secret_hash(&SiteRef::Default, Some(&hash), "bench")
                .await
                .expect("set the bypass secret");
            let value = crate::bypass::sign_cookie(
                None,
                &hash,
                1,
                Utc::now() + chrono::Duration::hours(12),
            );
            cookie = format!("{cookie}; {cookie_name}={value}");
        }
        _ => {}
    }
    handle.refresh().await.expect("load the case");
    (Some(handle), cookie)
}
