//! CloudFormation's intrinsic functions `Ref`, `Fn::Sub`, `Fn::GetAtt`, `Fn::Join` and
//! `Fn::Select` (short `!Tag` and long forms), resolved against `Parameters` defaults, pseudo
//! parameters and the template's resource names. Each function name is resolved once, a
//! circular reference is an error, and resolution nests no deeper than the document may. Other
//! intrinsic functions (`Fn::If`, `Fn::FindInMap`, ...) and `AWS::NoValue` read as nothing: a
//! property or list entry that is one is left out, so the property's default applies.

use std::collections::HashMap;

use serde_yaml::{Mapping, Value};

use super::document::CLOUDFORMATION_TAGS;
use crate::config::MAX_DOCUMENT_DEPTH;

/// Resolves intrinsic functions in one template.
pub struct Resolver<'a> {
    parameters: &'a Mapping,
    resources: &'a Mapping,
    region: &'a str,
    account: &'a str,
    /// Function names already resolved, by logical id.
    names: HashMap<String, String>,
    /// Logical ids whose function name is being resolved (a cycle if one comes back).
    resolving: Vec<String>,
    depth: usize,
}

// NOTE: a value is at most MAX_DOCUMENT_DEPTH deep, and one function name may lead to another:
// four documents deep is more than any real template and far from the stack's end.
const MAX_RESOLUTION_DEPTH: usize = 4 * MAX_DOCUMENT_DEPTH;

impl<'a> Resolver<'a> {
    /// A resolver for a template's `Parameters` and `Resources`.
    pub fn new(
        parameters: &'a Mapping,
        resources: &'a Mapping,
        region: &'a str,
        account: &'a str,
    ) -> Self {
        Self {
            parameters,
            resources,
            region,
            account,
            names: HashMap::new(),
            resolving: Vec::new(),
            depth: 0,
        }
    }

    /// `v` with every intrinsic function replaced by its value.
    pub fn resolve(&mut self, v: &Value) -> Result<Value, String> {
        self.depth += 1;
        let resolved = if self.depth > MAX_RESOLUTION_DEPTH {
            Err(format!(
                "intrinsic functions nested too deeply (more than {MAX_RESOLUTION_DEPTH} levels)"
            ))
        } else {
            self.resolve_within(v)
        };
        self.depth -= 1;
        resolved
    }

    fn resolve_within(&mut self, v: &Value) -> Result<Value, String> {
        match v {
            Value::Tagged(t) => {
                let tag = t.tag.to_string();
                self.intrinsic(tag.trim_start_matches('!'), &t.value)
            }
            Value::Mapping(m) => {
                if let Some((Some(name), inner)) = single_entry(m) {
                    if let Some(short) = long_form(name) {
                        return self.intrinsic(short, inner);
                    }
                }
                let mut out = Mapping::new();
                for (k, item) in m {
                    if let Some(value) = self.resolve_present(item)? {
                        out.insert(k.clone(), value);
                    }
                }
                Ok(Value::Mapping(out))
            }
            Value::Sequence(s) => {
                let mut out = Vec::with_capacity(s.len());
                for item in s {
                    out.extend(self.resolve_present(item)?);
                }
                Ok(Value::Sequence(out))
            }
            other => Ok(other.clone()),
        }
    }

    /// `v` resolved, or `None` when it is an intrinsic function that gives nothing (a property
    /// or entry CloudFormation leaves out).
    fn resolve_present(&mut self, v: &Value) -> Result<Option<Value>, String> {
        let resolved = self.resolve(v)?;
        Ok((!(resolved.is_null() && is_intrinsic(v))).then_some(resolved))
    }

