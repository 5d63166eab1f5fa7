//! Operators' views of many sites: which sites a listing shows ([`SiteQuery`]), one page of
//! them ([`SitePage`]), and which sites a bulk change applies to ([`SiteSelection`]).
//!
//! With thousands of sites an operator works on a search, a state and a page at a time. Stores
//! answer a [`SiteQuery`] in their own query language (an SQL store filters, counts and pages
//! in the database); [`SiteQuery::page_of`] is the same answer over sites in memory, and the
//! reference every store is tested against.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

use crate::error::ValidationError;
use crate::model::{SiteRef, SiteState};

/// The most sites one page may hold.
pub const MAX_PAGE_SIZE: u32 = 1000;

/// A site's state at a moment, as listings filter it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StateFilter {
    /// Maintenance is in force now ([`SiteState::is_active_at`]).
    On,
    /// The flag is set and the window starts later: maintenance will begin by itself.
    Scheduled,
    /// Neither: the flag is off, or the window has ended.
    Off,
}

impl StateFilter {
    /// The state of `site` at `now`.
    ///
    /// ```
    /// use chrono::{Duration, Utc};
    /// use maintenance_core::{SiteState, StateFilter};
    /// let now = Utc::now();
    /// let mut site = SiteState::new(1, "example.com");
    /// assert_eq!(StateFilter::of(&site, now), StateFilter::Off);
    /// site.enabled = true;
    /// assert_eq!(StateFilter::of(&site, now), StateFilter::On);
    /// site.starts_at = Some(now + Duration::hours(1));
    /// assert_eq!(StateFilter::of(&site, now), StateFilter::Scheduled);
    /// ```
    pub fn of(site: &SiteState, now: DateTime<Utc>) -> StateFilter {
        if site.is_active_at(now) {
            StateFilter::On
        } else if site.enabled && site.starts_at.is_some_and(|start| now < start) {
            StateFilter::Scheduled
        } else {
            StateFilter::Off
        }
    }

    /// The name used on the command line and in URLs: `on`, `off` or `scheduled`.
    pub fn as_str(self) -> &'static str {
        match self {
            StateFilter::On => "on",
            StateFilter::Scheduled => "scheduled",
            StateFilter::Off => "off",
        }
    }
}

impl fmt::Display for StateFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for StateFilter {
    type Err = ValidationError;

    /// ```
    /// use maintenance_core::StateFilter;
    /// assert_eq!("scheduled".parse::<StateFilter>().unwrap(), StateFilter::Scheduled);
    /// let err = "down".parse::<StateFilter>().unwrap_err();
    /// assert!(err.to_string().contains("`down`"));
    /// ```
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "on" => Ok(StateFilter::On),
            "off" => Ok(StateFilter::Off),
            "scheduled" => Ok(StateFilter::Scheduled),
            other => Err(ValidationError::StateFilter(other.to_owned())),
        }
    }
}

/// Which sites a listing shows, and which page of them.
///
/// Sites are ordered with the default site first, then by domain. The search is a
/// case-insensitive substring of the domain or the name; the tag filter keeps the sites that
/// carry one of its tags.
///
/// ```
/// use chrono::Utc;
/// use maintenance_core::{SiteQuery, SiteState, StateFilter};
/// let sites = vec![SiteState::new(1, "b.example"), SiteState::new(2, "a.example"), SiteState::new(3, "c.test")];
/// let query = SiteQuery::all(Utc::now()).search("EXAMPLE").limit(1);
/// let page = query.page_of(&sites);
/// assert_eq!(page.total, 2);
/// assert_eq!(page.sites[0].domain, "a.example");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteQuery {
    /// Only sites whose domain or name contains this text (case-insensitive); `None` or empty
    /// for all.
    pub search: Option<String>,
    /// Only sites in this state at [`SiteQuery::now`].
    pub state: Option<StateFilter>,
    /// Only sites carrying one of these tags (in [`crate::validate::tag`] form); empty for
    /// all.
    pub tags: Vec<String>,
    /// The moment the state filter is evaluated at.
    pub now: DateTime<Utc>,
    /// How many matching sites to skip.
    pub offset: u64,
    /// How many to return at most (at most [`MAX_PAGE_SIZE`]).
    pub limit: u32,
}

impl SiteQuery {
    /// Every site, first page of [`MAX_PAGE_SIZE`].
    pub fn all(now: DateTime<Utc>) -> Self {
        SiteQuery {
            search: None,
            state: None,
            tags: Vec::new(),
            now,
            offset: 0,
            limit: MAX_PAGE_SIZE,
        }
    }

