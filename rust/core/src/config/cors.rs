//! The CORS settings of a function URL (docs/reference.md §14): AWS's `Cors` shape, read from
//! the control plane's JSON, SAM's `FunctionUrlConfig.Cors` and lambda-rie.toml's
//! `url = { cors = {...} }`, with AWS's limits.

use serde_json::{Map, Value};

/// Largest `MaxAge`, seconds.
pub const MAX_AGE_LIMIT: i64 = 86_400;
/// Most entries of `AllowHeaders`, `AllowOrigins` and `ExposeHeaders`.
const MAX_LIST_ITEMS: usize = 100;
/// Most entries of `AllowMethods`, and the longest method.
const MAX_METHODS: usize = 6;
/// Longest `AllowOrigins` entry.
const MAX_ORIGIN_CHARS: usize = 253;

/// `Cors` of a function URL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cors {
    /// `Access-Control-Allow-Credentials: true` is sent.
    pub allow_credentials: bool,
    /// `Access-Control-Allow-Headers` of a preflight answer.
    pub allow_headers: Vec<String>,
    /// `Access-Control-Allow-Methods` of a preflight answer (`*`: any).
    pub allow_methods: Vec<String>,
    /// The origins that get `Access-Control-Allow-Origin` (`*`: any).
    pub allow_origins: Vec<String>,
    /// `Access-Control-Expose-Headers` of ordinary responses.
    pub expose_headers: Vec<String>,
    /// `Access-Control-Max-Age` of a preflight answer (0: not sent).
    pub max_age: u32,
}

/// A `Cors` value AWS refuses: the value, the member (`cors.maxAge`) and the constraint, as a
/// `ValidationException` names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsError {
    /// The value as AWS prints it.
    pub value: String,
    /// The member, camel-cased.
    pub member: &'static str,
    /// The constraint it fails.
    pub constraint: String,
}

impl std::fmt::Display for CorsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "value {} of {} fails: {}",
            self.value, self.member, self.constraint
        )
    }
}

impl Cors {
    /// The settings of AWS's `Cors` JSON object (`{"AllowOrigins": [...], "MaxAge": 300}`).
    pub fn from_aws(v: &Value) -> Result<Self, CorsError> {
        let empty = Map::new();
        let m = v.as_object().unwrap_or(&empty);
        let credentials = match m.get("AllowCredentials") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                return Err(error(
                    other,
                    "cors.allowCredentials",
                    "Member must be a boolean",
                ))
            }
        };
        let max_age = match m.get("MaxAge") {
            None | Some(Value::Null) => 0,
            Some(n) => match n.as_i64() {
                Some(a) if a < 0 => {
                    return Err(error(
                        n,
                        "cors.maxAge",
                        "Member must have value greater than or equal to 0",
                    ))
                }
                Some(a) if a > MAX_AGE_LIMIT => {
                    return Err(error(
                        n,
                        "cors.maxAge",
                        "Member must have value less than or equal to 86400",
                    ))
                }
                Some(a) => u32::try_from(a).unwrap_or(0),
                None => return Err(error(n, "cors.maxAge", "Member must be an integer")),
            },
        };
        let methods = strings(m, "AllowMethods", "cors.allowMethods", MAX_METHODS)?;
        if methods.iter().any(|s| s.chars().count() > MAX_METHODS) {
            return Err(CorsError {
                value: printed(&methods),
                member: "cors.allowMethods",
                constraint: "Member must satisfy constraint: [Member must have length less than or equal to 6]".to_owned(),
            });
        }
        let origins = strings(m, "AllowOrigins", "cors.allowOrigins", MAX_LIST_ITEMS)?;
        if origins
            .iter()
            .any(|s| s.is_empty() || s.chars().count() > MAX_ORIGIN_CHARS)
        {
            return Err(CorsError {
                value: printed(&origins),
                member: "cors.allowOrigins",
                constraint: "Member must satisfy constraint: [Member must have length less than or equal to 253, Member must have length greater than or equal to 1]".to_owned(),
            });
        }
        Ok(Self {
            allow_credentials: credentials,
            allow_headers: strings(m, "AllowHeaders", "cors.allowHeaders", MAX_LIST_ITEMS)?,
            allow_methods: methods,
            allow_origins: origins,
            expose_headers: strings(m, "ExposeHeaders", "cors.exposeHeaders", MAX_LIST_ITEMS)?,
            max_age,
        })
    }

    /// The settings of lambda-rie.toml's `cors = { allow_origins = [...], max_age = 300 }`
    /// (snake-cased AWS member names).
    pub fn from_toml(t: &toml::Table) -> Result<Self, String> {
        let mut aws = Map::new();
        for (key, value) in t {
            let member = match key.as_str() {
                "allow_credentials" => "AllowCredentials",
                "allow_headers" => "AllowHeaders",
                "allow_methods" => "AllowMethods",
                "allow_origins" => "AllowOrigins",
                "expose_headers" => "ExposeHeaders",
                "max_age" => "MaxAge",
                other => {
                    return Err(format!(
                        "cors: unknown key {other:?} (expected allow_credentials, allow_headers, allow_methods, allow_origins, expose_headers, max_age)"
                    ))
                }
            };
            let json = serde_json::to_value(value).map_err(|e| format!("cors.{key}: {e}"))?;
            aws.insert(member.to_owned(), json);
        }
        Self::from_aws(&Value::Object(aws)).map_err(|e| format!("cors: {e}"))
    }
}

