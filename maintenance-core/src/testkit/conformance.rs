//! The store conformance cases: one `pub async fn` per case, each taking a fresh, migrated
//! store, and [`store_conformance_tests!`](crate::store_conformance_tests), which makes one
//! `#[tokio::test]` of each for a store crate.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use crate::MaintenanceStore;
use crate::error::StoreError;
use crate::listing::{SiteQuery, SiteSelection, StateFilter};
use crate::model::{Event, Mode, SiteRef, SiteState, StateChange};
use crate::store::StoreChanges;

/// Generates one `#[tokio::test]` per conformance case. See the [module docs](crate::testkit).
#[macro_export]
macro_rules! store_conformance_tests {
    ($make:path) => {
        $crate::store_conformance_tests!(@cases $make;
            fresh_store_has_one_default_site_not_in_maintenance,
            state_round_trips,
            far_future_times_round_trip,
            every_write_bumps_the_revision,
            invalid_writes_are_refused_and_change_nothing,
            a_pattern_set_too_costly_together_is_refused,
            ignored_paths_are_added_and_removed,
            allowed_networks_are_added_and_removed,
            sites_are_added_and_removed,
            sites_are_independent,
            bypass_secret_is_set_and_cleared,
            writes_are_audited,
            every_write_records_its_audit_action,
            change_feed_announces_writes,
            changes_since_names_what_changed,
            set_state_many_changes_the_selected_sites_in_one_revision,
            set_state_many_is_all_or_nothing,
            list_sites_answers_as_page_of,
            partial_maintenance_scope_round_trips,
            set_state_if_writes_only_over_the_expected_state,
            set_state_if_never_undoes_a_concurrent_write,
            tags_are_added_removed_and_read,
            a_tag_selection_changes_its_sites_in_one_revision,
            list_sites_filters_by_tag,
        );
    };
    (@cases $make:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                match $make().await {
                    Some(store) => $crate::testkit::$case(&store).await,
                    None => eprintln!("skipped {}: no database configured", stringify!($case)),
                }
            }
        )*
    };
}

fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or_default()
}

async fn default_site(store: &dyn MaintenanceStore) -> SiteState {
    store
        .site(&SiteRef::Default)
        .await
        .expect("the default site")
}

