//! Function and emulator configuration: every limit and default lives here and only here.

pub mod cors;
pub mod file;
pub mod gateway;
#[cfg(test)]
mod properties;
pub mod spec;
pub mod template;
#[cfg(test)]
pub(crate) mod test_support;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Largest synchronous invoke request body (docs/reference.md §2).
pub const MAX_REQUEST_BYTES: usize = 6_291_456;
/// Largest function response accepted by the Runtime API; exactly this many bytes pass.
pub const MAX_RESPONSE_BYTES: usize = 6_291_556;
/// Largest streamed function response (`Lambda-Runtime-Function-Response-Mode: streaming`).
pub const MAX_STREAMED_RESPONSE_BYTES: usize = 200 * 1024 * 1024;
/// Largest `Event` invoke request body.
pub const MAX_EVENT_BYTES: usize = 1_048_576;
/// Largest decoded `X-Amz-Client-Context`.
pub const MAX_CLIENT_CONTEXT_BYTES: usize = 3583;
/// How many bytes of an invocation's log `X-Amz-Log-Type: Tail` returns.
pub const LOG_TAIL_BYTES: usize = 4096;
/// AWS's on-demand init limit.
pub const INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// Init limit with provisioned concurrency: max(this, function timeout).
pub const PROVISIONED_INIT_TIMEOUT: Duration = Duration::from_secs(130);
/// Between SIGTERM and SIGKILL when runtimes are stopped at shutdown.
pub const STOP_GRACE: Duration = Duration::from_secs(2);
/// How long shutdown waits for in-flight invocations before stopping runtimes.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);
/// The Runtime API address of the single function served from the command line.
pub const DEFAULT_RUNTIME_API_ADDRESS: &str = "127.0.0.1:9001";
/// The Invoke API address of the command line.
pub const DEFAULT_INVOKE_ADDRESS: &str = "0.0.0.0:8080";
/// The RIE's account id.
pub const DEFAULT_ACCOUNT_ID: &str = "012345678912";
/// The RIE's region.
pub const DEFAULT_REGION: &str = "us-east-1";
/// The RIE's fixed function name in the invoke path, and the CLI function's default name.
pub const DEFAULT_FUNCTION_NAME: &str = "test_function";

/// Function timeout range, seconds.
pub const TIMEOUT_RANGE: (u32, u32) = (1, 900);
/// Memory size range, MB.
pub const MEMORY_RANGE: (u32, u32) = (128, 10_240);
/// Ephemeral storage range, MB.
pub const EPHEMERAL_STORAGE_RANGE: (u32, u32) = (512, 10_240);
/// Emulator-wide environment cap range.
pub const MAX_ENVIRONMENTS_RANGE: (u32, u32) = (1, 1000);
/// Reserved concurrency range.
pub const RESERVED_CONCURRENCY_RANGE: (u32, u32) = (0, 1000);
/// Per-environment concurrency range (Lambda Managed Instances).
pub const MAX_CONCURRENCY_RANGE: (u32, u32) = (1, 64);
/// Provisioned concurrency range (also at most the reserved concurrency and the environment cap).
pub const PROVISIONED_CONCURRENCY_RANGE: (u32, u32) = (0, 1000);
/// Idle time before an environment is reaped, seconds.
pub const IDLE_TIMEOUT_RANGE: (u32, u32) = (1, 86_400);
/// Longest function name (AWS: 64 of `[a-zA-Z0-9-_]`).
pub const MAX_FUNCTION_NAME_BYTES: usize = 64;
/// Longest alias name (AWS: 128 of `[a-zA-Z0-9-_]`, not only digits).
pub const MAX_ALIAS_NAME_BYTES: usize = 128;
/// Deepest nesting of a config file or template (AWS templates need a dozen levels).
pub const MAX_DOCUMENT_DEPTH: usize = 64;
/// The environment variables AWS sets itself and refuses in a function's configuration
/// (AWS Lambda Developer Guide, "Defined runtime environment variables").
pub const RESERVED_ENVIRONMENT_VARIABLES: &[&str] = &[
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
];

