//! A JSON reader that keeps where every value is (byte spans), so that the
//! importer can point at the exact text of a value it cannot use.
//!
//! It runs only on text that `serde_json` has already accepted (which also
//! bounds the nesting depth), so its own errors are a safety net, not the
//! user-facing message.

use std::ops::Range;

#[derive(Debug)]
pub struct Json {
    pub kind: Kind,
    pub span: Range<usize>,
}

#[derive(Debug)]
pub enum Kind {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<Member>),
}

#[derive(Debug)]
pub struct Member {
    pub key: String,
    pub value: Json,
}

impl Json {
    pub fn is_null(&self) -> bool {
        matches!(self.kind, Kind::Null)
    }
    /// The value of `key` when this is an object that has it; the last one wins
    /// if a key is repeated, as in `serde_json`.
    pub fn get(&self, key: &str) -> Option<&Json> {
        self.member(key).map(|m| &m.value)
    }
    pub fn member(&self, key: &str) -> Option<&Member> {
        match &self.kind {
            Kind::Obj(members) => members.iter().rev().find(|m| m.key == key),
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Str(s) => Some(s),
            _ => None,
        }
    }
    pub fn members(&self) -> &[Member] {
        match &self.kind {
            Kind::Obj(members) => members,
            _ => &[],
        }
    }
    /// What the value is, for messages: `a string`, `an array`...
    pub fn describe(&self) -> &'static str {
        match self.kind {
            Kind::Null => "null",
            Kind::Bool(_) => "a boolean",
            Kind::Num(_) => "a number",
            Kind::Str(_) => "a string",
            Kind::Arr(_) => "an array",
            Kind::Obj(_) => "an object",
        }
    }
}

/// Parses `text` (one JSON document). Errors are a byte offset and a message.
pub fn parse(text: &str) -> Result<Json, (usize, String)> {
    let mut p = Parser { s: text.as_bytes(), text, i: 0 };
    p.ws();
    let v = p.value()?;
    p.ws();
    if p.i < p.s.len() {
        return Err((p.i, "trailing characters after the JSON value".into()));
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn err<T>(&self, msg: &str) -> Result<T, (usize, String)> {
        Err((self.i, msg.to_string()))
    }

    fn value(&mut self) -> Result<Json, (usize, String)> {
        let start = self.i;
        let kind = match self.s.get(self.i) {
            None => return self.err("unexpected end of input"),
            Some(b'{') => self.object()?,
            Some(b'[') => self.array()?,
            Some(b'"') => Kind::Str(self.string()?),
            Some(b't') => self.word("true", Kind::Bool(true))?,
            Some(b'f') => self.word("false", Kind::Bool(false))?,
            Some(b'n') => self.word("null", Kind::Null)?,
            Some(b'-' | b'0'..=b'9') => self.number()?,
            Some(_) => return self.err("expected a JSON value"),
        };
        Ok(Json { kind, span: start..self.i })
    }

    fn word(&mut self, w: &str, kind: Kind) -> Result<Kind, (usize, String)> {
        if self.s[self.i..].starts_with(w.as_bytes()) {
            self.i += w.len();
            Ok(kind)
        } else {
            self.err("expected a JSON value")
        }
    }

    fn number(&mut self) -> Result<Kind, (usize, String)> {
        let start = self.i;
        while self.i < self.s.len() && matches!(self.s[self.i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') {
            self.i += 1;
        }
        match self.text[start..self.i].parse::<f64>() {
            Ok(n) => Ok(Kind::Num(n)),
            Err(_) => Err((start, "invalid number".into())),
        }
    }

    fn string(&mut self) -> Result<String, (usize, String)> {
        self.i += 1; // opening quote
        let mut out = String::new();
        loop {
            let run = self.i;
            while self.i < self.s.len() && !matches!(self.s[self.i], b'"' | b'\\') {
                self.i += 1;
            }
            out.push_str(&self.text[run..self.i]);
            match self.s.get(self.i) {
                None => return self.err("unterminated string"),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(_) => {
                    self.i += 1;
                    let c = match self.s.get(self.i) {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            let hi = self.hex4()?;
                            if (0xD800..0xDC00).contains(&hi) && self.s[self.i + 1..].starts_with(b"\\u") {
                                self.i += 2;
                                let lo = self.hex4()?;
                                let code = 0x10000 + ((hi - 0xD800) << 10) + (lo.wrapping_sub(0xDC00) & 0x3FF);
                                char::from_u32(code).unwrap_or('\u{FFFD}')
                            } else {
                                char::from_u32(hi).unwrap_or('\u{FFFD}')
                            }
                        }
                        _ => return self.err("invalid escape"),
                    };
                    out.push(c);
                    self.i += 1;
                }
            }
        }
    }

    /// The 4 hex digits after `\u` (self.i on the `u`); leaves self.i on the last digit.
    fn hex4(&mut self) -> Result<u32, (usize, String)> {
        let digits = self.text.get(self.i + 1..self.i + 5).ok_or((self.i, "invalid \\u escape".to_string()))?;
        let v = u32::from_str_radix(digits, 16).map_err(|_| (self.i, "invalid \\u escape".to_string()))?;
        self.i += 4;
        Ok(v)
    }

    fn array(&mut self) -> Result<Kind, (usize, String)> {
        self.i += 1;
        let mut items = Vec::new();
        self.ws();
        if self.s.get(self.i) == Some(&b']') {
            self.i += 1;
            return Ok(Kind::Arr(items));
        }
        loop {
            self.ws();
            items.push(self.value()?);
            self.ws();
            match self.s.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(Kind::Arr(items));
                }
                _ => return self.err("expected `,` or `]`"),
            }
        }
    }

    fn object(&mut self) -> Result<Kind, (usize, String)> {
        self.i += 1;
        let mut members = Vec::new();
        self.ws();
        if self.s.get(self.i) == Some(&b'}') {
            self.i += 1;
            return Ok(Kind::Obj(members));
        }
        loop {
            self.ws();
            if self.s.get(self.i) != Some(&b'"') {
                return self.err("expected a key");
            }
            let key = self.string()?;
            self.ws();
            if self.s.get(self.i) != Some(&b':') {
                return self.err("expected `:`");
            }
            self.i += 1;
            self.ws();
            let value = self.value()?;
            members.push(Member { key, value });
            self.ws();
            match self.s.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(Kind::Obj(members));
                }
                _ => return self.err("expected `,` or `}`"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_point_at_values() {
        let text = r#"{"a": [1, "x\u00e9\ud83d\ude00"], "b": null}"#;
        let v = parse(text).unwrap();
        let a = v.get("a").unwrap();
        assert_eq!(&text[a.span.clone()], r#"[1, "x\u00e9\ud83d\ude00"]"#);
        let Kind::Arr(items) = &a.kind else { panic!() };
        assert_eq!(items[1].as_str(), Some("xé😀"));
        assert!(v.get("b").unwrap().is_null());
    }
}
