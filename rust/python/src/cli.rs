//! `python -m lambda_rie`'s entry point: hands argv to the core's CLI with the GIL released.

use lambda_rie_core::cli::{main_with, PythonInfo};
use pyo3::prelude::*;

/// Run the `lambda-rie` command line with `argv` (program name first) and return its exit code.
///
/// `python` is the interpreter that runs the built-in Python runtime (normally `sys.executable`)
/// and `version` its `major.minor`.
#[pyfunction]
#[pyo3(signature = (argv, python, version))]
pub fn cli_main(py: Python<'_>, argv: Vec<String>, python: String, version: String) -> i32 {
    let info = PythonInfo {
        executable: python,
        version: Some(version),
        has_builtin_runtime: true,
    };
    py.detach(move || main_with(&argv, &info))
}
