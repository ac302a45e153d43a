//! `lambda-rie.toml` (SPEC 9): `[defaults]` and `[functions.NAME]` tables mapped onto
//! [`FunctionConfig`]; every error names the file, the function and the key.

use std::path::Path;
use std::time::Duration;

use toml::{Table, Value};

use super::{
    check_range, Defaults, Destination, FunctionConfig, HandlerRuntime, EPHEMERAL_STORAGE_RANGE,
    EVENT_AGE_RANGE, MAX_CONCURRENCY_RANGE, MAX_ENVIRONMENT_BYTES, MAX_RETRY_ATTEMPTS,
    MEMORY_RANGE, RESERVED_CONCURRENCY_RANGE, TIMEOUT_RANGE,
};

/// Every key a function table (or `[defaults]`) may hold.
const KEYS: &[&str] = &[
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
    "aliases",
    "maximum_retry_attempts",
    "maximum_event_age",
    "on_success",
    "on_failure",
    "dead_letter",
    "layers",
    "extensions_dir",
];

/// Load every function of a config file.
pub fn load(path: &Path, runtime: &HandlerRuntime) -> Result<Vec<FunctionConfig>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let doc: Table = text
        .parse()
        .map_err(|e: toml::de::Error| format!("{}: {}", path.display(), e.message()))?;
    let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let file = path.display().to_string();
    for key in doc.keys() {
        if key != "defaults" && key != "functions" {
            return Err(format!(
                "{file}: unknown key {key:?} (expected [defaults] and [functions.NAME])"
            ));
        }
    }
    let empty = Table::new();
    let defaults = table(doc.get("defaults"), &empty, &file, "[defaults]")?;
    let functions = table(doc.get("functions"), &empty, &file, "[functions]")?;
    if functions.is_empty() {
        return Err(format!("{file}: no [functions.NAME] table"));
    }
    functions
        .iter()
        .map(|(name, value)| {
            let own = table(Some(value), &empty, &file, name)?;
            let mut merged = defaults.clone();
            merged.extend(own.iter().map(|(k, v)| (k.clone(), v.clone())));
            function(name, &merged, &base, runtime)
                .map_err(|e| format!("{file}: function {name}: {e}"))
        })
        .collect()
}

fn table<'a>(
    v: Option<&'a Value>,
    empty: &'a Table,
    file: &str,
    what: &str,
) -> Result<&'a Table, String> {
    match v {
        None => Ok(empty),
        Some(Value::Table(t)) => Ok(t),
        Some(_) => Err(format!("{file}: {what} must be a table")),
    }
}

fn int(t: &Table, key: &str, range: (u32, u32)) -> Result<Option<u32>, String> {
    match t.get(key) {
        None => Ok(None),
        Some(Value::Integer(n)) => {
            let n = u32::try_from(*n)
                .map_err(|_| format!("{key}: {n} is out of range ({}-{})", range.0, range.1))?;
            check_range(key, n, range).map(Some)
        }
        Some(other) => Err(format!(
            "{key}: expected a whole number, got {}",
            other.type_str()
        )),
    }
}

fn string(t: &Table, key: &str) -> Result<Option<String>, String> {
    match t.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(format!(
            "{key}: expected a string, got {}",
            other.type_str()
        )),
    }
}

fn string_map(t: &Table, key: &str) -> Result<Vec<(String, String)>, String> {
    match t.get(key) {
        None => Ok(Vec::new()),
        Some(Value::Table(m)) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                Value::Integer(_) | Value::Float(_) | Value::Boolean(_) => {
                    Ok((k.clone(), v.to_string()))
                }
                other => Err(format!(
                    "{key}.{k}: expected a string, got {}",
                    other.type_str()
                )),
            })
            .collect(),
        Some(other) => Err(format!("{key}: expected a table, got {}", other.type_str())),
    }
}

/// One function from its merged table.
fn function(
    name: &str,
    t: &Table,
    base: &Path,
    runtime: &HandlerRuntime,
) -> Result<FunctionConfig, String> {
    if let Some(key) = t.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(format!("unknown key {key:?}"));
    }
    let handler = string(t, "handler")?;
    let command = match t.get("command") {
        None => None,
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .ok_or("command: expected strings".to_owned())
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Some(Value::String(s)) => Some(vec![s.clone()]),
        Some(other) => {
            return Err(format!(
                "command: expected an array of strings, got {}",
                other.type_str()
            ))
        }
    };
    let code_dir = base.join(string(t, "code_dir")?.unwrap_or_else(|| ".".to_owned()));
    let mut f = match (handler, command) {
        (Some(h), None) => {
            let mut f = FunctionConfig::new(name, runtime.command(&h), Defaults::FUNCTION);
            f.execution_env = Some(runtime.execution_env.clone());
            f.handler = Some(h);
            f
        }
        (None, Some(c)) if !c.is_empty() => {
            let mut c = c;
            if c[0].contains('/') && !Path::new(&c[0]).is_absolute() {
                c[0] = code_dir.join(&c[0]).to_string_lossy().into_owned();
            }
            FunctionConfig::new(name, c, Defaults::FUNCTION)
        }
        (Some(_), Some(_)) => {
            return Err("give exactly one of handler and command, not both".to_owned())
        }
        _ => return Err("give one of handler (module.function) or command (argv)".to_owned()),
    };
    f.code_dir = code_dir;
    apply_numbers(&mut f, t)?;
    f.environment = string_map(t, "environment")?;
    let env_bytes: usize = f.environment.iter().map(|(k, v)| k.len() + v.len()).sum();
    if env_bytes > MAX_ENVIRONMENT_BYTES {
        return Err(format!(
            "environment: {env_bytes} bytes of variables exceed the 4 KB limit"
        ));
    }
    f.aliases = string_map(t, "aliases")?;
    let dest = |key: &str| -> Result<Option<Destination>, String> {
        string(t, key)?
            .map(|v| Destination::parse(&v, base).map_err(|e| format!("{key}: {e}")))
            .transpose()
    };
    f.on_success = dest("on_success")?;
    f.on_failure = dest("on_failure")?;
    f.dead_letter = dest("dead_letter")?;
    f.layers = layers(t, base)?;
    f.extensions_dir = string(t, "extensions_dir")?.map(|d| base.join(d));
    if let Some(v) = t.get("snapstart") {
        f.snapstart = v
            .as_bool()
            .ok_or("snapstart: expected true or false".to_owned())?;
    }
    Ok(f)
}

