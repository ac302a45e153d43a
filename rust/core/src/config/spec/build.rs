//! `FunctionSpec` -> `FunctionConfig`: the defaults, then every setting checked and applied;
//! and the checks across the functions of one emulator.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::checks::{self, whole};
use super::{ConfigError, FunctionSpec, Runtime, Setting};
use crate::config::{
    Defaults, Destination, FunctionConfig, HandlerRuntime, DEFAULT_FUNCTION_NAME,
    EPHEMERAL_STORAGE_RANGE, EVENT_AGE_RANGE, MAX_CONCURRENCY_RANGE, MAX_RETRY_ATTEMPTS,
    MEMORY_RANGE, PROVISIONED_CONCURRENCY_RANGE, RESERVED_CONCURRENCY_RANGE, TIMEOUT_RANGE,
};

/// An emulator-wide limit, named as the source that sets it spells it (`--max-environments`).
#[derive(Debug, Clone)]
pub struct NamedLimit {
    /// The flag, key or argument that sets it.
    pub name: String,
    /// Its value.
    pub value: u32,
}

/// What building needs besides the spec: how handlers are run, the defaults of the source
/// (the RIE's on the command line, AWS's elsewhere) and the emulator's environment cap.
#[derive(Debug, Clone)]
pub struct BuildContext<'a> {
    /// The Python runtime that serves handlers.
    pub runtime: &'a HandlerRuntime,
    /// Timeout and memory when the spec gives none.
    pub defaults: Defaults,
    /// The emulator-wide cap on execution environments.
    pub max_environments: NamedLimit,
}

/// Build every function of one emulator; their provisioned environments must fit its cap.
pub fn build_all(
    specs: &[FunctionSpec],
    ctx: &BuildContext<'_>,
) -> Result<Vec<FunctionConfig>, ConfigError> {
    let mut provisioned = 0;
    let mut functions = Vec::with_capacity(specs.len());
    for spec in specs {
        let f = spec.build(ctx)?;
        let cap = &ctx.max_environments;
        if provisioned + f.provisioned_concurrency > cap.value {
            let origin = spec.provisioned_concurrency.as_ref().map_or_else(
                || spec.origin("provisioned_concurrency"),
                |s| s.origin.clone(),
            );
            return Err(origin.error(format!(
                "{} is more than the {} environments {} ({}) leaves after the other functions' provisioned concurrency",
                f.provisioned_concurrency,
                cap.value - provisioned,
                cap.name,
                cap.value
            )));
        }
        provisioned += f.provisioned_concurrency;
        functions.push(f);
    }
    Ok(functions)
}

impl FunctionSpec {
    /// The function these settings describe, or the first setting no source may hold.
    pub fn build(&self, ctx: &BuildContext<'_>) -> Result<FunctionConfig, ConfigError> {
        let name = match &self.name {
            Some(name) => checks::function_name(name)?,
            None => DEFAULT_FUNCTION_NAME.to_owned(),
        };
        let code_dir = match &self.code_dir {
            Some(dir) => checks::directory(dir)?,
            None => PathBuf::from("."),
        };
        let (command, execution_env) = self.program(&code_dir, ctx.runtime)?;
        let mut f = FunctionConfig::new(&name, command, ctx.defaults);
        f.handler = self.handler.as_ref().map(|h| h.value.clone());
        f.execution_env = execution_env;
        f.code_dir = code_dir;
        self.apply_limits(&mut f)?;
        self.apply_concurrency(&mut f, ctx)?;
        self.apply_async(&mut f)?;
        if let Some(environment) = &self.environment {
            f.environment = checks::environment(environment)?;
        }
        if let Some(aliases) = &self.aliases {
            f.aliases = checks::aliases(aliases)?;
        }
        if let Some(layers) = &self.layers {
            f.layers = checks::layers(layers)?;
        }
        if let Some(dir) = &self.extensions_dir {
            f.extensions_dir = Some(checks::directory(dir)?);
        }
        let switch = |s: &Option<Setting<bool>>| s.as_ref().is_some_and(|s| s.value);
        f.snapstart = switch(&self.snapstart);
        f.url = self.url.as_ref().map(|u| u.value.clone());
        if let Some(routes) = &self.http_routes {
            f.http_routes.clone_from(&routes.value);
        }
        if let Some(sources) = &self.event_sources {
            f.event_sources.clone_from(&sources.value);
        }
        f.cpu_by_memory = switch(&self.cpu_by_memory);
        f.freeze = switch(&self.freeze);
        f.watch = switch(&self.watch);
        if let Some(inherit) = self.inherit_env {
            f.inherit_env = inherit;
        }
        f.runtime_api_address = self.runtime_api_address;
        Ok(f)
    }

