//! Command-line parsing (SPEC 1): the argument rule, the options table and its precedence
//! (flag > environment variable > default), RIE flags, one-line errors.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};

use crate::config::{
    self, check_range, default_max_environments, Defaults, LogLevel, ThrottlePolicy,
    DEFAULT_ACCOUNT_ID, DEFAULT_FUNCTION_NAME, DEFAULT_INVOKE_ADDRESS, DEFAULT_REGION,
    DEFAULT_RUNTIME_API_ADDRESS,
};

/// Bootstrap locations tried, in order, when no command is given.
pub const BOOTSTRAP_CANDIDATES: &[&str] = &[
    "/var/task/bootstrap",
    "/opt/bootstrap",
    "/var/runtime/bootstrap",
];

/// Which Python runtime serves a HANDLER.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PythonRuntime {
    /// `python -m lambda_rie.runtime`.
    Builtin,
    /// `python -m awslambdaric`.
    Awslambdaric,
}

/// What to run in each environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Program {
    /// A command and its arguments.
    Command(Vec<String>),
    /// `module.function` run by a Python runtime.
    Handler(String),
    /// Every function of a `lambda-rie.toml`.
    Config(PathBuf),
    /// Every function of a SAM template.
    Template(PathBuf),
}

/// A parsed command line.
// NOTE: the bools are independent on/off flags of the command line, one field each.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, Clone)]
pub struct Args {
    /// What runs in environments.
    pub program: Program,
    /// Invoke API address.
    pub invoke_address: SocketAddr,
    /// Runtime API address of the first environment.
    pub runtime_api_address: SocketAddr,
    /// Verbosity.
    pub log_level: LogLevel,
    /// Function name.
    pub function_name: String,
    /// `_HANDLER` (explicit or the last argument of a command).
    pub handler: Option<String>,
    /// Timeout, s.
    pub timeout_s: u32,
    /// Memory, MB.
    pub memory_mb: u32,
    /// `/tmp` size, MB.
    pub ephemeral_storage_mb: u32,
    /// Emulator-wide environment cap.
    pub max_environments: u32,
    /// Reserved concurrency.
    pub reserved_concurrency: Option<u32>,
    /// Provisioned concurrency.
    pub provisioned_concurrency: u32,
    /// Per-environment concurrency.
    pub max_concurrency: u32,
    /// Idle reaping, s.
    pub idle_timeout_s: u64,
    /// Throttle policy.
    pub on_throttle: ThrottlePolicy,
    /// Code directory.
    pub code_dir: PathBuf,
    /// Account id.
    pub account_id: String,
    /// Region.
    pub region: String,
    /// Python runtime for HANDLER.
    pub python_runtime: PythonRuntime,
    /// CPU quota by memory.
    pub cpu_by_memory: bool,
    /// Freeze between invocations.
    pub freeze: bool,
    /// How long shutdown waits for in-flight invocations and queued events, s.
    pub shutdown_timeout_s: u32,
    /// Where queued events are kept across a restart.
    pub async_state: Option<PathBuf>,
    /// Multiplies async delays and ages.
    pub async_delay_scale: f64,
    /// Replace environments when the code changes.
    pub watch: bool,
    /// `--layer DIR|ZIP`, in order.
    pub layers: Vec<PathBuf>,
    /// `--extensions-dir DIR`.
    pub extensions_dir: Option<PathBuf>,
    /// `--snapstart` / `--enable-init-caching`.
    pub snapstart: bool,
    /// `--run-as root|UID[:GID]`: who runtimes run as (none: the default, AWS's sandbox user).
    pub run_as: Option<config::RunAs>,
    /// Per-function flags given on the command line; with --config/--template they override
    /// every function's value (flag > config file).
    pub explicit: Vec<String>,
}

/// `lambda-rie invoke`: one invocation, then exit.
#[derive(Debug, Clone, Default)]
pub struct OneShot {
    /// `--event FILE` or `-` for stdin; none means `{}`.
    pub event: Option<String>,
    /// `--function NAME` (with --config/--template); none means the first function.
    pub function: Option<String>,
}

