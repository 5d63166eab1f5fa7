//! Ignored-path patterns with the seed's meaning.
//!
//! A pattern is a regular expression matched at the *start* of the request path without its
//! leading `/` (Python's `re.match` on `request.path_info[1:]`), so `^ignored-page/$` exempts
//! `/ignored-page/` and rows copied from a Django database work unchanged. A pattern written
//! with a leading `/` or `^/` means the same. A site's patterns are checked when it is read and
//! compiled together into one multi-pattern regex ([`PatternSet`]) on the site's first path
//! check; a path that could be read differently by the application (dot-segments, encoded
//! slashes, bad percent-encoding) is never matched.

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};

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

/// Checks that `pattern` is a usable ignored-path pattern: its length, its syntax, and that
/// it compiles within the size limit. Writes go through this check.
///
/// ```
/// use maintenance_core::validate_pattern;
/// assert!(validate_pattern("^ignored-page/$").is_ok());
/// let err = validate_pattern("^(unclosed").unwrap_err();
/// assert!(err.to_string().contains("^(unclosed"));
/// ```
pub fn validate_pattern(pattern: &str) -> Result<(), ValidationError> {
    check_length(pattern)?;
    RegexBuilder::new(&anchored(pattern))
        .size_limit(PATTERN_SIZE_LIMIT)
        .build()
        .map(|_| ())
        .map_err(|e| invalid(pattern, e.to_string()))
}

/// Checks a pattern's length and syntax only, without compiling it: what reading a stored
/// pattern needs (a few microseconds, where a compile costs tens and holds memory). A pattern
/// that passes may still exceed the size limit; [`PatternSet`] leaves such a pattern out, with
/// a warning, when it compiles the set.
///
/// ```
/// use maintenance_core::validate;
/// assert!(validate::pattern_syntax("^shop/[0-9]+/$").is_ok());
/// assert!(validate::pattern_syntax("^(bad").is_err());
/// ```
pub fn check_pattern_syntax(pattern: &str) -> Result<(), ValidationError> {
    check_length(pattern)?;
    regex_automata::util::syntax::parse(&anchored(pattern))
        .map(drop)
        .map_err(|e| invalid(pattern, e.to_string()))
}

fn check_length(pattern: &str) -> Result<(), ValidationError> {
    let len = pattern.chars().count();
    if len > MAX_PATTERN_LEN {
        return Err(invalid(
            pattern,
            format!("{len} characters long; at most {MAX_PATTERN_LEN} are allowed"),
        ));
    }
    Ok(())
}

fn invalid(pattern: &str, reason: String) -> ValidationError {
    ValidationError::Pattern {
        pattern: pattern.to_owned(),
        reason,
    }
}

/// A set of ignored-path patterns, compiled on first use.
///
/// Building a set only checks each pattern's syntax; the set is compiled into one
/// multi-pattern regex the first time a path is matched against it (a request then waits for
/// at most that one compile), and once compiled it stays so for as long as the set lives. A
/// set is cheap to clone: clones share the patterns and the compiled regex, so sites with the
/// same patterns (see [`crate::Snapshot`]) compile them once, and a site that did not change
/// keeps its compiled set across snapshots.
#[derive(Debug, Clone)]
pub struct PatternSet {
    inner: Arc<SetInner>,
}

#[derive(Debug)]
struct SetInner {
    patterns: Vec<String>,
    compiled: OnceLock<Compiled>,
}

#[derive(Debug)]
struct Compiled {
    regex: Option<MultiRegex>,
    /// The patterns the regex holds: those that compiled.
    kept: usize,
}

impl PatternSet {
    /// An empty set that matches nothing.
    pub fn empty() -> Self {
        PatternSet::from_checked(Vec::new())
    }

    fn from_checked(patterns: Vec<String>) -> Self {
        PatternSet {
            inner: Arc::new(SetInner {
                patterns,
                compiled: OnceLock::new(),
            }),
        }
    }

