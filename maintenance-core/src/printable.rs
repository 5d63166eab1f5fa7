//! Stored text made safe to print: control characters escaped.
//!
//! Site names, domains, messages and patterns come from operators, from plain SQL and from
//! Django's tables. Printed raw, an ESC starts a terminal escape sequence, a CR overwrites the
//! start of a log line and a bidirectional override reorders what a reader sees. Errors and
//! log lines print such text through [`Printable`].

use std::fmt;

/// Shows its text with every character that could change how a terminal or a log viewer
/// shows it written as `\u{..}`: C0 controls (CR, LF and tab too: a value is one line),
/// DEL, C1 controls and the characters that reorder text.
///
/// ```
/// use maintenance_core::printable::Printable;
/// assert_eq!(Printable("shop\u{1b}[2J\u{7}\r").to_string(), "shop\\u{1b}[2J\\u{7}\\u{d}");
/// assert_eq!(Printable("Café, back at 14:00").to_string(), "Café, back at 14:00");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Printable<'a>(pub &'a str);

/// Whether `c` is written escaped by [`Printable`].
pub fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

impl fmt::Display for Printable<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(needs_escape) {
            f.write_str(&rest[..at])?;
            let c = rest[at..].chars().next().unwrap_or_default();
            write!(f, "\\u{{{:x}}}", u32::from(c))?;
            rest = &rest[at + c.len_utf8()..];
        }
        f.write_str(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_reordering_characters_are_escaped() {
        let cases = [
            ("plain", "plain"),
            ("a\u{1b}b", "a\\u{1b}b"),
            ("\r\n\t", "\\u{d}\\u{a}\\u{9}"),
            ("x\u{7f}\u{85}\u{9b}", "x\\u{7f}\\u{85}\\u{9b}"),
            ("abc\u{202e}fed", "abc\\u{202e}fed"),
            ("日本\u{7}", "日本\\u{7}"),
            ("", ""),
        ];
        for (input, want) in cases {
            assert_eq!(Printable(input).to_string(), want, "{input:?}");
        }
    }
}
