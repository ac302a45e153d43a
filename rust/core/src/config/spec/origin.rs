//! Where a function setting was written (a flag, a key of a file, a property of a template, an
//! argument of the Python API, a field of an API request) and the one error that names it.

use std::fmt;
use std::sync::Arc;

/// Where a function's settings come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A command-line flag; the key is the flag (`--timeout`).
    Flag,
    /// An environment variable of lambda-rie standing in for a flag; the key is its name.
    EnvironmentVariable,
    /// A `lambda-rie.toml`; `function` is the `[functions.NAME]` table, none for the file.
    ConfigFile {
        /// The file as it was named.
        file: String,
        /// The function table, when the setting belongs to one.
        function: Option<String>,
    },
    /// A SAM / CloudFormation template; `resource` is the function's logical id, when known.
    Template {
        /// The file as it was named.
        file: String,
        /// The logical id of the function resource.
        resource: Option<String>,
    },
    /// An argument of the Python API's `Function`.
    Python {
        /// The function's name.
        function: String,
    },
    /// A field of a control-plane request (CreateFunction, UpdateFunctionConfiguration).
    Api {
        /// The function's name.
        function: String,
    },
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Flag | Self::EnvironmentVariable => Ok(()),
            Self::ConfigFile { file, function } => {
                f.write_str(file)?;
                function
                    .as_ref()
                    .map_or(Ok(()), |name| write!(f, ": function {name}"))
            }
            Self::Template { file, resource } => {
                f.write_str(file)?;
                resource
                    .as_ref()
                    .map_or(Ok(()), |id| write!(f, ": function {id}"))
            }
            Self::Python { function } | Self::Api { function } if function.is_empty() => {
                f.write_str("function \"\"")
            }
            Self::Python { function } | Self::Api { function } => {
                write!(f, "function {function}")
            }
        }
    }
}

/// One place a value was written: its source and, unless the whole function is meant, the key
/// (flag, file key, template property path, argument name) as that source spells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    source: Arc<Source>,
    key: Option<String>,
}

impl Origin {
    /// The value of `key` in `source`.
    pub fn new(source: &Arc<Source>, key: impl Into<String>) -> Self {
        Self {
            source: Arc::clone(source),
            key: Some(key.into()),
        }
    }

    /// The function (or file) of `source` as a whole.
    pub fn whole(source: &Arc<Source>) -> Self {
        Self {
            source: Arc::clone(source),
            key: None,
        }
    }

    /// Where the value was written.
    pub fn source(&self) -> &Source {
        &self.source
    }

    /// The key, flag, property or argument, if one is meant.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// The key's name for messages that mention this value as a limit of another.
    pub fn name(&self) -> &str {
        self.key.as_deref().unwrap_or("the function")
    }

    /// An error about the value written here.
    pub fn error(&self, problem: impl Into<String>) -> ConfigError {
        ConfigError {
            origin: self.clone(),
            problem: problem.into(),
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = self.source.to_string();
        match (&self.key, source.is_empty()) {
            (None, _) => f.write_str(&source),
            (Some(key), true) => f.write_str(key),
            (Some(key), false) => write!(f, "{source}: {key}"),
        }
    }
}

/// A function setting that no source may hold: one line naming where it was written
/// (`--timeout: 0 is out of range (1-900)`,
/// `lambda-rie.toml: function orders: timeout: 901 is out of range (1-900)`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    origin: Origin,
    problem: String,
}

impl ConfigError {
    /// Where the refused value was written.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// What is wrong with it.
    pub fn problem(&self) -> &str {
        &self.problem
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let origin = self.origin.to_string();
        if origin.is_empty() {
            f.write_str(&self.problem)
        } else {
            write!(f, "{origin}: {}", self.problem)
        }
    }
}

/// A value and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Setting<T> {
    /// The value as the source gave it.
    pub value: T,
    /// Where it was written.
    pub origin: Origin,
}

impl<T> Setting<T> {
    /// `value`, written at `origin`.
    pub fn new(value: T, origin: Origin) -> Self {
        Self { value, origin }
    }

    /// An error about this value.
    pub fn error(&self, problem: impl Into<String>) -> ConfigError {
        self.origin.error(problem)
    }

    /// The value changed by `f`, written at the same place.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Setting<U> {
        Setting::new(f(self.value), self.origin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(function: Option<&str>) -> Arc<Source> {
        Arc::new(Source::ConfigFile {
            file: "lambda-rie.toml".into(),
            function: function.map(str::to_owned),
        })
    }

    #[test]
    fn every_source_names_itself_and_the_key() {
        let flag = Arc::new(Source::Flag);
        let cases = [
            (Origin::new(&flag, "--timeout"), "--timeout: p"),
            (
                Origin::new(&file(Some("orders")), "timeout"),
                "lambda-rie.toml: function orders: timeout: p",
            ),
            (Origin::whole(&file(None)), "lambda-rie.toml: p"),
            (
                Origin::new(
                    &Arc::new(Source::Template {
                        file: "t.yaml".into(),
                        resource: Some("Api".into()),
                    }),
                    "MemorySize",
                ),
                "t.yaml: function Api: MemorySize: p",
            ),
            (
                Origin::new(
                    &Arc::new(Source::Python {
                        function: "echo".into(),
                    }),
                    "memory",
                ),
                "function echo: memory: p",
            ),
            (
                Origin::new(
                    &Arc::new(Source::Api {
                        function: "echo".into(),
                    }),
                    "Timeout",
                ),
                "function echo: Timeout: p",
            ),
            (Origin::whole(&flag), "p"),
            (
                Origin::new(
                    &Arc::new(Source::Python {
                        function: String::new(),
                    }),
                    "name",
                ),
                "function \"\": name: p",
            ),
        ];
        for (origin, expected) in cases {
            assert_eq!(origin.error("p").to_string(), expected);
        }
    }
}
