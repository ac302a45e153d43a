//! The `lambda-rie` command line, shared by the native binary and `python -m lambda_rie`.

pub mod args;
mod functions;
mod one_shot;
mod pid1;

use std::os::unix::process::CommandExt;
use std::time::Duration;

use args::{Args, Parsed};

use crate::config::{EmulatorConfig, FunctionConfig, LogLevel};
use crate::emulator::Emulator;
use crate::logs;

const USAGE: &str = "\
Usage:
  lambda-rie [OPTIONS] [--] COMMAND [ARGS...]   serve one function run by COMMAND
  lambda-rie [OPTIONS] HANDLER                  serve module.function with a Python runtime
  lambda-rie [OPTIONS]                          serve /var/task/bootstrap, /opt/bootstrap or /var/runtime/bootstrap
  lambda-rie [OPTIONS] --config lambda-rie.toml | --template template.yaml   serve many functions
  lambda-rie [OPTIONS] --state-dir DIR          serve the functions created with the Lambda API
  lambda-rie invoke [OPTIONS] [--event FILE|-] [--function NAME] (HANDLER | COMMAND | --config F)
                                                invoke once: payload on stdout, logs on stderr,
                                                exit 1 on a function error
  lambda-rie bench ...                          benchmark a function (Python package)

Invoke: POST http://HOST:PORT/2015-03-31/functions/function/invocations

