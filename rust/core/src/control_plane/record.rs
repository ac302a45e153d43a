//! The stored document of one function created through the API:
//!
//! ```text
//! {"name", "latest": VERSION, "versions": {"1": VERSION, ...}, "last_version": N,
//!  "aliases": {"live": {"FunctionVersion","Description","RoutingConfig"?,"RevisionId"}},
//!  "reserved": N|null, "tags": {}, "policies": {"<scope>": {"Statement": [..], "RevisionId"}},
//!  "invoke_configs": {"<qualifier>": {...}}, "provisioned": {"<qualifier>": {...}},
//!  "urls": {"$LATEST"|"<alias>": {"AuthType","Cors"?,"InvokeMode"?,"CreationTime",
//!           "LastModifiedTime"}}}
//! VERSION = {"config": {AWS's configuration fields as given}, "sha_hex", "CodeSha256",
//!            "CodeSize", "LastModified", "RevisionId", "State", "LastUpdateStatus"?}
//! ```
//!
//! NOTE: a JSON document rather than tables: every operation reads and writes one function
//! whole, in one transaction, and AWS's configuration fields are echoed as they were given.

use serde_json::{json, Map, Value};

use super::revision;

/// One function's document.
#[derive(Debug, Clone)]
pub struct Record(pub Value);

impl Record {
    /// A new function's document: `$LATEST` is `latest`, nothing else yet.
    pub fn new(name: &str, latest: Value) -> Self {
        let mut doc = json!({
            "name": name,
            "versions": {},
            "last_version": 0,
            "aliases": {},
            "reserved": null,
            "tags": {},
            "policies": {},
            "invoke_configs": {},
            "provisioned": {},
            "urls": {},
        });
        doc["latest"] = latest;
        Self(doc)
    }

    /// The stored document of function `name`, if it has this module's shape: an object
    /// named `name` whose `latest` and published versions have a `config` object, and whose
    /// maps hold objects (`tags`: strings). Why not, otherwise.
    pub fn checked(name: &str, doc: &Value) -> Result<Self, String> {
        let version_ok = |v: &Value| v.is_object() && v["config"].is_object();
        let map_of = |key: &str, item: fn(&Value) -> bool| match &doc[key] {
            Value::Null => true,
            Value::Object(m) => m.values().all(item),
            _ => false,
        };
        let problem = if !doc.is_object() {
            "not a JSON object".to_owned()
        } else if doc["name"] != name {
            format!("named {} in its document", doc["name"])
        } else if !version_ok(&doc["latest"]) {
            "no `latest` version with a `config` object".to_owned()
        } else if !map_of("versions", |v| v.is_object() && v["config"].is_object()) {
            "a published version without a `config` object".to_owned()
        } else if !map_of("tags", Value::is_string) {
            "a tag whose value is not a string".to_owned()
        } else if let Some(key) = [
            "aliases",
            "policies",
            "invoke_configs",
            "provisioned",
            "urls",
        ]
        .into_iter()
        .find(|key| !map_of(key, Value::is_object))
        {
            format!("`{key}` is not a map of objects")
        } else {
            return Ok(Self(doc.clone()));
        };
        Err(format!("not a function document: {problem}"))
    }

    /// The function name.
    pub fn name(&self) -> &str {
        self.0["name"].as_str().unwrap_or_default()
    }

    /// `$LATEST`.
    pub fn latest(&self) -> &Value {
        &self.0["latest"]
    }

    /// `$LATEST`, to change.
    pub fn latest_mut(&mut self) -> &mut Value {
        &mut self.0["latest"]
    }

    /// Published version `n`.
    pub fn version(&self, n: u32) -> Option<&Value> {
        self.0["versions"].get(n.to_string())
    }

