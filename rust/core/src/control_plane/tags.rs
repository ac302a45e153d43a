//! TagResource, UntagResource and ListTags of a function (its unqualified ARN) or an event
//! source mapping (its ARN).

use serde_json::{json, Map, Value};

use super::record::Record;
use super::{Answer, ApiRequest, ControlPlane};
use crate::aws::ServiceError;

/// Most tags on one function (AWS's quota).
const MAX_TAGS: usize = 50;
/// botocore's `TagKey`: 1 to 128 characters.
const MAX_KEY_LENGTH: usize = 128;
/// botocore's `TagValue`: 0 to 256 characters.
const MAX_VALUE_LENGTH: usize = 256;
/// botocore's pattern of `TagKey` and `TagValue` (printed in the constraint, not checked).
const TAG_PATTERN: &str = r"([\p{L}\p{Z}\p{N}_.:/=+\-@]*)";
/// The key the tags of a mapping have in its document (not shown by its answers).
pub(super) const MAPPING_TAGS: &str = "Tags";

/// What a taggable ARN names: a stored function, or an event source mapping (its UUID and
/// document).
enum Tagged {
    Function(Record),
    Mapping(String, Map<String, Value>),
}

impl Tagged {
    /// The tags.
    fn tags(&self) -> Map<String, Value> {
        match self {
            Self::Function(rec) => rec.map("tags"),
            Self::Mapping(_, doc) => doc
                .get(MAPPING_TAGS)
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
        }
    }

    /// The tags, to change.
    fn tags_mut(&mut self) -> &mut Map<String, Value> {
        match self {
            Self::Function(rec) => rec.map_mut("tags"),
            Self::Mapping(_, doc) => {
                let tags = doc.entry(MAPPING_TAGS).or_insert_with(|| json!({}));
                if !tags.is_object() {
                    *tags = json!({});
                }
                tags.as_object_mut().expect("just made an object")
            }
        }
    }
}

/// The mapping UUID of an event source mapping ARN
/// (`arn:...:event-source-mapping:<uuid>`), if it is one.
fn mapping_uuid<'a>(parts: &[&'a str]) -> Option<&'a str> {
    match parts {
        ["arn", _, "lambda", _, _, "event-source-mapping", uuid] if is_uuid(uuid) => Some(uuid),
        _ => None,
    }
}

/// `[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`.
fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A request's `Tags` (CreateFunction, CreateEventSourceMapping, TagResource), checked: a map
/// of strings within the model's lengths; `None` when absent.
pub(super) fn given_tags(
    body: &Map<String, Value>,
) -> Result<Option<&Map<String, Value>>, ServiceError> {
    super::shapes::check_fields(body, super::shapes::CREATE_FIELDS)?;
    let tags = body.get("Tags").and_then(Value::as_object);
    if let Some(tags) = tags {
        check_tag_lengths(tags)?;
    }
    Ok(tags)
}

/// The model's lengths of tag keys (1 to 128) and values (at most 256), in characters:
/// `ValidationException` at `tags` printing the map as AWS does, `{k=v, ...}`.
fn check_tag_lengths(tags: &Map<String, Value>) -> Result<(), ServiceError> {
    let bad_key = tags
        .keys()
        .any(|k| k.is_empty() || k.chars().count() > MAX_KEY_LENGTH);
    let bad_value = tags.values().any(|v| {
        v.as_str()
            .is_some_and(|s| s.chars().count() > MAX_VALUE_LENGTH)
    });
    let constraint = match (bad_key, bad_value) {
        (true, _) => format!(
            "Map keys must satisfy constraint: [Member must have length less than or equal to {MAX_KEY_LENGTH}, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: {TAG_PATTERN}]"
        ),
        (false, true) => format!(
            "Map value must satisfy constraint: [Member must have length less than or equal to {MAX_VALUE_LENGTH}, Member must have length greater than or equal to 0, Member must satisfy regular expression pattern: {TAG_PATTERN}]"
        ),
        (false, false) => return Ok(()),
    };
    let printed: Vec<String> = tags
        .iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect();
    Err(ServiceError::validation(
        &format!("{{{}}}", printed.join(", ")),
        "tags",
        constraint,
    ))
}

/// UntagResource's `tagKeys`, each a `TagKey` (1 to 128 characters): `ValidationException` at
/// `tagKeys` printing the list, `[a, b]`.
fn check_tag_key_lengths(keys: &[String]) -> Result<(), ServiceError> {
    if keys
        .iter()
        .all(|k| !k.is_empty() && k.chars().count() <= MAX_KEY_LENGTH)
    {
        return Ok(());
    }
    Err(ServiceError::validation(
        &format!("[{}]", keys.join(", ")),
        "tagKeys",
        format!(
            "Member must satisfy constraint: [Member must have length less than or equal to {MAX_KEY_LENGTH}, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: {TAG_PATTERN}]"
        ),
    ))
}

impl ControlPlane {
    /// The stored function an unqualified function ARN names, or the event source mapping a
    /// mapping ARN names.
    fn tagged(&self, arn: &str) -> Result<Tagged, ServiceError> {
        let parts: Vec<&str> = arn.split(':').collect();
        if let Some(uuid) = mapping_uuid(&parts) {
            return self.tagged_mapping(arn, uuid);
        }
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
        let rec = self.load(&name, || {
            ServiceError::not_found(format!("Function not found: {arn}"))
        })?;
        Ok(Tagged::Function(rec))
    }

