//! `lambda_rie.Function` objects, read attribute by attribute, mapped onto the core's function
//! spec (every value named by its argument) and built by the core with the functions of a
//! config file: no default, limit or check of its own.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use lambda_rie_core::config::spec::{
    build_all, BuildContext, ConfigError, FunctionSpec, NamedLimit, Number, Source,
};
use lambda_rie_core::config::{
    self, Defaults, EmulatorConfig, EnvInheritance, FunctionConfig, HandlerRuntime, LogLevel,
};
use lambda_rie_core::logs;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors;

/// The attributes of a `lambda_rie.Function`.
#[derive(FromPyObject)]
pub struct PyFunction {
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
        module: config::BUILTIN_RUNTIME_MODULE.to_owned(),
        execution_env: format!("AWS_Lambda_python{}.{}", version.major, version.minor),
    })
}

impl PyFunction {
    /// The spec of this function: each attribute is the argument of the same name; a relative
    /// `code_dir` is taken from the current directory.
    fn spec(self) -> Result<FunctionSpec, ConfigError> {
        let spec = FunctionSpec::new(Source::Python {
            function: self.name.clone(),
        });
        let code_dir = std::path::absolute(&self.code_dir).map_err(|e| {
            spec.origin("code_dir")
                .error(format!("{}: {e}", self.code_dir.display()))
        })?;
        let number = |key: &str, n: i64| Some(spec.setting(key, Number::Whole(i128::from(n))));
        Ok(FunctionSpec {
            name: Some(spec.setting("name", self.name)),
            handler: self.handler.map(|h| spec.setting("handler", h)),
            command: self.command.map(|c| spec.setting("command", c)),
            code_dir: Some(spec.setting("code_dir", code_dir)),
            timeout: number("timeout", self.timeout),
            memory: number("memory", self.memory),
            ephemeral_storage: number("ephemeral_storage", self.ephemeral_storage),
            environment: self
                .environment
                .map(|e| spec.setting("environment", e.into_iter().collect())),
            reserved_concurrency: self
                .reserved_concurrency
                .and_then(|n| number("reserved_concurrency", n)),
            provisioned_concurrency: number(
                "provisioned_concurrency",
                self.provisioned_concurrency,
            ),
            max_concurrency: number("max_concurrency", self.max_concurrency),
            idle_timeout: Some(spec.setting("idle_timeout", Number::Fraction(self.idle_timeout))),
            layers: Some(spec.setting("layers", self.layers)),
            extensions_dir: self
                .extensions_dir
                .map(|d| spec.setting("extensions_dir", d)),
            snapstart: Some(spec.setting("snapstart", self.snapstart)),
            inherit_env: Some(EnvInheritance::Minimal),
            ..spec
        })
    }
}

/// Every function to serve: the `Function`s, then those of the config `file`
/// (`lambda-rie.toml`, or a SAM template), built together against the emulator's settings.
pub fn build(
    py: Python<'_>,
    functions: Vec<PyFunction>,
    file: Option<PathBuf>,
    config: &EmulatorConfig,
) -> PyResult<Vec<FunctionConfig>> {
    let runtime = handler_runtime(py)?;
    let mut specs = functions
        .into_iter()
        .map(PyFunction::spec)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| errors::config(e.to_string()))?;
    if let Some(path) = file {
        let loaded = py.detach(|| load_file(&path, &config.region, &config.account_id));
        specs.extend(loaded.map_err(|e| errors::config(e.to_string()))?);
    }
    let ctx = BuildContext {
        runtime: &runtime,
        defaults: Defaults::FUNCTION,
        max_environments: NamedLimit {
            name: "max_environments".to_owned(),
            value: config.max_environments,
        },
    };
    let mut functions = py
        .detach(|| build_all(&specs, &ctx))
        .map_err(|e| errors::config(e.to_string()))?;
    for f in &mut functions {
        f.code_dir = std::path::absolute(&f.code_dir)
            .map_err(|e| errors::config(format!("code_dir: {}: {e}", f.code_dir.display())))?;
    }
    Ok(functions)
}

/// The function specs of a `lambda-rie.toml` (`.toml`) or a SAM/CloudFormation template (any
/// other name), read by the core's loaders; warnings about what a template left out are logged.
fn load_file(path: &Path, region: &str, account: &str) -> Result<Vec<FunctionSpec>, ConfigError> {
    if path.extension().is_some_and(|e| e == "toml") {
        return config::file::load(path);
    }
    let (specs, warnings) = config::template::load(path, region, account)?;
    for warning in warnings {
        logs::message(LogLevel::Warn, &warning);
    }
    Ok(specs)
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
