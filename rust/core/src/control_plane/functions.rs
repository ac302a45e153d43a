//! CreateFunction, GetFunction, GetFunctionConfiguration, ListFunctions, UpdateFunctionCode,
//! UpdateFunctionConfiguration and DeleteFunction; and how a stored version becomes a
//! scheduler: its configuration mapped onto a `FunctionSpec` and built.

use std::sync::Arc;

use base64::Engine;
use serde_json::{json, Map, Value};

use super::record::Record;
use super::{listing, now, page, revision, Answer, ApiRequest, ControlPlane};
use crate::aws::{ServiceError, LATEST};
use crate::config::spec::{BuildContext, FunctionSpec, NamedLimit, Number, Runtime, Source};
use crate::config::{Defaults, FunctionConfig, MAX_ENVIRONMENT_BYTES};
use crate::environment::FunctionContext;
use crate::registry::{AliasRoute, Version};
use crate::scheduler::{ExecutionEnvironments, Scheduler};
use crate::store::code::{self, CodeError, MAX_ZIPPED_BYTES};

/// AWS's runtime identifiers (botocore's `Runtime` enum).
pub const RUNTIMES: &[&str] = &[
    "nodejs",
    "nodejs4.3",
    "nodejs6.10",
    "nodejs8.10",
    "nodejs10.x",
    "nodejs12.x",
    "nodejs14.x",
    "nodejs16.x",
    "java8",
    "java8.al2",
    "java11",
    "python2.7",
    "python3.6",
    "python3.7",
    "python3.8",
    "python3.9",
    "dotnetcore1.0",
    "dotnetcore2.0",
    "dotnetcore2.1",
    "dotnetcore3.1",
    "dotnet6",
    "dotnet8",
    "nodejs4.3-edge",
    "go1.x",
    "ruby2.5",
    "ruby2.7",
    "provided",
    "provided.al2",
    "nodejs18.x",
    "python3.10",
    "java17",
    "ruby3.2",
    "ruby3.3",
    "ruby3.4",
    "python3.11",
    "nodejs20.x",
    "provided.al2023",
    "python3.12",
    "java21",
    "python3.13",
    "nodejs22.x",
    "python3.14",
    "nodejs24.x",
    "java25",
    "dotnet10",
];

/// The configuration fields of CreateFunction / UpdateFunctionConfiguration that are stored
/// and echoed (docs/reference.md §13).
const CONFIG_FIELDS: &[&str] = &[
    "Runtime",
    "Role",
    "Handler",
    "Description",
    "Timeout",
    "MemorySize",
    "Environment",
    "TracingConfig",
    "DeadLetterConfig",
    "VpcConfig",
    "KMSKeyArn",
    "FileSystemConfigs",
    "ImageConfig",
    "EphemeralStorage",
    "LoggingConfig",
    "SnapStart",
    "Architectures",
    "Layers",
];

const ROLE_PATTERN: &str = r"arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+";

impl ControlPlane {
    /// `POST /2015-03-31/functions`: CreateFunction.
    pub(super) async fn create_function(&self, req: &ApiRequest) -> Answer {
        let body = req.json()?;
        let name = body
            .get("FunctionName")
            .and_then(Value::as_str)
            .ok_or_else(|| missing("functionName"))?
            .to_owned();
        let (name, qualifier) = self.identify(&name, None)?;
        let _guard = self
            .locks
            .acquire(&[super::locks::function_key(&name)])
            .await;
        if qualifier.is_some() || name.len() > crate::config::MAX_FUNCTION_NAME_BYTES {
            return Err(ServiceError::validation(
                &name,
                "functionName",
                "Member must have length less than or equal to 64",
            ));
        }
        let role = body
            .get("Role")
            .and_then(Value::as_str)
            .ok_or_else(|| missing("role"))?;
        check_role(role)?;
        let code = body
            .get("Code")
            .and_then(Value::as_object)
            .ok_or_else(|| missing("code"))?;
        let package = body
            .get("PackageType")
            .and_then(Value::as_str)
            .unwrap_or("Zip");
        if package == "Image" {
            return Err(ServiceError::invalid_parameter(
                "PackageType Image is not supported by lambda-rie",
            ));
        }
        super::shapes::check_fields(&body, super::shapes::FUNCTION_FIELDS)?;
        let tags = super::tags::given_tags(&body)?;
        let zip = zip_of(code)?;
        let mut config = defaults(&name);
        merge_config(&mut config, &body);
        config.insert("PackageType".into(), json!("Zip"));
        if !config.contains_key("Runtime") || !config.contains_key("Handler") {
            return Err(ServiceError::invalid_parameter(
                "Runtime and Handler are mandatory parameters for functions created with deployment packages.",
            ));
        }
        check_runtime(config["Runtime"].as_str().unwrap_or_default())?;
        check_environment(&config)?;
        let mut layer_hexes = Vec::new();
        if let Some(layers) = config.get("Layers").cloned() {
            let (resolved, hexes) = self.resolve_layers(&layers)?;
            config.insert("Layers".into(), resolved);
            layer_hexes = hexes;
        }
        if self.store.get(&name)?.is_some() || self.registry.function(&name).is_some() {
            return Err(ServiceError::conflict(format!(
                "Function already exist: {name}"
            )));
        }
        let mut version = self.new_code(zip, config).await?;
        version["layer_hexes"] = json!(layer_hexes);
        self.function_config(&name, &version, None)?;
        let mut rec = Record::new(&name, version);
        rec.latest_mut()["State"] = json!("Pending");
        if let Some(tags) = tags {
            rec.map_mut("tags").clone_from(tags);
        }
        let mut answer =
            Self::configuration(rec.name(), rec.latest(), LATEST, self.arn(&name), true);
        if body.get("Publish").and_then(Value::as_bool) == Some(true) {
            let (published, _) = Self::publish(&mut rec, None);
            answer["Version"] = json!(published.to_string());
        }
        // NOTE: stored first, so that a function the store refuses is never served.
        self.save(&rec)?;
        if let Err(e) = self.serve_record(&mut rec).await {
            self.store.delete(&name)?;
            return Err(e);
        }
        crate::logs::message(
            crate::config::LogLevel::Info,
            &format!(
                "CreateFunction: {name} ({})",
                rec.latest()["config"]["Runtime"].as_str().unwrap_or("")
            ),
        );
        Ok((201, answer))
    }

