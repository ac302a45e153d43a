//! Put/Update/Get/Delete/ListFunctionEventInvokeConfig(s): the asynchronous invocation
//! settings of a function, version or alias, which drive their `Event` invocations
//! (docs/reference.md §13).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::functions::route_of;
use super::record::Record;
use super::shapes::{check_fields, Shape};
use super::{listing, page, Answer, ApiRequest, ControlPlane};
use crate::aws::{ServiceError, LATEST};
use crate::config::spec::{FunctionSpec, Number};
use crate::config::{AsyncSettings, Destination, EVENT_AGE_RANGE, MAX_RETRY_ATTEMPTS};
use crate::registry::{AliasRoute, Version};

/// The sides of `DestinationConfig` and the member path of each one's `Destination`.
const SIDES: [(&str, &str); 2] = [
    ("OnSuccess", "destinationConfig.onSuccess.destination"),
    ("OnFailure", "destinationConfig.onFailure.destination"),
];

/// The members of Put/UpdateFunctionEventInvokeConfig and their JSON types (ranges and
/// destinations are checked after).
const INVOKE_CONFIG_FIELDS: &[(&str, &str, Shape)] = &[
    ("MaximumRetryAttempts", "maximumRetryAttempts", Shape::Int),
    (
        "MaximumEventAgeInSeconds",
        "maximumEventAgeInSeconds",
        Shape::Int,
    ),
    (
        "DestinationConfig",
        "destinationConfig",
        Shape::Struct(&[
            (
                "OnSuccess",
                "destinationConfig.onSuccess",
                Shape::Struct(&[("Destination", SIDES[0].1, Shape::Str)]),
            ),
            (
                "OnFailure",
                "destinationConfig.onFailure",
                Shape::Struct(&[("Destination", SIDES[1].1, Shape::Str)]),
            ),
        ]),
    ),
];

/// botocore's `DestinationArn` pattern.
const DESTINATION_PATTERN: &str = "^$|arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\\-])+:([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1})?:(\\d{12})?:(.*)";

/// Whether `body` sets anything: a member that is there and not `null`.
fn sets_anything(body: &Map<String, Value>) -> bool {
    [
        "MaximumRetryAttempts",
        "MaximumEventAgeInSeconds",
        "DestinationConfig",
    ]
    .iter()
    .any(|k| body.get(*k).is_some_and(|v| !v.is_null()))
}

/// The `Destination` of one side as given (`None` when the side is absent or `null`; its
/// type was checked): the side's stored form, `{"Destination": arn}` or `{}`.
fn given_side(config: &Value, side: &str) -> Option<(Option<String>, Value)> {
    let target = config.get(side).filter(|t| !t.is_null())?;
    let arn = target.get("Destination").and_then(Value::as_str);
    let stored = arn.map_or_else(|| json!({}), |a| json!({"Destination": a}));
    Some((arn.map(str::to_owned), stored))
}

/// 400 `The provided destination config DestinationConfig(...) is invalid.` naming `arn` on
/// its side, as AWS prints the configuration.
fn invalid_config(side: &str, arn: &str) -> ServiceError {
    let config = if side == "OnSuccess" {
        format!("onSuccess=OnSuccess(destination={arn}), onFailure=null")
    } else {
        format!("onSuccess=null, onFailure=OnFailure(destination={arn})")
    };
    ServiceError::invalid_parameter(&format!(
        "The provided destination config DestinationConfig({config}) is invalid."
    ))
}

/// Whether an SQS queue or SNS topic ARN names a FIFO one (its name ends in `.fifo`).
fn is_fifo(arn: &str) -> bool {
    arn.rsplit_once('.')
        .is_some_and(|(_, suffix)| suffix == "fifo")
}

