//! The checks of request members against the shapes of botocore's Lambda model before anything
//! is stored (docs/reference.md §13): JSON types, enums, list lengths, environment variable
//! names; canonical version numbers (read by `registry::Version::parse`). An uploaded zip is
//! checked where it is unpacked, `store::code::check`.

use serde_json::{Map, Value};

use crate::aws::{ServiceError, LATEST};
use crate::registry::Version;

/// What a member must be (botocore's shapes, as far as lambda-rie stores them).
pub(super) enum Shape {
    /// A string.
    Str,
    /// A string of `min` to `max` characters that, when `pattern` is given, matches it whole
    /// (the pattern as botocore's model writes it, and its test).
    Text(usize, usize, Option<Pattern>),
    /// A JSON integer (its range is the function settings' check).
    Int,
    /// `true` or `false`.
    Bool,
    /// A string of the set.
    Enum(&'static [&'static str]),
    /// A list of items of the shape, with at least `min` and at most `max` of them.
    List(&'static Shape, usize, usize),
    /// An object of strings.
    StrMap,
    /// An object: its known members (JSON key, AWS's member path, shape); others are ignored.
    Struct(&'static [(&'static str, &'static str, Shape)]),
    /// `Environment.Variables`: names of `[a-zA-Z]([a-zA-Z0-9_])+`, values strings without NUL.
    EnvironmentVariables,
}

/// A regular expression of botocore's model: its text and a test of a whole string.
pub(super) type Pattern = (&'static str, fn(&str) -> bool);

const ARCHITECTURES: &[&str] = &["x86_64", "arm64"];
/// botocore's `Description` (functions, versions, aliases, layers).
const DESCRIPTION: Shape = Shape::Text(0, 256, None);
/// botocore's `Handler`.
const HANDLER: Shape = Shape::Text(0, 128, Some((r"[^\s]+", no_whitespace)));
/// botocore's `StatementId`.
const STATEMENT_ID: Shape = Shape::Text(1, 100, Some(("([a-zA-Z0-9-_]+)", statement_id)));
/// botocore's `Action`.
const ACTION: Shape = Shape::Text(
    0,
    usize::MAX,
    Some(("(lambda:[*]|lambda:[a-zA-Z]+|[*])", action)),
);

/// `[^\s]+`, `\s` as Java reads it (space, `\t`, `\n`, `\x0B`, `\f`, `\r`).
fn no_whitespace(s: &str) -> bool {
    !s.is_empty() && !s.contains([' ', '\t', '\n', '\x0B', '\x0C', '\r'])
}

/// `([a-zA-Z0-9-_]+)`.
fn statement_id(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `(lambda:[*]|lambda:[a-zA-Z]+|[*])`.
fn action(s: &str) -> bool {
    match s.strip_prefix("lambda:") {
        Some(rest) => {
            rest == "*" || (!rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphabetic()))
        }
        None => s == "*",
    }
}
/// botocore's `EnvironmentVariableName` pattern.
pub(super) const VARIABLE_NAME_PATTERN: &str = "[a-zA-Z]([a-zA-Z0-9_])+";
const STRINGS: Shape = Shape::List(&Shape::Str, 0, usize::MAX);

/// The members of CreateFunction / UpdateFunctionConfiguration that are stored and echoed.
pub(super) const FUNCTION_FIELDS: &[(&str, &str, Shape)] = &[
    ("Runtime", "runtime", Shape::Str),
    ("Role", "role", Shape::Str),
    ("Handler", "handler", HANDLER),
    ("Description", "description", DESCRIPTION),
    ("Timeout", "timeout", Shape::Int),
    ("MemorySize", "memorySize", Shape::Int),
    (
        "Environment",
        "environment",
        Shape::Struct(&[(
            "Variables",
            "environment.variables",
            Shape::EnvironmentVariables,
        )]),
    ),
    (
        "TracingConfig",
        "tracingConfig",
        Shape::Struct(&[(
            "Mode",
            "tracingConfig.mode",
            Shape::Enum(&["Active", "PassThrough"]),
        )]),
    ),
    (
        "DeadLetterConfig",
        "deadLetterConfig",
        Shape::Struct(&[("TargetArn", "deadLetterConfig.targetArn", Shape::Str)]),
    ),
    (
        "VpcConfig",
        "vpcConfig",
        Shape::Struct(&[
            ("SubnetIds", "vpcConfig.subnetIds", STRINGS),
            ("SecurityGroupIds", "vpcConfig.securityGroupIds", STRINGS),
            (
                "Ipv6AllowedForDualStack",
                "vpcConfig.ipv6AllowedForDualStack",
                Shape::Bool,
            ),
        ]),
    ),
    ("KMSKeyArn", "kMSKeyArn", Shape::Str),
    (
        "FileSystemConfigs",
        "fileSystemConfigs",
        Shape::List(
            &Shape::Struct(&[
                ("Arn", "fileSystemConfigs.member.arn", Shape::Str),
                (
                    "LocalMountPath",
                    "fileSystemConfigs.member.localMountPath",
                    Shape::Str,
                ),
            ]),
            0,
            1,
        ),
    ),
    (
        "ImageConfig",
        "imageConfig",
        Shape::Struct(&[
            ("EntryPoint", "imageConfig.entryPoint", STRINGS),
            ("Command", "imageConfig.command", STRINGS),
            (
                "WorkingDirectory",
                "imageConfig.workingDirectory",
                Shape::Str,
            ),
        ]),
    ),
    (
        "EphemeralStorage",
        "ephemeralStorage",
        Shape::Struct(&[("Size", "ephemeralStorage.size", Shape::Int)]),
    ),
    (
        "LoggingConfig",
        "loggingConfig",
        Shape::Struct(&[
            (
                "LogFormat",
                "loggingConfig.logFormat",
                Shape::Enum(&["JSON", "Text"]),
            ),
            (
                "ApplicationLogLevel",
                "loggingConfig.applicationLogLevel",
                Shape::Enum(&["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"]),
            ),
            (
                "SystemLogLevel",
                "loggingConfig.systemLogLevel",
                Shape::Enum(&["DEBUG", "INFO", "WARN"]),
            ),
            ("LogGroup", "loggingConfig.logGroup", Shape::Str),
        ]),
    ),
    (
        "SnapStart",
        "snapStart",
        Shape::Struct(&[(
            "ApplyOn",
            "snapStart.applyOn",
            Shape::Enum(&["PublishedVersions", "None"]),
        )]),
    ),
    (
        "Architectures",
        "architectures",
        Shape::List(&Shape::Enum(ARCHITECTURES), 1, 1),
    ),
    ("Layers", "layers", STRINGS),
];

/// The members only CreateFunction stores besides [`FUNCTION_FIELDS`]; TagResource's.
pub(super) const CREATE_FIELDS: &[(&str, &str, Shape)] = &[("Tags", "tags", Shape::StrMap)];

/// The members of PublishVersion that are stored and echoed.
pub(super) const VERSION_FIELDS: &[(&str, &str, Shape)] =
    &[("Description", "description", DESCRIPTION)];

/// The members of AddPermission that are checked before anything else.
pub(super) const PERMISSION_FIELDS: &[(&str, &str, Shape)] = &[
    ("StatementId", "statementId", STATEMENT_ID),
    ("Action", "action", ACTION),
];

/// The members UpdateFunctionCode stores.
pub(super) const CODE_FIELDS: &[(&str, &str, Shape)] = &[(
    "Architectures",
    "architectures",
    Shape::List(&Shape::Enum(ARCHITECTURES), 1, 1),
)];

/// The members of PublishLayerVersion that are stored and echoed.
pub(super) const LAYER_FIELDS: &[(&str, &str, Shape)] = &[
    ("Description", "description", DESCRIPTION),
    (
        "CompatibleRuntimes",
        "compatibleRuntimes",
        Shape::List(&Shape::Enum(super::functions::RUNTIMES), 0, 15),
    ),
    (
        "CompatibleArchitectures",
        "compatibleArchitectures",
        Shape::List(&Shape::Enum(ARCHITECTURES), 0, 2),
    ),
    ("LicenseInfo", "licenseInfo", Shape::Str),
];

/// The members of CreateAlias / UpdateAlias that are stored and echoed (the weights' keys and
/// values are the route's check).
pub(super) const ALIAS_FIELDS: &[(&str, &str, Shape)] = &[
    ("FunctionVersion", "functionVersion", Shape::Str),
    ("Description", "description", DESCRIPTION),
    (
        "RoutingConfig",
        "routingConfig",
        Shape::Struct(&[(
            "AdditionalVersionWeights",
            "routingConfig.additionalVersionWeights",
            Shape::Struct(&[]),
        )]),
    ),
];

/// A member that does not fit its shape.
struct Misfit {
    value: String,
    member: &'static str,
    constraint: String,
}

impl Misfit {
    fn new(v: &Value, member: &'static str, constraint: impl Into<String>) -> Self {
        Self {
            value: printed(v),
            member,
            constraint: constraint.into(),
        }
    }
}

/// A value as AWS's validation messages print it: strings bare, lists `[a, b]`.
fn printed(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(printed).collect::<Vec<_>>().join(", ")
        ),
        other => other.to_string(),
    }
}

