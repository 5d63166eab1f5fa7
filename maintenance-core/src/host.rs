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

/// A request's host as sites are keyed ([`normalize_host`]), or `None` when it is not a plain
/// `host[:port]`.
///
/// Routers read odd hosts differently: actix-web's `guard::Host` and `http`'s `Uri::host`
/// drop userinfo (`x@shop.example` is `shop.example` to them) while a router that compares the
/// whole `Host` value sees no known site; a scheme or a path in `Host` (`http://shop.example`)
/// is parsed by some and refused by others. A host with userinfo, a scheme, a path, a query,
/// percent-encoding, spaces, an empty label or a bad port is therefore unreadable, and the
/// decision treats it as strictly as the strictest site, whatever site a router makes of it.
///
/// An empty host (HTTP/1.0, or an empty `Host` line) is readable and names no site.
///
/// ```
/// use maintenance_core::host_key;
/// assert_eq!(host_key("Shop.Example.:8080").as_deref(), Some("shop.example"));
/// assert_eq!(host_key("[2001:DB8::1]:443").as_deref(), Some("[2001:db8::1]"));
/// assert_eq!(host_key("x@shop.example"), None);
/// assert_eq!(host_key("http://shop.example"), None);
/// assert_eq!(host_key("shop.example:80x"), None);
/// ```
pub fn host_key(host: &str) -> Option<Cow<'_, str>> {
    let host = host.trim_matches([' ', '\t']);
    if host.is_empty() {
        return Some(Cow::Borrowed(""));
    }
    let port_ok = |port: &str| port.bytes().all(|b| b.is_ascii_digit()) && port.len() <= 5;
    let name = if let Some(rest) = host.strip_prefix('[') {
        let end = rest.find(']')?;
        let (inner, after) = (&rest[..end], &rest[end + 1..]);
        inner.parse::<Ipv6Addr>().ok()?;
        match after.strip_prefix(':') {
            Some(port) if port_ok(port) => {}
            None if after.is_empty() => {}
            _ => return None,
        }
        &host[..end + 2]
    } else if host.bytes().filter(|&b| b == b':').count() > 1 {
        // A bare IPv6 address: not valid in `Host`, but a site may be keyed by one.
        host.parse::<Ipv6Addr>().ok()?;
        host
    } else {
        let (name, port) = host.split_once(':').unwrap_or((host, ""));
        if !port_ok(port) {
            return None;
        }
        let labels = name.strip_suffix('.').unwrap_or(name);
        let label_ok = |label: &str| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        if labels.len() > 253 || !labels.split('.').all(label_ok) {
            return None;
        }
        name
    };
    Some(normalize_host(name))
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
    fn request_hosts_that_are_not_plain_names_are_unreadable() {
        let readable = [
            ("shop.example", "shop.example"),
            ("SHOP.example:8000", "shop.example"),
            ("shop.example.", "shop.example"),
            ("shop.example.:443", "shop.example"),
            ("shop.example:", "shop.example"),
            ("127.0.0.1:3000", "127.0.0.1"),
            ("[::1]", "[::1]"),
            ("[2001:DB8::1]:8080", "[2001:db8::1]"),
            ("::1", "::1"),
            ("xn--shp-sna.example", "xn--shp-sna.example"),
            ("under_score.example", "under_score.example"),
            ("", ""),
        ];
        for (input, want) in readable {
            assert_eq!(host_key(input).as_deref(), Some(want), "input {input:?}");
        }
        let unreadable = [
            "x@shop.example",
            "a:b@shop.example:80",
            "@shop.example",
            "http://shop.example",
            "https://shop.example/",
            "shop.example/",
            "shop.example/admin",
            "shop.example?x",
            "shop.example#x",
            "shop%2eexample",
            "shop example",
            "shop..example",
            ".shop.example",
            "shop.example..",
            "shop.example:80x",
            "shop.example:123456",
            "shop.example:80:80",
            "[::1",
            "[::1]x",
            "[::1]:x",
            "[shop.example]",
            "::1::2",
            "shöp.example",
            "shop.example\\",
        ];
        for input in unreadable {
            assert_eq!(host_key(input), None, "input {input:?}");
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
