//! Create/Get/Update/Delete/ListFunctionUrlConfig(s) (docs/reference.md §14): the function
//! URL of `$LATEST` or of an alias, kept in the function's document; a URL serves from the
//! moment it is created or updated and stops when it (or its alias) is deleted.

use serde_json::{json, Map, Value};

use super::record::Record;
use super::{listing, now, page, Answer, ApiRequest, ControlPlane};
use crate::aws::{ServiceError, LATEST};
use crate::config::cors::Cors;
use crate::config::{FunctionUrl, UrlAuthType, UrlInvokeMode};

/// The qualifier pattern of the URL operations (aliases only).
const QUALIFIER_PATTERN: &str = "((?!^\\d+$)^[0-9a-zA-Z-_]+$)";
/// RNFE of Create, Update and List for a function or alias that does not exist.
const NO_FUNCTION: &str = "Function does not exist";
/// RNFE of Get and Delete, and of Update without a configuration.
const NO_CONFIG: &str = "The resource you requested does not exist.";

/// The `InvokeMode` AWS reports when none was given.
const DEFAULT_INVOKE_MODE: &str = "BUFFERED";

impl ControlPlane {
    /// The function name and the URL's key (`$LATEST`, or the alias) of a URL operation.
    fn url_scope(&self, id: &str, req: &ApiRequest) -> Result<(String, String), ServiceError> {
        let (name, qualifier) = self.identify(id, req.param("Qualifier").as_deref())?;
        match qualifier {
            None => Ok((name, LATEST.to_owned())),
            Some(q) => {
                let alias_like = !q.is_empty()
                    && !q.bytes().all(|b| b.is_ascii_digit())
                    && q.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
                if !alias_like {
                    return Err(ServiceError::validation(
                        &q,
                        "qualifier",
                        format!(
                            "Member must satisfy regular expression pattern: {QUALIFIER_PATTERN}"
                        ),
                    ));
                }
                Ok((name, q))
            }
        }
    }

    /// The stored function of a URL, its alias (if the key names one) checked to exist.
    fn url_record(&self, name: &str, key: &str, missing: &str) -> Result<Record, ServiceError> {
        let rec = self.load(name, || ServiceError::not_found(missing))?;
        if key != LATEST && rec.alias(key).is_none() {
            return Err(ServiceError::not_found(missing));
        }
        Ok(rec)
    }

    /// `http://<url-id>.lambda-url.<region>.localhost:<port>/`, the port the request came to.
    fn function_url(&self, name: &str, key: &str, req: &ApiRequest) -> String {
        // NOTE: the URL id is the function name (that is how URLs are routed); an alias's URL
        // gets `<function>--<alias>` (docs/reference.md §14).
        let id = if key == LATEST {
            name.to_owned()
        } else {
            format!("{name}--{key}")
        };
        let port = req
            .host
            .as_deref()
            .and_then(|h| h.rsplit_once(':'))
            .map(|(_, p)| p)
            .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
            .map(|p| format!(":{p}"))
            .unwrap_or_default();
        format!(
            "http://{id}.lambda-url.{}.localhost{port}/",
            self.registry.region()
        )
    }

    /// A configuration as an answer; `InvokeMode` defaulted when `mode_default`.
    fn url_answer(
        &self,
        name: &str,
        key: &str,
        config: &Value,
        req: &ApiRequest,
        mode_default: bool,
    ) -> Value {
        let mut out = config.as_object().cloned().unwrap_or_default();
        let arn = if key == LATEST {
            self.arn(name)
        } else {
            format!("{}:{key}", self.arn(name))
        };
        out.insert(
            "FunctionUrl".into(),
            json!(self.function_url(name, key, req)),
        );
        out.insert("FunctionArn".into(), json!(arn));
        if mode_default && !out.contains_key("InvokeMode") {
            out.insert("InvokeMode".into(), json!(DEFAULT_INVOKE_MODE));
        }
        Value::Object(out)
    }

