//! `application/x-www-form-urlencoded` query strings: splitting and percent-decoding
//! (`Patient?identifier=sys%7Cval` for conditional operations) and the encoding used to render
//! self and next links.

/// Splits `a=b&c=d` (an optional leading `Type?` or `?` is skipped) into decoded pairs.
/// `+` decodes to a space; malformed `%` escapes are kept as written; a pair without `=` has
/// an empty value; empty segments are dropped.
pub fn parse_query_string(input: &str) -> Vec<(String, String)> {
    let query = match input.split_once('?') {
        Some((_, q)) => q,
        None => input,
    };
    let query = query.split('#').next().unwrap_or_default();
    query
        .split('&')
        .filter(|s| !s.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// Decodes `%XX` escapes and `+`; invalid UTF-8 is replaced with U+FFFD.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 3;
                }
                _ => {
                    out.push(b'%');
                    i += 1;
                }
            },
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Percent-encodes everything except unreserved characters and the characters FHIR search
/// syntax relies on and that are safe in a query component (`: / | , $ . - _ ~ *`).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~:/|,$*@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &[(&str, &str)]) {
        let got = parse_query_string(input);
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(got, expected, "{input}");
    }

    #[test]
    fn splits_and_decodes() {
        check("Patient?identifier=sys%7Cval", &[("identifier", "sys|val")]);
        check("?a=1&b=2&&a=3", &[("a", "1"), ("b", "2"), ("a", "3")]);
        check("name=M%C3%BCller+Hans", &[("name", "Müller Hans")]);
        check("x", &[("x", "")]);
        check("x=%zz%4", &[("x", "%zz%4")]);
        check("x=%", &[("x", "%")]);
        check("x=a=b", &[("x", "a=b")]);
        check("", &[]);
        check("a=1#frag", &[("a", "1")]);
    }

    #[test]
    fn encode_round_trips() {
        for s in ["Müller Hans", "a&b=c", "100%", "sys|val,x$y", "+"] {
            assert_eq!(percent_decode(&percent_encode(s)), s);
        }
    }
}
