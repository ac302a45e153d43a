//! A template's YAML read into a value tree with its nesting bounded while it is read, and its
//! tags checked against CloudFormation's intrinsic functions.

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
    Nested { depth: 0 }
        .deserialize(document)
        .map_err(|e| whole.error(e.to_string()))
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
    let bytes = text.as_bytes();
    let (mut i, mut line, mut line_start) = (0, 1, 0);
    let mut depth = 0usize;
    // NOTE: `node` says a node may start here: a quote or bracket then opens a scalar or a
    // collection rather than being part of a plain scalar.
    let mut node = true;
    let mut block_indent: Option<usize> = None;
    while i < bytes.len() {
        let c = bytes[i];
        if i == line_start {
            let indent = bytes[i..].iter().take_while(|b| **b == b' ').count();
            let blank = matches!(bytes.get(i + indent), None | Some(b'\n' | b'\r' | b'#'));
            match block_indent {
                Some(parent) if blank || indent > parent => {
                    (i, line, line_start) = next_line(bytes, i, line);
                    continue;
                }
                _ => block_indent = None,
            }
            if depth == 0 {
                node = true;
            }
            if bytes[i..].starts_with(b"---") && separated(bytes, i + 3, 0) {
                i += 3;
                continue;
            }
        }
        match c {
            b'\n' => {
                (i, line, line_start) = (i + 1, line + 1, i + 1);
                continue;
            }
            b'#' if i == line_start || bytes[i - 1].is_ascii_whitespace() => {
                (i, line, line_start) = next_line(bytes, i, line);
                continue;
            }
            b' ' | b'\t' | b'\r' => {}
            b'\'' | b'"' if node => {
                (i, line, line_start) = skip_quoted(bytes, i, line, line_start);
                node = false;
                continue;
            }
            b'[' | b'{' if node || depth > 0 => {
                depth += 1;
                if depth > MAX_DOCUMENT_DEPTH {
                    return Some((line, text[line_start..i].chars().count() + 1));
                }
                node = true;
            }
            b']' | b'}' if depth > 0 => {
                depth -= 1;
                node = false;
            }
            b',' if depth > 0 => node = true,
            b'|' | b'>' if node && depth == 0 => {
                let indent = bytes[line_start..]
                    .iter()
                    .take_while(|b| **b == b' ')
                    .count();
                block_indent = Some(indent);
                (i, line, line_start) = next_line(bytes, i, line);
                continue;
            }
            b':' | b'-' | b'?' if separated(bytes, i + 1, depth) => node = true,
            b'!' | b'&' | b'*' if node => {
                while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                    i += 1;
                }
                continue;
            }
            _ => node = false,
        }
        i += 1;
    }
    None
}

/// An indicator followed by a space, the end of the line, or (in flow) a flow indicator.
fn separated(bytes: &[u8], next: usize, depth: usize) -> bool {
    match bytes.get(next) {
        None | Some(b' ' | b'\t' | b'\r' | b'\n') => true,
        Some(b',' | b'[' | b']' | b'{' | b'}') => depth > 0,
        Some(_) => false,
    }
}

/// The start of the next line.
fn next_line(bytes: &[u8], i: usize, line: usize) -> (usize, usize, usize) {
    match bytes[i..].iter().position(|b| *b == b'\n') {
        Some(n) => (i + n + 1, line + 1, i + n + 1),
        None => (bytes.len(), line, bytes.len()),
    }
}

/// Past a quoted scalar that starts at `i` (`''` escapes `'`; `\` escapes in `"`).
fn skip_quoted(
    bytes: &[u8],
    mut i: usize,
    mut line: usize,
    mut line_start: usize,
) -> (usize, usize, usize) {
    let quote = bytes[i];
    i += 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if quote == b'"' => i += 1,
            b'\'' if quote == b'\'' && bytes.get(i + 1) == Some(&b'\'') => i += 1,
            c if c == quote => return (i + 1, line, line_start),
            b'\n' => (line, line_start) = (line + 1, i + 1),
            _ => {}
        }
        i += 1;
    }
    (i, line, line_start)
}

/// Builds a `serde_yaml::Value` like its own `Deserialize`, refusing more than
/// `MAX_DOCUMENT_DEPTH` levels as it goes (the value is never built deeper).
struct Nested {
    depth: usize,
}

impl Nested {
    fn deeper<E: de::Error>(&self) -> Result<Nested, E> {
        if self.depth >= MAX_DOCUMENT_DEPTH {
            return Err(E::custom(format!(
                "nested too deeply (more than {MAX_DOCUMENT_DEPTH} levels)"
            )));
        }
        Ok(Nested {
            depth: self.depth + 1,
        })
    }
}

impl<'de> DeserializeSeed<'de> for Nested {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Nested {
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