    /// `POST /2021-10-31/functions/{name}/url`: CreateFunctionUrlConfig.
    pub(super) fn create_url_config(&self, id: &str, req: &ApiRequest) -> Answer {
        let (name, key) = self.url_scope(id, req)?;
        let body = req.json()?;
        let mut config = Map::new();
        let auth = body.get("AuthType").cloned().unwrap_or(Value::Null);
        check_fields(&body, &auth)?;
        config.insert("AuthType".into(), auth);
        for member in ["Cors", "InvokeMode"] {
            if let Some(v) = body.get(member).filter(|v| !v.is_null()) {
                config.insert(member.into(), v.clone());
            }
        }
        let mut rec = self.url_record(&name, &key, NO_FUNCTION)?;
        if rec.map("urls").contains_key(&key) {
            let arn = if key == LATEST {
                self.arn(&name)
            } else {
                format!("{}:{key}", self.arn(&name))
            };
            return Err(ServiceError::conflict(format!(
                "Failed to create function url config for [functionArn = {arn}]. Error message:  FunctionUrlConfig exists for this Lambda function"
            )));
        }
        let time = now();
        config.insert("CreationTime".into(), json!(time));
        config.insert("LastModifiedTime".into(), json!(time));
        let config = Value::Object(config);
        rec.map_mut("urls").insert(key.clone(), config.clone());
        self.save(&rec)?;
        self.serve_url(&rec, &key)?;
        let mut out = self.url_answer(&name, &key, &config, req, false);
        if let Some(o) = out.as_object_mut() {
            o.remove("LastModifiedTime");
        }
        Ok((201, out))
    }

    /// `GET /2021-10-31/functions/{name}/url`: GetFunctionUrlConfig.
    pub(super) fn get_url_config(&self, id: &str, req: &ApiRequest) -> Answer {
        let (name, key) = self.url_scope(id, req)?;
        if let Some(configs) = self.static_url_configs(&name) {
            let config = configs
                .get(&key)
                .ok_or_else(|| ServiceError::not_found(NO_CONFIG))?;
            return Ok((200, self.url_answer(&name, &key, config, req, true)));
        }
        let rec = self.url_record(&name, &key, NO_CONFIG)?;
        let config = rec
            .map("urls")
            .get(&key)
            .cloned()
            .ok_or_else(|| ServiceError::not_found(NO_CONFIG))?;
        Ok((200, self.url_answer(&name, &key, &config, req, true)))
    }

    /// `PUT /2021-10-31/functions/{name}/url`: UpdateFunctionUrlConfig.
    pub(super) fn update_url_config(&self, id: &str, req: &ApiRequest) -> Answer {
        let (name, key) = self.url_scope(id, req)?;
        let body = req.json()?;
        let auth = body.get("AuthType").cloned().unwrap_or(json!("NONE"));
        check_fields(&body, &auth)?;
        let mut rec = self.url_record(&name, &key, NO_FUNCTION)?;
        let mut config = rec
            .map("urls")
            .get(&key)
            .and_then(|c| c.as_object().cloned())
            .ok_or_else(|| ServiceError::not_found(NO_CONFIG))?;
        for member in ["AuthType", "Cors", "InvokeMode"] {
            if let Some(v) = body.get(member).filter(|v| !v.is_null()) {
                config.insert(member.into(), v.clone());
            }
        }
        config.insert("LastModifiedTime".into(), json!(now()));
        let config = Value::Object(config);
        rec.map_mut("urls").insert(key.clone(), config.clone());
        self.save(&rec)?;
        self.serve_url(&rec, &key)?;
        Ok((200, self.url_answer(&name, &key, &config, req, false)))
    }