    /// A set of the patterns whose syntax is valid, compiled on first use; each invalid one
    /// is passed to `on_invalid` and left out.
    pub fn new<'a>(
        patterns: impl IntoIterator<Item = &'a str>,
        mut on_invalid: impl FnMut(ValidationError),
    ) -> Self {
        PatternSet::from_checked(passing(patterns, check_pattern_syntax, &mut on_invalid))
    }

    /// Compiles the valid patterns now; each invalid one is passed to `on_invalid` and left
    /// out.
    pub fn compile<'a>(
        patterns: impl IntoIterator<Item = &'a str>,
        mut on_invalid: impl FnMut(ValidationError),
    ) -> Self {
        let set = PatternSet::from_checked(passing(patterns, validate_pattern, &mut on_invalid));
        let compiled = Compiled::build(&set.inner.patterns, &mut on_invalid);
        let _ = set.inner.compiled.set(compiled);
        set
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
        &self.inner.patterns
    }

    /// Whether the set has no pattern.
    pub fn is_empty(&self) -> bool {
        self.inner.patterns.is_empty()
    }

    /// Whether the set has been compiled (by a match, or by [`PatternSet::compile`]).
    pub fn is_compiled(&self) -> bool {
        self.inner.compiled.get().is_some()
    }

    /// How many of the patterns are in the compiled regex, once compiled: fewer than
    /// [`PatternSet::patterns`] when some did not compile.
    pub fn compiled_len(&self) -> Option<usize> {
        self.inner.compiled.get().map(|c| c.kept)
    }

    /// How many sets share this one's patterns and compile (itself included).
    pub(crate) fn users(&self) -> usize {
        Arc::strong_count(&self.inner)
    }

    /// Whether `self` and `other` are the same set in memory (sharing one compile).
    pub fn shares_with(&self, other: &PatternSet) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// Whether a pattern matches `relative`, a path already prepared by [`path_for_matching`].
    /// The first call compiles the set.
    pub fn matches_prepared(&self, relative: &str) -> bool {
        if self.inner.patterns.is_empty() {
            return false;
        }
        let compiled = self.inner.compiled.get_or_init(|| {
            Compiled::build(&self.inner.patterns, &mut |e| {
                tracing::warn!(error = %e, "leaving out an ignored-path pattern that does not compile");
            })
        });
        compiled
            .regex
            .as_ref()
            .is_some_and(|r| r.is_match(relative))
    }
}

/// The patterns that pass `check`, as owned strings; each one that does not goes to
/// `on_invalid`.
fn passing<'a>(
    patterns: impl IntoIterator<Item = &'a str>,
    check: fn(&str) -> Result<(), ValidationError>,
    on_invalid: &mut dyn FnMut(ValidationError),
) -> Vec<String> {
    let mut kept = Vec::new();
    for pattern in patterns {
        match check(pattern) {
            Ok(()) => kept.push(pattern.to_owned()),
            Err(e) => on_invalid(e),
        }
    }
    kept
}

impl Compiled {
    /// One multi-pattern regex of `patterns`. A pattern that does not compile within the
    /// size limit on its own is left out (reported); if the rest still exceed the limit
    /// together, none is kept rather than an arbitrary subset.
    fn build(patterns: &[String], on_invalid: &mut dyn FnMut(ValidationError)) -> Compiled {
        if patterns.is_empty() {
            return Compiled {
                regex: None,
                kept: 0,
            };
        }
        if let Ok(regex) = build_set(patterns) {
            return Compiled {
                regex: Some(regex),
                kept: patterns.len(),
            };
        }
        // Find the patterns that fail alone: only then is the set's failure worth a search.
        let usable = passing(
            patterns.iter().map(String::as_str),
            validate_pattern,
            &mut *on_invalid,
        );
        if usable.is_empty() {
            return Compiled {
                regex: None,
                kept: 0,
            };
        }
        match build_set(&usable) {
            Ok(regex) => Compiled {
                regex: Some(regex),
                kept: usable.len(),
            },
            Err(e) => {
                on_invalid(invalid(
                    &usable.join(" | "),
                    format!("the set of patterns is too large: {e}"),
                ));
                Compiled {
                    regex: None,
                    kept: 0,
                }
            }
        }
    }
}

/// One multi-pattern regex, as `regex::RegexSet` builds, but without the one-pass DFA:
/// regex-automata 0.4.19's one-pass engine panics on some pattern sets (e.g. `""` with
/// `\u{85e}\Ba` on the path `¡`), and a pattern comes from the database, so no pattern may
/// make a request panic.
fn build_set(patterns: &[String]) -> Result<MultiRegex, String> {
    let anchored_patterns: Vec<String> = patterns.iter().map(|p| anchored(p)).collect();
    MultiRegex::builder()
        .configure(
            SetConfig::new()
                .onepass(false)
                .nfa_size_limit(Some(SET_SIZE_LIMIT)),
        )
        .build_many(&anchored_patterns)
        .map_err(|e| e.to_string())
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
