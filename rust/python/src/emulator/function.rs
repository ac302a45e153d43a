//! `lambda_rie.Function` objects, read attribute by attribute and checked against the core's
//! ranges, become core `FunctionConfig`s; the defaults they start from are the core's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lambda_rie_core::config::{
    self, check_range, Defaults, EnvInheritance, FunctionConfig, HandlerRuntime, LogLevel,
    EPHEMERAL_STORAGE_RANGE, MAX_CONCURRENCY_RANGE, MAX_ENVIRONMENTS_RANGE, MAX_ENVIRONMENT_BYTES,
    MEMORY_RANGE, RESERVED_CONCURRENCY_RANGE, TIMEOUT_RANGE,
};
use lambda_rie_core::logs;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// The module that serves a `handler` with the built-in Python runtime.
const BUILTIN_RUNTIME: &str = "lambda_rie.runtime";

/// The attributes of a `lambda_rie.Function`.
#[derive(FromPyObject)]
pub struct FunctionSpec {
    name: String,
    handler: Option<String>,
    command: Option<Vec<String>>,
    code_dir: PathBuf,
    timeout: i64,
    memory: i64,
    ephemeral_storage: i64,
    environment: Option<BTreeMap<String, String>>,
    reserved_concurrency: Option<i64>,
    provisioned_concurrency: i64,
    max_concurrency: i64,
    idle_timeout: f64,
    layers: Vec<PathBuf>,
    extensions_dir: Option<PathBuf>,
    snapstart: bool,
}

/// The interpreter that runs `handler` functions: the one this module is loaded in.
pub fn handler_runtime(py: Python<'_>) -> PyResult<HandlerRuntime> {
    let python: String = py.import("sys")?.getattr("executable")?.extract()?;
    let version = py.version_info();
    Ok(HandlerRuntime {
        python,
        module: BUILTIN_RUNTIME.to_owned(),
        execution_env: format!("AWS_Lambda_python{}.{}", version.major, version.minor),
    })
}

/// `value` as a u32 within `range`, or the core's out-of-range message naming `option`.
fn ranged(option: &str, value: i64, range: (u32, u32)) -> Result<u32, String> {
    let out_of_range = || {
        format!(
            "{option}: {value} is out of range ({}-{})",
            range.0, range.1
        )
    };
    let value = u32::try_from(value).map_err(|_| out_of_range())?;
    check_range(option, value, range)
}

impl FunctionSpec {
    /// The core configuration of this function; the error names the function and the option.
    pub fn into_config(self, runtime: &HandlerRuntime) -> Result<FunctionConfig, String> {
        self.build(runtime)
            .map_err(|e| format!("function {}: {e}", self.name))
    }

    fn build(&self, runtime: &HandlerRuntime) -> Result<FunctionConfig, String> {
        if self.name.is_empty() {
            return Err("name: must not be empty".to_owned());
        }
        let code_dir = std::path::absolute(&self.code_dir)
            .map_err(|e| format!("code_dir: {}: {e}", self.code_dir.display()))?;
        let mut f = match (&self.handler, &self.command) {
            (Some(h), None) => {
                let mut f = FunctionConfig::new(&self.name, runtime.command(h), Defaults::FUNCTION);
                f.handler = Some(h.clone());
                f.execution_env = Some(runtime.execution_env.clone());
                f
            }
            (None, Some(c)) if !c.is_empty() => {
                FunctionConfig::new(&self.name, command_in(c, &code_dir), Defaults::FUNCTION)
            }
            (Some(_), Some(_)) => {
                return Err("give exactly one of handler and command, not both".to_owned())
            }
            _ => return Err("give one of handler (module.function) or command (argv)".to_owned()),
        };
        f.code_dir = code_dir;
        f.inherit_env = EnvInheritance::Minimal;
        f.runtime_api_address = None;
        f.timeout_s = ranged("timeout", self.timeout, TIMEOUT_RANGE)?;
        f.memory_mb = ranged("memory", self.memory, MEMORY_RANGE)?;
        f.ephemeral_storage_mb = ranged(
            "ephemeral_storage",
            self.ephemeral_storage,
            EPHEMERAL_STORAGE_RANGE,
        )?;
        f.reserved_concurrency = self
            .reserved_concurrency
            .map(|n| ranged("reserved_concurrency", n, RESERVED_CONCURRENCY_RANGE))
            .transpose()?;
        f.provisioned_concurrency = ranged(
            "provisioned_concurrency",
            self.provisioned_concurrency,
            (0, MAX_ENVIRONMENTS_RANGE.1),
        )?;
        f.max_concurrency = ranged(
            "max_concurrency",
            self.max_concurrency,
            MAX_CONCURRENCY_RANGE,
        )?;
        f.idle_timeout = Duration::try_from_secs_f64(self.idle_timeout)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| {
                format!(
                    "idle_timeout: {} is not a positive number of seconds",
                    self.idle_timeout
                )
            })?;
        f.environment = self
            .environment
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        let env_bytes: usize = f.environment.iter().map(|(k, v)| k.len() + v.len()).sum();
        if env_bytes > MAX_ENVIRONMENT_BYTES {
            return Err(format!(
                "environment: {env_bytes} bytes of variables exceed the {MAX_ENVIRONMENT_BYTES}-byte limit"
            ));
        }
        if self.layers.len() > config::MAX_LAYERS {
            return Err(format!("layers: at most {} layers", config::MAX_LAYERS));
        }
        if let Some(missing) = self.layers.iter().find(|l| !l.exists()) {
            return Err(format!(
                "layers: {} is not a directory or a zip file",
                missing.display()
            ));
        }
        f.layers.clone_from(&self.layers);
        f.extensions_dir.clone_from(&self.extensions_dir);
        f.snapstart = self.snapstart;
        Ok(f)
    }
}

