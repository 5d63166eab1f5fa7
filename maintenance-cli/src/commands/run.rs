//! `run -- CMD`: maintenance around a command (a migration, a deployment step).
//!
//! The chosen sites go into maintenance with the options of `on`, CMD runs with this process's
//! stdin, stdout and stderr, and then:
//! - CMD exits 0: each site gets back exactly the state it had before (recorded in the audit
//!   log like any change), if it still holds the state `run` wrote: a site whose state another
//!   operator changed meanwhile is left as they set it, and `run` says so and records it
//!   (`run.kept`);
//! - CMD fails: maintenance stays on, a `run.failed` event names the command and its exit
//!   code, and `run` exits with that code;
//! - `run` gets SIGINT, SIGTERM or SIGHUP: the signal goes on to CMD, `run` waits for it,
//!   maintenance stays on (`run.failed` again) and `run` exits with 128 + the signal's number;
//! - CMD cannot be started: nothing is changed, and `run` exits 1.
//!
//! The command is shown and recorded with the credentials in its arguments masked: URLs'
//! passwords, `NAME=value` and `--name=value` whose name says it is a secret, and the value
//! after such an option.
//!
//! `run` writes its own lines to stderr, so that CMD's stdout stays CMD's; a stderr that is
//! gone (the terminal hung up) does not stop it from recording what happened.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;

use chrono::{DateTime, Utc};
use maintenance_core::store::GuardedWrite;
use maintenance_core::{AuditAction, MaintenanceStore, SiteRef, SiteState, StateChange};
use nix::sys::signal::Signal;
use tokio::signal::unix::{SignalKind, signal};

use super::state::{on_change, write_states};
use super::{load_sites, targets};
use crate::args::RunArgs;
use crate::error::CliError;
use crate::report;

/// The longest command line shown or recorded, in characters.
const MAX_SHOWN: usize = 200;

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
            "cannot run `{}`: no such executable file{}; nothing was changed",
            report::escape(&mask_words(program, false).0),
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
    let before: Vec<SiteState> = targets(&sites, &args.on.target)?
        .into_iter()
        .cloned()
        .collect();
    // Handlers first, so that a signal between `on` and the spawn is not lost.
    let handler = |kind: SignalKind, name: &str| {
        signal(kind).map_err(|e| CliError::Failed(format!("cannot handle {name}: {e}")))
    };
    let mut interrupt = handler(SignalKind::interrupt(), "SIGINT")?;
    let mut terminate = handler(SignalKind::terminate(), "SIGTERM")?;
    let mut hangup = handler(SignalKind::hangup(), "SIGHUP")?;

    let written = write_states(store, &args.on.target, &change, actor).await?;
    for site in &written {
        say(&format!("{}\n", report::state_line(site, now)));
    }
    let restore = Restore {
        store,
        before: &before,
        written: &written,
        shown: &shown,
        actor,
    };
    let mut child = match tokio::process::Command::new(&path)
        .args(program_args)
        .kill_on_drop(false)
        .spawn()
    {
        Ok(child) => child,
        Err(e) => {
            restore.run().await?;
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
            _ = hangup.recv() => received = Some(forward(&child, Signal::SIGHUP)),
        }
    };

    if let Some(sig) = received {
        let detail = format!(
            "`{shown}` was interrupted by {} ({}); maintenance stays on",
            sig.as_str(),
            describe(status)
        );
        record(store, &before, AuditAction::RunFailed, &detail, actor).await;
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
        record(store, &before, AuditAction::RunFailed, &detail, actor).await;
        return Err(CliError::Command {
            code,
            message: detail,
        });
    }
    restore.run().await?;
    Ok(String::new())
}

/// Writes `text` to stderr; a stderr that is gone is not an error (`eprint!` would panic).
fn say(text: &str) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// The command as the audit log and the messages show it: its credentials masked, control
/// characters escaped, at most [`MAX_SHOWN`] characters.
fn shown_command(command: &[String]) -> String {
    let masked = mask_arguments(command).join(" ");
    let text = report::escape(&masked);
    let mut shown: String = text.chars().take(MAX_SHOWN).collect();
    if shown.len() < text.len() {
        shown.push('…');
    }
    shown
}

/// The arguments with their credentials masked ([`mask_words`]); an option that names a secret
/// masks the argument after it.
fn mask_arguments(args: &[String]) -> Vec<String> {
    let mut secret_next = false;
    args.iter()
        .map(|arg| {
            let (masked, next) = mask_words(arg, secret_next);
            secret_next = next;
            masked
        })
        .collect()
}

/// `text` (an argument, or a script given to `sh -c`) with the credentials of each
/// whitespace-separated word masked: a URL's password ([`maintenance_sqlx::redact_url`]), the
/// value of `NAME=value` or `--name=value` when the name says it is a secret
/// ([`maintenance_sqlx::names_a_secret`]: `PGPASSWORD=x`, `--db-password=x`, `API_TOKEN=x`),
/// and the word after an option such as `--password`. `secret_next` says that the first word
/// is such a value; the result says whether the word after `text` is.
fn mask_words(text: &str, mut secret_next: bool) -> (String, bool) {
    let mut out = String::with_capacity(text.len());
    for piece in text.split_inclusive(char::is_whitespace) {
        let word = piece.trim_end_matches(char::is_whitespace);
        let space = &piece[word.len()..];
        if secret_next && !word.is_empty() {
            out.push_str("***");
            secret_next = false;
        } else if !word.is_empty() {
            out.push_str(&mask_word(word));
            secret_next = word.starts_with('-')
                && !word.contains('=')
                && maintenance_sqlx::names_a_secret(word);
        }
        out.push_str(space);
    }
    (out, secret_next)
}

