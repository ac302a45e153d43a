//! The Python exception tree and the one conversion from core errors.

use lambda_rie_core::aws::ServiceError;
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

create_exception!(
    lambda_rie._core,
    LambdaRieError,
    PyException,
    "Base class of every lambda-rie error."
);
create_exception!(
    lambda_rie._core,
    ResourceNotFoundError,
    LambdaRieError,
    "No function answers to the name or ARN (AWS's `ResourceNotFoundException`)."
);
create_exception!(
    lambda_rie._core,
    TooManyRequestsError,
    LambdaRieError,
    "No execution environment is free: the function's reserved concurrency or the emulator's \
     environment cap is reached (AWS's `TooManyRequestsException`)."
);
create_exception!(
    lambda_rie._core,
    RequestTooLargeError,
    LambdaRieError,
    "The event is over the invoke payload limit (AWS's `RequestEntityTooLargeException`)."
);
create_exception!(
    lambda_rie._core,
    InvalidRequestContentError,
    LambdaRieError,
    "The event or the client context is not valid JSON (AWS's `InvalidRequestContentException`)."
);

/// Add the exception classes to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("LambdaRieError", py.get_type::<LambdaRieError>())?;
    m.add(
        "ResourceNotFoundError",
        py.get_type::<ResourceNotFoundError>(),
    )?;
    m.add(
        "TooManyRequestsError",
        py.get_type::<TooManyRequestsError>(),
    )?;
    m.add(
        "RequestTooLargeError",
        py.get_type::<RequestTooLargeError>(),
    )?;
    m.add(
        "InvalidRequestContentError",
        py.get_type::<InvalidRequestContentError>(),
    )?;
    Ok(())
}

/// Every core error becomes a `LambdaRieError` carrying the core's message.
pub struct CoreErr(pub lambda_rie_core::CoreError);

impl From<CoreErr> for PyErr {
    fn from(err: CoreErr) -> PyErr {
        LambdaRieError::new_err(err.0.to_string())
    }
}

/// A service-side error of an invocation (SPEC 2), raised as the class its AWS code names.
pub struct ServiceErr(pub ServiceError);

impl From<ServiceErr> for PyErr {
    fn from(err: ServiceErr) -> PyErr {
        let message = service_message(&err.0);
        match err.0.code {
            "ResourceNotFoundException" => ResourceNotFoundError::new_err(message),
            "TooManyRequestsException" => TooManyRequestsError::new_err(message),
            "RequestEntityTooLargeException" => RequestTooLargeError::new_err(message),
            "InvalidRequestContentException" => InvalidRequestContentError::new_err(message),
            _ => LambdaRieError::new_err(message),
        }
    }
}

/// The AWS message of a service error body (`message`, or `Message` for the 404), else the code.
fn service_message(err: &ServiceError) -> String {
    let body: serde_json::Value = serde_json::from_str(&err.body).unwrap_or_default();
    ["message", "Message"]
        .iter()
        .find_map(|key| body.get(key).and_then(serde_json::Value::as_str))
        .map_or_else(|| err.code.to_owned(), str::to_owned)
}

/// A configuration value the core refuses; the text names the option.
pub fn config(message: String) -> PyErr {
    CoreErr(lambda_rie_core::CoreError::Config(message)).into()
}

/// The emulator was closed before (or while) the call could be answered.
pub fn closed() -> PyErr {
    LambdaRieError::new_err("the emulator is closed")
}
