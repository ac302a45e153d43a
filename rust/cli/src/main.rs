//! The native `lambda-rie` binary: the command `pip install lambda-rie` puts on PATH, and the
//! standalone binary for images without the Python package (HANDLERs then run with `python3`
//! from `PATH`).

mod installed;

use std::os::unix::process::CommandExt;

use lambda_rie_core::cli::{main_with, PythonInfo};

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    let beside = installed::python_beside_exe();
    if argv.get(1).map(String::as_str) == Some("bench") {
        if let Some(python) = &beside {
            std::process::exit(python_subcommand(&python.executable, &argv[1..]));
        }
    }
    let python = beside.unwrap_or_else(|| PythonInfo {
        executable: "python3".to_owned(),
        version: None,
        has_builtin_runtime: false,
    });
    std::process::exit(main_with(&argv, &python));
}

/// `lambda-rie bench ...` is the Python package's: become `<python> -m lambda_rie bench ...`.
fn python_subcommand(python: &str, args: &[String]) -> i32 {
    let err = std::process::Command::new(python)
        .args(["-m", "lambda_rie"])
        .args(args)
        .exec();
    eprintln!("lambda-rie: cannot exec {python}: {err}");
    127
}