/// The outcome of parsing.
#[derive(Debug)]
pub enum Parsed {
    /// Serve with these arguments.
    Serve(Box<Args>),
    /// Start, invoke once, print the result, stop.
    Invoke(Box<Args>, OneShot),
    /// `lambda-rie bench ...`: served by the Python package.
    Bench,
    /// `--help`.
    Help,
    /// `--version`.
    Version,
}

/// A one-line usage error (exit 2).
#[derive(Debug, PartialEq, Eq)]
pub struct UsageError(pub String);

type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Options that take a value.
const VALUE_OPTIONS: &[&str] = &[
    "--runtime-interface-emulator-address",
    "--runtime-api-address",
    "--log-level",
    "--function-name",
    "--handler",
    "--timeout",
    "--memory",
    "--ephemeral-storage",
    "--max-environments",
    "--reserved-concurrency",
    "--provisioned-concurrency",
    "--max-concurrency",
    "--idle-timeout",
    "--on-throttle",
    "--code-dir",
    "--account-id",
    "--region",
    "--runtime",
    "--config",
    "--template",
    "--shutdown-timeout",
    "--async-state",
    "--async-retry-delay-scale",
    "--layer",
    "--extensions-dir",
    "--run-as",
];

/// `lambda-rie invoke HANDLER --event -` reads naturally: move `--event`/`--function` (which
/// may follow the HANDLER) before it, stopping at `--`.
fn one_shot_options_first(argv: &[String]) -> Vec<String> {
    let mut front: Vec<String> = argv.iter().take(2).cloned().collect();
    let mut rest = Vec::new();
    let mut i = 2;
    while i < argv.len() {
        let a = &argv[i];
        if a == "--" {
            rest.extend(argv[i..].iter().cloned());
            break;
        }
        let name = a.split_once('=').map_or(a.as_str(), |(n, _)| n);
        if ONE_SHOT_OPTIONS.contains(&name) {
            front.push(a.clone());
            if !a.contains('=') && i + 1 < argv.len() {
                front.push(argv[i + 1].clone());
                i += 1;
            }
        } else {
            rest.push(a.clone());
        }
        i += 1;
    }
    front.extend(rest);
    front
}

/// Options of `lambda-rie invoke` only.
const ONE_SHOT_OPTIONS: &[&str] = &["--event", "--function"];

/// Parse `argv` (program name first), reading defaults from `env`.
pub fn parse(argv: &[String], env: Env<'_>) -> Result<Parsed, UsageError> {
    let mut values: Vec<(&str, String)> = Vec::new();
    let mut switches: Vec<&str> = Vec::new();
    let mut positional: Vec<String> = Vec::new();
    let one_shot = argv.get(1).map(String::as_str) == Some("invoke");
    if argv.get(1).map(String::as_str) == Some("bench") {
        return Ok(Parsed::Bench);
    }
    let reordered;
    let argv = if one_shot {
        reordered = one_shot_options_first(argv);
        &reordered[..]
    } else {
        argv
    };
    let mut i = if one_shot { 2 } else { 1 };
    while i < argv.len() {
        let arg = argv[i].as_str();
        i += 1;
        if arg == "--" {
            positional.extend(argv[i..].iter().cloned());
            break;
        }
        if !arg.starts_with('-') || arg == "-" {
            positional.extend(argv[i - 1..].iter().cloned());
            break;
        }
        match arg {
            "-h" | "--help" => return Ok(Parsed::Help),
            "-V" | "--version" => return Ok(Parsed::Version),
            // NOTE: RIE's init caching is what SnapStart does: init once, restore per environment.
            "--cpu-by-memory"
            | "--freeze"
            | "--watch"
            | "--enable-init-caching"
            | "--snapstart" => {
                switches.push(match arg {
                    "--freeze" => "--freeze",
                    "--watch" => "--watch",
                    "--cpu-by-memory" => "--cpu-by-memory",
                    _ => "--snapstart",
                });
                continue;
            }
            _ => {}
        }
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n, Some(v.to_owned())),
            None => (arg, None),
        };
        let one_shot_option = one_shot && ONE_SHOT_OPTIONS.contains(&name);
        let Some(known) = VALUE_OPTIONS
            .iter()
            .chain(ONE_SHOT_OPTIONS.iter().filter(|_| one_shot_option))
            .find(|o| **o == name)
        else {
            return Err(UsageError(format!("unknown flag {name} (see --help)")));
        };
        let value = match inline {
            Some(v) => v,
            None if i < argv.len() => {
                i += 1;
                argv[i - 1].clone()
            }
            None => return Err(UsageError(format!("{name} needs a value"))),
        };
        values.push((known, value));
    }
    let get = |name: &str, var: &[&str]| -> Option<String> {
        values
            .iter()
            .rev()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
            .or_else(|| var.iter().find_map(|v| env(v).filter(|s| !s.is_empty())))
    };
    let mut args = build(&get, positional, env)?;
    args.cpu_by_memory = switches.contains(&"--cpu-by-memory");
    args.freeze = switches.contains(&"--freeze");
    args.watch = switches.contains(&"--watch");
    args.snapstart = switches.contains(&"--snapstart");
    args.layers = layers(&values)?;
    args.extensions_dir = match get("--extensions-dir", &[]) {
        Some(d) if !Path::new(&d).is_dir() => {
            return Err(UsageError(format!(
                "--extensions-dir: {d} is not a directory"
            )))
        }
        d => d.map(PathBuf::from),
    };
    args.run_as = run_as(&get)?;
    args.explicit = values.iter().map(|(name, _)| (*name).to_owned()).collect();
    if one_shot {
        let shot = OneShot {
            event: get("--event", &[]),
            function: get("--function", &[]),
        };
        return Ok(Parsed::Invoke(Box::new(args), shot));
    }
    Ok(Parsed::Serve(Box::new(args)))
}

