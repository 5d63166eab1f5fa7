//! The admin page's HTML: server-rendered, plain forms, no JavaScript, written with maud's
//! `html!`, which escapes every value it writes (text and attributes alike): a value can only
//! reach a page as text. The one raw string is the style sheet, a constant.
//!
//! Each page is a function of a view (what it shows) to a `String`: [`site::render_site`],
//! [`list::render_list`], [`login`] and [`problem`]; the pieces they share are here.

pub(super) mod list;
pub(super) mod site;

use chrono::{DateTime, Utc};
use maintenance_core::Event;
use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::admin::form::Invalid;
use crate::report;

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0 auto;max-width:72rem;padding:1rem;color:#1b1b1b}\
header{display:flex;justify-content:space-between;align-items:center;border-bottom:2px solid #333}\
section.site{border:1px solid #bbb;border-radius:6px;padding:0 1rem 1rem;margin:1rem 0}\
label{font-weight:600;margin-right:.5rem}\
.field{margin:.5rem 0}\
.error{color:#a00;font-weight:600;margin-left:.5rem;white-space:pre-wrap}\
.notice{background:#e6f4ea;border:1px solid #7c7;padding:.5rem}\
.problem{background:#fdecea;border:1px solid #d88;padding:.5rem;white-space:pre-wrap}\
.badge{font-size:.8rem;padding:.1rem .4rem;border-radius:4px;background:#ddd}\
.badge.on{background:#f6c343}.badge.scheduled{background:#cde}.badge.ended{background:#eee}\
a.tag{font-size:.8rem;padding:.1rem .4rem;border-radius:4px;background:#e8eefc}ul.tags{list-style:none;padding:0}\
table.sites{width:100%}.pager{margin:.5rem 0}.secret{border:2px solid #c90;padding:0 1rem;margin:1rem 0}\
form.search,form.add-site{margin:.5rem 0}\
table{border-collapse:collapse;margin:.5rem 0}td,th{border-bottom:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}\
input[type=text],input[type=password]{min-width:22rem}textarea{width:100%;max-width:40rem}.hint{color:#555;font-size:.9rem}form.inline{display:inline}";

/// What every page shows around its content: the session's forms, the outcome of the last
/// request and the time its states are computed at.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Frame<'a> {
    /// The session's CSRF token, put in every form.
    pub(crate) csrf: &'a str,
    /// A message about the last change, if any.
    pub(crate) notice: Option<&'a str>,
    /// A refused submission to show again.
    pub(crate) invalid: Option<&'a Invalid>,
    /// Whether a token is needed (shows the log-out button).
    pub(crate) auth: bool,
    /// The time states are computed at.
    pub(crate) now: DateTime<Utc>,
}

#[cfg(test)]
impl Frame<'_> {
    /// The frame of a session whose token is `csrf`: no notice, no refused form, no log-out
    /// button, states computed now.
    pub(crate) fn plain(csrf: &str) -> Frame<'_> {
        Frame {
            csrf,
            notice: None,
            invalid: None,
            auth: false,
            now: Utc::now(),
        }
    }
}

/// Site `id` (`a.example`) whose every text is markup, to prove that the pages escape what
/// they show.
#[cfg(test)]
pub(crate) fn hostile_site(id: i64) -> maintenance_core::SiteState {
    let mut site = maintenance_core::SiteState::new(id, "a.example");
    site.name = "<script>alert(1)</script>".into();
    site.message = Some("\"><b>x</b>".into());
    site.ignored_paths.push(maintenance_core::IgnoredPath {
        pattern: "^<i>".into(),
        description: "'quote'".into(),
    });
    site
}

/// A whole page: `title` and `body` in the page's frame and style.
fn shell(title: &str, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            body { (body) }
        }
    }
    .into_string()
}

/// A hidden form field.
fn hidden(name: &str, value: &str) -> Markup {
    html! { input type="hidden" name=(name) value=(value); }
}

/// The id of the error message beside the input `input_id`.
fn error_id(input_id: &str) -> String {
    format!("{input_id}-error")
}

/// The error message beside the input `input_id`, or nothing.
fn error_span(input_id: &str, message: Option<&str>) -> Markup {
    html! {
        @if let Some(m) = message {
            span.error id=(error_id(input_id)) role="alert" { (m) }
        }
    }
}

/// A text input, marked invalid (and described by its message) when `error` is set.
fn text_input(name: &str, id: &str, value: &str, placeholder: &str, error: Option<&str>) -> Markup {
    html! {
        input type="text" name=(name) id=(id) value=(value) placeholder=(placeholder)
            aria-invalid=[error.map(|_| "true")] aria-describedby=[error.map(|_| error_id(id))];
        (error_span(id, error))
    }
}

/// The page header: the title (a link to the list) and, when a token is needed, the log-out
/// button.
fn header(auth: bool, csrf: &str) -> Markup {
    html! {
        header {
            h1 { a href="/" id="home" { "Maintenance" } }
            @if auth {
                form method="post" action="/logout" class="inline" {
                    (hidden("csrf", csrf))
                    button type="submit" id="logout" { "Log out" }
                }
            }
        }
    }
}

/// The notice of the change just made, if any.
fn notice(text: Option<&str>) -> Markup {
    html! {
        @if let Some(n) = text {
            p.notice id="notice" role="status" { (n) }
        }
    }
}

/// A refusal not tied to one field, at the top of a page.
fn problem_line(message: &str) -> Markup {
    html! { p.problem id="problem" role="alert" { (message) } }
}

/// The audit log: the newest events first.
fn log_section(events: &[Event]) -> Markup {
    html! {
        section id="log" {
            h2 { "Audit log" }
            table {
                thead { tr { th { "When" } th { "Site" } th { "Who" } th { "What" } th { "Details" } } }
                tbody {
                    @if events.is_empty() {
                        tr { td colspan="5" class="hint" { "No events yet." } }
                    }
                    @for ev in events {
                        tr {
                            td { (report::time(ev.at)) }
                            td { (ev.site.as_deref().unwrap_or("-")) }
                            td { (ev.actor) }
                            td { (ev.action) }
                            td { (ev.detail) }
                        }
                    }
                }
            }
        }
    }
}

/// The path of a site's page.
pub(super) fn site_href(domain: &str) -> String {
    format!(
        "/sites/{}",
        form_urlencoded::byte_serialize(domain.as_bytes()).collect::<String>()
    )
}

/// The login page, with an error beside the token field when the last try failed.
pub(super) fn login(error: Option<&str>) -> String {
    let body = html! {
        header { h1 { "Maintenance" } }
        main {
            h2 { "Log in" }
            form method="post" action="/login" id="login" {
                div.field {
                    label for="token" { "Admin token" }
                    input type="password" name="token" id="token" autocomplete="current-password" autofocus
                        aria-invalid=[error.map(|_| "true")] aria-describedby=[error.map(|_| error_id("token"))];
                    (error_span("token", error))
                }
                button type="submit" id="login-submit" { "Log in" }
            }
            p.hint { "The token is the one the server was started with (--token or MAINTENANCE_ADMIN_TOKEN)." }
        }
    };
    shell("Log in - Maintenance", body)
}

/// A short page for refusals (wrong CSRF token, cross-origin POST, ...).
pub(super) fn problem(title: &str, message: &str) -> String {
    let body = html! {
        header { h1 { "Maintenance" } }
        main {
            h2 { (title) }
            p.problem { (message) }
            p { a href="/" { "Back to the admin page" } }
        }
    };
    shell(title, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_login_page_marks_its_error_and_escapes_it() {
        let page = login(Some("<b>wrong</b>"));
        assert!(page.contains("aria-invalid=\"true\""), "{page}");
        assert!(page.contains("aria-describedby=\"token-error\""), "{page}");
        assert!(page.contains("&lt;b&gt;wrong&lt;/b&gt;"), "{page}");
        assert!(!login(None).contains("aria-invalid"));
    }

    #[test]
    fn problem_pages_escape_title_and_message() {
        let page = problem("<t>", "\"><script>");
        assert!(
            !page.contains("<t>") && !page.contains("<script>"),
            "{page}"
        );
        assert!(page.starts_with("<!DOCTYPE html>"), "{page}");
    }
}