/// AWS's rules for a destination of another service on `side`: standard SQS queues and SNS
/// topics, EventBridge buses, and S3 buckets on failure only.
fn check_service_destination(side: &str, service: &str, arn: &str) -> Result<(), ServiceError> {
    match service {
        // NOTE: the message is lambda-rie's; AWS supports S3 buckets only on failure
        // (botocore's `OnFailure` and `OnSuccess` docs, LAMBDA-SERVICE §C.4).
        "s3" if side == "OnSuccess" => Err(ServiceError::invalid_parameter(&format!(
            "The destination ARN {arn} is invalid: an S3 bucket is supported only as an OnFailure destination."
        ))),
        // NOTE: the message is lambda-rie's; AWS supports standard queues and topics only
        // (LAMBDA-SERVICE §C.4).
        "sqs" | "sns" if is_fifo(arn) => Err(ServiceError::invalid_parameter(&format!(
            "The destination ARN {arn} is invalid: a FIFO queue or topic cannot be a destination of asynchronous invocations."
        ))),
        "sqs" | "sns" | "events" | "s3" => Ok(()),
        _ => Err(invalid_config(side, arn)),
    }
}

impl ControlPlane {
    /// The stored function and the qualifier key (`$LATEST` when none), checked to exist.
    fn invoke_config_scope(
        &self,
        id: &str,
        req: &ApiRequest,
    ) -> Result<(Record, String), ServiceError> {
        let (name, qualifier) = self.identify(id, req.param("Qualifier").as_deref())?;
        let gone = || ServiceError::not_found("The function doesn't exist.");
        let rec = self.load(&name, gone)?;
        let q = qualifier.unwrap_or_else(|| LATEST.to_owned());
        let exists = match Version::parse(&q) {
            Some(Version::Latest) => true,
            Some(Version::Published(n)) => rec.version(n).is_some(),
            None => rec.alias(&q).is_some(),
        };
        if !exists {
            return Err(gone());
        }
        Ok((rec, q))
    }

    fn invoke_config_answer(&self, rec: &Record, q: &str, config: &Value) -> Value {
        let mut out = config.clone();
        out["FunctionArn"] = json!(format!("{}:{q}", self.arn(rec.name())));
        out
    }

    /// `PUT` (replace) or `POST` (merge) `/2019-09-25/functions/{name}/event-invoke-config`.
    pub(super) fn put_invoke_config(&self, id: &str, req: &ApiRequest, merge: bool) -> Answer {
        let body = req.json()?;
        check_fields(&body, INVOKE_CONFIG_FIELDS)?;
        let (mut rec, q) = self.invoke_config_scope(id, req)?;
        let existing = rec.map("invoke_configs").get(&q).cloned();
        if merge && existing.is_none() {
            return Err(ServiceError::not_found(format!(
                "The function {}:{q} doesn't have an EventInvokeConfig",
                self.arn(rec.name())
            )));
        }
        let mut config: Map<String, Value> = if merge {
            existing
                .and_then(|e| e.as_object().cloned())
                .unwrap_or_default()
        } else {
            Map::new()
        };
        if !sets_anything(&body) {
            return Err(ServiceError::invalid_parameter(
                "You must specify at least one of error handling or destination setting.",
            ));
        }
        if let Some(v) = body.get("MaximumRetryAttempts").filter(|v| !v.is_null()) {
            let n = v.as_i64().unwrap_or(-1);
            if !(0..=i64::from(MAX_RETRY_ATTEMPTS)).contains(&n) {
                return Err(ServiceError::validation(
                    &v.to_string(),
                    "maximumRetryAttempts",
                    format!("Member must have value less than or equal to {MAX_RETRY_ATTEMPTS}"),
                ));
            }
            config.insert("MaximumRetryAttempts".into(), v.clone());
        }
        if let Some(v) = body
            .get("MaximumEventAgeInSeconds")
            .filter(|v| !v.is_null())
        {
            let n = v.as_i64().unwrap_or(-1);
            let (low, high) = EVENT_AGE_RANGE;
            if !(i64::from(low)..=i64::from(high)).contains(&n) {
                return Err(ServiceError::validation(
                    &v.to_string(),
                    "maximumEventAgeInSeconds",
                    format!("Member must have value between {low} and {high}"),
                ));
            }
            config.insert("MaximumEventAgeInSeconds".into(), v.clone());
        }
        let mut destinations = config
            .get("DestinationConfig")
            .cloned()
            .unwrap_or_else(|| json!({"OnSuccess": {}, "OnFailure": {}}));
        if let Some(d) = body.get("DestinationConfig") {
            for (side, member) in SIDES {
                if let Some((arn, stored)) = given_side(d, side) {
                    if let Some(arn) = arn {
                        self.check_destination(&rec, side, member, &arn)?;
                    }
                    destinations[side] = stored;
                }
            }
        }
        config.insert("DestinationConfig".into(), destinations);
        config.insert(
            "LastModified".into(),
            json!(crate::clock::epoch_ms() as f64 / 1000.0),
        );
        let config = Value::Object(config);
        rec.map_mut("invoke_configs")
            .insert(q.clone(), config.clone());
        self.apply_to_version(&rec, &q)?;
        self.save(&rec)?;
        Ok((200, self.invoke_config_answer(&rec, &q, &config)))
    }

