//! Inputs shared by the fuzz targets: structured so that libFuzzer's mutations reach the
//! decision's branches (known addresses, domains, path pieces, the bypass secret, a valid
//! bypass cookie) while every part can still be arbitrary text or bytes.
#![forbid(unsafe_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::OnceLock;

use arbitrary::Arbitrary;
use maintenance_core::bypass::{hash_secret, sign_cookie};
use maintenance_core::chrono::{DateTime, TimeZone, Utc};
pub use maintenance_core::testkit::HEADER_NAMES;
use maintenance_core::testkit::{ADDRESS_PIECES, PROPERTY_SECRET};

/// The instant the targets decide at (2027-01-15), so windows and cookies are reproducible.
pub const NOW: i64 = 1_800_000_000;

/// The bypass secret of the sites that have one.
pub const SECRET: &str = PROPERTY_SECRET;

/// `NOW` moved by `offset` seconds.
pub fn at(offset: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(NOW + offset, 0)
        .single()
        .unwrap_or_default()
}

/// Either a known piece (by index, wrapping) or any text.
#[derive(Debug, Arbitrary)]
pub enum Piece {
    /// One of the known pieces.
    Known(u8),
    /// Any text.
    Any(String),
}

impl Piece {
    /// The piece's text, with `known` as the list to pick from.
    pub fn text<S: AsRef<str>>(&self, known: &[S]) -> String {
        match self {
            Piece::Known(i) if !known.is_empty() => {
                known[usize::from(*i) % known.len()].as_ref().to_owned()
            }
            Piece::Known(_) => String::new(),
            Piece::Any(s) => s.clone(),
        }
    }
}

/// Pieces joined into one string.
pub fn join<S: AsRef<str>>(pieces: &[Piece], known: &[S]) -> String {
    pieces.iter().map(|p| p.text(known)).collect()
}

/// A part of a header line: known text or any bytes.
#[derive(Debug, Arbitrary)]
pub enum LinePiece {
    /// One of [`line_pieces`].
    Known(u8),
    /// Any bytes.
    Bytes(Vec<u8>),
}

/// A header line from its parts.
pub fn line(pieces: &[LinePiece]) -> Vec<u8> {
    let known = line_pieces();
    let mut out = Vec::new();
    for piece in pieces {
        match piece {
            LinePiece::Known(i) => {
                out.extend_from_slice(known[usize::from(*i) % known.len()].as_bytes());
            }
            LinePiece::Bytes(b) => out.extend_from_slice(b),
        }
    }
    out
}

/// Text found in header lines: the core's [`ADDRESS_PIECES`] (addresses in every form the
/// parser reads, the trusted peers among them, `Forwarded` syntax, separators), more addresses,
/// media types, the secret and a valid cookie.
pub fn line_pieces() -> &'static [String] {
    static PIECES: OnceLock<Vec<String>> = OnceLock::new();
    PIECES.get_or_init(|| {
        let cookie = sign_cookie(None, &hash_secret(SECRET), 1, at(60));
        let extra = [
            "192.168.1.1",
            ";proto=https",
            "=",
            "application/json",
            "text/html",
            "application/problem+json",
            ";q=0.5",
            "maintenance_bypass=",
            SECRET,
            "example.com",
            "shop.example.com",
        ];
        let mut pieces: Vec<String> = ADDRESS_PIECES
            .iter()
            .copied()
            .chain(extra)
            .map(str::to_owned)
            .collect();
        pieces.push(format!("maintenance_bypass={cookie}"));
        pieces.push(cookie);
        pieces
    })
}

/// A header line: a name and its parts.
#[derive(Debug, Arbitrary)]
pub struct Header {
    /// The name, from [`HEADER_NAMES`] or any text.
    pub name: Piece,
    /// The line.
    pub value: Vec<LinePiece>,
}

impl Header {
    /// The name and the bytes of the line.
    pub fn build(&self) -> (String, Vec<u8>) {
        (self.name.text(HEADER_NAMES), line(&self.value))
    }
}

/// A peer address: one of the interesting ones, or any.
#[derive(Debug, Arbitrary)]
pub enum Peer {
    /// One of the trusted proxies or plain clients the policies know.
    Known(u8),
    /// Any IPv4 address.
    V4([u8; 4]),
    /// Any IPv6 address.
    V6([u8; 16]),
}

impl Peer {
    /// The address.
    pub fn ip(&self) -> IpAddr {
        const KNOWN: [IpAddr; 6] = [
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 3)),
            IpAddr::V6(Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0x0a00, 0x0002)),
            IpAddr::V4(Ipv4Addr::new(203, 0, 113, 50)),
            IpAddr::V4(Ipv4Addr::new(192, 168, 1, 1)),
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 9)),
        ];
        match self {
            Peer::Known(i) => KNOWN[usize::from(*i) % KNOWN.len()],
            Peer::V4(b) => IpAddr::from(*b),
            Peer::V6(b) => IpAddr::from(*b),
        }
    }
}
