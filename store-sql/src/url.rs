//! Database URLs: which backend a URL names, whether a store's build includes it, and how to
//! show a URL without its password.
//!
//! Which backends a build includes depends on the store's own cargo features, so [`Backend`]
//! takes the store's [`Build`] as its type parameter; [`backends!`](crate::backends) declares
//! it in the store's crate, where its `#[cfg(feature = ...)]` attributes are evaluated.

use std::convert::Infallible;
use std::fmt;
use std::hash::Hash;
use std::marker::PhantomData;

/// What a store's build includes: its crate's name and its compiled-in backends. Declared by
/// [`backends!`](crate::backends).
pub trait Build: fmt::Debug + Copy + Eq + Hash + Send + Sync + Sized + 'static {
    /// The store's crate, for messages (`maintenance-sqlx`).
    const CRATE: &'static str;
    /// The backends this build includes, in the order of [`Backend::ALL`].
    const COMPILED: &'static [Backend<Self>];
    /// The store's error, which holds the URL errors.
    type Error: From<UnsupportedUrl> + From<BackendNotCompiled>;
}

/// A database backend the SQL stores know, whether or not the store's build `B` includes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend<B: Build> {
    /// SQLite (feature `sqlite`): `sqlite:` URLs.
    Sqlite,
    /// PostgreSQL (feature `postgres`): `postgres://` and `postgresql://` URLs.
    Postgres,
    /// MariaDB and MySQL (feature `mysql`): `mysql://` and `mariadb://` URLs.
    MySql,
    /// Never built: it only carries the type parameter.
    #[doc(hidden)]
    __Build(Infallible, PhantomData<B>),
}

impl<B: Build> Backend<B> {
    /// Every backend, in the order errors list them.
    pub const ALL: [Self; 3] = [Self::Sqlite, Self::Postgres, Self::MySql];

    /// The backend a URL names by its scheme (case-insensitive: `postgresql:`, `MariaDB:`),
    /// compiled in or not.
    pub fn from_scheme(url: &str) -> Option<Self> {
        let (scheme, _) = url.split_once(':')?;
        match scheme.to_ascii_lowercase().as_str() {
            "sqlite" => Some(Self::Sqlite),
            "postgres" | "postgresql" => Some(Self::Postgres),
            "mysql" | "mariadb" => Some(Self::MySql),
            _ => None,
        }
    }

    /// The backend for `url`, if this build includes it; otherwise an error that names the URL
    /// (without its password) and the schemes this build accepts.
    pub fn for_url(url: &str) -> Result<Self, B::Error> {
        let backend = Self::from_scheme(url).ok_or_else(|| UnsupportedUrl {
            url: redact_url(url),
            expected: Self::expected_schemes(),
        })?;
        if backend.is_compiled() {
            Ok(backend)
        } else {
            Err(backend.not_compiled(url).into())
        }
    }

    /// The error for `url`, which names this backend while this build leaves it out.
    pub fn not_compiled(self, url: &str) -> BackendNotCompiled {
        BackendNotCompiled {
            url: redact_url(url),
            backend: self.name(),
            krate: B::CRATE,
            feature: self.feature(),
            expected: Self::expected_schemes(),
        }
    }

    /// The store's feature that adds the backend.
    pub fn feature(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
            Self::MySql => "mysql",
            Self::__Build(never, _) => match never {},
        }
    }

    /// The backend's name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "SQLite",
            Self::Postgres => "PostgreSQL",
            Self::MySql => "MariaDB/MySQL",
            Self::__Build(never, _) => match never {},
        }
    }

    /// Whether this build includes the backend.
    pub fn is_compiled(self) -> bool {
        B::COMPILED.contains(&self)
    }

    /// The URL schemes of the backend, for messages.
    pub fn schemes(self) -> &'static str {
        match self {
            Self::Sqlite => "`sqlite:` (e.g. sqlite://maintenance.db or sqlite::memory:)",
            Self::Postgres => "`postgres://` or `postgresql://`",
            Self::MySql => "`mysql://` or `mariadb://`",
            Self::__Build(never, _) => match never {},
        }
    }

    /// The schemes this build accepts, for messages.
    pub fn expected_schemes() -> String {
        let schemes: Vec<&str> = B::COMPILED.iter().map(|b| b.schemes()).collect();
        if schemes.is_empty() {
            format!(
                "nothing: {} was built with no backend (enable `sqlite`, `postgres` or `mysql`)",
                B::CRATE
            )
        } else {
            format!("a URL starting with {}", schemes.join(", or "))
        }
    }
}

