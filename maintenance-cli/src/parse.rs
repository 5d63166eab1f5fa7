//! Parsing of command-line and form values: durations, times, and the checks the core makes,
//! each with a message that names the bad value and what was expected.
//!
//! The functions return `Result<_, String>` so that clap can use them as value parsers and
//! report a bad value as a usage error (exit status 2).

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use maintenance_core::{MAX_PAGE_SIZE, StateFilter, validate};

/// The longest duration `--for` accepts: ten years.
pub const MAX_DURATION_DAYS: i64 = 3650;

/// The longest actor name accepted.
pub const MAX_ACTOR_LEN: usize = 255;

const DURATION_EXPECTED: &str =
    "expected a duration such as 90s, 30m, 2h, 1h30m or 1d (units d, h, m, s)";

/// Parses a duration such as `90s`, `30m`, `2h`, `1h30m` or `1d`.
///
/// Each part is a whole number followed by a unit (`d`, `h`, `m`, `s`); the parts add up. The
/// total must be greater than zero and at most ten years.
///
/// ```
/// use maintenance_cli::parse::duration;
/// assert_eq!(duration("1h30m").unwrap().num_minutes(), 90);
/// assert_eq!(duration("1d").unwrap().num_hours(), 24);
/// assert!(duration("30").unwrap_err().contains("`30`"));
/// ```
pub fn duration(text: &str) -> Result<TimeDelta, String> {
    let bad = |why: &str| format!("invalid duration `{text}`: {why}; {DURATION_EXPECTED}");
    let s = text.trim();
    if s.is_empty() {
        return Err(bad("it is empty"));
    }
    let max_secs = MAX_DURATION_DAYS * 86_400;
    let mut total: i64 = 0;
    let mut digits = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit: i64 = match c.to_ascii_lowercase() {
            'd' => 86_400,
            'h' => 3_600,
            'm' => 60,
            's' => 1,
            other => return Err(bad(&format!("unknown unit `{other}`"))),
        };
        if digits.is_empty() {
            return Err(bad(&format!("unit `{c}` has no number before it")));
        }
        let n: i64 = digits.parse().map_err(|_| bad("the number is too large"))?;
        digits.clear();
        total = n
            .checked_mul(unit)
            .and_then(|secs| total.checked_add(secs))
            .filter(|&t| t <= max_secs)
            .ok_or_else(|| bad(&format!("it is longer than {MAX_DURATION_DAYS} days")))?;
    }
    if !digits.is_empty() {
        return Err(bad(&format!("the number `{digits}` has no unit")));
    }
    if total == 0 {
        return Err(bad("it is zero"));
    }
    Ok(TimeDelta::seconds(total))
}

/// Parses an RFC 3339 time such as `2025-06-01T22:00:00Z` or `2025-06-01T23:00:00+01:00`.
///
/// ```
/// use maintenance_cli::parse::time;
/// assert_eq!(time("2025-06-01T23:00:00+01:00").unwrap().to_rfc3339(), "2025-06-01T22:00:00+00:00");
/// assert!(time("tomorrow").unwrap_err().contains("`tomorrow`"));
/// ```
pub fn time(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            format!(
                "invalid time `{text}`: {e}; expected RFC 3339 such as 2025-06-01T22:00:00Z or 2025-06-01T23:00:00+01:00"
            )
        })
}

/// Parses a time typed into the admin page: RFC 3339, or a date and time without offset
/// (`2025-06-01T22:00`, `2025-06-01 22:00:00`, as a `datetime-local` input sends), read as UTC.
///
/// ```
/// use maintenance_cli::parse::form_time;
/// assert_eq!(form_time("2025-06-01T22:00").unwrap().to_rfc3339(), "2025-06-01T22:00:00+00:00");
/// assert!(form_time("2025-06-01T25:00").is_err());
/// ```
pub fn form_time(text: &str) -> Result<DateTime<Utc>, String> {
    let s = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%d %H:%M:%S",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, format) {
            return Ok(t.and_utc());
        }
    }
    Err(format!(
        "invalid time `{text}`: expected RFC 3339 such as 2025-06-01T22:00:00Z, or 2025-06-01T22:00 (read as UTC)"
    ))
}