    /// The runtime command and `AWS_EXECUTION_ENV`.
    fn program(
        &self,
        code_dir: &Path,
        python: &HandlerRuntime,
    ) -> Result<(Vec<String>, Option<String>), ConfigError> {
        let handler = self.handler.as_ref().map(|h| h.value.as_str());
        let command = self.command.as_ref().map(|c| c.value.clone());
        let Some(runtime) = &self.runtime else {
            return match (handler, command) {
                (Some(_), Some(_)) => {
                    Err(self.whole_error("give exactly one of handler and command, not both"))
                }
                (Some(h), None) => Ok((python.command(h), Some(python.execution_env.clone()))),
                (None, Some(c)) if !c.is_empty() => Ok((checks::program_in(&c, code_dir), None)),
                _ => {
                    Err(self.whole_error("give one of handler (module.function) or command (argv)"))
                }
            };
        };
        match &runtime.value {
            Runtime::Python(version) => {
                let h = handler.ok_or_else(|| {
                    runtime.error("a python runtime needs a handler (module.function)")
                })?;
                let env = version.as_ref().map_or_else(
                    || python.execution_env.clone(),
                    |v| format!("AWS_Lambda_{v}"),
                );
                Ok((command.unwrap_or_else(|| python.command(h)), Some(env)))
            }
            Runtime::Provided => {
                let bootstrap = || vec![code_dir.join("bootstrap").to_string_lossy().into_owned()];
                Ok((command.unwrap_or_else(bootstrap), None))
            }
            Runtime::Unsupported(identifier) => Err(runtime.error(format!(
                "{identifier:?} is not supported: use python3.x or provided.al2023 (or serve it with the CLI)"
            ))),
            Runtime::Image => Err(runtime.error(
                "Image is not supported (serve the image's runtime with the CLI instead)",
            )),
        }
    }

    fn whole_error(&self, problem: &str) -> ConfigError {
        super::Origin::whole(&self.source).error(problem)
    }

    /// Timeout, memory, `/tmp` and idle time.
    fn apply_limits(&self, f: &mut FunctionConfig) -> Result<(), ConfigError> {
        if let Some(s) = &self.timeout {
            f.timeout_s = whole(s, TIMEOUT_RANGE)?;
        }
        if let Some(s) = &self.memory {
            f.memory_mb = whole(s, MEMORY_RANGE)?;
        }
        if let Some(s) = &self.ephemeral_storage {
            f.ephemeral_storage_mb = whole(s, EPHEMERAL_STORAGE_RANGE)?;
        }
        if let Some(s) = &self.idle_timeout {
            f.idle_timeout = checks::idle_timeout(s)?;
        }
        Ok(())
    }

    /// Reserved, provisioned and per-environment concurrency; provisioned environments fit
    /// within the reserved concurrency and the emulator's environment cap.
    fn apply_concurrency(
        &self,
        f: &mut FunctionConfig,
        ctx: &BuildContext<'_>,
    ) -> Result<(), ConfigError> {
        if let Some(s) = &self.reserved_concurrency {
            f.reserved_concurrency = Some(whole(s, RESERVED_CONCURRENCY_RANGE)?);
        }
        if let Some(s) = &self.max_concurrency {
            f.max_concurrency = whole(s, MAX_CONCURRENCY_RANGE)?;
        }
        let Some(s) = &self.provisioned_concurrency else {
            return Ok(());
        };
        let n = whole(s, PROVISIONED_CONCURRENCY_RANGE)?;
        if let (Some(reserved), Some(limit)) = (f.reserved_concurrency, &self.reserved_concurrency)
        {
            if n > reserved {
                let name = limit.origin.name();
                return Err(s.error(format!("{n} is more than {name} ({reserved})")));
            }
        }
        let cap = &ctx.max_environments;
        if n > cap.value {
            return Err(s.error(format!("{n} is more than {} ({})", cap.name, cap.value)));
        }
        f.provisioned_concurrency = n;
        Ok(())
    }

    /// Retries, event age and destinations of `Event` invocations.
    fn apply_async(&self, f: &mut FunctionConfig) -> Result<(), ConfigError> {
        if let Some(s) = &self.maximum_retry_attempts {
            f.maximum_retry_attempts = whole(s, (0, MAX_RETRY_ATTEMPTS))?;
        }
        if let Some(s) = &self.maximum_event_age {
            f.maximum_event_age = Duration::from_secs(u64::from(whole(s, EVENT_AGE_RANGE)?));
        }
        let destination = |s: &Option<Setting<Destination>>| s.as_ref().map(|s| s.value.clone());
        f.on_success = destination(&self.on_success);
        f.on_failure = destination(&self.on_failure);
        f.dead_letter = destination(&self.dead_letter);
        Ok(())
    }
}
