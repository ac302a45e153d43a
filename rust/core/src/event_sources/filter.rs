//! Lambda event filtering (a mapping's `FilterCriteria`): compiling the EventBridge-style
//! patterns and deciding which records reach the function (docs/reference.md §16).

use serde_json::Value;

use super::source::SourceKind;

mod record_view;
pub use record_view::view;

/// AWS's message for any malformed pattern.
const INVALID: &str = "Invalid filter pattern definition.";
/// The longest `Pattern` AWS accepts, in characters.
const MAX_PATTERN_CHARS: usize = 4096;
/// The most filters one mapping may carry.
const MAX_FILTERS: usize = 5;
// NOTE: AWS's text for more than 5 filters is unverified; this one is the project's choice.
const TOO_MANY_FILTERS: &str = "The maximum number of filters is 5.";

/// A mapping's compiled FilterCriteria: the record passes when any pattern matches (none: every
/// record passes).
#[derive(Debug, Clone, Default)]
pub struct Filters {
    patterns: Vec<Node>,
}

/// One level of a pattern: keys nesting into the record, or the alternatives of a leaf.
#[derive(Debug, Clone)]
enum Node {
    /// Every key must match (AND).
    Fields(Vec<(String, Node)>),
    /// Any alternative may match (OR).
    Leaf(Vec<Matcher>),
}

/// A string operand, compared exactly or regardless of case.
#[derive(Debug, Clone)]
struct Text {
    value: String,
    ignore_case: bool,
}

/// The bounds of a `numeric` matcher.
#[derive(Debug, Clone, Copy)]
enum Compare {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

/// One alternative of a leaf.
#[derive(Debug, Clone)]
enum Matcher {
    /// A string, number, boolean or null equal to the record's value (`""` matches empty).
    Exact(Value),
    Prefix(Text),
    Suffix(Text),
    EqualsIgnoreCase(String),
    /// Any present value other than these.
    AnythingBut(Vec<Value>),
    AnythingButPrefix(Text),
    AnythingButSuffix(Text),
    AnythingButIgnoreCase(Vec<String>),
    Numeric(Vec<(Compare, f64)>),
    Exists(bool),
}

impl Filters {
    /// Compile `{"Filters":[{"Pattern":"<json text>"}]}` (a missing, null or empty `Filters`: no
    /// filtering). Errors are AWS's message, "Invalid filter pattern definition.", for a malformed
    /// pattern: not JSON, not an object, a leaf that is not an array, an unknown operator, a bad
    /// `numeric`, over 4096 characters, or (Kinesis, DynamoDB) a `data`/`dynamodb` key that is
    /// not a nested object.
    pub fn compile(criteria: &Value, kind: SourceKind) -> Result<Filters, String> {
        let filters = match criteria {
            Value::Null => return Ok(Filters::default()),
            Value::Object(map) => match map.get("Filters") {
                None | Some(Value::Null) => return Ok(Filters::default()),
                Some(Value::Array(filters)) => filters,
                Some(_) => return Err(INVALID.to_owned()),
            },
            _ => return Err(INVALID.to_owned()),
        };
        if filters.len() > MAX_FILTERS {
            return Err(TOO_MANY_FILTERS.to_owned());
        }
        let patterns = filters
            .iter()
            .map(|filter| compile_filter(filter, kind).ok_or_else(|| INVALID.to_owned()))
            .collect::<Result<_, _>>()?;
        Ok(Filters { patterns })
    }

