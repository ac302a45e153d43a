//! The functions a command line serves: one from a COMMAND or HANDLER (the RIE's way), or every
//! function of a config file or SAM template, with the flags given over the file's values.

use std::sync::Arc;

use super::args::{Args, Program, PythonRuntime};
use super::PythonInfo;
use crate::config::spec::{
    build_all, BuildContext, ConfigError, FunctionSpec, NamedLimit, Origin, Runtime, Setting,
    Source,
};
use crate::config::{self, Defaults, EnvInheritance, FunctionConfig, HandlerRuntime};

/// The Python runtime that serves HANDLERs (and `python3.x` functions of the control plane).
pub fn handler_runtime(args: &Args, python: &PythonInfo) -> HandlerRuntime {
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
    HandlerRuntime {
        python: python.executable.clone(),
        module: module.to_owned(),
        execution_env: format!("AWS_Lambda_python{}", version.as_deref().unwrap_or("3")),
    }
}

/// The functions to serve and warnings about what was ignored; errors are one line for exit 2.
pub fn load(
    args: &Args,
    python: &PythonInfo,
) -> Result<(Vec<FunctionConfig>, Vec<String>), ConfigError> {
    let runtime = handler_runtime(args, python);
    let module = runtime.module.clone();
    let (specs, warnings, defaults) = match &args.program {
        Program::Command(argv) => {
            let spec = single(args, Runtime::Provided, argv.clone());
            (vec![spec], Vec::new(), Defaults::CLI)
        }
        Program::Handler(h) => {
            let spec = single(args, Runtime::Python(None), runtime.command(h));
            (vec![spec], Vec::new(), Defaults::CLI)
        }
        Program::Config(path) => {
            let specs = config::file::load(path)?;
            (
                with_flags(specs, &args.function),
                Vec::new(),
                Defaults::FUNCTION,
            )
        }
        Program::ControlPlaneOnly => (Vec::new(), Vec::new(), Defaults::FUNCTION),
        Program::Template(path) => {
            let (specs, warnings) = config::template::load(path, &args.region, &args.account_id)?;
            (
                with_flags(specs, &args.function),
                warnings,
                Defaults::FUNCTION,
            )
        }
    };
    let ctx = BuildContext {
        runtime: &runtime,
        defaults,
        max_environments: NamedLimit {
            name: "--max-environments".to_owned(),
            value: args.max_environments,
        },
    };
    let mut functions = build_all(&specs, &ctx)?;
    if let Some(run_as) = args.run_as {
        for f in &mut functions {
            f.run_as = run_as;
        }
    }
    // NOTE: `--http-port` serves the first function's URL: it gets one (AuthType NONE) if
    // its configuration declares none.
    if let (Some(_), Some(first)) = (args.http_address, functions.first_mut()) {
        first
            .url
            .get_or_insert_with(crate::config::FunctionUrl::open);
    }
    let uses_python = functions
        .iter()
        .any(|f| f.command.first() == Some(&runtime.python));
    let known_present = args.python_runtime == PythonRuntime::Builtin && python.has_builtin_runtime;
    if uses_python && !known_present {
        check_module_in_background(runtime.python.clone(), module);
    }
    Ok((functions, warnings))
}

/// The single function of the RIE-style command line: its options, the program the argument
/// rule found, lambda-rie's whole environment and the fixed Runtime API address.
fn single(args: &Args, runtime: Runtime, command: Vec<String>) -> FunctionSpec {
    let mut spec = args.function.clone();
    let program = Origin::new(&Arc::new(Source::Flag), "COMMAND");
    spec.runtime = Some(Setting::new(runtime, program.clone()));
    spec.command = Some(Setting::new(command, program));
    spec.inherit_env = Some(EnvInheritance::All);
    spec.runtime_api_address = Some(args.runtime_api_address);
    spec
}

/// Flags given on the command line beat a file's values (flag > config file); lambda-rie's own
/// environment variables and the single function's name, handler and code directory do not.
fn with_flags(mut specs: Vec<FunctionSpec>, options: &FunctionSpec) -> Vec<FunctionSpec> {
    let flags = options.only_from(&Source::Flag);
    for spec in &mut specs {
        spec.merge(&flags);
    }
    specs
}

