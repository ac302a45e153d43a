//! Every byte-exact AWS string the emulator writes: service error bodies, Runtime API
//! answers and the platform's function-error payloads. One source of truth (docs/reference.md §2,
//! §3).

use crate::config::MAX_REQUEST_BYTES;

/// The qualifier every unqualified invoke runs.
pub const LATEST: &str = "$LATEST";

/// Escape a string as the inside of a JSON string literal.
pub fn json_escape(s: &str) -> String {
    let quoted = serde_json::Value::String(s.to_owned()).to_string();
    quoted[1..quoted.len() - 1].to_owned()
}

/// Which limit throttled an invocation (`Reason` of the 429 body).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThrottleReason {
    /// The function's reserved concurrency is in use.
    ReservedConcurrency,
    /// The emulator-wide environment cap (the account's concurrency on AWS) is in use.
    AccountConcurrency,
}

/// A service-side error of the Invoke API (and, next, the rest of the Lambda API). Each kind
/// knows its status, its `x-amzn-ErrorType` code and its message; [`ServiceError::body`]
/// renders AWS's bytes. A new kind is a new variant: the compiler then shows every place
/// that must handle it (the HTTP mapping here, the Python exception map in the binding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceError {
    /// 404: the name or ARN routes to no function; carries the qualified ARN.
    FunctionNotFound {
        /// `arn:aws:lambda:<region>:<account>:function:<name>:<qualifier>`.
        arn: String,
    },
    /// 413: a synchronous request body over 6 MB.
    RequestTooLarge,
    /// 413: an `Event` body over 1 MB.
    EventTooLarge {
        /// The body's size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// 400: a body that is not JSON (or not UTF-8, or nested too deeply).
    InvalidJson {
        /// What the parser said.
        detail: String,
    },
    /// 400: an `X-Amz-Client-Context` that is not base64 of a JSON object.
    InvalidClientContext,
    /// 400: a request parameter the API does not accept.
    InvalidParameter {
        /// AWS's message.
        message: String,
    },
    /// 400: a value that fails the API's constraints (pattern, length), in AWS's words:
    /// `1 validation error detected: Value '<v>' at '<member>' failed to satisfy constraint: <c>`.
    Validation {
        /// The offending value.
        value: String,
        /// The request member, camelCase (`functionName`).
        member: &'static str,
        /// The constraint it fails.
        constraint: String,
    },
    /// 429: no environment free.
    Throttled(ThrottleReason),
    /// 405: a known path with another method.
    MethodNotAllowed,
    /// 404: a path that is no operation.
    UnknownOperation,
    /// 500: a failure of the emulator itself (e.g. no port for a new environment).
    Service {
        /// What failed.
        message: String,
    },
    /// 503: the emulator is shutting down.
    ShuttingDown,
    /// 408: the request's body stopped arriving.
    RequestTimeout,
    /// 404 `ResourceNotFoundException` of the control plane with AWS's own text (`Function
    /// not found: <arn>`, `Cannot find alias arn: <arn>`, ...); body key `Message`.
    ResourceNotFound {
        /// AWS's message.
        message: String,
    },
    /// 409 `ResourceConflictException` (exists already, update in progress); key `message`.
    ResourceConflict {
        /// AWS's message.
        message: String,
    },
    /// 412 `PreconditionFailedException`: a `RevisionId` that is not the current one.
    PreconditionFailed {
        /// AWS's message.
        message: String,
    },
    /// 413 `RequestEntityTooLargeException` of CreateFunction / UpdateFunctionCode.
    EntityTooLarge {
        /// AWS's message.
        message: String,
    },
    /// 404 `ProvisionedConcurrencyConfigNotFoundException`; key `message`.
    ProvisionedConcurrencyConfigNotFound,
    /// 403 `AccessDeniedException`: a control-plane call on a resource of another account.
    AccessDenied {
        /// What was refused.
        message: String,
    },
    /// 400 `SnapStartException`: an after-restore hook of a SnapStart restore failed.
    SnapStart,
    /// 408 `SnapStartTimeoutException`: a SnapStart restore ran past its 10 s.
    SnapStartTimeout,
}

impl ServiceError {
    /// 404 for a name or ARN that routes to no function.
    pub fn function_not_found(arn: &str) -> Self {
        Self::FunctionNotFound {
            arn: arn.to_owned(),
        }
    }

    /// 413 for a synchronous request body over 6 MB.
    pub fn request_too_large() -> Self {
        Self::RequestTooLarge
    }