    /// A changed async invoke configuration drives `Event` invocations from now on: a version
    /// (or `$LATEST`) gets a scheduler built with it, an alias's route carries it.
    pub(super) fn apply_to_version(&self, rec: &Record, q: &str) -> Result<(), ServiceError> {
        let Some(function) = self.registry.function(rec.name()) else {
            return Ok(());
        };
        if Version::parse(q).is_none() {
            if let Some(route) = Self::alias_route(rec, q) {
                function.set_alias(q, route);
            }
            return Ok(());
        }
        let config = self.version_config(rec, q)?;
        let provisioned = config.provisioned_concurrency;
        let scheduler = self.scheduler(config, Some(&function));
        if provisioned > 0 {
            // NOTE: the version's provisioned environments keep serving in the old scheduler
            // until the new one has initialised its own.
            let key = q.to_owned();
            let registry = Arc::clone(&self.registry);
            tokio::spawn(async move {
                let _ = scheduler.provision().await;
                Self::swap(&registry, &function, &key, scheduler);
            });
            return Ok(());
        }
        Self::swap(&self.registry, &function, q, scheduler);
        Ok(())
    }

    /// The async settings of an invoke configuration onto the spec of its version: retries,
    /// event age, and destinations (functions lambda-rie serves, or other services' ARNs).
    pub(super) fn apply_invoke_config(spec: &mut FunctionSpec, eic: &Value) {
        if let Some(n) = eic["MaximumRetryAttempts"].as_i64() {
            spec.maximum_retry_attempts =
                Some(spec.setting("MaximumRetryAttempts", Number::Whole(n.into())));
        }
        if let Some(n) = eic["MaximumEventAgeInSeconds"].as_i64() {
            spec.maximum_event_age =
                Some(spec.setting("MaximumEventAgeInSeconds", Number::Whole(n.into())));
        }
        if let Some(d) = Self::destination_of(eic, "OnSuccess") {
            spec.on_success = Some(spec.setting("DestinationConfig.OnSuccess", d));
        }
        if let Some(d) = Self::destination_of(eic, "OnFailure") {
            spec.on_failure = Some(spec.setting("DestinationConfig.OnFailure", d));
        }
    }

    /// The settings an alias's invoke configuration gives its `Event` invocations (AWS's
    /// defaults for what it leaves out; the values were checked when it was put).
    fn alias_async_settings(eic: &Value) -> AsyncSettings {
        let defaults = AsyncSettings::default();
        AsyncSettings {
            maximum_retry_attempts: eic["MaximumRetryAttempts"]
                .as_u64()
                .map_or(defaults.maximum_retry_attempts, |n| {
                    u32::try_from(n).unwrap_or(MAX_RETRY_ATTEMPTS)
                }),
            maximum_event_age: eic["MaximumEventAgeInSeconds"]
                .as_u64()
                .map_or(defaults.maximum_event_age, Duration::from_secs),
            on_success: Self::destination_of(eic, "OnSuccess"),
            on_failure: Self::destination_of(eic, "OnFailure"),
        }
    }

