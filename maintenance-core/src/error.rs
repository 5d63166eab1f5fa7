//! Errors of the core: invalid input, invalid policy, and store failures.

use std::error::Error as StdError;

use crate::printable::Printable;

/// A value that cannot be stored or used, with the value and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// A path pattern that is not a valid regular expression (or is too large).
    #[error("invalid ignored-path pattern `{}`: {}", Printable(.pattern), Printable(.reason))]
    Pattern {
        /// The pattern as given.
        pattern: String,
        /// What the regex compiler said.
        reason: String,
    },
    /// A network that is not in CIDR notation.
    #[error(
        "invalid network `{}`: expected CIDR notation such as 10.0.0.0/8 or 2001:db8::/32, or a single address",
        Printable(.0)
    )]
    Cidr(String),
    /// An IPv4-mapped IPv6 network whose prefix is shorter than 96 bits.
    #[error(
        "invalid network `{}`: an IPv4-mapped IPv6 network (::ffff:a.b.c.d) needs a prefix of at least 96; write the IPv4 network instead, such as 10.0.0.0/8",
        Printable(.0)
    )]
    MappedCidr(String),
    /// A domain that cannot name a site.
    #[error(
        "invalid site domain `{}`: expected a host name such as example.com (letters, digits, `-` and `.`), an IPv4 address or a bracketed IPv6 address",
        Printable(.0)
    )]
    Domain(String),
    /// An unknown mode.
    #[error("invalid mode `{}`: expected `full` or `read-only`", Printable(.0))]
    Mode(String),
    /// A tag that is not 1 to 48 characters of `a-z`, `0-9`, `_`, `.` and `-`.
    #[error(
        "invalid tag `{}`: expected 1 to 48 characters of a-z, 0-9, `_`, `.` and `-`",
        Printable(.0)
    )]
    Tag(String),
    /// A state filter that is not `on`, `off` or `scheduled`.
    #[error("invalid state `{}`: expected `on`, `off` or `scheduled`", Printable(.0))]
    StateFilter(String),
    /// A window whose end is not after its start.
    #[error("invalid window: ends_at {ends_at} is not after starts_at {starts_at}")]
    Window {
        /// The start, RFC 3339.
        starts_at: String,
        /// The end, RFC 3339.
        ends_at: String,
    },
    /// A text field that is too long.
    #[error("{field} is {len} characters long; at most {max} are allowed")]
    TooLong {
        /// Which field.
        field: &'static str,
        /// Its length in characters.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A list with too many entries.
    #[error("{field} has {count} entries; at most {max} are allowed")]
    TooMany {
        /// Which list.
        field: &'static str,
        /// How many were given.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A bypass secret hash in an unknown format.
    #[error("invalid bypass secret hash: expected `sha256:` followed by 64 hex digits")]
    SecretHash,
}

/// A [`crate::Policy`] that cannot be built; names the bad setting and value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// A bad value in a list setting (internal networks, trusted proxies, ignored patterns).
    /// The message names the setting; its source, the value and what is wrong with it.
    #[error("invalid policy setting `{setting}`")]
    Invalid {
        /// The setting's name.
        setting: &'static str,
        /// What is wrong with the value.
        source: ValidationError,
    },
    /// A status code outside 400..=599.
    #[error(
        "policy setting `status`: {0} is not an error status; expected 400 to 599 (503 is usual)"
    )]
    Status(u16),
    /// A header name that is not valid.
    #[error("policy setting `{setting}`: `{}` is not a valid HTTP header name", Printable(.value))]
    HeaderName {
        /// The setting's name.
        setting: &'static str,
        /// The value given.
        value: String,
    },
    /// A cookie name or path prefix that is not usable.
    #[error("policy setting `{setting}`: `{}` is not valid: {expected}", Printable(.value))]
    Bypass {
        /// The setting's name.
        setting: &'static str,
        /// The value given.
        value: String,
        /// What was expected.
        expected: &'static str,
    },
    /// Any other setting whose value is not usable.
    #[error("policy setting `{setting}`: `{}` is not valid: expected {expected}", Printable(.value))]
    Value {
        /// The setting's name.
        setting: &'static str,
        /// The value given.
        value: String,
        /// What was expected.
        expected: &'static str,
    },
}

