//! PublishVersion and ListVersionsByFunction: a version is a snapshot of `$LATEST`'s code and
//! configuration, served by a scheduler of its own and never changed afterwards.

use serde_json::{json, Value};

use super::record::{publishable, Record};
use super::{listing, page, revision, unkeyed, Answer, ApiRequest, ControlPlane};
use crate::aws::{ServiceError, LATEST};

impl ControlPlane {
    /// Publish `$LATEST` of `rec` as the next version in the record, unless nothing changed
    /// since the last one (then that one is the answer, as on AWS): its number, and whether it
    /// is new (then [`ControlPlane::commit`] serves it). `description` overrides the copied one.
    pub(super) fn publish(rec: &mut Record, description: Option<&str>) -> (u32, bool) {
        let last = rec.last_version();
        if let Some(previous) = rec.version(last) {
            if publishable(previous) == publishable(rec.latest()) {
                return (last, false);
            }
        }
        let n = last + 1;
        let mut version = rec.latest().clone();
        version["RevisionId"] = json!(revision());
        version["State"] = json!("Active");
        version["LastUpdateStatus"] = json!("Successful");
        version["Version"] = json!(n);
        if let Some(d) = description {
            version["config"]["Description"] = json!(d);
        }
        rec.map_mut("versions").insert(n.to_string(), version);
        rec.0["last_version"] = json!(n);
        rec.latest_mut()["RevisionId"] = json!(revision());
        (n, true)
    }

    /// `POST /2015-03-31/functions/{name}/versions`: PublishVersion.
    pub(super) async fn publish_version(&self, id: &str, req: &ApiRequest) -> Answer {
        let (name, _) = self.identify(id, None)?;
        let body = req.json()?;
        super::shapes::check_fields(&body, super::shapes::VERSION_FIELDS)?;
        let mut rec = self.load(&name, || self.not_found(&name))?;
        super::functions::check_revision(rec.latest(), &body)?;
        if let Some(sha) = body.get("CodeSha256").and_then(Value::as_str) {
            let current = rec.latest()["CodeSha256"].as_str().unwrap_or_default();
            if sha != current {
                return Err(ServiceError::invalid_parameter(&format!(
                    "CodeSHA256 ({sha}) is different from current CodeSHA256 in $LATEST ({current}). Please try again with the CodeSHA256 in $LATEST."
                )));
            }
        }
        let (n, new) = Self::publish(&mut rec, body.get("Description").and_then(Value::as_str));
        let published = n.to_string();
        let keys: &[&str] = if new { &[&published] } else { &[] };
        self.commit(&mut rec, keys).await?;
        let version = rec.version(n).cloned().unwrap_or_default();
        let arn = format!("{}:{n}", self.arn(&name));
        Ok((
            201,
            Self::configuration(rec.name(), &version, &n.to_string(), arn, true),
        ))
    }

    /// `GET /2015-03-31/functions/{name}/versions`: ListVersionsByFunction.
    pub(super) fn list_versions(&self, id: &str, req: &ApiRequest) -> Answer {
        let (name, _) = self.identify(id, None)?;
        let rec = self.load(&name, || self.not_found(&name))?;
        let base = self.arn(&name);
        let mut items = vec![(
            LATEST.to_owned(),
            Self::configuration(
                rec.name(),
                rec.latest(),
                LATEST,
                format!("{base}:{LATEST}"),
                false,
            ),
        )];
        for (n, v) in rec.versions() {
            let item =
                Self::configuration(rec.name(), v, &n.to_string(), format!("{base}:{n}"), false);
            items.push((version_key(n), item));
        }
        let (items, next) = page(items, req, 50, super::MAX_LIST_ITEMS)?;
        Ok((200, listing("Versions", unkeyed(items), next)))
    }
}

/// The page key of version `n`: zero-padded, so keys sort as the numbers do, after `$LATEST`
/// (`$` sorts before the digits).
fn version_key(n: u32) -> String {
    format!("{n:010}")
}