/// Defaults that differ between the single-function command line and a config file
/// (docs/reference.md §1).
#[derive(Debug, Clone, Copy)]
pub struct Defaults {
    /// Timeout in seconds.
    pub timeout_s: u32,
    /// Memory size in MB.
    pub memory_mb: u32,
}

impl Defaults {
    /// The RIE's defaults, used for the function given on the command line.
    pub const CLI: Defaults = Defaults {
        timeout_s: 300,
        memory_mb: 3008,
    };
    /// AWS's defaults, used for functions from a config file, a template or the Python API.
    pub const FUNCTION: Defaults = Defaults {
        timeout_s: 3,
        memory_mb: 128,
    };
}

/// Default ephemeral storage, MB.
pub const DEFAULT_EPHEMERAL_STORAGE_MB: u32 = 512;
/// Default idle time before an environment is reaped.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(600);

/// Default bound of the `Event` queue's memory, bytes (`--async-queue-bytes`).
pub const DEFAULT_ASYNC_QUEUE_BYTES: u64 = 256 * 1024 * 1024;
/// Longest function log line; longer ones are split (CloudWatch's 256 KB event limit).
pub const LOG_LINE_BYTES: usize = 256 * 1024;
/// How long a client may take over a request's headers, from its first byte.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an Invoke API connection may stay idle between requests (AWS's front: 350 s).
pub const INVOKE_API_IDLE_TIMEOUT: Duration = Duration::from_secs(350);

/// Which inherited variables the runtime sees (docs/reference.md §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvInheritance {
    /// The whole environment of lambda-rie (single-function CLI mode, like the RIE).
    All,
    /// Only `PATH`, `HOME`, `LANG`, `LD_LIBRARY_PATH`, `PYTHONPATH`, `VIRTUAL_ENV`.
    Minimal,
}

/// One function: what to run and under which limits.
// NOTE: the bools are independent switches (CPU by memory, freeze, watch, SnapStart).
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, Clone)]
pub struct FunctionConfig {
    /// The function name.
    pub name: String,
    /// The runtime command line (argv), run in every execution environment.
    pub command: Vec<String>,
    /// The handler string (`_HANDLER`), when known.
    pub handler: Option<String>,
    /// `AWS_EXECUTION_ENV` for managed runtimes (`AWS_Lambda_python3.X`), none for custom ones.
    pub execution_env: Option<String>,
    /// Code directory: working directory and `LAMBDA_TASK_ROOT`.
    pub code_dir: PathBuf,
    /// Timeout in seconds.
    pub timeout_s: u32,
    /// Memory size in MB.
    pub memory_mb: u32,
    /// Ephemeral storage (`/tmp`) in MB.
    pub ephemeral_storage_mb: u32,
    /// The user's declared environment variables.
    pub environment: Vec<(String, String)>,
    /// Which of lambda-rie's own variables pass to the runtime.
    pub inherit_env: EnvInheritance,
    /// Reserved concurrency: the function's own environment cap.
    pub reserved_concurrency: Option<u32>,
    /// Environments initialised at start-up and never reaped.
    pub provisioned_concurrency: u32,
    /// Invocations in flight per environment.
    pub max_concurrency: u32,
    /// Idle time before an on-demand environment is reaped.
    pub idle_timeout: Duration,
    /// Address of the first environment's Runtime API; `None` for an ephemeral port.
    pub runtime_api_address: Option<SocketAddr>,
    /// CPU quota of memory/1769 vCPUs (`--cpu-by-memory`).
    pub cpu_by_memory: bool,
    /// Freeze environments between invocations (`--freeze`).
    pub freeze: bool,
    /// Replace environments when a file under the code directory changes (`--watch`).
    pub watch: bool,
    /// Who runtimes and extensions run as (`--run-as`; AWS's sandbox user by default).
    pub run_as: RunAs,
    /// Aliases: qualifier -> version (only `$LATEST` exists here).
    pub aliases: Vec<(String, String)>,
    /// Async invocations: further attempts after a failure, 0-2.
    pub maximum_retry_attempts: u32,
    /// Async invocations: oldest event still processed.
    pub maximum_event_age: Duration,
    /// Async destination on success.
    pub on_success: Option<Destination>,
    /// Async destination on failure.
    pub on_failure: Option<Destination>,
    /// Dead-letter target: receives the original event of a failed async invocation.
    pub dead_letter: Option<Destination>,
    /// Layers (directories or zip files), merged in order and presented at `/opt`.
    pub layers: Vec<PathBuf>,
    /// Where external extensions are found (default: `/opt/extensions`).
    pub extensions_dir: Option<PathBuf>,
    /// SnapStart: environments are forks of a template that ran init once.
    pub snapstart: bool,
    /// The version this configuration runs (`$LATEST`, or a number published through the
    /// control plane): `AWS_LAMBDA_FUNCTION_VERSION`, the log stream and `START` line.
    pub version: String,
    /// Its function URL, when it has one.
    pub url: Option<FunctionUrl>,
    /// API Gateway routes to it (SAM `Api` and `HttpApi` events).
    pub http_routes: Vec<HttpRoute>,
    /// Event source mappings to it (`event_sources` in lambda-rie.toml, SAM `SQS`, `Kinesis`
    /// and `DynamoDB` events), as CreateEventSourceMapping bodies.
    pub event_sources: Vec<serde_json::Value>,
}