Options (flag > environment variable > default):
  --runtime-interface-emulator-address H:P  Invoke API address [0.0.0.0:8080]
  --runtime-api-address H:P    first environment's Runtime API (loopback) [127.0.0.1:9001]
  --log-level L                error, warn, info, debug [info] (LOG_LEVEL)
  --function-name N            [test_function] (AWS_LAMBDA_FUNCTION_NAME)
  --handler H                  _HANDLER for the runtime (AWS_LAMBDA_FUNCTION_HANDLER, _HANDLER)
  --timeout S                  1-900 seconds [300] (AWS_LAMBDA_FUNCTION_TIMEOUT)
  --memory MB                  128-10240 [3008] (AWS_LAMBDA_FUNCTION_MEMORY_SIZE)
  --ephemeral-storage MB       512-10240 [512]
  --max-environments N         emulator-wide cap on execution environments [4 x CPUs]
  --reserved-concurrency N     the function's own cap, 0-1000 (0 throttles every invoke)
  --provisioned-concurrency N  environments initialised at start-up [0]
  --max-concurrency N          invocations per environment [1] (AWS_LAMBDA_MAX_CONCURRENCY)
  --idle-timeout S             reap idle environments after S seconds [600]
  --on-throttle reject|queue   answer 429 at once, or wait for an environment [reject]
  --code-dir DIR               LAMBDA_TASK_ROOT and working directory [.] (LAMBDA_TASK_ROOT)
  --account-id ID              [012345678912] (AWS_ACCOUNT_ID)
  --region R                   [us-east-1] (AWS_REGION)
  --runtime builtin|awslambdaric  Python runtime for a HANDLER [builtin]
  --config FILE                serve every function of a lambda-rie.toml
  --template FILE              serve every function of a SAM template (python*, provided*)
  --shutdown-timeout S         wait for in-flight invocations and queued events [10]
  --async-state FILE           keep queued Event invocations across a restart (and past
                               --async-queue-bytes)
  --async-queue-bytes BYTES    Event payloads held in memory; past it 429 [268435456]
  --async-retry-delay-scale F  multiply async retry delays, backoff and event age [1]
  --layer DIR|ZIP              a layer, seen at /opt (repeatable, in order, at most 5)
  --extensions-dir DIR         external extensions to start in every environment [/opt/extensions]
  --cpu-by-memory              CPU quota of memory/1769 vCPUs, as on AWS [off]
  --freeze                     freeze environments between invocations, as AWS does [off]
  --watch                      replace environments when a file under the code directory changes
  --snapstart, --enable-init-caching  init once in a template, fork each environment from it
  --run-as root|UID[:GID]      who runtimes run as, when lambda-rie is root [993:990, AWS's]
  --http-port PORT             serve a template's API routes, or the first function's URL, on PORT
  --state-dir DIR              keep functions created with the Lambda API (aws lambda
                               create-function, boto3) across restarts [a temporary store];
                               alone, serves only those functions
  --runtime-command NAME=CMD   run managed runtime NAME (nodejs22.x, java21, ...) of
                               API-created functions with CMD (repeatable)
  --aws-endpoint-url URL       where event sources (SQS, Kinesis, DynamoDB Streams) and
                               destinations are, e.g. a moto server [AWS_ENDPOINT_URL*, AWS]
  -h, --help                   this text
  -V, --version                the version

With AWS_LAMBDA_RUNTIME_API set (on AWS Lambda itself), lambda-rie runs the runtime directly.
";

/// The Python interpreter that runs HANDLERs, as the caller knows it.
#[derive(Debug, Clone)]
pub struct PythonInfo {
    /// Interpreter path.
    pub executable: String,
    /// `3.11`, when known.
    pub version: Option<String>,
    /// Whether `lambda_rie` is importable by that interpreter (true from the Python entry).
    pub has_builtin_runtime: bool,
}

/// Run the command line with `argv` (program name first); returns the exit code.
pub fn main_with(argv: &[String], python: &PythonInfo) -> i32 {
    let mut steps = crate::environment::steps::Steps::start_kept();
    let env = |k: &str| std::env::var(k).ok();
    let (args, one_shot) = match args::parse(argv, &env) {
        Ok(Parsed::Serve(a)) => (*a, None),
        Ok(Parsed::Invoke(a, shot)) => (*a, Some(shot)),
        Ok(Parsed::Bench) => {
            eprintln!("lambda-rie: bench is part of the Python package: pip install lambda-rie, then run lambda-rie bench");
            return 2;
        }
        Ok(Parsed::Help) => {
            print!("{USAGE}");
            return 0;
        }
        Ok(Parsed::Version) => {
            println!("lambda-rie {}", env!("CARGO_PKG_VERSION"));
            return 0;
        }
        Err(e) => {
            eprintln!("lambda-rie: {}", e.0);
            return 2;
        }
    };
    let mut args = args;
    if one_shot.is_some() {
        // NOTE: a one-shot run must not fight a server over the RIE's ports.
        args.invoke_address = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        args.runtime_api_address = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    }
    // NOTE: the isolation probes (forks into new namespaces, a few ms) overlap reading the
    // configuration; not on AWS itself, where the binary becomes the runtime.
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_none() {
        std::thread::spawn(crate::environment::sandbox::Capabilities::get);
    }
    let (functions, warnings) = match functions::load(&args, python) {
        Ok(f) => f,
        Err(msg) => {
            eprintln!("lambda-rie: {msg}");
            return 2;
        }
    };
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        return passthrough(&functions[0].command, &args);
    }
    raise_open_file_limit();
    // NOTE: whether each function's user can run it (a forked check) is decided while the
    // listeners come up; the start-up line and the first sandbox then find it made.
    let users = {
        let functions = functions.clone();
        std::thread::spawn(move || {
            for f in &functions {
                crate::environment::sandbox::user::for_function(f);
            }
        })
    };
    // NOTE: one event-loop thread. The emulator only moves bytes between sockets and pipes, and
    // on a multi-thread runtime most of its CPU went to waking tasks across threads. Measured
    // with wrk, 128 B echo, 2 cores: 68 vs 86 µs of emulator CPU per invocation, and 16,050 vs
    // 13,970 invocations/s with 2 connections. Blocking work (sandbox set-up, large JSON
    // validation, file destinations) runs on the blocking pool.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("lambda-rie: cannot start: {e}");
            return 1;
        }
    };
    let code = if let Some(shot) = one_shot {
        runtime.block_on(one_shot::run(&args, functions, &shot))
    } else {
        steps.mark("configuration");
        runtime.block_on(serve(args, functions, warnings, python, steps, users))
    };
    runtime.shutdown_timeout(Duration::from_secs(1));
    code
}

/// Raise the soft limit of open files to the hard one, as every Go program (AWS's emulator
/// among them) does: the connections and pipes of many environments need more than a shell's
/// usual 1024, and a function holding its Runtime API's connections must not lock every client
/// out. Runtimes and extensions get AWS's 1024 of their own (the sandbox sets it).
fn raise_open_file_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit on a local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &raw mut limit) == 0
            && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &raw const limit);
        }
    }
}

/// On AWS Lambda itself: become the runtime (what `lambda-entrypoint.sh` does).
fn passthrough(command: &[String], args: &Args) -> i32 {
    let mut cmd = std::process::Command::new(&command[0]);
    cmd.args(&command[1..]);
    if let Some(h) = &args.function.handler {
        cmd.env("_HANDLER", &h.value);
    }
    let err = cmd.exec();
    eprintln!("lambda-rie: cannot exec {}: {err}", command[0]);
    127
}

