//! Handles on an in-memory store in the states adapter tests need, the policies and answers
//! they check against.

use std::sync::Arc;

use crate::MaintenanceStore;
use crate::model::{SiteRef, StateChange};

/// A handle on a fresh [`MemoryStore`](crate::MemoryStore), its default site in maintenance
/// when `on`, loaded and ready (no background refresher: call `refresh()` after changes).
/// For adapter tests.
pub async fn memory_handle(
    on: bool,
    policy: crate::Policy,
) -> (crate::Maintenance, Arc<crate::MemoryStore>) {
    let store = Arc::new(crate::MemoryStore::new());
    if on {
        store
            .set_state(&SiteRef::Default, &StateChange::turn_on(), "test")
            .await
            .expect("turn on");
    }
    let handle = crate::Maintenance::new(store.clone(), policy);
    handle.refresh().await.expect("first load");
    (handle, store)
}

/// The secret of [`memory_handle_with_bypass`]: its bypass link is
/// `/_maintenance/bypass/s3cret`.
pub const BYPASS_SECRET: &str = "s3cret";

/// One blocked answer of each kind, named: a page with `Refresh`, a redirect, django-maintenancemode-2's JSON,
/// RFC 9457, gRPC and gRPC-Web, all with `Retry-After`. Adapters check that their responses
/// carry exactly [`crate::response::BlockedAnswer::headers`].
pub async fn blocked_answers_of_every_kind() -> Vec<(&'static str, crate::response::BlockedAnswer)>
{
    let store = Arc::new(crate::MemoryStore::new());
    let on = StateChange::turn_on()
        .message("Back at 5 — 100%")
        .retry_after_secs(60);
    store
        .set_state(&SiteRef::Default, &on, "testkit")
        .await
        .expect("turn on");
    let key = b"0123456789abcdef0123456789abcdef".to_vec();
    let pages = crate::Policy::builder()
        .bypass_signing_key(key.clone())
        .refresh(None)
        .build()
        .expect("policy");
    let redirecting = crate::Policy::builder()
        .bypass_signing_key(key)
        .redirect_to("https://status.example.com/now")
        .build()
        .expect("policy");
    let cases: [(&'static str, &crate::Policy, &str, &str); 6] = [
        ("page", &pages, "accept", "text/html"),
        ("redirect", &redirecting, "accept", "text/html"),
        ("json", &pages, "accept", "application/json"),
        ("problem", &pages, "accept", "application/problem+json"),
        ("grpc", &pages, "content-type", "application/grpc"),
        (
            "grpc-web",
            &pages,
            "content-type",
            "application/grpc-web+proto",
        ),
    ];
    let mut out = Vec::new();
    for (name, policy, header, value) in cases {
        let handle = crate::Maintenance::new(Arc::clone(&store), policy.clone());
        handle.refresh().await.expect("load");
        let req = http::Request::builder()
            .uri("/")
            .header(header, value)
            .body(())
            .expect("request");
        match handle.check(&req, crate::Identity::Anonymous) {
            crate::Decision::Block(block) => out.push((name, handle.blocked_answer(&block, &req))),
            other => panic!("{name}: expected a block, got {other:?}"),
        }
    }
    out
}

/// The headers of `answer` as `(lower-case name, value)` pairs, sorted: what an adapter's
/// response must carry.
pub fn answer_header_pairs(answer: &crate::response::BlockedAnswer) -> Vec<(String, String)> {
    header_pairs(answer.headers())
}

/// Checks that the response an adapter made of `answer` carries its headers, no more and no
/// fewer: `got` are the response's `(name, value)` pairs in any order, names in any case.
///
/// # Panics
/// If they differ, naming `case`.
pub fn assert_answer_headers<N: AsRef<str>, V: AsRef<[u8]>>(
    case: &str,
    answer: &crate::response::BlockedAnswer,
    got: impl IntoIterator<Item = (N, V)>,
) {
    assert_eq!(header_pairs(got), answer_header_pairs(answer), "{case}");
}

/// `(lower-case name, value)` pairs, sorted.
fn header_pairs<N: AsRef<str>, V: AsRef<[u8]>>(
    headers: impl IntoIterator<Item = (N, V)>,
) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = headers
        .into_iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_ref()).into_owned();
            (name.as_ref().to_ascii_lowercase(), value)
        })
        .collect();
    pairs.sort();
    pairs
}

/// [`memory_handle`] in maintenance, with the default site's bypass secret set to
/// [`BYPASS_SECRET`].
pub async fn memory_handle_with_bypass() -> (crate::Maintenance, Arc<crate::MemoryStore>) {
    let hash = crate::bypass::hash_secret(BYPASS_SECRET);
    memory_handle_after(true, crate::Policy::default(), |store| async move {
        store
            .set_bypass_secret_hash(&SiteRef::Default, Some(&hash), "test")
            .await
            .expect("set the bypass secret");
    })
    .await
}

/// [`memory_handle`] in maintenance, asking clients to retry after `secs` seconds.
pub async fn memory_handle_retrying_after(
    secs: u32,
) -> (crate::Maintenance, Arc<crate::MemoryStore>) {
    memory_handle_after(true, crate::Policy::default(), |store| async move {
        let change = StateChange::turn_on().retry_after_secs(secs);
        store
            .set_state(&SiteRef::Default, &change, "test")
            .await
            .expect("set retry-after");
    })
    .await
}

/// [`memory_handle`] not in maintenance, with a second site, `shop.test`, in maintenance.
pub async fn memory_handle_with_shop_down() -> (crate::Maintenance, Arc<crate::MemoryStore>) {
    memory_handle_after(false, crate::Policy::default(), |store| async move {
        store
            .add_site("shop.test", None, "test")
            .await
            .expect("add shop.test");
        let shop = SiteRef::Domain("shop.test".into());
        store
            .set_state(&shop, &StateChange::turn_on(), "test")
            .await
            .expect("turn shop.test on");
    })
    .await
}

/// A policy whose internal network is `192.0.2.0/24` (TEST-NET-1).
pub fn internal_test_net_policy() -> crate::Policy {
    crate::Policy::builder()
        .internal_networks(["192.0.2.0/24"])
        .build()
        .expect("a valid network")
}

/// A response for an adapter's conversion to its framework's type: status 599, two
/// `set-cookie` headers, `content-type: text/html; charset=utf-8` and the body `<p>down</p>`.
pub fn response_to_convert() -> http::Response<String> {
    let mut res = http::Response::new("<p>down</p>".to_owned());
    *res.status_mut() = http::StatusCode::from_u16(599).expect("a valid status");
    let headers = res.headers_mut();
    for (name, value) in [
        ("set-cookie", "a=1"),
        ("set-cookie", "b=2"),
        ("content-type", "text/html; charset=utf-8"),
    ] {
        headers.append(name, http::HeaderValue::from_static(value));
    }
    res
}

/// [`memory_handle`] after `change` has written to its store, reloaded.
async fn memory_handle_after<F, Fut>(
    on: bool,
    policy: crate::Policy,
    change: F,
) -> (crate::Maintenance, Arc<crate::MemoryStore>)
where
    F: FnOnce(Arc<crate::MemoryStore>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let (handle, store) = memory_handle(on, policy).await;
    change(store.clone()).await;
    handle.refresh().await.expect("reload");
    (handle, store)
}