/// An API Gateway route to a function (a SAM `Api` or `HttpApi` event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRoute {
    /// The method; `None` for `ANY`.
    pub method: Option<String>,
    /// The path, with `{param}` and `{param+}`; `None` for the `$default` route.
    pub path: Option<String>,
    /// Which kind of API declares it.
    pub api: ApiKind,
    /// The function gets payload format 1.0 (always for REST APIs).
    pub payload_v1: bool,
    /// The stage, variables and binary media types of its API.
    pub settings: gateway::ApiSettings,
    /// The Lambda authorizer that decides who may call it, if any.
    pub authorizer: Option<gateway::Authorizer>,
}

impl HttpRoute {
    /// `METHOD /path` (`ANY /path`), or `$default`.
    pub fn key(&self) -> String {
        match (&self.method, &self.path) {
            (_, None) => "$default".to_owned(),
            (Some(m), Some(p)) => format!("{m} {p}"),
            (None, Some(p)) => format!("ANY {p}"),
        }
    }
}

/// The kind of API Gateway API a route belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiKind {
    /// A REST API (SAM `Api` events).
    Rest,
    /// An HTTP API (SAM `HttpApi` events).
    Http,
}

/// A function URL (`url` in `lambda-rie.toml`, SAM's `FunctionUrlConfig`, `--http-port`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionUrl {
    /// Who may call it.
    pub auth_type: UrlAuthType,
    /// Its CORS settings, when it has them.
    pub cors: Option<cors::Cors>,
    /// Whether the answer is buffered or streamed.
    pub invoke_mode: UrlInvokeMode,
}

/// `InvokeMode` of a function URL (docs/reference.md §14).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum UrlInvokeMode {
    /// The function's whole result, mapped to a response (`BUFFERED`, the default).
    #[default]
    Buffered,
    /// The function's chunks sent on as they come (`RESPONSE_STREAM`).
    ResponseStream,
}

/// `AuthType` of a function URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlAuthType {
    /// Anyone.
    None,
    /// SigV4-signed requests (the signature's presence and shape are checked; there is no IAM).
    AwsIam,
}

impl FunctionUrl {
    /// A URL with `AuthType` `auth_type` (`NONE` or `AWS_IAM`) and `InvokeMode` `invoke_mode`.
    pub fn parse(auth_type: &str, invoke_mode: Option<&str>) -> Result<Self, String> {
        let auth_type = match auth_type {
            "NONE" => UrlAuthType::None,
            "AWS_IAM" => UrlAuthType::AwsIam,
            other => return Err(format!("auth_type {other:?} is not NONE or AWS_IAM")),
        };
        let invoke_mode = match invoke_mode {
            None | Some("BUFFERED") => UrlInvokeMode::Buffered,
            Some("RESPONSE_STREAM") => UrlInvokeMode::ResponseStream,
            Some(other) => {
                return Err(format!(
                    "invoke_mode {other:?} is not BUFFERED or RESPONSE_STREAM"
                ))
            }
        };
        Ok(Self {
            auth_type,
            cors: None,
            invoke_mode,
        })
    }