    /// 413 for an `Event` body over 1 MB.
    pub fn event_too_large(size: usize, limit: usize) -> Self {
        Self::EventTooLarge { size, limit }
    }

    /// 400 for a body that is not JSON.
    pub fn invalid_json(detail: &str) -> Self {
        Self::InvalidJson {
            detail: detail.to_owned(),
        }
    }

    /// 400 for an `X-Amz-Client-Context` that is not base64 of a JSON object.
    pub fn invalid_client_context() -> Self {
        Self::InvalidClientContext
    }

    /// 400 for a request header value the Invoke API does not accept.
    pub fn invalid_parameter(message: &str) -> Self {
        Self::InvalidParameter {
            message: message.to_owned(),
        }
    }

    /// 429: no environment free. `reserved` says which limit bound.
    pub fn throttled(reserved: bool) -> Self {
        Self::Throttled(if reserved {
            ThrottleReason::ReservedConcurrency
        } else {
            ThrottleReason::AccountConcurrency
        })
    }

    /// 405 for an invoke path with a method other than POST.
    pub fn method_not_allowed() -> Self {
        Self::MethodNotAllowed
    }

    /// 500 for a failure of the emulator itself (e.g. no port for a new environment).
    pub fn service(message: &str) -> Self {
        Self::Service {
            message: message.to_owned(),
        }
    }

    /// 408 for a request whose body stopped arriving (nothing for the header-read timeout).
    pub fn request_timeout() -> Self {
        Self::RequestTimeout
    }

    /// 503 while the emulator shuts down.
    pub fn shutting_down() -> Self {
        Self::ShuttingDown
    }

