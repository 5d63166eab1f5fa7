//! Admin sessions: who has logged in, each with the CSRF token its forms must carry.
//!
//! Sessions live in memory (a restart logs everyone out) and expire after [`SESSION_TTL`].
//! Every comparison of a secret runs in constant time.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The session cookie's name.
pub const COOKIE_NAME: &str = "maintenance_admin";

/// How long a session lasts after login.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

/// The most sessions kept at once; past it the oldest is dropped.
pub const MAX_SESSIONS: usize = 1000;

/// Whether two secrets are equal, compared in constant time.
///
/// Both are hashed first and the digests compared with `subtle`: comparing the bytes
/// themselves would return early on a length mismatch (`subtle` does so for slices), telling
/// the length of the expected secret; digests always have the same length.
pub fn secrets_match(given: &str, expected: &str) -> bool {
    let given: [u8; 32] = Sha256::digest(given.as_bytes()).into();
    let expected: [u8; 32] = Sha256::digest(expected.as_bytes()).into();
    bool::from(given.ct_eq(&expected))
}

#[derive(Debug, Clone)]
struct Session {
    csrf: String,
    created: Instant,
}

/// The live sessions: session id -> CSRF token.
#[derive(Debug, Default)]
pub struct Sessions {
    by_id: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Session>> {
        self.by_id.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts a session; returns its id and CSRF token, or `None` when the system has no
    /// randomness to give.
    pub fn create(&self) -> Option<(String, String)> {
        let id = maintenance_core::bypass::generate_secret().ok()?;
        let csrf = maintenance_core::bypass::generate_secret().ok()?;
        let mut map = self.lock();
        let now = Instant::now();
        map.retain(|_, s| now.duration_since(s.created) < SESSION_TTL);
        if map.len() >= MAX_SESSIONS
            && let Some(oldest) = map
                .iter()
                .min_by_key(|(_, s)| s.created)
                .map(|(k, _)| k.clone())
        {
            map.remove(&oldest);
        }
        map.insert(
            id.clone(),
            Session {
                csrf: csrf.clone(),
                created: now,
            },
        );
        Some((id, csrf))
    }

    /// The CSRF token of a live session.
    pub fn csrf(&self, id: &str) -> Option<String> {
        let map = self.lock();
        // Look the id up by comparing in constant time, so its value does not leak by timing.
        map.iter()
            .find(|(k, _)| secrets_match(id, k))
            .filter(|(_, s)| s.created.elapsed() < SESSION_TTL)
            .map(|(_, s)| s.csrf.clone())
    }

    /// Ends a session.
    pub fn remove(&self, id: &str) {
        self.lock().retain(|k, _| !secrets_match(id, k));
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|line| line.split(';'))
        .find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k.trim() == name).then(|| v.trim())
        })
}

/// The `Set-Cookie` value that stores a session id; `secure` adds `Secure` (behind HTTPS).
pub fn set_cookie(id: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE_NAME}={id}; Path=/; HttpOnly; SameSite=Strict{secure}")
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_cookie() -> String {
    format!("{COOKIE_NAME}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_hold_their_csrf_token_until_removed() {
        let s = Sessions::default();
        let (id, csrf) = s.create().unwrap();
        assert_eq!(s.csrf(&id).as_deref(), Some(csrf.as_str()));
        assert_eq!(s.csrf("nope"), None);
        s.remove(&id);
        assert_eq!(s.csrf(&id), None);
    }

    #[test]
    fn sessions_are_capped() {
        let s = Sessions::default();
        for _ in 0..MAX_SESSIONS + 5 {
            s.create().unwrap();
        }
        assert!(s.lock().len() <= MAX_SESSIONS);
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = http::HeaderMap::new();
        h.append(
            http::header::COOKIE,
            "a=1; maintenance_admin=xyz".parse().unwrap(),
        );
        assert_eq!(cookie(&h, COOKIE_NAME), Some("xyz"));
        assert_eq!(cookie(&h, "b"), None);
        assert!(secrets_match("abc", "abc"));
        assert!(!secrets_match("abc", "abd"));
        assert!(!secrets_match("abc", "abcd"));
        assert!(!secrets_match("", "abc"));
        assert!(secrets_match("", ""));
    }
}