/// A relative program path (`./bootstrap`) names a file in the code directory.
fn command_in(command: &[String], code_dir: &Path) -> Vec<String> {
    let mut c = command.to_vec();
    if c[0].contains('/') && !Path::new(&c[0]).is_absolute() {
        c[0] = code_dir.join(&c[0]).to_string_lossy().into_owned();
    }
    c
}

/// The functions of a `lambda-rie.toml` (`.toml`) or a SAM/CloudFormation template (any other
/// name), read by the core's loaders; warnings about ignored template properties are logged.
pub fn load_file(
    path: &Path,
    runtime: &HandlerRuntime,
    region: &str,
    account: &str,
) -> Result<Vec<FunctionConfig>, String> {
    let mut functions = if path.extension().is_some_and(|e| e == "toml") {
        config::file::load(path, runtime)?
    } else {
        let (functions, warnings) = config::template::load(path, runtime, region, account)?;
        for warning in warnings {
            logs::message(LogLevel::Warn, &warning);
        }
        functions
    };
    for f in &mut functions {
        f.code_dir = std::path::absolute(&f.code_dir)
            .map_err(|e| format!("code_dir: {}: {e}", f.code_dir.display()))?;
    }
    Ok(functions)
}

/// A served function as the keyword arguments of `lambda_rie.Function` (plus `name`).
pub fn describe<'py>(py: Python<'py>, f: &FunctionConfig) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("name", &f.name)?;
    match (&f.handler, &f.execution_env) {
        (Some(handler), Some(_)) => d.set_item("handler", handler)?,
        _ => d.set_item("command", &f.command)?,
    }
    d.set_item("code_dir", &f.code_dir)?;
    d.set_item("timeout", f.timeout_s)?;
    d.set_item("memory", f.memory_mb)?;
    d.set_item("ephemeral_storage", f.ephemeral_storage_mb)?;
    let environment = PyDict::new(py);
    for (k, v) in &f.environment {
        environment.set_item(k, v)?;
    }
    d.set_item("environment", environment)?;
    d.set_item("reserved_concurrency", f.reserved_concurrency)?;
    d.set_item("provisioned_concurrency", f.provisioned_concurrency)?;
    d.set_item("max_concurrency", f.max_concurrency)?;
    d.set_item("idle_timeout", f.idle_timeout.as_secs_f64())?;
    d.set_item("layers", &f.layers)?;
    d.set_item("extensions_dir", &f.extensions_dir)?;
    d.set_item("snapstart", f.snapstart)?;
    Ok(d)
}

/// The core's defaults of every optional `Function` argument, by argument name.
#[pyfunction]
pub fn function_defaults(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let f = FunctionConfig::new("", Vec::new(), Defaults::FUNCTION);
    let d = PyDict::new(py);
    d.set_item("timeout", f.timeout_s)?;
    d.set_item("memory", f.memory_mb)?;
    d.set_item("ephemeral_storage", f.ephemeral_storage_mb)?;
    d.set_item("provisioned_concurrency", f.provisioned_concurrency)?;
    d.set_item("max_concurrency", f.max_concurrency)?;
    d.set_item("idle_timeout", f.idle_timeout.as_secs())?;
    Ok(d)
}
