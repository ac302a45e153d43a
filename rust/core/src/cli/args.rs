//! Command-line parsing: the argument rule, the options table and its precedence
//! (flag > environment variable > default), RIE flags, one-line errors. The function's own
//! options become a [`FunctionSpec`], checked when it is built.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::spec::{FunctionSpec, Number, Origin, Setting, Source};
use crate::config::{
    self, check_range, default_max_environments, LogLevel, ThrottlePolicy, DEFAULT_ACCOUNT_ID,
    DEFAULT_INVOKE_ADDRESS, DEFAULT_REGION, DEFAULT_RUNTIME_API_ADDRESS,
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
    /// No function of its own: only those the control plane creates (`--state-dir` alone).
    ControlPlaneOnly,
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
    /// Emulator-wide environment cap.
    pub max_environments: u32,
    /// Throttle policy.
    pub on_throttle: ThrottlePolicy,
    /// Account id.
    pub account_id: String,
    /// Region.
    pub region: String,
    /// Python runtime for HANDLER.
    pub python_runtime: PythonRuntime,
    /// How long shutdown waits for in-flight invocations and queued events, s.
    pub shutdown_timeout_s: u32,
    /// Where queued events are kept across a restart.
    pub async_state: Option<PathBuf>,
    /// Multiplies async delays and ages.
    pub async_delay_scale: f64,
    /// The function's options (flags and the environment variables standing in for them),
    /// `_HANDLER` included; with --config/--template their flags override every function's.
    pub function: FunctionSpec,
    /// Most bytes of queued `Event` payloads held in memory.
    pub async_queue_bytes: u64,
    /// `--run-as root|UID[:GID]`: who runtimes run as (none: the default, AWS's sandbox user).
    pub run_as: Option<config::RunAs>,
    /// `--http-port PORT`: the first function's URL at the root of this port.
    pub http_address: Option<SocketAddr>,
    /// `--state-dir DIR`: where the control plane keeps the functions it creates.
    pub state_dir: Option<PathBuf>,
    /// `--runtime-command NAME=CMD` (repeatable): how to run a managed runtime lambda-rie
    /// cannot run itself, for functions created through the control plane.
    pub runtime_commands: Vec<(String, Vec<String>)>,
    /// `--aws-endpoint-url URL`: where event sources and destinations are (moto server,
    /// LocalStack); none: `AWS_ENDPOINT_URL*` or AWS itself.
    pub aws_endpoint_url: Option<String>,
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
    "--async-queue-bytes",
    "--layer",
    "--extensions-dir",
    "--run-as",
    "--http-port",
    "--state-dir",
    "--runtime-command",
    "--aws-endpoint-url",
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

/// Options whose value is a number: a HANDLER or a path after one is not taken as its value.
const NUMBER_OPTIONS: &[&str] = &[
    "--timeout",
    "--memory",
    "--ephemeral-storage",
    "--max-environments",
    "--reserved-concurrency",
    "--provisioned-concurrency",
    "--max-concurrency",
    "--idle-timeout",
    "--shutdown-timeout",
    "--async-retry-delay-scale",
];

/// The value of option `name` at `argv[i]`, unless it is missing: the end of the line, an
/// option (`--x`, `-h`), or for a number option the HANDLER or COMMAND path that follows.
fn option_value(name: &str, argv: &[String], i: usize) -> Option<String> {
    let next = argv.get(i)?;
    let option = next.starts_with("--") || next == "-h" || next == "-V";
    let program = NUMBER_OPTIONS.contains(&name)
        && (looks_like_handler(next) || (next.contains('/') && Path::new(next).exists()));
    (!option && !program).then(|| next.clone())
}

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
            Some(v) if !v.is_empty() => v,
            Some(_) => None.ok_or_else(|| UsageError(format!("{name} needs a value")))?,
            None => {
                let v = option_value(name, argv, i)
                    .ok_or_else(|| UsageError(format!("{name} needs a value")))?;
                i += 1;
                v
            }
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
    let given = Given::new(&values, env);
    let mut args = build(&get, positional, &given, env)?;
    function_options(&mut args.function, &given, &switches);
    args.run_as = run_as(&get)?;
    args.runtime_commands = runtime_commands(&values)?;
    if one_shot {
        let shot = OneShot {
            event: get("--event", &[]),
            function: get("--function", &[]),
        };
        return Ok(Parsed::Invoke(Box::new(args), shot));
    }
    Ok(Parsed::Serve(Box::new(args)))
}

