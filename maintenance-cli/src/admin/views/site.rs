//! A site's page: its state form, ignored paths, allowed networks, bypass secret, removal,
//! and its audit log.

use chrono::{DateTime, Utc};
use maintenance_core::{Event, Mode, SiteState};
use maud::{Markup, html};

use super::{
    Frame, error_id, error_span, header, hidden, log_section, notice, problem_line, shell,
    text_input,
};
use crate::admin::form::{FormKind, Invalid, NewSecret};
use crate::report::{self, Phase};

/// Everything a site's page shows.
#[derive(Debug)]
pub(crate) struct SiteView<'a> {
    /// The site.
    pub(crate) site: &'a SiteState,
    /// The site's newest audit events.
    pub(crate) events: &'a [Event],
    /// A bypass secret just made, shown once.
    pub(crate) secret: Option<&'a NewSecret>,
    /// The session, the outcome of the last request and the clock.
    pub(crate) frame: Frame<'a>,
}

/// A site's page.
pub(crate) fn render_site(page: &SiteView<'_>) -> String {
    let site = page.site;
    let body = html! {
        (header(page.frame.auth, page.frame.csrf))
        main {
            p { a href="/" id="back" { "\u{2190} All sites" } }
            (notice(page.frame.notice))
            @if let Some(inv) = page.frame.invalid {
                (problem_line(refusal_line(inv)))
            }
            @if let Some(secret) = page.secret {
                section.secret id="new-secret" {
                    h2 { "New bypass secret" }
                    p { "Shown only now; only its hash is stored. Copy it before leaving this page." }
                    p { code id="secret" { (secret.secret) } }
                    p { "Bypass link (sets a cookie that lets the browser through): " code id="bypass-link" { (secret.link) } }
                    @if let Some(note) = &secret.note {
                        p.hint { (note) }
                    }
                }
            }
            p.hint {
                "States are computed at " (report::time(page.frame.now))
                ". Times are RFC 3339; a time without an offset is read as UTC."
            }
            (site_section(page, site))
            (remove_block(page, site))
            (log_section(page.events))
        }
    };
    shell(&format!("{} - Maintenance", site.domain), body)
}

/// The line at the top of a page with a refused form: its general message where it has one
/// of its own, else a pointer to the message beside the field.
fn refusal_line(inv: &Invalid) -> &str {
    let general = inv.error("general");
    match (inv.kind, general) {
        (FormKind::Remove | FormKind::RemoveSite | FormKind::Bypass, Some(g)) => g,
        (_, Some(g)) if inv.site_id.is_none() => g,
        _ => "Nothing was saved: see the message beside the field below.",
    }
}

fn site_section(page: &SiteView<'_>, site: &SiteState) -> Markup {
    let id = site.id;
    let phase = Phase::of(site, page.frame.now).as_str();
    let last = match (&site.updated_by, site.updated_at) {
        (Some(by), Some(at)) => format!("{by} at {}", report::time(at)),
        (Some(by), None) => by.clone(),
        (None, Some(at)) => report::time(at),
        (None, None) => "never".to_owned(),
    };
    let set = site.bypass_secret_hash.is_some();
    html! {
        section.site id=(format!("site-{id}")) data-domain=(site.domain) {
            h2 {
                (site.domain) " "
                small { (site.name) @if site.is_default { " \u{b7} default site" } }
                " "
                span class=(format!("badge {phase}")) id=(format!("phase-{id}")) { (phase) }
            }
            (state_form(page, site))
            (list_block(page, site, &IGNORED, site.ignored_paths.iter().map(|p| (p.pattern.clone(), p.description.clone()))))
            (list_block(page, site, &NETWORKS, site.allowed_networks.iter().map(|n| (n.network.to_string(), n.description.clone()))))
            (tags_block(page, site))
            h3 { "Bypass secret" }
            p id=(format!("bypass-{id}")) {
                "Bypass secret: " strong id="bypass-state" { @if set { "set" } @else { "not set" } }
            }
            form method="post" action="/bypass/new" class="inline" id="bypass-new" {
                (hidden("csrf", page.frame.csrf))
                (hidden("site", &site.domain))
                button type="submit" id="bypass-new-submit" {
                    @if set { "Replace it with a new secret" } @else { "Create a secret" }
                }
            }
            @if set {
                form method="post" action="/bypass/clear" class="inline" id="bypass-clear" {
                    (hidden("csrf", page.frame.csrf))
                    (hidden("site", &site.domain))
                    button type="submit" id="bypass-clear-submit" { "Clear it" }
                }
            }
            p { "Last change: " (last) }
        }
    }
}