    /// Check and keep `zip` as the code of a version with `config`: the version document.
    pub(super) async fn new_code(
        &self,
        zip: Vec<u8>,
        config: Map<String, Value>,
    ) -> Result<Value, ServiceError> {
        let digests = code::digests(&zip);
        let size = zip.len();
        let store = Arc::clone(&self.store);
        let hex = digests.hex.clone();
        tokio::task::spawn_blocking(move || {
            let blob = store.blob_path(&hex);
            let new_blob = !blob.is_file();
            store.keep_code(&hex, &zip).inspect_err(|_| {
                // NOTE: the zip of code refused is not kept.
                if new_blob && !store.code_dir(&hex).is_dir() {
                    let _ = std::fs::remove_file(&blob);
                }
            })
        })
        .await
        .map_err(|e| ServiceError::service(&e.to_string()))?
        .map_err(|e| code_error(&e))?;
        Ok(json!({
            "config": config,
            "sha_hex": digests.hex,
            "CodeSha256": digests.base64,
            "CodeSize": size,
            "LastModified": now(),
            "RevisionId": revision(),
            "State": "Active",
        }))
    }

    /// The `FunctionConfig` a stored version runs with: its fields mapped onto a
    /// `FunctionSpec` (source: the API request) and built by the one validator.
    pub(super) fn function_config(
        &self,
        name: &str,
        version: &Value,
        invoke_config: Option<&Value>,
    ) -> Result<FunctionConfig, ServiceError> {
        let c = &version["config"];
        let mut spec = FunctionSpec::new(Source::Api {
            function: name.to_owned(),
        });
        spec.name = Some(spec.setting("FunctionName", name.to_owned()));
        let runtime_id = c["Runtime"].as_str().unwrap_or_default().to_owned();
        let runtime = match Runtime::from_identifier(&runtime_id) {
            Runtime::Unsupported(id) => {
                let Some(command) = self.settings.runtime_commands.get(&id) else {
                    return Err(ServiceError::invalid_parameter(&format!(
                        "lambda-rie has no command for runtime {id}: give it with --runtime-command {id}=COMMAND or [runtimes] \"{id}\" = [\"COMMAND\", ...] in lambda-rie.toml"
                    )));
                };
                spec.command = Some(spec.setting("Runtime", command.clone()));
                Runtime::Provided
            }
            other => other,
        };
        spec.runtime = Some(spec.setting("Runtime", runtime));
        if let Some(h) = c["Handler"].as_str() {
            spec.handler = Some(spec.setting("Handler", h.to_owned()));
        }
        let dir = self
            .store
            .code_dir(version["sha_hex"].as_str().unwrap_or_default());
        spec.code_dir = Some(spec.setting("Code", dir));
        // NOTE: an integer too large for 64 bits is held as a float: its range check refuses it.
        let number = |spec: &FunctionSpec, key: &str, v: &Value| {
            let n = v.as_i64().map(i128::from).or_else(|| {
                v.as_u64().map(i128::from).or_else(|| {
                    v.as_f64()
                        .filter(|_| super::shapes::is_integer(v))
                        .map(|f| f.clamp(-1e38, 1e38) as i128)
                })
            })?;
            Some(spec.setting(key, Number::Whole(n)))
        };
        spec.timeout = number(&spec, "Timeout", &c["Timeout"]);
        spec.memory = number(&spec, "MemorySize", &c["MemorySize"]);
        spec.ephemeral_storage = number(
            &spec,
            "EphemeralStorage.Size",
            &c["EphemeralStorage"]["Size"],
        );
        if let Some(vars) = c["Environment"]["Variables"].as_object() {
            let vars: Vec<(String, String)> = vars
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str().map_or_else(|| v.to_string(), str::to_owned),
                    )
                })
                .collect();
            spec.environment = Some(spec.setting("Environment.Variables", vars));
        }
        let layers = self.layer_dirs(version);
        if !layers.is_empty() {
            spec.layers = Some(spec.setting("Layers", layers));
        }
        if let Some(eic) = invoke_config {
            Self::apply_invoke_config(&mut spec, eic);
        }
        let ctx = BuildContext {
            runtime: &self.settings.handler_runtime,
            defaults: Defaults::FUNCTION,
            max_environments: NamedLimit {
                name: "--max-environments".to_owned(),
                value: self.settings.max_environments,
            },
        };
        let mut f = spec
            .build(&ctx)
            .map_err(|e| ServiceError::invalid_parameter(&e.to_string()))?;
        if let Some(run_as) = self.settings.run_as {
            f.run_as = run_as;
        }
        if let Some(n) = version["Version"].as_u64() {
            f.version = n.to_string();
        }
        Ok(f)
    }

    /// A scheduler for `config`, sharing the function-wide state of `function` when given.
    pub(super) fn scheduler(
        &self,
        config: FunctionConfig,
        function: Option<&crate::registry::Function>,
    ) -> Arc<Scheduler> {
        let layers = if config.layers.is_empty() {
            None
        } else {
            let mounted = crate::environment::sandbox::Capabilities::get().namespaces;
            match crate::layers::MergedLayers::merge(&config.name, &config.layers, mounted) {
                Ok(merged) => Some(Arc::new(merged)),
                Err(e) => {
                    crate::logs::message(
                        crate::config::LogLevel::Error,
                        &format!("layers of {} not merged: {e}", config.name),
                    );
                    None
                }
            }
        };
        let context = Arc::new(FunctionContext {
            config,
            region: self.registry.region().to_owned(),
            account_id: self.registry.account_id().to_owned(),
            layers,
            snapstart: None,
        });
        let policy = self.settings.on_throttle;
        let scheduler = Arc::new(match function {
            Some(f) => Scheduler::with_launcher(
                context,
                Arc::clone(&self.cap),
                policy,
                ExecutionEnvironments,
                Arc::clone(f.wide()),
            ),
            None => Scheduler::new(context, Arc::clone(&self.cap), policy),
        });
        tokio::spawn(crate::emulator::reap_idle(Arc::downgrade(&scheduler)));
        scheduler
    }

    /// Serve a stored function (start-up, creation): `$LATEST`, versions, aliases,
    /// concurrency. A version whose provisioned concurrency no longer fits the environment
    /// limit is served on demand, its configurations marked `FAILED` in `rec` (then the result
    /// is `true`: save it); a version that cannot run here (its runtime has no command any
    /// more) is left out with a log line, the rest served. `$LATEST` that cannot run is the
    /// error: then nothing is served.
    pub(super) async fn serve_record(&self, rec: &mut Record) -> Result<bool, ServiceError> {
        let latest = self.scheduler(self.version_config(rec, LATEST)?, None);
        let function = self
            .registry
            .add(latest)
            .map_err(|e| ServiceError::service(&e.to_string()))?;
        function.wide().set_reserved_concurrency(rec.reserved());
        let mut changed = false;
        let versions: Vec<u32> = rec.versions().into_iter().map(|(n, _)| n).collect();
        for n in versions {
            let key = n.to_string();
            if let Err(e) = self.version_config(rec, &key) {
                crate::logs::message(
                    crate::config::LogLevel::Error,
                    &format!(
                        "function {}, version {n} is not served: {}",
                        rec.name(),
                        e.message()
                    ),
                );
                continue;
            }
            if let Err(e) = self.install(rec, &function, &key).await {
                let reason = format!(
                    "not provisioned at start-up, the version is served on demand: {}",
                    e.message()
                );
                crate::logs::message(
                    crate::config::LogLevel::Error,
                    &format!("function {}, version {n}: {reason}", rec.name()),
                );
                let targets: Vec<String> = rec
                    .map("provisioned")
                    .keys()
                    .filter(|q| self.provisioned_version(rec, q) == Some(n))
                    .cloned()
                    .collect();
                for q in targets {
                    if let Some(config) = rec.map_mut("provisioned").get_mut(&q) {
                        config["Status"] = json!("FAILED");
                        config["StatusReason"] = json!(reason);
                    }
                }
                changed = true;
                self.install(rec, &function, &key).await?;
            }
        }
        for alias in rec.map("aliases").keys() {
            if let Some(route) = Self::alias_route(rec, alias) {
                function.set_alias(alias, route);
            }
        }
        Ok(changed)
    }

    /// The `FunctionConfig` of version `key` (`$LATEST` or a number) of `rec`: its code and
    /// configuration, its async invoke configuration and the provisioned concurrency of the
    /// configurations that target it.
    pub(super) fn version_config(
        &self,
        rec: &Record,
        key: &str,
    ) -> Result<FunctionConfig, ServiceError> {
        let version = match Version::parse(key) {
            Some(Version::Published(n)) => rec.version(n),
            _ => Some(rec.latest()),
        }
        .ok_or_else(|| self.not_found(rec.name()))?;
        let invoke_config = rec.map("invoke_configs").get(key).cloned();
        let mut f = self.function_config(rec.name(), version, invoke_config.as_ref())?;
        if !matches!(Version::parse(key), Some(Version::Published(_))) {
            // NOTE: only `$LATEST`'s URL is served (docs/reference.md §14).
            f.url = rec
                .map("urls")
                .get(LATEST)
                .and_then(super::function_urls::served_url);
        }
        f.provisioned_concurrency = rec
            .map("provisioned")
            .iter()
            // NOTE: a failed configuration holds no environments (AWS ends its allocation).
            .filter(|(q, c)| {
                c["Status"] != "FAILED"
                    && self
                        .provisioned_version(rec, q)
                        .map(|n| n.to_string())
                        .as_deref()
                        == Some(key)
            })
            .map(|(_, c)| {
                c["RequestedProvisionedConcurrentExecutions"]
                    .as_u64()
                    .unwrap_or(0) as u32
            })
            .sum();
        Ok(f)
    }

    /// Serve version `key` of `rec` on a new scheduler (its provisioned environments
    /// initialised first); the previous one's environments go after their invocations.
    pub(super) async fn install(
        &self,
        rec: &Record,
        function: &Arc<crate::registry::Function>,
        key: &str,
    ) -> Result<(), ServiceError> {
        let config = self.version_config(rec, key)?;
        let provisioned = config.provisioned_concurrency;
        let scheduler = self.scheduler(config, Some(function));
        if provisioned > 0 {
            scheduler.provision().await.map_err(|e| {
                ServiceError::invalid_parameter(&format!(
                    "Specified ConcurrentExecutions for function is greater than account's unreserved concurrency [{}]. ({e})",
                    self.settings.max_environments
                ))
            })?;
        }
        Self::swap(&self.registry, function, key, scheduler);
        Ok(())
    }

    /// `scheduler` serves version `key` of `function` from now on; the previous one's
    /// environments go after their invocations.
    pub(super) fn swap(
        registry: &crate::registry::Registry,
        function: &crate::registry::Function,
        key: &str,
        scheduler: Arc<Scheduler>,
    ) {
        let previous = match Version::parse(key) {
            Some(Version::Published(n)) => function.publish(n, scheduler),
            _ => Some(function.replace_latest(scheduler)),
        };
        // NOTE: retired, not shut down: in-flight invocations finish on the old code.
        if let Some(previous) = previous {
            registry.retire(&previous);
        }
    }

    /// A `FunctionConfiguration`: the stored fields and the computed ones; `State` and
    /// `LastUpdateStatus` only where AWS sends them (Get*, Create, Update, Publish).
    pub(super) fn configuration(
        name: &str,
        version: &Value,
        number: &str,
        arn: String,
        with_state: bool,
    ) -> Value {
        let mut out = version["config"].as_object().cloned().unwrap_or_default();
        out.insert("FunctionName".into(), json!(name));
        out.insert("FunctionArn".into(), Value::String(arn));
        for key in ["CodeSize", "CodeSha256", "LastModified", "RevisionId"] {
            out.insert(key.into(), version[key].clone());
        }
        out.insert("Version".into(), json!(number));
        if with_state {
            let state = version["State"].as_str().unwrap_or("Active");
            out.insert("State".into(), json!(state));
            if state == "Pending" {
                out.insert(
                    "StateReason".into(),
                    json!("The function is being created."),
                );
                out.insert("StateReasonCode".into(), json!("Creating"));
            } else if let Some(status) = version["LastUpdateStatus"].as_str() {
                out.insert("LastUpdateStatus".into(), json!(status));
                if status == "InProgress" {
                    out.insert(
                        "LastUpdateStatusReason".into(),
                        json!("The function is being created."),
                    );
                    out.insert("LastUpdateStatusReasonCode".into(), json!("Creating"));
                }
            }
        }
        Value::Object(out)
    }

    /// The version a qualifier names (`None`: `$LATEST`), its number and the ARN as asked.
    pub(super) fn qualified<'r>(
        &self,
        rec: &'r Record,
        qualifier: Option<&str>,
    ) -> Result<(&'r Value, String, String), ServiceError> {
        let name = rec.name();
        let base = self.arn(name);
        let not_found =
            |q: &str| ServiceError::not_found(format!("Function not found: {base}:{q}"));
        match qualifier {
            None => Ok((rec.latest(), LATEST.to_owned(), base.clone())),
            Some(q) => match Version::parse(q) {
                Some(Version::Latest) => {
                    Ok((rec.latest(), LATEST.to_owned(), format!("{base}:{q}")))
                }
                Some(Version::Published(n)) => rec
                    .version(n)
                    .map(|v| (v, n.to_string(), format!("{base}:{q}")))
                    .ok_or_else(|| not_found(q)),
                None => {
                    let alias = rec.alias(q).ok_or_else(|| not_found(q))?;
                    let target = alias["FunctionVersion"].as_str().unwrap_or(LATEST);
                    let version = match Version::parse(target) {
                        Some(Version::Published(n)) => {
                            rec.version(n).ok_or_else(|| not_found(q))?
                        }
                        _ => rec.latest(),
                    };
                    Ok((version, target.to_owned(), format!("{base}:{q}")))
                }
            },
        }
    }

    /// `GET /2015-03-31/functions/{name}`: GetFunction.
    pub(super) fn get_function(&self, id: &str, req: &ApiRequest) -> Answer {
        let (name, qualifier) = self.identify(id, req.param("Qualifier").as_deref())?;
        if let Some(answer) = self.static_describe(&name, qualifier.as_deref(), true)? {
            return Ok((200, answer));
        }
        let missing = || self.missing_qualified(&name, qualifier.as_deref());
        let rec = self.load(&name, missing)?;
        let (version, number, arn) = self.qualified(&rec, qualifier.as_deref())?;
        let host = req.host.clone().unwrap_or_else(|| "127.0.0.1".to_owned());
        let location = format!(
            "http://{host}{}{}.zip",
            super::CODE_PATH,
            version["sha_hex"].as_str().unwrap_or_default()
        );
        let mut out = json!({
            "Configuration": Self::configuration(rec.name(), version, &number, arn, true),
            "Code": {"RepositoryType": "S3", "Location": location},
        });
        let tags = rec.map("tags");
        if !tags.is_empty() {
            out["Tags"] = Value::Object(tags);
        }
        if let Some(n) = rec.reserved() {
            out["Concurrency"] = json!({"ReservedConcurrentExecutions": n});
        }
        Ok((200, out))
    }

    /// `GET /2015-03-31/functions/{name}/configuration`: GetFunctionConfiguration.
    pub(super) fn get_configuration(&self, id: &str, req: &ApiRequest) -> Answer {
        let (name, qualifier) = self.identify(id, req.param("Qualifier").as_deref())?;
        if let Some(answer) = self.static_describe(&name, qualifier.as_deref(), false)? {
            return Ok((200, answer));
        }
        let rec = self.load(&name, || {
            self.missing_qualified(&name, qualifier.as_deref())
        })?;
        let (version, number, arn) = self.qualified(&rec, qualifier.as_deref())?;
        Ok((
            200,
            Self::configuration(rec.name(), version, &number, arn, true),
        ))
    }

    /// 404 `Function not found: <arn as asked>`.
    fn missing_qualified(&self, name: &str, qualifier: Option<&str>) -> ServiceError {
        match qualifier {
            Some(q) => {
                ServiceError::not_found(format!("Function not found: {}:{q}", self.arn(name)))
            }
            None => self.not_found(name),
        }
    }

    /// GetFunction / GetFunctionConfiguration of a function served from the command line or
    /// a config file (not in the store).
    fn static_describe(
        &self,
        name: &str,
        qualifier: Option<&str>,
        whole: bool,
    ) -> Result<Option<Value>, ServiceError> {
        if self.stored(name) {
            return Ok(None);
        }
        // NOTE: `function` (the RIE's fixed name) is the first function, as for Invoke.
        let q = qualifier.map(|q| format!(":{q}")).unwrap_or_default();
        let target = match self.registry.resolve(&format!("{name}{q}"), None) {
            Ok(target) => target,
            Err(e) if self.registry.function(name).is_some() => return Err(e),
            Err(_) => return Ok(None),
        };
        let context = target.scheduler.function();
        if self.stored(&context.config.name) {
            return Ok(None);
        }
        let text = if whole {
            crate::invoke_api::describe::get_function(context)
        } else {
            crate::invoke_api::describe::get_configuration(context)
        };
        Ok(serde_json::from_str(&text).ok())
    }

    /// `GET /2015-03-31/functions/`: ListFunctions (`FunctionVersion=ALL` adds the versions).
    pub(super) fn list_functions(&self, req: &ApiRequest) -> Answer {
        let all = match req.param("FunctionVersion").as_deref() {
            None => false,
            Some("ALL") => true,
            Some(v) => {
                return Err(ServiceError::validation(
                    v,
                    "functionVersion",
                    "Member must satisfy enum value set: [ALL]",
                ))
            }
        };
        // NOTE: the page is chosen first and only its entries are rendered.
        let stored = self.store.functions()?;
        // NOTE: keyed by name, and a version by name, a space (below every character of a
        // name) and its zero-padded number, so that each item has a key of its own and a
        // function's versions follow its `$LATEST`.
        let mut entries: Vec<(String, (String, Listed))> = Vec::new();
        for (name, doc) in &stored {
            if self.hidden(name) {
                continue;
            }
            let entry = (name.clone(), Listed::Stored(Arc::clone(doc), None));
            entries.push((name.clone(), entry));
            if all {
                let mut numbers: Vec<u32> = doc["versions"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter_map(|(k, _)| k.parse().ok())
                    .collect();
                numbers.sort_unstable();
                entries.extend(numbers.into_iter().map(|n| {
                    let entry = (name.clone(), Listed::Stored(Arc::clone(doc), Some(n)));
                    (format!("{name} {n:010}"), entry)
                }));
            }
        }
        for function in self.registry.functions() {
            if !self.stored(function.name()) {
                let name = function.name().to_owned();
                entries.push((name.clone(), (name, Listed::Served(function))));
            }
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let (entries, next) = page(entries, req, 50, super::MAX_LIST_ITEMS)?;
        let items = entries
            .into_iter()
            .map(|(_, (name, entry))| self.listed(&name, entry, all))
            .collect();
        Ok((200, listing("Functions", items, next)))
    }

    /// One ListFunctions item.
    fn listed(&self, name: &str, entry: Listed, all: bool) -> Value {
        let base = self.arn(name);
        match entry {
            Listed::Stored(doc, None) => {
                let arn = if all {
                    format!("{base}:{LATEST}")
                } else {
                    base
                };
                Self::configuration(name, &doc["latest"], LATEST, arn, false)
            }
            Listed::Stored(doc, Some(n)) => Self::configuration(
                name,
                &doc["versions"][n.to_string()],
                &n.to_string(),
                format!("{base}:{n}"),
                false,
            ),
            Listed::Served(function) => {
                let text =
                    crate::invoke_api::describe::get_configuration(function.latest().function());
                let mut entry: Value = serde_json::from_str(&text).unwrap_or_default();
                if let Some(o) = entry.as_object_mut() {
                    o.remove("State");
                    o.remove("LastUpdateStatus");
                    if all {
                        o.insert("FunctionArn".into(), json!(format!("{base}:{LATEST}")));
                    }
                }
                entry
            }
        }
    }

    /// `PUT /2015-03-31/functions/{name}/code`: UpdateFunctionCode.
    pub(super) async fn update_code(&self, id: &str, req: &ApiRequest) -> Answer {
        let (name, qualifier) = self.identify(id, None)?;
        reject_qualifier(qualifier.as_deref())?;
        let body = req.json()?;
        let mut rec = self.load(&name, || self.not_found(&name))?;
        check_revision(rec.latest(), &body)?;
        if body.contains_key("ImageUri") {
            return Err(ServiceError::invalid_parameter(
                "Please don't provide ImageUri when updating a function with packageType Zip.",
            ));
        }
        super::shapes::check_fields(&body, super::shapes::CODE_FIELDS)?;
        let zip = zip_of(&body)?;
        let mut config = rec.latest()["config"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        if let Some(arch) = body.get("Architectures") {
            config.insert("Architectures".into(), arch.clone());
        }
        let mut version = self.new_code(zip, config).await?;
        version["LastUpdateStatus"] = json!("InProgress");
        version["layer_hexes"] = rec.latest()["layer_hexes"].clone();
        self.function_config(&name, &version, None)?;
        if body.get("DryRun").and_then(Value::as_bool) == Some(true) {
            return Ok((
                200,
                Self::configuration(rec.name(), &version, LATEST, self.arn(&name), true),
            ));
        }
        *rec.latest_mut() = version;
        let (answer, published) = if body.get("Publish").and_then(Value::as_bool) == Some(true) {
            let (n, new) = Self::publish(&mut rec, None);
            let v = rec.version(n).cloned().unwrap_or_default();
            let answer = Self::configuration(
                rec.name(),
                &v,
                &n.to_string(),
                format!("{}:{n}", self.arn(&name)),
                true,
            );
            (answer, new.then(|| n.to_string()))
        } else {
            let answer =
                Self::configuration(rec.name(), rec.latest(), LATEST, self.arn(&name), true);
            (answer, None)
        };
        let mut keys = vec![LATEST];
        keys.extend(published.as_deref());
        self.commit(&mut rec, &keys).await?;
        crate::logs::message(
            crate::config::LogLevel::Info,
            &format!("UpdateFunctionCode: {name}: new invocations run the new code"),
        );
        Ok((200, answer))
    }

    /// `PUT /2015-03-31/functions/{name}/configuration`: UpdateFunctionConfiguration.
    pub(super) async fn update_configuration(&self, id: &str, req: &ApiRequest) -> Answer {
        let (name, qualifier) = self.identify(id, None)?;
        reject_qualifier(qualifier.as_deref())?;
        let body = req.json()?;
        let mut rec = self.load(&name, || self.not_found(&name))?;
        check_revision(rec.latest(), &body)?;
        let mut version = rec.latest().clone();
        super::shapes::check_fields(&body, super::shapes::FUNCTION_FIELDS)?;
        if let Some(role) = body.get("Role").and_then(Value::as_str) {
            check_role(role)?;
        }
        let mut config = version["config"].as_object().cloned().unwrap_or_default();
        merge_config(&mut config, &body);
        if body.contains_key("Runtime") {
            check_runtime(config["Runtime"].as_str().unwrap_or_default())?;
        }
        check_environment(&config)?;
        if let Some(layers) = body.get("Layers") {
            let (resolved, hexes) = self.resolve_layers(layers)?;
            config.insert("Layers".into(), resolved);
            version["layer_hexes"] = json!(hexes);
        }
        version["config"] = Value::Object(config);
        version["LastUpdateStatus"] = json!("InProgress");
        version["RevisionId"] = json!(revision());
        version["LastModified"] = json!(now());
        *rec.latest_mut() = version;
        self.commit(&mut rec, &[LATEST]).await?;
        Ok((
            200,
            Self::configuration(rec.name(), rec.latest(), LATEST, self.arn(&name), true),
        ))
    }

    /// Store `rec`, then serve its versions `keys` (`$LATEST` or numbers) on new schedulers
    /// (in-flight invocations finish on the old ones), so that a request the store refuses
    /// changes nothing that runs. Their configurations are built first: nothing is stored that
    /// cannot be served. A stored function that is not served (it could not be at start-up)
    /// is served whole once it can be.
    pub(super) async fn commit(&self, rec: &mut Record, keys: &[&str]) -> Result<(), ServiceError> {
        let configs = keys
            .iter()
            .map(|key| Ok((*key, self.version_config(rec, key)?)))
            .collect::<Result<Vec<_>, ServiceError>>()?;
        self.save(rec)?;
        let Some(function) = self.registry.function(rec.name()) else {
            match self.serve_record(rec).await {
                Ok(true) => self.save(rec)?,
                Ok(false) => {}
                Err(e) => crate::logs::message(
                    crate::config::LogLevel::Error,
                    &format!(
                        "function {} is still not served: {}",
                        rec.name(),
                        e.message()
                    ),
                ),
            }
            return Ok(());
        };
        for (key, config) in configs {
            let scheduler = self.scheduler(config, Some(&function));
            Self::swap(&self.registry, &function, key, scheduler);
        }
        Ok(())
    }

    /// Store `rec`, whose versions `numbers` are served already (a provisioning is made
    /// before it is recorded); if the store refuses it, serve them from `previous` again.
    pub(super) async fn save_or_undo(
        &self,
        rec: &Record,
        previous: &Record,
        function: &Arc<crate::registry::Function>,
        numbers: &[u32],
    ) -> Result<(), ServiceError> {
        let Err(refused) = self.save(rec) else {
            return Ok(());
        };
        for n in numbers {
            if let Err(e) = self.install(previous, function, &n.to_string()).await {
                crate::logs::message(
                    crate::config::LogLevel::Error,
                    &format!("function {}, version {n}: {}", rec.name(), e.message()),
                );
            }
        }
        Err(refused)
    }

    /// `DELETE /2015-03-31/functions/{name}?Qualifier=`: DeleteFunction.
    pub(super) fn delete_function(&self, id: &str, req: &ApiRequest) -> Answer {
        let (name, qualifier) = self.identify(id, req.param("Qualifier").as_deref())?;
        let mut rec = self.load(&name, || self.not_found(&name))?;
        let function = self.registry.function(&name);
        match qualifier.as_deref().map(|q| (q, Version::parse(q))) {
            None => {
                self.store.delete(&name)?;
                // NOTE: invocations in flight run to their end; the environments go after.
                if let Some(f) = self.registry.remove(&name) {
                    for s in f.schedulers() {
                        self.registry.retire(&s);
                    }
                }
                drop(function);
                crate::logs::message(
                    crate::config::LogLevel::Info,
                    &format!("DeleteFunction: {name}"),
                );
                Ok((204, Value::Null))
            }
            Some((_, Some(Version::Latest))) => Err(ServiceError::invalid_parameter(
                "$LATEST version cannot be deleted without deleting the function.",
            )),
            Some((_, None)) => Err(ServiceError::invalid_parameter(
                "Deletion of aliases is not currently supported.",
            )),
            Some((q, Some(Version::Published(n)))) => {
                let users: Vec<String> = rec
                    .map("aliases")
                    .iter()
                    .filter(|(_, a)| {
                        a["FunctionVersion"] == q
                            || a["RoutingConfig"]["AdditionalVersionWeights"]
                                .get(q)
                                .is_some()
                    })
                    .map(|(k, _)| k.clone())
                    .collect();
                if !users.is_empty() {
                    return Err(ServiceError::conflict(format!(
                        "Unable to delete version because the following aliases reference it: [{}]",
                        users.join(", ")
                    )));
                }
                if rec.version(n).is_none() {
                    // NOTE: AWS's answer for an unknown version is not recorded; 204 as for a
                    // missing alias (docs/reference.md §13).
                    return Ok((204, Value::Null));
                }
                rec.map_mut("versions").remove(q);
                for key in ["invoke_configs", "provisioned", "policies"] {
                    rec.map_mut(key).remove(q);
                }
                self.save(&rec)?;
                if let Some(s) = function.and_then(|f| f.unpublish(n)) {
                    self.registry.retire(&s);
                }
                Ok((204, Value::Null))
            }
        }
    }
}

/// An entry of ListFunctions before it is rendered: a stored function's `$LATEST` (`None`) or
/// version, or a function of the command line or a file.
enum Listed {
    Stored(Arc<Value>, Option<u32>),
    Served(Arc<crate::registry::Function>),
}

/// The route of a stored alias.
pub(super) fn route_of(alias: &Value) -> AliasRoute {
    let version = alias["FunctionVersion"]
        .as_str()
        .and_then(Version::parse)
        .unwrap_or(Version::Latest);
    let additional = alias["RoutingConfig"]["AdditionalVersionWeights"]
        .as_object()
        .and_then(|w| w.iter().next())
        .and_then(|(v, weight)| Some((Version::parse(v)?, weight.as_f64()?)));
    AliasRoute {
        version,
        additional,
        async_settings: None,
    }
}

/// AWS's defaults of a new function's configuration.
fn defaults(name: &str) -> Map<String, Value> {
    let Value::Object(m) = json!({
        "Description": "",
        "Timeout": 3,
        "MemorySize": 128,
        "TracingConfig": {"Mode": "PassThrough"},
        "Architectures": ["x86_64"],
        "EphemeralStorage": {"Size": 512},
        "LoggingConfig": {"LogFormat": "Text", "LogGroup": format!("/aws/lambda/{name}")},
        "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
    }) else {
        unreachable!("a JSON object literal")
    };
    m
}

/// The configuration fields of `body` over `config` (a field given replaces the stored one).
fn merge_config(config: &mut Map<String, Value>, body: &Map<String, Value>) {
    for key in CONFIG_FIELDS {
        // NOTE: `null` stands for an absent member (botocore never sends one).
        if let Some(v) = body.get(*key).filter(|v| !v.is_null()) {
            let v = match *key {
                "SnapStart" => {
                    json!({"ApplyOn": v["ApplyOn"].as_str().unwrap_or("None"), "OptimizationStatus": "Off"})
                }
                "Environment" => {
                    json!({"Variables": v.get("Variables").cloned().unwrap_or_else(|| json!({}))})
                }
                _ => v.clone(),
            };
            config.insert((*key).to_owned(), v);
        }
    }
}

/// The zip of a `Code` object (or an UpdateFunctionCode body), with AWS's answers for what
/// lambda-rie does not fetch (S3, images) and AWS's size and content checks.
pub(super) fn zip_of(code: &Map<String, Value>) -> Result<Vec<u8>, ServiceError> {
    if code.contains_key("S3Bucket") || code.contains_key("S3Key") {
        // NOTE: lambda-rie has no S3: AWS's exact answer for a bucket that does not exist.
        return Err(ServiceError::invalid_parameter(
            "Error occurred while GetObject. S3 Error Code: NoSuchBucket. S3 Error Message: The specified bucket does not exist",
        ));
    }
    if code.contains_key("ImageUri") {
        return Err(ServiceError::invalid_parameter(
            "PackageType Image is not supported by lambda-rie",
        ));
    }
    let Some(text) = code.get("ZipFile").and_then(Value::as_str) else {
        return Err(ServiceError::invalid_parameter(
            "Please provide a source for function code.",
        ));
    };
    let zip = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|_| code_error(&CodeError::Unreadable))?;
    if zip.len() > MAX_ZIPPED_BYTES {
        return Err(ServiceError::entity_too_large(format!(
            "Zipped size must be smaller than {MAX_ZIPPED_BYTES} bytes"
        )));
    }
    code::check(&zip).map_err(|e| code_error(&e))?;
    Ok(zip)
}

fn code_error(e: &CodeError) -> ServiceError {
    match e {
        CodeError::Io(_) => ServiceError::service(&e.to_string()),
        _ => ServiceError::invalid_parameter(&e.to_string()),
    }
}

/// 400 for a required member that is absent, in AWS's words.
pub(super) fn missing(member: &'static str) -> ServiceError {
    ServiceError::validation("null", member, "Member must not be null")
}

/// PFE when the body's `RevisionId` is not the version's.
pub(super) fn check_revision(
    version: &Value,
    body: &Map<String, Value>,
) -> Result<(), ServiceError> {
    match body.get("RevisionId").and_then(Value::as_str) {
        Some(r) if version["RevisionId"] != r => {
            Err(ServiceError::revision_mismatch("GetFunction/GetAlias"))
        }
        _ => Ok(()),
    }
}

/// Operations on `$LATEST` only (updates): a qualified name is refused.
fn reject_qualifier(qualifier: Option<&str>) -> Result<(), ServiceError> {
    match qualifier {
        Some(q) => Err(ServiceError::validation(
            q,
            "functionName",
            "Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)",
        )),
        None => Ok(()),
    }
}

/// AWS's `ValidationException` for a role that does not match [`ROLE_PATTERN`].
fn check_role(role: &str) -> Result<(), ServiceError> {
    if role_matches(role) {
        return Ok(());
    }
    Err(ServiceError::validation(
        role,
        "role",
        format!("Member must satisfy regular expression pattern: {ROLE_PATTERN}"),
    ))
}

/// `arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+`.
fn role_matches(role: &str) -> bool {
    let Some(rest) = role.strip_prefix("arn:") else {
        return false;
    };
    let Some((partition, rest)) = rest.split_once(":iam::") else {
        return false;
    };
    let partition_ok = partition.is_empty()
        || partition
            .strip_prefix("aws")
            .is_some_and(|p| p.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-'));
    let Some((account, path)) = rest.split_once(":role") else {
        return false;
    };
    let path = path.strip_prefix('/').unwrap_or(path);
    partition_ok
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && !path.is_empty()
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-/".contains(&b))
}

/// The runtime check of CreateFunction: AWS's enum.
pub(super) fn check_runtime(runtime: &str) -> Result<(), ServiceError> {
    if RUNTIMES.contains(&runtime) {
        return Ok(());
    }
    Err(ServiceError::invalid_parameter(&format!(
        "Value {runtime} at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
        RUNTIMES.join(", ")
    )))
}

/// AWS's check of the environment's size: the variables as JSON, at most 4 KB.
pub(super) fn check_environment(config: &Map<String, Value>) -> Result<(), ServiceError> {
    let Some(vars) = config.get("Environment").and_then(|e| e.get("Variables")) else {
        return Ok(());
    };
    let measured = vars.to_string();
    if measured.len() > MAX_ENVIRONMENT_BYTES {
        return Err(ServiceError::invalid_parameter(&format!(
            "Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: {measured}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_follow_aws_pattern() {
        assert!(role_matches("arn:aws:iam::123456789012:role/lambda-role"));
        assert!(role_matches(
            "arn:aws:iam::123456789012:role/service-role/x"
        ));
        assert!(!role_matches("arn:aws:iam::1234:role/x"));
        assert!(!role_matches("role"));
    }

    #[test]
    fn unknown_runtimes_get_aws_enum_error() {
        assert!(check_runtime("python3.12").is_ok());
        let e = check_runtime("cobol").unwrap_err();
        assert!(e
            .message()
            .starts_with("Value cobol at 'runtime' failed to satisfy constraint"));
    }
}
