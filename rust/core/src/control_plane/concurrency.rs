//! Reserved concurrency (Put/Get/DeleteFunctionConcurrency), provisioned concurrency
//! (Put/Get/Delete/ListProvisionedConcurrencyConfig(s)) and GetAccountSettings.

use serde_json::{json, Value};

use super::record::Record;
use super::{listing, now, page, Answer, ApiRequest, ControlPlane};
use crate::aws::{ServiceError, LATEST};
use crate::registry::Version;
use crate::store::code::{MAX_UNZIPPED_BYTES, MAX_ZIPPED_BYTES};

/// AWS's default account concurrency.
const ACCOUNT_CONCURRENCY: u64 = 1000;
/// What AWS keeps unreserved at least.
const MIN_UNRESERVED: u64 = 100;
/// AWS's default total code storage.
const TOTAL_CODE_SIZE: u64 = 80_530_636_800;

impl ControlPlane {
    /// The function-only name of a concurrency call: a qualified one is refused.
    fn unqualified(&self, id: &str) -> Result<String, ServiceError> {
        let (name, qualifier) = self.identify(id, None)?;
        if qualifier.is_some() {
            return Err(ServiceError::invalid_parameter(
                "This operation is permitted on Lambda functions only. Aliases and versions do not support this operation. Please specify either a function name or an unqualified function ARN.",
            ));
        }
        Ok(name)
    }

    fn reserved_elsewhere(&self, except: &str) -> Result<u64, ServiceError> {
        Ok(self
            .store
            .functions()?
            .into_iter()
            .filter(|(n, _)| n != except)
            .filter_map(|(_, d)| d["reserved"].as_u64())
            .sum())
    }

    /// `PUT /2017-10-31/functions/{name}/concurrency`: PutFunctionConcurrency.
    pub(super) fn put_concurrency(&self, id: &str, req: &ApiRequest) -> Answer {
        let name = self.unqualified(id)?;
        let body = req.json()?;
        let n = body
            .get("ReservedConcurrentExecutions")
            .and_then(Value::as_i64)
            .ok_or_else(|| super::functions::missing("reservedConcurrentExecutions"))?;
        if n < 0 {
            return Err(ServiceError::validation(
                &n.to_string(),
                "reservedConcurrentExecutions",
                "Member must have value greater than or equal to 0",
            ));
        }
        let not_found =
            || ServiceError::not_found(format!("Function not found: {}:{LATEST}", self.arn(&name)));
        let mut rec = self.load(&name, not_found)?;
        if self.reserved_elsewhere(&name)? + n as u64 > ACCOUNT_CONCURRENCY - MIN_UNRESERVED {
            return Err(ServiceError::invalid_parameter(&format!(
                "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [{MIN_UNRESERVED}]."
            )));
        }
        rec.0["reserved"] = json!(n);
        self.save(&rec)?;
        if let Some(f) = self.registry.function(&name) {
            // NOTE: takes effect for the next invocation; environments over a lower limit
            // finish their work and go.
            f.wide().set_reserved_concurrency(Some(n as u32));
        }
        Ok((200, json!({"ReservedConcurrentExecutions": n})))
    }

    /// `GET /2019-09-30/functions/{name}/concurrency`: GetFunctionConcurrency.
    pub(super) fn get_concurrency(&self, id: &str) -> Answer {
        let name = self.unqualified(id)?;
        let rec = self.load(&name, || self.not_found(&name))?;
        Ok((
            200,
            rec.reserved()
                .map_or_else(|| json!({}), |n| json!({"ReservedConcurrentExecutions": n})),
        ))
    }

    /// `DELETE /2017-10-31/functions/{name}/concurrency`: DeleteFunctionConcurrency.
    pub(super) fn delete_concurrency(&self, id: &str) -> Answer {
        let name = self.unqualified(id)?;
        let mut rec = self.load(&name, || self.not_found(&name))?;
        rec.0["reserved"] = Value::Null;
        self.save(&rec)?;
        if let Some(f) = self.registry.function(&name) {
            f.wide().set_reserved_concurrency(None);
        }
        Ok((204, Value::Null))
    }

