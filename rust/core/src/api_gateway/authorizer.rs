//! Lambda authorizers (docs/reference.md §15): before a protected route's function runs, the
//! API's authorizer function is invoked with the caller's identity and decides, as API Gateway
//! does. Sources:
//! https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-lambda-authorizer-input.html
//! (TOKEN and REQUEST input), .../api-gateway-lambda-authorizer-output.html (the IAM policy and
//! `context`), .../http-api-lambda-authorizer.html (HTTP APIs: payload 1.0 and 2.0, simple
//! responses, `requestContext.authorizer.lambda`), and AWS's troubleshooting articles for the
//! answers (401 `{"message":"Unauthorized"}` when the identity is missing or the authorizer
//! fails with `Unauthorized`; 403 `{"Message":"User is not authorized to access this resource
//! with an explicit deny"}`; 500 with `x-amzn-ErrorType: AuthorizerConfigurationException` when
//! the authorizer fails or answers something else).

use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::header::HeaderValue;
use serde_json::{json, Map, Value};

use super::policy::{self, Verdict};
use crate::config::gateway::{Authorizer, AuthorizerKind, IdentitySource};
use crate::config::ApiKind;
use crate::http::{self, Response};
use crate::invocation::{Invocation, OutcomeKind};
use crate::invoke_api::routing::percent_decode;
use crate::invoke_api::InvokeApi;

/// An authorizer is given as long as an integration (API Gateway's own limit).
const AUTHORIZER_TIMEOUT: Duration = Duration::from_secs(29);

/// One request to be authorized.
pub struct Check<'a> {
    /// The route's authorizer.
    pub authorizer: &'a Authorizer,
    /// The kind of API (its answers differ).
    pub api: ApiKind,
    /// The method ARN (REST) or route ARN (HTTP API):
    /// `arn:aws:execute-api:<region>:<account>:<api>/<stage>/<METHOD>/<path>`.
    pub arn: String,
    /// The request as a payload 1.0 event, and as a 2.0 one (the authorizer's event is either,
    /// without the body).
    pub event_v1: &'a Value,
    /// The request as a payload 2.0 event.
    pub event_v2: &'a Value,
    /// The request's headers, names as sent.
    pub headers: &'a [(String, String)],
    /// The query string without its `?`.
    pub query: &'a str,
    /// The stage's variables.
    pub stage_variables: Option<&'a [(String, String)]>,
}

/// What the authorizer decided.
pub enum Decision {
    /// The function runs; this is its event's `requestContext.authorizer`.
    Allow(Value),
    /// API Gateway's answer instead.
    Refuse(Response),
}

/// Run the route's authorizer for `check`.
pub async fn decide(api: &InvokeApi, check: &Check<'_>) -> Decision {
    let Some(identity) = identity(check) else {
        return Decision::Refuse(unauthorized());
    };
    if let Some(expression) = &check.authorizer.validation {
        let valid = regex::Regex::new(&format!("^(?:{expression})$"))
            .is_ok_and(|r| identity.first().is_some_and(|token| r.is_match(token)));
        if !valid {
            return Decision::Refuse(unauthorized());
        }
    }
    let event = event(check, &identity);
    let started = Instant::now();
    let Ok(target) = api.registry.resolve(&check.authorizer.function, None) else {
        return Decision::Refuse(failed(check.api));
    };
    let invocation = Invocation::new(Bytes::from(event.to_string()), target.invoked_arn);
    let invoked = tokio::time::timeout(AUTHORIZER_TIMEOUT, target.scheduler.invoke(invocation));
    let Ok(Ok(outcome)) = invoked.await else {
        return Decision::Refuse(failed(check.api));
    };
    let answer: Option<Value> = serde_json::from_slice(&outcome.payload).ok();
    match outcome.kind {
        OutcomeKind::Success => {}
        // NOTE: an authorizer that fails with the message `Unauthorized` asks for a 401.
        OutcomeKind::HandlerError
            if check.api == ApiKind::Rest
                && answer.as_ref().and_then(|a| a.get("errorMessage"))
                    == Some(&json!("Unauthorized")) =>
        {
            return Decision::Refuse(unauthorized());
        }
        _ => return Decision::Refuse(failed(check.api)),
    }
    let latency = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    match answer {
        Some(answer) => verdict(check, &answer, latency),
        None => Decision::Refuse(failed(check.api)),
    }
}

