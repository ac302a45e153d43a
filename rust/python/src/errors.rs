//! The Python exception tree and the one conversion from core errors.

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

create_exception!(
    _core,
    LambdaRieError,
    PyException,
    "Base class of every lambda-rie error."
);

/// Add the exception classes to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("LambdaRieError", m.py().get_type::<LambdaRieError>())?;
    Ok(())
}

/// Every core error becomes a `LambdaRieError` carrying the core's message.
pub struct CoreErr(pub lambda_rie_core::CoreError);

impl From<CoreErr> for PyErr {
    fn from(err: CoreErr) -> PyErr {
        LambdaRieError::new_err(err.0.to_string())
    }
}
