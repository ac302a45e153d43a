//! TagResource, UntagResource and ListTags of a function (its unqualified ARN).

use serde_json::{json, Value};

use super::record::Record;
use super::{Answer, ApiRequest, ControlPlane};
use crate::aws::ServiceError;

/// Most tags on one function (AWS's quota).
const MAX_TAGS: usize = 50;

impl ControlPlane {
    /// The stored function an unqualified function ARN names.
    fn tagged(&self, arn: &str) -> Result<Record, ServiceError> {
        let parts: Vec<&str> = arn.split(':').collect();
        if parts.len() < 7 || parts[0] != "arn" || parts[2] != "lambda" || parts[5] != "function" {
            return Err(ServiceError::validation(
                arn,
                "resource",
                "Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*):lambda:[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:\\d{12}:(function:[a-zA-Z0-9-_]+(:(\\$LATEST|[a-zA-Z0-9-_]+))?|layer:([a-zA-Z0-9-_]+)|code-signing-config:csc-[a-z0-9]{17}|event-source-mapping:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})",
            ));
        }
        if parts.len() > 7 {
            return Err(ServiceError::invalid_parameter(
                "Tags on function aliases and versions are not supported. Please specify a function ARN.",
            ));
        }
        let (name, _) = self.identify(arn, None)?;
        self.load(&name, || {
            ServiceError::not_found(format!("Function not found: {arn}"))
        })
    }

    /// `POST /2017-03-31/tags/{ARN}`: TagResource.
    pub(super) fn tag_resource(&self, arn: &str, req: &ApiRequest) -> Answer {
        let body = req.json()?;
        super::shapes::check_fields(&body, super::shapes::CREATE_FIELDS)?;
        let mut rec = self.tagged(arn)?;
        let tags = body
            .get("Tags")
            .and_then(Value::as_object)
            .ok_or_else(|| super::functions::missing("tags"))?;
        if tags.is_empty() {
            return Err(ServiceError::invalid_parameter(
                "An error occurred and the request cannot be processed.",
            ));
        }
        let stored = rec.map_mut("tags");
        for (k, v) in tags {
            stored.insert(k.clone(), v.clone());
        }
        if stored.len() > MAX_TAGS {
            return Err(ServiceError::invalid_parameter(
                "Number of tags exceeds resource tag limit.",
            ));
        }
        self.save(&rec)?;
        Ok((204, Value::Null))
    }

    /// `DELETE /2017-03-31/tags/{ARN}?tagKeys=`: UntagResource.
    pub(super) fn untag_resource(&self, arn: &str, req: &ApiRequest) -> Answer {
        let keys = req.params("tagKeys");
        if keys.is_empty() {
            return Err(ServiceError::validation(
                "null",
                "tagKeys",
                "Member must not be null",
            ));
        }
        let mut rec = self.tagged(arn)?;
        let stored = rec.map_mut("tags");
        for k in &keys {
            stored.remove(k);
        }
        self.save(&rec)?;
        Ok((204, Value::Null))
    }

    /// `GET /2017-03-31/tags/{ARN}`: ListTags.
    pub(super) fn list_tags(&self, arn: &str) -> Answer {
        let rec = self.tagged(arn)?;
        Ok((200, json!({"Tags": rec.map("tags")})))
    }
}
