//! The bypass secret: a link that sets a signed cookie, and a header for API clients.
//!
//! The store keeps only a hash of the secret ([`hash_secret`]). Visiting
//! `<prefix>/<secret>` while the site is in maintenance answers with a signed, expiring,
//! `HttpOnly`, `SameSite=Lax` cookie and a redirect to `/`; the cookie, or the secret in the
//! bypass header, then lets the request through. Every comparison runs in constant time.
//! The cookie's signature covers the secret's hash, so a new or cleared secret voids every
//! cookie handed out before.

use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use http::HeaderName;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::request::RequestView;
use crate::validate::SECRET_HASH_PREFIX as HASH_PREFIX;
const COOKIE_VERSION: &str = "v1";

/// The longest bypass cookie lifetime accepted: 400 days, the most browsers keep a cookie.
pub const MAX_BYPASS_COOKIE_TTL: Duration = Duration::from_secs(400 * 24 * 3600);

/// Settings of the bypass secret: the link that sets the cookie, the cookie, the header.
///
/// Its `Debug` output never shows the signing key.
#[derive(Clone)]
pub struct BypassSettings {
    /// Visiting `<path_prefix>/<secret>` sets the cookie and redirects to `/`.
    pub path_prefix: String,
    /// The cookie's name.
    pub cookie_name: String,
    /// How long the cookie is valid.
    pub cookie_ttl: Duration,
    /// Whether the cookie carries `Secure` (default yes; browsers keep `Secure` cookies set
    /// by `http://localhost` too).
    pub cookie_secure: bool,
    /// The header API clients send the secret in.
    pub header: HeaderName,
    /// The key that signs cookies; `None` signs with the stored secret hash.
    pub signing_key: Option<Vec<u8>>,
}

impl Default for BypassSettings {
    fn default() -> Self {
        BypassSettings {
            path_prefix: "/_maintenance/bypass".to_owned(),
            cookie_name: "maintenance_bypass".to_owned(),
            cookie_ttl: Duration::from_secs(12 * 3600),
            cookie_secure: true,
            header: HeaderName::from_static("x-maintenance-bypass"),
            signing_key: None,
        }
    }
}

impl std::fmt::Debug for BypassSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BypassSettings")
            .field("path_prefix", &self.path_prefix)
            .field("cookie_name", &self.cookie_name)
            .field("cookie_ttl", &self.cookie_ttl)
            .field("cookie_secure", &self.cookie_secure)
            .field("header", &self.header)
            .field(
                "signing_key",
                &self.signing_key.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// A fresh random secret: 32 bytes from the operating system, as 64 hex digits.
///
/// # Errors
/// When the operating system has no randomness to give.
pub fn generate_secret() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(hex::encode(bytes))
}

/// The stored form of a secret: `sha256:` and the hex digest.
///
/// Secrets are long random strings, so a plain digest is enough to keep the database from
/// revealing them.
///
/// ```
/// use maintenance_core::bypass::{hash_secret, secret_matches};
/// let hash = hash_secret("let-me-in");
/// assert!(hash.starts_with("sha256:"));
/// assert!(secret_matches("let-me-in", &hash));
/// assert!(!secret_matches("let-me-out", &hash));
/// ```
pub fn hash_secret(secret: &str) -> String {
    format!(
        "{HASH_PREFIX}{}",
        hex::encode(Sha256::digest(secret.as_bytes()))
    )
}

/// Checks that a stored hash has the form [`hash_secret`] gives (see
/// [`crate::validate::secret_hash`]).
pub use crate::validate::secret_hash as check_hash_format;

/// Whether `secret` hashes to `stored_hash`, compared in constant time.
pub fn secret_matches(secret: &str, stored_hash: &str) -> bool {
    let candidate = hash_secret(secret);
    candidate.len() == stored_hash.len()
        && bool::from(candidate.as_bytes().ct_eq(stored_hash.as_bytes()))
}

fn mac(key: Option<&[u8]>, stored_hash: &str, site_id: i64, expires: i64) -> Hmac<Sha256> {
    let key = key.unwrap_or(stored_hash.as_bytes());
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(
        format!("maintenance-bypass|{COOKIE_VERSION}|{site_id}|{expires}|{stored_hash}").as_bytes(),
    );
    mac
}