    /// The route of alias `alias` of `rec` with its own async settings, if it has any.
    pub(super) fn alias_route(rec: &Record, alias: &str) -> Option<AliasRoute> {
        let mut route = route_of(rec.alias(alias)?);
        route.async_settings = rec
            .map("invoke_configs")
            .get(alias)
            .map(|eic| Arc::new(Self::alias_async_settings(eic)));
        Some(route)
    }

    /// The destination of `side` (`OnSuccess`, `OnFailure`) of an invoke configuration: a
    /// function, or another service's ARN.
    fn destination_of(eic: &Value, side: &str) -> Option<Destination> {
        let arn = eic["DestinationConfig"][side]["Destination"].as_str()?;
        if crate::destinations::service::is_service_arn(arn) {
            return Some(Destination::Service(arn.to_owned()));
        }
        // NOTE: not looked up in the registry: at start-up the function may be served after
        // this one; a function deleted since is reported when a record is sent to it.
        let parts: Vec<&str> = arn.split(':').collect();
        let name = *parts.get(6)?;
        (parts.get(2) == Some(&"lambda")).then(|| Destination::Function(name.to_owned()))
    }

    /// AWS's checks of the destination `arn` of `side` (`member` its path): a function of
    /// lambda-rie other than this one, or an ARN of a service that can receive its records.
    fn check_destination(
        &self,
        rec: &Record,
        side: &str,
        member: &'static str,
        arn: &str,
    ) -> Result<(), ServiceError> {
        let parts: Vec<&str> = arn.split(':').collect();
        if parts.len() < 6 || parts[0] != "arn" {
            return Err(ServiceError::validation(
                arn,
                member,
                format!("Member must satisfy regular expression pattern: {DESTINATION_PATTERN}"),
            ));
        }
        match parts[2] {
            "lambda" => {
                let name = parts.get(6).copied().unwrap_or_default();
                if name == rec.name() {
                    return Err(ServiceError::invalid_parameter(
                        "You can't specify the function as a destination for itself.",
                    ));
                }
                if self.registry.function(name).is_none() {
                    return Err(ServiceError::invalid_parameter(&format!(
                        "The destination ARN {arn} is invalid."
                    )));
                }
                Ok(())
            }
            service => check_service_destination(side, service, arn),
        }
    }

    /// `GET /2019-09-25/functions/{name}/event-invoke-config`.
    pub(super) fn get_invoke_config(&self, id: &str, req: &ApiRequest) -> Answer {
        let (rec, q) = self.invoke_config_scope(id, req)?;
        let config = rec.map("invoke_configs").get(&q).cloned().ok_or_else(|| {
            ServiceError::not_found(format!(
                "The function {}:{q} doesn't have an EventInvokeConfig",
                self.arn(rec.name())
            ))
        })?;
        Ok((200, self.invoke_config_answer(&rec, &q, &config)))
    }

    /// `DELETE /2019-09-25/functions/{name}/event-invoke-config`.
    pub(super) fn delete_invoke_config(&self, id: &str, req: &ApiRequest) -> Answer {
        let (mut rec, q) = self.invoke_config_scope(id, req)?;
        if rec.map_mut("invoke_configs").remove(&q).is_none() {
            return Err(ServiceError::not_found(format!(
                "The function {}:{q} doesn't have an EventInvokeConfig",
                self.arn(rec.name())
            )));
        }
        self.apply_to_version(&rec, &q)?;
        self.save(&rec)?;
        Ok((204, Value::Null))
    }

