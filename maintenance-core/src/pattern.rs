//! Ignored-path patterns with the seed's meaning.
//!
//! A pattern is a regular expression matched at the *start* of the request path without its
//! leading `/` (Python's `re.match` on `request.path_info[1:]`), so `^ignored-page/$` exempts
//! `/ignored-page/` and rows copied from a Django database work unchanged. A pattern written
//! with a leading `/` or `^/` means the same. Patterns are compiled once per snapshot into a
//! [`RegexSet`]; a path that could be read differently by the application (dot-segments,
//! encoded slashes, bad percent-encoding) is never matched.

use std::borrow::Cow;

use regex::RegexBuilder;
use regex_automata::meta::{Config as SetConfig, Regex as MultiRegex};

use crate::error::ValidationError;

/// The longest pattern accepted, as the seed's `varchar(255)` column.
pub const MAX_PATTERN_LEN: usize = 255;
const PATTERN_SIZE_LIMIT: usize = 1 << 20;
const SET_SIZE_LIMIT: usize = 16 << 20;

/// The anchored form of a stored pattern.
fn anchored(pattern: &str) -> String {
    let rest = pattern.strip_prefix('^').unwrap_or(pattern);
    let rest = rest.strip_prefix('/').unwrap_or(rest);
    format!("^(?:{rest})")
}

/// Checks that `pattern` is a usable ignored-path pattern.
///
/// ```
/// use maintenance_core::validate_pattern;
/// assert!(validate_pattern("^ignored-page/$").is_ok());
/// let err = validate_pattern("^(unclosed").unwrap_err();
/// assert!(err.to_string().contains("^(unclosed"));
/// ```
pub fn validate_pattern(pattern: &str) -> Result<(), ValidationError> {
    let len = pattern.chars().count();
    if len > MAX_PATTERN_LEN {
        return Err(ValidationError::Pattern {
            pattern: pattern.to_owned(),
            reason: format!("{len} characters long; at most {MAX_PATTERN_LEN} are allowed"),
        });
    }
    RegexBuilder::new(&anchored(pattern))
        .size_limit(PATTERN_SIZE_LIMIT)
        .build()
        .map(|_| ())
        .map_err(|e| ValidationError::Pattern {
            pattern: pattern.to_owned(),
            reason: e.to_string(),
        })
}

/// A compiled set of ignored-path patterns.
#[derive(Debug, Clone)]
pub struct PatternSet {
    set: Option<MultiRegex>,
    patterns: Vec<String>,
}

impl PatternSet {
    /// An empty set that matches nothing.
    pub fn empty() -> Self {
        PatternSet {
            set: None,
            patterns: Vec::new(),
        }
    }

    /// Compiles the valid patterns; each invalid one is passed to `on_invalid` and left out.
    pub fn compile<'a>(
        patterns: impl IntoIterator<Item = &'a str>,
        mut on_invalid: impl FnMut(ValidationError),
    ) -> Self {
        let mut kept = Vec::new();
        for pattern in patterns {
            match validate_pattern(pattern) {
                Ok(()) => kept.push(pattern.to_owned()),
                Err(e) => on_invalid(e),
            }
        }
        if kept.is_empty() {
            return PatternSet::empty();
        }
        let anchored_patterns: Vec<String> = kept.iter().map(|p| anchored(p)).collect();
        // One multi-pattern regex, as `regex::RegexSet` builds, but without the one-pass DFA:
        // regex-automata 0.4.19's one-pass engine panics on some pattern sets (e.g. `""` with
        // `\u{85e}\Ba` on the path `¡`), and a pattern comes from the database, so no pattern
        // may make a request panic.
        match MultiRegex::builder()
            .configure(
                SetConfig::new()
                    .onepass(false)
                    .nfa_size_limit(Some(SET_SIZE_LIMIT)),
            )
            .build_many(&anchored_patterns)
        {
            Ok(set) => PatternSet {
                set: Some(set),
                patterns: kept,
            },
            Err(e) => {
                // Each pattern compiles alone but together they exceed the limit: keep none
                // rather than an arbitrary subset, and say so.
                on_invalid(ValidationError::Pattern {
                    pattern: kept.join(" | "),
                    reason: format!("the set of patterns is too large: {e}"),
                });
                PatternSet::empty()
            }
        }
    }

    /// Compiles patterns that must all be valid.
    pub fn compile_strict<'a>(
        patterns: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, ValidationError> {
        let mut first_error = None;
        let set = PatternSet::compile(patterns, |e| {
            first_error.get_or_insert(e);
        });
        match first_error {
            Some(e) => Err(e),
            None => Ok(set),
        }
    }

    /// The patterns in the set, as written.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    /// Whether the set has no pattern.
    pub fn is_empty(&self) -> bool {
        self.set.is_none()
    }

    /// Whether a pattern matches `relative`, a path already prepared by [`path_for_matching`].
    pub fn matches_prepared(&self, relative: &str) -> bool {
        self.set.as_ref().is_some_and(|s| s.is_match(relative))
    }
}

