//! Host names: normalising the request's host and checking site domains.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv6Addr};

use crate::error::ValidationError;

/// The host as sites are keyed: lower case, without port and trailing dot.
///
/// Allocates only when the host has upper-case letters.
///
/// ```
/// use maintenance_core::normalize_host;
/// assert_eq!(normalize_host("Example.COM.:8080"), "example.com");
/// assert_eq!(normalize_host("[::1]:3000"), "[::1]");
/// assert_eq!(normalize_host("localhost"), "localhost");
/// ```
pub fn normalize_host(host: &str) -> Cow<'_, str> {
    let host = host.trim();
    let without_port = if host.starts_with('[') {
        match host.find(']') {
            Some(end) => &host[..=end],
            None => host,
        }
    } else {
        match host.rfind(':') {
            // A single colon separates a port; more than one is a bare IPv6 address.
            Some(i) if !host[..i].contains(':') => &host[..i],
            _ => host,
        }
    };
    let trimmed = without_port.strip_suffix('.').unwrap_or(without_port);
    if trimmed.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(trimmed.to_ascii_lowercase())
    } else {
        Cow::Borrowed(trimmed)
    }
}

/// Normalises a site domain and checks that it can match a `Host` header.
///
/// ```
/// use maintenance_core::validate_domain;
/// assert_eq!(validate_domain("Shop.Example.com").unwrap(), "shop.example.com");
/// assert!(validate_domain("bad domain").is_err());
/// ```
pub fn validate_domain(domain: &str) -> Result<String, ValidationError> {
    let bad = || ValidationError::Domain(domain.to_owned());
    let normalized = normalize_host(domain).into_owned();
    if normalized.is_empty() || normalized.len() > 253 {
        return Err(bad());
    }
    if let Some(inner) = normalized
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
    {
        return inner
            .parse::<Ipv6Addr>()
            .map(|_| normalized.clone())
            .map_err(|_| bad());
    }
    if normalized.parse::<IpAddr>().is_ok() {
        return Ok(normalized);
    }
    let labels_ok = normalized.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    if labels_ok {
        Ok(normalized)
    } else {
        Err(bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_is_normalised() {
        let cases = [
            ("example.com", "example.com"),
            ("EXAMPLE.com", "example.com"),
            ("example.com:8080", "example.com"),
            ("example.com.", "example.com"),
            ("Example.Com.:443", "example.com"),
            ("[::1]:8080", "[::1]"),
            ("[2001:DB8::1]", "[2001:db8::1]"),
            ("127.0.0.1:3000", "127.0.0.1"),
            ("::1", "::1"),
            ("", ""),
        ];
        for (input, want) in cases {
            assert_eq!(normalize_host(input), want, "input {input:?}");
        }
    }

    #[test]
    fn domains_are_validated() {
        assert_eq!(
            validate_domain("Shop.Example.COM").unwrap(),
            "shop.example.com"
        );
        assert_eq!(validate_domain("localhost:3000").unwrap(), "localhost");
        assert_eq!(validate_domain("[::1]").unwrap(), "[::1]");
        assert_eq!(validate_domain("10.0.0.1").unwrap(), "10.0.0.1");
        for bad in [
            "",
            "a b",
            "-x.com",
            "x..com",
            "[nope]",
            "exa$mple.com",
            "/path",
        ] {
            let err = validate_domain(bad).unwrap_err();
            assert!(err.to_string().contains(&format!("`{bad}`")), "{err}");
        }
    }
}