/// `--run-as root|UID[:GID]`, when given.
fn run_as(
    get: &dyn Fn(&str, &[&str]) -> Option<String>,
) -> Result<Option<config::RunAs>, UsageError> {
    get("--run-as", &[])
        .map(|v| config::RunAs::parse(&v).map_err(|e| UsageError(format!("--run-as: {e}"))))
        .transpose()
}

/// Every `--layer`, in order: existing directories or zip files, at most five.
fn layers(values: &[(&str, String)]) -> Result<Vec<PathBuf>, UsageError> {
    let layers: Vec<PathBuf> = values
        .iter()
        .filter(|(n, _)| *n == "--layer")
        .map(|(_, v)| PathBuf::from(v))
        .collect();
    if layers.len() > config::MAX_LAYERS {
        return Err(UsageError(format!(
            "--layer: at most {} layers per function",
            config::MAX_LAYERS
        )));
    }
    if let Some(missing) = layers.iter().find(|l| !l.exists()) {
        return Err(UsageError(format!(
            "--layer: {} is not a directory or a zip file",
            missing.display()
        )));
    }
    Ok(layers)
}

fn build(
    get: &dyn Fn(&str, &[&str]) -> Option<String>,
    positional: Vec<String>,
    env: Env<'_>,
) -> Result<Args, UsageError> {
    let int = |name: &str, vars: &[&str], default: u32, range: (u32, u32)| {
        whole_number(get(name, vars), name, default, range)
    };
    let (invoke_address, runtime_api_address) = addresses(get)?;
    let (log_level, on_throttle, python_runtime) = choices(get)?;
    let reserved_concurrency = match get("--reserved-concurrency", &[]) {
        None => None,
        Some(_) => Some(int(
            "--reserved-concurrency",
            &[],
            0,
            config::RESERVED_CONCURRENCY_RANGE,
        )?),
    };
    let code_dir = PathBuf::from(get("--code-dir", &["LAMBDA_TASK_ROOT"]).unwrap_or(".".into()));
    if !code_dir.is_dir() {
        return Err(UsageError(format!(
            "--code-dir: {} is not a directory",
            code_dir.display()
        )));
    }
    let explicit_handler = get("--handler", &["AWS_LAMBDA_FUNCTION_HANDLER", "_HANDLER"]);
    let (program, handler) = program_or_file(get, positional, explicit_handler, env)?;
    let async_delay_scale = async_delay_scale(get)?;
    Ok(Args {
        program,
        invoke_address,
        runtime_api_address,
        log_level,
        function_name: get("--function-name", &["AWS_LAMBDA_FUNCTION_NAME"])
            .unwrap_or(DEFAULT_FUNCTION_NAME.into()),
        handler,
        timeout_s: int(
            "--timeout",
            &["AWS_LAMBDA_FUNCTION_TIMEOUT"],
            Defaults::CLI.timeout_s,
            config::TIMEOUT_RANGE,
        )?,
        memory_mb: int(
            "--memory",
            &["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"],
            Defaults::CLI.memory_mb,
            config::MEMORY_RANGE,
        )?,
        ephemeral_storage_mb: int(
            "--ephemeral-storage",
            &[],
            config::DEFAULT_EPHEMERAL_STORAGE_MB,
            config::EPHEMERAL_STORAGE_RANGE,
        )?,
        max_environments: int(
            "--max-environments",
            &[],
            default_max_environments(),
            config::MAX_ENVIRONMENTS_RANGE,
        )?,
        reserved_concurrency,
        provisioned_concurrency: int(
            "--provisioned-concurrency",
            &[],
            0,
            (0, config::MAX_ENVIRONMENTS_RANGE.1),
        )?,
        max_concurrency: int(
            "--max-concurrency",
            &["AWS_LAMBDA_MAX_CONCURRENCY"],
            1,
            config::MAX_CONCURRENCY_RANGE,
        )?,
        idle_timeout_s: u64::from(int(
            "--idle-timeout",
            &[],
            config::DEFAULT_IDLE_TIMEOUT.as_secs() as u32,
            (1, 86_400),
        )?),
        on_throttle,
        code_dir,
        account_id: get("--account-id", &["AWS_ACCOUNT_ID"]).unwrap_or(DEFAULT_ACCOUNT_ID.into()),
        region: get("--region", &["AWS_REGION"]).unwrap_or(DEFAULT_REGION.into()),
        python_runtime,
        cpu_by_memory: false,
        freeze: false,
        shutdown_timeout_s: int(
            "--shutdown-timeout",
            &[],
            config::DEFAULT_SHUTDOWN_TIMEOUT.as_secs() as u32,
            (0, 3600),
        )?,
        async_state: get("--async-state", &[]).map(PathBuf::from),
        async_delay_scale,
        watch: false,
        layers: Vec::new(),
        extensions_dir: None,
        snapstart: false,
        run_as: None,
        explicit: Vec::new(),
    })
}

