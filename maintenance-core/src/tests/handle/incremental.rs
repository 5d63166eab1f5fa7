//! Incremental refresh: a change rebuilds only the sites it names; every other site is kept,
//! compiled patterns included; the handle reads everything when the changes cannot be trusted.

use std::sync::Mutex;

use super::*;
use crate::store::StoreChanges;

fn request(host: &str, path: &str) -> http::Request<()> {
    http::Request::builder()
        .uri(path)
        .header("host", host)
        .body(())
        .unwrap()
}

/// A store with three sites in maintenance, each ignoring `^static/` (so they share one set)
/// and one with a pattern of its own, and a handle on it, loaded.
async fn three_sites() -> (Arc<MemoryStore>, Maintenance) {
    let store = Arc::new(MemoryStore::new());
    for domain in ["a.example", "b.example", "c.example"] {
        store.add_site(domain, None, "t").await.unwrap();
        let site = SiteRef::Domain(domain.to_owned());
        store
            .set_state(&site, &StateChange::turn_on(), "t")
            .await
            .unwrap();
        store
            .add_ignored_path(&site, "^static/", "", "t")
            .await
            .unwrap();
    }
    store
        .add_ignored_path(&SiteRef::Domain("c.example".into()), "^c-only/", "", "t")
        .await
        .unwrap();
    let m = Maintenance::new(store.clone(), fast_policy().build().unwrap());
    m.refresh().await.unwrap();
    (store, m)
}

#[tokio::test]
async fn an_unchanged_site_keeps_its_compiled_patterns_across_a_refresh() {
    let (store, m) = three_sites().await;
    let before = m.snapshot().unwrap();
    let a_before = Arc::clone(before.site("a.example").unwrap());
    assert!(
        !a_before.ignored().is_compiled(),
        "patterns compile on first use"
    );
    assert!(
        m.check(&request("a.example", "/static/x"), Identity::Anonymous)
            .is_allowed()
    );
    assert!(a_before.ignored().is_compiled());

    let b = SiteRef::Domain("b.example".into());
    store
        .set_state(&b, &StateChange::turn_off(), "t")
        .await
        .unwrap();
    m.refresh().await.unwrap();

    let after = m.snapshot().unwrap();
    assert!(after.revision() > before.revision());
    assert!(!after.site("b.example").unwrap().state().enabled);
    let a_after = after.site("a.example").unwrap();
    assert!(
        Arc::ptr_eq(&a_before, a_after),
        "the unchanged site is the same LiveSite"
    );
    assert!(
        a_after.ignored().is_compiled(),
        "its compiled set was kept, not compiled again"
    );
    assert_eq!(m.full_loads(), 1, "only the first load read everything");
    assert_eq!(m.stats().0, 2);
}

#[tokio::test]
async fn sites_with_the_same_patterns_share_one_compiled_set() {
    let (store, m) = three_sites().await;
    let snap = m.snapshot().unwrap();
    let a = snap.site("a.example").unwrap().ignored().clone();
    let b = snap.site("b.example").unwrap().ignored().clone();
    let c = snap.site("c.example").unwrap().ignored().clone();
    assert!(a.shares_with(&b));
    assert!(!a.shares_with(&c), "c has a pattern of its own");
    // One compile serves both.
    assert!(
        m.check(&request("a.example", "/static/x"), Identity::Anonymous)
            .is_allowed()
    );
    assert!(b.is_compiled());
    assert!(!c.is_compiled());

    // A site changed to the same list as another joins its set, in the next snapshot too.
    store
        .remove_ignored_path(&SiteRef::Domain("c.example".into()), "^c-only/", "t")
        .await
        .unwrap();
    m.refresh().await.unwrap();
    let snap = m.snapshot().unwrap();
    let c = snap.site("c.example").unwrap().ignored();
    assert!(c.shares_with(&a));
    assert!(c.is_compiled());
    assert_eq!(m.full_loads(), 1);
}

