//! `lambda-rie.toml`: `[defaults]` and `[functions.NAME]` tables mapped onto function specs;
//! every error names the file, the function and the key.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use toml::{Table, Value};

use super::spec::{ConfigError, FunctionSpec, Number, Origin, Setting, Source};
use super::Destination;

/// Every key a function table (or `[defaults]`) may hold.
pub(super) const KEYS: &[&str] = &[
    "handler",
    "command",
    "code_dir",
    "timeout",
    "memory",
    "ephemeral_storage",
    "environment",
    "reserved_concurrency",
    "provisioned_concurrency",
    "max_concurrency",
    "idle_timeout",
    "snapstart",
    "url",
    "event_sources",
    "aliases",
    "maximum_retry_attempts",
    "maximum_event_age",
    "on_success",
    "on_failure",
    "dead_letter",
    "layers",
    "extensions_dir",
];

/// The functions of a config file, in file order; paths are relative to the file.
pub fn load(path: &Path) -> Result<Vec<FunctionSpec>, ConfigError> {
    let file = path.display().to_string();
    let whole = Origin::whole(&Arc::new(Source::ConfigFile {
        file: file.clone(),
        function: None,
    }));
    let text = std::fs::read_to_string(path).map_err(|e| whole.error(e.to_string()))?;
    // NOTE: the toml parser bounds its own nesting (a 100,000-deep array is refused in ~15 ms).
    let doc: Table = text
        .parse()
        .map_err(|e: toml::de::Error| whole.error(located(&text, &e)))?;
    let base = path.parent().unwrap_or(Path::new("."));
    if let Some(key) = doc
        .keys()
        .find(|k| !["defaults", "functions", "runtimes"].contains(&k.as_str()))
    {
        return Err(whole.error(format!(
            "unknown key {key:?} (expected [defaults], [functions.NAME] and [runtimes])"
        )));
    }
    let empty = Table::new();
    let defaults = table(doc.get("defaults"), &empty, &whole, "[defaults]")?;
    let functions = table(doc.get("functions"), &empty, &whole, "[functions]")?;
    if functions.is_empty() && !doc.contains_key("runtimes") {
        return Err(whole.error("no [functions.NAME] table"));
    }
    functions
        .iter()
        .map(|(name, value)| {
            let own = table(Some(value), &empty, &whole, name)?;
            let mut merged = defaults.clone();
            merged.extend(own.iter().map(|(k, v)| (k.clone(), v.clone())));
            let spec = FunctionSpec::new(Source::ConfigFile {
                file: file.clone(),
                function: Some(name.clone()),
            });
            function(spec, name, &merged, base)
        })
        .collect()
}

/// The `[runtimes]` table: the command (argv) that runs each managed runtime lambda-rie
/// cannot run itself, for functions created through the control plane
/// (`"nodejs22.x" = ["node", "/opt/rie/node-runtime.js"]`).
pub fn runtimes(path: &Path) -> Result<BTreeMap<String, Vec<String>>, ConfigError> {
    let whole = Origin::whole(&Arc::new(Source::ConfigFile {
        file: path.display().to_string(),
        function: None,
    }));
    let text = std::fs::read_to_string(path).map_err(|e| whole.error(e.to_string()))?;
    let doc: Table = text
        .parse()
        .map_err(|e: toml::de::Error| whole.error(located(&text, &e)))?;
    let empty = Table::new();
    let mut out = BTreeMap::new();
    for (runtime, command) in table(doc.get("runtimes"), &empty, &whole, "[runtimes]")? {
        let argv: Option<Vec<String>> = command
            .as_array()
            .and_then(|a| a.iter().map(|v| v.as_str().map(str::to_owned)).collect());
        match argv {
            Some(argv) if !argv.is_empty() => {
                out.insert(runtime.clone(), argv);
            }
            _ => {
                return Err(whole.error(format!(
                    "[runtimes] {runtime:?} must be a command: a non-empty array of strings"
                )))
            }
        }
    }
    Ok(out)
}

/// A parse error with its line and column; the parser's own nesting limit said plainly.
fn located(text: &str, e: &toml::de::Error) -> String {
    let message = if e.message().contains("recursion") {
        format!("nested too deeply ({})", e.message())
    } else {
        e.message().to_owned()
    };
    let Some(start) = e.span().map(|s| s.start.min(text.len())) else {
        return message;
    };
    let before = text.get(..start).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("line {line} column {column}: {message}")
}