/// The form that removes a site, with its confirmation; none for the default site.
fn remove_block(page: &SiteView<'_>, site: &SiteState) -> Markup {
    if site.is_default {
        return html! {
            p.hint id="no-remove" {
                "The default site answers every host that has no site of its own; it cannot be removed."
            }
        };
    }
    let err = page
        .frame
        .invalid
        .and_then(|i| i.for_form(site.id, FormKind::RemoveSite))
        .and_then(|i| i.error("confirm"));
    html! {
        section id="remove" {
            h2 { "Remove this site" }
            form method="post" action="/remove-site" id="remove-site" {
                (hidden("csrf", page.frame.csrf))
                (hidden("site", &site.domain))
                div.field {
                    label {
                        input type="checkbox" name="confirm" value="yes" id="confirm"
                            aria-invalid=[err.map(|_| "true")] aria-describedby=[err.map(|_| error_id("confirm"))];
                        " Yes, remove " (site.domain) " with its ignored paths and allowed networks"
                    }
                    (error_span("confirm", err))
                }
                button type="submit" id="remove-site-submit" { "Remove site" }
            }
        }
    }
}

/// The values the state form shows: the refused submission's, else the site's.
struct StateValues {
    enabled: bool,
    mode: String,
    message: String,
    starts_at: String,
    ends_at: String,
    retry_after: String,
    scope: String,
}

impl StateValues {
    fn of(site: &SiteState, invalid: Option<&Invalid>) -> StateValues {
        let time = |t: Option<DateTime<Utc>>| t.map(report::time).unwrap_or_default();
        match invalid {
            Some(i) => StateValues {
                enabled: i.values.get("enabled").is_some(),
                mode: i.values.text("mode").to_owned(),
                message: i.values.text("message").to_owned(),
                starts_at: i.values.text("starts_at").to_owned(),
                ends_at: i.values.text("ends_at").to_owned(),
                retry_after: i.values.text("retry_after").to_owned(),
                scope: i.values.text("scope").to_owned(),
            },
            None => StateValues {
                enabled: site.enabled,
                mode: site.mode.as_str().to_owned(),
                message: site.message.clone().unwrap_or_default(),
                starts_at: time(site.starts_at),
                ends_at: time(site.ends_at),
                retry_after: site
                    .retry_after_secs
                    .map(|s| s.to_string())
                    .unwrap_or_default(),
                scope: site.scope.join("\n"),
            },
        }
    }
}

fn state_form(page: &SiteView<'_>, site: &SiteState) -> Markup {
    let id = site.id;
    let inv = page
        .frame
        .invalid
        .and_then(|i| i.for_form(id, FormKind::State));
    let v = StateValues::of(site, inv);
    let err = |field: &str| inv.and_then(|i| i.error(field));
    let (mode_id, message_id, retry_id, scope_id) = (
        format!("mode-{id}"),
        format!("message-{id}"),
        format!("retry_after-{id}"),
        format!("scope-{id}"),
    );
    let mode_error = err("mode");
    html! {
        form method="post" action="/state" class="state" id=(format!("state-{id}")) {
            (hidden("csrf", page.frame.csrf))
            (hidden("site", &site.domain))
            div.field {
                label {
                    input type="checkbox" name="enabled" value="on" id=(format!("enabled-{id}")) checked[v.enabled];
                    " In maintenance mode"
                }
            }
            div.field {
                label for=(mode_id) { "Mode" }
                select name="mode" id=(mode_id) aria-invalid=[mode_error.map(|_| "true")] aria-describedby=[mode_error.map(|_| error_id(&mode_id))] {
                    @for (mode, label) in [(Mode::Full, "Full: every request is blocked"), (Mode::ReadOnly, "Read-only: GET, HEAD and OPTIONS pass")] {
                        option value=(mode.as_str()) selected[v.mode == mode.as_str()] { (label) }
                    }
                }
                (error_span(&mode_id, mode_error))
            }
            (textarea_field("message", &message_id, "Message", "Empty: the application's default text", &v.message, err("message")))
            @for (field, label, value) in [("starts_at", "Starts at", &v.starts_at), ("ends_at", "Ends at", &v.ends_at)] {
                @let input_id = format!("{field}-{id}");
                div.field {
                    label for=(input_id) { (label) }
                    (text_input(field, &input_id, value, "2025-06-01T22:00:00Z (empty: no limit)", err(field)))
                }
            }
            div.field {
                label for=(retry_id) { "Retry-After (seconds)" }
                (text_input("retry_after", &retry_id, &v.retry_after, "empty: derived from the end", err("retry_after")))
            }
            (textarea_field("scope", &scope_id, "Only these paths (partial maintenance)", "Empty: the whole site. One pattern a line, e.g. ^checkout/", &v.scope, err("scope")))
            @if let Some(g) = err("general") {
                p.error id=(format!("state-{id}-error")) role="alert" { (g) }
            }
            button type="submit" id=(format!("save-{id}")) { "Save" }
        }
    }
}