/// Say why the emulator did not start; the exit status. What a configuration asks and cannot
/// be served (one name twice, an event source AWS would refuse) is refused as its other errors
/// are: status 2, naming the file.
fn not_started(program: &args::Program, e: crate::error::CoreError) -> i32 {
    let crate::error::CoreError::Config(problem) = e else {
        eprintln!("lambda-rie: {e}");
        return 1;
    };
    match program {
        args::Program::Config(file) | args::Program::Template(file) => {
            eprintln!("lambda-rie: {}: {problem}", file.display());
        }
        _ => eprintln!("lambda-rie: {problem}"),
    }
    2
}

async fn serve(
    args: Args,
    functions: Vec<FunctionConfig>,
    warnings: Vec<String>,
    python: &PythonInfo,
    mut steps: crate::environment::steps::Steps,
    users: std::thread::JoinHandle<()>,
) -> i32 {
    pid1::become_subreaper();
    let mut config = EmulatorConfig::new(args.invoke_address);
    config.max_environments = args.max_environments;
    config.account_id.clone_from(&args.account_id);
    config.region.clone_from(&args.region);
    config.on_throttle = args.on_throttle;
    config.log_level = args.log_level;
    config.shutdown_timeout = Duration::from_secs(u64::from(args.shutdown_timeout_s));
    config.async_state.clone_from(&args.async_state);
    config.async_delay_scale = args.async_delay_scale;
    config.async_queue_bytes = args.async_queue_bytes;
    config.http_address = args.http_address;
    config.state_dir.clone_from(&args.state_dir);
    config.aws_endpoint_url.clone_from(&args.aws_endpoint_url);
    config.handler_runtime = Some(functions::handler_runtime(&args, python));
    config.run_as = args.run_as;
    if let args::Program::Config(path) = &args.program {
        match crate::config::file::runtimes(path) {
            Ok(r) => config.runtime_commands = r,
            Err(e) => {
                eprintln!("lambda-rie: {e}");
                return 2;
            }
        }
    }
    config
        .runtime_commands
        .extend(args.runtime_commands.iter().cloned());
    logs::set_level(args.log_level);
    for w in &warnings {
        logs::message(LogLevel::Warn, w);
    }
    let signals = match pid1::ShutdownSignals::install() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("lambda-rie: cannot install signal handlers: {e}");
            return 1;
        }
    };
    let described: Vec<String> = functions
        .iter()
        .map(|f| {
            format!(
                "exec '{}' (function={}, cwd={}, handler={})",
                f.command.join(" "),
                f.name,
                f.code_dir.display(),
                f.handler.as_deref().unwrap_or("")
            )
        })
        .collect();
    let emulator = match Emulator::start(&config, functions).await {
        Ok(e) => e,
        Err(e) => return not_started(&args.program, e),
    };
    steps.mark("listeners and templates");
    // NOTE: the probe started with the process; the listeners came up meanwhile.
    let capabilities = crate::environment::sandbox::Capabilities::get();
    steps.mark("isolation probe");
    let _ = users.join();
    steps.mark("user check");
    for line in &described {
        logs::message(LogLevel::Info, line);
    }
    let schedulers = emulator.schedulers();
    let served: Vec<&FunctionConfig> = schedulers.iter().map(|s| &s.function().config).collect();
    logs::message(
        LogLevel::Info,
        &capabilities.describe(
            args.function.cpu_by_memory.is_some(),
            args.function.freeze.is_some(),
            &served,
        ),
    );
    logs::message(
        LogLevel::Info,
        &format!(
            "Invoke API listening on http://{}",
            emulator.invoke_address()
        ),
    );
    announce_http(emulator.http_address(), &served);
    steps.log(|| "start-up".to_owned());
    signals.wait().await;
    logs::message(
        LogLevel::Info,
        "Shutting down: answering in-flight invocations",
    );
    emulator.shutdown().await;
    0
}

/// Say where `--http-port` serves the API Gateway routes or the first function's URL, or that
/// routes are not served without it.
fn announce_http(address: Option<std::net::SocketAddr>, served: &[&FunctionConfig]) {
    let routes: usize = served.iter().map(|f| f.http_routes.len()).sum();
    match (address, served.first()) {
        (Some(address), _) if routes > 0 => logs::message(
            LogLevel::Info,
            &format!("API Gateway routes ({routes}) on http://{address}/"),
        ),
        (Some(address), Some(first)) => logs::message(
            LogLevel::Info,
            &format!("Function URL of {} on http://{address}/", first.name),
        ),
        (None, _) if routes > 0 => logs::message(
            LogLevel::Warn,
            &format!("{routes} API Gateway routes are not served: give --http-port PORT"),
        ),
        _ => {}
    }
}