/// The Invoke API and Runtime API addresses.
fn addresses(
    get: &dyn Fn(&str, &[&str]) -> Option<String>,
) -> Result<(SocketAddr, SocketAddr), UsageError> {
    let invoke_address = address(
        "--runtime-interface-emulator-address",
        &get("--runtime-interface-emulator-address", &[]).unwrap_or(DEFAULT_INVOKE_ADDRESS.into()),
    )?;
    let runtime_api_address = address(
        "--runtime-api-address",
        &get("--runtime-api-address", &[]).unwrap_or(DEFAULT_RUNTIME_API_ADDRESS.into()),
    )?;
    if !runtime_api_address.ip().is_loopback() {
        return Err(UsageError(format!(
            "--runtime-api-address: {runtime_api_address} is not a loopback address"
        )));
    }
    Ok((invoke_address, runtime_api_address))
}

/// The options that take one of a few words.
fn choices(
    get: &dyn Fn(&str, &[&str]) -> Option<String>,
) -> Result<(LogLevel, ThrottlePolicy, PythonRuntime), UsageError> {
    let log_level = match get("--log-level", &["LOG_LEVEL"]) {
        None => LogLevel::Info,
        Some(v) => LogLevel::parse(&v).ok_or_else(|| {
            UsageError(format!(
                "--log-level: {v:?} is not one of error, warn, info, debug"
            ))
        })?,
    };
    let on_throttle = match get("--on-throttle", &[]).as_deref() {
        None | Some("reject") => ThrottlePolicy::Reject,
        Some("queue") => ThrottlePolicy::Queue,
        Some(v) => {
            return Err(UsageError(format!(
                "--on-throttle: {v:?} is not reject or queue"
            )))
        }
    };
    let python_runtime = match get("--runtime", &[]).as_deref() {
        None | Some("builtin") => PythonRuntime::Builtin,
        Some("awslambdaric") => PythonRuntime::Awslambdaric,
        Some(v) => {
            return Err(UsageError(format!(
                "--runtime: {v:?} is not builtin or awslambdaric"
            )))
        }
    };
    Ok((log_level, on_throttle, python_runtime))
}