/// Partial maintenance: a scope is stored, read back (by the change feed's readers too),
/// refused when invalid, audited, kept by other writes and by `off`, replaced by the next, and
/// cleared by an empty one, for one site only.
pub async fn partial_maintenance_scope_round_trips(store: &dyn MaintenanceStore) {
    store
        .add_site("scoped.example", None, "t")
        .await
        .expect("add site");
    let scoped = SiteRef::Domain("scoped.example".to_owned());
    let before = store.revision().await.expect("revision");
    let on = StateChange::turn_on().only(["^checkout/", "^api/orders"]);
    let written = store
        .set_state(&scoped, &on, "carol")
        .await
        .expect("on --only");
    assert_eq!(written.scope, ["^checkout/", "^api/orders"]);
    let read = store.site(&scoped).await.expect("site");
    assert_eq!(
        read.scope,
        ["^checkout/", "^api/orders"],
        "read back in order"
    );
    assert!(read.enabled);
    assert!(
        default_site(store).await.scope.is_empty(),
        "another site keeps its own scope"
    );
    // The incremental reader sees it too.
    if let Some(changes) = store.changes_since(before).await.expect("changes") {
        let site = changes
            .changed
            .iter()
            .find(|s| s.domain == "scoped.example")
            .expect("the scoped site changed");
        assert_eq!(site.scope, ["^checkout/", "^api/orders"]);
    }
    let loaded = store.load().await.expect("load");
    let site = loaded
        .sites
        .iter()
        .find(|s| s.domain == "scoped.example")
        .expect("site");
    assert_eq!(site.scope, ["^checkout/", "^api/orders"]);

    // Other writes keep it.
    store
        .set_state(&scoped, &StateChange::turn_on().message("soon"), "t")
        .await
        .expect("message");
    store
        .add_ignored_path(&scoped, "^health", "", "t")
        .await
        .expect("ignore");
    assert_eq!(store.site(&scoped).await.expect("site").scope.len(), 2);

    // An invalid pattern is refused and changes nothing.
    let revision = store.revision().await.expect("revision");
    let bad = StateChange::turn_on().only(["^ok", "^(broken"]);
    let err = store
        .set_state(&scoped, &bad, "t")
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("^(broken"), "{err}");
    assert_eq!(store.revision().await.expect("revision"), revision);
    assert_eq!(store.site(&scoped).await.expect("site").scope.len(), 2);

    // Audited with the patterns.
    let events = store.events(Some(&scoped), 10).await.expect("events");
    assert!(
        events
            .iter()
            .any(|e| e.action == "on" && e.detail.contains(r#"only=["^checkout/", "^api/orders"]"#)),
        "{events:?}"
    );

    // A new scope replaces the old one; `off` keeps it; an empty one clears it.
    store
        .set_state(&scoped, &StateChange::turn_on().only(["^cart"]), "t")
        .await
        .expect("rescope");
    assert_eq!(store.site(&scoped).await.expect("site").scope, ["^cart"]);
    store
        .set_state(&scoped, &StateChange::turn_off(), "t")
        .await
        .expect("off");
    let off = store.site(&scoped).await.expect("site");
    assert!(!off.enabled && off.scope == ["^cart"], "{off:?}");
    let whole = StateChange::turn_on().only(Vec::<String>::new());
    store.set_state(&scoped, &whole, "t").await.expect("on");
    assert!(store.site(&scoped).await.expect("site").scope.is_empty());

    // Many sites at once, and a site removed with its scope.
    store
        .add_site("scoped2.example", None, "t")
        .await
        .expect("add site");
    let both = SiteSelection::Sites(vec![
        scoped.clone(),
        SiteRef::Domain("scoped2.example".to_owned()),
    ]);
    let bulk = StateChange::turn_on().only(["^cart", "^pay"]);
    store.set_state_many(&both, &bulk, "t").await.expect("bulk");
    for domain in ["scoped.example", "scoped2.example"] {
        let site = store
            .site(&SiteRef::Domain(domain.to_owned()))
            .await
            .expect("site");
        assert_eq!(site.scope, ["^cart", "^pay"], "{domain}");
    }
    store
        .set_state_many(&both, &whole, "t")
        .await
        .expect("bulk whole");
    assert!(store.site(&scoped).await.expect("site").scope.is_empty());
    store
        .set_state(&scoped, &StateChange::turn_on().only(["^cart"]), "t")
        .await
        .expect("rescope");
    store
        .remove_site("scoped.example", "t")
        .await
        .expect("remove");
    store
        .remove_site("scoped2.example", "t")
        .await
        .expect("remove");
    assert!(
        store.site(&scoped).await.is_err(),
        "the removed site is gone"
    );
}

/// A fresh store holds exactly one site, the default one, not in maintenance.
pub async fn fresh_store_has_one_default_site_not_in_maintenance(store: &dyn MaintenanceStore) {
    let contents = store.load().await.expect("load");
    assert_eq!(contents.sites.len(), 1, "{:?}", contents.sites);
    let site = &contents.sites[0];
    assert!(site.is_default);
    assert!(!site.enabled);
    assert_eq!(site.mode, Mode::Full);
    assert!(site.ignored_paths.is_empty() && site.allowed_networks.is_empty());
    assert!(site.bypass_secret_hash.is_none());
}

/// Every field of the state is stored and read back as written.
pub async fn state_round_trips(store: &dyn MaintenanceStore) {
    let change = StateChange::turn_on()
        .mode(Mode::ReadOnly)
        .message("Back at 14:00 — «soon» <b>")
        .window(Some(at(1_900_000_000)), Some(at(1_900_003_600)))
        .retry_after_secs(600);
    let written = store
        .set_state(&SiteRef::Default, &change, "alice")
        .await
        .expect("set_state");
    let read = default_site(store).await;
    assert_eq!(read, written);
    assert!(read.enabled);
    assert_eq!(read.mode, Mode::ReadOnly);
    assert_eq!(read.message.as_deref(), Some("Back at 14:00 — «soon» <b>"));
    assert_eq!(read.starts_at, Some(at(1_900_000_000)));
    assert_eq!(read.ends_at, Some(at(1_900_003_600)));
    assert_eq!(read.retry_after_secs, Some(600));
    assert_eq!(read.updated_by.as_deref(), Some("alice"));
    let updated = read.updated_at.expect("updated_at");
    assert!(
        (Utc::now() - updated).num_seconds().abs() < 300,
        "updated_at {updated}"
    );

    let off = store
        .set_state(&SiteRef::Default, &StateChange::turn_off(), "bob")
        .await
        .expect("off");
    assert!(!off.enabled);
    assert_eq!(
        (off.starts_at, off.ends_at),
        (None, None),
        "off clears the window"
    );
    assert_eq!(off.mode, Mode::ReadOnly, "off keeps the mode");
    let cleared = StateChange {
        message: Some(None),
        retry_after_secs: Some(None),
        ..Default::default()
    };
    let read = store
        .set_state(&SiteRef::Default, &cleared, "bob")
        .await
        .expect("clear");
    assert_eq!((read.message, read.retry_after_secs), (None, None));
    assert_eq!(default_site(store).await.updated_by.as_deref(), Some("bob"));
}

/// Times well past 2038 (beyond 32-bit timestamps) are kept, not lost.
pub async fn far_future_times_round_trip(store: &dyn MaintenanceStore) {
    let (start, end) = (at(4_102_444_800), at(4_102_448_400)); // 2100-01-01, one hour
    store
        .set_state(
            &SiteRef::Default,
            &StateChange::turn_on().window(Some(start), Some(end)),
            "t",
        )
        .await
        .expect("set_state");
    let read = default_site(store).await;
    assert_eq!((read.starts_at, read.ends_at), (Some(start), Some(end)));
}

/// Each write moves the revision forward, and `load` reports the same revision.
pub async fn every_write_bumps_the_revision(store: &dyn MaintenanceStore) {
    let mut last = store.revision().await.expect("revision");
    assert_eq!(store.load().await.expect("load").revision, last);
    let site = SiteRef::Default;
    for step in 0..7 {
        match step {
            0 => drop(
                store
                    .set_state(&site, &StateChange::turn_on(), "t")
                    .await
                    .expect("on"),
            ),
            1 => store
                .add_ignored_path(&site, "^x/", "", "t")
                .await
                .expect("ignore"),
            2 => store
                .add_allowed_network(&site, "10.0.0.0/8", "", "t")
                .await
                .expect("allow"),
            3 => store
                .set_bypass_secret_hash(&site, Some(&crate::bypass::hash_secret("s")), "t")
                .await
                .expect("bypass"),
            4 => drop(
                store
                    .add_site("rev.example.com", None, "t")
                    .await
                    .expect("add site"),
            ),
            5 => store
                .remove_site("rev.example.com", "t")
                .await
                .expect("remove site"),
            _ => drop(
                store
                    .set_state(&site, &StateChange::turn_off(), "t")
                    .await
                    .expect("off"),
            ),
        }
        let now = store.revision().await.expect("revision");
        assert!(now > last, "step {step}: revision {now} not after {last}");
        assert_eq!(store.load().await.expect("load").revision, now);
        last = now;
    }
}

/// Each pattern is valid alone, but a site's patterns must also compile together within the
/// set's size limit: the pattern that would exceed it is refused, the others are kept.
pub async fn a_pattern_set_too_costly_together_is_refused(store: &dyn MaintenanceStore) {
    let site = SiteRef::Default;
    let mut added = Vec::new();
    let mut refused = None;
    for i in 0..200 {
        let pattern = format!(r"\w{{4}}/{i}");
        match store.add_ignored_path(&site, &pattern, "", "t").await {
            Ok(()) => added.push(pattern),
            Err(e) => {
                refused = Some((pattern, e));
                break;
            }
        }
    }
    let (pattern, err) = refused.expect("the set grows too large before 200 patterns");
    assert!(added.len() >= 2, "{added:?}");
    let text = err.to_string();
    assert!(text.contains("too large"), "{text}");
    assert!(
        text.contains(&pattern),
        "the error names the pattern: {text}"
    );
    let kept: Vec<String> = store
        .site(&site)
        .await
        .expect("site")
        .ignored_paths
        .into_iter()
        .map(|p| p.pattern)
        .collect();
    assert_eq!(kept, added, "the refused pattern is not stored");
    // A scope is one write: too large together is refused whole.
    let scope: Vec<String> = (0..=added.len()).map(|i| format!(r"\w{{4}}/{i}")).collect();
    let err = store
        .set_state(&site, &StateChange::turn_on().only(scope), "t")
        .await
        .expect_err("too large a scope");
    assert!(err.to_string().contains("too large"), "{err}");
    for pattern in &added {
        store
            .remove_ignored_path(&site, pattern, "t")
            .await
            .expect("remove");
    }
}

/// Bad input is refused with an error naming it, and the store is unchanged.
pub async fn invalid_writes_are_refused_and_change_nothing(store: &dyn MaintenanceStore) {
    let before = store.load().await.expect("load");
    let site = SiteRef::Default;
    let long = "x".repeat(crate::validate::MAX_MESSAGE_LEN + 1);
    let cases: Vec<(Result<(), StoreError>, &str)> = vec![
        (
            store
                .set_state(
                    &site,
                    &StateChange::turn_on().window(Some(at(2000)), Some(at(1000))),
                    "t",
                )
                .await
                .map(drop),
            "window",
        ),
        (
            store
                .set_state(&site, &StateChange::turn_on().message(long), "t")
                .await
                .map(drop),
            "message",
        ),
        (
            store.add_ignored_path(&site, "^(unclosed", "", "t").await,
            "^(unclosed",
        ),
        (
            store.add_ignored_path(&site, "zzz)|(items", "", "t").await,
            "zzz)|(items",
        ),
        (
            store
                .add_allowed_network(&site, "10.0.0.0/40", "", "t")
                .await,
            "10.0.0.0/40",
        ),
        (
            store.add_allowed_network(&site, "not-a-net", "", "t").await,
            "not-a-net",
        ),
        (
            store.add_site("bad domain!", None, "t").await.map(drop),
            "bad domain!",
        ),
        (
            store
                .set_bypass_secret_hash(&site, Some("plaintext"), "t")
                .await,
            "hash",
        ),
        (
            store
                .set_state(
                    &SiteRef::Domain("nowhere.example".into()),
                    &StateChange::turn_on(),
                    "t",
                )
                .await
                .map(drop),
            "nowhere.example",
        ),
        (
            store.remove_ignored_path(&site, "^never-added", "t").await,
            "^never-added",
        ),
        (
            store
                .remove_allowed_network(&site, "192.0.2.0/24", "t")
                .await,
            "192.0.2.0/24",
        ),
        (
            store.remove_site("nowhere.example", "t").await,
            "nowhere.example",
        ),
    ];
    for (result, named) in cases {
        let err = result.expect_err(named);
        assert!(
            err.to_string().contains(named),
            "error `{err}` should name `{named}`"
        );
    }
    let default_domain = default_site(store).await.domain;
    let err = store
        .remove_site(&default_domain, "t")
        .await
        .expect_err("default site");
    assert!(matches!(err, StoreError::DefaultSite(_)), "{err}");
    assert_eq!(
        store.load().await.expect("load"),
        before,
        "nothing may change"
    );
}

/// Patterns are added (idempotently), listed and removed.
pub async fn ignored_paths_are_added_and_removed(store: &dyn MaintenanceStore) {
    let site = SiteRef::Default;
    store
        .add_ignored_path(
            &site,
            "^ignored-page/$",
            "from django-maintenancemode-2",
            "t",
        )
        .await
        .expect("add");
    store
        .add_ignored_path(&site, "^api/health", "probes", "t")
        .await
        .expect("add");
    store
        .add_ignored_path(&site, "^api/health", "load balancer", "t")
        .await
        .expect("re-add");
    let s = default_site(store).await;
    let got: Vec<(&str, &str)> = s
        .ignored_paths
        .iter()
        .map(|p| (p.pattern.as_str(), p.description.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("^ignored-page/$", "from django-maintenancemode-2"),
            ("^api/health", "load balancer")
        ]
    );
    store
        .remove_ignored_path(&site, "^ignored-page/$", "t")
        .await
        .expect("remove");
    let s = default_site(store).await;
    assert_eq!(s.ignored_paths.len(), 1);
    assert_eq!(s.ignored_paths[0].pattern, "^api/health");
}

/// Networks, v4 and v6, are added (idempotently), listed and removed.
pub async fn allowed_networks_are_added_and_removed(store: &dyn MaintenanceStore) {
    let site = SiteRef::Default;
    store
        .add_allowed_network(&site, "192.168.0.0/16", "office", "t")
        .await
        .expect("v4");
    store
        .add_allowed_network(&site, "2001:db8::/32", "vpn", "t")
        .await
        .expect("v6");
    store
        .add_allowed_network(&site, "203.0.113.7", "home", "t")
        .await
        .expect("host");
    store
        .add_allowed_network(&site, "192.168.0.0/16", "office (new)", "t")
        .await
        .expect("re-add");
    let s = default_site(store).await;
    let got: Vec<(String, &str)> = s
        .allowed_networks
        .iter()
        .map(|n| (n.network.to_string(), n.description.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("192.168.0.0/16".to_owned(), "office (new)"),
            ("2001:db8::/32".to_owned(), "vpn"),
            ("203.0.113.7/32".to_owned(), "home"),
        ]
    );
    store
        .remove_allowed_network(&site, "2001:db8::/32", "t")
        .await
        .expect("remove");
    store
        .remove_allowed_network(&site, "203.0.113.7", "t")
        .await
        .expect("remove host");
    let s = default_site(store).await;
    assert_eq!(s.allowed_networks.len(), 1);
}

/// Sites are added with normalised domains, refused twice, and removed with their data.
pub async fn sites_are_added_and_removed(store: &dyn MaintenanceStore) {
    let added = store
        .add_site("Shop.Example.COM.", Some("The shop"), "t")
        .await
        .expect("add");
    assert_eq!(added.domain, "shop.example.com");
    assert_eq!(added.name, "The shop");
    assert!(!added.is_default && !added.enabled);
    let err = store
        .add_site("shop.example.com", None, "t")
        .await
        .expect_err("twice");
    assert!(matches!(err, StoreError::SiteExists(_)), "{err}");
    let same = store
        .ensure_site("SHOP.example.com", None, "t")
        .await
        .expect("ensure");
    assert_eq!(same.id, added.id);
    let shop = SiteRef::Domain("SHOP.example.com".into());
    store
        .add_ignored_path(&shop, "^x", "", "t")
        .await
        .expect("pattern");
    store
        .add_allowed_network(&shop, "10.0.0.0/8", "", "t")
        .await
        .expect("network");
    assert_eq!(store.load().await.expect("load").sites.len(), 2);
    store
        .remove_site("shop.example.com", "t")
        .await
        .expect("remove");
    let sites = store.load().await.expect("load").sites;
    assert_eq!(sites.len(), 1);
    assert!(sites[0].is_default);
    let again = store
        .add_site("shop.example.com", None, "t")
        .await
        .expect("re-add");
    assert!(
        again.ignored_paths.is_empty() && again.allowed_networks.is_empty(),
        "removed with its data"
    );
}

/// Changing one site leaves the others as they were.
pub async fn sites_are_independent(store: &dyn MaintenanceStore) {
    store.add_site("a.example", None, "t").await.expect("a");
    store.add_site("b.example", None, "t").await.expect("b");
    let a = SiteRef::Domain("a.example".into());
    store
        .set_state(&a, &StateChange::turn_on(), "t")
        .await
        .expect("on");
    store
        .add_ignored_path(&a, "^only-a", "", "t")
        .await
        .expect("pattern");
    let sites = store.load().await.expect("load").sites;
    let by = |d: &str| sites.iter().find(|s| s.domain == d).cloned().expect(d);
    assert!(by("a.example").enabled);
    assert!(!by("b.example").enabled);
    assert!(by("b.example").ignored_paths.is_empty());
    assert!(
        !sites
            .iter()
            .find(|s| s.is_default)
            .expect("default")
            .enabled
    );
}

/// The bypass secret hash is stored, replaced and cleared.
pub async fn bypass_secret_is_set_and_cleared(store: &dyn MaintenanceStore) {
    let site = SiteRef::Default;
    let first = crate::bypass::hash_secret("first");
    store
        .set_bypass_secret_hash(&site, Some(&first), "t")
        .await
        .expect("set");
    assert_eq!(
        default_site(store).await.bypass_secret_hash.as_deref(),
        Some(first.as_str())
    );
    let second = crate::bypass::hash_secret("second");
    store
        .set_bypass_secret_hash(&site, Some(&second), "t")
        .await
        .expect("replace");
    assert_eq!(
        default_site(store).await.bypass_secret_hash.as_deref(),
        Some(second.as_str())
    );
    store
        .set_bypass_secret_hash(&site, None, "t")
        .await
        .expect("clear");
    assert_eq!(default_site(store).await.bypass_secret_hash, None);
}

/// Each write leaves an event naming actor, action and detail; newest first, filtered, limited.
pub async fn writes_are_audited(store: &dyn MaintenanceStore) {
    let site = SiteRef::Default;
    store
        .set_state(&site, &StateChange::turn_on().message("upgrade"), "alice")
        .await
        .expect("on");
    store
        .add_ignored_path(&site, "^status$", "", "bob")
        .await
        .expect("ignore");
    store
        .add_site("audit.example", None, "carol")
        .await
        .expect("site");
    store
        .set_state(&site, &StateChange::turn_off(), "alice")
        .await
        .expect("off");

    let all: Vec<Event> = store.events(None, 100).await.expect("events");
    let summary: Vec<(&str, &str)> = all
        .iter()
        .map(|e| (e.actor.as_str(), e.action.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            ("alice", "off"),
            ("carol", "site.add"),
            ("bob", "ignore.add"),
            ("alice", "on")
        ]
    );
    assert!(
        all[3].detail.contains("upgrade"),
        "detail: {}",
        all[3].detail
    );
    assert!(
        all[2].detail.contains("^status$"),
        "detail: {}",
        all[2].detail
    );
    assert_eq!(all[1].site.as_deref(), Some("audit.example"));
    assert!(
        all.windows(2)
            .all(|w| w[0].at >= w[1].at && w[0].id > w[1].id),
        "newest first"
    );

    let limited = store.events(None, 2).await.expect("limited");
    assert_eq!(limited, all[..2].to_vec());
    let only_audit = store
        .events(Some(&SiteRef::Domain("audit.example".into())), 100)
        .await
        .expect("by site");
    assert_eq!(only_audit.len(), 1);
    assert_eq!(only_audit[0].action, "site.add");
    let default_only = store.events(Some(&site), 100).await.expect("default");
    assert_eq!(default_only.len(), 3);
}

/// Every kind of write is logged under its [`AuditAction`](crate::AuditAction) name, so every
/// store and every reader of the log agree on the names.
pub async fn every_write_records_its_audit_action(store: &dyn MaintenanceStore) {
    use crate::AuditAction as A;
    let site = SiteRef::Default;
    let secret_hash = crate::bypass::hash_secret("s3cret");
    store
        .set_state(&site, &StateChange::turn_on(), "t")
        .await
        .expect("on");
    let update = StateChange {
        message: Some(Some("later".into())),
        ..StateChange::default()
    };
    store.set_state(&site, &update, "t").await.expect("update");
    store
        .set_state(&site, &StateChange::turn_off(), "t")
        .await
        .expect("off");
    store
        .add_site("actions.example", None, "t")
        .await
        .expect("site.add");
    store
        .remove_site("actions.example", "t")
        .await
        .expect("site.remove");
    store
        .add_ignored_path(&site, "^x$", "", "t")
        .await
        .expect("ignore.add");
    store
        .remove_ignored_path(&site, "^x$", "t")
        .await
        .expect("ignore.remove");
    store
        .add_allowed_network(&site, "10.9.0.0/16", "", "t")
        .await
        .expect("allow.add");
    store
        .remove_allowed_network(&site, "10.9.0.0/16", "t")
        .await
        .expect("allow.remove");
    store
        .set_bypass_secret_hash(&site, Some(&secret_hash), "t")
        .await
        .expect("bypass.set");
    store
        .set_bypass_secret_hash(&site, None, "t")
        .await
        .expect("bypass.clear");
    let revision = store.revision().await.expect("revision");
    store
        .record_event(&site, A::RunFailed, "`false` failed with exit code 1", "t")
        .await
        .expect("run.failed");
    store
        .add_tags(&site, &["audited".to_owned()], "t")
        .await
        .expect("tag.add");
    store
        .remove_tags(&site, &["audited".to_owned()], "t")
        .await
        .expect("tag.remove");
    assert_eq!(
        store.site(&site).await.expect("site").updated_by.as_deref(),
        Some("t")
    );
    assert!(
        store.revision().await.expect("revision") >= revision,
        "an event alone never moves the revision back"
    );
    let err = store
        .record_event(
            &SiteRef::Domain("nope.example".into()),
            A::RunFailed,
            "",
            "t",
        )
        .await
        .expect_err("unknown site");
    assert!(err.to_string().contains("nope.example"), "{err}");

    let mut kinds: Vec<Option<A>> = store
        .events(None, 100)
        .await
        .expect("events")
        .iter()
        .map(Event::kind)
        .collect();
    kinds.reverse();
    assert_eq!(
        kinds,
        [
            A::On,
            A::Update,
            A::Off,
            A::SiteAdd,
            A::SiteRemove,
            A::IgnoreAdd,
            A::IgnoreRemove,
            A::AllowAdd,
            A::AllowRemove,
            A::BypassSet,
            A::BypassClear,
            A::RunFailed,
            A::TagAdd,
            A::TagRemove,
        ]
        .map(Some)
    );
    let last = &store.events(Some(&site), 3).await.expect("events")[2];
    assert_eq!(last.detail, "`false` failed with exit code 1");
}

/// `set_state_if` writes (with its event and revision) when the site holds what is expected,
/// and otherwise writes nothing and returns the site as found; an unknown site is an error.
pub async fn set_state_if_writes_only_over_the_expected_state(store: &dyn MaintenanceStore) {
    use crate::store::GuardedWrite;
    let site = SiteRef::Default;
    let before = default_site(store).await;
    let ours = StateChange::turn_on()
        .message("Migrating")
        .window(Some(at(4_000_000_000)), None);
    let written = store.set_state(&site, &ours, "run").await.expect("on");
    let expected = StateChange::of_state(&written);
    let restore = StateChange::of_state(&before);

    let revision = store.revision().await.expect("revision");
    let events = store.events(None, 1000).await.expect("events").len();
    match store
        .set_state_if(&site, &expected, &restore, "run")
        .await
        .expect("restore")
    {
        GuardedWrite::Written(s) => {
            assert!(!s.enabled && s.message.is_none() && s.starts_at.is_none());
        }
        GuardedWrite::Kept(s) => panic!("the site held the expected state: {s:?}"),
    }
    assert!(store.revision().await.expect("revision") > revision);
    assert_eq!(
        store.events(None, 1000).await.expect("events").len(),
        events + 1
    );

    store.set_state(&site, &ours, "run").await.expect("on");
    let theirs = StateChange::turn_on().message("keep it down");
    store.set_state(&site, &theirs, "bob").await.expect("bob");
    let revision = store.revision().await.expect("revision");
    let events = store.events(None, 1000).await.expect("events").len();
    match store
        .set_state_if(&site, &expected, &restore, "run")
        .await
        .expect("restore")
    {
        GuardedWrite::Kept(s) => assert_eq!(s.message.as_deref(), Some("keep it down")),
        GuardedWrite::Written(s) => panic!("bob's change was undone: {s:?}"),
    }
    let now = default_site(store).await;
    assert!(now.enabled && now.message.as_deref() == Some("keep it down"));
    assert_eq!(now.updated_by.as_deref(), Some("bob"));
    assert_eq!(store.revision().await.expect("revision"), revision);
    assert_eq!(
        store.events(None, 1000).await.expect("events").len(),
        events
    );

    let err = store
        .set_state_if(
            &SiteRef::Domain("nope.example".into()),
            &expected,
            &restore,
            "run",
        )
        .await
        .expect_err("unknown site");
    assert!(err.to_string().contains("nope.example"), "{err}");
}

/// A `set_state_if` racing another operator's `set_state` never undoes it: whichever commits
/// first, the other operator's state is the one left.
pub async fn set_state_if_never_undoes_a_concurrent_write(store: &dyn MaintenanceStore) {
    let site = SiteRef::Default;
    let off = StateChange::of_state(&default_site(store).await);
    for round in 0..20 {
        let ours = StateChange::turn_on().message(format!("run {round}"));
        let written = store.set_state(&site, &ours, "run").await.expect("on");
        let expected = StateChange::of_state(&written);
        let theirs = StateChange::turn_on().message(format!("bob {round}"));
        let (restored, changed) = tokio::join!(
            store.set_state_if(&site, &expected, &off, "run"),
            store.set_state(&site, &theirs, "bob"),
        );
        restored.expect("restore");
        changed.expect("bob");
        let now = default_site(store).await;
        assert!(
            theirs.holds_for(&now),
            "round {round}: bob's change is gone: {now:?}"
        );
    }
}

/// `changes_since` names every site a write changed (its patterns and networks included) and
/// every site removed, read as `load` reads them; nothing after the current revision; and a
/// snapshot brought up to date with the changes equals one built from everything.
pub async fn changes_since_names_what_changed(store: &dyn MaintenanceStore) {
    let start = store.load().await.expect("load");
    let r0 = start.revision;
    let nothing = changes_since(store, r0).await;
    assert_eq!(nothing.revision, r0);
    assert!(nothing.changed.is_empty() && nothing.removed.is_empty());

    let a = store.add_site("a.example", None, "t").await.expect("add a");
    let b = store.add_site("b.example", None, "t").await.expect("add b");
    store.add_site("c.example", None, "t").await.expect("add c");
    let r1 = store.revision().await.expect("revision");
    let a_ref = SiteRef::Domain("a.example".into());
    store
        .set_state(&a_ref, &StateChange::turn_on(), "t")
        .await
        .expect("turn a on");
    store.remove_site("b.example", "t").await.expect("remove b");
    let now = store.load().await.expect("load");
    let changes = changes_since(store, r1).await;
    assert_eq!(changes.revision, now.revision);
    let ids: Vec<i64> = changes.changed.iter().map(|s| s.id).collect();
    assert_eq!(ids, vec![a.id], "only a changed after r1");
    let a_now = now.sites.iter().find(|s| s.id == a.id).expect("a is there");
    assert_eq!(&changes.changed[0], a_now, "read as load reads it");
    assert!(changes.removed.contains(&b.id), "b was removed");

    // A pattern or a network changes its site.
    for step in 0..2 {
        let before = store.revision().await.expect("revision");
        if step == 0 {
            store
                .add_ignored_path(&SiteRef::Default, "^static/", "", "t")
                .await
                .expect("add pattern");
        } else {
            store
                .add_allowed_network(&a_ref, "10.1.0.0/16", "", "t")
                .await
                .expect("add network");
        }
        let changes = changes_since(store, before).await;
        let expected = if step == 0 { "default" } else { "a.example" };
        let domains: Vec<&str> = changes.changed.iter().map(|s| s.domain.as_str()).collect();
        assert_eq!(domains, vec![expected], "step {step}");
        let site = &changes.changed[0];
        assert_eq!(site.ignored_paths.len() + site.allowed_networks.len(), 1);
    }

    // A bulk change names every site it changed.
    let before = store.revision().await.expect("revision");
    let changed = store
        .set_state_many(&crate::SiteSelection::All, &StateChange::turn_on(), "t")
        .await
        .expect("bulk change");
    let changes = changes_since(store, before).await;
    let mut named: Vec<i64> = changes.changed.iter().map(|s| s.id).collect();
    let mut expected: Vec<i64> = changed.iter().map(|s| s.id).collect();
    named.sort_unstable();
    expected.sort_unstable();
    assert_eq!(named, expected, "the bulk change names its sites");
    assert!(changes.changed.iter().all(|s| s.enabled));

    // From the start: the changes make the first snapshot the current one.
    let all = changes_since(store, r0).await;
    let updated = crate::snapshot::Snapshot::new(r0, start.sites).apply(all);
    let current = store.load().await.expect("load");
    let full = crate::snapshot::Snapshot::new(current.revision, current.sites);
    assert_eq!(updated.revision(), full.revision());
    let states =
        |s: &crate::snapshot::Snapshot| s.sites().map(|l| l.state().clone()).collect::<Vec<_>>();
    assert_eq!(states(&updated), states(&full));
}

/// The sites that changed since `revision`: every store here can tell.
async fn changes_since(store: &dyn MaintenanceStore, revision: i64) -> StoreChanges {
    store
        .changes_since(revision)
        .await
        .expect("changes since")
        .expect("the store tells which sites changed")
}

/// How many events the store holds (up to 1000).
async fn event_count(store: &dyn MaintenanceStore) -> usize {
    store.events(None, 1000).await.expect("events").len()
}

/// The newest `n` events, oldest first.
async fn newest_events(store: &dyn MaintenanceStore, n: usize) -> Vec<Event> {
    let mut events = store
        .events(None, u32::try_from(n).expect("a small count"))
        .await
        .expect("events");
    events.reverse();
    events
}

/// `set_state_many` changes each selected site (and no other), returns them in the store's
/// order, records one audit event per site and moves the revision once.
pub async fn set_state_many_changes_the_selected_sites_in_one_revision(
    store: &dyn MaintenanceStore,
) {
    for domain in ["a.bulk.example", "b.bulk.example", "c.bulk.example"] {
        store.add_site(domain, None, "t").await.expect("add site");
    }
    let a = SiteRef::Domain("a.bulk.example".to_owned());
    store
        .add_ignored_path(&a, "^health", "probe", "t")
        .await
        .expect("ignore");

    // An empty selection changes nothing, not even the revision.
    let before = store.revision().await.expect("revision");
    let none = store
        .set_state_many(
            &crate::SiteSelection::Sites(Vec::new()),
            &StateChange::turn_on(),
            "t",
        )
        .await
        .expect("an empty bulk change");
    assert!(none.is_empty());
    assert_eq!(store.revision().await.expect("revision"), before);

    let before = store.revision().await.expect("revision");
    let events_before = event_count(store).await;
    let selection = SiteSelection::Sites(vec![
        SiteRef::Domain("c.bulk.example".to_owned()),
        SiteRef::Domain("A.Bulk.Example".to_owned()),
        SiteRef::Default,
        SiteRef::Domain("c.bulk.example".to_owned()),
    ]);
    let change = StateChange::turn_on().message("bulk");
    let changed = store
        .set_state_many(&selection, &change, "bulk-actor")
        .await
        .expect("set_state_many");
    let domains: Vec<&str> = changed.iter().map(|s| s.domain.as_str()).collect();
    assert_eq!(domains, ["default", "a.bulk.example", "c.bulk.example"]);
    for site in &changed {
        assert!(site.enabled, "{}", site.domain);
        assert_eq!(site.message.as_deref(), Some("bulk"));
        assert_eq!(site.updated_by.as_deref(), Some("bulk-actor"));
    }
    assert_eq!(changed[1].ignored_paths.len(), 1, "patterns are kept");
    assert_eq!(store.revision().await.expect("revision"), before + 1);
    let contents = store.load().await.expect("load");
    assert_eq!(contents.revision, before + 1);
    for site in &changed {
        let stored = contents
            .sites
            .iter()
            .find(|s| s.id == site.id)
            .expect("stored");
        assert_eq!(
            stored, site,
            "what set_state_many returned is what load reads"
        );
    }
    let b = contents
        .sites
        .iter()
        .find(|s| s.domain == "b.bulk.example")
        .expect("b");
    assert!(!b.enabled, "an unselected site is unchanged");
    assert_eq!(event_count(store).await, events_before + 3);
    let events = newest_events(store, 3).await;
    let mut sites: Vec<&str> = events.iter().filter_map(|e| e.site.as_deref()).collect();
    sites.sort_unstable();
    assert_eq!(sites, ["a.bulk.example", "c.bulk.example", "default"]);
    for event in &events {
        assert_eq!(
            (event.actor.as_str(), event.action.as_str()),
            ("bulk-actor", "on")
        );
    }

    let all = store
        .set_state_many(&SiteSelection::All, &StateChange::turn_off(), "bulk-actor")
        .await
        .expect("set_state_many all");
    assert_eq!(all.len(), 4);
    assert!(all.iter().all(|s| !s.enabled));
    assert_eq!(store.revision().await.expect("revision"), before + 2);
    let contents = store.load().await.expect("load");
    assert!(contents.sites.iter().all(|s| !s.enabled));
    assert_eq!(event_count(store).await, events_before + 7);
    assert!(
        newest_events(store, 4)
            .await
            .iter()
            .all(|e| e.action == "off")
    );
}

/// A bulk change that one site refuses, or that names an unknown site, writes nothing.
pub async fn set_state_many_is_all_or_nothing(store: &dyn MaintenanceStore) {
    let later = at(2_000_000_000);
    for domain in ["x.bulk.example", "y.bulk.example"] {
        store.add_site(domain, None, "t").await.expect("add site");
    }
    let y = SiteRef::Domain("y.bulk.example".to_owned());
    store
        .set_state(&y, &StateChange::turn_off().window(Some(later), None), "t")
        .await
        .expect("y's window");
    let before = store.load().await.expect("load");
    let events_before = store.events(None, 1000).await.expect("events");

    // Ends before y's window starts: y refuses it, x alone would take it.
    let refused = StateChange {
        enabled: Some(true),
        ends_at: Some(Some(at(1_900_000_000))),
        ..StateChange::default()
    };
    let x = SiteRef::Domain("x.bulk.example".to_owned());
    for selection in [
        SiteSelection::Sites(vec![x.clone(), y.clone()]),
        SiteSelection::All,
    ] {
        let err = store
            .set_state_many(&selection, &refused, "t")
            .await
            .expect_err("y refuses the change");
        assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    }
    let unknown = SiteSelection::Sites(vec![
        x.clone(),
        SiteRef::Domain("missing.bulk.example".to_owned()),
    ]);
    let err = store
        .set_state_many(&unknown, &StateChange::turn_on(), "t")
        .await
        .expect_err("an unknown site");
    assert!(
        matches!(&err, StoreError::UnknownSite(d) if d == "missing.bulk.example"),
        "{err:?}"
    );
    assert_eq!(
        store.load().await.expect("load"),
        before,
        "nothing was written"
    );
    assert_eq!(
        store.events(None, 1000).await.expect("events"),
        events_before
    );
}

/// `list_sites` gives exactly what [`SiteQuery::page_of`] gives over the store's own `load`:
/// search, each state filter, paging, total and order.
pub async fn list_sites_answers_as_page_of(store: &dyn MaintenanceStore) {
    use chrono::{Duration as Span, SubsecRound};
    let now = Utc::now().trunc_subsecs(0);
    let (past, future) = (now - Span::days(1), now + Span::days(1));
    let names = [
        ("alpha.list.example", "Alpha Shop"),
        ("beta.list.example", "beta"),
        ("gamma.list.test", "Gamma_50%"),
        ("gamma-x.list.test", "Gamma550x"),
        ("delta.list.example", "Delta!shop"),
    ];
    for (domain, name) in names {
        store.add_site(domain, Some(name), "t").await.expect("add");
    }
    for i in 0..23 {
        let domain = format!("s{i:02}.list.example");
        store.add_site(&domain, None, "t").await.expect("add");
        let site = SiteRef::Domain(domain);
        let change = match i % 5 {
            0 => StateChange::turn_on(),
            1 => StateChange::turn_on().window(Some(future), None),
            2 => StateChange::turn_on().window(Some(past - Span::days(1)), Some(past)),
            3 => StateChange::turn_on().window(Some(past), Some(future)),
            _ => continue,
        };
        store.set_state(&site, &change, "t").await.expect("state");
    }
    let sites = store.load().await.expect("load").sites;
    let mut queries = Vec::new();
    let base = SiteQuery::all(now);
    for search in [
        None,
        Some("LIST.EXAMPLE"),
        Some("shop"),
        Some("_50%"),
        Some("a_5"),
        Some("!shop"),
        Some("  Gamma "),
        Some("%"),
        Some("nothing-matches"),
    ] {
        for state in [
            None,
            Some(StateFilter::On),
            Some(StateFilter::Scheduled),
            Some(StateFilter::Off),
        ] {
            let mut query = base.clone();
            query.search = search.map(str::to_owned);
            query.state = state;
            queries.push(query);
        }
    }
    for offset in [0, 1, 7, 14, 21, 28, 29, 100] {
        queries.push(base.clone().offset(offset).limit(7));
    }
    queries.push(base.clone().limit(0));
    queries.push(base.clone().state(StateFilter::On).offset(2).limit(3));
    for query in queries {
        let page = store.list_sites(&query).await.expect("list_sites");
        assert_eq!(page, query.page_of(&sites), "{query:?}");
    }
    let everything = store.list_sites(&base).await.expect("list_sites");
    assert_eq!(everything.total, 29);
    assert!(
        everything.sites[0].is_default,
        "the default site comes first"
    );
}

fn owned(tags: &[&str]) -> Vec<String> {
    tags.iter().map(|t| (*t).to_owned()).collect()
}

/// Tags are added (checked, lower-cased, each once, sorted) and removed, each write with its
/// revision and audit event; every reader sees them (one site, all, the changes since); other
/// writes keep them; bad tags, too many and removing one the site lacks change nothing; a
/// removed site's tags go with it.
pub async fn tags_are_added_removed_and_read(store: &dyn MaintenanceStore) {
    store
        .add_site("tagged.example", None, "t")
        .await
        .expect("add site");
    let tagged = SiteRef::Domain("tagged.example".to_owned());
    let before = store.revision().await.expect("revision");
    let written = store
        .add_tags(&tagged, &owned(&["Prod", "eu-west.1", "prod"]), "dora")
        .await
        .expect("add tags");
    assert_eq!(written.tags, ["eu-west.1", "prod"]);
    assert!(store.revision().await.expect("revision") > before);
    assert_eq!(
        store.site(&tagged).await.expect("site").tags,
        ["eu-west.1", "prod"]
    );
    let loaded = store.load().await.expect("load");
    let site = loaded
        .sites
        .iter()
        .find(|s| s.domain == "tagged.example")
        .expect("site");
    assert_eq!(site.tags, ["eu-west.1", "prod"]);
    assert!(default_site(store).await.tags.is_empty(), "only that site");
    if let Some(changes) = store.changes_since(before).await.expect("changes") {
        let site = changes
            .changed
            .iter()
            .find(|s| s.domain == "tagged.example")
            .expect("the tagged site changed");
        assert_eq!(site.tags, ["eu-west.1", "prod"]);
    }
    let event = &store.events(Some(&tagged), 1).await.expect("events")[0];
    assert_eq!(event.kind(), Some(crate::AuditAction::TagAdd));
    assert_eq!(event.actor, "dora");
    assert!(event.detail.contains("prod"), "{}", event.detail);

    // A second add keeps what is there.
    let written = store
        .add_tags(&tagged, &owned(&["canary", "prod"]), "t")
        .await
        .expect("add again");
    assert_eq!(written.tags, ["canary", "eu-west.1", "prod"]);

    // Refused, and nothing written.
    let revision = store.revision().await.expect("revision");
    let err = store
        .add_tags(&tagged, &owned(&["ok", "not ok"]), "t")
        .await
        .expect_err("a bad tag");
    assert!(
        matches!(err, StoreError::Invalid(_)) && err.to_string().contains("`not ok`"),
        "{err}"
    );
    let many: Vec<String> = (0..crate::validate::MAX_TAGS)
        .map(|i| format!("t{i}"))
        .collect();
    let err = store
        .add_tags(&tagged, &many, "t")
        .await
        .expect_err("too many tags");
    assert!(matches!(err, StoreError::Invalid(_)), "{err}");
    let err = store
        .remove_tags(&tagged, &owned(&["prod", "missing"]), "t")
        .await
        .expect_err("a tag the site lacks");
    assert!(
        matches!(err, StoreError::NotFound { .. }) && err.to_string().contains("`missing`"),
        "{err}"
    );
    let err = store
        .add_tags(&SiteRef::Domain("nope.example".into()), &owned(&["x"]), "t")
        .await
        .expect_err("unknown site");
    assert!(matches!(err, StoreError::UnknownSite(_)), "{err}");
    assert_eq!(store.revision().await.expect("revision"), revision);
    assert_eq!(
        store.site(&tagged).await.expect("site").tags,
        ["canary", "eu-west.1", "prod"]
    );

    // Other writes keep them.
    store
        .set_state(&tagged, &StateChange::turn_on().message("soon"), "t")
        .await
        .expect("on");
    store
        .add_ignored_path(&tagged, "^health", "", "t")
        .await
        .expect("ignore");
    store
        .set_state_many(&SiteSelection::All, &StateChange::turn_off(), "t")
        .await
        .expect("off --all");
    assert_eq!(store.site(&tagged).await.expect("site").tags.len(), 3);

    let written = store
        .remove_tags(&tagged, &owned(&["PROD", "canary"]), "t")
        .await
        .expect("remove tags");
    assert_eq!(written.tags, ["eu-west.1"]);
    assert_eq!(store.site(&tagged).await.expect("site").tags, ["eu-west.1"]);
    let event = &store.events(Some(&tagged), 1).await.expect("events")[0];
    assert_eq!(event.kind(), Some(crate::AuditAction::TagRemove));

    // A removed site takes its tags with it.
    store
        .remove_site("tagged.example", "t")
        .await
        .expect("remove");
    store
        .add_site("tagged.example", None, "t")
        .await
        .expect("add again");
    assert!(store.site(&tagged).await.expect("site").tags.is_empty());
    let err = store
        .set_state_many(
            &SiteSelection::of(Vec::new(), ["eu-west.1"]).expect("selection"),
            &StateChange::turn_on(),
            "t",
        )
        .await
        .expect_err("the tag went with its site");
    assert!(matches!(err, StoreError::UnknownTag(_)), "{err}");
}

/// A selection by tags changes the named sites and every site carrying one of the tags, in one
/// revision, each site once; a tag no site carries fails the whole change, naming it.
pub async fn a_tag_selection_changes_its_sites_in_one_revision(store: &dyn MaintenanceStore) {
    for (domain, tags) in [
        ("a.tags.example", &["eu", "shop"][..]),
        ("b.tags.example", &["eu"][..]),
        ("c.tags.example", &["us"][..]),
        ("d.tags.example", &[][..]),
    ] {
        store.add_site(domain, None, "t").await.expect("add site");
        if !tags.is_empty() {
            store
                .add_tags(&SiteRef::Domain(domain.to_owned()), &owned(tags), "t")
                .await
                .expect("tags");
        }
    }
    let revision = store.revision().await.expect("revision");
    let selection = SiteSelection::of(
        vec![SiteRef::Default, SiteRef::Domain("a.tags.example".into())],
        ["EU", "shop"],
    )
    .expect("selection");
    let changed = store
        .set_state_many(&selection, &StateChange::turn_on(), "t")
        .await
        .expect("on --tag");
    let mut domains: Vec<&str> = changed.iter().map(|s| s.domain.as_str()).collect();
    domains.sort_unstable();
    assert_eq!(domains, ["a.tags.example", "b.tags.example", "default"]);
    assert_eq!(
        store.revision().await.expect("revision"),
        revision + 1,
        "one revision"
    );
    let enabled: Vec<String> = store
        .load()
        .await
        .expect("load")
        .sites
        .into_iter()
        .filter(|s| s.enabled)
        .map(|s| s.domain)
        .collect();
    assert_eq!(enabled.len(), 3, "{enabled:?}");

    // An unknown tag beside known ones: nothing written.
    let revision = store.revision().await.expect("revision");
    let selection = SiteSelection::of(Vec::new(), ["us", "nowhere"]).expect("selection");
    let err = store
        .set_state_many(&selection, &StateChange::turn_off(), "t")
        .await
        .expect_err("unknown tag");
    assert!(
        matches!(err, StoreError::UnknownTag(_)) && err.to_string().contains("`nowhere`"),
        "{err}"
    );
    assert_eq!(store.revision().await.expect("revision"), revision);
    assert!(store.site(&SiteRef::Default).await.expect("site").enabled);

    // The tag alone.
    let selection = SiteSelection::of(Vec::new(), ["us"]).expect("selection");
    let changed = store
        .set_state_many(&selection, &StateChange::turn_on(), "t")
        .await
        .expect("on --tag us");
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0].domain, "c.tags.example");
    assert!(
        !store
            .site(&SiteRef::Domain("d.tags.example".into()))
            .await
            .expect("site")
            .enabled
    );
}