impl<B: Build> fmt::Display for Backend<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The URL's scheme names no backend the SQL stores know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported database URL `{url}`: expected {expected}")]
#[non_exhaustive]
pub struct UnsupportedUrl {
    /// The URL, without its password.
    pub url: String,
    /// The schemes this build accepts.
    pub expected: String,
}

/// The URL names a backend whose feature the store's build does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "database URL `{url}` is for {backend}, but {krate} was built without its `{feature}` feature; this build accepts {expected}"
)]
#[non_exhaustive]
pub struct BackendNotCompiled {
    /// The URL, without its password.
    pub url: String,
    /// The backend the URL names.
    pub backend: &'static str,
    /// The store's crate (`maintenance-sqlx`).
    pub krate: &'static str,
    /// The store's feature that adds the backend.
    pub feature: &'static str,
    /// The schemes this build accepts.
    pub expected: String,
}

/// The URL with its password (in the user part, or a query parameter whose name says it holds
/// a secret) masked, for messages and logs.
///
/// The URL is read as written, not as a URL parser reads it: a password may hold a raw `/`,
/// `?`, `#`, `@` or `:` (drivers and operators write them), and then a parser sees another
/// authority and would leave the password in the path. So after `scheme://`, everything up to
/// the *last* `@` is the user part, and everything in it after its first `:` is masked (all of
/// it when the user name would hold a `/`, `?`, `#` or `@`). When in doubt this masks too much
/// (an `@` further on, in a query, takes the host with it), never too little.
///
/// ```
/// use maintenance_sql::url::redact_url;
/// assert_eq!(redact_url("postgres://app:s3cret@db:5432/x"), "postgres://app:***@db:5432/x");
/// assert_eq!(redact_url("postgres://app:s3/cr?e#t@db/x"), "postgres://app:***@db/x");
/// assert_eq!(redact_url("mysql://root@db/x?password=s3cret&ssl-mode=required"),
///            "mysql://root@db/x?password=***&ssl-mode=required");
/// assert_eq!(redact_url("sqlite://maintenance.db"), "sqlite://maintenance.db");
/// ```
pub fn redact_url(url: &str) -> String {
    let Some(start) = url.find("://").map(|i| i + 3) else {
        return redact_query(url);
    };
    let (head, rest) = url.split_at(start);
    match rest.rsplit_once('@') {
        Some((userinfo, after)) => match userinfo.split_once(':') {
            // A user name holding a separator means that this `@` is further on (in a query),
            // and the user part may hold a query's password: mask it all.
            Some((user, _)) if user.contains(['/', '?', '#', '@']) => {
                format!("{head}***@{}", redact_query(after))
            }
            Some((user, _password)) => format!("{head}{user}:***@{}", redact_query(after)),
            None => format!("{head}{}", redact_query(rest)),
        },
        None => format!("{head}{}", redact_query(rest)),
    }
}

/// Whether a parameter or option name says its value is a secret (`password`, `sslpassword`,
/// `PGPASSWORD`, `pwd`, `api_token`, `secret_key`...).
pub fn names_a_secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["pass", "pwd", "secret", "token"]
        .iter()
        .any(|word| name.contains(word))
}

