//! The list of sites: what its URL asks for (search, state, page), and its HTML: one page of
//! sites with their states, the bulk actions, the add-site form and the latest changes.

use chrono::{DateTime, Utc};
use maintenance_core::{Event, SitePage, SiteQuery, SiteState, StateFilter, escape_html as e};

use super::page::{
    FormKind, Invalid, error_span, header, hidden, invalid_attrs, log_section, notice,
    problem_line, shell, site_href, text_input,
};
use crate::report;

/// How many sites one page of the list shows.
pub const PAGE_SIZE: u32 = 50;

/// The longest search text, in characters: a domain is at most 253, and a longer text only
/// makes the database's pattern match costly (SQLite refuses a `LIKE` pattern past 50 000
/// bytes, which would read as the database being down).
pub const MAX_SEARCH_CHARS: usize = 200;

/// What the list's URL (or a bulk form's return fields) asks for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListParams {
    /// The search text (`q`), as typed.
    pub q: String,
    /// The state filter (`state`); `None` for all.
    pub state: Option<StateFilter>,
    /// The page (`page`), from 1.
    pub page: u64,
}

impl ListParams {
    /// Reads `q`, `state` and `page` from `pairs` (a query string or a form); other names are
    /// left alone. An unknown state, a page that is not a whole number from 1 or a search text
    /// longer than [`MAX_SEARCH_CHARS`] is an error that names the value (the search text by
    /// its length and start).
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<ListParams, String> {
        let mut params = ListParams {
            page: 1,
            ..ListParams::default()
        };
        for (k, v) in pairs {
            match k {
                "q" => {
                    let chars = v.trim().chars().count();
                    if chars > MAX_SEARCH_CHARS {
                        let start: String = v.trim().chars().take(20).collect();
                        return Err(format!(
                            "search text of {chars} characters (`{start}...`) is too long: \
                             expected at most {MAX_SEARCH_CHARS} characters of a domain or a name"
                        ));
                    }
                    v.clone_into(&mut params.q)
                }
                "state" if v.is_empty() => params.state = None,
                "state" => {
                    params.state = Some(v.parse::<StateFilter>().map_err(|e| e.to_string())?)
                }
                "page" if v.is_empty() => params.page = 1,
                "page" => {
                    params.page = v.parse::<u64>().ok().filter(|p| *p >= 1).ok_or_else(|| {
                        format!("invalid page `{v}`: expected a whole number from 1")
                    })?
                }
                _ => {}
            }
        }
        Ok(params)
    }

    /// The store query for this page at `now`.
    pub fn query(&self, now: DateTime<Utc>) -> SiteQuery {
        let mut query = SiteQuery::all(now)
            .offset((self.page - 1).saturating_mul(u64::from(PAGE_SIZE)))
            .limit(PAGE_SIZE);
        if !self.q.trim().is_empty() {
            query = query.search(self.q.trim());
        }
        if let Some(state) = self.state {
            query = query.state(state);
        }
        query
    }

    /// The list's URL for `page` with the same search and filter; `extra` (already encoded)
    /// is appended.
    pub fn href(&self, page: u64, extra: &str) -> String {
        let mut url = form_urlencoded::Serializer::new(String::new());
        if !self.q.is_empty() {
            url.append_pair("q", &self.q);
        }
        if let Some(state) = self.state {
            url.append_pair("state", state.as_str());
        }
        if page != 1 {
            url.append_pair("page", &page.to_string());
        }
        let mut query = url.finish();
        if !extra.is_empty() {
            if !query.is_empty() {
                query.push('&');
            }
            query.push_str(extra);
        }
        if query.is_empty() {
            "/".to_owned()
        } else {
            format!("/?{query}")
        }
    }

    /// The hidden fields that bring a form's answer back to this list.
    fn hidden_fields(&self) -> String {
        format!(
            "{}{}{}",
            hidden("q", &self.q),
            hidden("state", self.state.map(StateFilter::as_str).unwrap_or("")),
            hidden("page", &self.page.to_string())
        )
    }
}

/// How many pages `total` sites fill (at least one).
pub fn page_count(total: u64) -> u64 {
    total.div_ceil(u64::from(PAGE_SIZE)).max(1)
}

