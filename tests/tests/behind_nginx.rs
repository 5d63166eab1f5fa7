//! Each test project behind a real nginx that appends the client's address to
//! `X-Forwarded-For`, as the README deploys it: whatever forwarding headers a public client
//! forges, it gets no address-based bypass, while an internal client still passes.
//!
//! nginx is started by the test (its own configuration, port and files in a temporary
//! directory), not as the system's service. Without nginx the test is skipped, unless `CI` is
//! set: then it fails.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use maintenance_core::StateChange;
use maintenance_tests::http::{RawRequest, Server, start_behind_proxy};
use reqwest::StatusCode;

/// A public client: not in the internal networks. nginx appends this address.
const PUBLIC: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 5));
/// An internal client (in `INTERNAL_IPS`), reaching the site through nginx too.
const INTERNAL: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));

/// The nginx binary: Debian's path, else the first `nginx` on `PATH`.
fn nginx_binary() -> Option<PathBuf> {
    let debian = PathBuf::from("/usr/sbin/nginx");
    if debian.is_file() {
        return Some(debian);
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join("nginx"))
        .find(|path| path.is_file())
}

/// A running nginx, stopped when dropped, whatever happens in the test.
struct Nginx {
    child: Child,
    addr: SocketAddr,
    dir: tempfile::TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The configuration: one server on `listen` proxying everything to `app`, with every file
/// nginx writes inside `dir`.
fn nginx_conf(dir: &Path, listen: SocketAddr, app: SocketAddr) -> String {
    let dir = dir.display();
    format!(
        r#"# One process, no workers: killing it (when the test ends) stops nginx entirely, and it
# keeps the rights of whoever started it (root in CI), so no `user` has to own the files.
master_process off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{
    worker_connections 64;
}}
http {{
    access_log off;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen {listen};
        location / {{
            proxy_pass http://{app};
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }}
    }}
}}
"#
    )
}

/// A port no one listens on now (nginx binds it a moment later; a start that loses the race
/// is retried on another port).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Nginx {
    /// Starts nginx in front of `app` and waits until it accepts connections.
    async fn start(binary: &Path, app: SocketAddr) -> Nginx {
        let mut last_error = String::new();
        for _ in 0..3 {
            let dir = tempfile::tempdir().expect("temp dir");
            let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
            let conf = dir.path().join("nginx.conf");
            std::fs::write(&conf, nginx_conf(dir.path(), addr, app)).expect("nginx.conf");
            let child = Command::new(binary)
                .arg("-p")
                .arg(dir.path())
                .arg("-c")
                .arg(&conf)
                // Also the log of the start-up, before the configuration is read (the
                // compiled-in path may not be writable).
                .arg("-e")
                .arg(dir.path().join("error.log"))
                .args(["-g", "daemon off;"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("start {}: {e}", binary.display()));
            let mut nginx = Nginx { child, addr, dir };
            if nginx.wait_until_accepting().await {
                return nginx;
            }
            last_error =
                std::fs::read_to_string(nginx.dir.path().join("error.log")).unwrap_or_default();
        }
        panic!("nginx did not start; its error log:\n{last_error}");
    }

    /// Waits (at most 10 s) until nginx accepts; `false` if it exited first.
    async fn wait_until_accepting(&mut self) -> bool {
        for _ in 0..400 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if tokio::net::TcpStream::connect(self.addr).await.is_ok() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        false
    }

    /// `GET /` through nginx from the client address `from`, with extra header lines.
    async fn get(&self, from: IpAddr, headers: &[(&str, &[u8])]) -> StatusCode {
        let mut req = RawRequest::get("/").header("Host", self.addr.to_string());
        for (name, value) in headers {
            req = req.header(name, value);
        }
        req.status(self.addr, Some(from)).await
    }
}

/// The forged forwarding headers a public client sends.
fn forged_headers() -> Vec<(&'static str, Vec<u8>)> {
    let mut forged: Vec<(&'static str, Vec<u8>)> = Vec::new();
    for text in [
        // The proxy's own address, and an internal client's.
        "127.0.0.1",
        "127.0.0.3",
        "é",
        "",
        ",",
        "garbage",
        "127.0.0.3, 127.0.0.1",
    ] {
        forged.push(("X-Forwarded-For", text.as_bytes().to_vec()));
    }
    for byte in 0x80..=0xffu8 {
        forged.push(("X-Forwarded-For", vec![byte]));
    }
    forged.push(("X-Real-IP", b"127.0.0.1".to_vec()));
    forged.push(("X-Real-IP", b"127.0.0.3".to_vec()));
    forged.push(("Forwarded", b"for=127.0.0.1".to_vec()));
    forged.push(("Forwarded", b"for=127.0.0.3".to_vec()));
    forged
}

async fn forged_headers_through_nginx_fail_closed(server: Server) {
    let Some(binary) = nginx_binary() else {
        let why = "nginx is not installed (install it with `apt-get install -y nginx`)";
        if std::env::var_os("CI").is_some() {
            panic!("{server:?} behind nginx: {why}; CI must run this test");
        }
        eprintln!("{server:?} behind nginx: skipped: {why}");
        return;
    };
    // nginx connects to the application from 127.0.0.1: the trusted proxy, itself inside
    // the internal networks, so that a client address falling back to the proxy's own would
    // show as a bypass.
    let site = start_behind_proxy(server, &["127.0.0.1", "127.0.0.3"]).await;
    let nginx = Nginx::start(&binary, site.addr).await;

    // The controls: with maintenance off the public client is served through nginx, and
    // once on, an internal client still is, whatever it writes before nginx's entry.
    assert_eq!(
        nginx.get(PUBLIC, &[]).await,
        StatusCode::OK,
        "maintenance off"
    );
    site.change(&StateChange::turn_on()).await;
    for _ in 0..400 {
        if nginx.get(PUBLIC, &[]).await == StatusCode::SERVICE_UNAVAILABLE {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(
        nginx.get(PUBLIC, &[]).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "the public client in maintenance"
    );
    assert_eq!(
        nginx.get(INTERNAL, &[]).await,
        StatusCode::OK,
        "the internal client"
    );
    assert_eq!(
        nginx
            .get(INTERNAL, &[("X-Forwarded-For", b"garbage")])
            .await,
        StatusCode::OK,
        "the internal client: nginx's entry decides, not what the client wrote before it"
    );

    for (name, value) in forged_headers() {
        assert_eq!(
            nginx.get(PUBLIC, &[(name, &value)]).await,
            StatusCode::SERVICE_UNAVAILABLE,
            "{server:?} behind nginx: public client with {name}: \"{}\"",
            value.escape_ascii()
        );
    }
    // The same forgery straight to the application, past nginx: the peer is not a trusted
    // proxy, so its headers are not read at all.
    assert_eq!(
        RawRequest::get("/")
            .header("Host", site.addr.to_string())
            .header("X-Forwarded-For", "127.0.0.3")
            .status(site.addr, Some(PUBLIC))
            .await,
        StatusCode::SERVICE_UNAVAILABLE,
        "public client straight to the application"
    );
}

maintenance_tests::multi_thread_tests! {
    axum_behind_nginx_forged_headers_fail_closed => forged_headers_through_nginx_fail_closed(Server::Axum);
    hyper_behind_nginx_forged_headers_fail_closed => forged_headers_through_nginx_fail_closed(Server::Hyper);
    actix_behind_nginx_forged_headers_fail_closed => forged_headers_through_nginx_fail_closed(Server::Actix);
    rocket_behind_nginx_forged_headers_fail_closed => forged_headers_through_nginx_fail_closed(Server::Rocket);
}
