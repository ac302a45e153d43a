//! A template's YAML read into a value tree with its nesting bounded while it is read, and its
//! tags checked against CloudFormation's intrinsic functions.

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, Visitor};
use serde_yaml::value::{Tag, TaggedValue};
use serde_yaml::{Mapping, Value};

use crate::config::spec::{ConfigError, Origin};
use crate::config::MAX_DOCUMENT_DEPTH;

/// Every intrinsic function of CloudFormation with a short form (`!Name`); the first five are
/// resolved, the others (conditions, `FindInMap`, ...) read as null.
pub const CLOUDFORMATION_TAGS: &[&str] = &[
    "Ref",
    "Sub",
    "GetAtt",
    "Join",
    "Select",
    "Base64",
    "Cidr",
    "FindInMap",
    "GetAZs",
    "ImportValue",
    "Split",
    "Transform",
    "Condition",
    "And",
    "Equals",
    "If",
    "Not",
    "Or",
    "ToJsonString",
    "Length",
];

/// The document of `text`; `whole` names the file in errors.
pub fn parse(text: &str, whole: &Origin) -> Result<Value, ConfigError> {
    // NOTE: libyaml's scanner re-checks every open flow collection at each token: 100,000
    // nested `{a: ` on one line took 96 s. Flow nesting is bounded before it reads a byte.
    if let Some((line, column)) = flow_too_deep(text) {
        return Err(whole.error(format!(
            "nested too deeply (more than {MAX_DOCUMENT_DEPTH} levels) at line {line} column {column}"
        )));
    }
    let document = serde_yaml::Deserializer::from_str(text);
    let too_deep = Cell::new(false);
    let nested = Nested {
        depth: 0,
        too_deep: &too_deep,
    };
    nested
        .deserialize(document)
        .map_err(|e| match e.location() {
            // NOTE: said here rather than by serde_yaml, which would prefix the 64-step path.
            Some(at) if too_deep.get() => whole.error(format!(
                "nested too deeply (more than {MAX_DOCUMENT_DEPTH} levels) at line {} column {}",
                at.line(),
                at.column()
            )),
            _ => whole.error(e.to_string()),
        })
}

/// Every tag is a CloudFormation intrinsic function (or a YAML core tag); `path` locates it.
pub fn check_tags(v: &Value, path: &mut Vec<String>, whole: &Origin) -> Result<(), ConfigError> {
    match v {
        Value::Tagged(t) => {
            let tag = t.tag.to_string();
            let name = tag.trim_start_matches('!');
            let core = tag.starts_with("!!") || tag.starts_with("tag:yaml.org,2002:");
            if !core && !CLOUDFORMATION_TAGS.contains(&name) {
                let at = if path.is_empty() {
                    "the document".to_owned()
                } else {
                    path.join(".")
                };
                return Err(whole.error(format!(
                    "{at}: unknown tag {tag}: not a CloudFormation intrinsic function"
                )));
            }
            check_tags(&t.value, path, whole)
        }
        Value::Sequence(items) => items.iter().enumerate().try_for_each(|(i, item)| {
            path.push(format!("[{i}]"));
            let checked = check_tags(item, path, whole);
            path.pop();
            checked
        }),
        Value::Mapping(m) => m.iter().try_for_each(|(k, item)| {
            path.push(key_text(k));
            let checked = check_tags(k, path, whole).and_then(|()| check_tags(item, path, whole));
            path.pop();
            checked
        }),
        _ => Ok(()),
    }
}

fn key_text(k: &Value) -> String {
    match k {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => "?".to_owned(),
    }
}

/// Where flow collections (`[`, `{`) nest more than the limit: line and column, from 1.
///
/// A linear scan that follows YAML's lexical rules far enough to tell a bracket that opens a
/// collection from one inside a quoted or plain scalar, a comment or a block scalar.
fn flow_too_deep(text: &str) -> Option<(usize, usize)> {
    let mut scan = FlowScan {
        bytes: text.as_bytes(),
        i: 0,
        line: 1,
        line_start: 0,
        depth: 0,
        node: true,
        block_indent: None,
    };
    while scan.i < scan.bytes.len() {
        if scan.i == scan.line_start && scan.skip_line_start() {
            continue;
        }
        if scan.step() {
            return Some((scan.line, text[scan.line_start..scan.i].chars().count() + 1));
        }
    }
    None
}

/// The state of [`flow_too_deep`]'s scan.
struct FlowScan<'a> {
    bytes: &'a [u8],
    i: usize,
    line: usize,
    line_start: usize,
    depth: usize,
    /// A node may start here: a quote or bracket then opens a scalar or a collection rather
    /// than being part of a plain scalar.
    node: bool,
    /// The indentation of the line that opened a block scalar (`|`, `>`), while in one.
    block_indent: Option<usize>,
}

