//! The PostgreSQL change feed: a task that listens on [`NOTIFY_CHANNEL`] and hands out a
//! notice after each notification.
//!
//! The migration installs a statement-level trigger on the state tables that sends
//! `NOTIFY maintenance_changes`. A store implements [`Listen`] with its driver's calls
//! (connect and `LISTEN`, wait for the next notification, check the connection), and
//! [`subscribe`] does the rest: the first connection, then a task that forwards notifications
//! until the receiver is dropped, reconnecting with backoff after the connection is lost, and
//! sending one notice after each (re)connection, since changes may have been missed meanwhile.

use std::fmt::Display;
use std::future::Future;
use std::time::{Duration, Instant};

use maintenance_core::store::ChangeFeed;
use tokio::sync::mpsc;

/// The channel the migration's trigger notifies after every change to the state tables.
pub const NOTIFY_CHANNEL: &str = "maintenance_changes";

/// The statement that subscribes a connection to [`NOTIFY_CHANNEL`].
pub const LISTEN: &str = "LISTEN maintenance_changes";

/// The `application_name` of the feed's connection, so that an operator (and a test) can tell
/// it in `pg_stat_activity`: on PostgreSQL it is also the connection the store reads on.
pub const FEED_APPLICATION_NAME: &str = "maintenance change feed";

/// The statement that names a connection [`FEED_APPLICATION_NAME`].
pub const NAME_FEED: &str = "SET application_name = 'maintenance change feed'";

/// The first wait before reconnecting; it doubles up to [`MAX_BACKOFF`].
pub const MIN_BACKOFF: Duration = Duration::from_millis(250);
/// The longest wait between two reconnection attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A connection that lasted this long resets the backoff.
const STABLE_CONNECTION: Duration = Duration::from_secs(60);
/// After this long without a notification the feed checks that its connection still answers,
/// so that a connection lost without a word (a dead peer) is noticed and replaced.
const KEEPALIVE: Duration = Duration::from_secs(30);
/// How long that check may take before the connection counts as lost.
const PING_TIMEOUT: Duration = Duration::from_secs(10);

/// What a listening connection reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wake {
    /// A notification arrived.
    Notice,
    /// The driver lost the connection and reconnects on its own at the next wait (sqlx's
    /// `PgListener` does): changes may have been missed, so a notice is sent.
    Reconnecting,
    /// The connection is lost, for the reason given: the feed makes a new one.
    Lost(String),
}

/// A driver's side of the change feed: its calls on a connection of its own.
pub trait Listen: Send + Sync + 'static {
    /// A connection that listens on [`NOTIFY_CHANNEL`].
    type Connection: Send + 'static;
    /// What connecting fails with.
    type Error: Display + Send;

    /// Opens a connection (not one the store's pool hands out for queries) and runs
    /// [`LISTEN`] on it.
    fn listen(&self) -> impl Future<Output = Result<Self::Connection, Self::Error>> + Send;

    /// Waits for the next notification. Dropping the future must lose none: the feed races it
    /// against the receiver being dropped and the keepalive timer.
    fn next(&self, conn: &mut Self::Connection) -> impl Future<Output = Wake> + Send;

    /// Checks that the connection still answers (a `SELECT 1`); an error says why not.
    fn ping(&self, conn: &mut Self::Connection) -> impl Future<Output = Result<(), String>> + Send;
}

/// Listens with `listener` and hands the notices to a task that keeps listening.
///
/// The first connection is made here, so a database that cannot be reached is an error the
/// caller sees (a handle then polls, and asks again later).
pub async fn subscribe<L: Listen>(listener: L) -> Result<ChangeFeed, L::Error> {
    let conn = listener.listen().await?;
    let (tx, rx) = mpsc::channel(1);
    // Changes made before LISTEN took effect are not announced: say "read again" once.
    notify(&tx);
    tokio::spawn(forward(listener, conn, tx));
    Ok(rx)
}

/// Sends a notice unless one is already waiting; `false` once the receiver is gone.
fn notify(tx: &mpsc::Sender<()>) -> bool {
    !matches!(tx.try_send(()), Err(mpsc::error::TrySendError::Closed(())))
}

