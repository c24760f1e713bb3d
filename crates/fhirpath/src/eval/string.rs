//! String functions: `indexOf`, `substring`, `startsWith`, `contains`, `replace`, `matches`,
//! `replaceMatches`, `length`, `toChars`, `trim`, `split`, `join`, `encode`, `decode`, case.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use regex::Regex;

use super::{boolean, singleton, Engine, EvalResult, Frame, Items};
use crate::compile::{Expr, Func};
use crate::value::{Item, Prim};
use crate::EvalError;

/// Compiled regular expressions shared across evaluations (bounded; cleared when full).
static REGEX_CACHE: LazyLock<Mutex<HashMap<String, Arc<Regex>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

pub(crate) fn regex(pattern: &str) -> Result<Arc<Regex>, EvalError> {
    if let Ok(cache) = REGEX_CACHE.lock() {
        if let Some(r) = cache.get(pattern) {
            return Ok(r.clone());
        }
    }
    let r = regex::RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .dot_matches_new_line(true)
        .build()
        .map_err(|e| EvalError::Argument(format!("bad regular expression: {e}")))?;
    let r = Arc::new(r);
    if let Ok(mut cache) = REGEX_CACHE.lock() {
        if cache.len() > 512 {
            cache.clear();
        }
        cache.insert(pattern.to_string(), r.clone());
    }
    Ok(r)
}