fn table<'a>(
    v: Option<&'a Value>,
    empty: &'a Table,
    whole: &Origin,
    what: &str,
) -> Result<&'a Table, ConfigError> {
    match v {
        None => Ok(empty),
        Some(Value::Table(t)) => Ok(t),
        Some(_) => Err(whole.error(format!("{what} must be a table"))),
    }
}

/// One function from its merged table.
fn function(
    mut spec: FunctionSpec,
    name: &str,
    t: &Table,
    base: &Path,
) -> Result<FunctionSpec, ConfigError> {
    if let Some(key) = t.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(Origin::whole(&spec.source).error(format!("unknown key {key:?}")));
    }
    spec.name = Some(Setting::new(name.to_owned(), Origin::whole(&spec.source)));
    spec.handler = string(&spec, t, "handler")?;
    spec.command = command(&spec, t)?;
    spec.code_dir = string(&spec, t, "code_dir")?.map(|s| s.map(|d| base.join(d)));
    spec.timeout = number(&spec, t, "timeout")?;
    spec.memory = number(&spec, t, "memory")?;
    spec.ephemeral_storage = number(&spec, t, "ephemeral_storage")?;
    spec.reserved_concurrency = number(&spec, t, "reserved_concurrency")?;
    spec.provisioned_concurrency = number(&spec, t, "provisioned_concurrency")?;
    spec.max_concurrency = number(&spec, t, "max_concurrency")?;
    spec.idle_timeout = number(&spec, t, "idle_timeout")?;
    spec.maximum_retry_attempts = number(&spec, t, "maximum_retry_attempts")?;
    spec.maximum_event_age = number(&spec, t, "maximum_event_age")?;
    spec.environment = string_map(&spec, t, "environment")?;
    spec.aliases = string_map(&spec, t, "aliases")?;
    spec.on_success = destination(&spec, t, "on_success", base)?;
    spec.on_failure = destination(&spec, t, "on_failure", base)?;
    spec.dead_letter = destination(&spec, t, "dead_letter", base)?;
    spec.layers = layers(&spec, t, base)?;
    spec.extensions_dir = string(&spec, t, "extensions_dir")?.map(|s| s.map(|d| base.join(d)));
    spec.snapstart = match t.get("snapstart") {
        None => None,
        Some(Value::Boolean(b)) => Some(spec.setting("snapstart", *b)),
        Some(_) => return Err(spec.origin("snapstart").error("expected true or false")),
    };
    spec.url = url(&spec, t)?;
    spec.event_sources = event_sources(&spec, t)?;
    Ok(spec)
}

/// The keys of an `[[functions.NAME.event_sources]]` table and the CreateEventSourceMapping
/// members they set.
const EVENT_SOURCE_KEYS: &[(&str, &str)] = &[
    ("arn", "EventSourceArn"),
    ("batch_size", "BatchSize"),
    ("maximum_batching_window", "MaximumBatchingWindowInSeconds"),
    ("enabled", "Enabled"),
    ("starting_position", "StartingPosition"),
    ("starting_position_timestamp", "StartingPositionTimestamp"),
    ("function_response_types", "FunctionResponseTypes"),
    ("maximum_concurrency", "MaximumConcurrency"),
    ("parallelization_factor", "ParallelizationFactor"),
    ("maximum_retry_attempts", "MaximumRetryAttempts"),
    ("maximum_record_age", "MaximumRecordAgeInSeconds"),
    (
        "bisect_batch_on_function_error",
        "BisectBatchOnFunctionError",
    ),
    ("tumbling_window", "TumblingWindowInSeconds"),
    ("on_failure", "OnFailure"),
    ("filters", "Filters"),
];

