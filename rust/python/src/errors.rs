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

/// A service-side error of an invocation, raised as the class its AWS code names.
pub struct ServiceErr(pub ServiceError);

impl From<ServiceErr> for PyErr {
    fn from(err: ServiceErr) -> PyErr {
        let message = err.0.message();
        // NOTE: exhaustive on purpose: a new kind of service error must be given its class here.
        match err.0 {
            ServiceError::FunctionNotFound { .. }
            | ServiceError::ResourceNotFound { .. }
            | ServiceError::ProvisionedConcurrencyConfigNotFound => {
                ResourceNotFoundError::new_err(message)
            }
            ServiceError::Throttled(_) => TooManyRequestsError::new_err(message),
            ServiceError::RequestTooLarge
            | ServiceError::EventTooLarge { .. }
            | ServiceError::EntityTooLarge { .. } => RequestTooLargeError::new_err(message),
            ServiceError::InvalidJson { .. } | ServiceError::InvalidClientContext => {
                InvalidRequestContentError::new_err(message)
            }
            ServiceError::InvalidParameter { .. }
            | ServiceError::Validation { .. }
            | ServiceError::MethodNotAllowed
            | ServiceError::UnknownOperation
            | ServiceError::Service { .. }
            | ServiceError::ShuttingDown
            | ServiceError::ResourceConflict { .. }
            | ServiceError::AccessDenied { .. }
            | ServiceError::PreconditionFailed { .. }
            | ServiceError::RequestTimeout
            | ServiceError::SnapStart
            | ServiceError::SnapStartTimeout => LambdaRieError::new_err(message),
        }
    }
}

/// A configuration value the core refuses; the text names the option.
pub fn config(message: String) -> PyErr {
    CoreErr(lambda_rie_core::CoreError::Config(message)).into()
}

/// The emulator was closed before (or while) the call could be answered.
pub fn closed() -> PyErr {
    LambdaRieError::new_err("the emulator is closed")
}
