//! Create/Get/Update/Delete/ListEventSourceMapping(s) (docs/reference.md §16.1): requests
//! checked against AWS's rules and the source itself, then handed to [`EventSources`].

use serde_json::{json, Map, Value};

use super::{listing, page, unkeyed, Answer, ApiRequest, ControlPlane};
use crate::aws::ServiceError;
use crate::event_sources::{mapping, EventSources, SourceKind};
use crate::invoke_api::routing::split;

/// AWS's answer to an unknown UUID.
fn unknown_mapping() -> ServiceError {
    ServiceError::not_found("The resource you requested does not exist.")
}

/// The document with a transitional state, as the 202 answers of AWS show it.
fn with_state(doc: Map<String, Value>, state: &str) -> Value {
    let mut doc = shown(doc);
    doc.insert("State".into(), json!(state));
    Value::Object(doc)
}

/// The document as the mapping's answers show it: without its tags (ListTags shows them).
fn shown(mut doc: Map<String, Value>) -> Map<String, Value> {
    doc.remove(super::tags::MAPPING_TAGS);
    doc
}

impl ControlPlane {
    /// The event source mappings.
    pub fn event_sources(&self) -> &EventSources {
        &self.event_sources
    }

    /// A new mapping's UUID and ARN.
    fn new_mapping_id(&self) -> (String, String) {
        let uuid = uuid::Uuid::new_v4().to_string();
        let arn = format!(
            "arn:aws:lambda:{}:{}:event-source-mapping:{uuid}",
            self.registry.region(),
            self.registry.account_id()
        );
        (uuid, arn)
    }

    /// The target of `FunctionName`: its ARN with the qualifier as given, and its timeout.
    fn mapping_target(&self, id: Option<&str>) -> Result<(String, u32), ServiceError> {
        let Some(id) = id else {
            return Err(ServiceError::validation(
                "null",
                "functionName",
                "Member must not be null",
            ));
        };
        let target = self
            .registry
            .resolve(id, None)
            .map_err(|_| ServiceError::invalid_parameter("Function does not exist"))?;
        let name = target.scheduler.function().config.name.clone();
        let base = self.arn(&name);
        let arn = match split(id).qualifier {
            Some(q) => format!("{base}:{q}"),
            None => base,
        };
        Ok((arn, target.scheduler.function().config.timeout_s))
    }

    /// 409 when `source_arn` is already mapped to the function of `function_arn` by a mapping
    /// other than `this` one: one mapping per source and function, on create as on update.
    fn check_not_mapped(
        &self,
        kind: SourceKind,
        source_arn: &str,
        function_arn: &str,
        this: Option<&str>,
    ) -> Result<(), ServiceError> {
        let name = function_name(function_arn);
        let Some(uuid) = self
            .event_sources
            .existing(source_arn, &name)
            .filter(|uuid| Some(uuid.as_str()) != this)
        else {
            return Ok(());
        };
        let message = if kind == SourceKind::Sqs {
            format!("An event source mapping with SQS arn (\" {source_arn} \") and function (\" {name} \") already exists. Please update or delete the existing mapping with UUID {uuid}")
        } else {
            format!("The event source arn (\" {source_arn} \") and function (\" {name} \") provided mapping already exists. Please update or delete the existing mapping with UUID {uuid}")
        };
        Err(ServiceError::conflict(message))
    }

    /// `POST /2015-03-31/event-source-mappings`: CreateEventSourceMapping.
    pub(super) async fn create_event_source_mapping(&self, req: &ApiRequest) -> Answer {
        let body = req.json()?;
        let tags = super::tags::given_tags(&body)?;
        let source_arn = body
            .get("EventSourceArn")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let kind = SourceKind::of_arn(&source_arn)
            .ok_or_else(|| ServiceError::invalid_parameter("Unrecognized event source."))?;
        let (function_arn, timeout) =
            self.mapping_target(body.get("FunctionName").and_then(Value::as_str))?;
        self.check_not_mapped(kind, &source_arn, &function_arn, None)?;
        let (uuid, mapping_arn) = self.new_mapping_id();
        let mut doc = mapping::create(&body, kind, &uuid, &function_arn, &mapping_arn)?;
        self.event_sources
            .check_source(kind, &source_arn, timeout)
            .await?;
        let enabled = doc.get("State").and_then(Value::as_str) == Some("Enabled");
        if let Some(tags) = tags {
            doc.insert(
                super::tags::MAPPING_TAGS.into(),
                Value::Object(tags.clone()),
            );
        }
        self.event_sources.add(doc.clone(), false)?;
        let state = if enabled { "Creating" } else { "Disabled" };
        Ok((202, with_state(doc, state)))
    }