    /// 404 `ResourceNotFoundException` with AWS's text for the resource.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::ResourceNotFound {
            message: message.into(),
        }
    }

    /// 409 `ResourceConflictException`.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::ResourceConflict {
            message: message.into(),
        }
    }

    /// 412 for a `RevisionId` that is not the current one; `api` names the call that reads it
    /// (`GetFunction/GetAlias` or `GetPolicy`).
    pub fn revision_mismatch(api: &str) -> Self {
        Self::PreconditionFailed {
            message: format!(
                "The Revision Id provided does not match the latest Revision Id. Call the {api} API to retrieve the latest Revision Id"
            ),
        }
    }

    /// 413 `RequestEntityTooLargeException` with AWS's text.
    pub fn entity_too_large(message: impl Into<String>) -> Self {
        Self::EntityTooLarge {
            message: message.into(),
        }
    }

    /// 403 `AccessDeniedException` for a function ARN of `account`, not the emulator's.
    pub fn access_denied(own_account: &str, arn: &str) -> Self {
        Self::AccessDenied {
            message: format!(
                "User: arn:aws:iam::{own_account}:root is not authorized to perform this operation on resource: {arn} because it belongs to another account (lambda-rie serves account {own_account})"
            ),
        }
    }

    /// 400 `ValidationException` in AWS's words.
    pub fn validation(value: &str, member: &'static str, constraint: impl Into<String>) -> Self {
        Self::Validation {
            value: value.to_owned(),
            member,
            constraint: constraint.into(),
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            Self::FunctionNotFound { .. }
            | Self::UnknownOperation
            | Self::ResourceNotFound { .. }
            | Self::ProvisionedConcurrencyConfigNotFound => 404,
            Self::RequestTooLarge | Self::EventTooLarge { .. } | Self::EntityTooLarge { .. } => 413,
            Self::ResourceConflict { .. } => 409,
            Self::PreconditionFailed { .. } => 412,
            Self::AccessDenied { .. } => 403,
            Self::InvalidJson { .. }
            | Self::InvalidClientContext
            | Self::InvalidParameter { .. }
            | Self::Validation { .. }
            | Self::SnapStart => 400,
            Self::Throttled(_) => 429,
            Self::MethodNotAllowed => 405,
            Self::Service { .. } => 500,
            Self::ShuttingDown => 503,
            Self::RequestTimeout | Self::SnapStartTimeout => 408,
        }
    }

    /// The `x-amzn-ErrorType` header, which is where boto3 reads the code from.
    pub fn code(&self) -> &'static str {
        match self {
            Self::FunctionNotFound { .. } | Self::ResourceNotFound { .. } => {
                "ResourceNotFoundException"
            }
            Self::RequestTooLarge | Self::EventTooLarge { .. } | Self::EntityTooLarge { .. } => {
                "RequestEntityTooLargeException"
            }
            Self::ResourceConflict { .. } => "ResourceConflictException",
            Self::AccessDenied { .. } => "AccessDeniedException",
            Self::PreconditionFailed { .. } => "PreconditionFailedException",
            Self::ProvisionedConcurrencyConfigNotFound => {
                "ProvisionedConcurrencyConfigNotFoundException"
            }
            Self::InvalidJson { .. } | Self::InvalidClientContext => {
                "InvalidRequestContentException"
            }
            Self::InvalidParameter { .. } => "InvalidParameterValueException",
            Self::Validation { .. } => "ValidationException",
            Self::Throttled(_) => "TooManyRequestsException",
            Self::MethodNotAllowed => "MethodNotAllowedException",
            Self::UnknownOperation => "UnknownOperationException",
            Self::Service { .. } | Self::ShuttingDown => "ServiceException",
            Self::RequestTimeout => "RequestTimeoutException",
            Self::SnapStart => "SnapStartException",
            Self::SnapStartTimeout => "SnapStartTimeoutException",
        }
    }

    /// The human message, as it appears in the body.
    pub fn message(&self) -> String {
        match self {
            Self::FunctionNotFound { arn } => format!("Function not found: {arn}"),
            Self::RequestTooLarge => format!(
                "Request must be smaller than {MAX_REQUEST_BYTES} bytes for the InvokeFunction operation"
            ),
            Self::EventTooLarge { size, limit } => format!(
                "{size} byte payload is too large for the Event invocation type (limit {limit} bytes)"
            ),
            Self::InvalidJson { detail } => {
                format!("Could not parse request body into json: {detail}")
            }
            Self::InvalidClientContext => {
                "Client context must be a valid Base64-encoded JSON object.".to_owned()
            }
            Self::InvalidParameter { message }
            | Self::Service { message }
            | Self::ResourceNotFound { message }
            | Self::ResourceConflict { message }
            | Self::PreconditionFailed { message }
            | Self::AccessDenied { message }
            | Self::EntityTooLarge { message } => message.clone(),
            Self::ProvisionedConcurrencyConfigNotFound => {
                "No Provisioned Concurrency Config found for this function".to_owned()
            }
            Self::Validation {
                value,
                member,
                constraint,
            } => format!(
                "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: {constraint}"
            ),
            Self::Throttled(_) => "Rate Exceeded.".to_owned(),
            Self::MethodNotAllowed => "Method not allowed".to_owned(),
            Self::UnknownOperation => "Unknown operation".to_owned(),
            Self::ShuttingDown => {
                "The emulator is shutting down and accepts no new invocations.".to_owned()
            }
            Self::RequestTimeout => {
                "The rest of the request body did not arrive in time.".to_owned()
            }
            // NOTE: the exception's documentation in AWS's API model, as its message.
            Self::SnapStart => "The afterRestore() runtime hook encountered an error. For more information, check the Amazon CloudWatch logs.".to_owned(),
            Self::SnapStartTimeout => {
                "Lambda couldn't restore the snapshot within the timeout limit.".to_owned()
            }
        }
    }

    /// The JSON body, byte-exact: `{"Type": "User", "message": ...}`, with AWS's capital
    /// `Message` for the 404 and the `Reason` first for a throttle.
    pub fn body(&self) -> String {
        let message = json_escape(&self.message());
        match self {
            Self::FunctionNotFound { .. } | Self::ResourceNotFound { .. } => {
                format!("{{\"Type\": \"User\", \"Message\": \"{message}\"}}")
            }
            Self::Throttled(reason) => {
                let reason = match reason {
                    ThrottleReason::ReservedConcurrency => {
                        "ReservedFunctionConcurrentInvocationLimitExceeded"
                    }
                    ThrottleReason::AccountConcurrency => "ConcurrentInvocationLimitExceeded",
                };
                format!(
                    "{{\"Reason\": \"{reason}\", \"Type\": \"User\", \"message\": \"{message}\"}}"
                )
            }
            _ => format!("{{\"Type\": \"User\", \"message\": \"{message}\"}}"),
        }
    }
}

/// Compact platform error payload `{"errorType":...,"errorMessage":...}` in AWS's key order.
pub fn platform_error(error_type: &str, message: &str) -> String {
    format!(
        "{{\"errorType\":\"{}\",\"errorMessage\":\"{}\"}}",
        json_escape(error_type),
        json_escape(message)
    )
}

/// The error type of an invocation that ran past its timeout.
pub const TIMED_OUT: &str = "Sandbox.Timedout";

