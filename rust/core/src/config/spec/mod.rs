//! One function's settings as any source wrote them (command line, `lambda-rie.toml`, SAM
//! template, Python API, control plane), each with where it was written; `build` owns every
//! default, limit and check and turns them into the [`FunctionConfig`] the emulator runs.
//!
//! A loader only maps its own syntax onto a [`FunctionSpec`] and calls [`FunctionSpec::build`]
//! (or [`build_all`]); one source over another (flags over a config file) is [`FunctionSpec::merge`].

mod build;
mod checks;
mod origin;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

pub use build::{build_all, BuildContext, NamedLimit};
pub use origin::{ConfigError, Origin, Setting, Source};

use super::{Destination, EnvInheritance};

#[cfg(doc)]
use super::FunctionConfig;

/// A whole number (or, where allowed, seconds with a fraction) as a source wrote it.
#[derive(Debug, Clone, PartialEq)]
pub enum Number {
    /// Written as a number.
    Whole(i128),
    /// Written as text (a flag's value, a template's string); the spec parses it.
    Text(String),
    /// A number with a fraction (only `idle_timeout` takes one).
    Fraction(f64),
}

/// How a function is run, as AWS's `Runtime` (and `PackageType`) say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Runtime {
    /// A managed Python runtime: the built-in runtime serves the handler. `Some("python3.12")`
    /// names the version for `AWS_EXECUTION_ENV`; `None` takes the serving interpreter's.
    Python(Option<String>),
    /// An OS-only runtime (`provided.al2023`): the command (default `<code_dir>/bootstrap`)
    /// speaks the Runtime API; the handler is only passed on as `_HANDLER`.
    Provided,
    /// A runtime identifier lambda-rie cannot serve (`nodejs20.x`).
    Unsupported(String),
    /// `PackageType: Image`: the image's own runtime.
    Image,
}

impl Runtime {
    /// The runtime of an AWS runtime identifier (`python3.12`, `provided.al2023`, ...).
    pub fn from_identifier(identifier: &str) -> Self {
        if identifier.starts_with("python") {
            Self::Python(Some(identifier.to_owned()))
        } else if identifier.starts_with("provided") {
            Self::Provided
        } else {
            Self::Unsupported(identifier.to_owned())
        }
    }
}

/// Every setting of one function, each with where it was written; `None` takes the default.
///
/// Without a `runtime`, exactly one of `handler` (served by the built-in Python runtime) and
/// `command` (any runtime; a relative program path is taken in the code directory) is given:
/// the keys of `lambda-rie.toml` and the Python API.
#[derive(Debug, Clone)]
pub struct FunctionSpec {
    /// Where the function itself is declared (for errors about it as a whole).
    pub source: Arc<Source>,
    /// The function name (default: the RIE's `test_function`).
    pub name: Option<Setting<String>>,
    /// The handler (`_HANDLER`).
    pub handler: Option<Setting<String>>,
    /// The runtime command (argv).
    pub command: Option<Setting<Vec<String>>>,
    /// AWS's runtime, when the source names one.
    pub runtime: Option<Setting<Runtime>>,
    /// Working directory and `LAMBDA_TASK_ROOT`; must exist.
    pub code_dir: Option<Setting<PathBuf>>,
    /// Timeout, seconds.
    pub timeout: Option<Setting<Number>>,
    /// Memory, MB.
    pub memory: Option<Setting<Number>>,
    /// `/tmp` size, MB.
    pub ephemeral_storage: Option<Setting<Number>>,
    /// The user's environment variables.
    pub environment: Option<Setting<Vec<(String, String)>>>,
    /// Reserved concurrency.
    pub reserved_concurrency: Option<Setting<Number>>,
    /// Provisioned concurrency.
    pub provisioned_concurrency: Option<Setting<Number>>,
    /// Invocations per environment.
    pub max_concurrency: Option<Setting<Number>>,
    /// Idle time before an environment is reaped, seconds.
    pub idle_timeout: Option<Setting<Number>>,
    /// Aliases: name -> version.
    pub aliases: Option<Setting<Vec<(String, String)>>>,
    /// Async: further attempts after a failure.
    pub maximum_retry_attempts: Option<Setting<Number>>,
    /// Async: oldest event still processed, seconds.
    pub maximum_event_age: Option<Setting<Number>>,
    /// Async destination on success.
    pub on_success: Option<Setting<Destination>>,
    /// Async destination on failure.
    pub on_failure: Option<Setting<Destination>>,
    /// Dead-letter target.
    pub dead_letter: Option<Setting<Destination>>,
    /// Layers, in order; each must exist.
    pub layers: Option<Setting<Vec<PathBuf>>>,
    /// External extensions directory; must exist.
    pub extensions_dir: Option<Setting<PathBuf>>,
    /// SnapStart.
    pub snapstart: Option<Setting<bool>>,
    /// Its function URL.
    pub url: Option<Setting<super::FunctionUrl>>,
    /// API Gateway routes to it.
    pub http_routes: Option<Setting<Vec<super::HttpRoute>>>,
    /// Event source mappings to it, as CreateEventSourceMapping bodies.
    pub event_sources: Option<Setting<Vec<serde_json::Value>>>,
    /// CPU quota by memory.
    pub cpu_by_memory: Option<Setting<bool>>,
    /// Freeze between invocations.
    pub freeze: Option<Setting<bool>>,
    /// Replace environments when the code changes.
    pub watch: Option<Setting<bool>>,
    /// Which of lambda-rie's variables the runtime inherits (default: the minimal set).
    pub inherit_env: Option<EnvInheritance>,
    /// A fixed Runtime API address for the first environment (default: ephemeral ports).
    pub runtime_api_address: Option<SocketAddr>,
}