    /// `GET /2016-08-19/account-settings`: GetAccountSettings.
    pub(super) fn account_settings(&self) -> Answer {
        let functions = self.store.functions()?;
        let reserved: u64 = functions
            .iter()
            .filter_map(|(_, d)| d["reserved"].as_u64())
            .sum();
        let mut total_code = 0u64;
        for (_, doc) in &functions {
            total_code += doc["latest"]["CodeSize"].as_u64().unwrap_or(0);
            for v in doc["versions"]
                .as_object()
                .into_iter()
                .flat_map(|m| m.values())
            {
                total_code += v["CodeSize"].as_u64().unwrap_or(0);
            }
        }
        Ok((
            200,
            json!({
                "AccountLimit": {
                    "TotalCodeSize": TOTAL_CODE_SIZE,
                    "CodeSizeUnzipped": MAX_UNZIPPED_BYTES,
                    "CodeSizeZipped": MAX_ZIPPED_BYTES,
                    "ConcurrentExecutions": ACCOUNT_CONCURRENCY,
                    "UnreservedConcurrentExecutions": ACCOUNT_CONCURRENCY - reserved,
                },
                "AccountUsage": {
                    "TotalCodeSize": total_code,
                    "FunctionCount": self.registry.functions().len(),
                },
            }),
        ))
    }

    /// The published version a provisioned-concurrency qualifier names (a version or an
    /// alias), with AWS's errors for `$LATEST` and unknown ones.
    fn provisioned_target(
        &self,
        rec: &Record,
        qualifier: Option<&str>,
        on_put: bool,
    ) -> Result<u32, ServiceError> {
        let base = self.arn(rec.name());
        let q = qualifier.unwrap_or(LATEST);
        match Version::parse(q) {
            Some(Version::Latest) if on_put => Err(ServiceError::invalid_parameter(
                "Provisioned Concurrency Configs cannot be applied to unpublished function versions.",
            )),
            Some(Version::Latest) => Err(ServiceError::invalid_parameter(
                "The function resource provided must be an alias or a published version.",
            )),
            Some(Version::Published(n)) => rec
                .version(n)
                .map(|_| n)
                .ok_or_else(|| ServiceError::not_found(format!("Function not found: {base}:{n}"))),
            None => {
                let alias = rec.alias(q).ok_or_else(|| {
                    ServiceError::not_found(format!("Cannot find alias arn: {base}:{q}"))
                })?;
                match alias["FunctionVersion"].as_str().and_then(Version::parse) {
                    Some(Version::Published(n)) => Ok(n),
                    _ => Err(ServiceError::invalid_parameter(
                        "Provisioned Concurrency Configs cannot be applied to unpublished function versions.",
                    )),
                }
            }
        }
    }

    /// The published version a provisioned configuration's qualifier targets now.
    pub(super) fn provisioned_version(&self, rec: &Record, qualifier: &str) -> Option<u32> {
        self.provisioned_target(rec, Some(qualifier), true).ok()
    }

    fn provisioned_answer(config: &Value) -> Value {
        let requested = config["RequestedProvisionedConcurrentExecutions"].clone();
        let ready = config["Status"] == "READY";
        let available = if ready { requested.clone() } else { json!(0) };
        let mut answer = json!({
            "RequestedProvisionedConcurrentExecutions": requested,
            "AvailableProvisionedConcurrentExecutions": available,
            "AllocatedProvisionedConcurrentExecutions": available,
            "Status": config["Status"],
            "LastModified": config["LastModified"],
        });
        if let Some(reason) = config.get("StatusReason") {
            answer["StatusReason"] = reason.clone();
        }
        answer
    }