    /// `GET /2019-09-25/functions/{name}/event-invoke-config/list`.
    pub(super) fn list_invoke_configs(&self, id: &str, req: &ApiRequest) -> Answer {
        let (name, _) = self.identify(id, None)?;
        let rec = self.load(&name, || {
            ServiceError::not_found("The function doesn't exist.")
        })?;
        let items: Vec<Value> = rec
            .map("invoke_configs")
            .iter()
            .map(|(q, c)| self.invoke_config_answer(&rec, q, c))
            .collect();
        let (items, next) = page(items, req, 50, 50)?;
        Ok((200, listing("FunctionEventInvokeConfigs", items, next)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(v: &Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn null_members_set_nothing() {
        assert!(!sets_anything(&body(&json!({"DestinationConfig": null}))));
        assert!(!sets_anything(&body(
            &json!({"MaximumRetryAttempts": null, "Other": 1})
        )));
        assert!(sets_anything(&body(&json!({"MaximumRetryAttempts": 0}))));
        assert!(sets_anything(&body(&json!({"DestinationConfig": {}}))));
    }

    #[test]
    fn a_side_is_stored_as_its_destination_or_empty() {
        let config = json!({"OnSuccess": null, "OnFailure": {"Destination": null}});
        assert_eq!(given_side(&config, "OnSuccess"), None);
        assert_eq!(given_side(&config, "OnFailure"), Some((None, json!({}))));
        let config = json!({"OnFailure": {"Destination": "arn:aws:sqs:us-east-1:1:q", "X": 1}});
        assert_eq!(
            given_side(&config, "OnFailure"),
            Some((
                Some("arn:aws:sqs:us-east-1:1:q".to_owned()),
                json!({"Destination": "arn:aws:sqs:us-east-1:1:q"})
            ))
        );
    }

    #[test]
    fn a_destination_of_the_wrong_type_is_refused_at_its_side() {
        for (side, member) in [("OnSuccess", "onSuccess"), ("OnFailure", "onFailure")] {
            let given = body(&json!({"DestinationConfig": {side: {"Destination": true}}}));
            let err = check_fields(&given, INVOKE_CONFIG_FIELDS).unwrap_err();
            assert_eq!(
                err.message(),
                format!("1 validation error detected: Value 'true' at 'destinationConfig.{member}.destination' failed to satisfy constraint: Member must be a string")
            );
        }
        let given = body(&json!({"MaximumRetryAttempts": "1"}));
        assert!(check_fields(&given, INVOKE_CONFIG_FIELDS)
            .unwrap_err()
            .message()
            .ends_with(
                "at 'maximumRetryAttempts' failed to satisfy constraint: Member must be an integer"
            ));
    }

    #[test]
    fn services_follow_aws_rules_for_each_side() {
        let bucket = "arn:aws:s3:::bucket";
        assert!(check_service_destination("OnFailure", "s3", bucket).is_ok());
        let err = check_service_destination("OnSuccess", "s3", bucket).unwrap_err();
        assert_eq!(err.status(), 400);
        assert!(err
            .message()
            .contains("supported only as an OnFailure destination"));
        for fifo in [
            ("sqs", "arn:aws:sqs:us-east-1:012345678912:q.fifo"),
            ("sns", "arn:aws:sns:us-east-1:012345678912:t.fifo"),
        ] {
            for side in ["OnSuccess", "OnFailure"] {
                let err = check_service_destination(side, fifo.0, fifo.1).unwrap_err();
                assert!(err.message().contains("FIFO"), "{fifo:?}");
            }
        }
        assert!(check_service_destination("OnSuccess", "sqs", "arn:aws:sqs:us-east-1:1:q").is_ok());
        let arn = "arn:aws:dynamodb:us-east-1:012345678912:table/t";
        assert_eq!(
            check_service_destination("OnFailure", "dynamodb", arn)
                .unwrap_err()
                .message(),
            format!("The provided destination config DestinationConfig(onSuccess=null, onFailure=OnFailure(destination={arn})) is invalid.")
        );
    }
}
