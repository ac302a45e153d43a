//! JSON fast path for events: plain JSON documents only. Anything else (big integers, lone
//! surrogates, `NaN`, invalid input...) is declined, and the Python side redoes it with
//! awslambdaric's exact rules and messages.

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString};

/// Nesting deeper than this is left to the Python path (which also detects cycles).
pub const MAX_DEPTH: u32 = 512;

/// The fast path does not handle this value; the Python path will.
#[derive(Debug)]
pub struct Declined;

impl From<PyErr> for Declined {
    fn from(_: PyErr) -> Self {
        Declined
    }
}

/// Decode a JSON document made of plain JSON values.
pub fn loads<'py>(py: Python<'py>, data: &[u8]) -> Result<Bound<'py, PyAny>, Declined> {
    let text = std::str::from_utf8(data).map_err(|_| Declined)?;
    let mut parser = Parser {
        py,
        text,
        bytes: data,
        pos: 0,
        depth: 0,
    };
    let value = parser.value()?;
    parser.skip_ws();
    if parser.pos != data.len() {
        return Err(Declined);
    }
    Ok(value)
}

struct Parser<'a, 'py> {
    py: Python<'py>,
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    depth: u32,
}

impl<'py> Parser<'_, 'py> {
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    fn value(&mut self) -> Result<Bound<'py, PyAny>, Declined> {
        self.skip_ws();
        let py = self.py;
        match self.bytes.get(self.pos).copied().ok_or(Declined)? {
            b'{' => self.object(),
            b'[' => self.array(),
            b'"' => Ok(self.string()?.into_any()),
            b't' => self.literal("true", PyBool::new(py, true).to_owned().into_any()),
            b'f' => self.literal("false", PyBool::new(py, false).to_owned().into_any()),
            b'n' => self.literal("null", py.None().into_bound(py)),
            b'-' | b'0'..=b'9' => self.number(),
            _ => Err(Declined),
        }
    }

    fn literal(
        &mut self,
        word: &str,
        value: Bound<'py, PyAny>,
    ) -> Result<Bound<'py, PyAny>, Declined> {
        if self.bytes[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(Declined)
        }
    }

    fn enter(&mut self) -> Result<(), Declined> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Declined);
        }
        self.pos += 1;
        Ok(())
    }

    fn object(&mut self) -> Result<Bound<'py, PyAny>, Declined> {
        self.enter()?;
        let dict = PyDict::new(self.py);
        self.skip_ws();
        if self.bytes.get(self.pos) == Some(&b'}') {
            self.pos += 1;
        } else {
            loop {
                self.skip_ws();
                if self.bytes.get(self.pos) != Some(&b'"') {
                    return Err(Declined);
                }
                let key = self.string()?;
                self.skip_ws();
                if self.bytes.get(self.pos) != Some(&b':') {
                    return Err(Declined);
                }
                self.pos += 1;
                let value = self.value()?;
                dict.set_item(key, value)?;
                self.skip_ws();
                match self.bytes.get(self.pos) {
                    Some(b',') => self.pos += 1,
                    Some(b'}') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(Declined),
                }
            }
        }
        self.depth -= 1;
        Ok(dict.into_any())
    }

    fn array(&mut self) -> Result<Bound<'py, PyAny>, Declined> {
        self.enter()?;
        let mut items = Vec::new();
        self.skip_ws();
        if self.bytes.get(self.pos) == Some(&b']') {
            self.pos += 1;
        } else {
            loop {
                items.push(self.value()?);
                self.skip_ws();
                match self.bytes.get(self.pos) {
                    Some(b',') => self.pos += 1,
                    Some(b']') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(Declined),
                }
            }
        }
        self.depth -= 1;
        Ok(PyList::new(self.py, items)?.into_any())
    }

    fn string(&mut self) -> Result<Bound<'py, PyString>, Declined> {
        let start = self.pos + 1;
        let end = next_special(self.bytes, start);
        match self.bytes.get(end).copied().ok_or(Declined)? {
            b'"' => {}
            b'\\' => return self.escaped_string(start),
            _ => return Err(Declined),
        }
        self.pos = end + 1;
        // `text` is valid UTF-8 and a quote never falls inside a multi-byte sequence.
        Ok(PyString::new(self.py, &self.text[start..end]))
    }

    fn escaped_string(&mut self, start: usize) -> Result<Bound<'py, PyString>, Declined> {
        let mut out = String::new();
        let mut pos = start;
        let mut run = start;
        loop {
            match self.bytes.get(pos).copied().ok_or(Declined)? {
                b'"' => break,
                0..=0x1f => return Err(Declined),
                b'\\' => {
                    out.push_str(&self.text[run..pos]);
                    let escape = self.bytes.get(pos + 1).copied().ok_or(Declined)?;
                    pos += 2;
                    match escape {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => pos = self.unicode_escape(pos, &mut out)?,
                        _ => return Err(Declined),
                    }
                    run = pos;
                }
                _ => pos += 1,
            }
        }
        out.push_str(&self.text[run..pos]);
        self.pos = pos + 1;
        Ok(PyString::new(self.py, &out))
    }

    /// Decode `XXXX` (after `\u`) at `pos`, pairing surrogates; lone surrogates are declined.
    fn unicode_escape(&self, pos: usize, out: &mut String) -> Result<usize, Declined> {
        let first = self.hex4(pos)?;
        let (code, next) = if (0xD800..0xDC00).contains(&first) {
            if self.bytes.get(pos + 4..pos + 6) != Some(b"\\u") {
                return Err(Declined);
            }
            let second = self.hex4(pos + 6)?;
            if !(0xDC00..0xE000).contains(&second) {
                return Err(Declined);
            }
            (
                0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00),
                pos + 10,
            )
        } else {
            (first, pos + 4)
        };
        out.push(char::from_u32(code).ok_or(Declined)?);
        Ok(next)
    }

    fn hex4(&self, pos: usize) -> Result<u32, Declined> {
        let digits = self.text.get(pos..pos + 4).ok_or(Declined)?;
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Declined);
        }
        u32::from_str_radix(digits, 16).map_err(|_| Declined)
    }

    fn number(&mut self) -> Result<Bound<'py, PyAny>, Declined> {
        let start = self.pos;
        let digits = |p: &mut usize, bytes: &[u8]| {
            let from = *p;
            while bytes.get(*p).is_some_and(u8::is_ascii_digit) {
                *p += 1;
            }
            *p - from
        };
        let mut pos = start;
        if self.bytes[pos] == b'-' {
            pos += 1;
        }
        let int_digits = digits(&mut pos, self.bytes);
        if int_digits == 0 || (int_digits > 1 && self.bytes[pos - int_digits] == b'0') {
            return Err(Declined);
        }
        let mut is_float = false;
        if self.bytes.get(pos) == Some(&b'.') {
            pos += 1;
            if digits(&mut pos, self.bytes) == 0 {
                return Err(Declined);
            }
            is_float = true;
        }
        if let Some(b'e' | b'E') = self.bytes.get(pos) {
            pos += 1;
            if let Some(b'+' | b'-') = self.bytes.get(pos) {
                pos += 1;
            }
            if digits(&mut pos, self.bytes) == 0 {
                return Err(Declined);
            }
            is_float = true;
        }
        self.pos = pos;
        let text = &self.text[start..pos];
        if is_float {
            // Rust and Python both round decimal text to the nearest double.
            let value: f64 = text.parse().map_err(|_| Declined)?;
            return Ok(PyFloat::new(self.py, value).into_any());
        }
        // NOTE: integers beyond i64 are rare in events; Python's int() takes them.
        let value: i64 = text.parse().map_err(|_| Declined)?;
        Ok(PyInt::new(self.py, value).into_any())
    }
}

