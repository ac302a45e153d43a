//! PublishLayerVersion, GetLayerVersion, ListLayerVersions, ListLayers and DeleteLayerVersion:
//! layers kept in the store beside functions, and a function's `Layers` (their version ARNs)
//! merged at `/opt` as the command line's layers are.

use std::path::PathBuf;

use serde_json::{json, Map, Value};

use super::{listing, now, page, unkeyed, Answer, ApiRequest, ControlPlane};
use crate::aws::ServiceError;
use crate::config::MAX_LAYERS;
use crate::store::Table;

impl ControlPlane {
    fn layer_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:lambda:{}:{}:layer:{name}",
            self.registry.region(),
            self.registry.account_id()
        )
    }

    fn layer_answer(&self, req: &ApiRequest, name: &str, n: &str, v: &Value, whole: bool) -> Value {
        let arn = self.layer_arn(name);
        let mut out = json!({
            "LayerVersionArn": format!("{arn}:{n}"),
            "Version": n.parse::<u64>().unwrap_or(0),
            "Description": v["Description"],
            "CreatedDate": v["CreatedDate"],
        });
        for key in [
            "CompatibleRuntimes",
            "LicenseInfo",
            "CompatibleArchitectures",
        ] {
            if !v[key].is_null() {
                out[key] = v[key].clone();
            }
        }
        if whole {
            let host = req.host.clone().unwrap_or_else(|| "127.0.0.1".to_owned());
            out["LayerArn"] = json!(arn);
            out["Content"] = json!({
                "Location": format!("http://{host}{}{}.zip", super::CODE_PATH, v["sha_hex"].as_str().unwrap_or_default()),
                "CodeSha256": v["CodeSha256"],
                "CodeSize": v["CodeSize"],
            });
        }
        out
    }

    fn layer_version(&self, name: &str, n: &str) -> Result<Value, ServiceError> {
        self.store
            .document(Table::Layers, name)
            .and_then(|doc| doc["versions"].get(n).cloned())
            .ok_or_else(|| ServiceError::not_found("The resource you requested does not exist."))
    }

    /// `POST /2018-10-31/layers/{name}/versions`: PublishLayerVersion.
    pub(super) async fn publish_layer_version(&self, name: &str, req: &ApiRequest) -> Answer {
        let body = req.json()?;
        if name.is_empty()
            || name.len() > 140
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(ServiceError::validation(
                name,
                "layerName",
                "Member must satisfy regular expression pattern: (arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{12}:layer:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+",
            ));
        }
        super::shapes::check_fields(&body, super::shapes::LAYER_FIELDS)?;
        let content = body
            .get("Content")
            .and_then(Value::as_object)
            .ok_or_else(|| super::functions::missing("content"))?;
        let zip = super::functions::zip_of(content)?;
        let code = self.new_code(zip, Map::new()).await?;
        let mut doc = self
            .store
            .document(Table::Layers, name)
            .unwrap_or_else(|| json!({"versions": {}, "last_version": 0}));
        let n = doc["last_version"].as_u64().unwrap_or(0) + 1;
        let mut version = json!({
            "sha_hex": code["sha_hex"],
            "CodeSha256": code["CodeSha256"],
            "CodeSize": code["CodeSize"],
            "Description": body.get("Description").and_then(Value::as_str).unwrap_or(""),
            "CreatedDate": now(),
        });
        for key in [
            "CompatibleRuntimes",
            "LicenseInfo",
            "CompatibleArchitectures",
        ] {
            if let Some(v) = body.get(key).filter(|v| !v.is_null()) {
                version[key] = v.clone();
            }
        }
        doc["versions"][n.to_string()] = version.clone();
        doc["last_version"] = json!(n);
        self.store.put_document(Table::Layers, name, &doc)?;
        Ok((
            201,
            self.layer_answer(req, name, &n.to_string(), &version, true),
        ))
    }

    /// `GET /2018-10-31/layers/{name}/versions/{n}`: GetLayerVersion.
    pub(super) fn get_layer_version(&self, name: &str, n: &str, req: &ApiRequest) -> Answer {
        let version = self.layer_version(name, n)?;
        Ok((200, self.layer_answer(req, name, n, &version, true)))
    }

    /// `DELETE /2018-10-31/layers/{name}/versions/{n}`: DeleteLayerVersion (functions that use
    /// it keep their copy, as on AWS).
    pub(super) fn delete_layer_version(&self, name: &str, n: &str) -> Answer {
        if let Some(mut doc) = self.store.document(Table::Layers, name) {
            if let Some(versions) = doc["versions"].as_object_mut() {
                versions.remove(n);
            }
            self.store.put_document(Table::Layers, name, &doc)?;
        }
        Ok((204, Value::Null))
    }

    fn layer_versions(doc: &Value) -> Vec<(u64, Value)> {
        let mut out: Vec<(u64, Value)> = doc["versions"]
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((k.parse().ok()?, v.clone())))
            .collect();
        // NOTE: newest first, as AWS lists them.
        out.sort_by_key(|v| std::cmp::Reverse(v.0));
        out
    }

    /// `GET /2018-10-31/layers/{name}/versions`: ListLayerVersions.
    pub(super) fn list_layer_versions(&self, name: &str, req: &ApiRequest) -> Answer {
        let doc = self.store.document(Table::Layers, name).unwrap_or_default();
        // NOTE: newest first: the key counts down, so keys sort as the list does.
        let items: Vec<(String, Value)> = Self::layer_versions(&doc)
            .iter()
            .map(|(n, v)| {
                let key = format!("{:020}", u64::MAX - n);
                (key, self.layer_answer(req, name, &n.to_string(), v, false))
            })
            .collect();
        let (items, next) = page(items, req, 50, 50)?;
        Ok((200, listing("LayerVersions", unkeyed(items), next)))
    }

    /// `GET /2018-10-31/layers`: ListLayers.
    pub(super) fn list_layers(&self, req: &ApiRequest) -> Answer {
        let mut items: Vec<(String, Value)> = self
            .store
            .all(Table::Layers)
            .iter()
            .filter_map(|(name, doc)| {
                let (n, latest) = Self::layer_versions(doc).into_iter().next()?;
                Some((name.clone(), json!({
                    "LayerName": name,
                    "LayerArn": self.layer_arn(name),
                    "LatestMatchingVersion": self.layer_answer(req, name, &n.to_string(), &latest, false),
                })))
            })
            .collect();
        // NOTE: by name, as AWS lists them (the store gives them in creation order).
        items.sort_by(|a, b| a.0.cmp(&b.0));
        let (items, next) = page(items, req, 50, 50)?;
        Ok((200, listing("Layers", unkeyed(items), next)))
    }

    /// A function's `Layers` (version ARNs) as AWS answers them, `[{Arn, CodeSize}]`, each a
    /// layer version published here; and the digests of their code, which the function keeps
    /// (a deleted layer version still serves the functions that use it, as on AWS).
    pub(super) fn resolve_layers(
        &self,
        given: &Value,
    ) -> Result<(Value, Vec<String>), ServiceError> {
        let arns: Vec<&str> = given
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if arns.len() > MAX_LAYERS {
            return Err(ServiceError::invalid_parameter(&format!(
                "Cannot reference more than {MAX_LAYERS} layers."
            )));
        }
        let mut out = Vec::new();
        let mut hexes = Vec::new();
        for arn in arns {
            let version = self.layer_of_arn(arn)?;
            out.push(json!({"Arn": arn, "CodeSize": version["CodeSize"]}));
            hexes.push(version["sha_hex"].as_str().unwrap_or_default().to_owned());
        }
        Ok((Value::Array(out), hexes))
    }

    fn layer_of_arn(&self, arn: &str) -> Result<Value, ServiceError> {
        let prefix = self.layer_arn("");
        let not_found =
            || ServiceError::invalid_parameter(&format!("Layer version {arn} does not exist."));
        let rest = arn.strip_prefix(&prefix).ok_or_else(not_found)?;
        let (name, n) = rest.rsplit_once(':').ok_or_else(not_found)?;
        self.layer_version(name, n).map_err(|_| not_found())
    }

    /// The unpacked directories of a version's layers, in order.
    pub(super) fn layer_dirs(&self, version: &Value) -> Vec<PathBuf> {
        version["layer_hexes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(|hex| self.store.code_dir(hex))
            .collect()
    }
}
