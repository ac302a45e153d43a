//! What a SAM `AWS::Serverless::Api` or `AWS::Serverless::HttpApi` resource gives its routes
//! (docs/reference.md §15): the stage, its variables, binary media types and Lambda authorizers.

use super::ApiKind;

/// The settings of the API a route belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiSettings {
    /// `StageName`: `Prod` for REST APIs unless named, `$default` for HTTP APIs.
    pub stage: String,
    /// The stage's variables (`Variables` of a REST API, `StageVariables` of an HTTP API), in
    /// declared order; `None` when it has none (the event then says `null`, as AWS's does).
    pub stage_variables: Option<Vec<(String, String)>>,
    /// `BinaryMediaTypes` of a REST API (`~1` read as `/`), such as `image/png` or `*/*`.
    pub binary_media_types: Vec<String>,
}

impl ApiSettings {
    /// The settings of the API SAM makes when an event names none (`ServerlessRestApi`,
    /// `ServerlessHttpApi`).
    pub fn implicit(kind: ApiKind) -> Self {
        Self {
            stage: match kind {
                ApiKind::Rest => "Prod".to_owned(),
                ApiKind::Http => "$default".to_owned(),
            },
            stage_variables: None,
            binary_media_types: Vec::new(),
        }
    }
}

/// A Lambda authorizer of an API, as a route uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorizer {
    /// Its name in the API's `Auth.Authorizers`.
    pub name: String,
    /// The function that decides (the function name of its `FunctionArn`).
    pub function: String,
    /// What it is sent and what it answers.
    pub kind: AuthorizerKind,
    /// Where the caller's identity is read; a request without any of them is refused with
    /// 401 before the authorizer runs. A TOKEN authorizer has exactly one header.
    pub identity: Vec<IdentitySource>,
    /// A TOKEN authorizer's `ValidationExpression`: a token that does not match is refused
    /// with 401 before the authorizer runs.
    pub validation: Option<String>,
}

/// The kinds of Lambda authorizers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorizerKind {
    /// A REST API authorizer sent the token of one header (`FunctionPayloadType: TOKEN`).
    Token,
    /// A REST API authorizer sent the request (`FunctionPayloadType: REQUEST`).
    Request,
    /// An HTTP API authorizer, sent payload format 2.0 (or 1.0 by
    /// `AuthorizerPayloadFormatVersion`); `simple` when `EnableSimpleResponses` lets it answer
    /// `{"isAuthorized": ...}` instead of an IAM policy.
    Http {
        /// Payload format 2.0.
        payload_v2: bool,
        /// `EnableSimpleResponses`.
        simple: bool,
    },
}

/// A part of the request an authorizer reads the caller's identity from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentitySource {
    /// A header (matched whatever its case).
    Header(String),
    /// A query string parameter.
    Query(String),
    /// A stage variable.
    StageVariable(String),
    /// A request context variable (`$context.name`); only ever present as `requestId`,
    /// `httpMethod`, `path`, `stage`, `sourceIp` or `domainName` here.
    Context(String),
}
