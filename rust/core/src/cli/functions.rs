//! The functions a command line serves: one from a COMMAND or HANDLER (the RIE's way), or every
//! function of a config file or SAM template.

use std::time::Duration;

use super::args::{Args, Program, PythonRuntime};
use super::PythonInfo;
use crate::config::{self, EnvInheritance, FunctionConfig, HandlerRuntime};

/// The functions to serve and warnings about what was ignored; errors are one line for exit 2.
pub fn load(
    args: &Args,
    python: &PythonInfo,
) -> Result<(Vec<FunctionConfig>, Vec<String>), String> {
    let module = match args.python_runtime {
        PythonRuntime::Builtin => config::BUILTIN_RUNTIME_MODULE,
        PythonRuntime::Awslambdaric => "awslambdaric",
    };
    let needs_python = matches!(
        args.program,
        Program::Handler(_) | Program::Config(_) | Program::Template(_)
    );
    // NOTE: the native binary learns the interpreter's version (and whether it can import the
    // runtime) from one short run of it, only when Python handlers may be served.
    let probe = (needs_python && python.version.is_none())
        .then(|| probe_python(&python.executable, module))
        .flatten();
    let version = python
        .version
        .clone()
        .or_else(|| probe.as_ref().map(|p| p.0.clone()));
    let runtime = HandlerRuntime {
        python: python.executable.clone(),
        module: module.to_owned(),
        execution_env: format!("AWS_Lambda_python{}", version.as_deref().unwrap_or("3")),
    };
    let (functions, warnings) = match &args.program {
        Program::Command(argv) => (vec![single(args, argv.clone(), None)], Vec::new()),
        Program::Handler(h) => {
            let f = single(
                args,
                runtime.command(h),
                Some(runtime.execution_env.clone()),
            );
            (vec![f], Vec::new())
        }
        Program::Config(path) => (config::file::load(path, &runtime)?, Vec::new()),
        Program::Template(path) => {
            config::template::load(path, &runtime, &args.region, &args.account_id)?
        }
    };
    let mut functions = functions;
    for f in &mut functions {
        f.cpu_by_memory |= args.cpu_by_memory;
        f.freeze |= args.freeze;
        f.watch |= args.watch;
    }
    let uses_python = functions
        .iter()
        .any(|f| f.command.first() == Some(&runtime.python));
    let known_present = (args.python_runtime == PythonRuntime::Builtin
        && python.has_builtin_runtime)
        || probe.as_ref().is_some_and(|p| p.1);
    if uses_python && !known_present && !python_has_module(&runtime.python, module) {
        return Err(format!(
            "{} cannot import {module}: install it (pip install {}) to serve Python handlers",
            runtime.python,
            module.split('.').next().unwrap_or(module).replace('_', "-")
        ));
    }
    Ok((functions, warnings))
}

/// The single function of the RIE-style command line.
fn single(args: &Args, command: Vec<String>, execution_env: Option<String>) -> FunctionConfig {
    let mut f = FunctionConfig::new(&args.function_name, command, config::Defaults::CLI);
    f.handler.clone_from(&args.handler);
    f.execution_env = execution_env;
    f.code_dir.clone_from(&args.code_dir);
    f.timeout_s = args.timeout_s;
    f.memory_mb = args.memory_mb;
    f.ephemeral_storage_mb = args.ephemeral_storage_mb;
    f.inherit_env = EnvInheritance::All;
    f.reserved_concurrency = args.reserved_concurrency;
    f.provisioned_concurrency = args.provisioned_concurrency;
    f.max_concurrency = args.max_concurrency;
    f.idle_timeout = Duration::from_secs(args.idle_timeout_s);
    f.runtime_api_address = Some(args.runtime_api_address);
    f.cpu_by_memory = args.cpu_by_memory;
    f.freeze = args.freeze;
    f
}

fn python_has_module(python: &str, module: &str) -> bool {
    std::process::Command::new(python)
        .args([
            "-c",
            &format!(
                "import importlib.util,sys; sys.exit(importlib.util.find_spec('{module}') is None)"
            ),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `major.minor` of `python` and whether it can import `module`, in one run.
fn probe_python(python: &str, module: &str) -> Option<(String, bool)> {
    let out = std::process::Command::new(python)
        .args([
            "-c",
            &format!(
                "import importlib.util,sys; print('%d.%d' % sys.version_info[:2], importlib.util.find_spec('{module}') is not None)"
            ),
        ])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut words = text.split_whitespace();
    Some((words.next()?.to_owned(), words.next() == Some("True")))
}
