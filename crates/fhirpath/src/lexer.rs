//! Tokeniser for FHIRPath source text: literals, identifiers, operators and comments.

use crate::ParseError;

/// One lexical token with its byte offset in the source.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub kind: Tok,
    pub pos: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// A plain identifier (may be a keyword such as `and` or `true`; the parser decides).
    Ident(String),
    /// A backtick-delimited identifier: never a keyword.
    Delimited(String),
    /// `$this`, `$index`, `$total`.
    Special(String),
    Str(String),
    /// Lexical form of a number without sign (`12`, `3.50`).
    Number(String),
    /// A long integer literal (`12L`).
    Long(String),
    /// `@2014-01-02T10:00:00Z`-style literal, without the `@`.
    DateTime(String),
    /// `@T10:00` literal, without the `@T`.
    Time(String),
    Percent,
    Symbol(&'static str),
    Eof,
}

const SYMBOLS: [&str; 21] = [
    "<=", ">=", "!=", "!~", ".", "[", "]", "(", ")", "{", "}", ",", "+", "-", "*", "/", "&", "|",
    "=", "~", "<",
];

pub(crate) fn tokenize(src: &str) -> Result<Vec<Token>, ParseError> {
    let b = src.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if c == b'/' && b.get(i + 1) == Some(&b'*') {
            let Some(end) = src[i + 2..].find("*/") else {
                return Err(ParseError::new(i, "unterminated comment"));
            };
            i += end + 4;
            continue;
        }
        let pos = i;
        if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push(Token {
                kind: Tok::Ident(src[start..i].to_string()),
                pos,
            });
            continue;
        }
        if c == b'$' {
            let start = i + 1;
            i += 1;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push(Token {
                kind: Tok::Special(src[start..i].to_string()),
                pos,
            });
            continue;
        }
        if c.is_ascii_digit() {
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if i + 1 < b.len() && b[i] == b'.' && b[i + 1].is_ascii_digit() {
                i += 1;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
            } else if i < b.len() && b[i] == b'L' {
                out.push(Token {
                    kind: Tok::Long(src[start..i].to_string()),
                    pos,
                });
                i += 1;
                continue;
            }
            out.push(Token {
                kind: Tok::Number(src[start..i].to_string()),
                pos,
            });
            continue;
        }
        if c == b'\'' || c == b'`' {
            let (text, next) = string_body(src, i, c)?;
            i = next;
            let kind = if c == b'\'' {
                Tok::Str(text)
            } else {
                Tok::Delimited(text)
            };
            out.push(Token { kind, pos });
            continue;
        }
        if c == b'@' {
            let (kind, next) = date_literal(src, i + 1)?;
            i = next;
            out.push(Token { kind, pos });
            continue;
        }
        if c == b'%' {
            out.push(Token {
                kind: Tok::Percent,
                pos,
            });
            i += 1;
            continue;
        }
        let rest = &src[i..];
        match SYMBOLS.iter().find(|s| rest.starts_with(**s)) {
            Some(s) => {
                out.push(Token {
                    kind: Tok::Symbol(s),
                    pos,
                });
                i += s.len();
            }
            None if c == b'>' => {
                out.push(Token {
                    kind: Tok::Symbol(">"),
                    pos,
                });
                i += 1;
            }
            None => {
                let ch = rest.chars().next().unwrap_or('?');
                return Err(ParseError::new(i, format!("unexpected character `{ch}`")));
            }
        }
    }
    out.push(Token {
        kind: Tok::Eof,
        pos: src.len(),
    });
    Ok(out)
}