    /// Whether there are no patterns (every record passes).
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether `view` (the record as filtering sees it, see [`view`]) passes.
    pub fn matches(&self, view: &Value) -> bool {
        self.is_empty() || self.patterns.iter().any(|p| p.matches(Some(view)))
    }
}

/// One `{"Pattern":"<json text>"}` compiled, None when malformed.
fn compile_filter(filter: &Value, kind: SourceKind) -> Option<Node> {
    let text = filter.get("Pattern")?.as_str()?;
    if text.chars().count() > MAX_PATTERN_CHARS {
        return None;
    }
    let pattern: Value = serde_json::from_str(text).ok()?;
    if !pattern.is_object() {
        return None;
    }
    // NOTE: Kinesis `data` and DynamoDB `dynamodb` only ever hold JSON objects in the view, so
    // AWS refuses a pattern that compares them as a plain value.
    let structured_key = match kind {
        SourceKind::Kinesis => Some("data"),
        SourceKind::DynamoDbStreams => Some("dynamodb"),
        SourceKind::Sqs => None,
    };
    if let Some(key) = structured_key {
        if pattern.get(key).is_some_and(|v| !v.is_object()) {
            return None;
        }
    }
    compile_node(&pattern)
}

fn compile_node(pattern: &Value) -> Option<Node> {
    match pattern {
        // NOTE: serde_json keeps the last of duplicate keys, which is AWS's rule too.
        Value::Object(fields) => fields
            .iter()
            .map(|(key, sub)| Some((key.clone(), compile_node(sub)?)))
            .collect::<Option<_>>()
            .map(Node::Fields),
        Value::Array(alternatives) => alternatives
            .iter()
            .map(compile_matcher)
            .collect::<Option<_>>()
            .map(Node::Leaf),
        _ => None,
    }
}

fn compile_matcher(alternative: &Value) -> Option<Matcher> {
    let operator = match alternative {
        Value::Array(_) => return None,
        Value::Object(operator) => operator,
        exact => return Some(Matcher::Exact(exact.clone())),
    };
    let mut entries = operator.iter();
    let (name, operand) = entries.next()?;
    if entries.next().is_some() {
        return None;
    }
    match name.as_str() {
        "prefix" => text_operand(operand).map(Matcher::Prefix),
        "suffix" => text_operand(operand).map(Matcher::Suffix),
        "equals-ignore-case" => Some(Matcher::EqualsIgnoreCase(operand.as_str()?.to_owned())),
        "anything-but" => anything_but(operand),
        "numeric" => numeric(operand).map(Matcher::Numeric),
        "exists" => operand.as_bool().map(Matcher::Exists),
        _ => None,
    }
}

/// `"us-"` or `{"equals-ignore-case":"us-"}`, the operand of `prefix` and `suffix`.
fn text_operand(operand: &Value) -> Option<Text> {
    if let Some(value) = operand.as_str() {
        return Some(Text {
            value: value.to_owned(),
            ignore_case: false,
        });
    }
    let value = single_entry(operand, "equals-ignore-case")?.as_str()?;
    Some(Text {
        value: value.to_owned(),
        ignore_case: true,
    })
}

/// The operand of an object holding exactly the key `name`.
fn single_entry<'a>(operand: &'a Value, name: &str) -> Option<&'a Value> {
    let map = operand.as_object()?;
    (map.len() == 1).then(|| map.get(name)).flatten()
}

/// `value`, `[values]` (strings or numbers), `{"prefix":..}`, `{"suffix":..}` or
/// `{"equals-ignore-case": s | [s]}`.
fn anything_but(operand: &Value) -> Option<Matcher> {
    let plain = |v: &Value| v.is_string() || v.is_number();
    match operand {
        v if plain(v) => Some(Matcher::AnythingBut(vec![v.clone()])),
        Value::Array(values) if !values.is_empty() && values.iter().all(plain) => {
            Some(Matcher::AnythingBut(values.clone()))
        }
        Value::Object(map) if map.len() == 1 => {
            let (name, inner) = map.iter().next()?;
            let text = || {
                inner.as_str().map(|value| Text {
                    value: value.to_owned(),
                    ignore_case: false,
                })
            };
            match name.as_str() {
                "prefix" => text().map(Matcher::AnythingButPrefix),
                "suffix" => text().map(Matcher::AnythingButSuffix),
                "equals-ignore-case" => ignore_case_list(inner).map(Matcher::AnythingButIgnoreCase),
                _ => None,
            }
        }
        _ => None,
    }
}

fn ignore_case_list(operand: &Value) -> Option<Vec<String>> {
    match operand {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(values) if !values.is_empty() => values
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => None,
    }
}

/// `["=", 5]`, `[">", 0]` or a lower and an upper bound `[">", 0, "<=", 5]`.
fn numeric(operand: &Value) -> Option<Vec<(Compare, f64)>> {
    let items = operand.as_array()?;
    if items.is_empty() || items.len() > 4 || items.len() % 2 != 0 {
        return None;
    }
    let bounds: Vec<(Compare, f64)> = items
        .chunks(2)
        .map(|pair| {
            let op = match pair[0].as_str()? {
                "=" => Compare::Eq,
                "<" => Compare::Lt,
                "<=" => Compare::Le,
                ">" => Compare::Gt,
                ">=" => Compare::Ge,
                _ => return None,
            };
            Some((op, pair[1].as_f64()?))
        })
        .collect::<Option<_>>()?;
    if let [(low_op, low), (high_op, high)] = bounds[..] {
        let lower = matches!(low_op, Compare::Gt | Compare::Ge);
        let upper = matches!(high_op, Compare::Lt | Compare::Le);
        if !(lower && upper && low < high) {
            return None;
        }
    }
    Some(bounds)
}

