//! CreateAlias, GetAlias, UpdateAlias, DeleteAlias and ListAliases, with `RoutingConfig`
//! weights: the registry routes each invocation of a weighted alias by its weight.

use serde_json::{json, Map, Value};

use super::record::Record;
use super::{listing, page, revision, unkeyed, Answer, ApiRequest, ControlPlane};
use crate::aws::{ServiceError, LATEST};
use crate::config::MAX_ALIAS_NAME_BYTES;

const ALIAS_PATTERN: &str = "(?!^[0-9]+$)([a-zA-Z0-9-_]+)";

impl ControlPlane {
    fn alias_arn(&self, function: &str, alias: &str) -> String {
        format!("{}:{alias}", self.arn(function))
    }

    fn alias_answer(&self, function: &str, alias: &str, doc: &Value) -> Value {
        let mut out = json!({
            "AliasArn": self.alias_arn(function, alias),
            "Name": alias,
            "FunctionVersion": doc["FunctionVersion"],
            "Description": doc["Description"],
            "RevisionId": doc["RevisionId"],
        });
        let weights = &doc["RoutingConfig"]["AdditionalVersionWeights"];
        if weights.as_object().is_some_and(|w| !w.is_empty()) {
            out["RoutingConfig"] = json!({"AdditionalVersionWeights": weights});
        }
        out
    }