/// Say loudly (without delaying start-up by an interpreter run) when the runtime module is
/// missing: every cold start would then fail with the interpreter's import error.
fn check_module_in_background(python: String, module: String) {
    std::thread::spawn(move || {
        use std::os::unix::process::CommandExt as _;
        let mut check = std::process::Command::new(&python);
        // NOTE: at the lowest priority, so that on a small machine it does not slow down the
        // first cold start, which starts an interpreter at the same moment.
        // SAFETY: setpriority(2) is async-signal-safe and touches only the child.
        unsafe {
            check.pre_exec(|| {
                libc::setpriority(libc::PRIO_PROCESS, 0, 19);
                Ok(())
            });
        }
        let found = check
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

#[cfg(test)]
mod tests {
    use super::*;

    use crate::cli::args::{parse, Parsed};

    /// The functions of a command line (run in `dir`'s terms), or its one-line error.
    fn functions(args: &[&str], env: &[(&str, &str)]) -> Result<Vec<FunctionConfig>, String> {
        let argv: Vec<String> = std::iter::once("lambda-rie")
            .chain(args.iter().copied())
            .map(String::from)
            .collect();
        let env = |k: &str| {
            env.iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| (*v).to_owned())
                .or_else(|| (k == "PATH").then(|| std::env::var("PATH").unwrap_or_default()))
        };
        let Ok(Parsed::Serve(args)) = parse(&argv, &env) else {
            panic!("{args:?} not served");
        };
        let python = PythonInfo {
            executable: "python3".into(),
            version: Some("3.11".into()),
            has_builtin_runtime: true,
        };
        load(&args, &python)
            .map(|(functions, _)| functions)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn the_single_function_has_the_ries_defaults() {
        let f = &functions(&["app.handler"], &[]).unwrap()[0];
        assert_eq!((f.timeout_s, f.memory_mb), (300, 3008));
        assert_eq!(f.name, "test_function");
        assert_eq!(f.inherit_env, EnvInheritance::All);
        assert_eq!(f.execution_env.as_deref(), Some("AWS_Lambda_python3.11"));
    }

    #[test]
    fn bad_values_name_the_flag_or_variable() {
        type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
        let cases: [Case<'_>; 6] = [
            (&["--timeout", "0", "app.h"], &[], "--timeout: 0 is out of range (1-900)"),
            (&["--timeout", "ten", "app.h"], &[], "--timeout: \"ten\" is not a whole number (1-900)"),
            (&["--memory", "64", "app.h"], &[], "--memory: 64 is out of range (128-10240)"),
            (
                &["app.h"],
                &[("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1")],
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE: 1 is out of range (128-10240)",
            ),
            (
                &["--function-name", "../../etc/passwd", "app.h"],
                &[],
                "--function-name: \"../../etc/passwd\" is not a valid function name: 1 to 64 letters, digits, hyphens or underscores",
            ),
            (&["--code-dir", "/no/such/dir", "app.h"], &[], "--code-dir: /no/such/dir is not a directory"),
        ];
        for (args, env, expected) in cases {
            assert_eq!(functions(args, env).unwrap_err(), expected);
        }
    }

    #[test]
    fn provisioned_concurrency_fits_the_limits() {
        let e = functions(
            &[
                "--max-environments",
                "8",
                "--provisioned-concurrency",
                "1000",
                "app.h",
            ],
            &[],
        );
        assert_eq!(
            e.unwrap_err(),
            "--provisioned-concurrency: 1000 is more than --max-environments (8)"
        );
        let e = functions(
            &[
                "--reserved-concurrency",
                "2",
                "--provisioned-concurrency",
                "3",
                "app.h",
            ],
            &[],
        );
        assert_eq!(
            e.unwrap_err(),
            "--provisioned-concurrency: 3 is more than --reserved-concurrency (2)"
        );
        let f = functions(
            &[
                "--max-environments",
                "8",
                "--provisioned-concurrency",
                "8",
                "app.h",
            ],
            &[],
        );
        assert_eq!(f.unwrap()[0].provisioned_concurrency, 8);
    }

    #[test]
    fn flags_beat_the_file_and_environment_variables_do_not() {
        crate::config::test_support::load_file(
            "lambda-rie.toml",
            "[functions.a]\nhandler = \"app.a\"\ntimeout = 10\nmemory = 256\n",
            |path| {
                let path = path.to_string_lossy();
                let env = [("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")];
                let fs =
                    functions(&["--timeout", "20", "--freeze", "--config", &path], &env).unwrap();
                assert_eq!(
                    (fs[0].timeout_s, fs[0].memory_mb, fs[0].freeze),
                    (20, 256, true)
                );
                let e = functions(&["--timeout", "0", "--config", &path], &[]).unwrap_err();
                assert_eq!(e, "--timeout: 0 is out of range (1-900)");
            },
        );
    }

    /// Flags, switches, subcommands and values the parser may meet.
    const TOKENS: &[&str] = &[
        "--timeout",
        "--memory",
        "--ephemeral-storage",
        "--max-environments",
        "--reserved-concurrency",
        "--provisioned-concurrency",
        "--max-concurrency",
        "--idle-timeout",
        "--function-name",
        "--handler",
        "--code-dir",
        "--layer",
        "--extensions-dir",
        "--config",
        "--template",
        "--log-level",
        "--on-throttle",
        "--shutdown-timeout",
        "--async-retry-delay-scale",
        "--runtime-api-address",
        "--freeze",
        "--watch",
        "--snapstart",
        "--cpu-by-memory",
        "--http-port",
        "--bogus",
        "--",
        "-",
        "invoke",
        "--event",
        "--function",
        "app.handler",
        "sh",
        ".",
        "/no/such",
        "Cargo.toml",
        "../../etc/passwd",
        "0",
        "1",
        "3",
        "900",
        "1000",
        "-1",
        "1.5",
        "ten",
        "",
    ];

    const VARIABLES: &[&str] = &[
        "AWS_LAMBDA_FUNCTION_TIMEOUT",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_MAX_CONCURRENCY",
        "LAMBDA_TASK_ROOT",
        "_HANDLER",
    ];

    fn argument() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        prop_oneof![
            4 => prop::sample::select(TOKENS).prop_map(str::to_owned),
            1 => (prop::sample::select(TOKENS), prop::sample::select(TOKENS))
                .prop_map(|(flag, value)| format!("{flag}={value}")),
            1 => "\\PC{0,12}",
        ]
    }

    proptest::proptest! {
        #![proptest_config(crate::config::test_support::property_cases())]

        /// Whatever the command line, parsing and building never panic, and a refusal names
        /// something that was given: a flag, an argument or a variable.
        #[test]
        fn any_command_line_serves_or_names_what_it_refuses(
            args in proptest::collection::vec(argument(), 0..8),
            env in proptest::collection::vec(
                (proptest::sample::select(VARIABLES), proptest::sample::select(TOKENS)), 0..3),
        ) {
            let argv: Vec<String> = std::iter::once("lambda-rie".to_owned()).chain(args.iter().cloned()).collect();
            let lookup = |k: &str| {
                env.iter().find(|(name, _)| *name == k).map(|(_, v)| (*v).to_owned())
                    .or_else(|| (k == "PATH").then(|| std::env::var("PATH").unwrap_or_default()))
            };
            let refusal = match parse(&argv, &lookup) {
                Err(e) => Some(e.0),
                Ok(Parsed::Serve(a) | Parsed::Invoke(a, _)) => {
                    let python = PythonInfo {
                        executable: "python3".into(),
                        version: Some("3.11".into()),
                        has_builtin_runtime: true,
                    };
                    load(&a, &python).err().map(|e| e.to_string())
                }
                Ok(_) => None,
            };
            if let Some(message) = refusal {
                let named = args.iter()
                    .flat_map(|a| {
                        let (flag, value) = a.split_once('=').unwrap_or((a, a));
                        [a.as_str(), flag, value]
                    })
                    .filter(|a| !a.is_empty())
                    .chain(args.iter().any(String::is_empty).then_some("\"\""))
                    .chain(env.iter().map(|(name, _)| *name))
                    .any(|given| message.contains(given));
                proptest::prop_assert!(named || message.starts_with("no function to serve"), "{message} for {args:?} {env:?}");
                proptest::prop_assert!(!message.contains('\n'), "{message}");
            }
        }
    }
}