/// `[[functions.NAME.event_sources]]`: each table as a CreateEventSourceMapping body (checked
/// when the emulator starts). `filters` is a list of pattern strings, `on_failure` an ARN,
/// `maximum_concurrency` the `ScalingConfig`'s.
fn event_sources(
    spec: &FunctionSpec,
    t: &Table,
) -> Result<Option<Setting<Vec<serde_json::Value>>>, ConfigError> {
    use serde_json::json;
    let Some(list) = t.get("event_sources") else {
        return Ok(None);
    };
    let fail = |m: String| spec.origin("event_sources").error(m);
    let Value::Array(list) = list else {
        return Err(fail(
            "expected [[functions.NAME.event_sources]] tables".into(),
        ));
    };
    let mut bodies = Vec::new();
    for item in list {
        let Value::Table(item) = item else {
            return Err(fail("expected a table".into()));
        };
        let mut body = serde_json::Map::new();
        for (key, value) in item {
            let Some((_, member)) = EVENT_SOURCE_KEYS.iter().find(|(k, _)| k == key) else {
                let known: Vec<&str> = EVENT_SOURCE_KEYS.iter().map(|(k, _)| *k).collect();
                return Err(fail(format!(
                    "unknown key {key:?} (expected {})",
                    known.join(", ")
                )));
            };
            let value = serde_json::to_value(value).map_err(|e| fail(e.to_string()))?;
            match *member {
                "MaximumConcurrency" => body.insert(
                    "ScalingConfig".into(),
                    json!({ "MaximumConcurrency": value }),
                ),
                "OnFailure" => body.insert(
                    "DestinationConfig".into(),
                    json!({"OnFailure": {"Destination": value}}),
                ),
                "Filters" => {
                    let patterns: Vec<serde_json::Value> = value
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|p| json!({ "Pattern": p }))
                        .collect();
                    body.insert("FilterCriteria".into(), json!({ "Filters": patterns }))
                }
                m => body.insert(m.to_owned(), value),
            };
        }
        if !body.contains_key("EventSourceArn") {
            return Err(fail("an event source needs its arn".into()));
        }
        bodies.push(serde_json::Value::Object(body));
    }
    Ok(Some(spec.setting("event_sources", bodies)))
}

/// `url = true` (`AuthType` `NONE`) or
/// `url = { auth_type = "...", invoke_mode = "...", cors = { allow_origins = [...], ... } }`.
fn url(
    spec: &FunctionSpec,
    t: &Table,
) -> Result<Option<Setting<crate::config::FunctionUrl>>, ConfigError> {
    use crate::config::FunctionUrl;
    let fail = |m: &str| spec.origin("url").error(m.to_owned());
    let url = match t.get("url") {
        None | Some(Value::Boolean(false)) => return Ok(None),
        Some(Value::Boolean(true)) => FunctionUrl::parse("NONE", None).map_err(|e| fail(&e))?,
        Some(Value::Table(u)) => {
            if let Some(key) = u
                .keys()
                .find(|k| !["auth_type", "invoke_mode", "cors"].contains(&k.as_str()))
            {
                return Err(fail(&format!(
                    "unknown key {key:?} (expected auth_type, invoke_mode, cors)"
                )));
            }
            let text = |key: &str| match u.get(key) {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.as_str())),
                Some(_) => Err(fail(&format!("{key}: expected a string"))),
            };
            let auth = text("auth_type")?.unwrap_or("NONE");
            let mut parsed =
                FunctionUrl::parse(auth, text("invoke_mode")?).map_err(|e| fail(&e))?;
            parsed.cors = match u.get("cors") {
                None => None,
                Some(Value::Table(c)) => {
                    Some(crate::config::cors::Cors::from_toml(c).map_err(|e| fail(&e))?)
                }
                Some(_) => return Err(fail("cors: expected a table")),
            };
            parsed
        }
        Some(_) => return Err(fail("expected true, false or a table")),
    };
    Ok(Some(spec.setting("url", url)))
}

fn string(
    spec: &FunctionSpec,
    t: &Table,
    key: &str,
) -> Result<Option<Setting<String>>, ConfigError> {
    match t.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(spec.setting(key, s.clone()))),
        Some(other) => Err(spec
            .origin(key)
            .error(format!("expected a string, got {}", other.type_str()))),
    }
}

fn number(
    spec: &FunctionSpec,
    t: &Table,
    key: &str,
) -> Result<Option<Setting<Number>>, ConfigError> {
    let n = match t.get(key) {
        None => return Ok(None),
        Some(Value::Integer(n)) => Number::Whole(i128::from(*n)),
        Some(Value::Float(f)) => Number::Fraction(*f),
        Some(other) => {
            return Err(spec
                .origin(key)
                .error(format!("expected a whole number, got {}", other.type_str())))
        }
    };
    Ok(Some(spec.setting(key, n)))
}

/// `command = ["./bootstrap", "arg"]` (or one string).
fn command(spec: &FunctionSpec, t: &Table) -> Result<Option<Setting<Vec<String>>>, ConfigError> {
    let origin = spec.origin("command");
    let argv = match t.get("command") {
        None => return Ok(None),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| origin.error("expected strings"))
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(origin.error(format!(
                "expected an array of strings, got {}",
                other.type_str()
            )))
        }
    };
    Ok(Some(Setting::new(argv, origin)))
}

/// Name -> value pairs (environment variables, aliases).
type Pairs = Vec<(String, String)>;

