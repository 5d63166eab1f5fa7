//! [`Relay`]: keeps the bucket in step with the database, for the servers that follow it
//! through [`NatsSource`](crate::NatsSource).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, kv};
use chrono::Utc;
use futures_util::StreamExt;
use maintenance_core::store::{StoreChanges, StoreContents};
use maintenance_core::{ErrorChain, MaintenanceSource};
use serde::Serialize;

use crate::backoff::Backoff;
use crate::bucket;
use crate::error::Error;
use crate::record::{self, META_KEY, MetaRecord, SiteRecord, site_key};

/// Counter of the keys the relay wrote, by `kind` (`site`, `tombstone`, `meta`, `cleared`).
pub const RELAY_WRITES_TOTAL: &str = "maintenance_relay_writes_total";
/// Gauge: the database revision the bucket holds whole.
pub const RELAY_REVISION: &str = "maintenance_relay_revision";
/// Histogram: seconds from a site's change in the database to its write in the bucket.
pub const RELAY_LAG_SECONDS: &str = "maintenance_relay_lag_seconds";
/// Counter of the rounds that failed (database or NATS).
pub const RELAY_ERRORS_TOTAL: &str = "maintenance_relay_errors_total";
/// Counter of the full resynchronisations (at start and after every gap).
pub const RELAY_RESYNCS_TOTAL: &str = "maintenance_relay_resyncs_total";

/// How the relay paces itself.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RelayOptions {
    /// How often the database's revision is read when it pushes no notices (250 ms).
    pub poll_interval: Duration,
    /// How often it is read anyway when it does (PostgreSQL's `LISTEN`): a safety net (5 s).
    pub feed_poll_interval: Duration,
    /// How long the tombstone of a removed site stays in the bucket (1 hour): long enough for
    /// any relay that read the site before its removal to have written or given up.
    pub tombstone_ttl: Duration,
    /// How often everything is read and compared anyway (5 minutes): it mends what no change
    /// names, such as a key deleted by hand, or a site written back by a relay that stalled
    /// between reading it and writing it while another relay wrote its removal.
    pub resync_interval: Duration,
    /// The shortest pause after a failed round (100 ms); it doubles up to `max_backoff`.
    pub min_backoff: Duration,
    /// The longest pause after failed rounds (5 s).
    pub max_backoff: Duration,
}

impl Default for RelayOptions {
    fn default() -> Self {
        RelayOptions {
            poll_interval: Duration::from_millis(250),
            feed_poll_interval: Duration::from_secs(5),
            tombstone_ttl: Duration::from_secs(3600),
            resync_interval: Duration::from_secs(300),
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
        }
    }
}

/// What one round of the relay did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Relayed {
    /// The database revision the bucket now holds whole.
    pub revision: i64,
    /// Whether the round read everything (at start, after a gap) rather than the changes.
    pub full: bool,
    /// Sites written.
    pub written: usize,
    /// Tombstones written for removed sites.
    pub removed: usize,
    /// Sites left as they were: the bucket already held them, or a newer state of them.
    pub kept: usize,
    /// Old tombstones cleared away.
    pub cleared: usize,
}

/// Follows a database (any [`MaintenanceSource`]: the SQL stores, with their `NOTIFY` feed or
/// polling) and writes each changed site to the bucket, a tombstone for each removed one, then
/// the revision it holds whole.
///
/// Several relays may run at once: every write is conditional on the revision it carries
/// (compare-and-set on the key), so a slow relay never overwrites a newer state, and a removed
/// site's tombstone keeps it from being written back by a relay that read it earlier. A full
/// resynchronisation runs at start and after every failed round.
///
/// ```no_run
/// use std::sync::Arc;
/// use maintenance_nats::Relay;
///
/// # async fn run(store: Arc<dyn maintenance_core::MaintenanceSource>) -> Result<(), Box<dyn std::error::Error>> {
/// let relay = Relay::connect("nats://127.0.0.1:4222", "maintenance", store, "postgres://db/app").await?;
/// relay.run().await;
/// # Ok(()) }
/// ```
pub struct Relay {
    source: Arc<dyn MaintenanceSource>,
    store: kv::Store,
    bucket: String,
    database: String,
    options: RelayOptions,
    /// The database revision the bucket holds whole; `None` before the first round and after
    /// a failed one (the next reads everything).
    written: Option<i64>,
    /// When the last full resynchronisation ran.
    resynced: Option<tokio::time::Instant>,
}

/// What a key holds now.
enum Found<T> {
    Absent,
    Deleted(u64),
    Value(u64, T),
}