    /// Every published version, ascending.
    pub fn versions(&self) -> Vec<(u32, &Value)> {
        let mut out: Vec<(u32, &Value)> = self.0["versions"]
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((k.parse().ok()?, v)))
            .collect();
        out.sort_by_key(|(n, _)| *n);
        out
    }

    /// The number of the last version published (0: none).
    pub fn last_version(&self) -> u32 {
        self.0["last_version"].as_u64().unwrap_or(0) as u32
    }

    /// A map of the document (`aliases`, `tags`, `policies`, ...), created if absent.
    pub fn map_mut(&mut self, key: &str) -> &mut Map<String, Value> {
        if !self.0[key].is_object() {
            self.0[key] = json!({});
        }
        self.0[key].as_object_mut().expect("just made an object")
    }

    /// A map of the document, empty if absent.
    pub fn map(&self, key: &str) -> Map<String, Value> {
        self.0[key].as_object().cloned().unwrap_or_default()
    }

    /// Alias `name`.
    pub fn alias(&self, name: &str) -> Option<&Value> {
        self.0["aliases"].get(name)
    }

    /// Reserved concurrency.
    pub fn reserved(&self) -> Option<u32> {
        self.0["reserved"].as_u64().map(|n| n as u32)
    }

    /// Complete what the last operation left in transition (AWS completes it before the next
    /// read): `Pending` becomes `Active`, `InProgress` becomes `Successful`, a provisioned
    /// configuration `READY` (`FAILED` when an environment's init failed); each completion of `$LATEST` mints a `RevisionId`. Whether
    /// anything changed.
    pub fn settle(&mut self) -> bool {
        let mut changed = false;
        let latest = self.latest_mut();
        if latest["State"] == "Pending" {
            latest["State"] = json!("Active");
            latest["LastUpdateStatus"] = json!("Successful");
            latest["RevisionId"] = json!(revision());
            changed = true;
        } else if latest["LastUpdateStatus"] == "InProgress" {
            latest["LastUpdateStatus"] = json!("Successful");
            latest["RevisionId"] = json!(revision());
            changed = true;
        }
        for config in self.map_mut("provisioned").values_mut() {
            if config["Status"] == "IN_PROGRESS" {
                config["Status"] = json!("READY");
                if let Some(error_type) = config["init_error"].as_str() {
                    config["StatusReason"] = json!(format!(
                        "FUNCTION_ERROR_INIT_FAILURE: the function's init failed ({error_type})"
                    ));
                    config["Status"] = json!("FAILED");
                }
                changed = true;
            }
        }
        changed
    }
}

/// The configuration of a version without what a publish may change on its own.
pub fn publishable(version: &Value) -> (Value, Value) {
    let mut config = version["config"].clone();
    if let Some(c) = config.as_object_mut() {
        c.remove("Description");
    }
    (config, version["sha_hex"].clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_of_another_shape_is_refused_with_the_reason() {
        let good = Record::new("f", json!({"config": {"Runtime": "python3.12"}})).0;
        assert!(Record::checked("f", &good).is_ok());
        let mut cases = vec![
            (json!([1, 2]), "not a JSON object"),
            (json!({}), "named null in its document"),
            (good.clone(), "named \"f\" in its document"),
        ];
        let mut bad = |key: &str, value: Value, reason: &'static str| {
            let mut doc = good.clone();
            doc[key] = value;
            cases.push((doc, reason));
        };
        bad(
            "latest",
            json!([]),
            "no `latest` version with a `config` object",
        );
        bad(
            "versions",
            json!({"1": {"config": 3}}),
            "a published version without a `config` object",
        );
        bad("tags", json!({"k": 1}), "a tag whose value is not a string");
        bad(
            "aliases",
            json!({"live": "1"}),
            "`aliases` is not a map of objects",
        );
        bad("urls", json!([]), "`urls` is not a map of objects");
        for (i, (doc, reason)) in cases.into_iter().enumerate() {
            let name = if i == 2 { "g" } else { "f" };
            assert_eq!(
                Record::checked(name, &doc).unwrap_err(),
                format!("not a function document: {reason}")
            );
        }
    }

    #[test]
    fn settling_completes_transitions_with_new_revisions() {
        let mut rec = Record::new(
            "f",
            json!({"config": {}, "State": "Pending", "RevisionId": "r1"}),
        );
        assert!(rec.settle());
        assert_eq!(rec.latest()["State"], "Active");
        assert_eq!(rec.latest()["LastUpdateStatus"], "Successful");
        assert_ne!(rec.latest()["RevisionId"], "r1");
        assert!(!rec.settle());
        rec.latest_mut()["LastUpdateStatus"] = json!("InProgress");
        assert!(rec.settle());
        assert_eq!(rec.latest()["LastUpdateStatus"], "Successful");
    }
}