fn string_map(
    spec: &FunctionSpec,
    t: &Table,
    key: &str,
) -> Result<Option<Setting<Pairs>>, ConfigError> {
    let map = match t.get(key) {
        None => return Ok(None),
        Some(Value::Table(m)) => m,
        Some(other) => {
            return Err(spec
                .origin(key)
                .error(format!("expected a table, got {}", other.type_str())))
        }
    };
    let pairs = map
        .iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k.clone(), s.clone())),
            Value::Integer(_) | Value::Float(_) | Value::Boolean(_) => {
                Ok((k.clone(), v.to_string()))
            }
            other => Err(spec
                .origin(format!("{key}.{k}"))
                .error(format!("expected a string, got {}", other.type_str()))),
        })
        .collect::<Result<_, _>>()?;
    Ok(Some(spec.setting(key, pairs)))
}

/// `function:NAME`, `file:PATH` (relative to the file) or `http://...`.
fn destination(
    spec: &FunctionSpec,
    t: &Table,
    key: &str,
    base: &Path,
) -> Result<Option<Setting<Destination>>, ConfigError> {
    let Some(text) = string(spec, t, key)? else {
        return Ok(None);
    };
    let destination = Destination::parse(&text.value, base).map_err(|e| text.error(e))?;
    Ok(Some(Setting::new(destination, text.origin)))
}

