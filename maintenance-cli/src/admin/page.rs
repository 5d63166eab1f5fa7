//! The admin page's HTML: server-rendered, plain forms, no JavaScript. Every value written
//! into the page goes through [`escape_html`].

use chrono::{DateTime, Utc};
use maintenance_core::{Event, Mode, SiteState, escape_html as e};

use crate::report::{self, Phase};

/// A submitted form: its fields in order.
#[derive(Debug, Clone, Default)]
pub struct FormData {
    pairs: Vec<(String, String)>,
}

impl FormData {
    /// Parses an `application/x-www-form-urlencoded` body.
    pub fn parse(body: &[u8]) -> Self {
        FormData {
            pairs: form_urlencoded::parse(body).into_owned().collect(),
        }
    }

    /// The first value of a field.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a field, in order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.pairs
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of a field, or `""`.
    pub fn text(&self, name: &str) -> &str {
        self.get(name).unwrap_or_default()
    }
}

/// Which form on the page a submission came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormKind {
    /// A site's state: flag, mode, message, window, Retry-After.
    State,
    /// Adding an ignored pattern.
    IgnoredAdd,
    /// Adding an allowed network.
    NetworkAdd,
    /// Removing a pattern or a network.
    Remove,
    /// Removing a whole site.
    RemoveSite,
    /// Making or clearing a bypass secret.
    Bypass,
    /// Adding a site (on the list).
    AddSite,
    /// A bulk action on the selected sites (on the list).
    Bulk,
}

/// A refused submission, shown again with its values and each error beside its field.
#[derive(Debug, Clone)]
pub struct Invalid {
    /// The site the form belongs to, if it is known.
    pub site_id: Option<i64>,
    /// The form.
    pub kind: FormKind,
    /// What was submitted.
    pub values: FormData,
    /// Field name (or `general`) and message.
    pub errors: Vec<(&'static str, String)>,
}

impl Invalid {
    fn for_form(&self, site_id: i64, kind: FormKind) -> Option<&Invalid> {
        (self.site_id == Some(site_id) && self.kind == kind).then_some(self)
    }

    pub(super) fn error(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }
}

/// A bypass secret just made: shown on the answer to the form that made it, and nowhere else.
#[derive(Debug, Clone)]
pub struct NewSecret {
    /// The secret in clear.
    pub secret: String,
    /// The link that sets the bypass cookie.
    pub link: String,
    /// A word about the link, when its host must be replaced.
    pub note: Option<String>,
}

/// Everything a site's page shows.
#[derive(Debug)]
pub struct SiteView<'a> {
    /// The site.
    pub site: &'a SiteState,
    /// The site's newest audit events.
    pub events: &'a [Event],
    /// The session's CSRF token, put in every form.
    pub csrf: &'a str,
    /// A message about the last change, if any.
    pub notice: Option<&'a str>,
    /// A refused submission to show again.
    pub invalid: Option<&'a Invalid>,
    /// A bypass secret just made, shown once.
    pub secret: Option<&'a NewSecret>,
    /// Whether a token is needed (shows the log-out button).
    pub auth: bool,
    /// The time states are computed at.
    pub now: DateTime<Utc>,
}

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
table.sites{width:100%}.pager{margin:.5rem 0}.secret{border:2px solid #c90;padding:0 1rem;margin:1rem 0}\
form.search,form.add-site{margin:.5rem 0}\
table{border-collapse:collapse;margin:.5rem 0}td,th{border-bottom:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}\
input[type=text],input[type=password]{min-width:22rem}textarea{width:100%;max-width:40rem}.hint{color:#555;font-size:.9rem}form.inline{display:inline}";

pub(super) fn shell(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head>\n<body>\n{body}\n</body></html>\n",
        e(title)
    )
}

pub(super) fn hidden(name: &str, value: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
        e(name),
        e(value)
    )
}

/// An error span beside the input `input_id`, or nothing.
pub(super) fn error_span(input_id: &str, message: Option<&str>) -> String {
    match message {
        Some(m) => format!(
            "<span class=\"error\" id=\"{}-error\" role=\"alert\">{}</span>",
            e(input_id),
            e(m)
        ),
        None => String::new(),
    }
}

pub(super) fn invalid_attrs(input_id: &str, message: Option<&str>) -> String {
    if message.is_some() {
        format!(
            " aria-invalid=\"true\" aria-describedby=\"{}-error\"",
            e(input_id)
        )
    } else {
        String::new()
    }
}