/// The cookie value for a site: `v1.<site id>.<expiry, unix seconds>.<signature>`.
pub fn sign_cookie(
    key: Option<&[u8]>,
    stored_hash: &str,
    site_id: i64,
    expires: DateTime<Utc>,
) -> String {
    let exp = expires.timestamp();
    let sig = mac(key, stored_hash, site_id, exp).finalize().into_bytes();
    format!("{COOKIE_VERSION}.{site_id}.{exp}.{}", hex::encode(sig))
}

/// Whether a cookie value is valid for the site at `now`: right version, site and signature,
/// not expired, and expiring no later than `now + max_ttl` (a cookie signed for longer than
/// the policy allows, by a key leak or a changed setting, is refused). The signature is
/// checked in constant time.
pub fn verify_cookie(
    key: Option<&[u8]>,
    stored_hash: &str,
    site_id: i64,
    value: &str,
    now: DateTime<Utc>,
    max_ttl: std::time::Duration,
) -> bool {
    let mut parts = value.split('.');
    let (Some(version), Some(id), Some(exp), Some(sig), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return false;
    };
    if version != COOKIE_VERSION || id.parse::<i64>().ok() != Some(site_id) {
        return false;
    }
    let Ok(exp) = exp.parse::<i64>() else {
        return false;
    };
    let latest = i64::try_from(max_ttl.as_secs())
        .ok()
        .and_then(|ttl| now.timestamp().checked_add(ttl));
    if now.timestamp() >= exp || latest.is_none_or(|latest| exp > latest) {
        return false;
    }
    let Ok(sig) = hex::decode(sig) else {
        return false;
    };
    mac(key, stored_hash, site_id, exp)
        .verify_slice(&sig)
        .is_ok()
}

/// The value of the cookie `name` among the request's `Cookie` headers.
pub fn cookie_value<'a, R: RequestView + ?Sized>(req: &'a R, name: &'a str) -> Option<&'a str> {
    req.header_values("cookie")
        .flat_map(|line| line.split(';'))
        .find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k.trim() == name).then(|| v.trim().trim_matches('"'))
        })
}

/// The answer to a valid bypass link: set this cookie and go to `location`.
///
/// Its `Debug` output leaves out the cookie's value, a credential.
#[derive(Clone, PartialEq, Eq)]
pub struct BypassGrant {
    /// The full `Set-Cookie` header value.
    pub set_cookie: String,
    /// Where to redirect.
    pub location: String,
}

impl std::fmt::Debug for BypassGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BypassGrant")
            .field("set_cookie", &"<redacted>")
            .field("location", &self.location)
            .finish()
    }
}

impl BypassGrant {
    pub(crate) fn new(
        settings: &BypassSettings,
        stored_hash: &str,
        site_id: i64,
        now: DateTime<Utc>,
    ) -> Self {
        let ttl =
            chrono::Duration::from_std(settings.cookie_ttl).unwrap_or(chrono::Duration::hours(12));
        let expires = now + ttl;
        let value = sign_cookie(
            settings.signing_key.as_deref(),
            stored_hash,
            site_id,
            expires,
        );
        let secure = if settings.cookie_secure {
            "; Secure"
        } else {
            ""
        };
        BypassGrant {
            set_cookie: format!(
                "{}={value}; Path=/; Max-Age={}; HttpOnly; SameSite=Lax{secure}",
                settings.cookie_name,
                settings.cookie_ttl.as_secs()
            ),
            location: "/".to_owned(),
        }
    }

