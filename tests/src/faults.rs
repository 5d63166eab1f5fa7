//! Fault injection for the fault suite (`tests/faults.rs`): a TCP proxy between a server and
//! its database that cuts and refuses connections on demand, and a capture of what the
//! maintenance crates log, to count the lines an outage writes.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What the proxy does with connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Accepts and forwards them.
    Forward,
    /// Accepts and closes them at once, as a server shutting down does.
    Refuse,
    /// Does not listen: connecting is refused, as with no server at all.
    Closed,
}

/// A TCP proxy on 127.0.0.1 to one upstream address, with switches: [`TcpProxy::cut`] closes
/// every open connection, [`TcpProxy::refuse`] closes new ones at once,
/// [`TcpProxy::stop_listening`] makes connecting fail, and [`TcpProxy::restore`] forwards again.
///
/// Dropping the proxy closes everything it holds.
#[derive(Debug)]
pub struct TcpProxy {
    addr: SocketAddr,
    mode: watch::Sender<Mode>,
    /// Bumped by every cut; each forwarded connection closes when it changes.
    cuts: Arc<watch::Sender<u64>>,
    forwarded: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.task.abort();
        self.cut();
    }
}

impl TcpProxy {
    /// Starts a proxy to `upstream` on a free port of 127.0.0.1, forwarding.
    pub async fn start(upstream: SocketAddr) -> io::Result<TcpProxy> {
        let listener = listen(SocketAddr::from(([127, 0, 0, 1], 0)))?;
        let addr = listener.local_addr()?;
        Ok(TcpProxy::run(addr, Some(listener), upstream, Mode::Forward))
    }

    /// Starts a proxy to `upstream` whose port refuses connections (nothing listens on it)
    /// until [`TcpProxy::restore`]: a database that is down.
    pub async fn start_down(upstream: SocketAddr) -> io::Result<TcpProxy> {
        let addr = listen(SocketAddr::from(([127, 0, 0, 1], 0)))?.local_addr()?;
        Ok(TcpProxy::run(addr, None, upstream, Mode::Closed))
    }

    fn run(
        addr: SocketAddr,
        listener: Option<TcpListener>,
        upstream: SocketAddr,
        mode: Mode,
    ) -> TcpProxy {
        let (mode_tx, mode_rx) = watch::channel(mode);
        let cuts = Arc::new(watch::channel(0).0);
        let forwarded = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn(accept_loop(
            addr,
            listener,
            upstream,
            mode_rx,
            Arc::clone(&cuts),
            Arc::clone(&forwarded),
        ));
        TcpProxy {
            addr,
            mode: mode_tx,
            cuts,
            forwarded,
            task,
        }
    }

    /// Where the proxy listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `url` (`scheme://user:password@host:port/db?query`) pointed at the proxy instead.
    pub fn url(&self, url: &str) -> String {
        replace_authority(url, self.addr)
    }

    /// Closes every open connection (new ones are still forwarded unless refused too).
    pub fn cut(&self) {
        self.cuts.send_modify(|n| *n += 1);
    }

    /// New connections are accepted and closed at once.
    pub fn refuse(&self) {
        self.mode.send_replace(Mode::Refuse);
    }

    /// The proxy stops listening: connecting is refused by the system.
    pub fn stop_listening(&self) {
        self.mode.send_replace(Mode::Closed);
    }

    /// Forwards new connections again (listening again if it had stopped).
    pub fn restore(&self) {
        self.mode.send_replace(Mode::Forward);
    }

    /// How many connections were forwarded so far.
    pub fn forwarded(&self) -> u64 {
        self.forwarded.load(Ordering::Relaxed)
    }
}

/// Listens on `addr`, reusing it at once (the proxy listens again on the port it left).
fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