/// Index of the first `"`, `\\` or control character at or after `index` (or the length).
pub fn next_special(bytes: &[u8], mut index: usize) -> usize {
    // NOTE: eight bytes at a time (SWAR): long strings dominate large events.
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    while let Some(chunk) = bytes.get(index..index + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let value = u64::from_le_bytes(word);
        let quote = value ^ (ONES * u64::from(b'"'));
        let backslash = value ^ (ONES * u64::from(b'\\'));
        let zero_quote = quote.wrapping_sub(ONES) & !quote;
        let zero_backslash = backslash.wrapping_sub(ONES) & !backslash;
        let control = value.wrapping_sub(ONES * 0x20) & !value;
        if (zero_quote | zero_backslash | control) & HIGHS != 0 {
            break;
        }
        index += 8;
    }
    while index < bytes.len() && !matches!(bytes[index], b'"' | b'\\' | 0..=0x1f) {
        index += 1;
    }
    index
}

#[cfg(test)]
mod tests {
    use super::next_special;

    #[test]
    fn finds_quotes_backslashes_and_controls() {
        let text = b"abcdefghijklmnop\"rest";
        assert_eq!(next_special(text, 0), 16);
        assert_eq!(next_special(b"0123456789\\", 3), 10);
        assert_eq!(next_special(b"0123456789abcdef\x01", 0), 16);
        assert_eq!(
            next_special("h\u{e9}llo w\u{f6}rld \u{2603}".as_bytes(), 0),
            17
        );
        assert_eq!(next_special(b"", 0), 0);
    }
}