    /// A `NONE` URL, buffered, without CORS (`url = true`, `--http-port`).
    pub fn open() -> Self {
        Self {
            auth_type: UrlAuthType::None,
            cors: None,
            invoke_mode: UrlInvokeMode::Buffered,
        }
    }
}

/// Who the processes of an execution environment run as, where the emulator runs as root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunAs {
    /// As the emulator itself (`--run-as root`).
    Root,
    /// As this user and group.
    User {
        /// The uid.
        uid: u32,
        /// The gid.
        gid: u32,
    },
}

/// AWS runs functions as `sbx_user1051`: uid 993, gid 990.
pub const SANDBOX_USER: RunAs = RunAs::User { uid: 993, gid: 990 };

impl RunAs {
    /// `root`, `UID` (the gid is then the same number) or `UID:GID`.
    pub fn parse(value: &str) -> Result<Self, String> {
        if value == "root" {
            return Ok(Self::Root);
        }
        let number = |s: &str| {
            s.parse::<u32>()
                .map_err(|_| format!("{value}: expected root, UID or UID:GID"))
        };
        let (uid, gid) = match value.split_once(':') {
            Some((u, g)) => (number(u)?, number(g)?),
            None => (number(value)?, number(value)?),
        };
        Ok(if uid == 0 && gid == 0 {
            Self::Root
        } else {
            Self::User { uid, gid }
        })
    }
}

/// Where external extensions live when no directory is configured (inside `/opt`).
pub const DEFAULT_EXTENSIONS_DIR: &str = "/opt/extensions";
/// Most layers one function may use (AWS: 5).
pub const MAX_LAYERS: usize = 5;

/// The asynchronous invocation settings of a function, version or alias (its event invoke
/// configuration, docs/reference.md §13); the dead-letter queue is the version's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsyncSettings {
    /// Further attempts after a failure, 0-2.
    pub maximum_retry_attempts: u32,
    /// Oldest event still processed.
    pub maximum_event_age: Duration,
    /// Destination on success.
    pub on_success: Option<Destination>,
    /// Destination on failure.
    pub on_failure: Option<Destination>,
}

impl Default for AsyncSettings {
    /// AWS's defaults: 2 retries, 6 hours, no destinations.
    fn default() -> Self {
        Self {
            maximum_retry_attempts: MAX_RETRY_ATTEMPTS,
            maximum_event_age: Duration::from_secs(u64::from(EVENT_AGE_RANGE.1)),
            on_success: None,
            on_failure: None,
        }
    }
}

impl FunctionConfig {
    /// The asynchronous invocation settings this configuration runs with.
    pub fn async_settings(&self) -> AsyncSettings {
        AsyncSettings {
            maximum_retry_attempts: self.maximum_retry_attempts,
            maximum_event_age: self.maximum_event_age,
            on_success: self.on_success.clone(),
            on_failure: self.on_failure.clone(),
        }
    }
}

/// Where an async invocation record (or a dead letter) goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// Another configured function, invoked asynchronously with the record.
    Function(String),
    /// A file that receives one JSON line per record.
    File(PathBuf),
    /// An HTTP endpoint that receives each record as a POST.
    Http(String),
    /// An AWS service named by ARN: an SQS queue, SNS topic, EventBridge bus or S3 bucket.
    Service(String),
}

impl Destination {
    /// Parse `function:NAME`, `file:PATH` (relative to `base`) or `http://...`.
    pub fn parse(value: &str, base: &std::path::Path) -> Result<Self, String> {
        if let Some(name) = value.strip_prefix("function:") {
            return Ok(Self::Function(name.to_owned()));
        }
        if let Some(path) = value.strip_prefix("file:") {
            return Ok(Self::File(base.join(path)));
        }
        if value.starts_with("http://") {
            return Ok(Self::Http(value.to_owned()));
        }
        if let Some((_, name)) = value
            .strip_prefix("arn:aws:lambda:")
            .and_then(|rest| rest.split_once(":function:"))
        {
            return Ok(Self::Function(
                name.split(':').next().unwrap_or(name).to_owned(),
            ));
        }
        if crate::destinations::service::is_service_arn(value) {
            return Ok(Self::Service(value.to_owned()));
        }
        if value.starts_with("https://") {
            return Err(format!(
                "{value}: https:// URL destinations are not supported; use http://, file:, function: or the ARN of an SQS queue, SNS topic, EventBridge bus or S3 bucket"
            ));
        }
        Err(format!(
            "{value}: a destination is function:NAME, file:PATH, http://URL or the ARN of a function, SQS queue, SNS topic, EventBridge bus or S3 bucket"
        ))
    }
}