/// Checks a domain for a new site and returns it normalised.
pub fn domain(text: &str) -> Result<String, String> {
    validate::domain(text).map_err(|e| e.to_string())
}

/// Checks a tag and returns it as stored (lower case).
pub fn tag(text: &str) -> Result<String, String> {
    validate::tag(text).map_err(|e| e.to_string())
}

/// Checks an ignored-path pattern (a regular expression); the error carries the regex error.
pub fn pattern(text: &str) -> Result<String, String> {
    if text.trim().is_empty() {
        return Err(format!(
            "invalid ignored-path pattern `{text}`: expected a regular expression such as ^health/$ (an empty pattern would ignore every path)"
        ));
    }
    validate::pattern(text)
        .map(|()| text.to_owned())
        .map_err(|e| e.to_string())
}

/// Checks a network in CIDR notation (or a single address) and returns it as given.
pub fn network(text: &str) -> Result<String, String> {
    validate::network(text)
        .map(|_| text.trim().to_owned())
        .map_err(|e| e.to_string())
}

/// Checks a maintenance message's length.
pub fn message(text: &str) -> Result<String, String> {
    validate::text("message", text, validate::MAX_MESSAGE_LEN)
        .map(|()| text.to_owned())
        .map_err(|e| format!("invalid message: {e}"))
}

/// Checks a description's length.
pub fn description(text: &str) -> Result<String, String> {
    validate::text("description", text, validate::MAX_DESCRIPTION_LEN)
        .map(|()| text.to_owned())
        .map_err(|e| format!("invalid description: {e}"))
}

/// Checks a site name's length.
pub fn site_name(text: &str) -> Result<String, String> {
    if text.trim().is_empty() {
        return Err("invalid site name ``: expected a non-empty name".to_owned());
    }
    validate::text("name", text, validate::MAX_NAME_LEN)
        .map(|()| text.to_owned())
        .map_err(|e| format!("invalid site name: {e}"))
}

/// Checks an actor name: not empty, at most [`MAX_ACTOR_LEN`] characters, no control characters.
pub fn actor(text: &str) -> Result<String, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err(format!(
            "invalid actor `{text}`: expected a non-empty name such as alice"
        ));
    }
    if t.chars().count() > MAX_ACTOR_LEN {
        return Err(format!(
            "invalid actor: it is {} characters long; at most {MAX_ACTOR_LEN} are allowed",
            t.chars().count()
        ));
    }
    if t.chars().any(char::is_control) {
        return Err(format!(
            "invalid actor {t:?}: expected a name without control characters"
        ));
    }
    Ok(t.to_owned())
}

/// Checks a base URL for the bypass link (`http://` or `https://` and a host, maybe a path)
/// and returns it without a trailing `/`.
///
/// ```
/// use maintenance_cli::parse::base_url;
/// assert_eq!(base_url("https://shop.example.com/").unwrap(), "https://shop.example.com");
/// assert!(base_url("shop.example.com").unwrap_err().contains("`shop.example.com`"));
/// ```
pub fn base_url(text: &str) -> Result<String, String> {
    let bad = || {
        format!(
            "invalid base URL `{text}`: expected http:// or https:// and a host, such as https://shop.example.com"
        )
    };
    let t = text.trim();
    let rest = t
        .strip_prefix("https://")
        .or_else(|| t.strip_prefix("http://"))
        .ok_or_else(bad)?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty()
        || t.contains(['?', '#'])
        || t.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(bad());
    }
    Ok(t.trim_end_matches('/').to_owned())
}

/// Parses a listing's state filter: `on`, `off` or `scheduled`.
///
/// ```
/// use maintenance_cli::parse::state_filter;
/// assert!(state_filter("on").is_ok());
/// assert!(state_filter("down").unwrap_err().contains("`down`"));
/// ```
pub fn state_filter(text: &str) -> Result<StateFilter, String> {
    text.parse()
        .map_err(|e: maintenance_core::ValidationError| e.to_string())
}

