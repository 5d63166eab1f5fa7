//! Checks shared by every store, the CLI and the admin page, so they all refuse the same input.
//!
//! A leaf of the crate: it knows values, not the model (a whole site is checked by
//! [`crate::SiteState::validate`], built from these).

use std::net::IpAddr;

use ipnet::IpNet;

use crate::error::ValidationError;

pub use crate::host::validate_domain as domain;
pub use crate::pattern::check_pattern_syntax as pattern_syntax;
pub use crate::pattern::validate_pattern as pattern;
pub use crate::pattern::validate_pattern_set as pattern_set;
pub use crate::pattern::{MAX_MATCHED_PATH_LEN, MAX_PATTERN_LEN};

/// The most scope patterns a site takes (partial maintenance).
pub const MAX_SCOPE_PATTERNS: usize = 100;

/// Checks how many scope patterns a site is given.
pub fn scope_size(count: usize) -> Result<(), ValidationError> {
    if count > MAX_SCOPE_PATTERNS {
        return Err(ValidationError::TooMany {
            field: "scope",
            count,
            max: MAX_SCOPE_PATTERNS,
        });
    }
    Ok(())
}

/// The longest tag accepted. With at most [`MAX_TAGS`] tags a site's tags, joined by spaces,
/// stay under 1,024 bytes, MySQL's default `group_concat_max_len` (the SQL stores read a site's
/// tags as one aggregated column).
pub const MAX_TAG_LEN: usize = 48;
/// The most tags one site carries.
pub const MAX_TAGS: usize = 20;

/// Checks a tag (a label that groups sites) and returns it as stored: trimmed and lower-cased
/// (ASCII), then 1 to [`MAX_TAG_LEN`] characters of `a-z`, `0-9`, `_`, `.` and `-`.
///
/// ```
/// use maintenance_core::validate::tag;
/// assert_eq!(tag(" EU-West ").unwrap(), "eu-west");
/// assert!(tag("two words").unwrap_err().to_string().contains("`two words`"));
/// assert!(tag("").is_err());
/// ```
pub fn tag(text: &str) -> Result<String, ValidationError> {
    let t = text.trim().to_ascii_lowercase();
    let ok = (1..=MAX_TAG_LEN).contains(&t.len())
        && t.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-')
        });
    if ok {
        Ok(t)
    } else {
        Err(ValidationError::Tag(text.to_owned()))
    }
}

/// Checks several tags ([`tag`]) and returns them as stored: sorted, each once. The first bad
/// one is the error.
pub fn tags<I, S>(texts: I) -> Result<Vec<String>, ValidationError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut out = texts
        .into_iter()
        .map(|t| tag(t.as_ref()))
        .collect::<Result<Vec<_>, _>>()?;
    out.sort();
    out.dedup();
    Ok(out)
}

/// Checks how many tags a site carries.
pub fn tag_count(count: usize) -> Result<(), ValidationError> {
    if count > MAX_TAGS {
        return Err(ValidationError::TooMany {
            field: "tags",
            count,
            max: MAX_TAGS,
        });
    }
    Ok(())
}

/// The longest message accepted.
pub const MAX_MESSAGE_LEN: usize = 2000;
/// The longest description (of a pattern or a network) accepted.
pub const MAX_DESCRIPTION_LEN: usize = 255;
/// The longest site name accepted.
pub const MAX_NAME_LEN: usize = 255;

/// Parses a network in CIDR notation; a bare address means that one host.
///
/// The host bits are kept as written (`10.1.2.3/8` contains the same addresses as `10.0.0.0/8`).
/// An IPv4-mapped IPv6 network (`::ffff:10.0.0.0/104`) is turned into the IPv4 network it
/// means (`10.0.0.0/8`), since client addresses are compared in their IPv4 form; one whose
/// prefix is shorter than 96 mixes both kinds and is refused.
///
/// ```
/// use maintenance_core::validate::network;
/// assert_eq!(network("10.0.0.0/8").unwrap().to_string(), "10.0.0.0/8");
/// assert_eq!(network("127.0.0.1").unwrap().to_string(), "127.0.0.1/32");
/// assert_eq!(network("::1").unwrap().to_string(), "::1/128");
/// assert_eq!(network("::ffff:10.0.0.1").unwrap().to_string(), "10.0.0.1/32");
/// assert!(network("10.0.0.0/33").unwrap_err().to_string().contains("10.0.0.0/33"));
/// ```
pub fn network(text: &str) -> Result<IpNet, ValidationError> {
    let t = text.trim();
    let net = match t.parse::<IpNet>() {
        Ok(net) => net,
        Err(_) => t
            .parse::<IpAddr>()
            .map(IpNet::from)
            .map_err(|_| ValidationError::Cidr(text.to_owned()))?,
    };
    canonical_network(net).ok_or_else(|| ValidationError::MappedCidr(text.to_owned()))
}

/// The network as client addresses are compared: an IPv4-mapped IPv6 network as IPv4;
/// `None` for a mapped network whose prefix is shorter than 96 (it would mix both kinds).
///
/// ```
/// use maintenance_core::validate::canonical_network;
/// let mapped = "::ffff:192.168.0.0/112".parse().unwrap();
/// assert_eq!(canonical_network(mapped).unwrap().to_string(), "192.168.0.0/16");
/// let plain = "2001:db8::/32".parse().unwrap();
/// assert_eq!(canonical_network(plain), Some(plain));
/// ```
pub fn canonical_network(net: IpNet) -> Option<IpNet> {
    let IpNet::V6(v6) = net else {
        return Some(net);
    };
    let Some(v4) = v6.addr().to_ipv4_mapped() else {
        return Some(net);
    };
    let prefix = v6.prefix_len().checked_sub(96)?;
    ipnet::Ipv4Net::new(v4, prefix).ok().map(IpNet::V4)
}

/// Checks a text field's length in characters.
pub fn text(field: &'static str, value: &str, max: usize) -> Result<(), ValidationError> {
    let len = value.chars().count();
    if len > max {
        Err(ValidationError::TooLong { field, len, max })
    } else {
        Ok(())
    }
}

/// The prefix of a stored bypass secret hash.
pub(crate) const SECRET_HASH_PREFIX: &str = "sha256:";

/// Checks that a stored bypass secret hash has the form [`crate::bypass::hash_secret`] gives:
/// `sha256:` and 64 hex digits.
///
/// ```
/// use maintenance_core::validate::secret_hash;
/// assert!(secret_hash(&format!("sha256:{}", "0".repeat(64))).is_ok());
/// assert!(secret_hash("md5:abc").is_err());
/// ```
pub fn secret_hash(hash: &str) -> Result<(), ValidationError> {
    match hash.strip_prefix(SECRET_HASH_PREFIX) {
        Some(h) if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) => Ok(()),
        _ => Err(ValidationError::SecretHash),
    }
}