/// Async retries allowed (AWS: 0-2).
pub const MAX_RETRY_ATTEMPTS: u32 = 2;
/// Maximum event age range, seconds.
pub const EVENT_AGE_RANGE: (u32, u32) = (60, 21_600);
/// Delays before the async retries (AWS: about 1 minute, then 2 minutes).
pub const RETRY_DELAYS: [Duration; 2] = [Duration::from_secs(60), Duration::from_secs(120)];
/// Backoff for events that cannot run at all (reserved concurrency 0): 1 s doubling, at most 300 s.
pub const THROTTLE_BACKOFF: (Duration, Duration) =
    (Duration::from_secs(1), Duration::from_secs(300));
/// Total size of the variables a function declares.
pub const MAX_ENVIRONMENT_BYTES: usize = 4096;

impl FunctionConfig {
    /// A function running `command`, with the given defaults for everything else.
    pub fn new(name: &str, command: Vec<String>, defaults: Defaults) -> Self {
        Self {
            name: name.to_owned(),
            command,
            handler: None,
            execution_env: None,
            code_dir: PathBuf::from("."),
            timeout_s: defaults.timeout_s,
            memory_mb: defaults.memory_mb,
            ephemeral_storage_mb: DEFAULT_EPHEMERAL_STORAGE_MB,
            environment: Vec::new(),
            inherit_env: EnvInheritance::Minimal,
            reserved_concurrency: None,
            provisioned_concurrency: 0,
            max_concurrency: 1,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            runtime_api_address: None,
            cpu_by_memory: false,
            freeze: false,
            watch: false,
            run_as: SANDBOX_USER,
            aliases: Vec::new(),
            maximum_retry_attempts: MAX_RETRY_ATTEMPTS,
            maximum_event_age: Duration::from_secs(u64::from(EVENT_AGE_RANGE.1)),
            on_success: None,
            on_failure: None,
            dead_letter: None,
            layers: Vec::new(),
            extensions_dir: None,
            snapstart: false,
            url: None,
            http_routes: Vec::new(),
            event_sources: Vec::new(),
            version: crate::aws::LATEST.to_owned(),
        }
    }

    /// The function timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(u64::from(self.timeout_s))
    }
}

/// The built-in Python runtime's module (`python -m lambda_rie.runtime HANDLER`).
pub const BUILTIN_RUNTIME_MODULE: &str = "lambda_rie.runtime";
/// How the emulator starts the built-in runtime: the same entry point as `-m`, faster.
pub const BUILTIN_RUNTIME_LAUNCH: &str =
    "import sys; from lambda_rie.runtime.bootstrap import main; main(sys.argv)";

/// How a `handler` function is run: the built-in Python runtime of a given interpreter.
#[derive(Debug, Clone)]
pub struct HandlerRuntime {
    /// The interpreter.
    pub python: String,
    /// The module run with `-m` (`lambda_rie.runtime` or `awslambdaric`).
    pub module: String,
    /// `AWS_EXECUTION_ENV`, e.g. `AWS_Lambda_python3.11`.
    pub execution_env: String,
}

impl HandlerRuntime {
    /// The argv serving `handler`.
    pub fn command(&self, handler: &str) -> Vec<String> {
        if self.module == BUILTIN_RUNTIME_MODULE {
            // NOTE: `-c` skips the ~3 ms of runpy imports that `-m` costs every cold start.
            return vec![
                self.python.clone(),
                "-c".to_owned(),
                BUILTIN_RUNTIME_LAUNCH.to_owned(),
                handler.to_owned(),
            ];
        }
        vec![
            self.python.clone(),
            "-m".to_owned(),
            self.module.clone(),
            handler.to_owned(),
        ]
    }
}