/// A labelled two-line text area with its error message above it, marked invalid (and
/// described by the message) when `error` is set.
fn textarea_field(
    name: &str,
    id: &str,
    label: &str,
    placeholder: &str,
    value: &str,
    error: Option<&str>,
) -> Markup {
    html! {
        div.field {
            label for=(id) { (label) }
            (error_span(id, error))
            br;
            textarea name=(name) id=(id) rows="2" placeholder=(placeholder)
                aria-invalid=[error.map(|_| "true")] aria-describedby=[error.map(|_| error_id(id))] { (value) }
        }
    }
}

/// What differs between the two lists of a site: ignored paths and allowed networks. The
/// handlers read the forms' field and kind from here too.
pub(crate) struct ListBlock {
    title: &'static str,
    /// `ignored` or `network`: prefixes ids.
    key: &'static str,
    /// The routes' folder: `/ignored/add`, `/networks/remove`.
    route: &'static str,
    /// The form field of a row's value.
    pub(crate) field: &'static str,
    label: &'static str,
    placeholder: &'static str,
    /// The add form.
    pub(crate) kind: FormKind,
    empty: &'static str,
}

pub(crate) const IGNORED: ListBlock = ListBlock {
    title: "Ignored paths",
    key: "ignored",
    route: "ignored",
    field: "pattern",
    label: "Pattern",
    placeholder: "^health/$",
    kind: FormKind::IgnoredAdd,
    empty: "No ignored paths.",
};

pub(crate) const NETWORKS: ListBlock = ListBlock {
    title: "Allowed networks",
    key: "network",
    route: "networks",
    field: "network",
    label: "Network (CIDR)",
    placeholder: "10.0.0.0/8",
    kind: FormKind::NetworkAdd,
    empty: "No allowed networks.",
};

/// A site's tags, each a link to the list filtered by it with a remove button, and the form
/// that adds one.
fn tags_block(page: &SiteView<'_>, site: &SiteState) -> Markup {
    let id = site.id;
    let inv = page
        .frame
        .invalid
        .and_then(|i| i.for_form(id, FormKind::TagAdd));
    let err = inv.and_then(|i| i.error("tag"));
    let value = inv
        .map(|i| i.values.text("tag").to_owned())
        .unwrap_or_default();
    let input_id = format!("tag-{id}");
    html! {
        h3 { "Tags" }
        ul.tags id=(format!("tags-{id}")) {
            @if site.tags.is_empty() {
                li.hint { "No tags." }
            }
            @for tag in &site.tags {
                li data-tag=(tag) {
                    a href=(tag_href(tag)) class="tag" { (tag) }
                    " "
                    form method="post" action="/tags/remove" class="inline" {
                        (hidden("csrf", page.frame.csrf))
                        (hidden("site", &site.domain))
                        (hidden("tag", tag))
                        button type="submit" aria-label=(format!("Remove tag {tag}")) { "Remove" }
                    }
                }
            }
        }
        form method="post" action="/tags/add" class="add" id=(format!("tag-add-{id}")) {
            (hidden("csrf", page.frame.csrf))
            (hidden("site", &site.domain))
            div.field {
                label for=(input_id) { "Tag" }
                (text_input("tag", &input_id, &value, "eu-west", err))
            }
            button type="submit" id=(format!("tag-submit-{id}")) { "Add tag" }
        }
    }
}

/// The list filtered by `tag`.
pub(crate) fn tag_href(tag: &str) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("tag", tag)
        .finish();
    format!("/?{query}")
}