impl Relay {
    /// Connects to NATS at `url` and opens `bucket`, creating it if it is not there.
    /// `database` names the database followed (its URL without credentials): it is written
    /// into the bucket so that a relay of another database refuses to write there.
    ///
    /// Fails at once, with a message that names it, on a URL or bucket name that cannot work,
    /// a NATS server that does not answer, or one without JetStream.
    pub async fn connect(
        url: &str,
        bucket: &str,
        source: Arc<dyn MaintenanceSource>,
        database: impl Into<String>,
    ) -> Result<Self, Error> {
        let options = bucket::connect_options("maintenance relay");
        let client = bucket::connect(options, url, bucket).await?;
        let js = jetstream::new(client);
        let store = bucket::open(&js, bucket, true).await?;
        Ok(Relay {
            source,
            store,
            bucket: bucket.to_owned(),
            database: database.into(),
            options: RelayOptions::default(),
            written: None,
            resynced: None,
        })
    }

    /// Sets how the relay paces itself.
    pub fn with_options(mut self, options: RelayOptions) -> Self {
        self.options = options;
        self
    }

    /// Relays until the task is dropped: one round at each notice of the database (or poll),
    /// pauses that grow after failures, each outage logged once.
    pub async fn run(mut self) {
        describe_metrics();
        let mut feed = None;
        let mut backoff = Backoff::new(self.options.min_backoff, self.options.max_backoff);
        let mut failing = false;
        loop {
            if feed.is_none() {
                feed = self.source.subscribe().await.ok().flatten();
            }
            match self.sync().await {
                Ok(round) => {
                    backoff.reset();
                    if std::mem::take(&mut failing) {
                        tracing::info!(bucket = %self.bucket, revision = round.revision, "relaying again");
                    }
                    if round.full || round.written + round.removed > 0 {
                        tracing::info!(bucket = %self.bucket, revision = round.revision, full = round.full,
                            written = round.written, removed = round.removed, kept = round.kept,
                            cleared = round.cleared, "relayed");
                    }
                }
                Err(e) => {
                    metrics::counter!(RELAY_ERRORS_TOTAL).increment(1);
                    if failing {
                        tracing::debug!(bucket = %self.bucket, error = %ErrorChain(&e), "relay round failed again");
                    } else {
                        failing = true;
                        tracing::warn!(bucket = %self.bucket, error = %ErrorChain(&e),
                            "relay round failed; trying again, then reading everything");
                    }
                    tokio::time::sleep(backoff.pause()).await;
                    continue;
                }
            }
            let wait = if feed.is_some() {
                self.options.feed_poll_interval
            } else {
                self.options.poll_interval
            };
            if let Some(f) = feed.as_mut() {
                tokio::select! {
                    notice = f.recv() => if notice.is_none() { feed = None },
                    () = tokio::time::sleep(wait) => {}
                }
            } else {
                tokio::time::sleep(wait).await;
            }
        }
    }

    /// One round: writes what changed in the database since the last round, or everything
    /// when the database cannot tell (or at the first round, or after a failed one).
    pub async fn sync(&mut self) -> Result<Relayed, Error> {
        let result = self.sync_inner().await;
        if result.is_err() {
            self.written = None;
        }
        result
    }

    async fn sync_inner(&mut self) -> Result<Relayed, Error> {
        let due = self
            .resynced
            .is_none_or(|at| at.elapsed() >= self.options.resync_interval);
        let Some(written) = self.written.filter(|_| !due) else {
            return self.resync().await;
        };
        let revision = self.source.revision().await.map_err(Error::Database)?;
        if revision == written {
            return Ok(Relayed {
                revision,
                ..Relayed::default()
            });
        }
        match self
            .source
            .changes_since(written)
            .await
            .map_err(Error::Database)?
        {
            Some(changes)
                if changes.revision > written
                    && !(changes.changed.is_empty() && changes.removed.is_empty()) =>
            {
                self.relay_changes(changes).await
            }
            Some(changes) if changes.revision == written => Ok(Relayed {
                revision: written,
                ..Relayed::default()
            }),
            _ => self.resync().await,
        }
    }

    async fn relay_changes(&mut self, changes: StoreChanges) -> Result<Relayed, Error> {
        let mut round = Relayed {
            revision: changes.revision,
            ..Relayed::default()
        };
        let now = Utc::now();
        for site in changes.changed {
            if let Some(at) = site.updated_at {
                let lag = (now - at).to_std().unwrap_or_default();
                metrics::histogram!(RELAY_LAG_SECONDS).record(lag.as_secs_f64());
            }
            let key = site_key(site.id);
            let found = self.found(&key).await?;
            let wrote = self
                .write_site(&key, SiteRecord::present(changes.revision, site), found)
                .await?;
            count(&mut round, wrote, false);
        }
        for id in changes.removed {
            let key = site_key(id);
            let found = self.found(&key).await?;
            let wrote = self
                .write_site(&key, SiteRecord::removed(changes.revision, now), found)
                .await?;
            count(&mut round, wrote, true);
        }
        self.write_meta(changes.revision).await?;
        self.written = Some(changes.revision);
        Ok(round)
    }