/// `layers = ["layer-dir", "layer.zip"]`, relative to the config file; each must exist.
fn layers(t: &Table, base: &Path) -> Result<Vec<std::path::PathBuf>, String> {
    let Some(v) = t.get("layers") else {
        return Ok(Vec::new());
    };
    let list = v
        .as_array()
        .ok_or("layers: expected an array of paths (directories or zip files)")?;
    if list.len() > super::MAX_LAYERS {
        return Err(format!(
            "layers: at most {} layers per function",
            super::MAX_LAYERS
        ));
    }
    list.iter()
        .map(|l| {
            let p = base.join(l.as_str().ok_or("layers: expected paths (strings)")?);
            if p.exists() {
                Ok(p)
            } else {
                Err(format!("layers: {} does not exist", p.display()))
            }
        })
        .collect()
}

fn apply_numbers(f: &mut FunctionConfig, t: &Table) -> Result<(), String> {
    if let Some(n) = int(t, "timeout", TIMEOUT_RANGE)? {
        f.timeout_s = n;
    }
    if let Some(n) = int(t, "memory", MEMORY_RANGE)? {
        f.memory_mb = n;
    }
    if let Some(n) = int(t, "ephemeral_storage", EPHEMERAL_STORAGE_RANGE)? {
        f.ephemeral_storage_mb = n;
    }
    f.reserved_concurrency = int(t, "reserved_concurrency", RESERVED_CONCURRENCY_RANGE)?;
    if let Some(n) = int(t, "provisioned_concurrency", (0, 1000))? {
        f.provisioned_concurrency = n;
    }
    if let Some(n) = int(t, "max_concurrency", MAX_CONCURRENCY_RANGE)? {
        f.max_concurrency = n;
    }
    if let Some(n) = int(t, "idle_timeout", (1, 86_400))? {
        f.idle_timeout = Duration::from_secs(u64::from(n));
    }
    if let Some(n) = int(t, "maximum_retry_attempts", (0, MAX_RETRY_ATTEMPTS))? {
        f.maximum_retry_attempts = n;
    }
    if let Some(n) = int(t, "maximum_event_age", EVENT_AGE_RANGE)? {
        f.maximum_event_age = Duration::from_secs(u64::from(n));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::config::test_support::{load_file, runtime};

    fn load_str(text: &str) -> Result<Vec<FunctionConfig>, String> {
        load_file("lambda-rie.toml", text, |path| load(path, &runtime()))
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
    fn unknown_key_names_file_function_and_key() {
        let e = load_str("[functions.a]\nhandler = \"app.a\"\ntimeuot = 3\n").unwrap_err();
        assert!(e.contains("lambda-rie.toml"), "{e}");
        assert!(e.contains("function a"), "{e}");
        assert!(e.contains("timeuot"), "{e}");
    }

    #[test]
    fn out_of_range_and_both_handler_and_command_are_errors() {
        let e = load_str("[functions.a]\nhandler = \"app.a\"\nmemory = 64\n").unwrap_err();
        assert!(e.contains("memory") && e.contains("128-10240"), "{e}");
        let e = load_str("[functions.a]\nhandler = \"app.a\"\ncommand = [\"x\"]\n").unwrap_err();
        assert!(e.contains("exactly one"), "{e}");
    }

    #[test]
    fn layers_and_extensions_dir_are_relative_to_the_file() {
        // NOTE: "." exists next to every config file; a missing layer is an error.
        let fs = load_str(
            "[functions.a]\nhandler = \"app.a\"\nlayers = [\".\"]\nextensions_dir = \"ext\"\n",
        )
        .unwrap();
        assert_eq!(fs[0].layers.len(), 1);
        assert!(fs[0].layers[0]
            .to_string_lossy()
            .contains("lambda-rie-config-"));
        assert!(fs[0].extensions_dir.as_ref().unwrap().ends_with("ext"));
        let e =
            load_str("[functions.a]\nhandler = \"app.a\"\nlayers = [\"nope.zip\"]\n").unwrap_err();
        assert!(e.contains("layers") && e.contains("nope.zip"), "{e}");
    }
}
