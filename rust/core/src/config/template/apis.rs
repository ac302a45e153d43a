//! SAM's API Gateway resources and events (docs/reference.md §15): `AWS::Serverless::Api` and
//! `AWS::Serverless::HttpApi` (stage, stage variables, binary media types, Lambda authorizers)
//! and the `Api` and `HttpApi` events of functions, which become routes.
//!
//! Sources: the SAM specification's `AWS::Serverless::Api` (`Auth`, `Variables`,
//! `BinaryMediaTypes`), `AWS::Serverless::HttpApi` (`Auth`, `StageVariables`), `ApiFunctionAuth`
//! and `LambdaAuthorizer` pages
//! (https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-property-httpapi-lambdaauthorizer.html).

use std::collections::HashMap;
use std::sync::Arc;

use serde_yaml::{Mapping, Value};

use super::intrinsics::{scalar, Resolver};
use crate::config::gateway::{ApiSettings, Authorizer, AuthorizerKind, IdentitySource};
use crate::config::spec::{ConfigError, FunctionSpec, Origin, Source};
use crate::config::{ApiKind, HttpRoute};

/// One API resource of the template.
#[derive(Debug)]
struct Api {
    kind: ApiKind,
    settings: ApiSettings,
    /// Its Lambda authorizers, by name; `None` for authorizers of other kinds (Cognito, JWT),
    /// which are not emulated.
    authorizers: HashMap<String, Option<Authorizer>>,
    default_authorizer: Option<String>,
}

/// The API resources of a template, by logical id.
#[derive(Debug, Default)]
pub struct Apis(HashMap<String, Api>);

/// Read every `AWS::Serverless::Api` and `AWS::Serverless::HttpApi` of `resources`.
pub fn read(
    resources: &Mapping,
    resolver: &mut Resolver<'_>,
    file: &Arc<Source>,
) -> Result<Apis, ConfigError> {
    let mut apis = HashMap::new();
    for (id, resource) in resources {
        let kind = match resource.get("Type").and_then(Value::as_str) {
            Some("AWS::Serverless::Api") => ApiKind::Rest,
            Some("AWS::Serverless::HttpApi") => ApiKind::Http,
            _ => continue,
        };
        let id = scalar(id);
        let at = |key: &str| Origin::new(file, format!("Resources.{id}.Properties.{key}"));
        let props = resource.get("Properties").cloned().unwrap_or_default();
        let props = resolver
            .resolve(&props)
            .map_err(|problem| at("").error(problem))?;
        let mut settings = ApiSettings::implicit(kind);
        if let Some(stage) = props.get("StageName").map(scalar) {
            settings.stage = stage;
        }
        let variables = match kind {
            ApiKind::Rest => "Variables",
            ApiKind::Http => "StageVariables",
        };
        settings.stage_variables = props
            .get(variables)
            .and_then(Value::as_mapping)
            .filter(|m| !m.is_empty())
            .map(|m| m.iter().map(|(k, v)| (scalar(k), scalar(v))).collect());
        if let Some(types) = props.get("BinaryMediaTypes").and_then(Value::as_sequence) {
            // NOTE: SAM writes `/` as `~1` in media types (an OpenAPI path escape).
            settings.binary_media_types =
                types.iter().map(|t| scalar(t).replace("~1", "/")).collect();
        }
        let auth = props.get("Auth");
        let mut authorizers = HashMap::new();
        if let Some(declared) = auth
            .and_then(|a| a.get("Authorizers"))
            .and_then(Value::as_mapping)
        {
            for (name, a) in declared {
                let name = scalar(name);
                let key = format!("Auth.Authorizers.{name}");
                let parsed = authorizer(kind, &name, a).map_err(|e| at(&key).error(e))?;
                authorizers.insert(name, parsed);
            }
        }
        let default_authorizer = auth.and_then(|a| a.get("DefaultAuthorizer")).map(scalar);
        if let Some(name) = &default_authorizer {
            if !authorizers.contains_key(name) && name != "AWS_IAM" {
                return Err(at("Auth.DefaultAuthorizer")
                    .error(format!("{name:?} is not one of Auth.Authorizers")));
            }
        }
        let api = Api {
            kind,
            settings,
            authorizers,
            default_authorizer,
        };
        apis.insert(id, api);
    }
    Ok(Apis(apis))
}

