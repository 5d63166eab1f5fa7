//! Database URLs: which backend a URL names, and how to show a URL without its password.

use std::fmt;

use crate::error::Error;

/// A database backend this crate knows, whether or not this build includes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// SQLite (feature `sqlite`): `sqlite:` URLs.
    Sqlite,
    /// PostgreSQL (feature `postgres`): `postgres://` and `postgresql://` URLs.
    Postgres,
    /// MariaDB and MySQL (feature `mysql`): `mysql://` and `mariadb://` URLs.
    MySql,
}

impl Backend {
    /// Every backend, in the order errors list them.
    pub const ALL: [Backend; 3] = [Backend::Sqlite, Backend::Postgres, Backend::MySql];

    /// The backend a URL names by its scheme (case-insensitive), compiled in or not.
    ///
    /// ```
    /// use maintenance_diesel::Backend;
    /// assert_eq!(Backend::from_scheme("postgresql://db/x"), Some(Backend::Postgres));
    /// assert_eq!(Backend::from_scheme("MariaDB://db/x"), Some(Backend::MySql));
    /// assert_eq!(Backend::from_scheme("sqlite::memory:"), Some(Backend::Sqlite));
    /// assert_eq!(Backend::from_scheme("redis://db"), None);
    /// ```
    pub fn from_scheme(url: &str) -> Option<Backend> {
        let scheme = url.split_once(':')?.0.to_ascii_lowercase();
        match scheme.as_str() {
            "sqlite" => Some(Backend::Sqlite),
            "postgres" | "postgresql" => Some(Backend::Postgres),
            "mysql" | "mariadb" => Some(Backend::MySql),
            _ => None,
        }
    }

    /// The backend for `url` if this build includes it; otherwise an error naming the URL
    /// (password masked) and the schemes this build accepts.
    pub fn for_url(url: &str) -> Result<Backend, Error> {
        let Some(backend) = Backend::from_scheme(url) else {
            return Err(Error::UnsupportedUrl {
                url: redact_url(url),
                expected: expected_schemes(),
            });
        };
        if !backend.is_compiled() {
            return Err(Error::BackendNotCompiled {
                url: redact_url(url),
                backend: backend.name(),
                feature: backend.feature(),
                expected: expected_schemes(),
            });
        }
        Ok(backend)
    }

    /// The crate feature that adds the backend.
    pub fn feature(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
            Backend::MySql => "mysql",
        }
    }

    /// The backend's name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
            Backend::MySql => "MariaDB/MySQL",
        }
    }

    /// Whether this build includes the backend.
    pub fn is_compiled(self) -> bool {
        match self {
            Backend::Sqlite => cfg!(feature = "sqlite"),
            Backend::Postgres => cfg!(feature = "postgres"),
            Backend::MySql => cfg!(feature = "mysql"),
        }
    }

    fn schemes(self) -> &'static str {
        match self {
            Backend::Sqlite => "`sqlite:` (e.g. sqlite://maintenance.db or sqlite::memory:)",
            Backend::Postgres => "`postgres://` or `postgresql://`",
            Backend::MySql => "`mysql://` or `mariadb://`",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The schemes this build accepts, for error messages.
pub(crate) fn expected_schemes() -> String {
    let compiled: Vec<&str> = Backend::ALL
        .into_iter()
        .filter(|b| b.is_compiled())
        .map(Backend::schemes)
        .collect();
    if compiled.is_empty() {
        return "nothing: maintenance-diesel was built with no backend (enable `sqlite`, `postgres` or `mysql`)".to_owned();
    }
    format!("a URL starting with {}", compiled.join(", or "))
}

/// The URL with its password masked (in the user part, or a query parameter whose name
/// contains `password`), for messages and logs.
///
/// ```
/// use maintenance_diesel::redact_url;
/// assert_eq!(redact_url("postgres://app:s3cret@db:5432/x"), "postgres://app:***@db:5432/x");
/// assert_eq!(redact_url("mysql://root@db/x?password=s3cret&ssl-mode=required"),
///            "mysql://root@db/x?password=***&ssl-mode=required");
/// assert_eq!(redact_url("sqlite://maintenance.db"), "sqlite://maintenance.db");
/// ```
pub fn redact_url(url: &str) -> String {
    let Some(start) = url.find("://").map(|i| i + 3) else {
        return mask_query(url);
    };
    let (head, rest) = url.split_at(start);
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => authority.to_owned(),
        },
        None => authority.to_owned(),
    };
    format!("{head}{authority}{}", mask_query(tail))
}

fn mask_query(tail: &str) -> String {
    let Some((path, query)) = tail.split_once('?') else {
        return tail.to_owned();
    };
    let (query, fragment) = query
        .split_once('#')
        .map_or((query, None), |(q, f)| (q, Some(f)));
    let masked: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if key.to_ascii_lowercase().contains("password") => {
                format!("{key}=***")
            }
            _ => pair.to_owned(),
        })
        .collect();
    let mut out = format!("{path}?{}", masked.join("&"));
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_masked() {
        for (url, want) in [
            ("postgres://u:p@h/d", "postgres://u:***@h/d"),
            (
                "postgres://u:p%40x@h:1/d?sslmode=disable",
                "postgres://u:***@h:1/d?sslmode=disable",
            ),
            ("postgres://u@h/d", "postgres://u@h/d"),
            (
                "postgres://h/d?user=u&password=p",
                "postgres://h/d?user=u&password=***",
            ),
            ("mysql://u:p@h", "mysql://u:***@h"),
            ("sqlite::memory:", "sqlite::memory:"),
            ("sqlite:///tmp/a@b:c.db", "sqlite:///tmp/a@b:c.db"),
            ("plain-words", "plain-words"),
        ] {
            assert_eq!(redact_url(url), want, "{url}");
        }
    }

    #[test]
    fn unknown_scheme_names_url_and_accepted_schemes() {
        let msg = Backend::for_url("redis://user:secret@cache/0")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("redis://user:***@cache/0"), "{msg}");
        assert!(!msg.contains("secret"), "{msg}");
        for b in Backend::ALL.into_iter().filter(|b| b.is_compiled()) {
            assert!(msg.contains(b.schemes()), "{msg}");
        }
    }

    #[test]
    fn missing_feature_is_named() {
        for (backend, url) in [
            (Backend::Sqlite, "sqlite://x.db"),
            (Backend::Postgres, "postgres://u:pw@h/d"),
            (Backend::MySql, "mariadb://u:pw@h/d"),
        ] {
            match Backend::for_url(url) {
                Ok(b) => assert_eq!(b, backend),
                Err(err) => {
                    let msg = err.to_string();
                    assert!(!backend.is_compiled());
                    assert!(
                        msg.contains(&format!("`{}` feature", backend.feature())),
                        "{msg}"
                    );
                    assert!(!msg.contains("pw@"), "{msg}");
                }
            }
        }
    }
}
