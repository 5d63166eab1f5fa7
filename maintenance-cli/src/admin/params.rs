//! What the list's URL asks for: the search text, the state filter and the page, read from a
//! query string or a form's return fields, and written back into links.

use chrono::{DateTime, Utc};
use maintenance_core::{SiteQuery, StateFilter};

/// How many sites one page of the list shows.
pub(crate) const PAGE_SIZE: u32 = 50;

/// The longest search text, in characters: a domain is at most 253, and a longer text only
/// makes the database's pattern match costly (SQLite refuses a `LIKE` pattern past 50 000
/// bytes, which would read as the database being down).
pub(crate) const MAX_SEARCH_CHARS: usize = 200;

/// What the list's URL (or a bulk form's return fields) asks for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct ListParams {
    /// The search text (`q`), as typed.
    pub(crate) q: String,
    /// The state filter (`state`); `None` for all.
    pub(crate) state: Option<StateFilter>,
    /// The tag filter (`tag`), in its stored form; empty for all.
    pub(crate) tag: String,
    /// The page (`page`), from 1.
    pub(crate) page: u64,
}

impl ListParams {
    /// Reads `q`, `state` and `page` from `pairs` (a query string or a form); other names are
    /// left alone. An unknown state, a page that is not a whole number from 1 or a search text
    /// longer than [`MAX_SEARCH_CHARS`] is an error that names the value (the search text by
    /// its length and start).
    pub(crate) fn from_pairs<'a>(
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
                "tag" if v.trim().is_empty() => params.tag.clear(),
                "tag" => params.tag = crate::parse::tag(v)?,
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
    pub(crate) fn query(&self, now: DateTime<Utc>) -> SiteQuery {
        let mut query = SiteQuery::all(now)
            .offset((self.page - 1).saturating_mul(u64::from(PAGE_SIZE)))
            .limit(PAGE_SIZE);
        if !self.q.trim().is_empty() {
            query = query.search(self.q.trim());
        }
        if let Some(state) = self.state {
            query = query.state(state);
        }
        if !self.tag.is_empty() {
            query = query.tag(self.tag.clone());
        }
        query
    }

    /// The list's URL for `page` with the same search and filter; `extra` (already encoded)
    /// is appended.
    pub(crate) fn href(&self, page: u64, extra: &str) -> String {
        let mut url = form_urlencoded::Serializer::new(String::new());
        if !self.q.is_empty() {
            url.append_pair("q", &self.q);
        }
        if let Some(state) = self.state {
            url.append_pair("state", state.as_str());
        }
        if !self.tag.is_empty() {
            url.append_pair("tag", &self.tag);
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
}

/// How many pages `total` sites fill (at least one).
pub(crate) fn page_count(total: u64) -> u64 {
    total.div_ceil(u64::from(PAGE_SIZE)).max(1)
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
    fn the_tag_filter_is_read_checked_and_written_back() {
        let params = parse("tag=EU&page=2").unwrap();
        assert_eq!(params.tag, "eu");
        assert_eq!(params.href(1, ""), "/?tag=eu");
        assert_eq!(params.query(Utc::now()).tags, ["eu"]);
        let err = parse("tag=a+b").unwrap_err();
        assert!(err.contains("invalid tag `a b`"), "{err}");
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
}