    /// Only sites whose domain or name contains `text`.
    pub fn search(mut self, text: impl Into<String>) -> Self {
        self.search = Some(text.into());
        self
    }

    /// Only sites in `state`.
    pub fn state(mut self, state: StateFilter) -> Self {
        self.state = Some(state);
        self
    }

    /// Only sites carrying `tag` (with those of earlier calls: any of them). The tag is taken
    /// as given: check it first with [`crate::validate::tag`].
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.tags.push(tag.into());
        self
    }

    /// Skip `offset` matching sites.
    pub fn offset(mut self, offset: u64) -> Self {
        self.offset = offset;
        self
    }

    /// Return at most `limit` sites (capped at [`MAX_PAGE_SIZE`]).
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = limit.min(MAX_PAGE_SIZE);
        self
    }

    /// The search text, lower-cased, when there is one.
    pub fn search_text(&self) -> Option<String> {
        self.search
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_lowercase)
    }

    /// Whether `site` is one this query shows (before paging).
    pub fn matches(&self, site: &SiteState) -> bool {
        let text_ok = self.search_text().is_none_or(|text| {
            site.domain.to_lowercase().contains(&text) || site.name.to_lowercase().contains(&text)
        });
        text_ok
            && self
                .state
                .is_none_or(|s| StateFilter::of(site, self.now) == s)
            && (self.tags.is_empty() || site.tags.iter().any(|t| self.tags.contains(t)))
    }

    /// The page this query selects from `sites`, in the listing order.
    pub fn page_of(&self, sites: &[SiteState]) -> SitePage {
        let mut matching: Vec<&SiteState> = sites.iter().filter(|s| self.matches(s)).collect();
        matching.sort_by(|a, b| {
            b.is_default
                .cmp(&a.is_default)
                .then_with(|| a.domain.cmp(&b.domain))
        });
        let total = matching.len() as u64;
        let start = usize::try_from(self.offset).unwrap_or(usize::MAX);
        let sites = matching
            .into_iter()
            .skip(start)
            .take(self.limit.min(MAX_PAGE_SIZE) as usize)
            .cloned()
            .collect();
        SitePage { total, sites }
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SitePage {
    /// How many sites match the query in all (every page).
    pub total: u64,
    /// The sites of this page, in the listing order.
    pub sites: Vec<SiteState>,
}

/// The sites a bulk change applies to (and, for commands that follow changes, the sites they
/// watch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SiteSelection {
    /// Every site.
    All,
    /// These sites; an unknown one fails the whole change.
    Sites(Vec<SiteRef>),
    /// These sites and every site carrying one of these tags (in [`crate::validate::tag`]
    /// form), each once; an unknown site, or a tag no site carries, fails the whole change.
    Tagged {
        /// Sites named one by one.
        sites: Vec<SiteRef>,
        /// Tags whose sites are selected.
        tags: Vec<String>,
    },
}

impl SiteSelection {
    /// The named sites and the sites carrying one of `tags`: [`SiteSelection::Sites`] without
    /// tags, [`SiteSelection::Tagged`] with some. Tags are checked and put in their stored
    /// form ([`crate::validate::tags`]).
    ///
    /// ```
    /// use maintenance_core::{SiteRef, SiteSelection};
    /// let selection = SiteSelection::of(vec![SiteRef::Default], ["EU"]).unwrap();
    /// assert_eq!(selection, SiteSelection::Tagged { sites: vec![SiteRef::Default], tags: vec!["eu".into()] });
    /// assert!(SiteSelection::of(Vec::new(), ["not a tag"]).is_err());
    /// ```
    pub fn of<I, S>(sites: Vec<SiteRef>, tags: I) -> Result<Self, ValidationError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let tags = crate::validate::tags(tags)?;
        Ok(if tags.is_empty() {
            SiteSelection::Sites(sites)
        } else {
            SiteSelection::Tagged { sites, tags }
        })
    }

    /// The tags the selection names (none for [`SiteSelection::All`] and
    /// [`SiteSelection::Sites`]).
    pub fn tags(&self) -> &[String] {
        match self {
            SiteSelection::Tagged { tags, .. } => tags,
            SiteSelection::All | SiteSelection::Sites(_) => &[],
        }
    }

    /// The sites the selection names one by one (none for [`SiteSelection::All`]).
    pub fn named(&self) -> &[SiteRef] {
        match self {
            SiteSelection::Sites(sites) | SiteSelection::Tagged { sites, .. } => sites,
            SiteSelection::All => &[],
        }
    }

    /// Whether the selection is empty by construction (no site named, no tag, not all).
    pub fn is_empty(&self) -> bool {
        !matches!(self, SiteSelection::All) && self.named().is_empty() && self.tags().is_empty()
    }
}