/// Every `--runtime-command NAME=CMD` (CMD split at spaces).
fn runtime_commands(values: &[(&str, String)]) -> Result<Vec<(String, Vec<String>)>, UsageError> {
    values
        .iter()
        .filter(|(n, _)| *n == "--runtime-command")
        .map(|(_, v)| {
            let (name, command) = v.split_once('=').unwrap_or((v, ""));
            let argv: Vec<String> = command.split_whitespace().map(str::to_owned).collect();
            if name.is_empty() || argv.is_empty() {
                return Err(UsageError(format!(
                    "--runtime-command: {v:?} is not NAME=COMMAND (e.g. nodejs22.x=\"node /opt/runtime.js\")"
                )));
            }
            Ok((name.to_owned(), argv))
        })
        .collect()
}

/// `--run-as root|UID[:GID]`, when given.
fn run_as(
    get: &dyn Fn(&str, &[&str]) -> Option<String>,
) -> Result<Option<config::RunAs>, UsageError> {
    get("--run-as", &[])
        .map(|v| config::RunAs::parse(&v).map_err(|e| UsageError(format!("--run-as: {e}"))))
        .transpose()
}

/// The flags given and lambda-rie's environment, as settings that say where they were written.
struct Given<'a> {
    values: &'a [(&'a str, String)],
    env: Env<'a>,
    flag: Arc<Source>,
    variable: Arc<Source>,
}

impl<'a> Given<'a> {
    fn new(values: &'a [(&'a str, String)], env: Env<'a>) -> Self {
        Self {
            values,
            env,
            flag: Arc::new(Source::Flag),
            variable: Arc::new(Source::EnvironmentVariable),
        }
    }

    /// The last `flag` given, else the first of `vars` set (and not empty).
    fn text(&self, flag: &str, vars: &[&str]) -> Option<Setting<String>> {
        if let Some((_, v)) = self.values.iter().rev().find(|(n, _)| *n == flag) {
            return Some(Setting::new(v.clone(), Origin::new(&self.flag, flag)));
        }
        vars.iter().find_map(|var| {
            let v = (self.env)(var).filter(|v| !v.is_empty())?;
            Some(Setting::new(v, Origin::new(&self.variable, *var)))
        })
    }

    fn number(&self, flag: &str, vars: &[&str]) -> Option<Setting<Number>> {
        self.text(flag, vars).map(|s| s.map(Number::Text))
    }

    fn path(&self, flag: &str, vars: &[&str]) -> Option<Setting<PathBuf>> {
        self.text(flag, vars).map(|s| s.map(PathBuf::from))
    }

    /// `--freeze` and the other switches.
    fn switch(&self, switches: &[&str], flag: &str) -> Option<Setting<bool>> {
        switches
            .contains(&flag)
            .then(|| Setting::new(true, Origin::new(&self.flag, flag)))
    }
}

