//! String normalisation for `string` search: the same fold is applied to indexed values and to
//! search values, so that `muller`, `Müller` (NFC) and `Mu\u{308}ller` (NFD) all match.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// Folds a string for case- and accent-insensitive matching:
/// 1. compatibility decomposition (NFKD), so `ﬁ` becomes `fi` and `ü` becomes `u` + mark;
/// 2. removal of every combining mark;
/// 3. lower-casing (full Unicode lower case);
/// 4. ligature folds that NFKD does not perform: `ß`→`ss`, `œ`→`oe`, `æ`→`ae`, `ø`→`o`,
///    `đ`→`d`, `ł`→`l`, `ı`→`i`;
/// 5. runs of white space collapse to one space and the ends are trimmed.
pub fn normalize(input: &str) -> String {
    if input.is_ascii() {
        return normalize_ascii(input);
    }
    normalize_unicode(input)
}

/// [`normalize`] for ASCII input, where decomposition and mark removal change nothing and
/// lower case is ASCII lower case: most codes' displays and names, without the per-character
/// decomposition.
fn normalize_ascii(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    let mut pending_space = false;
    for b in input.bytes() {
        // The ASCII white space of `char::is_whitespace`: tab, line feed, vertical tab, form
        // feed, carriage return and space.
        if matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ') {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.push(char::from(b.to_ascii_lowercase()));
    }
    out
}

fn normalize_unicode(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    let mut pending_space = false;
    for ch in input.nfkd().filter(|c| !is_combining_mark(*c)) {
        if ch.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        for lower in ch.to_lowercase() {
            match lower {
                'ß' => out.push_str("ss"),
                'œ' => out.push_str("oe"),
                'æ' => out.push_str("ae"),
                'ø' => out.push('o'),
                'đ' => out.push('d'),
                'ł' => out.push('l'),
                'ı' => out.push('i'),
                other => out.push(other),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{normalize, normalize_unicode};
    use proptest::prelude::*;

    proptest! {
        /// The ASCII fast path folds exactly like the general one.
        #[test]
        fn ascii_fast_path_agrees(input in "[\\x00-\\x7f]{0,40}") {
            prop_assert_eq!(normalize(&input), normalize_unicode(&input));
        }
    }

    fn check(input: &str, expected: &str) {
        assert_eq!(normalize(input), expected, "normalize({input:?})");
    }

    #[test]
    fn folds_case_accents_and_ligatures() {
        check("Müller", "muller");
        check("Mu\u{308}ller", "muller");
        check("MÜLLER", "muller");
        check("Saarbrücken", "saarbrucken");
        check("Straße", "strasse");
        check("STRASSE", "strasse");
        check("Œuvre", "oeuvre");
        check("Cæsar", "caesar");
        check("Søren", "soren");
        check("Łódź", "lodz");
        check("ﬁne", "fine");
        check("  Anne   Marie ", "anne marie");
        check("", "");
        check("José", "jose");
        check("Ǆ", "dz");
    }

    #[test]
    fn nfc_and_nfd_agree() {
        for s in ["Müller", "Åsa", "Ñandú", "Ελληνικά", "Dvořák"] {
            let nfd: String = unicode_normalization::UnicodeNormalization::nfd(s).collect();
            assert_eq!(normalize(s), normalize(&nfd), "{s}");
        }
    }
}