    /// The event source mapping `uuid` whose ARN is `arn` (404 for any other).
    fn tagged_mapping(&self, arn: &str, uuid: &str) -> Result<Tagged, ServiceError> {
        let doc = self
            .event_sources
            .stored(uuid)
            .filter(|doc| doc.get("EventSourceMappingArn").and_then(Value::as_str) == Some(arn))
            .ok_or_else(|| ServiceError::not_found("The resource you requested does not exist."))?;
        Ok(Tagged::Mapping(uuid.to_owned(), doc))
    }

    /// Keep the changed tags.
    fn save_tags(&self, tagged: Tagged) -> Result<(), ServiceError> {
        match tagged {
            Tagged::Function(rec) => self.save(&rec),
            // NOTE: the poller is handed the mapping's settings again, unchanged.
            Tagged::Mapping(uuid, doc) => Ok(self.event_sources.replace(&uuid, doc)?),
        }
    }

    /// `POST /2017-03-31/tags/{ARN}`: TagResource.
    pub(super) fn tag_resource(&self, arn: &str, req: &ApiRequest) -> Answer {
        let body = req.json()?;
        let tags = given_tags(&body)?.ok_or_else(|| super::functions::missing("tags"))?;
        let mut tagged = self.tagged(arn)?;
        if tags.is_empty() {
            return Err(ServiceError::invalid_parameter(
                "An error occurred and the request cannot be processed.",
            ));
        }
        let stored = tagged.tags_mut();
        for (k, v) in tags {
            stored.insert(k.clone(), v.clone());
        }
        if stored.len() > MAX_TAGS {
            return Err(ServiceError::invalid_parameter(
                "Number of tags exceeds resource tag limit.",
            ));
        }
        self.save_tags(tagged)?;
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
        check_tag_key_lengths(&keys)?;
        let mut tagged = self.tagged(arn)?;
        let stored = tagged.tags_mut();
        for k in &keys {
            stored.remove(k);
        }
        self.save_tags(tagged)?;
        Ok((204, Value::Null))
    }

    /// `GET /2017-03-31/tags/{ARN}`: ListTags.
    pub(super) fn list_tags(&self, arn: &str) -> Answer {
        let tagged = self.tagged(arn)?;
        Ok((200, json!({"Tags": tagged.tags()})))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> Map<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), json!(v)))
            .collect()
    }

    #[test]
    fn tag_keys_and_values_have_the_models_lengths() {
        let key = "k".repeat(MAX_KEY_LENGTH);
        let value = "v".repeat(MAX_VALUE_LENGTH);
        assert!(check_tag_lengths(&tags(&[(&key, &value), ("e", "")])).is_ok());
        let long_key = "k".repeat(MAX_KEY_LENGTH + 1);
        let err = check_tag_lengths(&tags(&[("a", "1"), (&long_key, "v")])).unwrap_err();
        assert_eq!(
            err.message(),
            format!("1 validation error detected: Value '{{a=1, {long_key}=v}}' at 'tags' failed to satisfy constraint: Map keys must satisfy constraint: [Member must have length less than or equal to 128, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: {TAG_PATTERN}]")
        );
        assert!(check_tag_lengths(&tags(&[("", "v")])).is_err());
        let long_value = "é".repeat(MAX_VALUE_LENGTH + 1);
        let err = check_tag_lengths(&tags(&[("k", &long_value)])).unwrap_err();
        assert!(err
            .message()
            .contains("Map value must satisfy constraint: [Member must have length less than or equal to 256,"));
        // Lengths in characters, not bytes.
        assert!(check_tag_lengths(&tags(&[("k", &"é".repeat(MAX_VALUE_LENGTH))])).is_ok());
        assert!(check_tag_key_lengths(&["a".to_owned(), key]).is_ok());
        let err = check_tag_key_lengths(&["a".to_owned(), long_key.clone()]).unwrap_err();
        assert!(err
            .message()
            .starts_with(&format!("1 validation error detected: Value '[a, {long_key}]' at 'tagKeys' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 128,")));
    }

    #[test]
    fn event_source_mapping_arns_are_taggable() {
        let arn = "arn:aws:lambda:us-east-1:012345678912:event-source-mapping:6d9bce8e-836b-461a-b1e2-6d4b3b8b2e1a";
        let parts: Vec<&str> = arn.split(':').collect();
        assert_eq!(
            mapping_uuid(&parts),
            Some("6d9bce8e-836b-461a-b1e2-6d4b3b8b2e1a")
        );
        for other in [
            "arn:aws:lambda:us-east-1:012345678912:function:f",
            "arn:aws:lambda:us-east-1:012345678912:event-source-mapping:not-a-uuid",
            "arn:aws:sqs:us-east-1:012345678912:event-source-mapping:6d9bce8e-836b-461a-b1e2-6d4b3b8b2e1a",
            "arn:aws:lambda:us-east-1:012345678912:event-source-mapping:6d9bce8e-836b-461a-b1e2-6d4b3b8b2e1a:x",
        ] {
            let parts: Vec<&str> = other.split(':').collect();
            assert_eq!(mapping_uuid(&parts), None, "{other}");
        }
    }
}