#[tokio::test]
async fn incremental_snapshots_equal_full_ones_through_adds_changes_and_removals() {
    let (store, m) = three_sites().await;
    let b = SiteRef::Domain("b.example".into());
    for round in 0..6 {
        match round {
            0 => {
                store.add_site("d.example", Some("D"), "t").await.unwrap();
            }
            1 => store.remove_site("a.example", "t").await.unwrap(),
            2 => store
                .add_allowed_network(&b, "10.0.0.0/8", "office", "t")
                .await
                .unwrap(),
            3 => store
                .set_state_many(&SiteSelection::All, &StateChange::turn_on(), "t")
                .await
                .map(drop)
                .unwrap(),
            4 => {
                // A removed domain comes back as a new site.
                store.add_site("a.example", None, "t").await.unwrap();
            }
            _ => store
                .set_bypass_secret_hash(&b, Some(&crate::bypass::hash_secret("s3cret")), "t")
                .await
                .unwrap(),
        }
        m.refresh().await.unwrap();
        let live = m.snapshot().unwrap();
        let contents = store.load().await.unwrap();
        let full = Snapshot::new(contents.revision, contents.sites.clone());
        assert_eq!(live.revision(), full.revision(), "round {round}");
        let live_states: Vec<&SiteState> = live.sites().map(|s| s.state()).collect();
        let full_states: Vec<&SiteState> = full.sites().map(|s| s.state()).collect();
        assert_eq!(live_states, full_states, "round {round}");
        for site in &contents.sites {
            let found = live.site(&site.domain).map(|s| s.state().id);
            assert_eq!(found, Some(site.id), "round {round}: {}", site.domain);
        }
        assert_eq!(
            live.enabled_sites().count(),
            full.enabled_sites().count(),
            "round {round}"
        );
    }
    assert!(m.snapshot().unwrap().site("a.example").is_some());
    assert_eq!(m.full_loads(), 1);
}

/// A source whose changes are scripted: to see when the handle reads everything instead.
struct Scripted {
    inner: MemoryStore,
    changes: Mutex<Option<StoreChanges>>,
}

#[async_trait]
impl MaintenanceSource for Scripted {
    async fn load(&self) -> Result<StoreContents, StoreError> {
        self.inner.load().await
    }
    async fn revision(&self) -> Result<i64, StoreError> {
        self.inner.revision().await
    }
    async fn changes_since(&self, _: i64) -> Result<Option<StoreChanges>, StoreError> {
        Ok(self.changes.lock().unwrap().take())
    }
}

#[tokio::test]
async fn the_handle_reads_everything_when_the_changes_cannot_be_trusted() {
    let source = Arc::new(Scripted {
        inner: MemoryStore::new(),
        changes: Mutex::new(None),
    });
    let m = Maintenance::new(source.clone(), fast_policy().build().unwrap());
    m.refresh().await.unwrap();
    let revision = m.revision().unwrap();
    assert_eq!(m.full_loads(), 1);

    // The source cannot tell: everything.
    m.refresh().await.unwrap();
    assert_eq!(m.full_loads(), 2);

    // Nothing new: nothing read, nothing built.
    *source.changes.lock().unwrap() = Some(StoreChanges {
        revision,
        changed: vec![],
        removed: vec![],
    });
    m.refresh().await.unwrap();
    assert_eq!((m.full_loads(), m.stats().0), (2, 2));

    // The revision moved but no site is named (a change written by hand): everything.
    *source.changes.lock().unwrap() = Some(StoreChanges {
        revision: revision + 1,
        changed: vec![],
        removed: vec![],
    });
    m.refresh().await.unwrap();
    assert_eq!(m.full_loads(), 3);

    // The store went back (restored from a backup): everything.
    *source.changes.lock().unwrap() = Some(StoreChanges {
        revision: revision - 1,
        changed: vec![],
        removed: vec![9],
    });
    m.refresh().await.unwrap();
    assert_eq!(m.full_loads(), 4);
    assert_eq!(m.revision(), Some(revision));
}

#[tokio::test]
async fn a_set_too_large_to_compile_keeps_the_patterns_that_fit() {
    let mut site = SiteState::new(1, "default");
    site.is_default = true;
    site.enabled = true;
    for pattern in ["^ok/", r"\w{200}\w{200}\w{200}"] {
        site.ignored_paths.push(IgnoredPath {
            pattern: pattern.into(),
            description: String::new(),
        });
    }
    let snap = Snapshot::new(1, vec![site]);
    let live = snap.default_site().unwrap();
    assert_eq!(live.ignored().patterns().len(), 2, "both parse");
    assert_eq!(live.ignored().matches_prepared("ok/x"), Some(true));
    assert_eq!(
        live.ignored().compiled_len(),
        Some(1),
        "the huge one is left out"
    );
    assert_eq!(live.ignored().matches_prepared("x"), Some(false));
}