/// Check the members of `body` that `fields` names: 400 `ValidationException` for the first
/// that does not fit (`null` stands for an absent member).
pub(super) fn check_fields(
    body: &Map<String, Value>,
    fields: &[(&str, &'static str, Shape)],
) -> Result<(), ServiceError> {
    check_members(body, fields)
        .map_err(|m| ServiceError::validation(&m.value, m.member, m.constraint))
}

fn check_members(
    body: &Map<String, Value>,
    fields: &[(&str, &'static str, Shape)],
) -> Result<(), Misfit> {
    for (key, member, shape) in fields {
        if let Some(v) = body.get(*key) {
            check(v, member, shape)?;
        }
    }
    Ok(())
}

/// Whether `v` is a JSON integer: one serde_json holds as an integer, or one too large for 64
/// bits (held as a float without a fraction; its range check refuses it).
pub(super) fn is_integer(v: &Value) -> bool {
    v.is_i64()
        || v.is_u64()
        || v.as_f64()
            .is_some_and(|f| f.is_finite() && f.fract() == 0.0 && f.abs() >= 9.2e18)
}

fn check(v: &Value, member: &'static str, shape: &Shape) -> Result<(), Misfit> {
    if v.is_null() {
        return Ok(());
    }
    match shape {
        Shape::Str if !v.is_string() => Err(Misfit::new(v, member, "Member must be a string")),
        Shape::Int if !is_integer(v) => Err(Misfit::new(v, member, "Member must be an integer")),
        Shape::Text(min, max, pattern) => text(v, member, *min, *max, pattern.as_ref()),
        Shape::Bool if !v.is_boolean() => Err(Misfit::new(v, member, "Member must be a boolean")),
        Shape::Enum(set) if !v.as_str().is_some_and(|s| set.contains(&s)) => Err(Misfit::new(
            v,
            member,
            format!("Member must satisfy enum value set: [{}]", set.join(", ")),
        )),
        Shape::List(item, min, max) => {
            let Some(items) = v.as_array() else {
                return Err(Misfit::new(v, member, "Member must be a list"));
            };
            if items.len() > *max {
                return Err(Misfit::new(
                    v,
                    member,
                    format!("Member must have length less than or equal to {max}"),
                ));
            }
            if items.len() < *min {
                return Err(Misfit::new(
                    v,
                    member,
                    format!("Member must have length greater than or equal to {min}"),
                ));
            }
            for i in items {
                if i.is_null() {
                    return Err(Misfit::new(
                        v,
                        member,
                        "Member must satisfy constraint: [Member must not be null]",
                    ));
                }
                check(i, member, item).map_err(|m| {
                    Misfit::new(
                        v,
                        member,
                        format!("Member must satisfy constraint: [{}]", m.constraint),
                    )
                })?;
            }
            Ok(())
        }
        Shape::StrMap => {
            let Some(map) = v.as_object() else {
                return Err(Misfit::new(v, member, "Member must be a map"));
            };
            match map.iter().find(|(_, x)| !x.is_string()) {
                Some((k, x)) => Err(Misfit {
                    value: format!("{{{k}={}}}", printed(x)),
                    member,
                    constraint: "Map value must satisfy constraint: [Member must be a string]"
                        .to_owned(),
                }),
                None => Ok(()),
            }
        }
        Shape::Struct(fields) => {
            let Some(map) = v.as_object() else {
                return Err(Misfit::new(v, member, "Member must be a structure"));
            };
            check_members(map, fields)
        }
        Shape::EnvironmentVariables => {
            let Some(map) = v.as_object() else {
                return Err(Misfit::new(v, member, "Member must be a map"));
            };
            environment_variables(map, member)
        }
        _ => Ok(()),
    }
}

/// A string of `min` to `max` characters matching `pattern` whole.
fn text(
    v: &Value,
    member: &'static str,
    min: usize,
    max: usize,
    pattern: Option<&Pattern>,
) -> Result<(), Misfit> {
    let Some(s) = v.as_str() else {
        return Err(Misfit::new(v, member, "Member must be a string"));
    };
    let length = s.chars().count();
    if length > max {
        return Err(Misfit::new(
            v,
            member,
            format!("Member must have length less than or equal to {max}"),
        ));
    }
    if length < min {
        return Err(Misfit::new(
            v,
            member,
            format!("Member must have length greater than or equal to {min}"),
        ));
    }
    match pattern {
        Some((text, matches)) if !matches(s) => Err(Misfit::new(
            v,
            member,
            format!("Member must satisfy regular expression pattern: {text}"),
        )),
        _ => Ok(()),
    }
}

/// Names of `[a-zA-Z]([a-zA-Z0-9_])+`, values strings without NUL. The values are secrets:
/// only the name is printed.
fn environment_variables(map: &Map<String, Value>, member: &'static str) -> Result<(), Misfit> {
    for (name, value) in map {
        let mut bytes = name.bytes();
        let well_formed = name.len() >= 2
            && bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
            && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !well_formed {
            return Err(Misfit {
                value: name.escape_default().to_string(),
                member,
                constraint: format!(
                    "Map keys must satisfy constraint: [Member must satisfy regular expression pattern: {VARIABLE_NAME_PATTERN}]"
                ),
            });
        }
        let constraint = match value.as_str() {
            None => "Map value must satisfy constraint: [Member must be a string]",
            Some(s) if s.contains('\0') => {
                "Map value must satisfy constraint: [Member must not contain the NUL character]"
            }
            Some(_) => continue,
        };
        return Err(Misfit {
            value: name.clone(),
            member,
            constraint: constraint.to_owned(),
        });
    }
    Ok(())
}

/// Whether `v` is `$LATEST` or the canonical number of a version `exists` says is published.
pub(super) fn names_version(v: &str, exists: impl Fn(u32) -> bool) -> bool {
    v == LATEST || matches!(Version::parse(v), Some(Version::Published(n)) if n > 0 && exists(n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: Value) -> Map<String, Value> {
        let Value::Object(m) = v else {
            panic!("not an object: {v}")
        };
        m
    }

    fn refusal(v: Value) -> String {
        check_fields(&body(v), FUNCTION_FIELDS)
            .unwrap_err()
            .message()
    }

    #[test]
    fn integers_must_be_json_integers() {
        for bad in [
            json!("abc"),
            json!("3"),
            json!(1.9),
            json!(true),
            json!(3.0),
        ] {
            let message = refusal(json!({"Timeout": bad}));
            assert!(
                message.ends_with(
                    "at 'timeout' failed to satisfy constraint: Member must be an integer"
                ),
                "{message}"
            );
        }
        assert!(refusal(json!({"MemorySize": []})).contains("Value '[]' at 'memorySize'"));
        assert!(check_fields(
            &body(json!({"Timeout": 3, "MemorySize": 256})),
            FUNCTION_FIELDS
        )
        .is_ok());
        // 2**70 is an integer: the range check of the settings refuses it.
        let big: Value = serde_json::from_str("1180591620717411303424").unwrap();
        assert!(is_integer(&big));
    }

    #[test]
    fn structures_lists_and_enums_are_checked() {
        assert_eq!(
            refusal(json!({"Architectures": ["sparc"]})),
            "1 validation error detected: Value '[sparc]' at 'architectures' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64]]"
        );
        assert!(refusal(json!({"Architectures": ["x86_64", "arm64"]}))
            .ends_with("Member must have length less than or equal to 1"));
        assert!(refusal(json!({"Layers": "x"})).ends_with("Member must be a list"));
        assert!(refusal(json!({"Environment": {"Variables": {"AB": 1}}}))
            .contains("Map value must satisfy constraint: [Member must be a string]"));
        assert!(refusal(json!({"Environment": "x"})).ends_with("Member must be a structure"));
        assert!(refusal(json!({"EphemeralStorage": {"Size": "512"}}))
            .contains("at 'ephemeralStorage.size'"));
        assert!(check_fields(
            &body(json!({"Architectures": ["arm64"], "Environment": {"Variables": {"COLOR": "red"}}, "Description": null})),
            FUNCTION_FIELDS
        )
        .is_ok());
        let layer = check_fields(&body(json!({"CompatibleRuntimes": "x"})), LAYER_FIELDS);
        assert!(layer
            .unwrap_err()
            .message()
            .contains("'compatibleRuntimes'"));
        let tags = check_fields(&body(json!({"Tags": {"a": 1}})), CREATE_FIELDS);
        assert!(tags
            .unwrap_err()
            .message()
            .contains("Value '{a=1}' at 'tags'"));
        let alias = check_fields(&body(json!({"RoutingConfig": "x"})), ALIAS_FIELDS);
        assert!(alias.unwrap_err().message().contains("'routingConfig'"));
    }

    #[test]
    fn descriptions_are_at_most_256_characters() {
        let long = "d".repeat(257);
        assert_eq!(
            refusal(json!({"Description": long})),
            format!("1 validation error detected: Value '{long}' at 'description' failed to satisfy constraint: Member must have length less than or equal to 256")
        );
        // Characters, not bytes.
        let ok = "é".repeat(256);
        for fields in [FUNCTION_FIELDS, VERSION_FIELDS, ALIAS_FIELDS, LAYER_FIELDS] {
            assert!(check_fields(&body(json!({"Description": ok})), fields).is_ok());
            assert!(check_fields(&body(json!({"Description": ""})), fields).is_ok());
            let e = check_fields(&body(json!({"Description": long})), fields).unwrap_err();
            assert!(e.message().ends_with("less than or equal to 256"));
            let e = check_fields(&body(json!({"Description": 1})), fields).unwrap_err();
            assert!(e.message().ends_with("Member must be a string"));
        }
    }

    #[test]
    fn handlers_are_128_characters_without_whitespace() {
        for bad in ["", "a b", "a\tb", "a\nb", "\u{b}", "x "] {
            assert_eq!(
                refusal(json!({"Handler": bad})),
                format!("1 validation error detected: Value '{bad}' at 'handler' failed to satisfy constraint: Member must satisfy regular expression pattern: [^\\s]+")
            );
        }
        assert!(refusal(json!({"Handler": "h".repeat(129)}))
            .ends_with("at 'handler' failed to satisfy constraint: Member must have length less than or equal to 128"));
        for ok in [
            "index.handler".to_owned(),
            "h".repeat(128),
            "a/b.c$d".to_owned(),
        ] {
            assert!(check_fields(&body(json!({"Handler": ok})), FUNCTION_FIELDS).is_ok());
        }
    }

    #[test]
    fn permission_statement_ids_and_actions_follow_the_model() {
        let refused = |v: Value| {
            check_fields(&body(v), PERMISSION_FIELDS)
                .unwrap_err()
                .message()
        };
        for bad in ["", "a.b", "a b", "a/b", "é"] {
            let message = refused(json!({"StatementId": bad, "Action": "lambda:InvokeFunction"}));
            assert!(
                message.ends_with("at 'statementId' failed to satisfy constraint: Member must satisfy regular expression pattern: ([a-zA-Z0-9-_]+)")
                    || (bad.is_empty() && message.ends_with("Member must have length greater than or equal to 1")),
                "{message}"
            );
        }
        assert!(refused(json!({"StatementId": "s".repeat(101)}))
            .ends_with("Member must have length less than or equal to 100"));
        for bad in [
            "lambda:",
            "lambda:Invoke-Function",
            "s3:GetObject",
            "lambda:**",
            "**",
            "",
        ] {
            let message = refused(json!({"StatementId": "s", "Action": bad}));
            assert_eq!(
                message,
                format!("1 validation error detected: Value '{bad}' at 'action' failed to satisfy constraint: Member must satisfy regular expression pattern: (lambda:[*]|lambda:[a-zA-Z]+|[*])")
            );
        }
        for action in [
            "lambda:InvokeFunction",
            "lambda:*",
            "*",
            "lambda:GetFunction",
        ] {
            let sid = "s".repeat(100);
            assert!(check_fields(
                &body(json!({"StatementId": format!("{sid}"), "Action": action})),
                PERMISSION_FIELDS
            )
            .is_ok());
        }
        assert!(check_fields(&body(json!({"StatementId": "Abc-1_2"})), PERMISSION_FIELDS).is_ok());
    }

    #[test]
    fn environment_variable_names_follow_aws_pattern() {
        for bad in ["AWS_REGION=eu-west-9", "1A", "A B", "", "A", "A\0B"] {
            let message = refusal(json!({"Environment": {"Variables": {bad: ""}}}));
            assert!(
                message.ends_with(&format!(
                    "at 'environment.variables' failed to satisfy constraint: Map keys must satisfy constraint: [Member must satisfy regular expression pattern: {VARIABLE_NAME_PATTERN}]"
                )),
                "{message}"
            );
        }
        let message = refusal(json!({"Environment": {"Variables": {"AB": "x\0y"}}}));
        assert!(
            message.contains("Value 'AB'") && message.contains("NUL"),
            "{message}"
        );
        assert!(check_fields(
            &body(json!({"Environment": {"Variables": {"AWS_REGION": "x", "a_1": ""}}})),
            FUNCTION_FIELDS
        )
        .is_ok());
    }

    #[test]
    fn versions_are_canonical_numbers() {
        let exists = |n: u32| n == 1;
        assert!(names_version("1", exists));
        assert!(names_version(LATEST, exists));
        for v in ["01", "+1", "001", "0", "2", "", "x"] {
            assert!(!names_version(v, exists), "{v}");
        }
    }
}