/// Forwards notifications until the receiver is dropped, reconnecting (with jittered backoff)
/// after the connection is lost, and sending one notice after each reconnection.
async fn forward<L: Listen>(listener: L, mut conn: L::Connection, tx: mpsc::Sender<()>) {
    let mut backoff = MIN_BACKOFF;
    loop {
        let connected_at = Instant::now();
        let lost = loop {
            let wake = tokio::select! {
                () = tx.closed() => return,
                wake = listener.next(&mut conn) => Some(wake),
                () = tokio::time::sleep(KEEPALIVE) => None,
            };
            match wake {
                Some(Wake::Notice) => {}
                Some(Wake::Reconnecting) => tracing::debug!(
                    channel = NOTIFY_CHANNEL,
                    "maintenance change feed lost its connection; the listener reconnects"
                ),
                Some(Wake::Lost(e)) => break e,
                None => {
                    let ping = tokio::select! {
                        () = tx.closed() => return,
                        ping = tokio::time::timeout(PING_TIMEOUT, listener.ping(&mut conn)) => ping,
                    };
                    match ping {
                        Ok(Ok(())) => continue,
                        Ok(Err(e)) => break e,
                        Err(_) => break format!("no answer within {PING_TIMEOUT:?}"),
                    }
                }
            }
            if !notify(&tx) {
                return;
            }
        };
        tracing::warn!(channel = NOTIFY_CHANNEL, error = %lost,
            "maintenance change feed lost its connection; reconnecting");
        drop(conn);
        // A connection that failed soon after it was made keeps the backoff growing.
        if connected_at.elapsed() >= STABLE_CONNECTION {
            backoff = MIN_BACKOFF;
        }
        conn = loop {
            // Jittered, so that servers that lost the database together do not all come
            // back in the same instant.
            tokio::select! {
                () = tx.closed() => return,
                () = tokio::time::sleep(crate::startup::jittered(backoff)) => {}
            }
            backoff = next_backoff(backoff);
            let attempt = tokio::select! {
                () = tx.closed() => return,
                attempt = listener.listen() => attempt,
            };
            match attempt {
                Ok(conn) => break conn,
                Err(e) => {
                    tracing::debug!(channel = NOTIFY_CHANNEL, error = %e, retry_in = ?backoff,
                    "could not reconnect the maintenance change feed")
                }
            }
        };
        tracing::info!(
            channel = NOTIFY_CHANNEL,
            "maintenance change feed reconnected"
        );
        if !notify(&tx) {
            return;
        }
    }
}

/// The wait after `backoff`: twice as long, up to [`MAX_BACKOFF`].
fn next_backoff(backoff: Duration) -> Duration {
    (backoff * 2).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A connection attempt: `Err` fails it, `Ok` lists what its waits return.
    type Attempt = Result<Vec<Wake>, String>;

    /// A scripted driver: each connection replays the wakes given for it, then waits forever.
    #[derive(Clone, Default)]
    struct Script {
        /// Per connection attempt: `Err` fails it, `Ok` lists what its waits return.
        attempts: Arc<Mutex<VecDeque<Attempt>>>,
        connects: Arc<Mutex<Vec<tokio::time::Instant>>>,
    }

    impl Script {
        fn new(attempts: Vec<Attempt>) -> Self {
            Script {
                attempts: Arc::new(Mutex::new(attempts.into())),
                connects: Arc::default(),
            }
        }
    }

    impl Listen for Script {
        type Connection = VecDeque<Wake>;
        type Error = String;

        async fn listen(&self) -> Result<VecDeque<Wake>, String> {
            self.connects
                .lock()
                .unwrap()
                .push(tokio::time::Instant::now());
            let next = self.attempts.lock().unwrap().pop_front();
            match next {
                Some(Ok(wakes)) => Ok(wakes.into()),
                Some(Err(e)) => Err(e),
                None => Err("no more connections".to_owned()),
            }
        }

        async fn next(&self, conn: &mut VecDeque<Wake>) -> Wake {
            match conn.pop_front() {
                Some(wake) => wake,
                None => std::future::pending().await,
            }
        }

        async fn ping(&self, _: &mut VecDeque<Wake>) -> Result<(), String> {
            Ok(())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn notices_follow_notifications_and_reconnections_with_backoff() {
        let script = Script::new(vec![
            Ok(vec![Wake::Notice, Wake::Lost("gone".to_owned())]),
            Err("refused".to_owned()),
            Err("refused".to_owned()),
            Ok(vec![Wake::Reconnecting]),
        ]);
        let mut feed = subscribe(script.clone()).await.unwrap();
        // A notice after LISTEN, after the notification, after each reconnection: the feed
        // keeps handing them out until the last connection is made.
        while script.connects.lock().unwrap().len() < 4 {
            feed.recv().await.unwrap();
        }
        let connects = script.connects.lock().unwrap().clone();
        assert_eq!(connects.len(), 4);
        let waits: Vec<_> = connects.windows(2).map(|w| w[1] - w[0]).collect();
        // Each wait doubles, scaled by a jitter in [0.5, 1.0).
        for (wait, base) in waits
            .iter()
            .zip([MIN_BACKOFF, MIN_BACKOFF * 2, MIN_BACKOFF * 4])
        {
            assert!(*wait >= base / 2 && *wait < base, "{waits:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_unreachable_database_is_an_error_and_the_task_ends_with_the_receiver() {
        let failing = Script::new(vec![Err("refused".to_owned())]);
        assert_eq!(subscribe(failing).await.err().unwrap(), "refused");

        let script = Script::new(vec![Ok(vec![])]);
        let feed = subscribe(script.clone()).await.unwrap();
        drop(feed);
        tokio::time::sleep(Duration::from_secs(1)).await;
        // The task is gone: it held the last other reference to the script.
        assert_eq!(Arc::strong_count(&script.attempts), 1);
    }

    #[test]
    fn backoff_doubles_up_to_its_maximum() {
        assert_eq!(next_backoff(MIN_BACKOFF), Duration::from_millis(500));
        assert_eq!(next_backoff(Duration::from_secs(20)), MAX_BACKOFF);
        assert_eq!(next_backoff(MAX_BACKOFF), MAX_BACKOFF);
    }
}
