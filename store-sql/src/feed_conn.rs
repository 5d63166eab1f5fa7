//! One connection that both listens and reads: while PostgreSQL's change feed holds its
//! connection (its `LISTEN`), the store's reads run on it too, so that a server costs its
//! database one connection rather than two.
//!
//! The feed waits for notifications holding the connection's lock; a read asks for the
//! connection ([`FeedSlot::for_read`]), the feed lets go, the read runs, and the feed takes it
//! back. Notifications that arrive meanwhile wait in the connection and are handed out next.
//! Without a feed (SQLite, MariaDB, or before the first subscription) reads use the pool.

use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use maintenance_core::StoreError;
use maintenance_core::store::ChangeFeed;
use tokio::sync::{Mutex, MutexGuard, Notify};

use crate::change_feed::{self, Listen, Wake};

/// A future a connection hands out, boxed so that the slot's futures stay `Send` whatever
/// the connection type.
pub type ConnFuture<'c, T> = Pin<Box<dyn Future<Output = T> + Send + 'c>>;

/// A connection the change feed listens on.
pub trait Listening: Send + 'static {
    /// Waits for the next notification. Dropping the future must lose none.
    fn next(&mut self) -> ConnFuture<'_, Wake>;

    /// Checks that the connection still answers (a `SELECT 1`); an error says why not.
    fn ping(&mut self) -> ConnFuture<'_, Result<(), String>>;
}

/// How a store opens its feed's connection: connected, listening, named.
pub trait OpenFeed: Send + Sync + 'static {
    /// The connection it opens.
    type Conn: Listening;
    /// What opening fails with.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Opens a connection (not one the store's pool keeps for its queries) and runs
    /// [`LISTEN`](crate::change_feed::LISTEN) on it.
    fn open(&self) -> impl Future<Output = Result<Self::Conn, Self::Error>> + Send;
}

/// The change feed of a store whose reads borrow the feed's connection: [`Listen`] over an
/// [`OpenFeed`], each connection kept in the store's [`FeedSlot`].
pub struct SlotFeed<O: OpenFeed> {
    open: O,
    feed: Arc<FeedSlot<O::Conn>>,
}

impl<O: OpenFeed> SlotFeed<O> {
    /// The feed `open` makes connections for, kept in `feed`.
    pub fn new(open: O, feed: Arc<FeedSlot<O::Conn>>) -> Self {
        SlotFeed { open, feed }
    }

    /// Starts the change feed ([`change_feed::subscribe`]) on the connections `open` makes,
    /// kept in `feed` for the store's reads: what a store's
    /// [`Engine::change_feed`](crate::engine::Engine::change_feed) answers.
    pub async fn subscribe(
        open: O,
        feed: &Arc<FeedSlot<O::Conn>>,
    ) -> Result<Option<ChangeFeed>, StoreError> {
        change_feed::subscribe(SlotFeed::new(open, Arc::clone(feed)))
            .await
            .map(Some)
            .map_err(StoreError::backend)
    }
}

/// A feed's hold on its slot: when the feed ends, the store's reads go back to its pool.
pub struct FeedToken<C: Listening>(Arc<FeedSlot<C>>);

impl<C: Listening> Drop for FeedToken<C> {
    fn drop(&mut self) {
        self.0.release();
    }
}

impl<O: OpenFeed> Listen for SlotFeed<O> {
    type Connection = FeedToken<O::Conn>;
    type Error = O::Error;

    async fn listen(&self) -> Result<FeedToken<O::Conn>, O::Error> {
        self.feed.install(self.open.open()).await?;
        Ok(FeedToken(Arc::clone(&self.feed)))
    }

    async fn next(&self, token: &mut FeedToken<O::Conn>) -> Wake {
        token.0.next().await
    }

    async fn ping(&self, token: &mut FeedToken<O::Conn>) -> Result<(), String> {
        match token.0.with(Listening::ping).await {
            Some(result) => result,
            None => Err("the change feed's connection is closed".to_owned()),
        }
    }
}