/// `tail` with the value of each query parameter that names a secret masked. A masked value
/// runs to the next `&`, a `#` included: in a raw password it is not a fragment.
fn redact_query(tail: &str) -> String {
    let Some((path, query)) = tail.split_once('?') else {
        return tail.to_owned();
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if names_a_secret(key) => format!("{key}=***"),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{path}?{}", pairs.join("&"))
}

/// Declares, in a store's crate, its [`Build`] (a type named `$build`, with the backends its
/// cargo features `sqlite`, `postgres` and `mysql` compile in, and `$error` for the URL
/// errors), the `Backend` type of that build, and re-exports [`redact_url`] and
/// [`names_a_secret`].
///
/// ```ignore
/// maintenance_sql::backends!(SqlxBuild, "maintenance-sqlx", crate::Error);
/// ```
#[macro_export]
macro_rules! backends {
    ($build:ident, $krate:literal, $error:ty) => {
        /// What this build of the crate includes: the type parameter of [`Backend`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $build {}

        impl $crate::url::Build for $build {
            const CRATE: &'static str = $krate;
            const COMPILED: &'static [Backend] = &[
                #[cfg(feature = "sqlite")]
                Backend::Sqlite,
                #[cfg(feature = "postgres")]
                Backend::Postgres,
                #[cfg(feature = "mysql")]
                Backend::MySql,
            ];
            type Error = $error;
        }

        /// A database backend this crate knows, whether or not this build includes it.
        pub type Backend = $crate::url::Backend<$build>;

        pub use $crate::url::{names_a_secret, redact_url};
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The URL errors of a test build.
    #[derive(Debug, thiserror::Error)]
    enum Error {
        #[error(transparent)]
        Unsupported(#[from] UnsupportedUrl),
        #[error(transparent)]
        NotCompiled(#[from] BackendNotCompiled),
    }

    /// A build with every backend.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    enum All {}
    impl Build for All {
        const CRATE: &'static str = "all-crate";
        const COMPILED: &'static [Backend<Self>] =
            &[Backend::Sqlite, Backend::Postgres, Backend::MySql];
        type Error = Error;
    }

    /// A build with SQLite only.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    enum SqliteOnly {}
    impl Build for SqliteOnly {
        const CRATE: &'static str = "sqlite-crate";
        const COMPILED: &'static [Backend<Self>] = &[Backend::Sqlite];
        type Error = Error;
    }

    /// A build with no backend.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    enum Nothing {}
    impl Build for Nothing {
        const CRATE: &'static str = "empty-crate";
        const COMPILED: &'static [Backend<Self>] = &[];
        type Error = Error;
    }

    /// A password of the characters that move a parser's idea of the authority, and of
    /// percent-encodings, always long enough to be told apart from the rest of the URL.
    fn password() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let piece = prop_oneof![
            "[a-z0-9]{1,4}",
            Just("/".to_owned()),
            Just("?".to_owned()),
            Just("#".to_owned()),
            Just("@".to_owned()),
            Just(":".to_owned()),
            Just("%".to_owned()),
            Just("&".to_owned()),
            Just("=".to_owned()),
            "%[0-9A-F]{2}",
            Just("%40".to_owned()),
            Just("%2F".to_owned()),
        ];
        proptest::collection::vec(piece, 1..12).prop_map(|p| format!("PW{}", p.concat()))
    }

    proptest::proptest! {
        /// Every URL a store, the CLI or a test project shows goes through `redact_url`: with
        /// the password in the user part, it is masked whatever it holds, and the rest is kept.
        #[test]
        fn a_password_in_the_user_part_never_shows(
            scheme in proptest::sample::select(vec!["postgres", "postgresql", "mysql", "mariadb"]),
            user in "[a-z][a-z0-9_]{0,6}",
            password in password(),
            host in "[a-z][a-z0-9.-]{0,10}(:[0-9]{1,5})?",
            path in "(/[a-z0-9_]{0,8})?(\\?sslmode=[a-z]{1,8})?",
        ) {
            let url = format!("{scheme}://{user}:{password}@{host}{path}");
            let shown = redact_url(&url);
            proptest::prop_assert_eq!(&shown, &format!("{scheme}://{user}:***@{host}{path}"));
            proptest::prop_assert!(!shown.contains("PW"), "{}", shown);
        }

        /// An `@` after the password (in the path or the query) masks more, never less.
        #[test]
        fn an_at_sign_after_the_host_masks_more_never_less(
            password in password(),
            query in "[a-z@.]{0,10}",
        ) {
            let url = format!("postgres://app:{password}@db/x?application_name={query}@x");
            let shown = redact_url(&url);
            proptest::prop_assert!(!shown.contains("PW"), "{}", shown);
            proptest::prop_assert!(shown.starts_with("postgres://app:***@"), "{}", shown);
        }

        /// A password in a query parameter is masked up to the next `&`, a raw `#` included.
        #[test]
        fn a_password_in_the_query_never_shows(
            password in "PW[a-z0-9/?#@:%]{1,12}",
            key in proptest::sample::select(vec!["password", "sslpassword", "PASSWORD"]),
        ) {
            let url = format!("mysql://root@db/x?{key}={password}&ssl-mode=required");
            let shown = redact_url(&url);
            proptest::prop_assert!(!shown.contains("PW"), "{}", shown);
            proptest::prop_assert!(shown.contains("ssl-mode=required"), "{}", shown);
        }
    }

    #[test]
    fn raw_separators_in_passwords_are_masked() {
        for password in [
            "s3/cret",
            "s3?cret",
            "s3#cret",
            "s3@cret",
            "s3:cret",
            "s3%2Fcret",
            "a/b?c#d@e:f",
        ] {
            let url = format!("postgres://app:{password}@db/x");
            assert_eq!(redact_url(&url), "postgres://app:***@db/x", "{url}");
        }
        assert_eq!(
            redact_url("postgres://db/x?user=app&password=s3#cret"),
            "postgres://db/x?user=app&password=***"
        );
    }

    #[test]
    fn passwords_are_masked_everywhere() {
        let masked = [
            ("postgres://u:p@h/d", "postgres://u:***@h/d"),
            (
                "postgres://u:p%40x@h:1/d?sslmode=disable",
                "postgres://u:***@h:1/d?sslmode=disable",
            ),
            (
                "postgres://h/d?user=u&password=p",
                "postgres://h/d?user=u&password=***",
            ),
            ("mysql://u:p@h", "mysql://u:***@h"),
            ("redis://:p@h", "redis://:***@h"),
        ];
        for (url, want) in masked {
            assert_eq!(redact_url(url), want, "{url}");
        }
        // No password: left as they are, an `@` or `:` elsewhere included.
        for url in [
            "postgres://u@h/d",
            "sqlite::memory:",
            "sqlite:///tmp/a@b:c.db",
            "no-scheme-at-all",
            "plain-words",
        ] {
            assert_eq!(redact_url(url), url);
        }
    }

    fn unknown_scheme_names_url_and_expected_schemes<B: Build<Error = Error>>() {
        let err = Backend::<B>::for_url("redis://user:secret@cache/0").unwrap_err();
        assert!(matches!(err, Error::Unsupported(_)), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains("redis://user:***@cache/0"), "{msg}");
        assert!(!msg.contains("secret"), "{msg}");
        for b in Backend::<B>::ALL.into_iter().filter(|b| b.is_compiled()) {
            assert!(msg.contains(b.schemes()), "{msg}");
        }
        let err = Backend::<B>::for_url("maintenance.db").unwrap_err();
        assert!(err.to_string().contains("`maintenance.db`"), "{err}");
    }

    #[test]
    fn unknown_scheme_names_url_and_accepted_schemes() {
        unknown_scheme_names_url_and_expected_schemes::<All>();
        unknown_scheme_names_url_and_expected_schemes::<SqliteOnly>();
        unknown_scheme_names_url_and_expected_schemes::<Nothing>();
        let msg = Backend::<Nothing>::for_url("redis://cache")
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("nothing: empty-crate was built with no backend"),
            "{msg}"
        );
    }

    fn missing_feature_is_named<B: Build<Error = Error>>() {
        for (backend, url) in [
            (Backend::<B>::Sqlite, "sqlite://x.db"),
            (Backend::Postgres, "postgres://u:pw@h/d"),
            (Backend::MySql, "mariadb://u:pw@h/d"),
        ] {
            match Backend::<B>::for_url(url) {
                Ok(b) => assert!(b.is_compiled() && b == backend),
                Err(err) => {
                    assert!(matches!(err, Error::NotCompiled(_)), "{err:?}");
                    let msg = err.to_string();
                    assert!(!backend.is_compiled());
                    assert!(
                        msg.contains(&format!("`{}` feature", backend.feature())),
                        "{msg}"
                    );
                    assert!(msg.contains(B::CRATE), "{msg}");
                    assert!(msg.contains(backend.name()), "{msg}");
                    assert!(!msg.contains("pw@"), "{msg}");
                }
            }
        }
    }

    #[test]
    fn missing_feature_is_named_with_the_crate() {
        missing_feature_is_named::<All>();
        missing_feature_is_named::<SqliteOnly>();
        missing_feature_is_named::<Nothing>();
        assert!(Backend::<All>::for_url("MariaDB://db/x").is_ok());
        assert!(Backend::<SqliteOnly>::for_url("postgres://db/x").is_err());
    }

    #[test]
    fn schemes_are_read_case_insensitively_and_named() {
        assert_eq!(
            Backend::<All>::from_scheme("postgresql://db/x"),
            Some(Backend::Postgres)
        );
        assert_eq!(
            Backend::<All>::from_scheme("SQLite::memory:"),
            Some(Backend::Sqlite)
        );
        assert_eq!(
            Backend::<All>::from_scheme("MariaDB://db/x"),
            Some(Backend::MySql)
        );
        assert_eq!(Backend::<All>::from_scheme("redis://db"), None);
        assert_eq!(Backend::<All>::from_scheme("maintenance.db"), None);
        assert_eq!(Backend::<All>::MySql.to_string(), "MariaDB/MySQL");
    }
}