impl<'c, 'a> Engine<'c, 'a> {
    pub(super) fn string(
        &self,
        func: Func,
        focus: Items<'a>,
        args: &[Expr],
        f: &Frame<'_, 'a>,
    ) -> EvalResult<'a> {
        if func == Func::Join {
            let sep = match args.first() {
                Some(e) => self.string_arg(e, f)?.unwrap_or_default(),
                None => String::new(),
            };
            let parts: Vec<&str> = focus.iter().filter_map(Item::as_str).collect();
            let out = parts.join(&sep);
            self.check_string(&out)?;
            return Ok(vec![Item::String(out)]);
        }
        let Some(item) = singleton(focus)? else {
            return Ok(Vec::new());
        };
        let Prim::String(s) = item.prim() else {
            return Err(EvalError::Type(format!("{}() needs a string", func.name())));
        };
        let mut sargs = Vec::with_capacity(args.len());
        if !matches!(func, Func::Substring) {
            for a in args {
                match self.string_arg(a, f)? {
                    Some(v) => sargs.push(v),
                    None => return Ok(Vec::new()),
                }
            }
        }
        let text = |t: String| -> EvalResult<'a> {
            self.check_string(&t)?;
            Ok(vec![Item::String(t)])
        };
        match func {
            Func::IndexOf => {
                let idx = match s.find(sargs[0].as_str()) {
                    Some(b) => s[..b].chars().count() as i64,
                    None => -1,
                };
                Ok(vec![Item::Integer(idx)])
            }
            Func::Substring => {
                let start = self.eval(&args[0], f)?;
                let Some(start) = self.integer_arg(&start)? else {
                    return Ok(Vec::new());
                };
                let len = match args.get(1) {
                    Some(e) => {
                        let v = self.eval(e, f)?;
                        match self.integer_arg(&v)? {
                            Some(l) => Some(l),
                            None => return Ok(Vec::new()),
                        }
                    }
                    None => None,
                };
                let n = s.chars().count() as i64;
                if start < 0 || start >= n {
                    return Ok(Vec::new());
                }
                let take = len.unwrap_or(n).max(0) as usize;
                text(s.chars().skip(start as usize).take(take).collect())
            }
            Func::StartsWith => Ok(boolean(s.starts_with(sargs[0].as_str()))),
            Func::EndsWith => Ok(boolean(s.ends_with(sargs[0].as_str()))),
            Func::Contains => Ok(boolean(s.contains(sargs[0].as_str()))),
            Func::Upper => text(s.to_uppercase()),
            Func::Lower => text(s.to_lowercase()),
            Func::Replace => {
                let (pat, rep) = (&sargs[0], &sargs[1]);
                let projected = s
                    .len()
                    .saturating_add(rep.len().saturating_mul(s.len() + 1));
                self.check_string_len(projected)?;
                if pat.is_empty() {
                    let mut out = rep.clone();
                    for c in s.chars() {
                        out.push(c);
                        out.push_str(rep);
                    }
                    return text(out);
                }
                text(s.replace(pat.as_str(), rep))
            }
            Func::Matches => Ok(boolean(regex(&sargs[0])?.is_match(s))),
            Func::MatchesFull => {
                let r = regex(&format!("^(?:{})$", sargs[0]))?;
                Ok(boolean(r.is_match(s)))
            }
            Func::Escape => text(escape(s, &sargs[0])?),
            Func::Unescape => text(unescape(s, &sargs[0])?),
            Func::ReplaceMatches => {
                if sargs[0].is_empty() {
                    return text(s.to_string());
                }
                let r = regex(&sargs[0])?;
                let rep = sargs[1].as_str();
                let out = r.replace_all(s, rep).into_owned();
                text(out)
            }
            Func::Length => Ok(vec![Item::Integer(s.chars().count() as i64)]),
            Func::ToChars => Ok(s.chars().map(|c| Item::String(c.to_string())).collect()),
            Func::Trim => text(s.trim().to_string()),
            Func::Split => {
                if sargs[0].is_empty() {
                    return Ok(s.chars().map(|c| Item::String(c.to_string())).collect());
                }
                Ok(s.split(sargs[0].as_str())
                    .map(|p| Item::String(p.to_string()))
                    .collect())
            }
            Func::Encode => text(encode(s, &sargs[0])?),
            _ => match decode(s, &sargs[0]) {
                Some(t) => text(t),
                None => Ok(Vec::new()),
            },
        }
    }

    fn check_string_len(&self, n: usize) -> Result<(), EvalError> {
        if n > self.ctx.limits.max_string {
            return Err(EvalError::SizeLimit(self.ctx.limits.max_string));
        }
        Ok(())
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn encode(s: &str, format: &str) -> Result<String, EvalError> {
    let bytes = s.as_bytes();
    match format {
        "hex" => Ok(bytes.iter().map(|b| format!("{b:02x}")).collect()),
        "base64" | "urlbase64" => {
            let mut out = String::new();
            for chunk in bytes.chunks(3) {
                let n = (u32::from(chunk[0]) << 16)
                    | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
                    | u32::from(*chunk.get(2).unwrap_or(&0));
                for k in 0..4 {
                    if k <= chunk.len() {
                        out.push(B64[(n >> (18 - 6 * k) & 63) as usize] as char);
                    } else {
                        out.push('=');
                    }
                }
            }
            if format == "urlbase64" {
                out = out.replace('+', "-").replace('/', "_");
            }
            Ok(out)
        }
        other => Err(EvalError::Argument(format!("unknown encoding {other}"))),
    }
}

fn decode(s: &str, format: &str) -> Option<String> {
    let bytes = match format {
        "hex" => {
            if !s.len().is_multiple_of(2) {
                return None;
            }
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
                .collect::<Option<Vec<u8>>>()?
        }
        "base64" | "urlbase64" => {
            let mut out = Vec::new();
            let mut acc = 0u32;
            let mut bits = 0;
            for c in s.chars() {
                let v = match c {
                    'A'..='Z' => c as u32 - 'A' as u32,
                    'a'..='z' => c as u32 - 'a' as u32 + 26,
                    '0'..='9' => c as u32 - '0' as u32 + 52,
                    '+' | '-' => 62,
                    '/' | '_' => 63,
                    '=' => continue,
                    _ => return None,
                };
                acc = (acc << 6) | v;
                bits += 6;
                if bits >= 8 {
                    bits -= 8;
                    out.push((acc >> bits) as u8);
                    acc &= (1 << bits) - 1;
                }
            }
            out
        }
        _ => return None,
    };
    String::from_utf8(bytes).ok()
}

fn escape(s: &str, format: &str) -> Result<String, EvalError> {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match (format, c) {
            ("html", '"') => out.push_str("&quot;"),
            ("html", '&') => out.push_str("&amp;"),
            ("html", '<') => out.push_str("&lt;"),
            ("html", '>') => out.push_str("&gt;"),
            ("html", '\'') => out.push_str("&#39;"),
            ("json", '"') => out.push_str("\\\""),
            ("json", '\\') => out.push_str("\\\\"),
            ("json", '\n') => out.push_str("\\n"),
            ("json", '\r') => out.push_str("\\r"),
            ("json", '\t') => out.push_str("\\t"),
            ("html" | "json", c) => out.push(c),
            (other, _) => {
                return Err(EvalError::Argument(format!(
                    "unknown escape format {other}"
                )))
            }
        }
    }
    Ok(out)
}

fn unescape(s: &str, format: &str) -> Result<String, EvalError> {
    match format {
        "html" => Ok(s
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&#39;", "'")
            .replace("&apos;", "'")
            .replace("&amp;", "&")),
        "json" => {
            let mut out = String::with_capacity(s.len());
            let mut chars = s.chars();
            while let Some(c) = chars.next() {
                if c != '\\' {
                    out.push(c);
                    continue;
                }
                match chars.next() {
                    Some('n') => out.push('\n'),
                    Some('r') => out.push('\r'),
                    Some('t') => out.push('\t'),
                    Some(other) => out.push(other),
                    None => out.push('\\'),
                }
            }
            Ok(out)
        }
        other => Err(EvalError::Argument(format!(
            "unknown escape format {other}"
        ))),
    }
}