async fn accept_loop(
    addr: SocketAddr,
    mut listener: Option<TcpListener>,
    upstream: SocketAddr,
    mut mode: watch::Receiver<Mode>,
    cuts: Arc<watch::Sender<u64>>,
    forwarded: Arc<AtomicU64>,
) {
    loop {
        if *mode.borrow_and_update() == Mode::Closed {
            // Closing the listening socket is what makes connecting fail.
            listener = None;
            if mode.changed().await.is_err() {
                return;
            }
            continue;
        }
        if listener.is_none() {
            match listen(addr) {
                Ok(l) => listener = Some(l),
                Err(e) => {
                    eprintln!("proxy: cannot listen on {addr} again: {e}; retrying");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            }
        }
        let Some(l) = listener.as_ref() else {
            continue;
        };
        tokio::select! {
            changed = mode.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            accepted = l.accept() => {
                let Ok((client, _)) = accepted else {
                    continue;
                };
                // Watch for cuts before looking at the mode: a refuse-then-cut that comes
                // after this point reaches this connection.
                let cut = cuts.subscribe();
                if *mode.borrow() != Mode::Forward {
                    drop(client);
                    continue;
                }
                forwarded.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(pipe(client, upstream, cut));
            }
        }
    }
}

/// Copies both ways between `client` and a new connection to `upstream` until either side
/// closes or a cut comes; dropping both streams closes them.
async fn pipe(client: TcpStream, upstream: SocketAddr, mut cut: watch::Receiver<u64>) {
    let copy = async move {
        let mut client = client;
        let Ok(mut server) = TcpStream::connect(upstream).await else {
            return;
        };
        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
    };
    tokio::select! {
        _ = cut.changed() => {}
        () = copy => {}
    }
}

/// `url` with its host and port replaced by `addr` (user, password, path and query kept).
pub fn replace_authority(url: &str, addr: SocketAddr) -> String {
    let start = url.find("://").map_or(0, |i| i + 3);
    let end = url[start..]
        .find(['/', '?'])
        .map_or(url.len(), |i| start + i);
    let host_start = url[start..end].rfind('@').map_or(start, |i| start + i + 1);
    format!("{}{addr}{}", &url[..host_start], &url[end..])
}

/// The address `url`'s host and port name (the default port of its scheme when it has none).
pub async fn upstream_of(url: &str) -> io::Result<SocketAddr> {
    let start = url.find("://").map_or(0, |i| i + 3);
    let end = url[start..]
        .find(['/', '?'])
        .map_or(url.len(), |i| start + i);
    let authority = &url[start..end];
    let host_port = authority.rsplit('@').next().unwrap_or(authority);
    let with_port = if host_port.contains(':') {
        host_port.to_owned()
    } else if url.starts_with("postgres") {
        format!("{host_port}:5432")
    } else {
        format!("{host_port}:3306")
    };
    let found = tokio::net::lookup_host(with_port.as_str())
        .await?
        .find(SocketAddr::is_ipv4);
    found.ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, with_port))
}

/// One line the maintenance crates logged.
#[derive(Debug, Clone)]
pub struct LogLine {
    /// Its level.
    pub level: tracing::Level,
    /// Its target (the module that logged it).
    pub target: String,
    /// Its message.
    pub message: String,
    /// Its other fields, as `name=value` pairs.
    pub fields: String,
}

impl LogLine {
    /// Whether it is a warning or an error: what an operator is paged or alerted for.
    pub fn is_problem(&self) -> bool {
        self.level <= tracing::Level::WARN
    }
}

impl std::fmt::Display for LogLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {} {}",
            self.level, self.target, self.message, self.fields
        )
    }
}

/// What the maintenance crates (targets `maintenance*`) log on the current thread, at every
/// level. A test on a current-thread runtime (`#[tokio::test]`'s default) runs every task it
/// spawns on its thread, so this sees its server's logs and no other test's.
#[derive(Debug, Clone, Default)]
pub struct LogCapture {
    lines: Arc<Mutex<Vec<LogLine>>>,
}