/// A list of strings of at most `max` entries (absent: empty).
fn strings(
    m: &Map<String, Value>,
    key: &str,
    member: &'static str,
    max: usize,
) -> Result<Vec<String>, CorsError> {
    let list = match m.get(key) {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(list)) => list,
        Some(other) => return Err(error(other, member, "Member must be a list of strings")),
    };
    let out: Vec<String> = list
        .iter()
        .map(|s| s.as_str().map(str::to_owned))
        .collect::<Option<_>>()
        .ok_or_else(|| error(&m[key], member, "Member must be a list of strings"))?;
    if out.len() > max {
        return Err(CorsError {
            value: printed(&out),
            member,
            constraint: format!("Member must have length less than or equal to {max}"),
        });
    }
    Ok(out)
}

/// A list as AWS prints it in a validation message: `[a, b]`.
fn printed(list: &[String]) -> String {
    format!("[{}]", list.join(", "))
}

fn error(v: &Value, member: &'static str, constraint: &str) -> CorsError {
    CorsError {
        value: v.as_str().map_or_else(|| v.to_string(), str::to_owned),
        member,
        constraint: constraint.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn aws_cors_objects_are_read_with_defaults() {
        let c =
            Cors::from_aws(&json!({"AllowOrigins": ["https://a.example"], "MaxAge": 300})).unwrap();
        assert_eq!(c.allow_origins, vec!["https://a.example"]);
        assert_eq!(c.max_age, 300);
        assert!(!c.allow_credentials);
        assert!(c.allow_methods.is_empty());
        assert_eq!(Cors::from_aws(&json!({})).unwrap(), Cors::default());
    }

    #[test]
    fn aws_limits_are_validation_errors() {
        let e = Cors::from_aws(&json!({"MaxAge": 86401})).unwrap_err();
        assert_eq!(e.member, "cors.maxAge");
        assert_eq!(e.value, "86401");
        assert_eq!(
            e.constraint,
            "Member must have value less than or equal to 86400"
        );
        let e = Cors::from_aws(&json!({"AllowMethods": ["GET", "OPTIONSX"]})).unwrap_err();
        assert_eq!(e.member, "cors.allowMethods");
        assert_eq!(e.value, "[GET, OPTIONSX]");
        let e = Cors::from_aws(&json!({"AllowOrigins": [""]})).unwrap_err();
        assert_eq!(e.member, "cors.allowOrigins");
    }

    #[test]
    fn toml_keys_are_snake_cased_aws_members() {
        let t: toml::Table =
            toml::from_str("allow_origins = [\"*\"]\nallow_credentials = true\nmax_age = 60")
                .unwrap();
        let c = Cors::from_toml(&t).unwrap();
        assert_eq!(c.allow_origins, vec!["*"]);
        assert!(c.allow_credentials);
        assert_eq!(c.max_age, 60);
        let t: toml::Table = toml::from_str("origins = [\"*\"]").unwrap();
        assert!(Cors::from_toml(&t)
            .unwrap_err()
            .contains("unknown key \"origins\""));
    }
}