/// An error from a [`crate::MaintenanceStore`].
///
/// Stores map their own errors into this enum and keep the source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The value to write is invalid; nothing was written.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The named site does not exist.
    #[error("unknown site `{}`", Printable(.0))]
    UnknownSite(String),
    /// No site carries a tag a selection names.
    #[error("no site carries the tag `{}`", Printable(.0))]
    UnknownTag(String),
    /// The site already exists.
    #[error("site `{}` already exists", Printable(.0))]
    SiteExists(String),
    /// The default site cannot be removed.
    #[error("the default site `{}` cannot be removed", Printable(.0))]
    DefaultSite(String),
    /// A pattern or network to remove is not there.
    #[error("{what} `{}` is not set on site `{}`", Printable(.value), Printable(.site))]
    NotFound {
        /// `ignored pattern`, `allowed network` or `tag`.
        what: &'static str,
        /// The value asked for.
        value: String,
        /// The site's domain.
        site: String,
    },
    /// The database or backend failed. The store's own error is the source (print the chain
    /// with [`ErrorChain`] to see it and its causes).
    #[error("the maintenance store failed")]
    Backend(#[source] Box<dyn StdError + Send + Sync + 'static>),
}

impl StoreError {
    /// Wraps a backend error, keeping it as the source.
    pub fn backend(err: impl StdError + Send + Sync + 'static) -> Self {
        StoreError::Backend(Box::new(err))
    }
}

/// Shows an error with each of its causes once: `{}` on one line (`could not connect to `db`:
/// connection refused`), `{:#}` one cause a line (`could not connect to `db`` then
/// `  caused by: connection refused`), as the `maintenance` command prints errors.
///
/// Every error of maintenance-rs keeps its causes out of its own message and hands them out
/// as [`source`](StdError::source), so a wrapper's message never repeats its cause; print
/// errors through this to see the whole story.
///
/// ```
/// use maintenance_core::{ErrorChain, Policy};
///
/// let err = Policy::builder().internal_networks(["10.0.0.0/99"]).build().unwrap_err();
/// let line = ErrorChain(&err).to_string();
/// assert!(line.starts_with("invalid policy setting `internal_networks`: invalid network `10.0.0.0/99`"));
/// let lines = format!("{:#}", ErrorChain(&err));
/// assert!(lines.contains("\n  caused by: invalid network `10.0.0.0/99`"));
/// ```
#[derive(Clone, Copy)]
pub struct ErrorChain<'a>(pub &'a (dyn StdError + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = self.0.source();
        while let Some(err) = cause {
            if f.alternate() {
                write!(f, "\n  caused by: {err}")?;
            } else {
                write!(f, ": {err}")?;
            }
            cause = err.source();
        }
        Ok(())
    }
}

impl std::fmt::Debug for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod printable_tests {
    use super::*;

    #[test]
    fn errors_escape_the_stored_text_they_quote() {
        let shown = [
            ValidationError::Domain("shop\u{1b}[2J\r.example".into()).to_string(),
            ValidationError::Pattern {
                pattern: "^a\u{7}(".into(),
                reason: "unclosed group".into(),
            }
            .to_string(),
            StoreError::UnknownSite("x\u{1b}]0;owned\u{7}".into()).to_string(),
            StoreError::NotFound {
                what: "ignored pattern",
                value: "\r^admin".into(),
                site: "shop\u{202e}.example".into(),
            }
            .to_string(),
        ];
        for text in shown {
            assert!(
                !text.chars().any(crate::printable::needs_escape),
                "{text:?}"
            );
            assert!(text.contains("\\u{"), "{text}");
        }
    }
}
