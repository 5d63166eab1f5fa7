//! What the forms carry: a submitted form's fields ([`FormData`]), which form it was
//! ([`FormKind`]), a refused submission to show again ([`Invalid`]) and a bypass secret just
//! made ([`NewSecret`]). The handlers fill them; the views show them.

/// A submitted form: its fields in order.
#[derive(Debug, Clone, Default)]
pub(crate) struct FormData {
    pairs: Vec<(String, String)>,
}

impl FormData {
    /// Parses an `application/x-www-form-urlencoded` body.
    pub(crate) fn parse(body: &[u8]) -> Self {
        FormData {
            pairs: form_urlencoded::parse(body).into_owned().collect(),
        }
    }

    /// The first value of a field.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a field, in order.
    pub(crate) fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.pairs
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of a field, or `""`.
    pub(crate) fn text(&self, name: &str) -> &str {
        self.get(name).unwrap_or_default()
    }
}

/// Which form on the page a submission came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FormKind {
    /// A site's state: flag, mode, message, window, Retry-After.
    State,
    /// Adding an ignored pattern.
    IgnoredAdd,
    /// Adding an allowed network.
    NetworkAdd,
    /// Adding a tag.
    TagAdd,
    /// Removing a pattern, a network or a tag.
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
pub(crate) struct Invalid {
    /// The site the form belongs to, if it is known.
    pub(crate) site_id: Option<i64>,
    /// The form.
    pub(crate) kind: FormKind,
    /// What was submitted.
    pub(crate) values: FormData,
    /// Field name (or `general`) and message.
    pub(crate) errors: Vec<(&'static str, String)>,
}

impl Invalid {
    pub(super) fn for_form(&self, site_id: i64, kind: FormKind) -> Option<&Invalid> {
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
pub(crate) struct NewSecret {
    /// The secret in clear.
    pub(crate) secret: String,
    /// The link that sets the bypass cookie.
    pub(crate) link: String,
    /// A word about the link, when its host must be replaced.
    pub(crate) note: Option<String>,
}