/// Reads a quoted string or delimited identifier starting at the opening quote.
fn string_body(src: &str, start: usize, quote: u8) -> Result<(String, usize), ParseError> {
    let mut out = String::new();
    let mut chars = src[start + 1..].char_indices();
    while let Some((off, ch)) = chars.next() {
        let at = start + 1 + off;
        if ch as u32 == quote as u32 {
            return Ok((out, at + 1));
        }
        if ch != '\\' {
            out.push(ch);
            continue;
        }
        let Some((_, esc)) = chars.next() else { break };
        match esc {
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'f' => out.push('\u{c}'),
            '\'' | '"' | '`' | '\\' | '/' => out.push(esc),
            'u' => {
                let mut code = 0u32;
                for _ in 0..4 {
                    let d = chars
                        .next()
                        .and_then(|(_, h)| h.to_digit(16))
                        .ok_or_else(|| ParseError::new(at, "bad \\u escape"))?;
                    code = code * 16 + d;
                }
                out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
            }
            other => return Err(ParseError::new(at, format!("unknown escape `\\{other}`"))),
        }
    }
    Err(ParseError::new(start, "unterminated string"))
}

fn digits(b: &[u8], i: usize, n: usize) -> bool {
    i + n <= b.len() && b[i..i + n].iter().all(u8::is_ascii_digit)
}

/// Lexes the part of a date, dateTime or time literal after the `@`.
fn date_literal(src: &str, start: usize) -> Result<(Tok, usize), ParseError> {
    let b = src.as_bytes();
    let mut i = start;
    let time_only = b.get(i) == Some(&b'T');
    if time_only {
        i += 1;
        i = time_part(b, i);
        if i == start + 1 {
            return Err(ParseError::new(start, "malformed time literal"));
        }
        let body = src[start + 1..i].to_string();
        let j = timezone(b, i);
        if j != i {
            return Err(ParseError::new(
                start,
                "a time literal cannot have a timezone",
            ));
        }
        return Ok((Tok::Time(body), i));
    }
    if !digits(b, i, 4) {
        return Err(ParseError::new(start, "malformed date literal"));
    }
    i += 4;
    for _ in 0..2 {
        if b.get(i) == Some(&b'-') && digits(b, i + 1, 2) {
            i += 3;
        } else {
            break;
        }
    }
    if b.get(i) == Some(&b'T') {
        i += 1;
        i = time_part(b, i);
        i = timezone(b, i);
    }
    Ok((Tok::DateTime(src[start..i].to_string()), i))
}

fn time_part(b: &[u8], mut i: usize) -> usize {
    if !digits(b, i, 2) {
        return i;
    }
    i += 2;
    for _ in 0..2 {
        if b.get(i) == Some(&b':') && digits(b, i + 1, 2) {
            i += 3;
        } else {
            return i;
        }
    }
    if b.get(i) == Some(&b'.') && digits(b, i + 1, 1) {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
    }
    i
}

fn timezone(b: &[u8], i: usize) -> usize {
    match b.get(i) {
        Some(b'Z') => i + 1,
        Some(b'+' | b'-')
            if digits(b, i + 1, 2) && b.get(i + 3) == Some(&b':') && digits(b, i + 4, 2) =>
        {
            i + 6
        }
        _ => i,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(src: &str, expected: &[Tok]) {
        let toks: Vec<Tok> = tokenize(src).unwrap().into_iter().map(|t| t.kind).collect();
        assert_eq!(&toks[..toks.len() - 1], expected, "{src}");
    }

    #[test]
    fn numbers_and_dots() {
        check(
            "1.convertsToInteger()",
            &[
                Tok::Number("1".into()),
                Tok::Symbol("."),
                Tok::Ident("convertsToInteger".into()),
                Tok::Symbol("("),
                Tok::Symbol(")"),
            ],
        );
        check(
            "2.50 5L",
            &[Tok::Number("2.50".into()), Tok::Long("5".into())],
        );
    }

    #[test]
    fn dates() {
        check(
            "@2014-01-25T14:30:14.559+10:00",
            &[Tok::DateTime("2014-01-25T14:30:14.559+10:00".into())],
        );
        check("@2015T", &[Tok::DateTime("2015T".into())]);
        check("@T14:30", &[Tok::Time("14:30".into())]);
        assert!(tokenize("@T14:34:28Z").is_err());
    }

    #[test]
    fn strings_and_comments() {
        check("'a\\'b' // x", &[Tok::Str("a'b".into())]);
        check("/* c */ `given`", &[Tok::Delimited("given".into())]);
        assert!(tokenize("2 /* open").is_err());
    }
}
