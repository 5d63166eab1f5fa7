//! A follower's copy of the bucket: every site as the bucket holds it, with the revision each
//! was written at, so that it can answer [`MaintenanceSource`](maintenance_core::MaintenanceSource)'s
//! questions (everything, the revision, what changed since) without asking NATS.

use std::collections::HashMap;

use async_nats::jetstream::kv::Operation;
use maintenance_core::SiteState;
use maintenance_core::store::{StoreChanges, StoreContents};

use crate::record::{self, META_KEY, MetaRecord, RecordError, SiteRecord};

/// A site as the bucket holds it.
#[derive(Debug, Clone)]
struct Held {
    /// The database revision it was written at.
    revision: i64,
    /// `None`: removed (a tombstone).
    site: Option<SiteState>,
}

/// The bucket's sites as far as the watch has brought them.
#[derive(Debug, Default)]
pub(crate) struct Mirror {
    sites: HashMap<i64, Held>,
    meta: Option<MetaRecord>,
    /// The newest revision seen, of the meta record or of any site.
    revision: i64,
    /// What changed before this revision may have been forgotten (tombstones cleared away
    /// before the copy was made): [`Mirror::changes_since`] answers only from here on.
    floor: i64,
    /// The last stream sequence applied, to resume the watch after it.
    pub(crate) sequence: u64,
}

/// What one entry did to the copy.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Applied {
    /// A site or the meta record changed: followers should look.
    Changed,
    /// Nothing a follower serves changed (an unknown key, a tombstone cleared away).
    Unchanged,
}

impl Mirror {
    /// Takes in one entry of the watch: `key`'s new `value` (for a put) at stream `sequence`.
    /// A value this crate cannot read leaves the copy as it was.
    pub(crate) fn apply(
        &mut self,
        key: &str,
        operation: Operation,
        value: &[u8],
        sequence: u64,
    ) -> Result<Applied, RecordError> {
        self.sequence = self.sequence.max(sequence);
        if key == META_KEY {
            return Ok(match operation {
                Operation::Put => {
                    let meta: MetaRecord = record::decode(key, value)?;
                    self.revision = self.revision.max(meta.revision);
                    self.meta = Some(meta);
                    Applied::Changed
                }
                Operation::Delete | Operation::Purge => Applied::Unchanged,
            });
        }
        let Some(id) = record::site_id(key) else {
            return Ok(Applied::Unchanged);
        };
        match operation {
            Operation::Put => {
                let SiteRecord { revision, site, .. } = record::decode(key, value)?;
                let site = site.map(|mut s| {
                    // The key names the site: a record copied under another key stays there.
                    s.id = id;
                    s
                });
                self.revision = self.revision.max(revision);
                self.sites.insert(id, Held { revision, site });
                Ok(Applied::Changed)
            }
            Operation::Delete | Operation::Purge => match self.sites.remove(&id) {
                // A tombstone cleared away: who asks from before it must read everything.
                Some(Held {
                    site: None,
                    revision,
                }) => {
                    self.floor = self.floor.max(revision);
                    Ok(Applied::Unchanged)
                }
                // A site's key deleted by hand: gone for followers, who read everything
                // again at the next revision.
                Some(Held { site: Some(_), .. }) => {
                    tracing::warn!(
                        key,
                        "a site's key was deleted from the bucket outside the relay; the site is gone until the relay writes it again"
                    );
                    self.floor = self.revision + 1;
                    Ok(Applied::Changed)
                }
                None => Ok(Applied::Unchanged),
            },
        }
    }

    /// Marks the copy as complete up to now: what a follower held before may have changed in
    /// ways the copy cannot name.
    pub(crate) fn settle(&mut self) {
        self.floor = self.revision;
    }

    /// Whether the bucket has ever been written by a relay.
    pub(crate) fn is_empty(&self) -> bool {
        self.meta.is_none() && self.sites.is_empty()
    }

    /// The newest revision the copy holds.
    pub(crate) fn revision(&self) -> i64 {
        self.revision
    }

    /// The database the bucket follows, as its meta record says.
    pub(crate) fn database(&self) -> Option<&str> {
        self.meta.as_ref().map(|m| m.database.as_str())
    }

    /// Every site present, by id.
    pub(crate) fn contents(&self) -> StoreContents {
        let mut sites: Vec<SiteState> =
            self.sites.values().filter_map(|h| h.site.clone()).collect();
        sites.sort_unstable_by_key(|s| s.id);
        StoreContents {
            revision: self.revision,
            sites,
        }
    }