impl FlowScan<'_> {
    /// At a line's start: skip it when it belongs to a block scalar, or a document marker.
    fn skip_line_start(&mut self) -> bool {
        let bytes = &self.bytes[self.i..];
        let indent = bytes.iter().take_while(|b| **b == b' ').count();
        let blank = matches!(bytes.get(indent), None | Some(b'\n' | b'\r' | b'#'));
        match self.block_indent {
            Some(parent) if blank || indent > parent => {
                self.next_line();
                return true;
            }
            _ => self.block_indent = None,
        }
        if self.depth == 0 {
            self.node = true;
        }
        if bytes.starts_with(b"---") && separated(self.bytes, self.i + 3, 0) {
            self.i += 3;
            return true;
        }
        false
    }

    /// One byte (or token) further; true when it opens one flow collection too many.
    fn step(&mut self) -> bool {
        let (bytes, i) = (self.bytes, self.i);
        match bytes[i] {
            b'\n' => {
                (self.i, self.line, self.line_start) = (i + 1, self.line + 1, i + 1);
                return false;
            }
            b'#' if i == self.line_start || bytes[i - 1].is_ascii_whitespace() => {
                self.next_line();
                return false;
            }
            b' ' | b'\t' | b'\r' => {}
            b'\'' | b'"' if self.node => {
                self.skip_quoted();
                self.node = false;
                return false;
            }
            b'[' | b'{' if self.node || self.depth > 0 => {
                self.depth += 1;
                if self.depth > MAX_DOCUMENT_DEPTH {
                    return true;
                }
                self.node = true;
            }
            b']' | b'}' if self.depth > 0 => {
                self.depth -= 1;
                self.node = false;
            }
            b',' if self.depth > 0 => self.node = true,
            b'|' | b'>' if self.node && self.depth == 0 => {
                let line = &bytes[self.line_start..];
                self.block_indent = Some(line.iter().take_while(|b| **b == b' ').count());
                self.next_line();
                return false;
            }
            b':' | b'-' | b'?' if separated(bytes, i + 1, self.depth) => self.node = true,
            b'!' | b'&' | b'*' if self.node => {
                let token = bytes[i..].iter().take_while(|b| !b.is_ascii_whitespace());
                self.i += token.count();
                return false;
            }
            _ => self.node = false,
        }
        self.i += 1;
        false
    }

    /// To the start of the next line.
    fn next_line(&mut self) {
        if let Some(n) = self.bytes[self.i..].iter().position(|b| *b == b'\n') {
            self.i += n + 1;
            self.line += 1;
            self.line_start = self.i;
        } else {
            (self.i, self.line_start) = (self.bytes.len(), self.bytes.len());
        }
    }

    /// Past the quoted scalar that starts here (`''` escapes `'`; a backslash escapes in `"`).
    fn skip_quoted(&mut self) {
        let quote = self.bytes[self.i];
        self.i += 1;
        while self.i < self.bytes.len() {
            match self.bytes[self.i] {
                b'\\' if quote == b'"' => self.i += 1,
                b'\'' if quote == b'\'' && self.bytes.get(self.i + 1) == Some(&b'\'') => {
                    self.i += 1;
                }
                c if c == quote => {
                    self.i += 1;
                    return;
                }
                b'\n' => (self.line, self.line_start) = (self.line + 1, self.i + 1),
                _ => {}
            }
            self.i += 1;
        }
    }
}

/// An indicator followed by a space, the end of the line, or (in flow) a flow indicator.
fn separated(bytes: &[u8], next: usize, depth: usize) -> bool {
    match bytes.get(next) {
        None | Some(b' ' | b'\t' | b'\r' | b'\n') => true,
        Some(b',' | b'[' | b']' | b'{' | b'}') => depth > 0,
        Some(_) => false,
    }
}

/// Builds a `serde_yaml::Value` like its own `Deserialize`, refusing more than
/// `MAX_DOCUMENT_DEPTH` levels as it goes (the value is never built deeper).
struct Nested<'a> {
    depth: usize,
    /// Set when the limit is what stopped the reading.
    too_deep: &'a Cell<bool>,
}

impl<'a> Nested<'a> {
    fn deeper<E: de::Error>(&self) -> Result<Nested<'a>, E> {
        if self.depth >= MAX_DOCUMENT_DEPTH {
            self.too_deep.set(true);
            return Err(E::custom("nested too deeply"));
        }
        Ok(Nested {
            depth: self.depth + 1,
            too_deep: self.too_deep,
        })
    }
}

impl<'de> DeserializeSeed<'de> for Nested<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Nested<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_owned()))
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self.deeper()?)? {
            items.push(item);
        }
        Ok(Value::Sequence(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut mapping = Mapping::new();
        while let Some(key) = map.next_key_seed(self.deeper()?)? {
            if mapping.contains_key(&key) {
                return Err(de::Error::custom(format!(
                    "duplicate key {}",
                    key_text(&key)
                )));
            }
            let value = map.next_value_seed(self.deeper()?)?;
            mapping.insert(key, value);
        }
        Ok(Value::Mapping(mapping))
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Value, A::Error> {
        let (tag, contents) = data.variant::<String>()?;
        let value = de::VariantAccess::newtype_variant_seed(contents, self.deeper()?)?;
        Ok(Value::Tagged(Box::new(TaggedValue {
            tag: Tag::new(tag),
            value,
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_brackets_count_only_where_collections_open() {
        let nested = |n: usize| format!("a: {}{}\n", "[".repeat(n), "]".repeat(n));
        assert_eq!(flow_too_deep(&nested(MAX_DOCUMENT_DEPTH)), None);
        assert_eq!(
            flow_too_deep(&nested(MAX_DOCUMENT_DEPTH + 1)),
            Some((1, MAX_DOCUMENT_DEPTH + 4))
        );
        let deep = "[".repeat(100);
        for quiet in [
            format!("a: '{deep}'\n"),
            format!("a: \"\\\"{deep}\"\n"),
            format!("a: b{deep}\n"),
            format!("a: 1 # {deep}\n"),
            format!("a: |\n  {deep}\n  {deep}\nb: 1\n"),
            format!("a: don't {deep}\n"),
        ] {
            assert_eq!(flow_too_deep(&quiet), None, "{quiet}");
        }
        assert!(flow_too_deep(&format!("a: |\n  x\nb: {deep}\n")).is_some());
        assert!(flow_too_deep(&format!("- !Ref &x {deep}\n")).is_some());
        assert!(flow_too_deep(&format!("{}\n", "{a: ".repeat(100))).is_some());
        assert!(flow_too_deep(&format!("--- {deep}\n")).is_some());
    }
}
