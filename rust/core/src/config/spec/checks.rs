//! The checks of single settings, as AWS makes them: ranges, names, environment variables,
//! aliases and paths. Each error names where the value was written.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{ConfigError, Number, Setting};
use crate::config::{
    IDLE_TIMEOUT_RANGE, MAX_ALIAS_NAME_BYTES, MAX_ENVIRONMENT_BYTES, MAX_FUNCTION_NAME_BYTES,
    MAX_LAYERS, RESERVED_ENVIRONMENT_VARIABLES,
};

/// A whole number within `range`.
pub fn whole(setting: &Setting<Number>, range: (u32, u32)) -> Result<u32, ConfigError> {
    let (low, high) = range;
    let n = match &setting.value {
        Number::Whole(n) => *n,
        Number::Text(text) => text
            .trim()
            .parse::<i128>()
            .map_err(|_| setting.error(format!("{text:?} is not a whole number ({low}-{high})")))?,
        Number::Fraction(f) => {
            return Err(setting.error(format!("{f} is not a whole number ({low}-{high})")))
        }
    };
    u32::try_from(n)
        .ok()
        .filter(|n| (low..=high).contains(n))
        .ok_or_else(|| setting.error(format!("{n} is out of range ({low}-{high})")))
}

/// Idle seconds: a whole number of seconds within range, or (Python API) a positive fraction.
pub fn idle_timeout(setting: &Setting<Number>) -> Result<Duration, ConfigError> {
    if let Number::Fraction(seconds) = setting.value {
        let (_, high) = IDLE_TIMEOUT_RANGE;
        return Duration::try_from_secs_f64(seconds)
            .ok()
            .filter(|d| !d.is_zero() && d.as_secs_f64() <= f64::from(high))
            .ok_or_else(|| {
                setting.error(format!(
                    "{seconds} is not a positive number of seconds (at most {high})"
                ))
            });
    }
    whole(setting, IDLE_TIMEOUT_RANGE).map(|s| Duration::from_secs(u64::from(s)))
}

/// AWS's function name: 1-64 of `[a-zA-Z0-9-_]`.
pub fn function_name(setting: &Setting<String>) -> Result<String, ConfigError> {
    let name = &setting.value;
    if name.is_empty() || name.len() > MAX_FUNCTION_NAME_BYTES || !name.bytes().all(name_byte) {
        return Err(setting.error(format!(
            "{name:?} is not a valid function name: 1 to {MAX_FUNCTION_NAME_BYTES} letters, digits, hyphens or underscores"
        )));
    }
    Ok(name.clone())
}

fn name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// The user's variables: names a process environment can hold, no NUL in values (a runtime
/// could never be started with one), no key AWS reserves, at most 4 KB in all.
pub fn environment(
    setting: &Setting<Vec<(String, String)>>,
) -> Result<Vec<(String, String)>, ConfigError> {
    for (key, value) in &setting.value {
        if key.is_empty() || key.contains(['=', '\0']) {
            return Err(setting.error(format!(
                "{key:?} is not a variable name: not empty, without \"=\" or the NUL character"
            )));
        }
        if value.contains('\0') {
            return Err(setting.error(format!(
                "variable {key}: a value must not contain the NUL character"
            )));
        }
    }
    let reserved: Vec<&str> = setting
        .value
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| RESERVED_ENVIRONMENT_VARIABLES.contains(k))
        .collect();
    if !reserved.is_empty() {
        // NOTE: AWS's text (InvalidParameterValueException of CreateFunction and
        // UpdateFunctionConfiguration), keys in the order given.
        return Err(setting.error(format!(
            "Lambda was unable to configure your environment variables because the environment \
             variables you have provided contains reserved keys that are currently not supported \
             for modification. Reserved keys used in this request: {}",
            reserved.join(", ")
        )));
    }
    let bytes: usize = setting.value.iter().map(|(k, v)| k.len() + v.len()).sum();
    if bytes > MAX_ENVIRONMENT_BYTES {
        return Err(setting.error(format!(
            "{bytes} bytes of variables exceed the 4 KB limit ({MAX_ENVIRONMENT_BYTES} bytes)"
        )));
    }
    Ok(setting.value.clone())
}

/// Aliases: AWS's alias names, each of a version that exists (only `$LATEST` does here).
pub fn aliases(
    setting: &Setting<Vec<(String, String)>>,
) -> Result<Vec<(String, String)>, ConfigError> {
    for (alias, version) in &setting.value {
        let digits_only = alias.bytes().all(|b| b.is_ascii_digit());
        if alias.is_empty()
            || alias.len() > MAX_ALIAS_NAME_BYTES
            || digits_only
            || !alias.bytes().all(name_byte)
        {
            return Err(setting.error(format!(
                "{alias:?} is not a valid alias name: 1 to {MAX_ALIAS_NAME_BYTES} letters, digits, hyphens or underscores, not only digits"
            )));
        }
        if version != crate::aws::LATEST {
            return Err(setting.error(format!(
                "alias {alias}: version {version:?} does not exist (lambda-rie serves only {})",
                crate::aws::LATEST
            )));
        }
    }
    Ok(setting.value.clone())
}

/// A directory that exists.
pub fn directory(setting: &Setting<PathBuf>) -> Result<PathBuf, ConfigError> {
    if setting.value.is_dir() {
        Ok(setting.value.clone())
    } else {
        Err(setting.error(format!("{} is not a directory", setting.value.display())))
    }
}

/// At most five layers, each a directory or a (zip) file that exists.
pub fn layers(setting: &Setting<Vec<PathBuf>>) -> Result<Vec<PathBuf>, ConfigError> {
    if setting.value.len() > MAX_LAYERS {
        return Err(setting.error(format!("at most {MAX_LAYERS} layers per function")));
    }
    match setting.value.iter().find(|l| !l.is_dir() && !l.is_file()) {
        Some(missing) => Err(setting.error(format!(
            "{} is not a directory or a zip file",
            missing.display()
        ))),
        None => Ok(setting.value.clone()),
    }
}

/// A relative program path (`./bootstrap`) of a `command` names a file in the code directory.
pub fn program_in(command: &[String], code_dir: &Path) -> Vec<String> {
    let mut command = command.to_vec();
    if let Some(program) = command.first_mut() {
        if program.contains('/') && !Path::new(program.as_str()).is_absolute() {
            *program = code_dir.join(&*program).to_string_lossy().into_owned();
        }
    }
    command
}