    /// Writes every site the database holds, a tombstone for every site the bucket holds and
    /// the database does not, clears old tombstones, then the revision.
    pub async fn resync(&mut self) -> Result<Relayed, Error> {
        metrics::counter!(RELAY_RESYNCS_TOTAL).increment(1);
        self.resynced = Some(tokio::time::Instant::now());
        let StoreContents { revision, sites } =
            self.source.load().await.map_err(Error::Database)?;
        let (mut held, meta) = self.read_all().await?;
        if let Some(meta) = &meta {
            if meta.database != self.database {
                return Err(Error::OtherDatabase {
                    bucket: self.bucket.clone(),
                    found: meta.database.clone(),
                    database: self.database.clone(),
                });
            }
            if meta.revision > revision {
                tracing::warn!(bucket = %self.bucket, bucket_revision = meta.revision, database_revision = revision,
                    "the database is at an older revision than the bucket (restored from a backup?); sites the bucket holds newer are kept");
            }
        }
        let mut round = Relayed {
            revision,
            full: true,
            ..Relayed::default()
        };
        let now = Utc::now();
        for site in sites {
            let key = site_key(site.id);
            let found = held.remove(&key).unwrap_or(Found::Absent);
            let wrote = self
                .write_site(&key, SiteRecord::present(revision, site), found)
                .await?;
            count(&mut round, wrote, false);
        }
        let ttl = chrono::Duration::from_std(self.options.tombstone_ttl).unwrap_or_default();
        for (key, found) in held {
            match found {
                Found::Value(_, SiteRecord { site: Some(_), .. }) => {
                    let wrote = self
                        .write_site(&key, SiteRecord::removed(revision, now), found)
                        .await?;
                    count(&mut round, wrote, true);
                }
                Found::Value(
                    kv_revision,
                    SiteRecord {
                        removed_at: Some(at),
                        ..
                    },
                ) if now - at > ttl => {
                    // Cleared only if nobody wrote it since it was read.
                    let cleared = self
                        .store
                        .delete_expect_revision(&key, Some(kv_revision))
                        .await;
                    if cleared.is_ok() {
                        metrics::counter!(RELAY_WRITES_TOTAL, "kind" => "cleared").increment(1);
                        round.cleared += 1;
                    }
                }
                _ => {}
            }
        }
        self.write_meta(revision).await?;
        self.written = Some(revision);
        Ok(round)
    }

    /// Every key the bucket holds now, read through one watch.
    async fn read_all(
        &self,
    ) -> Result<(HashMap<String, Found<SiteRecord>>, Option<MetaRecord>), Error> {
        let mut held = HashMap::new();
        let mut meta = None;
        let status = self
            .store
            .status()
            .await
            .map_err(|e| self.key_error("read", ">", e))?;
        if status.values() == 0 {
            return Ok((held, meta));
        }
        let mut watch = self
            .store
            .watch_with_history(">")
            .await
            .map_err(|e| self.key_error("read", ">", e))?;
        let read = async {
            while let Some(entry) = watch.next().await {
                let entry = entry.map_err(|e| self.key_error("read", ">", e))?;
                let found = match entry.operation {
                    kv::Operation::Put if entry.key == META_KEY => {
                        meta = Some(record::decode(&entry.key, &entry.value)?);
                        None
                    }
                    kv::Operation::Put if record::site_id(&entry.key).is_some() => Some(
                        Found::Value(entry.revision, record::decode(&entry.key, &entry.value)?),
                    ),
                    kv::Operation::Put => None,
                    kv::Operation::Delete | kv::Operation::Purge => {
                        Some(Found::Deleted(entry.revision))
                    }
                };
                if let Some(found) = found {
                    held.insert(entry.key, found);
                }
                if entry.delta == 0 {
                    return Ok(());
                }
            }
            Err(self.key_error("read", ">", "the watch ended"))
        };
        tokio::time::timeout(Duration::from_secs(60), read)
            .await
            .map_err(|_| self.key_error("read", ">", "no answer in 60 s"))??;
        Ok((held, meta))
    }

