//! The list page: one page of sites with their states, the search, the bulk actions, the
//! add-site form and the latest changes.

use chrono::{DateTime, Utc};
use maintenance_core::{Event, SitePage, SiteState, StateFilter};
use maud::{Markup, html};

use super::{
    Frame, error_id, error_span, header, hidden, log_section, notice, problem_line, shell,
    site_href, text_input,
};
use crate::admin::form::{FormKind, Invalid};
use crate::admin::params::{ListParams, page_count};
use crate::admin::views::site::tag_href;
use crate::report;

/// Everything the list page shows.
#[derive(Debug)]
pub(crate) struct ListView<'a> {
    /// What the URL asked for.
    pub(crate) params: &'a ListParams,
    /// The sites of this page and how many match in all.
    pub(crate) page: &'a SitePage,
    /// The newest audit events of every site.
    pub(crate) events: &'a [Event],
    /// The session, the outcome of the last request (a refused add-site or bulk form) and
    /// the clock.
    pub(crate) frame: Frame<'a>,
}

/// A site's state in words, with its window when it has one.
fn state_text(site: &SiteState, now: DateTime<Utc>) -> (StateFilter, String) {
    let state = StateFilter::of(site, now);
    let window = report::window(site);
    let text = if window == "none" {
        state.as_str().to_owned()
    } else {
        format!("{} ({window})", state.as_str())
    };
    (state, text)
}

/// The list page.
pub(crate) fn render_list(view: &ListView<'_>) -> String {
    let invalid_of = |kind: FormKind| view.frame.invalid.filter(|i| i.kind == kind);
    let body = html! {
        (header(view.frame.auth, view.frame.csrf))
        main {
            (notice(view.frame.notice))
            @if let Some(g) = invalid_of(FormKind::Bulk).and_then(|i| i.error("general")) {
                (problem_line(g))
            }
            @if invalid_of(FormKind::AddSite).is_some() {
                (problem_line("Nothing was saved: see the message beside the field below."))
            }
            (search_form(view.params))
            (pager(view, Some("pager")))
            (sites_form(view, invalid_of(FormKind::Bulk)))
            (pager(view, None))
            (add_site_form(view.frame.csrf, invalid_of(FormKind::AddSite)))
            p.hint { "States are computed at " (report::time(view.frame.now)) "." }
            (log_section(view.events))
        }
    };
    shell("Maintenance", body)
}

/// Search and filter: a plain GET form.
fn search_form(params: &ListParams) -> Markup {
    let current = params.state.map(StateFilter::as_str).unwrap_or("");
    html! {
        form method="get" action="/" class="search" id="search" {
            label for="q" { "Search" }
            input type="search" name="q" id="q" value=(params.q) placeholder="domain or name";
            " "
            label for="state" { "State" }
            select name="state" id="state" {
                @for (value, label) in [("", "all"), ("on", "in maintenance"), ("off", "not in maintenance"), ("scheduled", "scheduled")] {
                    option value=(value) selected[current == value] { (label) }
                }
            }
            " "
            label for="tag" { "Tag" }
            input type="text" name="tag" id="tag" value=(params.tag) placeholder="any" size="12";
            " "
            button type="submit" id="search-submit" { "Search" }
        }
    }
}

/// How many sites match, which page this is, and links to the pages beside it.
fn pager(view: &ListView<'_>, id: Option<&str>) -> Markup {
    let params = view.params;
    let total = view.page.total;
    let pages = page_count(total);
    html! {
        p.pager id=[id] {
            (total) " site" @if total != 1 { "s" } " \u{b7} page " (params.page) " of " (pages)
            @if params.page > 1 {
                " \u{b7} "
                a href=(params.href(params.page.min(pages + 1) - 1, "")) rel="prev" class="previous" { "Previous" }
            }
            @if params.page < pages {
                " \u{b7} "
                a href=(params.href(params.page + 1, "")) rel="next" class="next" { "Next" }
            }
        }
    }
}