    /// `DELETE /2021-10-31/functions/{name}/url`: DeleteFunctionUrlConfig.
    pub(super) fn delete_url_config(&self, id: &str, req: &ApiRequest) -> Answer {
        let (name, key) = self.url_scope(id, req)?;
        let mut rec = self.url_record(&name, &key, NO_CONFIG)?;
        if rec.map_mut("urls").remove(&key).is_none() {
            return Err(ServiceError::not_found(NO_CONFIG));
        }
        self.save(&rec)?;
        self.serve_url(&rec, &key)?;
        Ok((204, Value::Null))
    }

    /// `GET /2021-10-31/functions/{name}/urls`: ListFunctionUrlConfigs.
    pub(super) fn list_url_configs(&self, id: &str, req: &ApiRequest) -> Answer {
        let (name, _) = self.identify(id, None)?;
        let configs = match self.static_url_configs(&name) {
            Some(configs) => configs,
            None => self
                .load(&name, || ServiceError::not_found(NO_FUNCTION))?
                .map("urls"),
        };
        let items: Vec<Value> = configs
            .iter()
            .map(|(key, config)| self.url_answer(&name, key, config, req, true))
            .collect();
        let (items, next) = page(items, req, 50, 50)?;
        Ok((200, listing("FunctionUrlConfigs", items, next)))
    }

    /// The URL of `$LATEST` serves as configured from now on (its environments are replaced);
    /// an alias's is read from the store by each request (`alias_url`).
    fn serve_url(&self, rec: &Record, key: &str) -> Result<(), ServiceError> {
        if key == LATEST {
            self.apply_to_version(rec, LATEST)?;
        }
        Ok(())
    }

    /// The URL alias `alias` of the stored function `name` serves, if it has one.
    pub(crate) fn alias_url(&self, name: &str, alias: &str) -> Option<FunctionUrl> {
        if alias == LATEST {
            return None;
        }
        // NOTE: read in place: this runs on every request to an alias's URL, and a function's
        // document holds all its versions.
        let doc = self.store.shared(crate::store::Table::Functions, name)?;
        doc["aliases"].get(alias)?;
        served_url(doc["urls"].get(alias)?)
    }

    /// The URL configuration of a function served from the command line or a config file:
    /// `$LATEST`'s `url`, if it has one (`None`: not such a function).
    fn static_url_configs(&self, name: &str) -> Option<Map<String, Value>> {
        if self.stored(name) {
            return None;
        }
        let function = self.registry.function(name)?;
        let latest = function.latest();
        let context = latest.function();
        let mut out = Map::new();
        if let Some(url) = &context.config.url {
            // NOTE: the configuration's time is the function's `LastModified`, as GetFunction
            // reports it for such a function.
            let described: Value =
                serde_json::from_str(&crate::invoke_api::describe::get_configuration(context))
                    .unwrap_or_default();
            let time = described["LastModified"].clone();
            let mut config = json!({
                "AuthType": match url.auth_type {
                    UrlAuthType::None => "NONE",
                    UrlAuthType::AwsIam => "AWS_IAM",
                },
                "CreationTime": time,
                "LastModifiedTime": time,
            });
            if let Some(cors) = &url.cors {
                config["Cors"] = cors_json(cors);
            }
            if url.invoke_mode == UrlInvokeMode::ResponseStream {
                config["InvokeMode"] = json!("RESPONSE_STREAM");
            }
            out.insert(LATEST.to_owned(), config);
        }
        Some(out)
    }
}

/// AWS's checks of `AuthType` (`auth`: given or kept), `InvokeMode` and `Cors`.
fn check_fields(body: &Map<String, Value>, auth: &Value) -> Result<(), ServiceError> {
    match auth.as_str() {
        Some("NONE" | "AWS_IAM") => {}
        Some(other) => {
            return Err(ServiceError::validation(
                other,
                "authType",
                "Member must satisfy enum value set: [AWS_IAM, NONE]",
            ))
        }
        None => {
            return Err(ServiceError::validation(
                "null",
                "authType",
                "Member must not be null",
            ))
        }
    }
    if let Some(mode) = body.get("InvokeMode").filter(|v| !v.is_null()) {
        let text = mode
            .as_str()
            .map_or_else(|| mode.to_string(), str::to_owned);
        if !["BUFFERED", "RESPONSE_STREAM"].contains(&text.as_str()) {
            return Err(ServiceError::validation(
                &text,
                "invokeMode",
                "Member must satisfy enum value set: [RESPONSE_STREAM, BUFFERED]",
            ));
        }
    }
    if let Some(cors) = body.get("Cors").filter(|v| !v.is_null()) {
        Cors::from_aws(cors)
            .map_err(|e| ServiceError::validation(&e.value, e.member, e.constraint))?;
    }
    Ok(())
}

