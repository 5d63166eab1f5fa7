//! Host names: normalising the request's host and checking site domains.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv6Addr};

use crate::error::ValidationError;

/// The host as sites are keyed: lower case, without port and trailing dot.
///
/// Allocates only when the host has upper-case letters.
///
/// ```
/// use maintenance_core::host::normalize_host;
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
/// use maintenance_core::host::host_key;
/// assert_eq!(host_key("Shop.Example.:8080").as_deref(), Some("shop.example"));
/// assert_eq!(host_key("[2001:DB8::1]:443").as_deref(), Some("[2001:db8::1]"));
/// assert_eq!(host_key("x@shop.example"), None);
/// assert_eq!(host_key("http://shop.example"), None);
/// assert_eq!(host_key("shop.example:80x"), None);
/// ```
pub fn host_key(host: &str) -> Option<Cow<'_, str>> {
    read_host(host).map(|read| read.key)
}

/// A readable request host: its key, and whether its name was written exactly as the key
/// (no upper case, no trailing dot), so that routers comparing names find the same site.
pub(crate) struct ReadHost<'a> {
    pub(crate) key: Cow<'a, str>,
    pub(crate) exact: bool,
}

const NAME: u8 = 0;
const UPPER: u8 = 1;
const BAD: u8 = 2;

/// What each byte of a host name is, as bits to OR together: one table lookup a byte.
const HOST_BYTE: [u8; 256] = {
    let mut table = [BAD; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = match c {
            b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => NAME,
            b'A'..=b'Z' => UPPER,
            _ => BAD,
        };
        b += 1;
    }
    table
};

/// [`host_key`], in one pass over the bytes for the common case (a name, maybe a port).
#[inline]
pub(crate) fn read_host(host: &str) -> Option<ReadHost<'_>> {
    let host = host.trim_ascii();
    let port_ok = |port: &str| port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit());
    if host.starts_with('[') {
        let end = host.find(']')?;
        host[1..end].parse::<Ipv6Addr>().ok()?;
        let after = &host[end + 1..];
        match after.strip_prefix(':') {
            Some(port) if port_ok(port) => {}
            None if after.is_empty() => {}
            _ => return None,
        }
        let name = &host[..=end];
        let key = normalize_host(name);
        let exact = key == name;
        return Some(ReadHost { key, exact });
    }
    // Branch-free passes over the bytes (the compiler vectorises them); names are short.
    let bytes = host.as_bytes();
    let colon = bytes.iter().position(|&b| b == b':');
    let name_bytes = &bytes[..colon.unwrap_or(bytes.len())];
    let mut seen = 0u8;
    for &b in name_bytes {
        seen |= HOST_BYTE[usize::from(b)];
    }
    if seen & BAD != 0 {
        return None;
    }
    let upper = seen & UPPER != 0;
    // An empty label (`..`, a leading dot); one trailing dot is allowed below.
    if name_bytes.first() == Some(&b'.') || name_bytes.windows(2).any(|w| w == b"..") {
        return None;
    }
    let (name, port) = match colon {
        Some(i) => (&host[..i], &host[i + 1..]),
        None => (host, ""),
    };
    if port.contains(':') {
        // A bare IPv6 address: not valid in `Host`, but a site may be keyed by one.
        host.parse::<Ipv6Addr>().ok()?;
        let key = normalize_host(host);
        let exact = key == host;
        return Some(ReadHost { key, exact });
    }
    if !port_ok(port) {
        return None;
    }
    if name.is_empty() {
        // No host at all is readable (it names no site); an empty name with a port is not.
        return if colon.is_none() {
            Some(ReadHost {
                key: Cow::Borrowed(""),
                exact: true,
            })
        } else {
            None
        };
    }
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    if trimmed.is_empty() || trimmed.ends_with('.') || trimmed.len() > 253 {
        return None;
    }
    let exact = !upper && trimmed.len() == name.len();
    let key = if upper {
        Cow::Owned(trimmed.to_ascii_lowercase())
    } else {
        Cow::Borrowed(trimmed)
    };
    Some(ReadHost { key, exact })
}

/// Normalises a site domain and checks that it can match a `Host` header.
///
/// ```
/// use maintenance_core::host::validate_domain;
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
