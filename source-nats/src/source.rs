//! [`NatsSource`]: a [`MaintenanceSource`] that follows the bucket a relay writes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use async_nats::connection::State;
use async_nats::jetstream::{self, kv};
use async_trait::async_trait;
use futures_util::StreamExt;
use maintenance_core::store::{ChangeFeed, StoreChanges, StoreContents};
use maintenance_core::{ErrorChain, MaintenanceSource, StoreError};
use tokio::sync::{mpsc, watch};

use crate::backoff::Backoff;
use crate::bucket;
use crate::error::Error;
use crate::mirror::{Applied, Mirror};

/// How long [`MaintenanceSource::load`] waits for the first whole read of the bucket.
const DEFAULT_LOAD_TIMEOUT: Duration = Duration::from_secs(3);

/// A [`MaintenanceSource`] over a NATS JetStream key-value bucket that `maintenance relay`
/// keeps in step with the database.
///
/// It reads the bucket whole once, then follows it with a watch: every server holds one NATS
/// connection and no database connection at all. It names the sites that changed
/// ([`MaintenanceSource::changes_since`]), so a server rebuilds only those, and pushes a
/// notice at each change ([`MaintenanceSource::subscribe`]). When NATS is lost the server keeps
/// its last state (the fail mode applies if it never had one); the client reconnects by
/// itself with jittered pauses and the watch resumes after the last entry it applied, so
/// nothing written meanwhile is missed. A value written in a newer format than this crate
/// reads is refused with an error naming its key, never misread.
///
/// ```no_run
/// use maintenance_core::{Maintenance, Policy};
/// use maintenance_nats::NatsSource;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let source = NatsSource::connect("nats://127.0.0.1:4222", "maintenance").await?;
/// let maintenance = Maintenance::start(source, Policy::default()).await;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct NatsSource {
    inner: Arc<Inner>,
}