/// `Sandbox.Timedout` payload for a timeout after `elapsed_s` seconds.
pub fn timeout_payload(request_id: &str, elapsed_s: f64) -> String {
    platform_error(
        TIMED_OUT,
        &format!("RequestId: {request_id} Error: Task timed out after {elapsed_s:.2} seconds"),
    )
}

/// The error type of a response over its size limit.
pub const RESPONSE_TOO_LARGE: &str = "Function.ResponseSizeTooLarge";

/// The function response that exceeded its size limit (`limit`: 6291556 bytes buffered,
/// 200 MB streamed).
pub fn response_too_large_payload(limit: usize) -> String {
    format!(
        "{{\"errorMessage\":\"Response payload size exceeded maximum allowed payload size ({limit} bytes).\",\"errorType\":\"Function.ResponseSizeTooLarge\"}}"
    )
}

/// The error type of an invocation whose streamed response broke off (AWS's runtime core calls
/// it a truncated response).
pub const TRUNCATED_RESPONSE: &str = "Runtime.TruncatedResponse";

/// The function error of a streamed response that broke off before its end (lambda-rie's
/// words).
pub fn truncated_response_payload() -> String {
    platform_error(
        TRUNCATED_RESPONSE,
        "The runtime's response ended before its body was complete.",
    )
}

/// Runtime API answers (docs/reference.md §3), each a status and a body ending in a newline.
pub mod runtime {
    /// 202 to `/response`, `/error` and `/init/error`.
    pub const ACCEPTED: &str = "{\"status\":\"OK\"}\n";
    /// 400 for an unknown or malformed request id.
    pub const INVALID_REQUEST_ID: &str =
        "{\"errorMessage\":\"Invalid request ID\",\"errorType\":\"InvalidRequestID\"}\n";
    /// 400 for a `/response` or `/error` whose body broke off (lambda-rie's words): a buffered
    /// answer may be posted again, a streamed one fails with `Runtime.TruncatedResponse`.
    pub const TRUNCATED_BODY: &str = "{\"errorMessage\":\"The request body could not be read to its end\",\"errorType\":\"InvalidRequestBody\"}\n";
    /// 410 for a response to an invocation that has timed out.
    pub const INVOKE_TIMEOUT: &str =
        "{\"errorMessage\":\"Invoke timeout\",\"errorType\":\"InvokeTimeout\"}\n";
    /// 404 for a path the Runtime API does not have.
    pub const NOT_FOUND: &str = "{\"errorMessage\":\"Not Found\",\"errorType\":\"NotFound\"}\n";
    /// 405 for a known path with the wrong method.
    pub const METHOD_NOT_ALLOWED: &str =
        "{\"errorMessage\":\"Method Not Allowed\",\"errorType\":\"MethodNotAllowed\"}\n";
    /// 400 for a response mode other than `streaming`.
    pub const INVALID_RESPONSE_MODE: &str = "{\"errorMessage\":\"Invalid function response mode\",\"errorType\":\"InvalidFunctionResponseMode\"}\n";

    /// 403 for a second response or error to one invocation; `to` is `InvocationResponse`
    /// or `InvocationErrorResponse`.
    pub fn already_answered(to: &str) -> String {
        format!(
            "{{\"errorMessage\":\"State transition from RuntimeResponseSentState to {to} failed for runtime. Error: State transition is not allowed\",\"errorType\":\"InvalidStateTransition\"}}\n"
        )
    }

    /// 403 for `/init/error` once the runtime has asked for its first invocation.
    pub fn init_error_after_next() -> String {
        "{\"errorMessage\":\"State transition from Ready to InitError failed for runtime. Error: State transition is not allowed\",\"errorType\":\"InvalidStateTransition\"}\n".to_owned()
    }

    /// 413 for a response body over `limit` bytes (6291556 buffered, 200 MB streamed).
    pub fn response_too_large(limit: usize) -> String {
        format!(
            "{{\"errorMessage\":\"Exceeded maximum allowed payload size ({limit} bytes).\",\"errorType\":\"RequestEntityTooLarge\"}}\n"
        )
    }
}

/// Extensions API and Telemetry API answers (docs/reference.md §3), as AWS's Runtime API renders
/// them.
pub mod extension {
    use super::json_escape;

    /// Most extensions one environment registers (external and internal together).
    pub const MAX_EXTENSIONS: usize = 10;

