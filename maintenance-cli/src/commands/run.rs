//! `run -- CMD`: maintenance around a command (a migration, a deployment step).
//!
//! The chosen sites go into maintenance with the options of `on`, CMD runs with this process's
//! stdin, stdout and stderr, and then:
//! - CMD exits 0: each site gets back exactly the state it had before (recorded in the audit
//!   log like any change);
//! - CMD fails: maintenance stays on, a `run.failed` event names the command and its exit
//!   code, and `run` exits with that code;
//! - `run` gets SIGINT or SIGTERM: the signal goes on to CMD, `run` waits for it, maintenance
//!   stays on (`run.failed` again) and `run` exits with 128 + the signal's number;
//! - CMD cannot be started: nothing is changed, and `run` exits 1.
//!
//! `run` writes its own lines to stderr, so that CMD's stdout stays CMD's.

use std::path::{Path, PathBuf};
use std::process::ExitStatus;

use chrono::{DateTime, Utc};
use maintenance_core::{AuditAction, MaintenanceStore, SiteRef, SiteState, StateChange};
use nix::sys::signal::Signal;
use tokio::signal::unix::{SignalKind, signal};

use super::state::{on_change, set_states};
use super::{load_sites, targets};
use crate::args::RunArgs;
use crate::error::CliError;

pub(super) async fn run_command(
    store: &dyn MaintenanceStore,
    args: &RunArgs,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<String, CliError> {
    let Some((program, program_args)) = args.command.split_first() else {
        return Err(CliError::Usage(
            "`run` needs a command after `--`, e.g. `maintenance run -- ./migrate.sh`".to_owned(),
        ));
    };
    let shown = shown_command(&args.command);
    let path = find_program(program).ok_or_else(|| {
        CliError::Failed(format!(
            "cannot run `{program}`: no such executable file{}; nothing was changed",
            if program.contains('/') {
                String::new()
            } else {
                " in PATH".to_owned()
            }
        ))
    })?;
    let change = on_change(&args.on, now)?;
    // The states to go back to, read before anything is written.
    let sites = load_sites(store).await?;
    let before: Vec<SiteState> = targets(&sites, &args.on.sites, args.on.all)?
        .into_iter()
        .cloned()
        .collect();
    // Handlers first, so that a signal between `on` and the spawn is not lost.
    let mut interrupt = signal(SignalKind::interrupt())
        .map_err(|e| CliError::Failed(format!("cannot handle SIGINT: {e}")))?;
    let mut terminate = signal(SignalKind::terminate())
        .map_err(|e| CliError::Failed(format!("cannot handle SIGTERM: {e}")))?;

    let lines = set_states(store, &args.on.sites, args.on.all, &change, actor, now).await?;
    eprint!("{lines}");
    let mut child = match tokio::process::Command::new(&path)
        .args(program_args)
        .kill_on_drop(false)
        .spawn()
    {
        Ok(child) => child,
        Err(e) => {
            restore(store, &before, actor).await?;
            return Err(CliError::Failed(format!(
                "cannot run `{shown}`: {e}; the sites are back as they were"
            )));
        }
    };

    let mut received: Option<Signal> = None;
    let status: ExitStatus = loop {
        tokio::select! {
            status = child.wait() => {
                break status.map_err(|e| CliError::Failed(format!(
                    "lost track of `{shown}`: {e}; maintenance stays on"
                )))?;
            }
            _ = interrupt.recv() => received = Some(forward(&child, Signal::SIGINT)),
            _ = terminate.recv() => received = Some(forward(&child, Signal::SIGTERM)),
        }
    };

    if let Some(sig) = received {
        let detail = format!(
            "`{shown}` was interrupted by {} ({}); maintenance stays on",
            sig.as_str(),
            describe(status)
        );
        record_failure(store, &before, &detail, actor).await;
        return Err(CliError::Command {
            code: 128 + sig as i32,
            message: detail,
        });
    }
    if !status.success() {
        let code = status.code().unwrap_or_else(|| 128 + signal_of(status));
        let detail = format!(
            "`{shown}` failed ({}); maintenance stays on",
            describe(status)
        );
        record_failure(store, &before, &detail, actor).await;
        return Err(CliError::Command {
            code,
            message: detail,
        });
    }
    let lines = restore(store, &before, actor).await?;
    eprint!("{lines}");
    Ok(String::new())
}

/// The command as the audit log and the messages show it.
fn shown_command(command: &[String]) -> String {
    let text = command.join(" ");
    let mut shown: String = text.chars().take(200).collect();
    if shown.len() < text.len() {
        shown.push('…');
    }
    shown
}

/// The executable `program` names: a path (with a `/`), or a file found in `PATH`.
fn find_program(program: &str) -> Option<PathBuf> {
    let executable = |path: &Path| {
        use std::os::unix::fs::PermissionsExt;
        path.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        let path = PathBuf::from(program);
        return executable(&path).then_some(path);
    }
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|dir| dir.join(program))
        .find(|candidate| executable(candidate))
}

/// Passes `sig` on to the child, if it still runs; returns it.
fn forward(child: &tokio::process::Child, sig: Signal) -> Signal {
    if let Some(pid) = child.id().and_then(|id| i32::try_from(id).ok())
        && let Err(e) = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig)
    {
        tracing::warn!(error = %e, signal = sig.as_str(), "could not pass the signal on to the command");
    }
    eprintln!(
        "maintenance run: got {}; passed it on to the command and waiting for it (maintenance stays on)",
        sig.as_str()
    );
    sig
}

fn signal_of(status: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status.signal().unwrap_or(0)
}

fn describe(status: ExitStatus) -> String {
    match status.code() {
        Some(code) => format!("exit code {code}"),
        None => match Signal::try_from(signal_of(status)) {
            Ok(sig) => format!("killed by {}", sig.as_str()),
            Err(_) => "killed by a signal".to_owned(),
        },
    }
}

/// Puts each site back as it was before `run`: the flag, mode, message, window, Retry-After
/// and scope.
async fn restore(
    store: &dyn MaintenanceStore,
    before: &[SiteState],
    actor: &str,
) -> Result<String, CliError> {
    let mut out = String::new();
    for site in before {
        let change = StateChange {
            enabled: Some(site.enabled),
            mode: Some(site.mode),
            message: Some(site.message.clone()),
            starts_at: Some(site.starts_at),
            ends_at: Some(site.ends_at),
            retry_after_secs: Some(site.retry_after_secs),
            scope: Some(site.scope.clone()),
        };
        let restored = store
            .set_state(&SiteRef::Domain(site.domain.clone()), &change, actor)
            .await?;
        out.push_str(&format!(
            "{} (as before `run`)\n",
            crate::report::state_line(&restored, Utc::now())
        ));
    }
    Ok(out)
}

/// Records that the command failed on each site; a site that cannot take the event is named
/// in the log, and the others still get theirs.
async fn record_failure(
    store: &dyn MaintenanceStore,
    sites: &[SiteState],
    detail: &str,
    actor: &str,
) {
    for site in sites {
        let at = SiteRef::Domain(site.domain.clone());
        if let Err(e) = store
            .record_event(&at, AuditAction::RunFailed, detail, actor)
            .await
        {
            eprintln!(
                "maintenance run: could not record the failure for {}: {}",
                site.domain,
                maintenance_core::ErrorChain(&e)
            );
        }
    }
}