pub(super) fn text_input(
    name: &str,
    id: &str,
    value: &str,
    placeholder: &str,
    error: Option<&str>,
) -> String {
    format!(
        "<input type=\"text\" name=\"{}\" id=\"{}\" value=\"{}\" placeholder=\"{}\"{}>{}",
        e(name),
        e(id),
        e(value),
        e(placeholder),
        invalid_attrs(id, error),
        error_span(id, error)
    )
}

/// The login page, with an error beside the token field when the last try failed.
pub fn login(error: Option<&str>) -> String {
    let body = format!(
        "<header><h1>Maintenance</h1></header>\n<main>\n<h2>Log in</h2>\n\
         <form method=\"post\" action=\"/login\" id=\"login\">\n\
         <div class=\"field\"><label for=\"token\">Admin token</label>\
         <input type=\"password\" name=\"token\" id=\"token\" autocomplete=\"current-password\" autofocus{}>{}</div>\n\
         <button type=\"submit\" id=\"login-submit\">Log in</button>\n</form>\n\
         <p class=\"hint\">The token is the one the server was started with (--token or MAINTENANCE_ADMIN_TOKEN).</p>\n</main>",
        invalid_attrs("token", error),
        error_span("token", error)
    );
    shell("Log in - Maintenance", &body)
}

/// A short page for refusals (wrong CSRF token, cross-origin POST, ...).
pub fn problem(title: &str, message: &str) -> String {
    let body = format!(
        "<header><h1>Maintenance</h1></header>\n<main>\n<h2>{}</h2>\n<p class=\"problem\">{}</p>\n\
         <p><a href=\"/\">Back to the admin page</a></p>\n</main>",
        e(title),
        e(message)
    );
    shell(title, &body)
}

/// The page header: the title (a link to the list) and, when a token is needed, the log-out
/// button.
pub(super) fn header(auth: bool, csrf: &str) -> String {
    let mut out = String::from("<header><h1><a href=\"/\" id=\"home\">Maintenance</a></h1>");
    if auth {
        out.push_str(&format!(
            "<form method=\"post\" action=\"/logout\" class=\"inline\">{}<button type=\"submit\" id=\"logout\">Log out</button></form>",
            hidden("csrf", csrf)
        ));
    }
    out.push_str("</header>\n<main>\n");
    out
}

/// The notice of the change just made, if any.
pub(super) fn notice(text: Option<&str>) -> String {
    text.map(|n| {
        format!(
            "<p class=\"notice\" id=\"notice\" role=\"status\">{}</p>\n",
            e(n)
        )
    })
    .unwrap_or_default()
}

/// A refusal not tied to one field, at the top of a page.
pub(super) fn problem_line(message: &str) -> String {
    format!(
        "<p class=\"problem\" id=\"problem\" role=\"alert\">{}</p>\n",
        e(message)
    )
}

/// The path of a site's page.
pub fn site_href(domain: &str) -> String {
    format!(
        "/sites/{}",
        form_urlencoded::byte_serialize(domain.as_bytes()).collect::<String>()
    )
}

/// A site's page: its forms, the bypass secret, removal, and its audit log.
pub fn render_site(page: &SiteView<'_>) -> String {
    let site = page.site;
    let mut body = header(page.auth, page.csrf);
    body.push_str("<p><a href=\"/\" id=\"back\">&larr; All sites</a></p>\n");
    body.push_str(&notice(page.notice));
    if let Some(inv) = page.invalid {
        let general = inv.error("general");
        match (inv.kind, general) {
            (FormKind::Remove | FormKind::RemoveSite | FormKind::Bypass, Some(g)) => {
                body.push_str(&problem_line(g))
            }
            (_, Some(g)) if inv.site_id.is_none() => body.push_str(&problem_line(g)),
            _ => body.push_str(&problem_line(
                "Nothing was saved: see the message beside the field below.",
            )),
        }
    }
    if let Some(secret) = page.secret {
        body.push_str(&format!(
            "<section class=\"secret\" id=\"new-secret\"><h2>New bypass secret</h2>\n\
             <p>Shown only now; only its hash is stored. Copy it before leaving this page.</p>\n\
             <p><code id=\"secret\">{}</code></p>\n\
             <p>Bypass link (sets a cookie that lets the browser through): <code id=\"bypass-link\">{}</code></p>\n{}</section>\n",
            e(&secret.secret),
            e(&secret.link),
            secret
                .note
                .as_deref()
                .map(|n| format!("<p class=\"hint\">{}</p>\n", e(n)))
                .unwrap_or_default()
        ));
    }
    body.push_str(&format!(
        "<p class=\"hint\">States are computed at {}. Times are RFC 3339; a time without an offset is read as UTC.</p>\n",
        e(&report::time(page.now))
    ));
    body.push_str(&site_section(page, site));
    body.push_str(&remove_block(page, site));
    body.push_str(&log_section(page.events));
    body.push_str("</main>");
    shell(&format!("{} - Maintenance", site.domain), &body)
}