    /// Check a version and routing of an alias against the function's versions.
    fn check_route(
        &self,
        rec: &Record,
        version: &str,
        routing: Option<&Value>,
    ) -> Result<(), ServiceError> {
        // NOTE: versions are numbers in their canonical form: `01` names no version, so no
        // alias names a version in two spellings.
        let exists = |v: &str| super::shapes::names_version(v, |n| rec.version(n).is_some());
        let not_found = |v: &str| {
            ServiceError::not_found(format!("Function not found: {}:{v}", self.arn(rec.name())))
        };
        if !exists(version) {
            return Err(not_found(version));
        }
        let Some(weights) = routing
            .and_then(|r| r.get("AdditionalVersionWeights"))
            .and_then(Value::as_object)
        else {
            return Ok(());
        };
        if weights.len() > 1 {
            return Err(ServiceError::invalid_parameter(
                "Number of items in AdditionalVersionWeights cannot be greater than 1",
            ));
        }
        for (v, w) in weights {
            let described = format!("{{{v}={w}}}");
            if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ServiceError::validation(
                    &described,
                    "routingConfig.additionalVersionWeights",
                    "Map keys must satisfy constraint: [Member must have length less than or equal to 1024, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: [0-9]+]",
                ));
            }
            let weight = w.as_f64().unwrap_or(-1.0);
            if !(0.0..=1.0).contains(&weight) {
                return Err(ServiceError::validation(
                    &format!("{{{v}={weight:?}}}"),
                    "routingConfig.additionalVersionWeights",
                    "Map value must satisfy constraint: [Member must have value less than or equal to 1.0, Member must have value greater than or equal to 0.0, Member must not be null]",
                ));
            }
            if version == LATEST {
                return Err(ServiceError::invalid_parameter(
                    "$LATEST is not supported for an alias pointing to more than 1 version",
                ));
            }
            if v == version {
                return Err(ServiceError::invalid_parameter(&format!(
                    "Invalid function version {v}. Function version {v} is already included in routing configuration."
                )));
            }
            if !exists(v) {
                return Err(not_found(v));
            }
            same_role_and_dead_letter(rec, version, v)?;
        }
        Ok(())
    }

    /// `POST /2015-03-31/functions/{name}/aliases`: CreateAlias.
    pub(super) fn create_alias(&self, id: &str, req: &ApiRequest) -> Answer {
        let (name, _) = self.identify(id, None)?;
        let body = req.json()?;
        super::shapes::check_fields(&body, super::shapes::ALIAS_FIELDS)?;
        let alias = body
            .get("Name")
            .and_then(Value::as_str)
            .ok_or_else(|| super::functions::missing("name"))?
            .to_owned();
        check_alias_name(&alias)?;
        let version = body
            .get("FunctionVersion")
            .and_then(Value::as_str)
            .ok_or_else(|| super::functions::missing("functionVersion"))?
            .to_owned();
        let mut rec = self.load(&name, || self.not_found(&name))?;
        if rec.alias(&alias).is_some() {
            return Err(ServiceError::conflict(format!(
                "Alias already exists: {}",
                self.alias_arn(&name, &alias)
            )));
        }
        self.check_route(&rec, &version, body.get("RoutingConfig"))?;
        let doc = json!({
            "FunctionVersion": version,
            "Description": body.get("Description").and_then(Value::as_str).unwrap_or(""),
            "RoutingConfig": body.get("RoutingConfig").cloned().unwrap_or(Value::Null),
            "RevisionId": revision(),
        });
        rec.map_mut("aliases").insert(alias.clone(), doc.clone());
        self.save(&rec)?;
        if let (Some(f), Some(route)) = (
            self.registry.function(&name),
            Self::alias_route(&rec, &alias),
        ) {
            f.set_alias(&alias, route);
        }
        Ok((201, self.alias_answer(&name, &alias, &doc)))
    }

    /// `GET /2015-03-31/functions/{name}/aliases/{alias}`: GetAlias.
    pub(super) fn get_alias(&self, id: &str, alias: &str) -> Answer {
        let (name, _) = self.identify(id, None)?;
        let rec = self.load(&name, || self.not_found(&name))?;
        let doc = rec.alias(alias).ok_or_else(|| {
            ServiceError::not_found(format!(
                "Cannot find alias arn: {}",
                self.alias_arn(&name, alias)
            ))
        })?;
        Ok((200, self.alias_answer(&name, alias, doc)))
    }

    /// `PUT /2015-03-31/functions/{name}/aliases/{alias}`: UpdateAlias.
    pub(super) async fn update_alias(&self, id: &str, alias: &str, req: &ApiRequest) -> Answer {
        let (name, _) = self.identify(id, None)?;
        let body = req.json()?;
        super::shapes::check_fields(&body, super::shapes::ALIAS_FIELDS)?;
        let mut rec = self.load(&name, || self.not_found(&name))?;
        let provisioned = rec.map("provisioned").contains_key(alias);
        let before = self.provisioned_version(&rec, alias);
        let mut doc = rec.alias(alias).cloned().ok_or_else(|| {
            ServiceError::not_found(format!("Alias not found: {}", self.alias_arn(&name, alias)))
        })?;
        if let Some(r) = body.get("RevisionId").and_then(Value::as_str) {
            if doc["RevisionId"] != r {
                return Err(ServiceError::revision_mismatch("GetFunction/GetAlias"));
            }
        }
        if let Some(v) = body.get("FunctionVersion").filter(|v| !v.is_null()) {
            doc["FunctionVersion"] = v.clone();
        }
        if let Some(d) = body.get("Description").filter(|v| !v.is_null()) {
            doc["Description"] = d.clone();
        }
        if let Some(r) = body.get("RoutingConfig") {
            doc["RoutingConfig"] = r.clone();
        }
        let version = doc["FunctionVersion"].as_str().unwrap_or(LATEST).to_owned();
        let routing = doc["RoutingConfig"].clone();
        self.check_route(&rec, &version, (!routing.is_null()).then_some(&routing))?;
        doc["RevisionId"] = json!(revision());
        let previous = rec.clone();
        rec.map_mut("aliases").insert(alias.to_owned(), doc.clone());
        let after = self.provisioned_version(&rec, alias);
        let function = self.registry.function(&name);
        let mut moved = Vec::new();
        if let (true, Some(f)) = (provisioned && before != after, &function) {
            // NOTE: the alias's provisioned environments move with it: the new version's are
            // initialised before the alias routes there, then the old version's go.
            for n in after.into_iter().chain(before) {
                self.install(&rec, f, &n.to_string()).await?;
                moved.push(n);
            }
        }
        match &function {
            Some(f) => self.save_or_undo(&rec, &previous, f, &moved).await?,
            None => self.save(&rec)?,
        }
        if let (Some(f), Some(route)) = (function, Self::alias_route(&rec, alias)) {
            f.set_alias(alias, route);
        }
        Ok((200, self.alias_answer(&name, alias, &doc)))
    }

    /// `DELETE /2015-03-31/functions/{name}/aliases/{alias}`: DeleteAlias (204 also when
    /// there is no such alias).
    pub(super) async fn delete_alias(&self, id: &str, alias: &str) -> Answer {
        let (name, _) = self.identify(id, None)?;
        let mut rec = self.load(&name, || self.not_found(&name))?;
        let provisioned = self.provisioned_version(&rec, alias);
        if rec.map_mut("aliases").remove(alias).is_some() {
            let was_provisioned = rec.map_mut("provisioned").remove(alias).is_some();
            // NOTE: the alias's function URL goes with it (docs/reference.md §14).
            for key in ["invoke_configs", "policies", "urls"] {
                rec.map_mut(key).remove(alias);
            }
            self.save(&rec)?;
            if let Some(f) = self.registry.function(&name) {
                f.remove_alias(alias);
                if let (true, Some(n)) = (was_provisioned, provisioned) {
                    // NOTE: the alias's provisioned environments go with it.
                    self.install(&rec, &f, &n.to_string()).await?;
                }
            }
        }
        Ok((204, Value::Null))
    }

    /// `GET /2015-03-31/functions/{name}/aliases`: ListAliases (`?FunctionVersion=` filters).
    pub(super) fn list_aliases(&self, id: &str, req: &ApiRequest) -> Answer {
        let (name, _) = self.identify(id, None)?;
        let rec = self.load(&name, || self.not_found(&name))?;
        let only = req.param("FunctionVersion");
        let aliases: Map<String, Value> = rec.map("aliases");
        let items: Vec<(String, Value)> = aliases
            .iter()
            .filter(|(_, doc)| only.as_deref().is_none_or(|v| doc["FunctionVersion"] == v))
            .map(|(alias, doc)| (alias.clone(), self.alias_answer(&name, alias, doc)))
            .collect();
        let (items, next) = page(items, req, 10_000, super::MAX_LIST_ITEMS)?;
        Ok((200, listing("Aliases", unkeyed(items), next)))
    }
}

