//! Every byte-exact AWS string the emulator writes: service error bodies, Runtime API
//! answers and the platform's function-error payloads. One source of truth (SPEC 2 and 3).

use crate::config::MAX_REQUEST_BYTES;

/// The qualifier every unqualified invoke runs.
pub const LATEST: &str = "$LATEST";

/// Escape a string as the inside of a JSON string literal.
pub fn json_escape(s: &str) -> String {
    let quoted = serde_json::Value::String(s.to_owned()).to_string();
    quoted[1..quoted.len() - 1].to_owned()
}

/// A service-side error of the Invoke API: status, `x-amzn-ErrorType` code and JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceError {
    /// HTTP status.
    pub status: u16,
    /// The `x-amzn-ErrorType` header, which is where boto3 reads the code from.
    pub code: &'static str,
    /// The JSON body, byte-exact.
    pub body: String,
}

impl ServiceError {
    fn user(status: u16, code: &'static str, message: &str) -> Self {
        let body = format!(
            "{{\"Type\": \"User\", \"message\": \"{}\"}}",
            json_escape(message)
        );
        Self { status, code, body }
    }

    /// 404 for a name or ARN that routes to no function.
    pub fn function_not_found(arn: &str) -> Self {
        Self {
            status: 404,
            code: "ResourceNotFoundException",
            body: format!(
                "{{\"Type\": \"User\", \"Message\": \"Function not found: {}\"}}",
                json_escape(arn)
            ),
        }
    }

    /// 413 for a synchronous request body over 6 MB.
    pub fn request_too_large() -> Self {
        Self::user(
            413,
            "RequestEntityTooLargeException",
            &format!(
                "Request must be smaller than {MAX_REQUEST_BYTES} bytes for the InvokeFunction operation"
            ),
        )
    }

    /// 413 for an `Event` body over 1 MB.
    pub fn event_too_large(size: usize, limit: usize) -> Self {
        Self::user(
            413,
            "RequestEntityTooLargeException",
            &format!(
                "{size} byte payload is too large for the Event invocation type (limit {limit} bytes)"
            ),
        )
    }

    /// 400 for a body that is not JSON.
    pub fn invalid_json(detail: &str) -> Self {
        Self::user(
            400,
            "InvalidRequestContentException",
            &format!("Could not parse request body into json: {detail}"),
        )
    }

    /// 400 for an `X-Amz-Client-Context` that is not base64 of a JSON object.
    pub fn invalid_client_context() -> Self {
        Self::user(
            400,
            "InvalidRequestContentException",
            "Client context must be a valid Base64-encoded JSON object.",
        )
    }

    /// 400 for a request header value the Invoke API does not accept.
    pub fn invalid_parameter(message: &str) -> Self {
        Self::user(400, "InvalidParameterValueException", message)
    }

    /// 429: no environment free. `reserved` says which limit bound.
    pub fn throttled(reserved: bool) -> Self {
        let reason = if reserved {
            "ReservedFunctionConcurrentInvocationLimitExceeded"
        } else {
            "ConcurrentInvocationLimitExceeded"
        };
        Self {
            status: 429,
            code: "TooManyRequestsException",
            body: format!(
                "{{\"Reason\": \"{reason}\", \"Type\": \"User\", \"message\": \"Rate Exceeded.\"}}"
            ),
        }
    }

    /// 405 for an invoke path with a method other than POST.
    pub fn method_not_allowed() -> Self {
        Self::user(405, "MethodNotAllowedException", "Method not allowed")
    }

    /// 500 for a failure of the emulator itself (e.g. no port for a new environment).
    pub fn service(message: &str) -> Self {
        Self::user(500, "ServiceException", message)
    }

    /// 503 while the emulator shuts down.
    pub fn shutting_down() -> Self {
        Self::user(
            503,
            "ServiceException",
            "The emulator is shutting down and accepts no new invocations.",
        )
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

/// Runtime API answers (SPEC 3), each a status and a body ending in a newline.
pub mod runtime {
    /// 202 to `/response`, `/error` and `/init/error`.
    pub const ACCEPTED: &str = "{\"status\":\"OK\"}\n";
    /// 400 for an unknown or malformed request id.
    pub const INVALID_REQUEST_ID: &str =
        "{\"errorMessage\":\"Invalid request ID\",\"errorType\":\"InvalidRequestID\"}\n";
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

/// Extensions API and Telemetry API answers (SPEC 3), as AWS's Runtime API renders them.
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
            e.body,
            r#"{"Reason": "ReservedFunctionConcurrentInvocationLimitExceeded", "Type": "User", "message": "Rate Exceeded."}"#
        );
        assert_eq!(e.status, 429);
    }

    #[test]
    fn request_too_large_names_the_limit() {
        assert_eq!(
            ServiceError::request_too_large().body,
            r#"{"Type": "User", "message": "Request must be smaller than 6291456 bytes for the InvokeFunction operation"}"#
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