    fn intrinsic(&mut self, name: &str, arg: &Value) -> Result<Value, String> {
        let arg = self.resolve(arg)?;
        Ok(match name {
            "Ref" => self.reference(arg.as_str().unwrap_or_default())?,
            "Sub" => {
                let (template, vars) = match &arg {
                    Value::Sequence(s) => (
                        s.first().and_then(Value::as_str).unwrap_or_default(),
                        s.get(1).and_then(Value::as_mapping),
                    ),
                    other => (other.as_str().unwrap_or_default(), None),
                };
                Value::String(self.substitute(template, vars)?)
            }
            "GetAtt" => {
                let (resource, attribute) = match &arg {
                    Value::Sequence(s) => (
                        s.first().map(scalar).unwrap_or_default(),
                        s.get(1).map(scalar).unwrap_or_default(),
                    ),
                    other => {
                        let s = scalar(other);
                        let (a, b) = s.split_once('.').unwrap_or((&s, ""));
                        (a.to_owned(), b.to_owned())
                    }
                };
                Value::String(self.attribute(&resource, &attribute)?)
            }
            "Join" => {
                let parts = arg.as_sequence().cloned().unwrap_or_default();
                let separator = parts.first().map(scalar).unwrap_or_default();
                let items = parts.get(1).and_then(Value::as_sequence);
                let joined: Vec<String> = items.into_iter().flatten().map(scalar).collect();
                Value::String(joined.join(&separator))
            }
            "Select" => {
                let parts = arg.as_sequence().cloned().unwrap_or_default();
                let Some(list) = parts.get(1).and_then(Value::as_sequence) else {
                    return Ok(Value::Null); // a list left unresolved reads as nothing
                };
                // NOTE: CloudFormation refuses an index that is not a whole number in the list.
                let given = parts.first().map(scalar).unwrap_or_default();
                let item = given.trim().parse::<usize>().ok().and_then(|i| list.get(i));
                let Some(item) = item else {
                    return Err(format!(
                        "Fn::Select: index {given:?} is not within the list of {} item(s)",
                        list.len()
                    ));
                };
                item.clone()
            }
            _ => Value::Null,
        })
    }

    /// `Ref`: a pseudo parameter, a parameter's default, or a function's name.
    fn reference(&mut self, name: &str) -> Result<Value, String> {
        let pseudo = match name {
            "AWS::Region" => Some(self.region),
            "AWS::AccountId" => Some(self.account),
            "AWS::StackName" => Some("lambda-rie"),
            "AWS::Partition" => Some("aws"),
            "AWS::URLSuffix" => Some("amazonaws.com"),
            "AWS::NoValue" => return Ok(Value::Null),
            _ => None,
        };
        if let Some(value) = pseudo {
            return Ok(Value::String(value.to_owned()));
        }
        if let Some(p) = self.parameters.get(name) {
            return Ok(p.get("Default").cloned().unwrap_or(Value::Null));
        }
        if self.resources.get(name).is_some() {
            return self.function_name(name).map(Value::String);
        }
        Ok(Value::Null)
    }

    /// `Fn::GetAtt`: the `Arn` of a function, a queue or a stream, a topic's `TopicArn`, in this
    /// region and account (a resource not in the template is taken for a function); any other
    /// attribute reads as `Resource.Attribute`.
    fn attribute(&mut self, resource: &str, attribute: &str) -> Result<String, String> {
        let (region, account) = (self.region, self.account);
        let kind = self
            .resources
            .get(resource)
            .and_then(|r| r.get("Type"))
            .and_then(Value::as_str);
        let function = kind.is_none_or(|k| super::FUNCTION_TYPES.contains(&k));
        Ok(match (kind, attribute) {
            (_, "Arn") if function => {
                let name = self.function_name(resource)?;
                format!("arn:aws:lambda:{region}:{account}:function:{name}")
            }
            (Some("AWS::SQS::Queue"), "Arn") => {
                let name = self.physical_name(resource, "QueueName")?;
                format!("arn:aws:sqs:{region}:{account}:{name}")
            }
            (Some("AWS::Kinesis::Stream"), "Arn") => {
                let name = self.physical_name(resource, "Name")?;
                format!("arn:aws:kinesis:{region}:{account}:stream/{name}")
            }
            (Some("AWS::SNS::Topic"), "TopicArn") => {
                let name = self.physical_name(resource, "TopicName")?;
                format!("arn:aws:sns:{region}:{account}:{name}")
            }
            _ => format!("{resource}.{attribute}"),
        })
    }