/// What a sync invoke does when no environment is free.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThrottlePolicy {
    /// Answer 429 at once, as AWS does.
    Reject,
    /// Wait for an environment to free up.
    Queue,
}

/// The emulator's own verbosity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// Errors only.
    Error,
    /// Errors and warnings.
    Warn,
    /// Start-up and lifecycle messages.
    Info,
    /// Every environment and invocation event.
    Debug,
}

impl LogLevel {
    /// Parse `error`, `warn`, `info` or `debug` (case-insensitive; `warning` and `trace` too).
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "error" | "fatal" | "panic" => Some(Self::Error),
            "warn" | "warning" => Some(Self::Warn),
            "info" => Some(Self::Info),
            "debug" | "trace" => Some(Self::Debug),
            _ => None,
        }
    }
}

/// Emulator-wide settings.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Invoke API listen address.
    pub invoke_address: SocketAddr,
    /// Emulator-wide cap on execution environments.
    pub max_environments: u32,
    /// Account id in ARNs.
    pub account_id: String,
    /// Region in ARNs and `AWS_REGION`.
    pub region: String,
    /// What a sync invoke does when no environment is free.
    pub on_throttle: ThrottlePolicy,
    /// The emulator's own verbosity.
    pub log_level: LogLevel,
    /// How long shutdown waits for in-flight invocations and queued events.
    pub shutdown_timeout: Duration,
    /// Multiplies every async delay and age (retries, backoff, maximum event age).
    pub async_delay_scale: f64,
    /// Where queued events are kept across a restart.
    pub async_state: Option<PathBuf>,
    /// Most bytes of `Event` payloads held in memory; past it, events spill to `async_state`
    /// or are refused with 429.
    pub async_queue_bytes: u64,
    /// Where the first function's URL is served at the root (`--http-port`), if anywhere.
    pub http_address: Option<SocketAddr>,
    /// Where the control plane keeps the functions it creates (`--state-dir`); none: a
    /// temporary store removed at exit.
    pub state_dir: Option<PathBuf>,
    /// The Python runtime that serves `python3.x` functions created through the API (none:
    /// `python3 -m lambda_rie.runtime`).
    pub handler_runtime: Option<HandlerRuntime>,
    /// Commands of managed runtimes lambda-rie cannot run itself (`nodejs22.x` -> argv).
    pub runtime_commands: std::collections::BTreeMap<String, Vec<String>>,
    /// Who runtimes of API-created functions run as (none: the default).
    pub run_as: Option<RunAs>,
    /// Where event sources and destinations are (`--aws-endpoint-url`); none: the
    /// `AWS_ENDPOINT_URL*` variables, else AWS itself.
    pub aws_endpoint_url: Option<String>,
}

impl EmulatorConfig {
    /// Defaults for an emulator listening on `invoke_address`.
    pub fn new(invoke_address: SocketAddr) -> Self {
        Self {
            invoke_address,
            max_environments: default_max_environments(),
            account_id: DEFAULT_ACCOUNT_ID.to_owned(),
            region: DEFAULT_REGION.to_owned(),
            on_throttle: ThrottlePolicy::Reject,
            log_level: LogLevel::Info,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            async_delay_scale: 1.0,
            async_state: None,
            async_queue_bytes: DEFAULT_ASYNC_QUEUE_BYTES,
            http_address: None,
            state_dir: None,
            handler_runtime: None,
            runtime_commands: std::collections::BTreeMap::new(),
            run_as: None,
            aws_endpoint_url: None,
        }
    }
}

/// 4 × CPUs, at least 4 and at most 1000.
pub fn default_max_environments() -> u32 {
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    (4 * cpus as u32).clamp(4, MAX_ENVIRONMENTS_RANGE.1)
}

/// Check `value` against an inclusive range, naming the option in the error.
pub fn check_range(option: &str, value: u32, range: (u32, u32)) -> Result<u32, String> {
    if (range.0..=range.1).contains(&value) {
        Ok(value)
    } else {
        Err(format!(
            "{option}: {value} is out of range ({}-{})",
            range.0, range.1
        ))
    }
}