/// One entry of `Auth.Authorizers`; `None` when it is not a Lambda authorizer.
fn authorizer(kind: ApiKind, name: &str, a: &Value) -> Result<Option<Authorizer>, String> {
    let Some(arn) = a.get("FunctionArn").map(scalar) else {
        return Ok(None);
    };
    let function = arn
        .rsplit_once(":function:")
        .map_or(arn.as_str(), |(_, n)| n);
    let function = function.split(':').next().unwrap_or(function).to_owned();
    let identity = a.get("Identity");
    let text = |key: &str| identity.and_then(|i| i.get(key)).map(scalar);
    let list = |key: &str| -> Vec<String> {
        identity
            .and_then(|i| i.get(key))
            .and_then(Value::as_sequence)
            .map(|s| s.iter().map(scalar).collect())
            .unwrap_or_default()
    };
    let mut sources: Vec<IdentitySource> = list("Headers")
        .into_iter()
        .map(IdentitySource::Header)
        .collect();
    sources.extend(list("QueryStrings").into_iter().map(IdentitySource::Query));
    sources.extend(
        list("StageVariables")
            .into_iter()
            .map(IdentitySource::StageVariable),
    );
    sources.extend(list("Context").into_iter().map(IdentitySource::Context));
    let (kind, identity, validation) = match kind {
        ApiKind::Rest => match a.get("FunctionPayloadType").map(scalar).as_deref() {
            None | Some("TOKEN") => {
                let header = text("Header").unwrap_or_else(|| "Authorization".to_owned());
                let validation = text("ValidationExpression");
                if let Some(v) = &validation {
                    regex::Regex::new(v)
                        .map_err(|e| format!("Identity.ValidationExpression: {e}"))?;
                }
                let identity = vec![IdentitySource::Header(header)];
                (AuthorizerKind::Token, identity, validation)
            }
            Some("REQUEST") => (AuthorizerKind::Request, sources, None),
            Some(other) => {
                return Err(format!(
                    "FunctionPayloadType {other:?} is not TOKEN or REQUEST"
                ))
            }
        },
        ApiKind::Http => {
            let payload_v2 = match a
                .get("AuthorizerPayloadFormatVersion")
                .map(scalar)
                .as_deref()
            {
                Some("2.0") => true,
                Some("1.0") => false,
                other => {
                    return Err(format!(
                        "AuthorizerPayloadFormatVersion {other:?} is not 1.0 or 2.0 (required)"
                    ))
                }
            };
            let simple = a
                .get("EnableSimpleResponses")
                .is_some_and(|v| scalar(v) == "true");
            if simple && !payload_v2 {
                return Err(
                    "EnableSimpleResponses needs AuthorizerPayloadFormatVersion 2.0".into(),
                );
            }
            // NOTE: an HTTP API authorizer without `Identity` reads the Authorization header,
            // as SAM declares it.
            if identity.is_none() {
                sources.push(IdentitySource::Header("Authorization".to_owned()));
            }
            (AuthorizerKind::Http { payload_v2, simple }, sources, None)
        }
    };
    Ok(Some(Authorizer {
        name: name.to_owned(),
        function,
        kind,
        identity,
        validation,
    }))
}