    /// What `key` holds now.
    async fn found<T: for<'de> serde::Deserialize<'de>>(
        &self,
        key: &str,
    ) -> Result<Found<T>, Error> {
        let entry = self
            .store
            .entry(key)
            .await
            .map_err(|e| self.key_error("read", key, e))?;
        Ok(match entry {
            None => Found::Absent,
            Some(e) if e.operation == kv::Operation::Put => {
                Found::Value(e.revision, record::decode(key, &e.value)?)
            }
            Some(e) => Found::Deleted(e.revision),
        })
    }

    /// Writes `record` unless the key holds it already, or a newer state: compare-and-set on
    /// the key's last revision, read again and decided again when another relay wrote first.
    async fn write_site(
        &self,
        key: &str,
        record: SiteRecord,
        mut found: Found<SiteRecord>,
    ) -> Result<bool, Error> {
        loop {
            let expected = match &found {
                Found::Value(_, held)
                    if held.revision >= record.revision || held.site == record.site =>
                {
                    return Ok(false);
                }
                // A site removed whose key was cleared already: nothing to say.
                Found::Absent | Found::Deleted(_) if record.site.is_none() => return Ok(false),
                // A site the bucket does not hold, when the bucket holds a newer revision
                // whole: it was removed since this relay read it.
                Found::Absent | Found::Deleted(_)
                    if self.held_revision().await? > record.revision =>
                {
                    return Ok(false);
                }
                Found::Value(r, _) | Found::Deleted(r) => Some(*r),
                Found::Absent => None,
            };
            if self.put(key, &record, expected).await? {
                let kind = if record.site.is_some() {
                    "site"
                } else {
                    "tombstone"
                };
                metrics::counter!(RELAY_WRITES_TOTAL, "kind" => kind).increment(1);
                return Ok(true);
            }
            found = self.found(key).await?;
        }
    }

    /// The revision the bucket holds whole (0 before any relay wrote it).
    async fn held_revision(&self) -> Result<i64, Error> {
        Ok(match self.found::<MetaRecord>(META_KEY).await? {
            Found::Value(_, meta) => meta.revision,
            Found::Absent | Found::Deleted(_) => 0,
        })
    }

    /// Writes the revision the bucket now holds whole, unless it holds a newer one.
    async fn write_meta(&self, revision: i64) -> Result<(), Error> {
        let record = MetaRecord {
            format: record::FORMAT,
            revision,
            database: self.database.clone(),
            written_at: Utc::now(),
        };
        loop {
            let expected = match self.found::<MetaRecord>(META_KEY).await? {
                Found::Value(_, held) if held.revision >= revision => break,
                Found::Value(r, _) | Found::Deleted(r) => Some(r),
                Found::Absent => None,
            };
            if self.put(META_KEY, &record, expected).await? {
                metrics::counter!(RELAY_WRITES_TOTAL, "kind" => "meta").increment(1);
                break;
            }
        }
        metrics::gauge!(RELAY_REVISION).set(revision as f64);
        Ok(())
    }

    /// Puts `value` if the key's last revision is still `expected` (`None`: no value yet);
    /// `false` when another writer came first.
    async fn put<T: Serialize>(
        &self,
        key: &str,
        value: &T,
        expected: Option<u64>,
    ) -> Result<bool, Error> {
        let bytes = record::encode(value);
        let result = match expected {
            Some(revision) => self.store.update(key, bytes, revision).await,
            None => self.store.update(key, bytes, 0).await,
        };
        match result {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => Ok(false),
            Err(e) => Err(self.key_error("write", key, e)),
        }
    }

    fn key_error(
        &self,
        action: &'static str,
        key: &str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Error {
        Error::Key {
            action,
            key: key.to_owned(),
            bucket: self.bucket.clone(),
            source: source.into(),
        }
    }
}

fn count(round: &mut Relayed, wrote: bool, removal: bool) {
    match (wrote, removal) {
        (true, false) => round.written += 1,
        (true, true) => round.removed += 1,
        (false, _) => round.kept += 1,
    }
}

fn describe_metrics() {
    metrics::describe_counter!(
        RELAY_WRITES_TOTAL,
        "Keys the relay wrote to the bucket, by kind (site, tombstone, meta, cleared)"
    );
    metrics::describe_gauge!(
        RELAY_REVISION,
        "The database revision the bucket holds whole"
    );
    metrics::describe_histogram!(
        RELAY_LAG_SECONDS,
        metrics::Unit::Seconds,
        "From a site's change in the database to its write in the bucket"
    );
    metrics::describe_counter!(RELAY_ERRORS_TOTAL, "Relay rounds that failed");
    metrics::describe_counter!(RELAY_RESYNCS_TOTAL, "Full resynchronisations of the bucket");
}