fn site_section(page: &SiteView<'_>, site: &SiteState) -> String {
    let id = site.id;
    let phase = Phase::of(site, page.now);
    let mut out = format!(
        "<section class=\"site\" id=\"site-{id}\" data-domain=\"{}\">\n<h2>{} <small>{}{}</small> <span class=\"badge {}\" id=\"phase-{id}\">{}</span></h2>\n",
        e(&site.domain),
        e(&site.domain),
        e(&site.name),
        if site.is_default {
            " &middot; default site"
        } else {
            ""
        },
        phase.as_str(),
        phase.as_str()
    );
    out.push_str(&state_form(page, site));
    out.push_str(&ignored_block(page, site));
    out.push_str(&networks_block(page, site));
    let last = match (&site.updated_by, site.updated_at) {
        (Some(by), Some(at)) => format!("{by} at {}", report::time(at)),
        (Some(by), None) => by.clone(),
        (None, Some(at)) => report::time(at),
        (None, None) => "never".to_owned(),
    };
    let set = site.bypass_secret_hash.is_some();
    out.push_str(&format!(
        "<h3>Bypass secret</h3>\n<p id=\"bypass-{id}\">Bypass secret: <strong id=\"bypass-state\">{}</strong></p>\n\
         <form method=\"post\" action=\"/bypass/new\" class=\"inline\" id=\"bypass-new\">{}{}<button type=\"submit\" id=\"bypass-new-submit\">{}</button></form>\n",
        if set { "set" } else { "not set" },
        hidden("csrf", page.csrf),
        hidden("site", &site.domain),
        if set {
            "Replace it with a new secret"
        } else {
            "Create a secret"
        }
    ));
    if set {
        out.push_str(&format!(
            "<form method=\"post\" action=\"/bypass/clear\" class=\"inline\" id=\"bypass-clear\">{}{}<button type=\"submit\" id=\"bypass-clear-submit\">Clear it</button></form>\n",
            hidden("csrf", page.csrf),
            hidden("site", &site.domain),
        ));
    }
    out.push_str(&format!("<p>Last change: {}</p>\n</section>\n", e(&last)));
    out
}

/// The form that removes a site, with its confirmation; none for the default site.
fn remove_block(page: &SiteView<'_>, site: &SiteState) -> String {
    if site.is_default {
        return "<p class=\"hint\" id=\"no-remove\">The default site answers every host that has no site of its own; it cannot be removed.</p>\n".to_owned();
    }
    let inv = page
        .invalid
        .and_then(|i| i.for_form(site.id, FormKind::RemoveSite));
    let err = inv.and_then(|i| i.error("confirm"));
    format!(
        "<section id=\"remove\"><h2>Remove this site</h2>\n\
         <form method=\"post\" action=\"/remove-site\" id=\"remove-site\">{}{}\n\
         <div class=\"field\"><label><input type=\"checkbox\" name=\"confirm\" value=\"yes\" id=\"confirm\"{}> Yes, remove {} with its ignored paths and allowed networks</label>{}</div>\n\
         <button type=\"submit\" id=\"remove-site-submit\">Remove site</button>\n</form></section>\n",
        hidden("csrf", page.csrf),
        hidden("site", &site.domain),
        invalid_attrs("confirm", err),
        e(&site.domain),
        error_span("confirm", err)
    )
}