/// Everything the list page shows.
#[derive(Debug)]
pub struct ListView<'a> {
    /// What the URL asked for.
    pub params: &'a ListParams,
    /// The sites of this page and how many match in all.
    pub page: &'a SitePage,
    /// The newest audit events of every site.
    pub events: &'a [Event],
    /// The session's CSRF token, put in every form.
    pub csrf: &'a str,
    /// A message about the last change, if any.
    pub notice: Option<&'a str>,
    /// A refused add-site or bulk form to show again.
    pub invalid: Option<&'a Invalid>,
    /// Whether a token is needed (shows the log-out button).
    pub auth: bool,
    /// The time states are computed at.
    pub now: DateTime<Utc>,
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
pub fn render_list(view: &ListView<'_>) -> String {
    let params = view.params;
    let mut body = header(view.auth, view.csrf);
    body.push_str(&notice(view.notice));
    let invalid_of = |kind: FormKind| view.invalid.filter(|i| i.kind == kind);
    if let Some(g) = invalid_of(FormKind::Bulk).and_then(|i| i.error("general")) {
        body.push_str(&problem_line(g));
    }
    if invalid_of(FormKind::AddSite).is_some() {
        body.push_str(&problem_line(
            "Nothing was saved: see the message beside the field below.",
        ));
    }

    // Search and filter: a plain GET form.
    let option = |value: &str, label: &str| {
        let selected = params.state.map(StateFilter::as_str).unwrap_or("") == value;
        format!(
            "<option value=\"{value}\"{}>{label}</option>",
            if selected { " selected" } else { "" }
        )
    };
    body.push_str(&format!(
        "<form method=\"get\" action=\"/\" class=\"search\" id=\"search\">\
         <label for=\"q\">Search</label><input type=\"search\" name=\"q\" id=\"q\" value=\"{}\" placeholder=\"domain or name\"> \
         <label for=\"state\">State</label><select name=\"state\" id=\"state\">{}{}{}{}</select> \
         <button type=\"submit\" id=\"search-submit\">Search</button></form>\n",
        e(&params.q),
        option("", "all"),
        option("on", "in maintenance"),
        option("off", "not in maintenance"),
        option("scheduled", "scheduled"),
    ));

    let total = view.page.total;
    let pages = page_count(total);
    let pager = {
        let mut out = format!(
            "<p class=\"pager\">{total} site{} &middot; page {} of {pages}",
            if total == 1 { "" } else { "s" },
            params.page
        );
        if params.page > 1 {
            let previous = params.page.min(pages + 1) - 1;
            out.push_str(&format!(
                " &middot; <a href=\"{}\" rel=\"prev\" class=\"previous\">Previous</a>",
                e(&params.href(previous, ""))
            ));
        }
        if params.page < pages {
            out.push_str(&format!(
                " &middot; <a href=\"{}\" rel=\"next\" class=\"next\">Next</a>",
                e(&params.href(params.page + 1, ""))
            ));
        }
        out.push_str("</p>\n");
        out
    };
    body.push_str(&pager.replacen("class=\"pager\"", "class=\"pager\" id=\"pager\"", 1));

    // The sites, inside the bulk form: each row's checkbox names its domain.
    let bulk_error = invalid_of(FormKind::Bulk).and_then(|i| i.error("action"));
    body.push_str(&format!(
        "<form method=\"post\" action=\"/bulk\" id=\"bulk\">{}{}\n\
         <div class=\"field\"><label for=\"action\">Action</label><select name=\"action\" id=\"action\"{}>\
         <option value=\"\">---------</option>\
         <option value=\"on\">Put in maintenance</option>\
         <option value=\"off\">Take out of maintenance</option></select> \
         <button type=\"submit\" id=\"bulk-submit\">Go</button>{}</div>\n\
         <table class=\"sites\" id=\"sites\"><thead><tr><th></th><th>Domain</th><th>Name</th><th>State</th><th>Ignored paths</th><th>Allowed networks</th></tr></thead><tbody>\n",
        hidden("csrf", view.csrf),
        params.hidden_fields(),
        invalid_attrs("action", bulk_error),
        error_span("action", bulk_error),
    ));
    if view.page.sites.is_empty() {
        let why = if total > 0 {
            format!(
                "No sites on page {}: there are {pages} page(s).",
                params.page
            )
        } else {
            "No sites match.".to_owned()
        };
        body.push_str(&format!(
            "<tr><td colspan=\"6\" class=\"hint\" id=\"empty\">{}</td></tr>\n",
            e(&why)
        ));
    }
    for site in &view.page.sites {
        let (state, text) = state_text(site, view.now);
        body.push_str(&format!(
            "<tr data-domain=\"{d}\"><td><input type=\"checkbox\" name=\"site\" value=\"{d}\" aria-label=\"Select {d}\"></td>\
             <td><a href=\"{}\" class=\"site-link\">{d}</a>{}</td><td>{}</td><td class=\"state\"><span class=\"badge {}\">{}</span></td><td class=\"ignored\">{}</td><td class=\"networks\">{}</td></tr>\n",
            e(&site_href(&site.domain)),
            if site.is_default { " <small>(default)</small>" } else { "" },
            e(&site.name),
            state.as_str(),
            e(&text),
            site.ignored_paths.len(),
            site.allowed_networks.len(),
            d = e(&site.domain),
        ));
    }
    body.push_str("</tbody></table>\n</form>\n");
    body.push_str(&pager);

    // Adding a site.
    let add = invalid_of(FormKind::AddSite);
    let err = |field: &str| add.and_then(|i| i.error(field));
    let value = |field: &str| {
        add.map(|i| i.values.text(field).to_owned())
            .unwrap_or_default()
    };
    body.push_str(&format!(
        "<section id=\"add-site\"><h2>Add a site</h2>\n<form method=\"post\" action=\"/add-site\" class=\"add-site\" id=\"add-site-form\">{}\n\
         <div class=\"field\"><label for=\"domain\">Domain</label>{}</div>\n\
         <div class=\"field\"><label for=\"name\">Name</label>{}</div>\n\
         {}<button type=\"submit\" id=\"add-site-submit\">Add site</button>\n</form></section>\n",
        hidden("csrf", view.csrf),
        text_input("domain", "domain", &value("domain"), "shop.example.com", err("domain")),
        text_input("name", "name", &value("name"), "optional", err("name")),
        err("general")
            .map(|g| format!("<p class=\"error\" role=\"alert\">{}</p>\n", e(g)))
            .unwrap_or_default(),
    ));
    body.push_str(&format!(
        "<p class=\"hint\">States are computed at {}.</p>\n",
        e(&report::time(view.now))
    ));
    body.push_str(&log_section(view.events));
    body.push_str("</main>");
    shell("Maintenance", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(query: &str) -> Result<ListParams, String> {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        ListParams::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }

    #[test]
    fn list_parameters_are_read_and_written_back() {
        let params = parse("q=shop+1&state=on&page=3&done=x").unwrap();
        assert_eq!(params.q, "shop 1");
        assert_eq!(params.state, Some(StateFilter::On));
        assert_eq!(params.page, 3);
        assert_eq!(params.href(4, ""), "/?q=shop+1&state=on&page=4");
        assert_eq!(params.href(1, "done=y"), "/?q=shop+1&state=on&done=y");
        assert_eq!(ListParams::default().href(1, ""), "/");
        let query = params.query(Utc::now());
        assert_eq!((query.offset, query.limit), (100, PAGE_SIZE));
        assert_eq!(parse("state=&page=").unwrap().page, 1);
    }

    #[test]
    fn a_search_text_longer_than_the_cap_is_refused() {
        let at_cap = "a".repeat(MAX_SEARCH_CHARS);
        assert_eq!(parse(&format!("q={at_cap}")).unwrap().q, at_cap);
        // Characters, not bytes; blanks around the text do not count.
        let wide = "é".repeat(MAX_SEARCH_CHARS);
        assert!(parse(&format!("q=+{wide}+")).is_ok());
        let err = parse(&format!("q={}", "b".repeat(50_000))).unwrap_err();
        assert!(err.contains("50000 characters"), "{err}");
        assert!(err.contains("at most 200"), "{err}");
        assert!(
            err.len() < 200,
            "the whole text is not repeated back: {err}"
        );
    }

    #[test]
    fn bad_list_parameters_name_the_value() {
        let err = parse("state=down").unwrap_err();
        assert!(err.contains("`down`"), "{err}");
        for page in ["0", "-1", "two"] {
            let err = parse(&format!("page={page}")).unwrap_err();
            assert!(err.contains(&format!("invalid page `{page}`")), "{err}");
        }
    }

    #[test]
    fn the_list_escapes_what_it_shows() {
        let mut site = SiteState::new(2, "a.example");
        site.name = "<script>x</script>".into();
        let page = SitePage {
            total: 120,
            sites: vec![site],
        };
        let params = ListParams {
            q: "\"><b>".into(),
            state: None,
            page: 2,
        };
        let html = render_list(&ListView {
            params: &params,
            page: &page,
            events: &[],
            csrf: "t",
            notice: Some("<n>"),
            invalid: None,
            auth: false,
            now: Utc::now(),
        });
        for bad in ["<script>", "\"><b>", "<n>"] {
            assert!(!html.contains(bad), "{bad} unescaped");
        }
        assert!(html.contains("page 2 of 3"), "{html}");
        assert!(html.contains("120 sites"), "{html}");
        assert!(html.contains("href=\"/sites/a.example\""), "{html}");
    }
}