    /// The name a resource declares in `property`, else its logical id (CloudFormation would
    /// make one up; lambda-rie takes the id): a FIFO queue's ends with `.fifo`.
    fn physical_name(&mut self, id: &str, property: &str) -> Result<String, String> {
        let props = self.resources.get(id).and_then(|r| r.get("Properties"));
        if let Some(declared) = props.and_then(|p| p.get(property)) {
            let name = scalar(&self.resolve(declared)?);
            if !name.is_empty() {
                return Ok(name);
            }
        }
        let fifo = props
            .and_then(|p| p.get("FifoQueue"))
            .is_some_and(|f| f.as_bool() == Some(true) || f.as_str() == Some("true"));
        Ok(if fifo {
            format!("{id}.fifo")
        } else {
            id.to_owned()
        })
    }

    /// `${Name}` and `${Resource.Attribute}` substitution.
    fn substitute(&mut self, template: &str, vars: Option<&Mapping>) -> Result<String, String> {
        let mut out = String::new();
        let mut rest = template;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let Some(end) = rest[start..].find('}') else {
                break;
            };
            let name = &rest[start + 2..start + end];
            if let Some(literal) = name.strip_prefix('!') {
                // `${!Literal}` is the text `${Literal}`.
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
                rest = &rest[start + end + 1..];
                continue;
            }
            let value = match vars.and_then(|m| m.get(name)) {
                Some(v) => scalar(v),
                None => match name.split_once('.') {
                    Some((resource, attribute)) => self.attribute(resource, attribute)?,
                    None => scalar(&self.reference(name)?),
                },
            };
            out.push_str(&value);
            rest = &rest[start + end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// The `FunctionName` of resource `id` (resolved once), else its logical id.
    pub fn function_name(&mut self, id: &str) -> Result<String, String> {
        if let Some(name) = self.names.get(id) {
            return Ok(name.clone());
        }
        if self.resolving.iter().any(|r| r == id) {
            let cycle = [self.resolving.as_slice(), &[id.to_owned()]].concat();
            return Err(format!("circular reference: {}", cycle.join(" -> ")));
        }
        let declared = self
            .resources
            .get(id)
            .and_then(|r| r.get("Properties"))
            .and_then(|p| p.get("FunctionName"));
        self.resolving.push(id.to_owned());
        let resolved = declared.map(|n| self.resolve(n)).transpose();
        self.resolving.pop();
        let name = resolved?
            .map(|n| scalar(&n))
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| id.to_owned());
        self.names.insert(id.to_owned(), name.clone());
        Ok(name)
    }
}

/// The only entry of a one-entry mapping, its key as text.
fn single_entry(m: &Mapping) -> Option<(Option<&str>, &Value)> {
    if m.len() != 1 {
        return None;
    }
    m.iter().next().map(|(k, v)| (k.as_str(), v))
}

/// The short name of a long-form intrinsic function key (`Fn::Sub` -> `Sub`).
fn long_form(key: &str) -> Option<&str> {
    let name = match key {
        "Ref" | "Condition" => key,
        _ => key.strip_prefix("Fn::")?,
    };
    CLOUDFORMATION_TAGS.contains(&name).then_some(name)
}

/// Whether `v` is an intrinsic function call (short or long form).
fn is_intrinsic(v: &Value) -> bool {
    match v {
        Value::Tagged(_) => true,
        Value::Mapping(m) => {
            matches!(single_entry(m), Some((Some(name), _)) if long_form(name).is_some())
        }
        _ => false,
    }
}

/// A scalar as text (anything else is empty).
pub fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}