/// A listing filtered by tags shows the sites carrying any of them, as
/// [`SiteQuery::page_of`] does.
pub async fn list_sites_filters_by_tag(store: &dyn MaintenanceStore) {
    for i in 0..12 {
        let domain = format!("t{i:02}.list.example");
        store.add_site(&domain, None, "t").await.expect("add");
        let tags: &[&str] = match i % 4 {
            0 => &["eu"],
            1 => &["eu", "us"],
            2 => &["us"],
            _ => &[],
        };
        if !tags.is_empty() {
            store
                .add_tags(&SiteRef::Domain(domain), &owned(tags), "t")
                .await
                .expect("tags");
        }
    }
    let now = Utc::now();
    let sites = store.load().await.expect("load").sites;
    let base = SiteQuery::all(now);
    let queries = [
        base.clone().tag("eu"),
        base.clone().tag("us"),
        base.clone().tag("eu").tag("us"),
        base.clone().tag("nowhere"),
        base.clone().tag("eu").search("T0"),
        base.clone().tag("us").offset(2).limit(2),
        base.clone().tag("eu").state(StateFilter::Off),
    ];
    for query in queries {
        let page = store.list_sites(&query).await.expect("list_sites");
        assert_eq!(page, query.page_of(&sites), "{query:?}");
    }
    let page = store
        .list_sites(&base.clone().tag("eu"))
        .await
        .expect("list_sites");
    assert_eq!(page.total, 6);
    assert!(page.sites.iter().all(|s| s.tags.contains(&"eu".to_owned())));
}