    /// Start a mapping declared in the config file or a template (not kept in the store; its
    /// source is checked by its poller, which reports what it finds).
    pub fn declare_event_source(&self, function: &str, body: Value) -> Result<(), String> {
        let Value::Object(mut body) = body else {
            return Err("an event source is not a table".into());
        };
        body.insert("FunctionName".into(), json!(function));
        let source_arn = body
            .get("EventSourceArn")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let kind = SourceKind::of_arn(&source_arn)
            .ok_or_else(|| format!("event source {source_arn:?}: Unrecognized event source."))?;
        let fail = |e: ServiceError| format!("event source {source_arn}: {}", e.message());
        let (function_arn, _) = self.mapping_target(Some(function)).map_err(fail)?;
        let (uuid, mapping_arn) = self.new_mapping_id();
        let doc = mapping::create(&body, kind, &uuid, &function_arn, &mapping_arn).map_err(fail)?;
        self.event_sources
            .add(doc, true)
            .map_err(|e| format!("event source {source_arn}: {e}"))
    }

    /// `GET /2015-03-31/event-source-mappings/{UUID}`: GetEventSourceMapping.
    pub(super) fn get_event_source_mapping(&self, uuid: &str) -> Answer {
        let doc = self.event_sources.get(uuid).ok_or_else(unknown_mapping)?;
        Ok((200, Value::Object(shown(doc))))
    }

    /// `PUT /2015-03-31/event-source-mappings/{UUID}`: UpdateEventSourceMapping.
    pub(super) async fn update_event_source_mapping(&self, uuid: &str, req: &ApiRequest) -> Answer {
        let body = req.json()?;
        let doc = self
            .event_sources
            .stored(uuid)
            .ok_or_else(unknown_mapping)?;
        let source_arn = doc
            .get("EventSourceArn")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let kind = SourceKind::of_arn(source_arn).unwrap_or(SourceKind::Sqs);
        let mut next = mapping::update(&doc, &body, kind)?;
        if let Some(id) = body.get("FunctionName").and_then(Value::as_str) {
            let (arn, timeout) = self.mapping_target(Some(id))?;
            self.check_not_mapped(kind, source_arn, &arn, Some(uuid))?;
            if kind == SourceKind::Sqs {
                // NOTE: the queue's visibility timeout must cover the new function's, as on create.
                self.event_sources
                    .check_source(kind, source_arn, timeout)
                    .await?;
            }
            next.insert("FunctionArn".into(), json!(arn));
        }
        let was = doc.get("State").and_then(Value::as_str);
        let is = next.get("State").and_then(Value::as_str);
        let state = match (was, is) {
            (Some("Disabled"), Some("Enabled")) => "Enabling",
            (Some("Enabled"), Some("Disabled")) => "Disabling",
            _ => "Updating",
        };
        self.event_sources.replace(uuid, next.clone())?;
        let shown = self.event_sources.get(uuid).unwrap_or(next);
        Ok((202, with_state(shown, state)))
    }

    /// `DELETE /2015-03-31/event-source-mappings/{UUID}`: DeleteEventSourceMapping.
    pub(super) fn delete_event_source_mapping(&self, uuid: &str) -> Answer {
        let doc = self.event_sources.get(uuid).ok_or_else(unknown_mapping)?;
        self.event_sources.remove(uuid)?;
        Ok((202, with_state(doc, "Deleting")))
    }

    /// `GET /2015-03-31/event-source-mappings`: ListEventSourceMappings.
    pub(super) fn list_event_source_mappings(&self, req: &ApiRequest) -> Answer {
        let source = req.param("EventSourceArn");
        let function = match req.param("FunctionName") {
            Some(id) => Some(function_name(&self.mapping_target(Some(&id))?.0)),
            None => None,
        };
        let items: Vec<(String, Value)> = self
            .event_sources
            .views()
            .into_iter()
            .filter(|d| {
                source
                    .as_deref()
                    .is_none_or(|s| d.get("EventSourceArn").and_then(Value::as_str) == Some(s))
            })
            .filter(|d| {
                function.as_deref().is_none_or(|f| {
                    d.get("FunctionArn")
                        .and_then(Value::as_str)
                        .is_some_and(|a| function_name(a) == f)
                })
            })
            .map(|d| {
                let uuid = d
                    .get("UUID")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                (uuid, Value::Object(shown(d)))
            })
            .collect();
        let (items, next) = page(items, req, 100, super::MAX_LIST_ITEMS)?;
        Ok((200, listing("EventSourceMappings", unkeyed(items), next)))
    }
}

/// The function name of a (maybe qualified) function ARN.
fn function_name(arn: &str) -> String {
    split(arn).name.to_owned()
}