/// The sites, inside the bulk form: each row's checkbox names its domain.
fn sites_form(view: &ListView<'_>, bulk: Option<&Invalid>) -> Markup {
    let params = view.params;
    let error = bulk.and_then(|i| i.error("action"));
    let total = view.page.total;
    let empty = if total > 0 {
        format!(
            "No sites on page {}: there are {} page(s).",
            params.page,
            page_count(total)
        )
    } else {
        "No sites match.".to_owned()
    };
    html! {
        form method="post" action="/bulk" id="bulk" {
            (hidden("csrf", view.frame.csrf))
            // The fields that bring the answer back to this list.
            (hidden("q", &params.q))
            (hidden("state", params.state.map(StateFilter::as_str).unwrap_or("")))
            (hidden("tag", &params.tag))
            (hidden("page", &params.page.to_string()))
            div.field {
                label for="action" { "Action" }
                select name="action" id="action" aria-invalid=[error.map(|_| "true")] aria-describedby=[error.map(|_| error_id("action"))] {
                    option value="" { "---------" }
                    option value="on" { "Put in maintenance" }
                    option value="off" { "Take out of maintenance" }
                }
                " "
                button type="submit" id="bulk-submit" { "Go" }
                (error_span("action", error))
                @if !params.tag.is_empty() {
                    " "
                    label for="whole-tag" {
                        input type="checkbox" name="whole_tag" value="1" id="whole-tag";
                        " to every site tagged " code { (params.tag) } " (" (total) ", every page)"
                    }
                }
            }
            table.sites id="sites" {
                thead { tr { th {} th { "Domain" } th { "Name" } th { "State" } th { "Tags" } th { "Ignored paths" } th { "Allowed networks" } } }
                tbody {
                    @if view.page.sites.is_empty() {
                        tr { td colspan="7" class="hint" id="empty" { (empty) } }
                    }
                    @for site in &view.page.sites {
                        @let (state, text) = state_text(site, view.frame.now);
                        tr data-domain=(site.domain) {
                            td { input type="checkbox" name="site" value=(site.domain) aria-label=(format!("Select {}", site.domain)); }
                            td {
                                a href=(site_href(&site.domain)) class="site-link" { (site.domain) }
                                @if site.is_default { " " small { "(default)" } }
                            }
                            td { (site.name) }
                            td.state { span class=(format!("badge {}", state.as_str())) { (text) } }
                            td.tags {
                                @for (i, tag) in site.tags.iter().enumerate() {
                                    @if i > 0 { " " }
                                    a href=(tag_href(tag)) class="tag" { (tag) }
                                }
                            }
                            td.ignored { (site.ignored_paths.len()) }
                            td.networks { (site.allowed_networks.len()) }
                        }
                    }
                }
            }
        }
    }
}

/// The form that adds a site, with a refused submission's values and messages.
fn add_site_form(csrf: &str, add: Option<&Invalid>) -> Markup {
    let err = |field: &str| add.and_then(|i| i.error(field));
    let value = |field: &str| {
        add.map(|i| i.values.text(field).to_owned())
            .unwrap_or_default()
    };
    html! {
        section id="add-site" {
            h2 { "Add a site" }
            form method="post" action="/add-site" class="add-site" id="add-site-form" {
                (hidden("csrf", csrf))
                div.field {
                    label for="domain" { "Domain" }
                    (text_input("domain", "domain", &value("domain"), "shop.example.com", err("domain")))
                }
                div.field {
                    label for="name" { "Name" }
                    (text_input("name", "name", &value("name"), "optional", err("name")))
                }
                @if let Some(g) = err("general") {
                    p.error role="alert" { (g) }
                }
                button type="submit" id="add-site-submit" { "Add site" }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::views::hostile_site;

    #[test]
    fn the_list_escapes_what_it_shows() {
        let page = SitePage {
            total: 120,
            sites: vec![hostile_site(2)],
        };
        let params = ListParams {
            q: "\"><b>".into(),
            state: None,
            tag: String::new(),
            page: 2,
        };
        let html = render_list(&ListView {
            params: &params,
            page: &page,
            events: &[],
            frame: Frame {
                notice: Some("<n>"),
                ..Frame::plain("t")
            },
        });
        for bad in ["<script>", "\"><b>", "<n>"] {
            assert!(!html.contains(bad), "{bad} unescaped");
        }
        assert!(html.contains("page 2 of 3"), "{html}");
        assert!(html.contains("120 sites"), "{html}");
        assert!(html.contains("href=\"/sites/a.example\""), "{html}");
    }
}