impl LogCapture {
    /// Starts capturing on this thread until the guard is dropped. Each line is also printed
    /// (libtest shows the output of a test that fails).
    pub fn install() -> (LogCapture, tracing::subscriber::DefaultGuard) {
        use tracing_subscriber::layer::SubscriberExt;
        // Whether a log statement is on is cached for all threads, from the subscribers alive
        // when it is first reached: a test on another thread, with no subscriber, could turn
        // statements off for this one. A global subscriber that records nothing but has every
        // statement ask at each event prevents that.
        static GLOBAL: std::sync::Once = std::sync::Once::new();
        GLOBAL.call_once(|| {
            let _ = tracing::subscriber::set_global_default(maintenance_core::testkit::AskEachTime);
        });
        let capture = LogCapture::default();
        let guard =
            tracing::subscriber::set_default(tracing_subscriber::registry().with(capture.clone()));
        (capture, guard)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<LogLine>> {
        self.lines
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How many lines were captured so far: a mark for [`LogCapture::since`].
    pub fn mark(&self) -> usize {
        self.lock().len()
    }

    /// The lines captured since `mark`.
    pub fn since(&self, mark: usize) -> Vec<LogLine> {
        self.lock()
            .get(mark..)
            .map(<[_]>::to_vec)
            .unwrap_or_default()
    }

    /// How many lines since `mark` contain `text` in their message.
    pub fn count_since(&self, mark: usize, text: &str) -> usize {
        self.since(mark)
            .iter()
            .filter(|l| l.message.contains(text))
            .count()
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for LogCapture {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let meta = event.metadata();
        if !meta.target().starts_with("maintenance") {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let line = LogLine {
            level: *meta.level(),
            target: meta.target().to_owned(),
            message: fields.message,
            fields: fields.rest,
        };
        eprintln!("log: {line}");
        self.lock().push(line);
    }
}

#[derive(Default)]
struct Fields {
    message: String,
    rest: String,
}

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        } else {
            self.rest.push_str(&format!("{}={value:?} ", field.name()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authority_is_replaced() {
        let addr = SocketAddr::from(([127, 0, 0, 1], 4000));
        assert_eq!(
            replace_authority("postgres://u:p@db:5432/ci?sslmode=disable", addr),
            "postgres://u:p@127.0.0.1:4000/ci?sslmode=disable"
        );
        assert_eq!(
            replace_authority("mysql://root@127.0.0.1:3306/x", addr),
            "mysql://root@127.0.0.1:4000/x"
        );
        assert_eq!(
            replace_authority("postgres://db/x", addr),
            "postgres://127.0.0.1:4000/x"
        );
    }

    #[tokio::test]
    async fn proxy_forwards_cuts_refuses_and_restores() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        // An echo server upstream.
        let upstream = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let upstream_addr = upstream.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((mut s, _)) = upstream.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = s.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        let proxy = TcpProxy::start(upstream_addr).await.expect("proxy");
        let echo = |mut s: TcpStream| async move {
            s.write_all(b"ping").await?;
            let mut buf = [0; 4];
            s.read_exact(&mut buf).await?;
            Ok::<_, io::Error>((s, buf))
        };

        let s = TcpStream::connect(proxy.addr()).await.expect("connect");
        let (mut s, got) = echo(s).await.expect("echo");
        assert_eq!(&got, b"ping");
        proxy.cut();
        let mut buf = [0; 1];
        assert_eq!(s.read(&mut buf).await.unwrap_or(0), 0, "cut closes it");

        proxy.refuse();
        let s = TcpStream::connect(proxy.addr()).await.expect("accepted");
        assert!(echo(s).await.is_err(), "refused connections close at once");

        proxy.stop_listening();
        let mut refused = false;
        for _ in 0..100 {
            if TcpStream::connect(proxy.addr()).await.is_err() {
                refused = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(refused, "nothing listens");

        proxy.restore();
        let mut back = false;
        for _ in 0..100 {
            if let Ok(s) = TcpStream::connect(proxy.addr()).await
                && echo(s).await.is_ok()
            {
                back = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(back, "forwards again");
        assert!(proxy.forwarded() >= 2);
    }
}