/// Prepares a request path for pattern matching: percent-decoded, without its leading `/`.
///
/// Returns `None` for a path that must never get a path bypass, because a router, a proxy or
/// the application could read it as another path than the pattern saw: one with a
/// dot-segment (`.` or `..`, encoded or not), an encoded `/` or `\`, a raw `\`, a NUL, bad
/// percent-encoding, bytes that are not UTF-8 once decoded, a `%` left after decoding
/// (double encoding: `%252e`), a `;` (path parameters, which some servers strip), or an
/// empty segment (`//`, which some routers merge).
///
/// ```
/// use maintenance_core::path_for_matching;
/// assert_eq!(path_for_matching("/ignored-page/").as_deref(), Some("ignored-page/"));
/// assert_eq!(path_for_matching("/caf%C3%A9").as_deref(), Some("café"));
/// assert_eq!(path_for_matching("/admin/../shop"), None);
/// assert_eq!(path_for_matching("/admin%2f..%2fshop"), None);
/// assert_eq!(path_for_matching("/admin/%252e%252e/shop"), None);
/// assert_eq!(path_for_matching("/admin;x=1/shop"), None);
/// assert_eq!(path_for_matching("//admin"), None);
/// ```
pub fn path_for_matching(path: &str) -> Option<Cow<'_, str>> {
    let relative = path.strip_prefix('/').unwrap_or(path);
    if relative.contains(['\\', '\0']) {
        return None;
    }
    let decoded: Cow<'_, str> = if relative.contains('%') {
        if ["%2f", "%2F", "%5c", "%5C"]
            .iter()
            .any(|enc| relative.contains(enc))
        {
            return None;
        }
        let bytes = percent_decode(relative)?;
        if bytes.contains(&0) {
            return None;
        }
        Cow::Owned(String::from_utf8(bytes).ok()?)
    } else {
        Cow::Borrowed(relative)
    };
    // One pass for what survives decoding but must not: `%` (double encoding), `;` (path
    // parameters) and empty segments (a leading `/` here is `//` in the path).
    let mut after_slash = true;
    for b in decoded.bytes() {
        match b {
            b'%' | b';' => return None,
            b'/' if after_slash => return None,
            b'/' => after_slash = true,
            _ => after_slash = false,
        }
    }
    if decoded.split('/').any(|seg| seg == "." || seg == "..") {
        return None;
    }
    Some(decoded)
}

fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hi = hex_val(*bytes.get(i + 1)?)?;
            let lo = hex_val(*bytes.get(i + 2)?)?;
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(patterns: &[&str]) -> PatternSet {
        PatternSet::compile_strict(patterns.iter().copied()).unwrap()
    }

    fn matches(set: &PatternSet, path: &str) -> bool {
        path_for_matching(path).is_some_and(|p| set.matches_prepared(&p))
    }

    fn assert_never_match(set: &PatternSet, paths: &[&str]) {
        for path in paths {
            assert!(!matches(set, path), "path {path}");
        }
    }

    #[test]
    fn seed_meaning_is_kept() {
        let s = set(&["^ignored-page/$"]);
        assert!(matches(&s, "/ignored-page/"));
        assert!(!matches(&s, "/ignored-page/x"));
        assert!(!matches(&s, "/x/ignored-page/"));
    }

    #[test]
    fn match_is_anchored_at_start_not_end() {
        let s = set(&["admin"]);
        assert!(matches(&s, "/admin"));
        assert!(matches(&s, "/admin/login/"));
        assert!(matches(&s, "/administrator"));
        assert!(!matches(&s, "/shop/admin"));
    }

    #[test]
    fn leading_slash_means_the_same() {
        for p in [
            "^/ignored-page/$",
            "/ignored-page/$",
            "^ignored-page/$",
            "ignored-page/$",
        ] {
            let s = set(&[p]);
            assert!(matches(&s, "/ignored-page/"), "pattern {p}");
            assert!(!matches(&s, "/other/"), "pattern {p}");
        }
    }

    #[test]
    fn alternation_stays_anchored() {
        let s = set(&["api|static"]);
        assert!(matches(&s, "/api/x"));
        assert!(matches(&s, "/static/x"));
        assert!(!matches(&s, "/shop/static"));
    }

    #[test]
    fn dot_segments_and_encoded_slashes_never_match() {
        let s = set(&["^admin"]);
        assert_never_match(
            &s,
            &[
                "/admin/../shop",
                "/admin/./x",
                "/admin/%2e%2e/shop",
                "/admin/%2E./shop",
                "/admin%2fshop",
                "/admin%2F..%2Fshop",
                "/admin%5cshop",
                "/admin\\..\\shop",
                "/admin%00",
                "/admin%zz",
                "/admin%c3",
                "/admin/..",
            ],
        );
        assert!(matches(&s, "/admin/%41"));
        assert!(matches(&s, "/admin/...hidden"));
        assert!(matches(&s, "/admin/"));
    }

    #[test]
    fn double_encoding_path_parameters_and_empty_segments_never_match() {
        let s = set(&["^admin", "^static/"]);
        assert_never_match(
            &s,
            &[
                "/admin/%252e%252e/shop",
                "/admin%252f..%252fshop",
                "/admin/%25",
                "/admin;jsessionid=1",
                "/admin/..;/shop",
                "/admin/%3b/shop",
                "/static/x;/../../shop",
                "//admin",
                "/admin//shop",
                "/static//x",
                "/%2fadmin",
            ],
        );
        assert!(matches(&s, "/static/app.js"));
    }

    #[test]
    fn invalid_patterns_are_skipped_and_reported() {
        let mut errors = Vec::new();
        let s = PatternSet::compile(["^ok/", "^(bad", "(?<=x)y", "^also-ok"], |e| {
            errors.push(e.to_string())
        });
        assert_eq!(s.patterns(), ["^ok/", "^also-ok"]);
        assert!(matches(&s, "/ok/"));
        assert!(matches(&s, "/also-ok"));
        assert_eq!(errors.len(), 2);
        assert!(errors[0].contains("`^(bad`"), "{}", errors[0]);
    }

    #[test]
    fn overlong_and_huge_patterns_are_refused() {
        assert!(validate_pattern(&"a".repeat(256)).is_err());
        assert!(validate_pattern(&"a".repeat(255)).is_ok());
        // Compiles to far more than the size limit.
        assert!(validate_pattern(r"\w{200}\w{200}\w{200}").is_err());
    }

    #[test]
    fn no_pattern_set_makes_a_match_panic() {
        // regex 1.13 / regex-automata 0.4.19 panic in the one-pass DFA on this set and path.
        let s = set(&["", "\u{85e}\\Ba"]);
        assert!(matches(&s, "/\u{a1}"));
        // `\B` between a non-word and a word character never holds: this one matches nothing.
        let s = set(&["\u{85e}\\Ba"]);
        assert!(!matches(&s, "/\u{a1}"));
        assert!(!matches(&s, "/\u{85e}a"));
    }

    #[test]
    fn empty_set_matches_nothing() {
        let s = PatternSet::empty();
        assert!(!matches(&s, "/"));
        assert!(s.is_empty());
    }
}