/// AWS's alias name: 1-128 of `[a-zA-Z0-9-_]`, not only digits.
fn check_alias_name(alias: &str) -> Result<(), ServiceError> {
    let ok = !alias.is_empty()
        && alias.len() <= MAX_ALIAS_NAME_BYTES
        && alias
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && !alias.bytes().all(|b| b.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(ServiceError::validation(
            alias,
            "name",
            format!("Member must satisfy regular expression pattern: {ALIAS_PATTERN}"),
        ))
    }
}

/// AWS's rule for a weighted alias: both versions have the same execution role and the same
/// dead-letter queue configuration (or none). AWS's text for a breach is not on record; this
/// one is ours (docs/reference.md §13).
fn same_role_and_dead_letter(rec: &Record, primary: &str, extra: &str) -> Result<(), ServiceError> {
    let config = |v: &str| {
        v.parse::<u32>()
            .ok()
            .and_then(|n| rec.version(n))
            .map_or(Value::Null, |doc| doc["config"].clone())
    };
    let (a, b) = (config(primary), config(extra));
    let dead_letter = |c: &Value| {
        c["DeadLetterConfig"]["TargetArn"]
            .as_str()
            .filter(|arn| !arn.is_empty())
            .map(str::to_owned)
    };
    for (what, differs) in [
        ("execution role", a["Role"] != b["Role"]),
        (
            "dead-letter queue configuration",
            dead_letter(&a) != dead_letter(&b),
        ),
    ] {
        if differs {
            return Err(ServiceError::invalid_parameter(&format!(
                "Versions {primary} and {extra} of an alias must have the same {what}."
            )));
        }
    }
    Ok(())
}