/// Parses a Django `SITE_ID`: a whole number from 1.
///
/// ```
/// use maintenance_cli::parse::site_id;
/// assert_eq!(site_id("2"), Ok(2));
/// assert!(site_id("-1").unwrap_err().contains("`-1`"));
/// ```
pub fn site_id(text: &str) -> Result<i64, String> {
    match text.trim().parse::<i64>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!(
            "invalid SITE_ID `{text}`: expected the Django setting, a whole number from 1"
        )),
    }
}

/// Parses a page number, counted from 1.
///
/// ```
/// use maintenance_cli::parse::page;
/// assert_eq!(page("2"), Ok(2));
/// assert!(page("0").unwrap_err().contains("`0`"));
/// ```
pub fn page(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!(
            "invalid page `{text}`: expected a whole number from 1"
        )),
    }
}

/// Parses a page size, from 1 to [`MAX_PAGE_SIZE`].
///
/// ```
/// use maintenance_cli::parse::per_page;
/// assert_eq!(per_page("100"), Ok(100));
/// assert!(per_page("5000").unwrap_err().contains("`5000`"));
/// ```
pub fn per_page(text: &str) -> Result<u32, String> {
    match text.parse::<u32>() {
        Ok(n) if (1..=MAX_PAGE_SIZE).contains(&n) => Ok(n),
        _ => Err(format!(
            "invalid page size `{text}`: expected a whole number from 1 to {MAX_PAGE_SIZE}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_add_their_parts() {
        for (text, secs) in [
            ("90s", 90),
            ("30m", 1800),
            ("2h", 7200),
            ("1h30m", 5400),
            ("1d", 86_400),
            ("1D2H", 93_600),
            (" 45m ", 2700),
            ("1m1m", 120),
        ] {
            assert_eq!(duration(text).unwrap().num_seconds(), secs, "{text}");
        }
    }

    #[test]
    fn bad_durations_name_the_value() {
        for text in [
            "",
            "30",
            "m",
            "5x",
            "0s",
            "0h0m",
            "-5m",
            "1.5h",
            "99999999999999999999s",
            "4000d",
        ] {
            let err = duration(text).unwrap_err();
            assert!(err.contains(&format!("`{text}`")), "{text}: {err}");
            assert!(err.contains("expected a duration"), "{text}: {err}");
        }
    }

    #[test]
    fn times_are_rfc3339() {
        assert!(time("2025-06-01T22:00:00Z").is_ok());
        assert!(time("2025-06-01 22:00:00").is_err());
        let err = time("2025-13-01T00:00:00Z").unwrap_err();
        assert!(err.contains("RFC 3339"), "{err}");
    }

    #[test]
    fn form_times_accept_datetime_local() {
        assert_eq!(
            form_time("2025-06-01T22:00:30").unwrap(),
            time("2025-06-01T22:00:30Z").unwrap()
        );
        assert!(form_time("soon").unwrap_err().contains("`soon`"));
    }

    #[test]
    fn checks_name_the_value() {
        assert!(pattern("^(x").unwrap_err().contains("^(x"));
        assert!(network("10.0.0.0/33").unwrap_err().contains("10.0.0.0/33"));
        assert_eq!(network(" 10.0.0.0/8 ").unwrap(), "10.0.0.0/8");
        assert!(domain("bad domain").unwrap_err().contains("bad domain"));
        assert!(actor("").is_err());
        assert!(actor("a\u{7}").is_err());
        assert_eq!(actor(" bob ").unwrap(), "bob");
        assert!(message(&"x".repeat(2001)).unwrap_err().contains("2001"));
        assert!(base_url("ftp://x").is_err());
        assert!(base_url("http://").is_err());
        assert!(base_url("http://a b").is_err());
        assert_eq!(base_url("http://h:8080/app/").unwrap(), "http://h:8080/app");
    }
}