/// A whole-number option within `range`, or its default.
fn whole_number(
    value: Option<String>,
    name: &str,
    default: u32,
    range: (u32, u32),
) -> Result<u32, UsageError> {
    let Some(v) = value else { return Ok(default) };
    let n: u32 = v.trim().parse().map_err(|_| {
        UsageError(format!(
            "{name}: {v:?} is not a whole number ({}-{})",
            range.0, range.1
        ))
    })?;
    check_range(name, n, range).map_err(UsageError)
}

/// A function file (`--config`, `--template`), or the argument rule.
fn program_or_file(
    get: &dyn Fn(&str, &[&str]) -> Option<String>,
    positional: Vec<String>,
    explicit_handler: Option<String>,
    env: Env<'_>,
) -> Result<(Program, Option<String>), UsageError> {
    let file = match (get("--config", &[]), get("--template", &[])) {
        (Some(_), Some(_)) => {
            return Err(UsageError("give --config or --template, not both".into()))
        }
        (Some(c), None) => Some(Program::Config(existing_file("--config", &c)?)),
        (None, Some(t)) => Some(Program::Template(existing_file("--template", &t)?)),
        (None, None) => None,
    };
    match file {
        Some(_) if !positional.is_empty() => Err(UsageError(format!(
            "{}: give either a function to serve or --config/--template",
            positional[0]
        ))),
        Some(p) => Ok((p, None)),
        None => program(positional, explicit_handler, env),
    }
}

/// `--async-retry-delay-scale`: a number >= 0.
fn async_delay_scale(get: &dyn Fn(&str, &[&str]) -> Option<String>) -> Result<f64, UsageError> {
    match get("--async-retry-delay-scale", &[]) {
        None => Ok(1.0),
        Some(v) => v
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite() && *f >= 0.0)
            .ok_or_else(|| {
                UsageError(format!(
                    "--async-retry-delay-scale: {v:?} is not a number >= 0"
                ))
            }),
    }
}

fn existing_file(flag: &str, value: &str) -> Result<PathBuf, UsageError> {
    let p = PathBuf::from(value);
    if p.is_file() {
        Ok(p)
    } else {
        Err(UsageError(format!("{flag}: {value} is not a file")))
    }
}

/// `H:P` (an empty host means every interface; port 0 means an ephemeral port).
fn address(flag: &str, value: &str) -> Result<SocketAddr, UsageError> {
    let bad = || {
        UsageError(format!(
            "{flag}: {value:?} is not a valid network address (HOST:PORT)"
        ))
    };
    let (host, port) = value.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let host = if host.is_empty() { "0.0.0.0" } else { host };
    (host, port)
        .to_socket_addrs()
        .map_err(|_| bad())?
        .next()
        .ok_or_else(bad)
}

