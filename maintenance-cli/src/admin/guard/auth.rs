//! Who may use the admin page: the admin token, checked at start-up and compared in constant
//! time, or no login at all on a loopback address.

use std::net::SocketAddr;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::host::OriginError;

/// The shortest admin token accepted, in characters. Shorter ones are refused at start-up:
/// the token is the only thing between the network and every site's maintenance switch.
pub const MIN_TOKEN_LEN: usize = 32;

/// Why the admin page refuses to start with the options given. Exit status 2.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AdminSetupError {
    /// Neither a token nor `--insecure-no-auth`.
    #[error(
        "refusing to start the admin page without a token: expected --token TOKEN or the \
         environment variable MAINTENANCE_ADMIN_TOKEN (or, on a loopback address only, \
         --insecure-no-auth)"
    )]
    NoToken,
    /// A token shorter than [`MIN_TOKEN_LEN`] (its value is a secret, so only its length is
    /// named).
    #[error(
        "refusing an admin token of {len} characters (--token or MAINTENANCE_ADMIN_TOKEN): it \
         must be at least {MIN_TOKEN_LEN} characters long; generate one with \
         `openssl rand -hex 32` (or `head -c 32 /dev/urandom | base64`) and pass it in \
         MAINTENANCE_ADMIN_TOKEN"
    )]
    TokenTooShort {
        /// The token's length in characters.
        len: usize,
    },
    /// `--insecure-no-auth` on an address other machines can reach.
    #[error(
        "refusing --insecure-no-auth on {listen}: it is only allowed on a loopback address \
         such as 127.0.0.1:8085 or [::1]:8085; give a token instead"
    )]
    InsecureNotLoopback {
        /// The listen address given.
        listen: SocketAddr,
    },
    /// A `--trusted-proxy` (or `MAINTENANCE_ADMIN_TRUSTED_PROXIES`) value that is not a
    /// network.
    #[error(
        "invalid trusted proxy `{value}` (--trusted-proxy or MAINTENANCE_ADMIN_TRUSTED_PROXIES): \
         expected an address such as 10.0.0.2 or a network such as 10.0.0.0/8"
    )]
    TrustedProxy {
        /// The value given.
        value: String,
    },
    /// A `--public-origin` (or `MAINTENANCE_ADMIN_PUBLIC_ORIGIN`) value that is not an origin.
    #[error(transparent)]
    PublicOrigin(#[from] OriginError),
}

/// The admin token. Only its SHA-256 digest is kept, so that a comparison hashes the given
/// value and compares two digests of fixed length in constant time: neither the token's
/// content nor its length shows in the time an answer takes.
#[derive(Clone)]
pub struct AdminToken {
    digest: [u8; 32],
}

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(***)")
    }
}

impl AdminToken {
    /// The token `token` (surrounding white space removed), when it has at least
    /// [`MIN_TOKEN_LEN`] characters.
    ///
    /// ```
    /// use maintenance_cli::admin::AdminToken;
    /// assert!(AdminToken::new("short").is_err());
    /// let token = AdminToken::new(&"x".repeat(32)).unwrap();
    /// assert!(token.matches(&"x".repeat(32)));
    /// assert!(!token.matches("x"));
    /// ```
    pub fn new(token: &str) -> Result<AdminToken, AdminSetupError> {
        let token = token.trim();
        let len = token.chars().count();
        if len < MIN_TOKEN_LEN {
            return Err(AdminSetupError::TokenTooShort { len });
        }
        Ok(AdminToken {
            digest: Sha256::digest(token.as_bytes()).into(),
        })
    }

    /// Whether `given` is the token, compared in constant time.
    pub fn matches(&self, given: &str) -> bool {
        let given: [u8; 32] = Sha256::digest(given.as_bytes()).into();
        bool::from(given.ct_eq(&self.digest))
    }
}

/// How the admin page checks who may use it.
#[derive(Debug, Clone)]
pub enum AdminAuth {
    /// Log in with this token (or send it as a bearer token).
    Token(AdminToken),
    /// No login: only for a server listening on a loopback address. Bearer tokens are refused,
    /// as there is no token to compare them with.
    Open,
}

impl AdminAuth {
    /// Login with `token`, when it is long enough (see [`AdminToken::new`]).
    pub fn token(token: &str) -> Result<AdminAuth, AdminSetupError> {
        AdminToken::new(token).map(AdminAuth::Token)
    }

    /// The authentication for `admin`'s options: a token when one is given (not blank; at
    /// least [`MIN_TOKEN_LEN`] characters); otherwise no login, only with `--insecure-no-auth`
    /// on a loopback address.
    ///
    /// ```
    /// use maintenance_cli::admin::{AdminAuth, AdminSetupError};
    /// let local = "127.0.0.1:8085".parse().unwrap();
    /// assert!(AdminAuth::from_options(local, None, false).is_err());
    /// assert!(matches!(AdminAuth::from_options(local, None, true), Ok(AdminAuth::Open)));
    /// assert!(AdminAuth::from_options("0.0.0.0:8085".parse().unwrap(), None, true).is_err());
    /// assert_eq!(
    ///     AdminAuth::from_options(local, Some("hunter2"), false).unwrap_err(),
    ///     AdminSetupError::TokenTooShort { len: 7 }
    /// );
    /// ```
    pub fn from_options(
        listen: SocketAddr,
        token: Option<&str>,
        insecure_no_auth: bool,
    ) -> Result<AdminAuth, AdminSetupError> {
        if let Some(t) = token.map(str::trim).filter(|t| !t.is_empty()) {
            return AdminAuth::token(t);
        }
        if !insecure_no_auth {
            return Err(AdminSetupError::NoToken);
        }
        if !listen.ip().is_loopback() {
            return Err(AdminSetupError::InsecureNotLoopback { listen });
        }
        Ok(AdminAuth::Open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_shorter_than_the_minimum_are_refused() {
        let short = "a".repeat(MIN_TOKEN_LEN - 1);
        assert_eq!(
            AdminToken::new(&short).unwrap_err(),
            AdminSetupError::TokenTooShort {
                len: MIN_TOKEN_LEN - 1
            }
        );
        // Characters, not bytes: 31 two-byte characters are still too short.
        assert!(AdminToken::new(&"é".repeat(MIN_TOKEN_LEN - 1)).is_err());
        // White space around the token does not count.
        assert!(AdminToken::new(&format!("  {short}  ")).is_err());
        let token = AdminToken::new(&format!(" {short}b ")).unwrap();
        assert!(token.matches(&format!("{short}b")));
        assert!(!token.matches(&format!("{short}c")));
        assert!(!token.matches(""));
        assert_eq!(format!("{token:?}"), "AdminToken(***)");
        let message = AdminSetupError::TokenTooShort { len: 5 }.to_string();
        assert!(message.contains("at least 32 characters"), "{message}");
        assert!(message.contains("openssl rand -hex 32"), "{message}");
    }

    #[test]
    fn a_token_wins_over_insecure_no_auth() {
        let local = "127.0.0.1:8085".parse().unwrap();
        let long = "t".repeat(MIN_TOKEN_LEN);
        assert!(matches!(
            AdminAuth::from_options(local, Some(&long), true),
            Ok(AdminAuth::Token(_))
        ));
        // A blank token is no token.
        assert_eq!(
            AdminAuth::from_options(local, Some("  "), false).unwrap_err(),
            AdminSetupError::NoToken
        );
    }
}
