//! The `maintenance` binary: parses the command line, runs the command, prints the result,
//! and exits 0 on success, 1 on a failure, 2 on bad usage.
#![forbid(unsafe_code)]

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use maintenance_cli::admin::{self, AdminAuth, AdminConfig, AdminSetupError};
use maintenance_cli::args::{AdminArgs, Command};
use maintenance_cli::report::escape_lines;
use maintenance_cli::{Cli, CliError, commands};
use maintenance_cli::{relay, watch};

/// Stderr for the log lines, with the control characters of what they quote (a domain read
/// from a row, a driver's error) escaped: the fmt layer writes each event in one call.
struct EscapingStderr;

impl Write for EscapingStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        std::io::stderr()
            .lock()
            .write_all(escape_lines(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("MAINTENANCE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(|| EscapingStderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async {
        match &cli.command {
            Command::Admin(args) => serve_admin(&cli, args).await.map(|()| String::new()),
            Command::Relay(args) => relay::serve(&cli.database_url, args, shutdown_signal())
                .await
                .map(|()| String::new()),
            Command::Watch(args) => watch::serve(&cli.database_url, args, shutdown_signal())
                .await
                .map(|()| String::new()),
            _ => commands::run(&cli).await,
        }
    });
    match result {
        Ok(out) => {
            // Stored text is escaped where it is printed; this is the last guard.
            let _ = std::io::stdout()
                .lock()
                .write_all(escape_lines(&out).as_bytes());
            ExitCode::SUCCESS
        }
        Err(e) => {
            // Each cause on a line of its own, once: `error: ...` then `  caused by: ...`.
            let text = format!("error: {:#}\n", maintenance_core::ErrorChain(&e));
            let _ = std::io::stderr()
                .lock()
                .write_all(escape_lines(&text).as_bytes());
            ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(1))
        }
    }
}

async fn serve_admin(cli: &Cli, args: &AdminArgs) -> Result<(), CliError> {
    let auth = AdminAuth::from_options(args.listen, args.token.as_deref(), args.insecure_no_auth)?;
    let public_origins = args.public_origins().map_err(AdminSetupError::from)?;
    let trusted_proxies = args.trusted_proxies()?;
    let store = commands::connect(&cli.database_url).await?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| CliError::Failed(format!("could not listen on {}: {e}", args.listen)))?;
    let addr = listener.local_addr().unwrap_or(args.listen);
    println!(
        "Admin page on http://{addr}/ for `{}`{} (Ctrl-C or SIGTERM stops it)",
        maintenance_sqlx::redact_url(&cli.database_url),
        match auth {
            AdminAuth::Open => " WITHOUT LOGIN (--insecure-no-auth)",
            AdminAuth::Token(_) => "",
        }
    );
    for origin in &public_origins {
        println!("Also answering as {origin}");
    }
    // The allowed hosts come from the bound address, so that `--listen 127.0.0.1:0` allows
    // the port actually chosen.
    for proxy in &trusted_proxies {
        println!("Reading the client address from X-Forwarded-For behind {proxy}");
    }
    let config = AdminConfig::new(auth, addr, public_origins).with_trusted_proxies(trusted_proxies);
    let shutdown = shutdown_signal();
    admin::serve(
        listener,
        admin::router(std::sync::Arc::new(store), config),
        shutdown,
    )
    .await
    .map_err(|e| CliError::Failed(format!("the admin server stopped: {e}")))
}

/// Resolves at Ctrl-C or SIGTERM. A handler that cannot be installed never fires; the other
/// one still stops the server.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