/// `layers = ["layer-dir", "layer.zip"]`, relative to the file.
fn layers(
    spec: &FunctionSpec,
    t: &Table,
    base: &Path,
) -> Result<Option<Setting<Vec<std::path::PathBuf>>>, ConfigError> {
    let origin = spec.origin("layers");
    let expected = "expected an array of paths (directories or zip files)";
    let Some(v) = t.get("layers") else {
        return Ok(None);
    };
    let list = v.as_array().ok_or_else(|| origin.error(expected))?;
    let paths = list
        .iter()
        .map(|l| {
            l.as_str()
                .map(|p| base.join(p))
                .ok_or_else(|| origin.error(expected))
        })
        .collect::<Result<_, _>>()?;
    Ok(Some(Setting::new(paths, origin)))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::config::test_support::{build, load_file};
    use crate::config::FunctionConfig;

    fn load_str(text: &str) -> Result<Vec<FunctionConfig>, String> {
        load_file("lambda-rie.toml", text, |path| {
            load(path).and_then(|specs| build(&specs))
        })
        .map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_apply_and_functions_override() {
        let fs = load_str(
            "[defaults]\ntimeout = 10\nmemory = 256\n\n[functions.a]\nhandler = \"app.a\"\n\n[functions.b]\ncommand = [\"./bootstrap\"]\ntimeout = 20\nenvironment = { K = \"v\" }\non_failure = \"file:f.jsonl\"\n",
        )
        .unwrap();
        let a = fs.iter().find(|f| f.name == "a").unwrap();
        let b = fs.iter().find(|f| f.name == "b").unwrap();
        assert_eq!((a.timeout_s, a.memory_mb), (10, 256));
        assert_eq!(a.command[2], crate::config::BUILTIN_RUNTIME_LAUNCH);
        assert_eq!(a.command[3], "app.a");
        assert_eq!(b.timeout_s, 20);
        assert_eq!(b.environment, vec![("K".to_owned(), "v".to_owned())]);
        assert!(matches!(b.on_failure, Some(Destination::File(_))));
        assert!(b.command[0].ends_with("bootstrap"));
    }

    #[test]
    fn a_variable_no_process_can_hold_is_refused_naming_it() {
        let e =
            load_str("[functions.a]\nhandler = \"app.a\"\nenvironment = { K = \"x\\u0000y\" }\n")
                .unwrap_err();
        assert!(
            e.contains(
                "function a: environment: variable K: a value must not contain the NUL character"
            ),
            "{e}"
        );
        let e = load_str("[functions.a]\nhandler = \"app.a\"\nenvironment = { \"A=B\" = \"x\" }\n")
            .unwrap_err();
        assert!(e.contains("\"A=B\" is not a variable name"), "{e}");
    }

    #[test]
    fn functions_keep_the_order_of_the_file() {
        let fs = load_str(
            "[functions.zeta]\nhandler = \"app.z\"\n\n[functions.alpha]\nhandler = \"app.a\"\n\n[functions.mid]\nhandler = \"app.m\"\n",
        )
        .unwrap();
        let names: Vec<&str> = fs.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["zeta", "alpha", "mid"]);
    }

    #[test]
    fn unknown_key_names_file_function_and_key() {
        let e = load_str("[functions.a]\nhandler = \"app.a\"\ntimeuot = 3\n").unwrap_err();
        assert!(e.contains("lambda-rie.toml"), "{e}");
        assert!(e.contains("function a"), "{e}");
        assert!(e.contains("timeuot"), "{e}");
    }

    #[test]
    fn out_of_range_and_both_handler_and_command_are_errors() {
        let e = load_str("[functions.a]\nhandler = \"app.a\"\nmemory = 64\n").unwrap_err();
        assert!(
            e.ends_with("function a: memory: 64 is out of range (128-10240)"),
            "{e}"
        );
        let e = load_str("[functions.a]\nhandler = \"app.a\"\ncommand = [\"x\"]\n").unwrap_err();
        assert!(
            e.ends_with("function a: give exactly one of handler and command, not both"),
            "{e}"
        );
    }

    #[test]
    fn layers_and_extensions_dir_are_relative_to_the_file() {
        // NOTE: "." exists next to every config file; a missing layer or directory is an error.
        let fs = load_str(
            "[functions.a]\nhandler = \"app.a\"\nlayers = [\".\"]\nextensions_dir = \".\"\n",
        )
        .unwrap();
        assert_eq!(fs[0].layers.len(), 1);
        assert!(fs[0].layers[0]
            .to_string_lossy()
            .contains("lambda-rie-config-"));
        let extensions = fs[0].extensions_dir.as_ref().unwrap();
        assert!(
            extensions.to_string_lossy().ends_with("/."),
            "{extensions:?}"
        );
        let e =
            load_str("[functions.a]\nhandler = \"app.a\"\nlayers = [\"nope.zip\"]\n").unwrap_err();
        assert!(
            e.contains("function a: layers: ") && e.contains("nope.zip"),
            "{e}"
        );
        let e =
            load_str("[functions.a]\nhandler = \"app.a\"\nextensions_dir = \"ext\"\n").unwrap_err();
        assert!(
            e.contains("function a: extensions_dir: ") && e.ends_with("ext is not a directory"),
            "{e}"
        );
    }

    #[test]
    fn what_aws_refuses_is_refused_naming_file_function_and_key() {
        let cases = [
            ("[functions.a]\nhandler = \"app.a\"\ncode_dir = \"missing\"\n", "function a: code_dir: "),
            ("[functions.\"../etc\"]\nhandler = \"app.a\"\n", "function ../etc: \"../etc\" is not a valid function name"),
            (
                "[functions.a]\nhandler = \"app.a\"\nenvironment = { AWS_REGION = \"x\", OK = \"1\", _HANDLER = \"y\" }\n",
                "function a: environment: Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: AWS_REGION, _HANDLER",
            ),
            (
                "[functions.a]\nhandler = \"app.a\"\naliases = { live = \"3\" }\n",
                "function a: aliases: alias live: version \"3\" does not exist (lambda-rie serves only $LATEST)",
            ),
        ];
        for (text, expected) in cases {
            let e = load_str(text).unwrap_err();
            assert!(e.contains("lambda-rie.toml: "), "{e}");
            assert!(e.contains(expected), "{e}");
        }
    }

    #[test]
    fn provisioned_environments_of_all_functions_fit_the_cap() {
        // NOTE: the test context's cap is 8 environments.
        let two = |n: u32| {
            format!("[defaults]\nhandler = \"app.a\"\nprovisioned_concurrency = {n}\n\n[functions.a]\n\n[functions.b]\n")
        };
        assert_eq!(load_str(&two(4)).unwrap().len(), 2);
        let e = load_str(&two(5)).unwrap_err();
        assert!(
            e.ends_with("function b: provisioned_concurrency: 5 is more than the 3 environments --max-environments (8) leaves after the other functions' provisioned concurrency"),
            "{e}"
        );
    }

    #[test]
    fn a_deeply_nested_file_is_refused_quickly_naming_the_file() {
        let depth = 100_000;
        let text = format!("x = {}{}", "[".repeat(depth), "]".repeat(depth));
        let e = load_str(&text).unwrap_err();
        assert!(e.contains("lambda-rie.toml: line 1 column "), "{e}");
        assert!(e.contains(": nested too deeply ("), "{e}");
        let dotted = format!("{} = 1", vec!["a"; depth].join("."));
        let e = load_str(&dotted).unwrap_err();
        assert!(e.contains("lambda-rie.toml: nested too deeply ("), "{e}");
    }
}
