//! The standalone `lambda-rie` binary: the same command line as the Python console script,
//! for images without Python (HANDLERs then run with `python3` from `PATH`).

use lambda_rie_core::cli::{main_with, PythonInfo};

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    let python = PythonInfo {
        executable: "python3".to_owned(),
        version: None,
        has_builtin_runtime: false,
    };
    std::process::exit(main_with(&argv, &python));
}