/// The API Gateway routes of a function's `Events`: `Api` (REST, payload 1.0) and `HttpApi`
/// (payload 2.0 unless `PayloadFormatVersion` says `1.0`; no `Path` and `Method` is the
/// `$default` route), with the settings and authorizer of the API they name.
pub fn http_routes(
    spec: &FunctionSpec,
    events: &Mapping,
    apis: &Apis,
    warnings: &mut Vec<String>,
) -> Result<Vec<HttpRoute>, ConfigError> {
    let mut routes = Vec::new();
    for (id, event) in events {
        let api = match event.get("Type").and_then(Value::as_str) {
            Some("Api") => ApiKind::Rest,
            Some("HttpApi") => ApiKind::Http,
            _ => continue,
        };
        let key = |name: &str| format!("Events.{}.Properties.{name}", scalar(id));
        let props = event.get("Properties");
        let text = |name: &str| props.and_then(|p| p.get(name)).map(scalar);
        let (path, method) = (text("Path"), text("Method"));
        if api == ApiKind::Rest && (path.is_none() || method.is_none()) {
            return Err(spec
                .origin(key("Path"))
                .error("an Api event needs a Path and a Method"));
        }
        if path.is_some() != method.is_some() {
            return Err(spec
                .origin(key("Method"))
                .error("give both Path and Method, or neither (the $default route)"));
        }
        if let Some(p) = path.as_ref().filter(|p| !p.starts_with('/')) {
            return Err(spec
                .origin(key("Path"))
                .error(format!("{p:?} does not start with /")));
        }
        let payload_v1 = match (api, text("PayloadFormatVersion").as_deref()) {
            (ApiKind::Rest, _) | (ApiKind::Http, Some("1.0")) => true,
            (ApiKind::Http, None | Some("2.0")) => false,
            (ApiKind::Http, Some(other)) => {
                return Err(spec
                    .origin(key("PayloadFormatVersion"))
                    .error(format!("{other:?} is not 1.0 or 2.0")))
            }
        };
        let id_key = if api == ApiKind::Rest {
            "RestApiId"
        } else {
            "ApiId"
        };
        let declared =
            declared_api(apis, api, text(id_key)).map_err(|e| spec.origin(key(id_key)).error(e))?;
        let route_key = format!(
            "{} {}",
            method.as_deref().unwrap_or("ANY"),
            path.as_deref().unwrap_or("$default")
        );
        let chosen = props
            .and_then(|p| p.get("Auth"))
            .and_then(|a| a.get("Authorizer"))
            .map(scalar);
        let authorizer = match declared {
            None => None,
            Some(a) => route_authorizer(a, chosen, &route_key, warnings)
                .map_err(|e| spec.origin(key("Auth.Authorizer")).error(e))?,
        };
        routes.push(HttpRoute {
            method: method
                .map(|m| m.to_ascii_uppercase())
                .filter(|m| m != "ANY"),
            path,
            api,
            payload_v1,
            settings: declared.map_or_else(|| ApiSettings::implicit(api), |a| a.settings.clone()),
            authorizer,
        });
    }
    Ok(routes)
}

/// The API resource an event names (`RestApiId`, `ApiId`); `None` for SAM's implicit API.
fn declared_api(apis: &Apis, kind: ApiKind, id: Option<String>) -> Result<Option<&Api>, String> {
    let Some(id) = id else {
        return Ok(None);
    };
    if let Some(api) = apis.0.get(&id).filter(|a| a.kind == kind) {
        return Ok(Some(api));
    }
    let wanted = if kind == ApiKind::Rest {
        "Api"
    } else {
        "HttpApi"
    };
    Err(format!(
        "{id:?} is not an AWS::Serverless::{wanted} of the template"
    ))
}

/// The authorizer of a route: the event's `Auth.Authorizer` (`NONE` for none), else the API's
/// `DefaultAuthorizer`. Authorizers other than Lambda ones are left out with a warning.
fn route_authorizer(
    api: &Api,
    chosen: Option<String>,
    route_key: &str,
    warnings: &mut Vec<String>,
) -> Result<Option<Authorizer>, String> {
    let Some(name) = chosen.or_else(|| api.default_authorizer.clone()) else {
        return Ok(None);
    };
    if name == "NONE" {
        return Ok(None);
    }
    match api.authorizers.get(&name) {
        Some(Some(a)) => Ok(Some(a.clone())),
        None if name != "AWS_IAM" => {
            Err(format!("{name:?} is not one of the API's Auth.Authorizers"))
        }
        _ => {
            warnings.push(format!(
                "route {route_key}: authorizer {name} is not a Lambda authorizer (not emulated); the route is open"
            ));
            Ok(None)
        }
    }
}
