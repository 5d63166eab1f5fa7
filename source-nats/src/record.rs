//! What the bucket holds, and how it is written: one key per site and one for the whole.
//!
//! - `site.<id>`: a [`SiteRecord`], the site's whole state (patterns and networks included)
//!   with the database revision it was read at, or a tombstone when the site was removed.
//!   Tombstones keep the revision of the removal, so that a relay that read an older state
//!   cannot bring a removed site back.
//! - `meta`: a [`MetaRecord`], the newest database revision written whole and which database
//!   it came from.
//!
//! Every value is JSON with a `format` number. A reader refuses a value written in a newer
//! format than it knows ([`FORMAT`]) rather than guess at it.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use maintenance_core::SiteState;
use serde::{Deserialize, Serialize};

/// The format this crate writes, and the newest it reads.
pub const FORMAT: u32 = 1;

/// The key of the bucket's [`MetaRecord`].
pub const META_KEY: &str = "meta";

/// The prefix of every site's key (`site.<id>`).
pub const SITE_PREFIX: &str = "site.";

/// The key of the site with this database id.
pub fn site_key(id: i64) -> String {
    format!("{SITE_PREFIX}{id}")
}

/// A site's entry in the bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteRecord {
    /// The format it is written in ([`FORMAT`]).
    pub format: u32,
    /// The database revision the state was read at (for a tombstone, the one that saw the site
    /// gone).
    pub revision: i64,
    /// The site's state; `None` for a removed site (a tombstone).
    pub site: Option<SiteState>,
    /// When a tombstone was written, so that old ones can be cleared away.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed_at: Option<DateTime<Utc>>,
}

impl SiteRecord {
    /// The record of `site` as read at `revision`.
    pub fn present(revision: i64, site: SiteState) -> Self {
        SiteRecord {
            format: FORMAT,
            revision,
            site: Some(site),
            removed_at: None,
        }
    }

    /// The tombstone of a site found removed at `revision`.
    pub fn removed(revision: i64, at: DateTime<Utc>) -> Self {
        SiteRecord {
            format: FORMAT,
            revision,
            site: None,
            removed_at: Some(at),
        }
    }
}

/// The bucket's summary: the newest database revision written whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetaRecord {
    /// The format it is written in ([`FORMAT`]).
    pub format: u32,
    /// Every change of the database up to this revision is in the bucket.
    pub revision: i64,
    /// Which database the bucket follows (its URL without credentials), so that a state file
    /// or a second relay can tell buckets apart.
    pub database: String,
    /// When it was written.
    pub written_at: DateTime<Utc>,
}

/// Why a value of the bucket could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// Written by a newer maintenance-nats: refused rather than misread.
    #[error(
        "key `{key}` is written in format {found}; this maintenance-nats reads formats up to {FORMAT}: upgrade it"
    )]
    NewerFormat {
        /// The key.
        key: String,
        /// The format found.
        found: u32,
    },
    /// Not a value this crate wrote.
    #[error("key `{key}` does not hold a maintenance record")]
    Malformed {
        /// The key.
        key: String,
        /// What the decoder said.
        #[source]
        source: serde_json::Error,
    },
}

#[derive(Deserialize)]
struct Versioned {
    format: u32,
}

/// Reads a record of `key`, checking its format first.
pub fn decode<T: for<'de> Deserialize<'de>>(key: &str, value: &[u8]) -> Result<T, RecordError> {
    let malformed = |source| RecordError::Malformed {
        key: key.to_owned(),
        source,
    };
    let Versioned { format } = serde_json::from_slice(value).map_err(malformed)?;
    if format > FORMAT {
        return Err(RecordError::NewerFormat {
            key: key.to_owned(),
            found: format,
        });
    }
    serde_json::from_slice(value).map_err(malformed)
}

/// Writes a record.
pub fn encode<T: Serialize>(record: &T) -> Bytes {
    // Records hold only strings, numbers, booleans and dates: serialising them cannot fail.
    Bytes::from(serde_json::to_vec(record).unwrap_or_default())
}

/// The site id of a `site.<id>` key; `None` for any other key.
pub fn site_id(key: &str) -> Option<i64> {
    key.strip_prefix(SITE_PREFIX)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_site_record_reads_back_as_written() {
        let record = SiteRecord::present(7, SiteState::new(3, "shop.example"));
        let back: SiteRecord = decode("site.3", &encode(&record)).unwrap();
        assert_eq!(back, record);
        let gone = SiteRecord::removed(8, Utc::now());
        let back: SiteRecord = decode("site.3", &encode(&gone)).unwrap();
        assert_eq!(back, gone);
    }

    #[test]
    fn a_newer_format_is_refused_with_its_key_and_number() {
        let value = br#"{"format":2,"revision":1,"site":null,"shape":"unknown"}"#;
        let err = decode::<SiteRecord>("site.4", value).unwrap_err();
        assert!(matches!(err, RecordError::NewerFormat { found: 2, .. }));
        assert_eq!(
            err.to_string(),
            "key `site.4` is written in format 2; this maintenance-nats reads formats up to 1: upgrade it"
        );
    }

    #[test]
    fn a_foreign_value_is_malformed() {
        for value in [&b"hello"[..], br#"{"revision":1}"#, br#"{"format":1}"#] {
            let err = decode::<SiteRecord>("site.1", value).unwrap_err();
            assert!(matches!(err, RecordError::Malformed { .. }), "{value:?}");
        }
    }

    #[test]
    fn only_site_keys_name_a_site() {
        assert_eq!(site_id(&site_key(42)), Some(42));
        assert_eq!(site_id("meta"), None);
        assert_eq!(site_id("site.x"), None);
    }
}