impl Node {
    /// Whether the record's `value` (None: the key is absent) satisfies this pattern level.
    fn matches(&self, value: Option<&Value>) -> bool {
        match self {
            Node::Leaf(alternatives) => alternatives.iter().any(|m| m.matches(value)),
            // NOTE: nested keys need an object to nest into: a missing or plain value fails the
            // whole nested pattern (exists:false included), which is how Lambda drops a JSON
            // pattern against a plain SQS body or non-JSON Kinesis data. An array of objects
            // matches when one element matches it all, so conditions never pair values from
            // different elements.
            Node::Fields(fields) => match value {
                Some(Value::Array(items)) => items.iter().any(|item| self.matches(Some(item))),
                Some(Value::Object(map)) => fields.iter().all(|(k, n)| n.matches(map.get(k))),
                _ => false,
            },
        }
    }
}

impl Matcher {
    fn matches(&self, value: Option<&Value>) -> bool {
        match (self, value) {
            (Matcher::Exists(wanted), _) => *wanted == is_leaf(value),
            (_, None) => false,
            (_, Some(Value::Array(items))) => items.iter().any(|v| self.matches_leaf(v)),
            (_, Some(v)) => self.matches_leaf(v),
        }
    }

    /// Whether one value of the record (never an array) satisfies this alternative.
    fn matches_leaf(&self, value: &Value) -> bool {
        let text = value.as_str();
        match self {
            Matcher::Exact(expected) => expected == value,
            Matcher::Prefix(p) => text.is_some_and(|s| p.starts(s)),
            Matcher::Suffix(p) => text.is_some_and(|s| p.ends(s)),
            Matcher::EqualsIgnoreCase(e) => {
                text.is_some_and(|s| s.to_lowercase() == e.to_lowercase())
            }
            Matcher::AnythingBut(values) => !value.is_object() && !values.contains(value),
            Matcher::AnythingButPrefix(p) => text.is_some_and(|s| !p.starts(s)),
            Matcher::AnythingButSuffix(p) => text.is_some_and(|s| !p.ends(s)),
            Matcher::AnythingButIgnoreCase(values) => text.is_some_and(|s| {
                let s = s.to_lowercase();
                values.iter().all(|v| v.to_lowercase() != s)
            }),
            Matcher::Numeric(bounds) => value
                .as_f64()
                .is_some_and(|n| bounds.iter().all(|&(op, b)| compare(op, n, b))),
            Matcher::Exists(_) => false,
        }
    }
}

/// Whether the record holds a leaf value here: present and not an object (an array counts when
/// one of its elements is a leaf).
fn is_leaf(value: Option<&Value>) -> bool {
    // NOTE: EventBridge operators (exists included) apply to leaves only: a key holding an object
    // "does not exist" for `{"exists":false}`.
    match value {
        None | Some(Value::Object(_)) => false,
        Some(Value::Array(items)) => items.iter().any(|v| is_leaf(Some(v))),
        Some(_) => true,
    }
}

fn compare(op: Compare, n: f64, bound: f64) -> bool {
    match op {
        Compare::Eq => (n - bound).abs() < f64::EPSILON * n.abs().max(1.0),
        Compare::Lt => n < bound,
        Compare::Le => n <= bound,
        Compare::Gt => n > bound,
        Compare::Ge => n >= bound,
    }
}

impl Text {
    fn starts(&self, s: &str) -> bool {
        if self.ignore_case {
            s.to_lowercase().starts_with(&self.value.to_lowercase())
        } else {
            s.starts_with(&self.value)
        }
    }

    fn ends(&self, s: &str) -> bool {
        if self.ignore_case {
            s.to_lowercase().ends_with(&self.value.to_lowercase())
        } else {
            s.ends_with(&self.value)
        }
    }
}

#[cfg(test)]
mod tests;