/// The change feed's connection, shared with the reads of the store it belongs to.
pub struct FeedSlot<C> {
    slot: Mutex<Option<C>>,
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

impl<C> Default for FeedSlot<C> {
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

impl<C> std::fmt::Debug for FeedSlot<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeedSlot")
            .field("active", &self.active.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// A read's hold on the feed's connection; lets the feed have it back when dropped.
pub struct ReadGuard<'a, C> {
    slot: MutexGuard<'a, Option<C>>,
    feed: &'a FeedSlot<C>,
}

// The connection is always there: [`FeedSlot::for_read`] hands out a guard only when the slot
// holds one, and nothing else can change the slot while the guard holds its lock.
const HELD: &str = "a read guard holds the slot's lock, and the slot was full when it was made";

impl<C> Deref for ReadGuard<'_, C> {
    type Target = C;

    fn deref(&self) -> &C {
        match self.slot.as_ref() {
            Some(conn) => conn,
            None => unreachable!("{HELD}"),
        }
    }
}

impl<C> DerefMut for ReadGuard<'_, C> {
    fn deref_mut(&mut self) -> &mut C {
        match self.slot.as_mut() {
            Some(conn) => conn,
            None => unreachable!("{HELD}"),
        }
    }
}

impl<C> Drop for ReadGuard<'_, C> {
    fn drop(&mut self) {
        self.feed.done_waiting();
    }
}

impl<C: Listening> FeedSlot<C> {
    /// The feed's connection for a read, when a feed holds one; `None`: read on the pool.
    pub async fn for_read(&self) -> Option<ReadGuard<'_, C>> {
        if !self.active.load(Ordering::Acquire) {
            return None;
        }
        self.wanted.fetch_add(1, Ordering::AcqRel);
        self.wake.notify_one();
        let slot = self.slot.lock().await;
        let read = ReadGuard { slot, feed: self };
        // Dropped at once (and the feed told) when the feed is gone meanwhile.
        read.slot.is_some().then_some(read)
    }

    /// Puts the connection `open` makes in the slot, in place of the one it held (closed
    /// first, so that a one-connection pool can open the new one).
    pub async fn install<E>(&self, open: impl Future<Output = Result<C, E>>) -> Result<(), E> {
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
    pub fn release(self: &Arc<Self>) {
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
    pub async fn next(&self) -> Wake {
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

    /// Runs `f` on the connection (the feed's keepalive check); `None` if there is none.
    pub async fn with<T>(
        &self,
        f: impl for<'c> FnOnce(&'c mut C) -> ConnFuture<'c, T>,
    ) -> Option<T> {
        let mut slot = self.slot.lock().await;
        let conn = slot.as_mut()?;
        Some(f(conn).await)
    }
}

impl<C> FeedSlot<C> {
    fn done_waiting(&self) {
        if self.wanted.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.idle.notify_waiters();
        }
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::Duration;

    use super::*;

    /// A connection whose notifications the test sends.
    struct Fake(tokio::sync::mpsc::UnboundedReceiver<()>, u32);

    impl Listening for Fake {
        fn next(&mut self) -> ConnFuture<'_, Wake> {
            Box::pin(async move {
                match self.0.recv().await {
                    Some(()) => Wake::Notice,
                    None => Wake::Lost("closed".to_owned()),
                }
            })
        }

        fn ping(&mut self) -> ConnFuture<'_, Result<(), String>> {
            Box::pin(async { Ok(()) })
        }
    }

    #[tokio::test]
    async fn reads_borrow_the_feeds_connection_and_notices_still_arrive() {
        let feed = Arc::new(FeedSlot::<Fake>::default());
        assert!(feed.for_read().await.is_none(), "no feed: the pool");
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        feed.install(async { Ok::<_, ()>(Fake(rx, 0)) })
            .await
            .unwrap();

        let waiting = tokio::spawn({
            let feed = Arc::clone(&feed);
            async move { feed.next().await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        // The feed holds the connection while it waits; a read gets it all the same.
        for n in 1..=3 {
            let mut read = tokio::time::timeout(Duration::from_secs(5), feed.for_read())
                .await
                .expect("the feed lets go")
                .expect("the feed's connection");
            read.1 += 1;
            assert_eq!(read.1, n);
        }
        tx.send(()).unwrap();
        let wake = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("the feed takes it back")
            .unwrap();
        assert_eq!(wake, Wake::Notice);

        feed.release();
        assert!(feed.for_read().await.is_none(), "released: the pool again");
    }
}