impl FunctionSpec {
    /// A function declared in `source`, with nothing set.
    pub fn new(source: Source) -> Self {
        Self {
            source: Arc::new(source),
            name: None,
            handler: None,
            command: None,
            runtime: None,
            code_dir: None,
            timeout: None,
            memory: None,
            ephemeral_storage: None,
            environment: None,
            reserved_concurrency: None,
            provisioned_concurrency: None,
            max_concurrency: None,
            idle_timeout: None,
            aliases: None,
            maximum_retry_attempts: None,
            maximum_event_age: None,
            on_success: None,
            on_failure: None,
            dead_letter: None,
            layers: None,
            extensions_dir: None,
            snapstart: None,
            url: None,
            http_routes: None,
            event_sources: None,
            cpu_by_memory: None,
            freeze: None,
            watch: None,
            inherit_env: None,
            runtime_api_address: None,
        }
    }

    /// The value of `key` in this function's source.
    pub fn origin(&self, key: impl Into<String>) -> Origin {
        Origin::new(&self.source, key)
    }

    /// `value`, written as `key` of this function's source.
    pub fn setting<T>(&self, key: impl Into<String>, value: T) -> Setting<T> {
        Setting::new(value, self.origin(key))
    }

    /// Only the settings written in `source` (the flags of a command line, not its
    /// environment variables), and none of the function's identity: name, handler, command,
    /// runtime and code directory.
    #[must_use]
    pub fn only_from(&self, source: &Source) -> FunctionSpec {
        fn keep<T: Clone>(s: Option<&Setting<T>>, source: &Source) -> Option<Setting<T>> {
            s.filter(|s| s.origin.source() == source).cloned()
        }
        FunctionSpec {
            timeout: keep(self.timeout.as_ref(), source),
            memory: keep(self.memory.as_ref(), source),
            ephemeral_storage: keep(self.ephemeral_storage.as_ref(), source),
            environment: keep(self.environment.as_ref(), source),
            reserved_concurrency: keep(self.reserved_concurrency.as_ref(), source),
            provisioned_concurrency: keep(self.provisioned_concurrency.as_ref(), source),
            max_concurrency: keep(self.max_concurrency.as_ref(), source),
            idle_timeout: keep(self.idle_timeout.as_ref(), source),
            aliases: keep(self.aliases.as_ref(), source),
            maximum_retry_attempts: keep(self.maximum_retry_attempts.as_ref(), source),
            maximum_event_age: keep(self.maximum_event_age.as_ref(), source),
            on_success: keep(self.on_success.as_ref(), source),
            on_failure: keep(self.on_failure.as_ref(), source),
            dead_letter: keep(self.dead_letter.as_ref(), source),
            layers: keep(self.layers.as_ref(), source),
            extensions_dir: keep(self.extensions_dir.as_ref(), source),
            snapstart: keep(self.snapstart.as_ref(), source),
            url: keep(self.url.as_ref(), source),
            http_routes: keep(self.http_routes.as_ref(), source),
            event_sources: keep(self.event_sources.as_ref(), source),
            cpu_by_memory: keep(self.cpu_by_memory.as_ref(), source),
            freeze: keep(self.freeze.as_ref(), source),
            watch: keep(self.watch.as_ref(), source),
            ..FunctionSpec::new(source.clone())
        }
    }

    /// Every setting given in `over` replaces this one (flags set explicitly over a file's).
    pub fn merge(&mut self, over: &FunctionSpec) {
        fn take<T: Clone>(into: &mut Option<T>, from: Option<&T>) {
            if let Some(value) = from {
                *into = Some(value.clone());
            }
        }
        take(&mut self.name, over.name.as_ref());
        take(&mut self.handler, over.handler.as_ref());
        take(&mut self.command, over.command.as_ref());
        take(&mut self.runtime, over.runtime.as_ref());
        take(&mut self.code_dir, over.code_dir.as_ref());
        take(&mut self.timeout, over.timeout.as_ref());
        take(&mut self.memory, over.memory.as_ref());
        take(&mut self.ephemeral_storage, over.ephemeral_storage.as_ref());
        take(&mut self.environment, over.environment.as_ref());
        take(
            &mut self.reserved_concurrency,
            over.reserved_concurrency.as_ref(),
        );
        take(
            &mut self.provisioned_concurrency,
            over.provisioned_concurrency.as_ref(),
        );
        take(&mut self.max_concurrency, over.max_concurrency.as_ref());
        take(&mut self.idle_timeout, over.idle_timeout.as_ref());
        take(&mut self.aliases, over.aliases.as_ref());
        take(
            &mut self.maximum_retry_attempts,
            over.maximum_retry_attempts.as_ref(),
        );
        take(&mut self.maximum_event_age, over.maximum_event_age.as_ref());
        take(&mut self.on_success, over.on_success.as_ref());
        take(&mut self.on_failure, over.on_failure.as_ref());
        take(&mut self.dead_letter, over.dead_letter.as_ref());
        take(&mut self.layers, over.layers.as_ref());
        take(&mut self.extensions_dir, over.extensions_dir.as_ref());
        take(&mut self.snapstart, over.snapstart.as_ref());
        take(&mut self.url, over.url.as_ref());
        take(&mut self.http_routes, over.http_routes.as_ref());
        take(&mut self.event_sources, over.event_sources.as_ref());
        take(&mut self.cpu_by_memory, over.cpu_by_memory.as_ref());
        take(&mut self.freeze, over.freeze.as_ref());
        take(&mut self.watch, over.watch.as_ref());
        take(&mut self.inherit_env, over.inherit_env.as_ref());
        take(
            &mut self.runtime_api_address,
            over.runtime_api_address.as_ref(),
        );
    }
}