    /// The `303 See Other` response that sets the cookie.
    pub fn to_response(&self) -> http::Response<String> {
        let mut res = http::Response::new(String::new());
        *res.status_mut() = http::StatusCode::SEE_OTHER;
        let headers = res.headers_mut();
        if let Ok(v) = http::HeaderValue::from_str(&self.location) {
            headers.insert(http::header::LOCATION, v);
        }
        if let Ok(v) = http::HeaderValue::from_str(&self.set_cookie) {
            headers.insert(http::header::SET_COOKIE, v);
        }
        headers.insert(
            http::header::CACHE_CONTROL,
            http::HeaderValue::from_static("no-store"),
        );
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const TTL: std::time::Duration = std::time::Duration::from_secs(12 * 3600);

    fn t(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(secs, 0).unwrap()
    }

    #[test]
    fn generated_secrets_differ_and_hash_well() {
        let a = generate_secret().unwrap();
        let b = generate_secret().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        check_hash_format(&hash_secret(&a)).unwrap();
        assert!(check_hash_format("md5:abc").is_err());
        assert!(check_hash_format(&format!("sha256:{}", "z".repeat(64))).is_err());
    }

    #[test]
    fn cookie_is_valid_until_it_expires() {
        let hash = hash_secret("s");
        let value = sign_cookie(None, &hash, 7, t(1000));
        assert!(verify_cookie(None, &hash, 7, &value, t(999), TTL));
        assert!(!verify_cookie(None, &hash, 7, &value, t(1000), TTL));
        assert!(
            !verify_cookie(None, &hash, 8, &value, t(10), TTL),
            "other site"
        );
    }

    #[test]
    fn cookie_expiring_after_now_plus_ttl_is_refused() {
        let hash = hash_secret("s");
        let ttl = std::time::Duration::from_secs(100);
        let value = sign_cookie(None, &hash, 7, t(1000));
        assert!(verify_cookie(None, &hash, 7, &value, t(900), ttl));
        assert!(
            !verify_cookie(None, &hash, 7, &value, t(899), ttl),
            "too far ahead"
        );
        // Correctly signed (as with a leaked key) but far beyond any allowed lifetime.
        let signed = |exp: i64| {
            let sig = mac(None, &hash, 7, exp).finalize().into_bytes();
            format!("v1.7.{exp}.{}", hex::encode(sig))
        };
        let verify = |exp: i64, now: DateTime<Utc>, ttl: std::time::Duration| {
            verify_cookie(None, &hash, 7, &signed(exp), now, ttl)
        };
        assert!(verify(1000, t(900), ttl));
        assert!(!verify(i64::MAX / 2, t(900), TTL));
        assert!(!verify(i64::MAX, t(900), TTL));
        // No overflow at the end of time with the longest duration there is.
        assert!(!verify(
            i64::MAX,
            DateTime::<Utc>::MAX_UTC,
            std::time::Duration::MAX
        ));
    }

    #[test]
    fn cookie_is_void_after_secret_changes_or_with_other_key() {
        let old = hash_secret("old");
        let new = hash_secret("new");
        let value = sign_cookie(None, &old, 1, t(1000));
        assert!(!verify_cookie(None, &new, 1, &value, t(10), TTL));
        let keyed = sign_cookie(Some(b"key-a"), &old, 1, t(1000));
        assert!(verify_cookie(Some(b"key-a"), &old, 1, &keyed, t(10), TTL));
        assert!(!verify_cookie(Some(b"key-b"), &old, 1, &keyed, t(10), TTL));
        assert!(!verify_cookie(None, &old, 1, &keyed, t(10), TTL));
    }

    #[test]
    fn tampered_cookies_are_refused() {
        let hash = hash_secret("s");
        let value = sign_cookie(None, &hash, 1, t(1000));
        let longer = value.replace(".1000.", ".99999.");
        for bad in [
            "",
            "v1",
            "v1.1.1000",
            "v2.1.1000.00",
            longer.as_str(),
            "v1.1.1000.zz",
            "v1.x.1000.00",
            "v1.1.1000.00.extra",
        ] {
            assert!(!verify_cookie(None, &hash, 1, bad, t(10), TTL), "{bad}");
        }
    }

    #[test]
    fn cookie_is_found_among_others() {
        let req = http::Request::builder()
            .header("cookie", "a=1; maintenance_bypass=v1.2.3.abc")
            .header("cookie", "b=2")
            .body(())
            .unwrap();
        assert_eq!(cookie_value(&req, "maintenance_bypass"), Some("v1.2.3.abc"));
        assert_eq!(cookie_value(&req, "b"), Some("2"));
        assert_eq!(cookie_value(&req, "missing"), None);
    }

    #[test]
    fn grant_sets_a_safe_cookie() {
        let settings = BypassSettings::default();
        let g = BypassGrant::new(&settings, &hash_secret("s"), 3, t(0));
        assert!(
            g.set_cookie.starts_with("maintenance_bypass=v1.3.43200."),
            "{}",
            g.set_cookie
        );
        assert!(g.set_cookie.contains("HttpOnly"));
        assert!(g.set_cookie.contains("SameSite=Lax"));
        assert!(g.set_cookie.contains("Max-Age=43200"));
        assert!(g.set_cookie.ends_with("; Secure"), "{}", g.set_cookie);
        let shown = format!("{g:?}");
        assert!(!shown.contains("v1.3."), "{shown}");
        let res = g.to_response();
        assert_eq!(res.status(), http::StatusCode::SEE_OTHER);
        assert_eq!(res.headers()["location"], "/");
    }
}