/// A list of a site (its rows, each with a remove button) and the form that adds to it.
fn list_block(
    page: &SiteView<'_>,
    site: &SiteState,
    block: &ListBlock,
    rows: impl Iterator<Item = (String, String)>,
) -> Markup {
    let id = site.id;
    let key = block.key;
    let rows: Vec<(String, String)> = rows.collect();
    let inv = page.frame.invalid.and_then(|i| i.for_form(id, block.kind));
    let err = |field: &str| inv.and_then(|i| i.error(field));
    let value = |field: &str| {
        inv.map(|i| i.values.text(field).to_owned())
            .unwrap_or_default()
    };
    let value_id = format!("{key}-{}-{id}", block.field);
    let desc_id = format!("{key}-description-{id}");
    html! {
        h3 { (block.title) }
        table id=(format!("{key}-list-{id}")) {
            thead { tr { th { (block.label) } th { "Description" } th {} } }
            tbody {
                @if rows.is_empty() {
                    tr { td colspan="3" class="hint" { (block.empty) } }
                }
                @for (row_value, description) in &rows {
                    tr {
                        td { code { (row_value) } }
                        td { (description) }
                        td {
                            form method="post" action=(format!("/{}/remove", block.route)) class="inline" {
                                (hidden("csrf", page.frame.csrf))
                                (hidden("site", &site.domain))
                                (hidden(block.field, row_value))
                                button type="submit" { "Remove" }
                            }
                        }
                    }
                }
            }
        }
        form method="post" action=(format!("/{}/add", block.route)) class="add" id=(format!("{key}-add-{id}")) {
            (hidden("csrf", page.frame.csrf))
            (hidden("site", &site.domain))
            div.field {
                label for=(value_id) { (block.label) }
                (text_input(block.field, &value_id, &value(block.field), block.placeholder, err(block.field)))
            }
            div.field {
                label for=(desc_id) { "Description" }
                (text_input("description", &desc_id, &value("description"), "", err("description")))
            }
            button type="submit" id=(format!("{key}-submit-{id}")) { "Add" }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::form::FormData;
    use crate::admin::views::hostile_site;

    #[test]
    fn everything_shown_is_escaped() {
        let site = hostile_site(1);
        let events = [Event {
            id: 1,
            site: Some("a.example".into()),
            at: Utc::now(),
            actor: "<img src=x>".into(),
            action: "on".into(),
            detail: "&".into(),
        }];
        let secret = NewSecret {
            secret: "<s>".into(),
            link: "http://a.example/<s>".into(),
            note: Some("<note>".into()),
        };
        let html = render_site(&SiteView {
            site: &site,
            events: &events,
            secret: Some(&secret),
            frame: Frame {
                notice: Some("<notice>"),
                auth: true,
                ..Frame::plain("\"csrf")
            },
        });
        for bad in [
            "<script>",
            "<b>x",
            "<i>",
            "<img",
            "<notice>",
            "<s>",
            "<note>",
            "value=\"\"csrf",
        ] {
            assert!(!html.contains(bad), "{bad} unescaped");
        }
        assert!(html.contains("&lt;script&gt;"));
        assert!(html.contains("<td>'quote'</td>"), "{html}");
    }

    #[test]
    fn errors_are_shown_beside_their_field_with_the_values_given() {
        let site = SiteState::new(7, "a.example");
        let invalid = Invalid {
            site_id: Some(7),
            kind: FormKind::IgnoredAdd,
            values: FormData::parse(b"pattern=%5E%28x&description=d"),
            errors: vec![("pattern", "invalid ignored-path pattern `^(x`".into())],
        };
        let html = render_site(&SiteView {
            site: &site,
            events: &[],
            secret: None,
            frame: Frame {
                invalid: Some(&invalid),
                ..Frame::plain("t")
            },
        });
        assert!(
            html.contains(
                "id=\"ignored-pattern-7\" value=\"^(x\" placeholder=\"^health/$\" aria-invalid=\"true\""
            ),
            "{html}"
        );
        assert!(html.contains(
            "<span class=\"error\" id=\"ignored-pattern-7-error\" role=\"alert\">invalid ignored-path pattern `^(x`</span>"
        ));
        assert!(!html.contains("id=\"logout\""));
        assert!(
            html.contains("id=\"remove-site\""),
            "a site that is not the default"
        );
    }

    #[test]
    fn the_default_site_has_no_remove_button() {
        let mut site = SiteState::new(1, "default");
        site.is_default = true;
        let html = render_site(&SiteView {
            site: &site,
            events: &[],
            secret: None,
            frame: Frame::plain("t"),
        });
        assert!(!html.contains("/remove-site"), "{html}");
        assert!(html.contains("cannot be removed"), "{html}");
        assert!(html.contains("id=\"bypass-state\">not set<"), "{html}");
    }
}