/// The `FunctionUrl` a stored configuration serves (docs/reference.md §14).
pub(super) fn served_url(config: &Value) -> Option<FunctionUrl> {
    let auth_type = match config["AuthType"].as_str()? {
        "AWS_IAM" => UrlAuthType::AwsIam,
        _ => UrlAuthType::None,
    };
    let invoke_mode = match config["InvokeMode"].as_str() {
        Some("RESPONSE_STREAM") => UrlInvokeMode::ResponseStream,
        _ => UrlInvokeMode::Buffered,
    };
    let cors = config
        .get("Cors")
        .filter(|c| !c.is_null())
        .and_then(|c| Cors::from_aws(c).ok());
    Some(FunctionUrl {
        auth_type,
        cors,
        invoke_mode,
    })
}

/// A `Cors` as AWS's JSON object (the members that are set).
fn cors_json(c: &Cors) -> Value {
    let mut out = Map::new();
    if c.allow_credentials {
        out.insert("AllowCredentials".into(), json!(true));
    }
    for (key, list) in [
        ("AllowHeaders", &c.allow_headers),
        ("AllowMethods", &c.allow_methods),
        ("AllowOrigins", &c.allow_origins),
        ("ExposeHeaders", &c.expose_headers),
    ] {
        if !list.is_empty() {
            out.insert(key.into(), json!(list));
        }
    }
    if c.max_age > 0 {
        out.insert("MaxAge".into(), json!(c.max_age));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_configurations_become_served_urls() {
        let url = served_url(&json!({
            "AuthType": "AWS_IAM",
            "Cors": {"AllowOrigins": ["*"], "MaxAge": 10},
        }))
        .unwrap();
        assert_eq!(url.auth_type, UrlAuthType::AwsIam);
        assert_eq!(url.invoke_mode, UrlInvokeMode::Buffered);
        let streamed = served_url(&json!({"AuthType": "NONE", "InvokeMode": "RESPONSE_STREAM"}));
        assert_eq!(
            streamed.map(|u| u.invoke_mode),
            Some(UrlInvokeMode::ResponseStream)
        );
        let cors = url.cors.unwrap();
        assert_eq!(cors.allow_origins, vec!["*"]);
        assert_eq!(cors.max_age, 10);
        assert_eq!(served_url(&json!({})), None);
    }

    #[test]
    fn invoke_modes_and_auth_types_get_aws_enum_errors() {
        let body: Map<String, Value> =
            serde_json::from_value(json!({"InvokeMode": "FAST"})).unwrap();
        let e = check_fields(&body, &json!("NONE")).unwrap_err();
        assert_eq!(
            e.message(),
            "1 validation error detected: Value 'FAST' at 'invokeMode' failed to satisfy constraint: Member must satisfy enum value set: [RESPONSE_STREAM, BUFFERED]"
        );
        let e = check_fields(&Map::new(), &json!("OPEN")).unwrap_err();
        assert!(e.message().contains("at 'authType'"), "{}", e.message());
    }

    #[test]
    fn cors_json_has_only_the_members_set() {
        let c = Cors {
            allow_origins: vec!["*".into()],
            max_age: 5,
            ..Cors::default()
        };
        assert_eq!(cors_json(&c), json!({"AllowOrigins": ["*"], "MaxAge": 5}));
    }
}