/// The function's own options, checked when the function is built.
fn function_options(spec: &mut FunctionSpec, given: &Given<'_>, switches: &[&str]) {
    spec.name = given.text("--function-name", &["AWS_LAMBDA_FUNCTION_NAME"]);
    spec.code_dir = given.path("--code-dir", &["LAMBDA_TASK_ROOT"]);
    spec.timeout = given.number("--timeout", &["AWS_LAMBDA_FUNCTION_TIMEOUT"]);
    spec.memory = given.number("--memory", &["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]);
    spec.ephemeral_storage = given.number("--ephemeral-storage", &[]);
    spec.reserved_concurrency = given.number("--reserved-concurrency", &[]);
    spec.provisioned_concurrency = given.number("--provisioned-concurrency", &[]);
    spec.max_concurrency = given.number("--max-concurrency", &["AWS_LAMBDA_MAX_CONCURRENCY"]);
    spec.idle_timeout = given.number("--idle-timeout", &[]);
    let layers: Vec<PathBuf> = given
        .values
        .iter()
        .filter(|(n, _)| *n == "--layer")
        .map(|(_, v)| PathBuf::from(v))
        .collect();
    if !layers.is_empty() {
        spec.layers = Some(Setting::new(layers, Origin::new(&given.flag, "--layer")));
    }
    spec.extensions_dir = given.path("--extensions-dir", &[]);
    spec.cpu_by_memory = given.switch(switches, "--cpu-by-memory");
    spec.freeze = given.switch(switches, "--freeze");
    spec.watch = given.switch(switches, "--watch");
    spec.snapstart = given.switch(switches, "--snapstart");
}

fn build(
    get: &dyn Fn(&str, &[&str]) -> Option<String>,
    positional: Vec<String>,
    given: &Given<'_>,
    env: Env<'_>,
) -> Result<Args, UsageError> {
    let int = |name: &str, vars: &[&str], default: u32, range: (u32, u32)| {
        whole_number(get(name, vars), name, default, range)
    };
    let (invoke_address, runtime_api_address) = addresses(get)?;
    let http_address = get("--http-port", &[])
        .map(|v| {
            v.parse::<u16>()
                .map(|port| SocketAddr::new(invoke_address.ip(), port))
                .map_err(|_| UsageError(format!("--http-port: {v:?} is not a port (0-65535)")))
        })
        .transpose()?;
    let (log_level, on_throttle, python_runtime) = choices(get, given)?;
    let explicit_handler = given.text("--handler", &["AWS_LAMBDA_FUNCTION_HANDLER", "_HANDLER"]);
    let state_dir = get("--state-dir", &[]).map(PathBuf::from);
    let nothing_given = positional.is_empty()
        && explicit_handler.is_none()
        && get("--config", &[]).is_none()
        && get("--template", &[]).is_none();
    let (program, handler) = match program_or_file(get, positional, explicit_handler, env) {
        // NOTE: `lambda-rie --state-dir DIR` alone serves only what the control plane creates.
        Err(_) if nothing_given && state_dir.is_some() => (Program::ControlPlaneOnly, None),
        other => other?,
    };
    let async_delay_scale = async_delay_scale(get)?;
    let async_queue_bytes = async_queue_bytes(get)?;
    let mut function = FunctionSpec::new(Source::Flag);
    function.handler = handler;
    Ok(Args {
        program,
        invoke_address,
        runtime_api_address,
        log_level,
        max_environments: int(
            "--max-environments",
            &[],
            default_max_environments(),
            config::MAX_ENVIRONMENTS_RANGE,
        )?,
        on_throttle,
        account_id: get("--account-id", &["AWS_ACCOUNT_ID"]).unwrap_or(DEFAULT_ACCOUNT_ID.into()),
        region: get("--region", &["AWS_REGION"]).unwrap_or(DEFAULT_REGION.into()),
        python_runtime,
        shutdown_timeout_s: int(
            "--shutdown-timeout",
            &[],
            config::DEFAULT_SHUTDOWN_TIMEOUT.as_secs() as u32,
            (0, 3600),
        )?,
        async_state: get("--async-state", &[]).map(PathBuf::from),
        async_delay_scale,
        async_queue_bytes,
        function,
        run_as: None,
        http_address,
        state_dir,
        runtime_commands: Vec::new(),
        aws_endpoint_url: get("--aws-endpoint-url", &[]),
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
    given: &Given<'_>,
) -> Result<(LogLevel, ThrottlePolicy, PythonRuntime), UsageError> {
    let log_level = match given.text("--log-level", &["LOG_LEVEL"]) {
        None => LogLevel::Info,
        Some(Setting { value, origin }) => LogLevel::parse(&value).ok_or_else(|| {
            // NOTE: named as it was given: the flag, or the variable.
            let name = origin.key().unwrap_or("--log-level");
            UsageError(format!(
                "{name}: {value:?} is not one of error, warn, info, debug"
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
    explicit_handler: Option<Setting<String>>,
    env: Env<'_>,
) -> Result<(Program, Option<Setting<String>>), UsageError> {
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

/// `--async-queue-bytes`: at least one `Event` payload's worth.
fn async_queue_bytes(get: &dyn Fn(&str, &[&str]) -> Option<String>) -> Result<u64, UsageError> {
    let Some(v) = get("--async-queue-bytes", &[]) else {
        return Ok(config::DEFAULT_ASYNC_QUEUE_BYTES);
    };
    let least = config::MAX_EVENT_BYTES as u64;
    v.trim()
        .parse::<u64>()
        .ok()
        .filter(|n| *n >= least)
        .ok_or_else(|| {
            UsageError(format!(
                "--async-queue-bytes: {v:?} is not a whole number of bytes >= {least}"
            ))
        })
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
    explicit_handler: Option<Setting<String>>,
    env: Env<'_>,
) -> Result<(Program, Option<Setting<String>>), UsageError> {
    let argument = |value: &str, what: &str| {
        Setting::new(value.to_owned(), Origin::new(&Arc::new(Source::Flag), what))
    };
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
            return Ok((Program::Handler(h.value.clone()), Some(h)));
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
        let handler = explicit_handler.unwrap_or_else(|| argument(&first, "HANDLER"));
        return Ok((Program::Handler(first), Some(handler)));
    } else if first.is_empty() {
        return Err(UsageError("\"\": command not found".to_owned()));
    } else if find_on_path(&first, env).is_none() {
        return Err(UsageError(format!("{first}: command not found")));
    }
    // NOTE: like the RIE, the last of several arguments is taken as the handler name.
    let handler = explicit_handler.or_else(|| {
        let last = positional.last().filter(|_| positional.len() > 1)?;
        Some(argument(last, "COMMAND"))
    });
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
        let handler = a.function.handler.as_ref().map(|h| h.value.as_str());
        assert_eq!(handler, Some("app.handler"));
        assert!(matches!(a.program, Program::Command(_)));
        assert!(matches!(serve(&["--", "sh"]).program, Program::Command(_)));
    }

    #[test]
    fn cli_addresses_are_the_ries() {
        let a = serve(&["app.handler"]);
        assert_eq!(a.invoke_address.to_string(), "0.0.0.0:8080");
        assert_eq!(a.runtime_api_address.to_string(), "127.0.0.1:9001");
    }

    #[test]
    fn bad_flags_name_the_flag() {
        let e = parse_with(&["--bogus", "app.h"]).unwrap_err();
        assert!(e.0.contains("--bogus"));
        let e =
            parse_with(&["--runtime-interface-emulator-address", "nonsense", "app.h"]).unwrap_err();
        assert!(e.0.contains("--runtime-interface-emulator-address"));
    }

    #[test]
    fn an_option_without_its_value_needs_a_value() {
        for args in [
            &["--timeout"][..],
            &["--timeout=", "app.handler"],
            &["--timeout", "--memory", "512", "app.handler"],
            &["--timeout", "app.handler"],
            &["--memory", "-h"],
            &["--function-name", "--", "sh"],
        ] {
            let e = parse_with(args).unwrap_err();
            let flag = args[0].trim_end_matches('=');
            assert_eq!(e.0, format!("{flag} needs a value"), "{args:?}");
        }
        // A value that is no number is still the option's, and refused when it is built.
        let a = serve(&["--timeout", "ten", "app.handler"]);
        let timeout = a.function.timeout.map(|t| t.value);
        assert_eq!(timeout, Some(Number::Text("ten".into())));
    }

    #[test]
    fn function_options_say_where_they_were_written() {
        let argv: Vec<String> = ["lambda-rie", "--memory", "256", "app.handler"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        let env = |k: &str| (k == "AWS_LAMBDA_FUNCTION_TIMEOUT").then(|| "7".to_owned());
        let Ok(Parsed::Serve(a)) = parse(&argv, &env) else {
            panic!("not served")
        };
        let memory = a.function.memory.unwrap();
        assert_eq!(memory.origin.key(), Some("--memory"));
        assert_eq!(memory.origin.source(), &Source::Flag);
        let timeout = a.function.timeout.unwrap();
        assert_eq!(timeout.origin.key(), Some("AWS_LAMBDA_FUNCTION_TIMEOUT"));
        assert_eq!(timeout.origin.source(), &Source::EnvironmentVariable);
    }

    #[test]
    fn a_bad_log_level_is_named_as_it_was_given() {
        let argv: Vec<String> = ["lambda-rie", "app.handler"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        let env = |k: &str| (k == "LOG_LEVEL").then(|| "verbose".to_owned());
        let Err(UsageError(e)) = parse(&argv, &env) else {
            panic!("LOG_LEVEL=verbose was accepted")
        };
        assert_eq!(
            e,
            "LOG_LEVEL: \"verbose\" is not one of error, warn, info, debug"
        );
        let Err(UsageError(e)) = parse_with(&["--log-level", "loud", "app.handler"]) else {
            panic!("--log-level loud was accepted")
        };
        assert!(e.starts_with("--log-level: \"loud\""), "{e}");
    }

    #[test]
    fn async_queue_bytes_has_a_floor_of_one_event() {
        assert_eq!(
            serve(&["app.h"]).async_queue_bytes,
            config::DEFAULT_ASYNC_QUEUE_BYTES
        );
        assert_eq!(
            serve(&["--async-queue-bytes", "4194304", "app.h"]).async_queue_bytes,
            4_194_304
        );
        let e = parse_with(&["--async-queue-bytes", "1000", "app.h"]).unwrap_err();
        assert!(e.0.starts_with("--async-queue-bytes") && e.0.contains("1048576"));
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
