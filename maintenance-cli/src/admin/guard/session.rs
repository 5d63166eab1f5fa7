//! Admin sessions: who has logged in, each with the CSRF token its forms must carry.
//!
//! Sessions live in memory (a restart logs everyone out) and expire after [`SESSION_TTL`].
//! Every comparison of a secret runs in constant time.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum_extra::extract::cookie::{Cookie, SameSite};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The session cookie's name.
pub(crate) const COOKIE_NAME: &str = "maintenance_admin";

/// How long a session lasts after login.
pub(crate) const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

/// The most sessions kept at once; past it the oldest is dropped.
pub(crate) const MAX_SESSIONS: usize = 1000;

/// Whether two secrets are equal, compared in constant time.
///
/// Both are hashed first and the digests compared with `subtle`: comparing the bytes
/// themselves would return early on a length mismatch (`subtle` does so for slices), telling
/// the length of the expected secret; digests always have the same length.
pub(crate) fn secrets_match(given: &str, expected: &str) -> bool {
    let given: [u8; 32] = Sha256::digest(given.as_bytes()).into();
    let expected: [u8; 32] = Sha256::digest(expected.as_bytes()).into();
    bool::from(given.ct_eq(&expected))
}

#[derive(Debug, Clone)]
struct Session {
    csrf: String,
    created: Instant,
}

/// The key a session is stored under: the SHA-256 of its id. A lookup hashes the id it is
/// given once and finds the session in one map access; what the map's comparisons could
/// tell by their timing is about digests, never about an id.
type Key = [u8; 32];

fn key(id: &str) -> Key {
    Sha256::digest(id.as_bytes()).into()
}

/// The live sessions: the digest of each session id -> its CSRF token.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    by_key: Mutex<HashMap<Key, Session>>,
}

impl Sessions {
    fn lock(&self) -> MutexGuard<'_, HashMap<Key, Session>> {
        self.by_key.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts a session; returns its id and CSRF token, or `None` when the system has no
    /// randomness to give.
    pub(crate) fn create(&self) -> Option<(String, String)> {
        let id = maintenance_core::bypass::generate_secret().ok()?;
        let csrf = maintenance_core::bypass::generate_secret().ok()?;
        let mut map = self.lock();
        let now = Instant::now();
        map.retain(|_, s| now.duration_since(s.created) < SESSION_TTL);
        if map.len() >= MAX_SESSIONS
            && let Some(oldest) = map.iter().min_by_key(|(_, s)| s.created).map(|(k, _)| *k)
        {
            map.remove(&oldest);
        }
        map.insert(
            key(&id),
            Session {
                csrf: csrf.clone(),
                created: now,
            },
        );
        Some((id, csrf))
    }

    /// The CSRF token of a live session.
    pub(crate) fn csrf(&self, id: &str) -> Option<String> {
        self.lock()
            .get(&key(id))
            .filter(|s| s.created.elapsed() < SESSION_TTL)
            .map(|s| s.csrf.clone())
    }

    /// Ends a session.
    pub(crate) fn remove(&self, id: &str) {
        self.lock().remove(&key(id));
    }
}

/// The session cookie holding `id`: `HttpOnly`, `SameSite=Strict`, for the whole page, and
/// `Secure` when `secure` (behind HTTPS).
pub(crate) fn cookie(id: String, secure: bool) -> Cookie<'static> {
    Cookie::build((COOKIE_NAME, id))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .build()
}

/// The cookie that removes the session cookie (as [`cookie`] set it: same name and path).
pub(crate) fn removal() -> Cookie<'static> {
    Cookie::build((COOKIE_NAME, ""))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .build()
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
    fn the_session_cookie_is_strict_and_http_only() {
        let set = cookie("xyz".to_owned(), false).to_string();
        assert!(set.starts_with("maintenance_admin=xyz"), "{set}");
        for part in ["HttpOnly", "SameSite=Strict", "Path=/"] {
            assert!(set.contains(part), "{part}: {set}");
        }
        assert!(!set.contains("Secure"), "{set}");
        assert!(
            cookie("xyz".to_owned(), true)
                .to_string()
                .contains("Secure")
        );
    }

    #[test]
    fn secrets_are_compared_whole() {
        assert!(secrets_match("abc", "abc"));
        assert!(!secrets_match("abc", "abd"));
        assert!(!secrets_match("abc", "abcd"));
        assert!(!secrets_match("", "abc"));
        assert!(secrets_match("", ""));
    }
}
