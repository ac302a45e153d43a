//! The `lambda_rie._core` extension module: exports only; logic lives in `lambda-rie-core`.

mod cli;
mod emulator;
mod errors;
mod runtime_client;

use pyo3::prelude::*;

/// The native half of the `lambda_rie` package.
#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(cli::cli_main, m)?)?;
    m.add_class::<runtime_client::RuntimeClient>()?;
    m.add_class::<runtime_client::ResponseStream>()?;
    m.add_function(wrap_pyfunction!(runtime_client::put_trace_id, m)?)?;
    m.add_class::<emulator::Emulator>()?;
    m.add_class::<emulator::PendingInvocation>()?;
    m.add_class::<emulator::InvokeResult>()?;
    m.add_function(wrap_pyfunction!(emulator::function_defaults, m)?)?;
    errors::register(m)?;
    Ok(())
}