    /// `{"errorMessage": .., "errorType": ..}` as every Extensions API refusal reads.
    pub fn error(error_type: &str, message: &str) -> String {
        format!(
            "{{\"errorMessage\":\"{}\",\"errorType\":\"{error_type}\"}}\n",
            json_escape(message)
        )
    }

    /// 403: `register` without a `Lambda-Extension-Name`.
    pub fn empty_name() -> String {
        error("Extension.InvalidExtensionName", "Empty extension name")
    }

    /// 403: `register` once init is over.
    pub fn registration_closed() -> String {
        error(
            "Extension.RegistrationClosed",
            "Extension registration closed already",
        )
    }

    /// 403: an eleventh extension.
    pub fn too_many() -> String {
        error(
            "Extension.TooManyExtensions",
            &format!("Extension limit ({MAX_EXTENSIONS}) reached"),
        )
    }

    /// 403: a second registration under one name.
    pub fn name_taken() -> String {
        error(
            "Extension.InvalidExtensionState",
            "Extension with this name already registered",
        )
    }

    /// 403: an event type the extension may not subscribe to.
    pub fn invalid_event(event: &str, why: &str) -> String {
        error("Extension.InvalidEventType", &format!("{event}: {why}"))
    }

    /// 403: a register body that is not `{"events": [..]}`.
    pub fn invalid_request(why: &str) -> String {
        error("InvalidRequestFormat", why)
    }

    /// 403: no `Lambda-Extension-Identifier` header.
    pub fn missing_identifier() -> String {
        error(
            "Extension.MissingExtensionIdentifier",
            "Missing Lambda-Extension-Identifier header",
        )
    }

    /// 403: a `Lambda-Extension-Identifier` that is not a UUID.
    pub fn invalid_identifier() -> String {
        error(
            "Extension.InvalidExtensionIdentifier",
            "Invalid Lambda-Extension-Identifier",
        )
    }

    /// 403: an identifier this environment never gave out.
    pub fn unknown_identifier(id: &str) -> String {
        error(
            "Extension.UnknownExtensionIdentifier",
            &format!("Unknown extension {id}"),
        )
    }

    /// 403: a call the extension's state does not allow (e.g. `init/error` after init).
    pub fn invalid_state(from: &str, to: &str, id: &str) -> String {
        error(
            "Extension.InvalidExtensionState",
            &format!(
                "State transition from {from} to {to} failed for extension {id}. Error: State transition is not allowed"
            ),
        )
    }

    /// 400: a Telemetry or Logs API subscription AWS would refuse.
    pub fn validation(message: &str) -> String {
        error("ValidationError", message)
    }

    /// The invoke answer when init fails because of an extension (`Extension.Crash`,
    /// `Extension.InitError`, `Extension.ExitError`).
    pub fn init_failure(error_type: &str, request_id: &str, reason: &str) -> String {
        super::platform_error(
            error_type,
            &format!("RequestId: {request_id} Error: {reason}"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_body_is_exact() {
        let e = ServiceError::throttled(true);
        assert_eq!(
            e.body(),
            r#"{"Reason": "ReservedFunctionConcurrentInvocationLimitExceeded", "Type": "User", "message": "Rate Exceeded."}"#
        );
        assert_eq!(e.status(), 429);
    }

    #[test]
    fn request_too_large_names_the_limit() {
        assert_eq!(
            ServiceError::request_too_large().body(),
            r#"{"Type": "User", "message": "Request must be smaller than 6291456 bytes for the InvokeFunction operation"}"#
        );
    }

    #[test]
    fn snapstart_refusals_are_aws_exceptions() {
        let hook = ServiceError::SnapStart;
        assert_eq!((hook.status(), hook.code()), (400, "SnapStartException"));
        assert_eq!(
            hook.body(),
            r#"{"Type": "User", "message": "The afterRestore() runtime hook encountered an error. For more information, check the Amazon CloudWatch logs."}"#
        );
        let late = ServiceError::SnapStartTimeout;
        assert_eq!(
            (late.status(), late.code()),
            (408, "SnapStartTimeoutException")
        );
        assert_eq!(
            late.message(),
            "Lambda couldn't restore the snapshot within the timeout limit."
        );
    }

    #[test]
    fn timeout_payload_is_compact() {
        assert_eq!(
            timeout_payload("abc", 1.004),
            r#"{"errorType":"Sandbox.Timedout","errorMessage":"RequestId: abc Error: Task timed out after 1.00 seconds"}"#
        );
    }

    #[test]
    fn escapes_quotes() {
        assert_eq!(json_escape("a\"b\n"), "a\\\"b\\n");
    }
}