struct Inner {
    url: String,
    bucket: String,
    client: async_nats::Client,
    mirror: Mutex<Mirror>,
    /// Keys whose value could not be read, with why: while any is left, the source answers
    /// with that error rather than a state it may have misread.
    refused: Mutex<HashMap<String, String>>,
    /// `true` once the bucket has been read whole.
    loaded: watch::Sender<bool>,
    feeds: Mutex<Vec<mpsc::Sender<()>>>,
    load_timeout: Mutex<Duration>,
    follower: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(task) = lock(&self.follower).take() {
            task.abort();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl NatsSource {
    /// Follows `bucket` on the NATS server(s) at `url` (`nats://host:4222`, or several
    /// separated by commas).
    ///
    /// Returns at once, even while NATS cannot be reached: the client connects in the
    /// background and the source reads the bucket when it can. A URL or bucket name that
    /// cannot work is refused here, with a message that names it. Needs a Tokio runtime.
    pub async fn connect(url: &str, bucket: &str) -> Result<Self, Error> {
        let (events_tx, events) = mpsc::unbounded_channel();
        let options = bucket::connect_options("maintenance-nats follower")
            .retry_on_initial_connect()
            .event_callback(move |event| {
                let events_tx = events_tx.clone();
                async move {
                    let _ = events_tx.send(event);
                }
            });
        let client = bucket::connect(options, url, bucket).await?;
        let inner = Arc::new(Inner {
            url: url.to_owned(),
            bucket: bucket.to_owned(),
            client: client.clone(),
            mirror: Mutex::new(Mirror::default()),
            refused: Mutex::new(HashMap::new()),
            loaded: watch::Sender::new(false),
            feeds: Mutex::new(Vec::new()),
            load_timeout: Mutex::new(DEFAULT_LOAD_TIMEOUT),
            follower: Mutex::new(None),
        });
        let task = tokio::spawn(follow(
            Arc::downgrade(&inner),
            client,
            bucket.to_owned(),
            events,
        ));
        *lock(&inner.follower) = Some(task);
        Ok(NatsSource { inner })
    }

    /// How long the first [`MaintenanceSource::load`] waits for the bucket to be read whole
    /// (3 s by default); past it, the fail mode applies until it is.
    pub fn load_timeout(self, wait: Duration) -> Self {
        *lock(&self.inner.load_timeout) = wait;
        self
    }

    /// The bucket followed.
    pub fn bucket(&self) -> &str {
        &self.inner.bucket
    }

    /// The database the bucket follows, as the relay wrote it (its URL without credentials);
    /// `None` before the bucket has been read.
    pub fn database(&self) -> Option<String> {
        lock(&self.inner.mirror).database().map(str::to_owned)
    }

    /// Waits until the bucket has been read whole, for at most `wait`; `true` if it has.
    pub async fn wait_loaded(&self, wait: Duration) -> bool {
        let mut loaded = self.inner.loaded.subscribe();
        tokio::time::timeout(wait, loaded.wait_for(|l| *l))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// What stops the source from answering now: the connection, a refused value, a bucket
    /// not read yet or never written.
    fn check(&self) -> Result<(), Error> {
        let inner = &self.inner;
        if inner.client.connection_state() != State::Connected {
            return Err(Error::Disconnected {
                url: inner.url.clone(),
            });
        }
        if let Some(reason) = lock(&inner.refused).values().min() {
            return Err(Error::Refused {
                bucket: inner.bucket.clone(),
                reason: reason.clone(),
            });
        }
        if !*inner.loaded.borrow() {
            return Err(Error::NotLoaded {
                bucket: inner.bucket.clone(),
            });
        }
        if lock(&inner.mirror).is_empty() {
            return Err(Error::Empty {
                bucket: inner.bucket.clone(),
            });
        }
        Ok(())
    }
}

impl std::fmt::Debug for NatsSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsSource")
            .field("url", &self.inner.url)
            .field("bucket", &self.inner.bucket)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl MaintenanceSource for NatsSource {
    async fn load(&self) -> Result<StoreContents, StoreError> {
        let wait = *lock(&self.inner.load_timeout);
        self.wait_loaded(wait).await;
        self.check()?;
        Ok(lock(&self.inner.mirror).contents())
    }

    async fn revision(&self) -> Result<i64, StoreError> {
        self.check()?;
        Ok(lock(&self.inner.mirror).revision())
    }

    async fn subscribe(&self) -> Result<Option<ChangeFeed>, StoreError> {
        let (tx, rx) = mpsc::channel(1);
        lock(&self.inner.feeds).push(tx);
        Ok(Some(rx))
    }

    async fn changes_since(&self, revision: i64) -> Result<Option<StoreChanges>, StoreError> {
        self.check()?;
        Ok(lock(&self.inner.mirror).changes_since(revision))
    }
}

impl Inner {
    /// Tells every feed that the state may have changed; forgets the feeds whose receiver is
    /// gone.
    fn notify(&self) {
        lock(&self.feeds).retain(|tx| match tx.try_send(()) {
            Ok(()) | Err(mpsc::error::TrySendError::Full(())) => true,
            Err(mpsc::error::TrySendError::Closed(())) => false,
        });
    }

    /// Takes in one entry of the watch, into `fresh` while the bucket is being read whole
    /// and into the mirror after.
    fn take(&self, fresh: Option<&mut Mirror>, entry: &kv::Entry) -> Applied {
        let applied = match fresh {
            Some(m) => m.apply(&entry.key, entry.operation, &entry.value, entry.revision),
            None => {
                lock(&self.mirror).apply(&entry.key, entry.operation, &entry.value, entry.revision)
            }
        };
        let mut refused = lock(&self.refused);
        match applied {
            Ok(applied) => {
                refused.remove(&entry.key);
                applied
            }
            Err(e) => {
                let reason = ErrorChain(&e).to_string();
                if !refused.contains_key(&entry.key) {
                    tracing::error!(bucket = %self.bucket, error = %reason,
                        "refusing a value of the maintenance bucket; serving the last state read");
                }
                refused.insert(entry.key.clone(), reason);
                Applied::Changed
            }
        }
    }
}

/// The follower's task: opens the bucket, reads it whole, then follows it; after a lost
/// connection or a broken watch, resumes after the last entry it applied.
async fn follow(
    weak: Weak<Inner>,
    client: async_nats::Client,
    bucket: String,
    mut events: mpsc::UnboundedReceiver<async_nats::Event>,
) {
    let js = jetstream::new(client);
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
    let mut failing = false;
    loop {
        let result = watch_once(&weak, &js, &bucket, &mut events, &mut failing).await;
        if weak.strong_count() == 0 {
            return;
        }
        if let Err(e) = result {
            if failing {
                tracing::debug!(bucket, error = %ErrorChain(&e), "still cannot follow the maintenance bucket");
            } else {
                failing = true;
                tracing::warn!(bucket, error = %ErrorChain(&e),
                    "cannot follow the maintenance bucket; serving the last state read and trying again");
            }
            tokio::time::sleep(backoff.pause()).await;
        } else {
            backoff.reset();
        }
    }
}

/// One watch, from its start to the moment it breaks or the client reconnects.
async fn watch_once(
    weak: &Weak<Inner>,
    js: &jetstream::Context,
    bucket: &str,
    events: &mut mpsc::UnboundedReceiver<async_nats::Event>,
    failing: &mut bool,
) -> Result<(), Error> {
    let store = bucket::open(js, bucket, false).await?;
    let key_error = |action, source: Box<dyn std::error::Error + Send + Sync>| Error::Key {
        action,
        key: ">".to_owned(),
        bucket: bucket.to_owned(),
        source,
    };
    let (resume, sequence) = {
        let Some(inner) = weak.upgrade() else {
            return Ok(());
        };
        let loaded = *inner.loaded.borrow();
        (loaded, lock(&inner.mirror).sequence)
    };
    // Once read whole, the copy is resumed after the last entry it applied: the bucket keeps
    // the newest value of every key, so every key written since comes again.
    let mut watch = if resume {
        store.watch_all_from_revision(sequence + 1).await
    } else {
        store.watch_with_history(">").await
    }
    .map_err(|e| key_error("watch", Box::new(e)))?;
    let mut fresh = (!resume).then(Mirror::default);
    if fresh.is_some() {
        let status = store
            .status()
            .await
            .map_err(|e| key_error("read", Box::new(e)))?;
        if status.values() == 0 {
            // Nothing to wait for: the bucket is empty (no relay has written yet).
            let Some(inner) = weak.upgrade() else {
                return Ok(());
            };
            settle(&inner, fresh.take().unwrap_or_default());
        }
    }
    if std::mem::take(failing) {
        tracing::info!(bucket, "following the maintenance bucket again");
    }
    if resume && let Some(inner) = weak.upgrade() {
        // Changes may have been missed while the watch was down: followers look again.
        inner.notify();
    }
    loop {
        tokio::select! {
            entry = watch.next() => {
                let entry = match entry {
                    Some(Ok(entry)) => entry,
                    Some(Err(e)) => return Err(key_error("watch", Box::new(e))),
                    None => return Err(key_error("watch", "the watch ended".into())),
                };
                let Some(inner) = weak.upgrade() else {
                    return Ok(());
                };
                let applied = inner.take(fresh.as_mut(), &entry);
                match fresh.take() {
                    Some(m) if entry.delta == 0 => settle(&inner, m),
                    Some(m) => fresh = Some(m),
                    None if applied == Applied::Changed => inner.notify(),
                    None => {}
                }
            }
            event = events.recv() => match event {
                // A new connection: resume the watch after the last entry applied, in case
                // the old one missed something.
                Some(async_nats::Event::Connected) => {
                    tracing::info!(bucket, "reconnected to NATS; reading what changed meanwhile");
                    return Ok(());
                }
                Some(async_nats::Event::Disconnected) => {
                    tracing::warn!(bucket, "lost the NATS connection; serving the last state read");
                }
                Some(_) => {}
                None => return Ok(()),
            }
        }
    }
}

/// Puts a copy read whole in use and tells the followers.
fn settle(inner: &Inner, mut mirror: Mirror) {
    mirror.settle();
    tracing::debug!(bucket = %inner.bucket, revision = mirror.revision(), "maintenance bucket read");
    *lock(&inner.mirror) = mirror;
    inner.loaded.send_replace(true);
    inner.notify();
}
