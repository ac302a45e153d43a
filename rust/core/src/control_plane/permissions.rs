//! AddPermission, RemovePermission and GetPolicy: the resource policy of a function, version or
//! alias, stored and returned as AWS renders it; lambda-rie does not enforce it.

use serde_json::{json, Map, Value};

use super::record::Record;
use super::{revision, Answer, ApiRequest, ControlPlane};
use crate::aws::ServiceError;
use crate::registry::Version;

impl ControlPlane {
    /// The stored function, the policy scope key (`""` for the function) and its ARN.
    fn policy_scope(
        &self,
        id: &str,
        req: &ApiRequest,
        missing: impl Fn(&str) -> ServiceError,
    ) -> Result<(Record, String, String), ServiceError> {
        let (name, qualifier) = self.identify(id, req.param("Qualifier").as_deref())?;
        let rec = self.load(&name, || missing(&self.arn(&name)))?;
        let base = self.arn(&name);
        match qualifier {
            None => Ok((rec, String::new(), base)),
            Some(q) => {
                match Version::parse(&q) {
                    Some(Version::Latest) => {
                        return Err(ServiceError::invalid_parameter(
                            "We currently do not support adding policies for $LATEST.",
                        ))
                    }
                    Some(Version::Published(n)) if rec.version(n).is_none() => {
                        return Err(ServiceError::not_found(format!(
                            "Function not found: {base}:{q}"
                        )))
                    }
                    None if rec.alias(&q).is_none() => {
                        return Err(ServiceError::not_found(format!(
                            "Cannot find alias arn: {base}:{q}"
                        )))
                    }
                    _ => {}
                }
                let arn = format!("{base}:{q}");
                Ok((rec, q, arn))
            }
        }
    }

    /// `POST /2015-03-31/functions/{name}/policy`: AddPermission.
    pub(super) fn add_permission(&self, id: &str, req: &ApiRequest) -> Answer {
        let body = req.json()?;
        super::shapes::check_fields(&body, super::shapes::PERMISSION_FIELDS)?;
        let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
        let sid = text("StatementId").ok_or_else(|| super::functions::missing("statementId"))?;
        let action = text("Action").ok_or_else(|| super::functions::missing("action"))?;
        let principal = text("Principal").ok_or_else(|| super::functions::missing("principal"))?;
        let (mut rec, scope, arn) = self.policy_scope(id, req, |arn| {
            ServiceError::not_found(format!("Function not found: {arn}"))
        })?;
        let mut policy = rec
            .map("policies")
            .get(&scope)
            .cloned()
            .unwrap_or_else(|| json!({"Statement": [], "RevisionId": revision()}));
        if let Some(r) = text("RevisionId") {
            if policy["RevisionId"] != r.as_str() {
                return Err(ServiceError::revision_mismatch("GetPolicy"));
            }
        }
        let statements = policy["Statement"].as_array().cloned().unwrap_or_default();
        if statements.iter().any(|s| s["Sid"] == sid.as_str()) {
            return Err(ServiceError::conflict(format!(
                "The statement id ({sid}) provided already exists. Please provide a new statement id, or remove the existing statement."
            )));
        }
        let principal = principal_of(&principal)?;
        let mut statement = json!({
            "Sid": sid,
            "Effect": "Allow",
            "Principal": principal,
            "Action": action,
            "Resource": arn,
        });
        let mut condition = Map::new();
        let mut add = |op: &str, key: &str, value: Option<String>| {
            if let Some(v) = value {
                let entry = condition.entry(op.to_owned()).or_insert_with(|| json!({}));
                entry[key] = json!(v);
            }
        };
        add("ArnLike", "AWS:SourceArn", text("SourceArn"));
        add("StringEquals", "AWS:SourceAccount", text("SourceAccount"));
        add("StringEquals", "aws:PrincipalOrgID", text("PrincipalOrgID"));
        add(
            "StringEquals",
            "lambda:FunctionUrlAuthType",
            text("FunctionUrlAuthType"),
        );
        add(
            "StringEquals",
            "lambda:EventSourceToken",
            text("EventSourceToken"),
        );
        if !condition.is_empty() {
            statement["Condition"] = Value::Object(condition);
        }
        let mut statements = statements;
        statements.push(statement.clone());
        policy["Statement"] = Value::Array(statements);
        policy["RevisionId"] = json!(revision());
        rec.map_mut("policies").insert(scope, policy);
        self.save(&rec)?;
        Ok((201, json!({"Statement": statement.to_string()})))
    }

    /// `GET /2015-03-31/functions/{name}/policy`: GetPolicy.
    pub(super) fn get_policy(&self, id: &str, req: &ApiRequest) -> Answer {
        let none = || ServiceError::not_found("The resource you requested does not exist.");
        let (rec, scope, _) = self.policy_scope(id, req, |_| none())?;
        let policy = rec.map("policies").get(&scope).cloned().ok_or_else(none)?;
        let statements = policy["Statement"].as_array().cloned().unwrap_or_default();
        if statements.is_empty() {
            return Err(none());
        }
        let document = json!({"Version": "2012-10-17", "Id": "default", "Statement": statements});
        Ok((
            200,
            json!({"Policy": document.to_string(), "RevisionId": policy["RevisionId"]}),
        ))
    }

    /// `DELETE /2015-03-31/functions/{name}/policy/{sid}`: RemovePermission.
    pub(super) fn remove_permission(&self, id: &str, sid: &str, req: &ApiRequest) -> Answer {
        let (mut rec, scope, _) = self.policy_scope(id, req, |arn| {
            ServiceError::not_found(format!("No policy found for: {arn}"))
        })?;
        let Some(mut policy) = rec.map("policies").get(&scope).cloned() else {
            return Err(ServiceError::not_found(
                "No policy is associated with the given resource.",
            ));
        };
        if let Some(r) = req.param("RevisionId") {
            if policy["RevisionId"] != r.as_str() {
                return Err(ServiceError::revision_mismatch("GetPolicy"));
            }
        }
        let mut statements = policy["Statement"].as_array().cloned().unwrap_or_default();
        let before = statements.len();
        statements.retain(|s| s["Sid"] != sid);
        if statements.len() == before {
            return Err(ServiceError::not_found(format!(
                "Statement {sid} is not found in resource policy."
            )));
        }
        policy["Statement"] = Value::Array(statements);
        policy["RevisionId"] = json!(revision());
        rec.map_mut("policies").insert(scope, policy);
        self.save(&rec)?;
        Ok((204, Value::Null))
    }
}

/// The `Principal` of a statement as AWS renders it.
fn principal_of(principal: &str) -> Result<Value, ServiceError> {
    if principal == "*" {
        return Ok(json!("*"));
    }
    if principal.ends_with(".amazonaws.com") || principal.ends_with(".amazonaws.com.cn") {
        return Ok(json!({"Service": principal}));
    }
    if principal.len() == 12 && principal.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(json!({"AWS": format!("arn:aws:iam::{principal}:root")}));
    }
    if principal.starts_with("arn:") {
        return Ok(json!({"AWS": principal}));
    }
    Err(ServiceError::invalid_parameter(
        "The provided principal was invalid. Please check the principal and try again.",
    ))
}