/// The identity source values, in order; `None` when one is missing or empty.
fn identity(check: &Check<'_>) -> Option<Vec<String>> {
    let context = check.event_v1.get("requestContext");
    let found = |source: &IdentitySource| -> Option<String> {
        match source {
            IdentitySource::Header(name) => check
                .headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone()),
            IdentitySource::Query(name) => check
                .query
                .split('&')
                .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
                .find(|(k, _)| percent_decode(k) == *name)
                .map(|(_, v)| percent_decode(v)),
            IdentitySource::StageVariable(name) => check
                .stage_variables?
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone()),
            IdentitySource::Context(name) => context?
                .get(name)
                .and_then(|v| v.as_str().map(str::to_owned)),
        }
    };
    check
        .authorizer
        .identity
        .iter()
        .map(|s| found(s).filter(|v| !v.is_empty()))
        .collect()
}

/// The authorizer's event.
fn event(check: &Check<'_>, identity: &[String]) -> Value {
    let arn = check.arn.clone();
    let without_body = |event: &Value| {
        let mut fields = event.as_object().cloned().unwrap_or_default();
        for key in ["body", "isBase64Encoded"] {
            fields.remove(key);
        }
        fields.insert("type".into(), json!("REQUEST"));
        fields
    };
    match check.authorizer.kind {
        AuthorizerKind::Token => json!({
            "type": "TOKEN",
            "authorizationToken": identity.first(),
            "methodArn": arn,
        }),
        AuthorizerKind::Request => {
            let mut fields = without_body(check.event_v1);
            fields.remove("version");
            fields.insert("methodArn".into(), json!(arn));
            Value::Object(fields)
        }
        AuthorizerKind::Http {
            payload_v2: true, ..
        } => {
            let mut fields = without_body(check.event_v2);
            fields.insert("routeArn".into(), json!(arn));
            fields.insert("identitySource".into(), json!(identity));
            Value::Object(fields)
        }
        AuthorizerKind::Http { .. } => {
            let mut fields = without_body(check.event_v1);
            fields.insert("methodArn".into(), json!(arn));
            fields.insert("identitySource".into(), json!(identity.join(",")));
            Value::Object(fields)
        }
    }
}

/// What the authorizer's answer means.
fn verdict(check: &Check<'_>, answer: &Value, latency_ms: u64) -> Decision {
    let context = match answer.get("context") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(c)) => c.clone(),
        Some(_) => return Decision::Refuse(failed(check.api)),
    };
    if let AuthorizerKind::Http { simple: true, .. } = check.authorizer.kind {
        return match answer.get("isAuthorized").and_then(Value::as_bool) {
            Some(true) => Decision::Allow(json!({ "lambda": context })),
            Some(false) => Decision::Refuse(forbidden(check.api, Verdict::ImplicitDeny)),
            None => Decision::Refuse(failed(check.api)),
        };
    }
    let Some(verdict) = answer
        .get("policyDocument")
        .and_then(|p| policy::evaluate(p, &check.arn))
    else {
        return Decision::Refuse(failed(check.api));
    };
    if verdict != Verdict::Allow {
        return Decision::Refuse(forbidden(check.api, verdict));
    }
    if check.api == ApiKind::Http {
        return Decision::Allow(json!({ "lambda": context }));
    }
    // NOTE: a REST API passes only strings, numbers and booleans of `context` on.
    if context.values().any(|v| v.is_object() || v.is_array()) {
        return Decision::Refuse(failed(check.api));
    }
    let mut authorizer = context;
    if let Some(principal) = answer.get("principalId") {
        authorizer.insert("principalId".into(), principal.clone());
    }
    authorizer.insert("integrationLatency".into(), json!(latency_ms));
    Decision::Allow(Value::Object(authorizer))
}

/// 401: the identity is missing, or the authorizer said `Unauthorized`.
fn unauthorized() -> Response {
    http::json(401, r#"{"message":"Unauthorized"}"#)
}

/// 403: the policy (or the simple response) denies.
fn forbidden(api: ApiKind, verdict: Verdict) -> Response {
    let body = match (api, verdict) {
        (ApiKind::Http, _) => json!({"message": "Forbidden"}),
        (ApiKind::Rest, Verdict::ExplicitDeny) => {
            json!({"Message": "User is not authorized to access this resource with an explicit deny"})
        }
        (ApiKind::Rest, _) => json!({"Message": "User is not authorized to access this resource"}),
    };
    http::json(403, body.to_string())
}

/// 500: the authorizer failed, timed out or answered something that is not a decision.
fn failed(api: ApiKind) -> Response {
    match api {
        ApiKind::Http => http::json(500, r#"{"message":"Internal Server Error"}"#),
        ApiKind::Rest => {
            let mut r = http::json(500, r#"{"message":null}"#);
            r.headers_mut().insert(
                "x-amzn-ErrorType",
                HeaderValue::from_static("AuthorizerConfigurationException"),
            );
            r
        }
    }
}