    /// `PUT /2019-09-30/functions/{name}/provisioned-concurrency?Qualifier=`.
    pub(super) async fn put_provisioned(&self, id: &str, req: &ApiRequest) -> Answer {
        let (name, qualifier) = self.identify(id, req.param("Qualifier").as_deref())?;
        let body = req.json()?;
        let n = body
            .get("ProvisionedConcurrentExecutions")
            .and_then(Value::as_i64)
            .ok_or_else(|| super::functions::missing("provisionedConcurrentExecutions"))?;
        if n < 1 {
            return Err(ServiceError::validation(
                &n.to_string(),
                "provisionedConcurrentExecutions",
                "Member must have value greater than or equal to 1",
            ));
        }
        let mut rec = self.load(&name, || self.not_found(&name))?;
        let number = self.provisioned_target(&rec, qualifier.as_deref(), true)?;
        let q = qualifier.unwrap_or_default();
        let provisioned = rec.map("provisioned");
        let is_alias = Version::parse(&q).is_none();
        for (other, _) in &provisioned {
            if other == &q {
                continue;
            }
            let other_number = self.provisioned_target(&rec, Some(other), true).ok();
            if other_number == Some(number) {
                return Err(ServiceError::conflict(if is_alias {
                    "Alias can't be used for Provisioned Concurrency configuration on an already Provisioned version"
                } else {
                    "Version is pointed by a Provisioned Concurrency alias"
                }));
            }
        }
        let function = self
            .registry
            .function(&name)
            .ok_or_else(|| self.not_found(&name))?;
        let config = json!({
            "RequestedProvisionedConcurrentExecutions": n,
            "Status": "IN_PROGRESS",
            "LastModified": now(),
        });
        let previous = rec.clone();
        rec.map_mut("provisioned").insert(q.clone(), config.clone());
        self.install(&rec, &function, &number.to_string()).await?;
        let failure = function
            .version(Version::Published(number))
            .and_then(|s| s.provision_failure());
        if let (Some(error_type), Some(kept)) = (failure, rec.map_mut("provisioned").get_mut(&q)) {
            // NOTE: shown as FAILED from the next read, as AWS ends the allocation.
            kept["init_error"] = json!(error_type);
        }
        self.save_or_undo(&rec, &previous, &function, &[number])
            .await?;
        Ok((202, Self::provisioned_answer(&config)))
    }

    /// `GET /2019-09-30/functions/{name}/provisioned-concurrency?Qualifier=`.
    pub(super) fn get_provisioned(&self, id: &str, req: &ApiRequest) -> Answer {
        let (name, qualifier) = self.identify(id, req.param("Qualifier").as_deref())?;
        let rec = self.load(&name, || self.not_found(&name))?;
        self.provisioned_target(&rec, qualifier.as_deref(), false)?;
        let q = qualifier.unwrap_or_default();
        let config = rec
            .map("provisioned")
            .get(&q)
            .cloned()
            .ok_or(ServiceError::ProvisionedConcurrencyConfigNotFound)?;
        Ok((200, Self::provisioned_answer(&config)))
    }

    /// `DELETE /2019-09-30/functions/{name}/provisioned-concurrency?Qualifier=`.
    pub(super) async fn delete_provisioned(&self, id: &str, req: &ApiRequest) -> Answer {
        let (name, qualifier) = self.identify(id, req.param("Qualifier").as_deref())?;
        let mut rec = self.load(&name, || self.not_found(&name))?;
        self.provisioned_target(&rec, qualifier.as_deref(), false)?;
        let q = qualifier.unwrap_or_default();
        let number = self.provisioned_version(&rec, &q);
        if rec.map_mut("provisioned").remove(&q).is_some() {
            self.save(&rec)?;
            if let (Some(function), Some(n)) = (self.registry.function(&name), number) {
                self.install(&rec, &function, &n.to_string()).await?;
            }
        }
        Ok((204, Value::Null))
    }

    /// `GET /2019-09-30/functions/{name}/provisioned-concurrency?List=ALL`.
    pub(super) fn list_provisioned(&self, id: &str, req: &ApiRequest) -> Answer {
        let (name, _) = self.identify(id, None)?;
        let rec = self.load(&name, || self.not_found(&name))?;
        let items: Vec<Value> = rec
            .map("provisioned")
            .iter()
            .map(|(q, config)| {
                let mut item = Self::provisioned_answer(config);
                item["FunctionArn"] = json!(format!("{}:{q}", self.arn(&name)));
                item
            })
            .collect();
        let (items, next) = page(items, req, 50, 50)?;
        Ok((200, listing("ProvisionedConcurrencyConfigs", items, next)))
    }
}