fn state_form(page: &SiteView<'_>, site: &SiteState) -> String {
    let id = site.id;
    let inv = page.invalid.and_then(|i| i.for_form(id, FormKind::State));
    let time = |t: Option<DateTime<Utc>>| t.map(report::time).unwrap_or_default();
    let (enabled, mode, message, starts, ends, retry, scope) = match inv {
        Some(i) => (
            i.values.get("enabled").is_some(),
            i.values.text("mode").to_owned(),
            i.values.text("message").to_owned(),
            i.values.text("starts_at").to_owned(),
            i.values.text("ends_at").to_owned(),
            i.values.text("retry_after").to_owned(),
            i.values.text("scope").to_owned(),
        ),
        None => (
            site.enabled,
            site.mode.as_str().to_owned(),
            site.message.clone().unwrap_or_default(),
            time(site.starts_at),
            time(site.ends_at),
            site.retry_after_secs
                .map(|s| s.to_string())
                .unwrap_or_default(),
            site.scope.join("\n"),
        ),
    };
    let err = |field: &str| inv.and_then(|i| i.error(field));
    let option = |value: Mode, label: &str| {
        format!(
            "<option value=\"{}\"{}>{}</option>",
            value.as_str(),
            if mode == value.as_str() {
                " selected"
            } else {
                ""
            },
            e(label)
        )
    };
    let mut out = format!(
        "<form method=\"post\" action=\"/state\" class=\"state\" id=\"state-{id}\">\n{}{}\n",
        hidden("csrf", page.csrf),
        hidden("site", &site.domain)
    );
    out.push_str(&format!(
        "<div class=\"field\"><label><input type=\"checkbox\" name=\"enabled\" value=\"on\" id=\"enabled-{id}\"{}> In maintenance mode</label></div>\n",
        if enabled { " checked" } else { "" }
    ));
    let mode_id = format!("mode-{id}");
    out.push_str(&format!(
        "<div class=\"field\"><label for=\"{mode_id}\">Mode</label><select name=\"mode\" id=\"{mode_id}\"{}>{}{}</select>{}</div>\n",
        invalid_attrs(&mode_id, err("mode")),
        option(Mode::Full, "Full: every request is blocked"),
        option(Mode::ReadOnly, "Read-only: GET, HEAD and OPTIONS pass"),
        error_span(&mode_id, err("mode"))
    ));
    let message_id = format!("message-{id}");
    out.push_str(&format!(
        "<div class=\"field\"><label for=\"{message_id}\">Message</label>{}<br><textarea name=\"message\" id=\"{message_id}\" rows=\"2\" placeholder=\"Empty: the application's default text\"{}>{}</textarea></div>\n",
        error_span(&message_id, err("message")),
        invalid_attrs(&message_id, err("message")),
        e(&message)
    ));
    for (field, label, value) in [
        ("starts_at", "Starts at", &starts),
        ("ends_at", "Ends at", &ends),
    ] {
        let input_id = format!("{field}-{id}");
        out.push_str(&format!(
            "<div class=\"field\"><label for=\"{input_id}\">{label}</label>{}</div>\n",
            text_input(
                field,
                &input_id,
                value,
                "2025-06-01T22:00:00Z (empty: no limit)",
                err(field)
            )
        ));
    }
    let retry_id = format!("retry_after-{id}");
    out.push_str(&format!(
        "<div class=\"field\"><label for=\"{retry_id}\">Retry-After (seconds)</label>{}</div>\n",
        text_input(
            "retry_after",
            &retry_id,
            &retry,
            "empty: derived from the end",
            err("retry_after")
        )
    ));
    let scope_id = format!("scope-{id}");
    out.push_str(&format!(
        "<div class=\"field\"><label for=\"{scope_id}\">Only these paths (partial maintenance)</label>{}<br><textarea name=\"scope\" id=\"{scope_id}\" rows=\"2\" placeholder=\"Empty: the whole site. One pattern a line, e.g. ^checkout/\"{}>{}</textarea></div>\n",
        error_span(&scope_id, err("scope")),
        invalid_attrs(&scope_id, err("scope")),
        e(&scope)
    ));
    if let Some(g) = err("general") {
        out.push_str(&format!(
            "<p class=\"error\" id=\"state-{id}-error\" role=\"alert\">{}</p>\n",
            e(g)
        ));
    }
    out.push_str(&format!(
        "<button type=\"submit\" id=\"save-{id}\">Save</button>\n</form>\n"
    ));
    out
}

struct ListBlock<'a> {
    title: &'a str,
    /// `ignored` or `network`: prefixes ids and names the routes.
    key: &'a str,
    route: &'a str,
    field: &'a str,
    label: &'a str,
    placeholder: &'a str,
    kind: FormKind,
    rows: Vec<(String, String)>,
    empty: &'a str,
}

