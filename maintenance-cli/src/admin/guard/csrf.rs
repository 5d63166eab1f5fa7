//! The origin check of every POST: a form sent from another site is refused before it is
//! read (the CSRF token, checked by [`super::access::Post`], is the second line).

use http::{HeaderMap, header};

use super::host::AllowedHosts;

/// Whether a POST comes from this page: its `Origin`, when sent, is one of the page's origins
/// (listen address, loopback names, public origins), and `Sec-Fetch-Site`, when sent, does not
/// name another site.
///
/// `X-Forwarded-Host` is not consulted: a page that rebound its name to this address may send
/// any such header with `fetch`; the public origin behind a proxy is configured instead.
pub(crate) fn same_origin(headers: &HeaderMap, hosts: &AllowedHosts) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        match site.to_str() {
            Ok("same-origin" | "none") => {}
            _ => return false,
        }
    }
    match headers.get(header::ORIGIN) {
        None => true,
        Some(origin) => origin.to_str().is_ok_and(|o| hosts.allows_origin(o)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn origin_must_be_one_of_the_pages_when_sent() {
        let hosts = AllowedHosts::new(
            "127.0.0.1:8085".parse().unwrap(),
            vec!["https://admin.example.com".parse().unwrap()],
        );
        let local = ("host", "127.0.0.1:8085");
        let cases: [(&[(&'static str, &str)], bool); 8] = [
            (&[local], true),
            (&[local, ("origin", "http://127.0.0.1:8085")], true),
            (
                &[
                    ("host", "localhost:8085"),
                    ("origin", "http://localhost:8085"),
                ],
                true,
            ),
            (&[local, ("origin", "http://evil.example")], false),
            (&[local, ("origin", "null")], false),
            (&[local, ("sec-fetch-site", "cross-site")], false),
            // Behind a proxy: the configured public origin, whatever Host the proxy sends.
            (&[local, ("origin", "https://admin.example.com")], true),
            // A forwarded host proves nothing: a rebinding page can send it.
            (
                &[
                    local,
                    ("x-forwarded-host", "evil.example"),
                    ("origin", "https://evil.example"),
                ],
                false,
            ),
        ];
        for (pairs, same) in cases {
            assert_eq!(same_origin(&headers(pairs), &hosts), same, "{pairs:?}");
        }
    }
}