/// `module.function` or `pkg/sub/mod.fn`.
pub fn looks_like_handler(s: &str) -> bool {
    let Some((module, function)) = s.rsplit_once('.') else {
        return false;
    };
    let ident = |p: &str| {
        let mut chars = p.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    ident(function) && !module.is_empty() && module.split(['.', '/']).all(ident)
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Find `name` on `PATH` (names with a `/` are paths).
pub fn find_on_path(name: &str, env: Env<'_>) -> Option<PathBuf> {
    if name.contains('/') {
        let p = PathBuf::from(name);
        return is_executable(&p).then_some(p);
    }
    let path = env("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

/// The argument rule: COMMAND, HANDLER, or the bootstrap lookup.
fn program(
    positional: Vec<String>,
    explicit_handler: Option<String>,
    env: Env<'_>,
) -> Result<(Program, Option<String>), UsageError> {
    let Some(first) = positional.first().cloned() else {
        if let Some(found) = BOOTSTRAP_CANDIDATES
            .iter()
            .find(|c| is_executable(Path::new(c)))
        {
            return Ok((
                Program::Command(vec![(*found).to_owned()]),
                explicit_handler,
            ));
        }
        if let Some(h) = explicit_handler {
            return Ok((Program::Handler(h.clone()), Some(h)));
        }
        return Err(UsageError(format!(
            "no function to serve: give a COMMAND or a HANDLER, or provide a bootstrap ({})",
            BOOTSTRAP_CANDIDATES.join(", ")
        )));
    };
    let path = Path::new(&first);
    if path.exists() {
        if !is_executable(path) {
            return Err(UsageError(format!("{first} is not an executable file")));
        }
    } else if positional.len() == 1 && looks_like_handler(&first) {
        return Ok((
            Program::Handler(first.clone()),
            Some(explicit_handler.unwrap_or(first)),
        ));
    } else if find_on_path(&first, env).is_none() {
        return Err(UsageError(format!("{first}: command not found")));
    }
    // NOTE: like the RIE, the last of several arguments is taken as the handler name.
    let handler = explicit_handler
        .or_else(|| (positional.len() > 1).then(|| positional[positional.len() - 1].clone()));
    Ok((Program::Command(positional), handler))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_with(args: &[&str]) -> Result<Parsed, UsageError> {
        let argv: Vec<String> = std::iter::once("lambda-rie")
            .chain(args.iter().copied())
            .map(String::from)
            .collect();
        let env = |k: &str| (k == "PATH").then(|| std::env::var("PATH").unwrap_or_default());
        parse(&argv, &env)
    }

    fn serve(args: &[&str]) -> Args {
        match parse_with(args) {
            Ok(Parsed::Serve(a)) => *a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn run_as_takes_root_a_uid_or_uid_and_gid() {
        assert_eq!(serve(&["app.handler"]).run_as, None);
        let run_as = |v: &str| serve(&["--run-as", v, "app.handler"]).run_as;
        assert_eq!(run_as("root"), Some(config::RunAs::Root));
        assert_eq!(
            run_as("1000"),
            Some(config::RunAs::User {
                uid: 1000,
                gid: 1000
            })
        );
        assert_eq!(
            run_as("993:990"),
            Some(config::RunAs::User { uid: 993, gid: 990 })
        );
        let refused = parse_with(&["--run-as", "nobody", "app.handler"]).unwrap_err();
        assert_eq!(refused.0, "--run-as: nobody: expected root, UID or UID:GID");
    }

    #[test]
    fn handler_and_command_rule() {
        assert_eq!(
            serve(&["app.handler"]).program,
            Program::Handler("app.handler".into())
        );
        assert_eq!(
            serve(&["pkg/sub/mod.fn"]).program,
            Program::Handler("pkg/sub/mod.fn".into())
        );
        let a = serve(&["sh", "-c", "true", "app.handler"]);
        assert_eq!(a.handler.as_deref(), Some("app.handler"));
        assert!(matches!(a.program, Program::Command(_)));
        assert!(matches!(serve(&["--", "sh"]).program, Program::Command(_)));
    }

    #[test]
    fn cli_defaults_are_the_ries() {
        let a = serve(&["app.handler"]);
        assert_eq!(a.timeout_s, 300);
        assert_eq!(a.memory_mb, 3008);
        assert_eq!(a.invoke_address.to_string(), "0.0.0.0:8080");
        assert_eq!(a.runtime_api_address.to_string(), "127.0.0.1:9001");
    }

    #[test]
    fn bad_values_name_the_flag() {
        let e = parse_with(&["--timeout", "abc", "app.h"]).unwrap_err();
        assert!(e.0.starts_with("--timeout"), "{}", e.0);
        let e = parse_with(&["--memory", "64", "app.h"]).unwrap_err();
        assert!(
            e.0.contains("--memory") && e.0.contains("128-10240"),
            "{}",
            e.0
        );
        let e = parse_with(&["--bogus", "app.h"]).unwrap_err();
        assert!(e.0.contains("--bogus"));
        let e =
            parse_with(&["--runtime-interface-emulator-address", "nonsense", "app.h"]).unwrap_err();
        assert!(e.0.contains("--runtime-interface-emulator-address"));
    }

    #[test]
    fn handler_pattern() {
        assert!(looks_like_handler("app.handler"));
        assert!(looks_like_handler("a.b.c"));
        assert!(!looks_like_handler("nodots"));
        assert!(!looks_like_handler("9app.h"));
        assert!(!looks_like_handler("app."));
    }
}