fn mask_word(word: &str) -> String {
    if word.contains("://") {
        return maintenance_sqlx::redact_url(word);
    }
    if let Some((name, _value)) = word.split_once('=') {
        let bare = name.trim_start_matches(['\'', '"', '-']);
        let is_name = !bare.is_empty()
            && bare
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.');
        if is_name && maintenance_sqlx::names_a_secret(bare) {
            return format!("{name}=***");
        }
    }
    word.to_owned()
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
    say(&format!(
        "maintenance run: got {}; passed it on to the command and waiting for it (maintenance stays on)\n",
        sig.as_str()
    ));
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

/// Puts each site back as it was before `run` (the flag, mode, message, window, Retry-After
/// and scope), if it still holds the state `run` wrote.
struct Restore<'a> {
    store: &'a dyn MaintenanceStore,
    before: &'a [SiteState],
    written: &'a [SiteState],
    shown: &'a str,
    actor: &'a str,
}

impl Restore<'_> {
    /// Restores each site whose state is still the one `run` wrote, compared in the same
    /// transaction as the write ([`MaintenanceStore::set_state_if`]); a site changed
    /// meanwhile is left as it is, said on stderr and recorded (`run.kept`).
    async fn run(&self) -> Result<(), CliError> {
        for site in self.before {
            let Some(ours) = self.written.iter().find(|w| w.id == site.id) else {
                continue;
            };
            let at = SiteRef::Domain(site.domain.clone());
            let outcome = self
                .store
                .set_state_if(
                    &at,
                    &StateChange::of_state(ours),
                    &StateChange::of_state(site),
                    self.actor,
                )
                .await?;
            match outcome {
                GuardedWrite::Written(restored) => say(&format!(
                    "{} (as before `run`)\n",
                    report::state_line(&restored, Utc::now())
                )),
                GuardedWrite::Kept(current) => {
                    let who = current.updated_by.as_deref().unwrap_or("someone else");
                    let detail = format!(
                        "`{}` succeeded, but the state was changed by {who} while it ran; \
                         left as it is rather than put back as before `run`",
                        self.shown
                    );
                    say(&format!(
                        "maintenance run: {}: {}\n{}\n",
                        report::escape(&site.domain),
                        report::escape(&detail),
                        report::state_line(&current, Utc::now())
                    ));
                    record(
                        self.store,
                        std::slice::from_ref(site),
                        AuditAction::RunKept,
                        &detail,
                        self.actor,
                    )
                    .await;
                }
            }
        }
        Ok(())
    }
}

/// Records what happened to each site (`run.failed`, `run.kept`); a site that cannot take the
/// event is named on stderr, and the others still get theirs.
async fn record(
    store: &dyn MaintenanceStore,
    sites: &[SiteState],
    action: AuditAction,
    detail: &str,
    actor: &str,
) {
    for site in sites {
        let at = SiteRef::Domain(site.domain.clone());
        if let Err(e) = store.record_event(&at, action, detail, actor).await {
            say(&format!(
                "maintenance run: could not record {action} for {}: {}\n",
                report::escape(&site.domain),
                maintenance_core::ErrorChain(&e)
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| (*w).to_owned()).collect()
    }

    #[test]
    fn credentials_in_arguments_are_masked() {
        let cases: [(&[&str], &str); 7] = [
            (
                &["sh", "-c", "exit 3", "postgres://app:hunter2@db/x"],
                "sh -c exit 3 postgres://app:***@db/x",
            ),
            (
                &["migrate", "--password=hunter2", "--user", "app"],
                "migrate --password=*** --user app",
            ),
            (
                &["migrate", "--password", "hunter2", "x"],
                "migrate --password *** x",
            ),
            (
                &["env", "PGPASSWORD=hunter2", "psql"],
                "env PGPASSWORD=*** psql",
            ),
            (
                &[
                    "sh",
                    "-c",
                    "API_TOKEN=hunter2 ./deploy --db mysql://u:hunter2@h/d",
                ],
                "sh -c API_TOKEN=*** ./deploy --db mysql://u:***@h/d",
            ),
            (
                &["tool", "--url=postgres://a:hun/ter2@h/d"],
                "tool --url=postgres://a:***@h/d",
            ),
            (&["./migrate.sh", "--steps=3"], "./migrate.sh --steps=3"),
        ];
        for (command, want) in cases {
            let shown = shown_command(&args(command));
            assert_eq!(shown, want, "{command:?}");
            assert!(
                !shown.contains("hunter2") && !shown.contains("ter2"),
                "{shown}"
            );
        }
    }

    #[test]
    fn long_commands_are_cut_and_control_characters_escaped() {
        let shown = shown_command(&args(&["echo", &"x".repeat(500)]));
        assert_eq!(shown.chars().count(), MAX_SHOWN + 1);
        assert!(shown.ends_with('…'));
        let shown = shown_command(&args(&["printf", "\u{1b}]0;owned\u{7}"]));
        assert!(
            !shown.contains('\u{1b}') && !shown.contains('\u{7}'),
            "{shown}"
        );
    }
}