    /// The sites written and removed after `revision`; `None` when the copy cannot tell.
    pub(crate) fn changes_since(&self, revision: i64) -> Option<StoreChanges> {
        if revision < self.floor {
            return None;
        }
        let mut changed = Vec::new();
        let mut removed = Vec::new();
        for (id, held) in &self.sites {
            if held.revision > revision {
                match &held.site {
                    Some(site) => changed.push(site.clone()),
                    None => removed.push(*id),
                }
            }
        }
        changed.sort_unstable_by_key(|s| s.id);
        removed.sort_unstable();
        Some(StoreChanges {
            revision: self.revision,
            changed,
            removed,
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::record::{FORMAT, encode, site_key};

    fn put_site(m: &mut Mirror, revision: i64, id: i64, domain: &str, seq: u64) {
        let record = SiteRecord::present(revision, SiteState::new(id, domain));
        let applied = m
            .apply(&site_key(id), Operation::Put, &encode(&record), seq)
            .unwrap();
        assert_eq!(applied, Applied::Changed);
    }

    fn put_meta(m: &mut Mirror, revision: i64, seq: u64) {
        let meta = MetaRecord {
            format: FORMAT,
            revision,
            database: "postgres://db/app".into(),
            written_at: Utc::now(),
        };
        m.apply(META_KEY, Operation::Put, &encode(&meta), seq)
            .unwrap();
    }

    #[test]
    fn the_copy_names_what_changed_after_a_revision() {
        let mut m = Mirror::default();
        put_site(&mut m, 3, 1, "default", 1);
        put_site(&mut m, 3, 2, "a.example", 2);
        put_meta(&mut m, 3, 3);
        m.settle();
        assert_eq!(m.contents().revision, 3);
        assert_eq!(m.contents().sites.len(), 2);

        put_site(&mut m, 5, 2, "a.example", 4);
        let tomb = SiteRecord::removed(6, Utc::now());
        m.apply(&site_key(1), Operation::Put, &encode(&tomb), 5)
            .unwrap();
        put_meta(&mut m, 6, 6);

        let changes = m.changes_since(3).unwrap();
        assert_eq!(changes.revision, 6);
        assert_eq!(
            changes.changed.iter().map(|s| s.id).collect::<Vec<_>>(),
            [2]
        );
        assert_eq!(changes.removed, [1]);
        let changes = m.changes_since(5).unwrap();
        assert!(changes.changed.is_empty());
        assert_eq!(changes.removed, [1]);
        assert_eq!(m.contents().sites.len(), 1);
        assert_eq!(m.sequence, 6);
    }

    #[test]
    fn before_the_copy_was_made_it_cannot_tell() {
        let mut m = Mirror::default();
        put_site(&mut m, 9, 1, "default", 1);
        m.settle();
        assert!(m.changes_since(8).is_none());
        assert!(m.changes_since(9).unwrap().changed.is_empty());
    }

    #[test]
    fn a_cleared_tombstone_moves_the_floor() {
        let mut m = Mirror::default();
        let tomb = SiteRecord::removed(4, Utc::now());
        m.apply(&site_key(7), Operation::Put, &encode(&tomb), 1)
            .unwrap();
        assert_eq!(m.changes_since(2).unwrap().removed, [7]);
        let applied = m.apply(&site_key(7), Operation::Purge, &[], 2).unwrap();
        assert_eq!(applied, Applied::Unchanged);
        assert!(m.changes_since(2).is_none());
    }

    #[test]
    fn a_newer_format_leaves_the_copy_as_it_was() {
        let mut m = Mirror::default();
        put_site(&mut m, 2, 1, "default", 1);
        let value = br#"{"format":9,"revision":3,"site":null}"#;
        assert!(m.apply(&site_key(1), Operation::Put, value, 2).is_err());
        assert_eq!(m.contents().sites.len(), 1);
        assert_eq!(m.revision(), 2);
    }

    #[test]
    fn the_key_names_the_site() {
        let mut m = Mirror::default();
        let record = SiteRecord::present(1, SiteState::new(99, "a.example"));
        m.apply(&site_key(5), Operation::Put, &encode(&record), 1)
            .unwrap();
        assert_eq!(m.contents().sites[0].id, 5);
        assert_eq!(
            m.apply("other", Operation::Put, b"x", 2).unwrap(),
            Applied::Unchanged
        );
    }
}