/// A store with a change feed sends a notice after a write.
pub async fn change_feed_announces_writes(store: &dyn MaintenanceStore) {
    let Some(mut feed) = store.subscribe().await.expect("subscribe") else {
        return;
    };
    // Drain the notice a feed may send when it (re)connects.
    while tokio::time::timeout(Duration::from_millis(200), feed.recv())
        .await
        .is_ok_and(|m| m.is_some())
    {}
    store
        .set_state(&SiteRef::Default, &StateChange::turn_on(), "t")
        .await
        .expect("on");
    let got = tokio::time::timeout(Duration::from_secs(10), feed.recv()).await;
    assert!(
        matches!(got, Ok(Some(()))),
        "no change notice within 10 s: {got:?}"
    );
}

#[cfg(test)]
mod tests {
    /// A case written here but left out of `store_conformance_tests!` would run for no store.
    #[test]
    fn every_case_is_listed_in_the_macro() {
        let source = include_str!("conformance.rs");
        let macro_start = source
            .find("macro_rules! store_conformance_tests")
            .expect("the macro");
        let list_end = source[macro_start..]
            .find("(@cases $make:path;")
            .map(|i| macro_start + i)
            .expect("the macro's case list");
        let listed: std::collections::BTreeSet<&str> = source[macro_start..list_end]
            .lines()
            .map(|line| line.trim().trim_end_matches(','))
            .filter(|name| {
                !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit())
            })
            .collect();
        let written: std::collections::BTreeSet<&str> = source
            .lines()
            .filter_map(|line| line.strip_prefix("pub async fn "))
            .filter_map(|rest| rest.split_once('('))
            .map(|(name, _)| name)
            .collect();
        assert!(written.len() >= 20, "{written:?}");
        assert_eq!(written, listed);
    }
}
