//! One connection that both listens and reads: while the change feed holds its connection
//! (PostgreSQL's `LISTEN`), the store's reads run on it too, so a server costs its database one
//! connection rather than two.
//!
//! The feed waits for notifications holding the connection's lock; a read asks for the
//! connection ([`FeedSlot::for_read`]), the feed lets go, the read runs, and the feed takes it
//! back. Notifications that arrive meanwhile are buffered by the driver and handed out next.
//! Without a feed (SQLite, MariaDB, or before the first subscription) reads use the pool.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use futures_util::future::BoxFuture;
use maintenance_sql::change_feed::Wake;
use tokio::sync::{Mutex, MutexGuard, Notify};

/// A connection the change feed listens on, that reads may borrow.
pub(crate) trait FeedConnection<B: sqlx::Database>: Send {
    /// The connection, reconnected first if it was lost.
    fn connection(&mut self) -> BoxFuture<'_, Result<&mut B::Connection, sqlx::Error>>;

    /// Waits for the next notification. Dropping the future loses none.
    fn next(&mut self) -> BoxFuture<'_, Wake>;
}

/// The change feed's connection, shared with the reads of the store it belongs to.
pub(crate) struct FeedSlot<B: sqlx::Database> {
    slot: Mutex<Option<Box<dyn FeedConnection<B>>>>,
    /// Whether a feed holds a connection: reads try it only then.
    active: AtomicBool,
    /// Reads waiting for the connection: the feed lets go until there are none.
    wanted: AtomicUsize,
    /// Tells the feed that a read waits.
    wake: Notify,
    /// Tells the feed that the last waiting read is done.
    idle: Notify,
    /// Counts the connections installed, so that a late release leaves a newer one alone.
    generation: AtomicU64,
}

impl<B: sqlx::Database> Default for FeedSlot<B> {
    fn default() -> Self {
        FeedSlot {
            slot: Mutex::new(None),
            active: AtomicBool::new(false),
            wanted: AtomicUsize::new(0),
            wake: Notify::new(),
            idle: Notify::new(),
            generation: AtomicU64::new(0),
        }
    }
}

/// A read's hold on the feed's connection; lets the feed have it back when dropped.
pub(crate) struct ReadGuard<'a, B: sqlx::Database> {
    guard: MutexGuard<'a, Option<Box<dyn FeedConnection<B>>>>,
    feed: &'a FeedSlot<B>,
}

impl<B: sqlx::Database> ReadGuard<'_, B> {
    /// The connection to read on.
    pub(crate) async fn connection(&mut self) -> Result<&mut B::Connection, sqlx::Error> {
        match self.guard.as_mut() {
            Some(conn) => conn.connection().await,
            None => Err(sqlx::Error::PoolClosed),
        }
    }
}

impl<B: sqlx::Database> Drop for ReadGuard<'_, B> {
    fn drop(&mut self) {
        if self.feed.wanted.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.feed.idle.notify_waiters();
        }
    }
}

impl<B: sqlx::Database> FeedSlot<B> {
    /// The feed's connection for a read, when a feed holds one; `None`: read on the pool.
    pub(crate) async fn for_read(&self) -> Option<ReadGuard<'_, B>> {
        if !self.active.load(Ordering::Acquire) {
            return None;
        }
        self.wanted.fetch_add(1, Ordering::AcqRel);
        self.wake.notify_one();
        let guard = self.slot.lock().await;
        let read = ReadGuard { guard, feed: self };
        if read.guard.is_some() {
            Some(read)
        } else {
            None
        }
    }

    /// Puts `conn` in the slot, in place of the connection it held (closed first, so that a
    /// one-connection pool can open the new one).
    pub(crate) async fn install<E>(
        &self,
        open: impl Future<Output = Result<Box<dyn FeedConnection<B>>, E>>,
    ) -> Result<(), E> {
        let mut slot = self.slot.lock().await;
        *slot = None;
        let conn = open.await?;
        *slot = Some(conn);
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.active.store(true, Ordering::Release);
        Ok(())
    }

    /// The feed is gone: reads go back to the pool, and the connection is closed (once the
    /// read holding it, if any, is done; unless a new feed has installed its own by then).
    pub(crate) fn release(self: &Arc<Self>) {
        self.active.store(false, Ordering::Release);
        let generation = self.generation.load(Ordering::Acquire);
        if let Ok(mut slot) = self.slot.try_lock() {
            *slot = None;
            return;
        }
        let feed = Arc::clone(self);
        tokio::spawn(async move {
            let mut slot = feed.slot.lock().await;
            if feed.generation.load(Ordering::Acquire) == generation {
                *slot = None;
            }
        });
    }

    /// Waits for the next notification, letting go of the connection whenever a read asks
    /// for it.
    pub(crate) async fn next(&self) -> Wake {
        loop {
            let mut slot = self.slot.lock().await;
            let Some(conn) = slot.as_mut() else {
                return Wake::Lost("the change feed's connection is closed".to_owned());
            };
            tokio::select! {
                biased;
                () = self.wake.notified() => {}
                wake = conn.next() => return wake,
            }
            drop(slot);
            self.wait_for_reads().await;
        }
    }

    /// Runs `f` on the connection (the feed's keepalive check); `Err` if there is none.
    pub(crate) async fn with_connection<T>(
        &self,
        f: impl for<'c> FnOnce(&'c mut B::Connection) -> BoxFuture<'c, Result<T, sqlx::Error>>,
    ) -> Result<T, String> {
        let mut slot = self.slot.lock().await;
        let conn = slot
            .as_mut()
            .ok_or_else(|| "the change feed's connection is closed".to_owned())?;
        let conn = conn.connection().await.map_err(|e| e.to_string())?;
        f(conn).await.map_err(|e| e.to_string())
    }

    async fn wait_for_reads(&self) {
        loop {
            let idle = self.idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            if self.wanted.load(Ordering::Acquire) == 0 {
                return;
            }
            idle.await;
        }
    }
}
