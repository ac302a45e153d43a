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
    // NOTE: the native binary reads the interpreter's version off its resolved file name
    // (python3 -> python3.11), and runs it only when the name does not tell.
    let version = python.version.clone().or_else(|| {
        needs_python
            .then(|| {
                version_from_name(&python.executable).or_else(|| probe_version(&python.executable))
            })
            .flatten()
    });
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
    let from_file = matches!(args.program, Program::Config(_) | Program::Template(_));
    for f in &mut functions {
        f.cpu_by_memory |= args.cpu_by_memory;
        f.freeze |= args.freeze;
        f.watch |= args.watch;
        f.snapstart |= args.snapstart;
        if let Some(run_as) = args.run_as {
            f.run_as = run_as;
        }
        if from_file {
            override_from_flags(f, args);
        }
    }
    let uses_python = functions
        .iter()
        .any(|f| f.command.first() == Some(&runtime.python));
    let known_present = args.python_runtime == PythonRuntime::Builtin && python.has_builtin_runtime;
    if uses_python && !known_present {
        check_module_in_background(runtime.python.clone(), module.to_owned());
    }
    Ok((functions, warnings))
}

/// Flags given on the command line beat the config file (SPEC 1's precedence).
fn override_from_flags(f: &mut FunctionConfig, args: &Args) {
    let given = |flag: &str| args.explicit.iter().any(|e| e == flag);
    if given("--timeout") {
        f.timeout_s = args.timeout_s;
    }
    if given("--memory") {
        f.memory_mb = args.memory_mb;
    }
    if given("--ephemeral-storage") {
        f.ephemeral_storage_mb = args.ephemeral_storage_mb;
    }
    if given("--reserved-concurrency") {
        f.reserved_concurrency = args.reserved_concurrency;
    }
    if given("--provisioned-concurrency") {
        f.provisioned_concurrency = args.provisioned_concurrency;
    }
    if given("--max-concurrency") {
        f.max_concurrency = args.max_concurrency;
    }
    if given("--idle-timeout") {
        f.idle_timeout = Duration::from_secs(args.idle_timeout_s);
    }
    if given("--layer") {
        f.layers.clone_from(&args.layers);
    }
    if given("--extensions-dir") {
        f.extensions_dir.clone_from(&args.extensions_dir);
    }
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
    f.layers.clone_from(&args.layers);
    f.extensions_dir.clone_from(&args.extensions_dir);
    f
}

/// Say loudly (without delaying start-up by an interpreter run) when the runtime module is
/// missing: every cold start would then fail with the interpreter's import error.
fn check_module_in_background(python: String, module: String) {
    std::thread::spawn(move || {
        let found = std::process::Command::new(&python)
            .args([
                "-c",
                &format!("import importlib.util,sys; sys.exit(importlib.util.find_spec('{module}') is None)"),
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            crate::logs::message(
                crate::config::LogLevel::Error,
                &format!(
                    "{python} cannot import {module}: install it (pip install {}) to serve Python handlers",
                    module.split('.').next().unwrap_or(&module).replace('_', "-")
                ),
            );
        }
    });
}

/// `3.11` from an interpreter whose resolved name is `python3.11`.
fn version_from_name(python: &str) -> Option<String> {
    let path = super::args::find_on_path(python, &|k| std::env::var(k).ok())?;
    let resolved = std::fs::canonicalize(path).ok()?;
    let name = resolved.file_name()?.to_str()?;
    let version = name.strip_prefix("python")?;
    let (major, minor) = version.split_once('.')?;
    (major.parse::<u32>().is_ok() && minor.parse::<u32>().is_ok()).then(|| version.to_owned())
}

/// `major.minor` of `python`, by running it.
fn probe_version(python: &str) -> Option<String> {
    let out = std::process::Command::new(python)
        .args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (!text.is_empty()).then_some(text)
}