fn list_block(page: &SiteView<'_>, site: &SiteState, block: ListBlock<'_>) -> String {
    let id = site.id;
    let key = block.key;
    let mut out = format!(
        "<h3>{}</h3>\n<table id=\"{key}-list-{id}\"><thead><tr><th>{}</th><th>Description</th><th></th></tr></thead><tbody>\n",
        e(block.title),
        e(block.label)
    );
    if block.rows.is_empty() {
        out.push_str(&format!(
            "<tr><td colspan=\"3\" class=\"hint\">{}</td></tr>\n",
            e(block.empty)
        ));
    }
    for (value, description) in &block.rows {
        out.push_str(&format!(
            "<tr><td><code>{}</code></td><td>{}</td><td><form method=\"post\" action=\"/{}/remove\" class=\"inline\">{}{}{}<button type=\"submit\">Remove</button></form></td></tr>\n",
            e(value),
            e(description),
            block.route,
            hidden("csrf", page.csrf),
            hidden("site", &site.domain),
            hidden(block.field, value)
        ));
    }
    out.push_str("</tbody></table>\n");
    let inv = page.invalid.and_then(|i| i.for_form(id, block.kind));
    let err = |field: &str| inv.and_then(|i| i.error(field));
    let value = |field: &str| {
        inv.map(|i| i.values.text(field).to_owned())
            .unwrap_or_default()
    };
    let value_id = format!("{key}-{}-{id}", block.field);
    let desc_id = format!("{key}-description-{id}");
    out.push_str(&format!(
        "<form method=\"post\" action=\"/{}/add\" class=\"add\" id=\"{key}-add-{id}\">{}{}\n\
         <div class=\"field\"><label for=\"{value_id}\">{}</label>{}</div>\n\
         <div class=\"field\"><label for=\"{desc_id}\">Description</label>{}</div>\n\
         <button type=\"submit\" id=\"{key}-submit-{id}\">Add</button>\n</form>\n",
        block.route,
        hidden("csrf", page.csrf),
        hidden("site", &site.domain),
        e(block.label),
        text_input(
            block.field,
            &value_id,
            &value(block.field),
            block.placeholder,
            err(block.field)
        ),
        text_input(
            "description",
            &desc_id,
            &value("description"),
            "",
            err("description")
        ),
    ));
    out
}

fn ignored_block(page: &SiteView<'_>, site: &SiteState) -> String {
    list_block(
        page,
        site,
        ListBlock {
            title: "Ignored paths",
            key: "ignored",
            route: "ignored",
            field: "pattern",
            label: "Pattern",
            placeholder: "^health/$",
            kind: FormKind::IgnoredAdd,
            rows: site
                .ignored_paths
                .iter()
                .map(|p| (p.pattern.clone(), p.description.clone()))
                .collect(),
            empty: "No ignored paths.",
        },
    )
}

fn networks_block(page: &SiteView<'_>, site: &SiteState) -> String {
    list_block(
        page,
        site,
        ListBlock {
            title: "Allowed networks",
            key: "network",
            route: "networks",
            field: "network",
            label: "Network (CIDR)",
            placeholder: "10.0.0.0/8",
            kind: FormKind::NetworkAdd,
            rows: site
                .allowed_networks
                .iter()
                .map(|n| (n.network.to_string(), n.description.clone()))
                .collect(),
            empty: "No allowed networks.",
        },
    )
}

pub(super) fn log_section(events: &[Event]) -> String {
    let mut out = String::from(
        "<section id=\"log\"><h2>Audit log</h2>\n<table><thead><tr><th>When</th><th>Site</th><th>Who</th><th>What</th><th>Details</th></tr></thead><tbody>\n",
    );
    if events.is_empty() {
        out.push_str("<tr><td colspan=\"5\" class=\"hint\">No events yet.</td></tr>\n");
    }
    for ev in events {
        out.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            e(&report::time(ev.at)),
            e(ev.site.as_deref().unwrap_or("-")),
            e(&ev.actor),
            e(&ev.action),
            e(&ev.detail)
        ));
    }
    out.push_str("</tbody></table></section>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_shown_is_escaped() {
        let mut site = SiteState::new(1, "a.example");
        site.name = "<script>alert(1)</script>".into();
        site.message = Some("\"><b>x</b>".into());
        site.ignored_paths.push(maintenance_core::IgnoredPath {
            pattern: "^<i>".into(),
            description: "'quote'".into(),
        });
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
            csrf: "\"csrf",
            notice: Some("<notice>"),
            invalid: None,
            secret: Some(&secret),
            auth: true,
            now: Utc::now(),
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
        assert!(html.contains("&#x27;quote&#x27;"));
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
            csrf: "t",
            notice: None,
            invalid: Some(&invalid),
            secret: None,
            auth: false,
            now: Utc::now(),
        });
        assert!(html.contains(
            "id=\"ignored-pattern-7\" value=\"^(x\" placeholder=\"^health/$\" aria-invalid=\"true\""
        ));
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
            csrf: "t",
            notice: None,
            invalid: None,
            secret: None,
            auth: false,
            now: Utc::now(),
        });
        assert!(!html.contains("/remove-site"), "{html}");
        assert!(html.contains("cannot be removed"), "{html}");
        assert!(html.contains("id=\"bypass-state\">not set<"), "{html}");
    }
}
