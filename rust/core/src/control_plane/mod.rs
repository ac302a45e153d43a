//! The Lambda control plane on the Invoke API's port (docs/reference.md §13): functions,
//! versions, aliases, concurrency, async invoke configuration, permissions, tags and function
//! URL configurations (docs/reference.md §14). Each
//! request shape is mapped onto the one [`FunctionSpec`](crate::config::spec::FunctionSpec)
//! validator, the [`Store`] and the [`Registry`]; the route table is here and nowhere below.

mod aliases;
mod concurrency;
mod event_source_mappings;
mod function_urls;
mod functions;
mod invoke_config;
mod layers;
mod locks;
mod permissions;
mod record;
mod shapes;
mod tags;
mod versions;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use hyper::Method;
use serde_json::Value;

use crate::aws::ServiceError;
use crate::config::{HandlerRuntime, RunAs, ThrottlePolicy};
use crate::http::{self, Response};
use crate::invoke_api::routing::{check_identifier, percent_decode, query_param, split};
use crate::registry::Registry;
use crate::scheduler::EnvironmentCap;
use crate::store::{Store, StoreError};
pub use record::Record;

/// Largest CreateFunction / UpdateFunctionCode request body (AWS's limit).
pub const MAX_REQUEST_BYTES: usize = 70_167_211;
/// Where lambda-rie serves a stored zip (`Code.Location` of GetFunction).
pub const CODE_PATH: &str = "/_lambda-rie/code/";

/// What the control plane needs besides the registry and the store.
#[derive(Debug, Clone)]
pub struct ControlPlaneSettings {
    /// The Python runtime that serves `python3.x` handlers.
    pub handler_runtime: HandlerRuntime,
    /// Commands of the runtimes lambda-rie has no built-in way to run (`nodejs22.x`).
    pub runtime_commands: BTreeMap<String, Vec<String>>,
    /// What a sync invoke does when no environment is free.
    pub on_throttle: ThrottlePolicy,
    /// Who runtimes run as (none: the default).
    pub run_as: Option<RunAs>,
    /// The emulator-wide environment cap.
    pub max_environments: u32,
    /// Where the event sources and destinations are (`--aws-endpoint-url`).
    pub aws: crate::aws_client::AwsSettings,
}

/// The control plane: one per emulator.
pub struct ControlPlane {
    registry: Arc<Registry>,
    store: Arc<Store>,
    cap: Arc<EnvironmentCap>,
    settings: ControlPlaneSettings,
    event_sources: crate::event_sources::EventSources,
    locks: locks::Locks,
    /// Stored functions not served because the command line, a config file or a template
    /// defines a function of the same name (docs/reference.md §13).
    hidden: std::sync::Mutex<std::collections::BTreeSet<String>>,
}

/// A control-plane request, body read whole.
pub struct ApiRequest {
    /// The method.
    pub method: Method,
    /// The path, still percent-encoded.
    pub path: String,
    /// The query string.
    pub query: Option<String>,
    /// The `Host` header (for `Code.Location`).
    pub host: Option<String>,
    /// The body.
    pub body: Bytes,
}

impl ApiRequest {
    fn param(&self, key: &str) -> Option<String> {
        query_param(self.query.as_deref(), key)
    }

    fn params(&self, key: &str) -> Vec<String> {
        self.query
            .as_deref()
            .unwrap_or("")
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .filter(|(k, _)| *k == key)
            .map(|(_, v)| percent_decode(v))
            .collect()
    }

    /// The body as a JSON object (an empty body is `{}`).
    fn json(&self) -> Result<serde_json::Map<String, Value>, ServiceError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(serde_json::Map::new());
        }
        match serde_json::from_slice::<Value>(&self.body) {
            Ok(Value::Object(m)) => Ok(m),
            Ok(_) => Err(ServiceError::invalid_json("not a JSON object")),
            Err(e) => Err(ServiceError::invalid_json(&e.to_string())),
        }
    }
}

/// An answer: status and JSON body (204: none).
type Answer = Result<(u16, Value), ServiceError>;

/// Whether `path` belongs to the control plane (the invocation paths do not).
pub fn is_control_path(path: &str) -> bool {
    if path.ends_with("/invocations") || path.ends_with("/response-streaming-invocations") {
        return false;
    }
    path.starts_with("/2015-03-31/functions")
        || [
            "/2017-10-31/functions/",
            "/2019-09-30/functions/",
            "/2019-09-25/functions/",
            "/2021-10-31/functions/",
            "/2017-03-31/tags/",
            "/2016-08-19/account-settings",
            "/2018-10-31/layers",
            "/2015-03-31/event-source-mappings",
            CODE_PATH,
        ]
        .iter()
        .any(|p| path.starts_with(p))
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        ServiceError::service(&e.to_string())
    }
}

impl ControlPlane {
    /// A control plane over `registry` and `store`; the functions of the store are served again.
    pub fn new(
        registry: Arc<Registry>,
        store: Store,
        cap: Arc<EnvironmentCap>,
        settings: ControlPlaneSettings,
    ) -> Self {
        let store = Arc::new(store);
        let event_sources =
            crate::event_sources::EventSources::new(crate::event_sources::Sources {
                registry: Arc::clone(&registry),
                client: crate::aws_client::AwsClient::new(&settings.aws),
                store: Arc::clone(&store),
                max_environments: settings.max_environments,
            });
        Self {
            registry,
            store,
            cap,
            settings,
            event_sources,
            locks: locks::Locks::default(),
            hidden: std::sync::Mutex::default(),
        }
    }

    /// Serve every function of the store again (at start-up): `$LATEST`, versions, aliases,
    /// reserved and provisioned concurrency. A function that cannot be served is skipped with a
    /// log line.
    pub async fn restore(&self) -> Result<usize, StoreError> {
        let mut n = 0;
        let mut records = Vec::new();
        for (name, doc) in self.store.functions()? {
            let rec = Record::checked(&name, &doc).map_err(|detail| StoreError::Corrupt {
                name: name.clone(),
                detail,
            })?;
            records.push((name, rec));
        }
        self.remove_unused_code(&records);
        for (name, mut rec) in records {
            if self.registry.function(&name).is_some() {
                crate::logs::message(
                    crate::config::LogLevel::Error,
                    &format!(
                        "function {name} of the state directory is kept but not served: the command line, a config file or a template defines a function of that name"
                    ),
                );
                self.hidden
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(name);
                continue;
            }
            match self.serve_record(&mut rec).await {
                Ok(changed) => {
                    n += 1;
                    if changed {
                        if let Err(e) = self.save(&rec) {
                            crate::logs::message(
                                crate::config::LogLevel::Error,
                                &format!("function {name}: {}", e.message()),
                            );
                        }
                    }
                }
                Err(e) => crate::logs::message(
                    crate::config::LogLevel::Error,
                    &format!(
                        "function {name} of the state directory is not served: {}",
                        e.message()
                    ),
                ),
            }
        }
        self.event_sources.restore();
        Ok(n)
    }

    /// Remove the code no function version (of `records`) nor layer version uses any more:
    /// what updates, deletions and dry runs left since the last start.
    // NOTE: at start-up only: a request storing new code holds it unreferenced until its
    // record is saved, and retired schedulers run old code until their invocations end.
    fn remove_unused_code(&self, records: &[(String, Record)]) {
        fn digests(doc: &Value, keep: &mut std::collections::HashSet<String>) {
            match doc {
                Value::Object(m) => {
                    for (k, v) in m {
                        match (k.as_str(), v) {
                            ("sha_hex", Value::String(hex)) => {
                                keep.insert(hex.clone());
                            }
                            ("layer_hexes", Value::Array(hexes)) => keep
                                .extend(hexes.iter().filter_map(Value::as_str).map(str::to_owned)),
                            _ => digests(v, keep),
                        }
                    }
                }
                Value::Array(items) => items.iter().for_each(|v| digests(v, keep)),
                _ => {}
            }
        }
        let mut keep = std::collections::HashSet::new();
        for (_, rec) in records {
            digests(&rec.0, &mut keep);
        }
        for (_, layer) in self.store.all(crate::store::Table::Layers) {
            digests(&layer, &mut keep);
        }
        let removed = self.store.remove_code_except(&keep);
        if removed > 0 {
            crate::logs::message(
                crate::config::LogLevel::Info,
                &format!(
                    "state directory: the code of {removed} digests no longer used was removed"
                ),
            );
        }
    }

    /// The state directory.
    pub fn state_dir(&self) -> &Path {
        self.store.dir()
    }

    /// Answer one control-plane request.
    pub async fn handle(&self, req: ApiRequest) -> Response {
        if let Some(hex) = req.path.strip_prefix(CODE_PATH) {
            return self.code_download(hex);
        }
        // NOTE: calls on one function (or layer, or the mappings) run one at a time, as AWS
        // serialises them; calls on different ones run side by side (docs/reference.md §13).
        let _guards = self.locks.acquire(&locks::keys(&req)).await;
        match self.dispatch(&req).await {
            Ok((204, _)) => http::response(204, Bytes::new()),
            Ok((status, body)) => http::json(status, body.to_string()),
            Err(e) => crate::invoke_api::error_response(&e, None),
        }
    }

    fn code_download(&self, file: &str) -> Response {
        let hex = file.strip_suffix(".zip").unwrap_or(file);
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return crate::invoke_api::error_response(&ServiceError::UnknownOperation, None);
        }
        match std::fs::read(self.store.blob_path(hex)) {
            Ok(bytes) => {
                let mut r = http::response(200, bytes);
                r.headers_mut().insert(
                    hyper::header::CONTENT_TYPE,
                    hyper::header::HeaderValue::from_static("application/zip"),
                );
                r
            }
            Err(_) => crate::invoke_api::error_response(
                &ServiceError::not_found("The resource you requested does not exist."),
                None,
            ),
        }
    }

    async fn dispatch(&self, req: &ApiRequest) -> Answer {
        let path = req.path.trim_end_matches('/');
        let m = &req.method;
        if path == "/2016-08-19/account-settings" && m == Method::GET {
            // GET /2016-08-19/account-settings: GetAccountSettings.
            return self.account_settings();
        }
        if let Some(arn) = path.strip_prefix("/2017-03-31/tags/") {
            let arn = percent_decode(arn);
            return match *m {
                Method::POST => self.tag_resource(&arn, req),
                Method::DELETE => self.untag_resource(&arn, req),
                Method::GET => self.list_tags(&arn),
                _ => Err(ServiceError::method_not_allowed()),
            };
        }
        if let Some(rest) = path.strip_prefix("/2015-03-31/event-source-mappings") {
            return self.dispatch_mappings(rest, req).await;
        }
        if let Some(rest) = path.strip_prefix("/2018-10-31/layers") {
            return self.dispatch_layers(rest, req).await;
        }
        if path == "/2015-03-31/functions" {
            return match *m {
                Method::GET => self.list_functions(req),
                Method::POST => self.create_function(req).await,
                _ => Err(ServiceError::method_not_allowed()),
            };
        }
        let (date, rest) = path
            .strip_prefix('/')
            .and_then(|p| p.split_once("/functions/"))
            .ok_or(ServiceError::UnknownOperation)?;
        let mut parts = rest.split('/');
        let id = percent_decode(parts.next().unwrap_or(""));
        let tail: Vec<String> = parts.map(percent_decode).collect();
        let tail: Vec<&str> = tail.iter().map(String::as_str).collect();
        match (date, tail.as_slice(), m.clone()) {
            // /2015-03-31/functions/{name}: GetFunction, DeleteFunction.
            ("2015-03-31", [], Method::GET) => self.get_function(&id, req),
            ("2015-03-31", [], Method::DELETE) => self.delete_function(&id, req),
            // /2015-03-31/functions/{name}/configuration
            ("2015-03-31", ["configuration"], Method::GET) => self.get_configuration(&id, req),
            ("2015-03-31", ["configuration"], Method::PUT) => {
                self.update_configuration(&id, req).await
            }
            // /2015-03-31/functions/{name}/code: UpdateFunctionCode.
            ("2015-03-31", ["code"], Method::PUT) => self.update_code(&id, req).await,
            // /2015-03-31/functions/{name}/versions
            ("2015-03-31", ["versions"], Method::POST) => self.publish_version(&id, req).await,
            ("2015-03-31", ["versions"], Method::GET) => self.list_versions(&id, req),
            // /2015-03-31/functions/{name}/aliases[/{alias}]
            ("2015-03-31", ["aliases"], Method::POST) => self.create_alias(&id, req),
            ("2015-03-31", ["aliases"], Method::GET) => self.list_aliases(&id, req),
            ("2015-03-31", ["aliases", alias], Method::GET) => self.get_alias(&id, alias),
            ("2015-03-31", ["aliases", alias], Method::PUT) => {
                self.update_alias(&id, alias, req).await
            }
            ("2015-03-31", ["aliases", alias], Method::DELETE) => {
                self.delete_alias(&id, alias).await
            }
            // /2015-03-31/functions/{name}/policy[/{sid}]
            ("2015-03-31", ["policy"], Method::POST) => self.add_permission(&id, req),
            ("2015-03-31", ["policy"], Method::GET) => self.get_policy(&id, req),
            ("2015-03-31", ["policy", sid], Method::DELETE) => {
                self.remove_permission(&id, sid, req)
            }
            // Reserved concurrency (two API dates).
            ("2017-10-31", ["concurrency"], Method::PUT) => self.put_concurrency(&id, req),
            ("2017-10-31", ["concurrency"], Method::DELETE) => self.delete_concurrency(&id),
            ("2019-09-30", ["concurrency"], Method::GET) => self.get_concurrency(&id),
            // /2019-09-30/functions/{name}/provisioned-concurrency
            ("2019-09-30", ["provisioned-concurrency"], Method::PUT) => {
                self.put_provisioned(&id, req).await
            }
            ("2019-09-30", ["provisioned-concurrency"], Method::GET) => {
                if req.param("List").is_some() {
                    self.list_provisioned(&id, req)
                } else {
                    self.get_provisioned(&id, req)
                }
            }
            ("2019-09-30", ["provisioned-concurrency"], Method::DELETE) => {
                self.delete_provisioned(&id, req).await
            }
            // /2019-09-25/functions/{name}/event-invoke-config[/list]
            ("2019-09-25", ["event-invoke-config"], Method::PUT) => {
                self.put_invoke_config(&id, req, false)
            }
            ("2019-09-25", ["event-invoke-config"], Method::POST) => {
                self.put_invoke_config(&id, req, true)
            }
            ("2019-09-25", ["event-invoke-config"], Method::GET) => {
                self.get_invoke_config(&id, req)
            }
            ("2019-09-25", ["event-invoke-config"], Method::DELETE) => {
                self.delete_invoke_config(&id, req)
            }
            ("2019-09-25", ["event-invoke-config", "list"], Method::GET) => {
                self.list_invoke_configs(&id, req)
            }
            // /2021-10-31/functions/{name}/url[s]: function URL configurations.
            ("2021-10-31", ["url"], Method::POST) => self.create_url_config(&id, req),
            ("2021-10-31", ["url"], Method::GET) => self.get_url_config(&id, req),
            ("2021-10-31", ["url"], Method::PUT) => self.update_url_config(&id, req),
            ("2021-10-31", ["url"], Method::DELETE) => self.delete_url_config(&id, req),
            ("2021-10-31", ["urls"], Method::GET) => self.list_url_configs(&id, req),
            _ => Err(ServiceError::UnknownOperation),
        }
    }

    /// The event source mapping operations: `rest` is the path after
    /// `/2015-03-31/event-source-mappings`.
    async fn dispatch_mappings(&self, rest: &str, req: &ApiRequest) -> Answer {
        let uuid = percent_decode(rest.trim_start_matches('/'));
        match (uuid.as_str(), req.method.clone()) {
            // /2015-03-31/event-source-mappings: Create, List.
            ("", Method::POST) => self.create_event_source_mapping(req).await,
            ("", Method::GET) => self.list_event_source_mappings(req),
            // /2015-03-31/event-source-mappings/{UUID}: Get, Update, Delete.
            (uuid, Method::GET) if !uuid.contains('/') => self.get_event_source_mapping(uuid),
            (uuid, Method::PUT) if !uuid.contains('/') => {
                self.update_event_source_mapping(uuid, req).await
            }
            (uuid, Method::DELETE) if !uuid.contains('/') => self.delete_event_source_mapping(uuid),
            _ => Err(ServiceError::UnknownOperation),
        }
    }

    /// The layer operations: `rest` is the path after `/2018-10-31/layers`.
    async fn dispatch_layers(&self, rest: &str, req: &ApiRequest) -> Answer {
        let parts: Vec<String> = rest
            .split('/')
            .filter(|p| !p.is_empty())
            .map(percent_decode)
            .collect();
        let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
        match (parts.as_slice(), req.method.clone()) {
            // GET /2018-10-31/layers: ListLayers.
            ([], Method::GET) => self.list_layers(req),
            // /2018-10-31/layers/{name}/versions: PublishLayerVersion, ListLayerVersions.
            ([name, "versions"], Method::POST) => self.publish_layer_version(name, req).await,
            ([name, "versions"], Method::GET) => self.list_layer_versions(name, req),
            // /2018-10-31/layers/{name}/versions/{n}: GetLayerVersion, DeleteLayerVersion.
            ([name, "versions", n], Method::GET) => self.get_layer_version(name, n, req),
            ([name, "versions", n], Method::DELETE) => self.delete_layer_version(name, n),
            _ => Err(ServiceError::UnknownOperation),
        }
    }

    /// `arn:aws:lambda:<region>:<account>:function:<name>`.
    fn arn(&self, name: &str) -> String {
        self.registry.arn(name)
    }

    /// The function name and qualifier of a path's identifier and `?Qualifier=`: AWS's 400 for
    /// a malformed one or two qualifiers that differ, its 404 for another region, its 403 for
    /// another account.
    fn identify(
        &self,
        id: &str,
        query_qualifier: Option<&str>,
    ) -> Result<(String, Option<String>), ServiceError> {
        check_identifier(id)?;
        if let Some(q) = query_qualifier {
            crate::invoke_api::routing::check_qualifier(q)?;
        }
        let ident = split(id);
        if let Some(region) = ident.region.filter(|r| *r != self.registry.region()) {
            return Err(ServiceError::not_found(format!(
                "Functions from '{region}' are not reachable in this region ('{}')",
                self.registry.region()
            )));
        }
        if let Some(account) = ident.account.filter(|a| *a != self.registry.account_id()) {
            // NOTE: AWS refuses a function of another account with 403 (LAMBDA-SERVICE §0.2);
            // the Invoke API keeps the RIE's 404 (docs/reference.md §2).
            let arn = format!(
                "arn:aws:lambda:{}:{account}:function:{}",
                self.registry.region(),
                ident.name
            );
            return Err(ServiceError::access_denied(
                self.registry.account_id(),
                &arn,
            ));
        }
        let qualifier = ident.qualifier_with(query_qualifier)?;
        Ok((ident.name.to_owned(), qualifier.map(str::to_owned)))
    }

    /// The stored function `name`, its pending transitions completed (and written), or
    /// `missing` when there is none. A function served from the command line or a config file
    /// is refused: the file is its source.
    fn load(
        &self,
        name: &str,
        missing: impl FnOnce() -> ServiceError,
    ) -> Result<Record, ServiceError> {
        let doc = if self.hidden(name) {
            None
        } else {
            self.store.get(name)?
        };
        let Some(doc) = doc else {
            if self.registry.function(name).is_some() {
                return Err(ServiceError::conflict(format!(
                    "Function {name} is served from lambda-rie's command line, config file or template; change it there (the control plane changes only the functions it created)"
                )));
            }
            return Err(missing());
        };
        let mut rec = Record(doc.clone());
        // NOTE: a read whose completions the store refuses answers what the store holds.
        if rec.settle() && self.store.put(name, &rec.0).is_err() {
            return Ok(Record(doc));
        }
        Ok(rec)
    }

    /// Whether the stored function `name` is hidden by a function of the command line, a
    /// config file or a template of the same name (which is the one served).
    fn hidden(&self, name: &str) -> bool {
        self.hidden
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(name)
    }

    /// Whether `name` is a function of the store, served as such.
    fn stored(&self, name: &str) -> bool {
        self.store.contains(name) && !self.hidden(name)
    }

    fn save(&self, rec: &Record) -> Result<(), ServiceError> {
        self.store.put(rec.name(), &rec.0)?;
        Ok(())
    }

    /// 404 `Function not found: <unqualified arn>`.
    fn not_found(&self, name: &str) -> ServiceError {
        ServiceError::not_found(format!("Function not found: {}", self.arn(name)))
    }
}

/// A fresh `RevisionId`.
fn revision() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// `LastModified` now.
fn now() -> String {
    crate::clock::lambda_timestamp(crate::clock::epoch_ms())
}

/// botocore's `MaxListItems` (ListFunctions, ListVersionsByFunction, ListAliases,
/// ListEventSourceMappings): at most 10000.
const MAX_LIST_ITEMS: i64 = 10_000;

/// An item of a paged list: the key the list is sorted by, which a marker names.
trait Paged {
    /// The item's key: the list is in the order of its keys (as strings).
    fn page_key(&self) -> &str;
}

/// An item given with its key (a function's name, a zero-padded version, an alias name).
impl<T> Paged for (String, T) {
    fn page_key(&self) -> &str {
        &self.0
    }
}

/// A setting of one qualifier of a function (provisioned concurrency, async invoke
/// configuration, URL): keyed by its `FunctionArn`, whose qualifier orders the list.
impl Paged for Value {
    fn page_key(&self) -> &str {
        self["FunctionArn"].as_str().unwrap_or_default()
    }
}

/// The items of keyed pairs, in order.
fn unkeyed<T>(pairs: Vec<(String, T)>) -> Vec<T> {
    pairs.into_iter().map(|(_, item)| item).collect()
}

/// A list's page: at most `cap` items (`MaxItems` fewer) after the opaque `Marker`, and the
/// next marker. `MaxItems` outside 1 to `max` (the model's range) is a `ValidationException`;
/// a marker lambda-rie did not make is 400 `InvalidParameterValueException`.
fn page<T: Paged>(
    items: Vec<T>,
    req: &ApiRequest,
    cap: usize,
    max: i64,
) -> Result<(Vec<T>, Option<String>), ServiceError> {
    let max = match req.param("MaxItems") {
        None => cap,
        Some(v) => (max_items(&v, max)? as usize).min(cap),
    };
    let start = match req.param("Marker") {
        None => 0,
        Some(m) => {
            let marker = Marker::decode(&m)
                .ok_or_else(|| ServiceError::invalid_parameter("Invalid marker"))?;
            marker.resume(&items)
        }
    };
    let end = (start + max).min(items.len());
    let next = (end < items.len()).then(|| Marker::after(&items, end).encode());
    let page: Vec<T> = items.into_iter().skip(start).take(end - start).collect();
    Ok((page, next))
}

/// Where a page ended: the key of its last item (every item of a list has a key of its own).
// NOTE: a key, not an offset, so an item deleted or added before it between two pages does
// not make the next page skip or repeat one.
#[derive(Debug, PartialEq)]
struct Marker {
    /// The key of the page's last item.
    key: String,
}

impl Marker {
    /// The marker of a page ending before `items[end]` (`end` > 0).
    fn after<T: Paged>(items: &[T], end: usize) -> Self {
        Self {
            key: items[end - 1].page_key().to_owned(),
        }
    }

    /// Where the next page starts in `items` (sorted by key): at the first key after the
    /// marker's.
    fn resume<T: Paged>(&self, items: &[T]) -> usize {
        items.partition_point(|i| i.page_key() <= self.key.as_str())
    }

    /// The marker as `NextMarker`: base64 of `lambda-rie:<key>`.
    fn encode(&self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(format!("lambda-rie:{}", self.key))
    }

    /// A `Marker` as [`Marker::encode`] made it.
    fn decode(m: &str) -> Option<Self> {
        use base64::Engine;
        let raw = base64::engine::general_purpose::STANDARD.decode(m).ok()?;
        let text = String::from_utf8(raw).ok()?;
        Some(Self {
            key: text.strip_prefix("lambda-rie:")?.to_owned(),
        })
    }
}

/// `MaxItems` as a number of 1 to `max`.
fn max_items(v: &str, max: i64) -> Result<i64, ServiceError> {
    let refuse = |constraint: String| Err(ServiceError::validation(v, "maxItems", constraint));
    match v.parse::<i64>() {
        Ok(n) if n > max => refuse(format!(
            "Member must have value less than or equal to {max}"
        )),
        Ok(n) if n >= 1 => Ok(n),
        // Digits beyond 64 bits: too large.
        Err(_) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => refuse(format!(
            "Member must have value less than or equal to {max}"
        )),
        _ => refuse("Member must have value greater than or equal to 1".to_owned()),
    }
}

/// `{"<key>": [...], "NextMarker"?: ...}`.
fn listing(key: &str, items: Vec<Value>, next: Option<String>) -> Value {
    let mut out = serde_json::Map::new();
    out.insert(key.to_owned(), Value::Array(items));
    if let Some(next) = next {
        out.insert("NextMarker".to_owned(), Value::String(next));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A list request with `query`.
    fn listed(query: &str) -> ApiRequest {
        ApiRequest {
            method: Method::GET,
            path: "/2015-03-31/functions/".to_owned(),
            query: Some(query.to_owned()),
            host: None,
            body: Bytes::new(),
        }
    }

    /// Keyed items of `names` (the key is the name).
    fn keyed(names: &[&str]) -> Vec<(String, ())> {
        names.iter().map(|n| ((*n).to_owned(), ())).collect()
    }

    fn names(items: &[(String, ())]) -> Vec<&str> {
        items.iter().map(|(n, ())| n.as_str()).collect()
    }

    #[test]
    fn a_marker_resumes_after_its_key_when_items_before_it_are_deleted() {
        let all = ["f0", "f1", "f2", "f3", "f4", "f5"];
        let (first, next) = page(keyed(&all), &listed("MaxItems=2"), 50, 50).unwrap();
        assert_eq!(names(&first), ["f0", "f1"]);
        let marker = next.unwrap();
        let query = format!("MaxItems=2&Marker={}", percent_encode(&marker));
        let (second, _) = page(keyed(&all[1..]), &listed(&query), 50, 50).unwrap();
        assert_eq!(names(&second), ["f2", "f3"]);
        // The last item returned deleted too: the next page starts after where it was.
        let (third, next) = page(keyed(&["f0", "f2", "f3"]), &listed(&query), 50, 50).unwrap();
        assert_eq!((names(&third), next), (vec!["f2", "f3"], None));
    }

    #[test]
    fn a_marker_resumes_after_a_version_deleted_at_the_end_of_its_page() {
        // ListFunctions with FunctionVersion=ALL keys a version by name, space and number.
        let all = ["a", "a 0000000001", "a 0000000002", "a 0000000003", "b"];
        let (first, next) = page(keyed(&all), &listed("MaxItems=2"), 50, 50).unwrap();
        assert_eq!(names(&first), ["a", "a 0000000001"]);
        let query = format!("MaxItems=9&Marker={}", percent_encode(&next.unwrap()));
        let rest = ["a", "a 0000000002", "a 0000000003", "b"];
        let (second, next) = page(keyed(&rest), &listed(&query), 50, 50).unwrap();
        assert_eq!(
            (names(&second), next),
            (vec!["a 0000000002", "a 0000000003", "b"], None)
        );
    }

    #[test]
    fn a_marker_lambda_rie_did_not_make_is_an_invalid_parameter() {
        for marker in ["garbage", "b3RoZXI6YQ==", "bGFtYmRhLXJpZTr/"] {
            let err =
                page(keyed(&["a"]), &listed(&format!("Marker={marker}")), 50, 50).unwrap_err();
            assert_eq!(
                (err.status(), err.message()),
                (400, "Invalid marker".to_owned()),
                "{marker}"
            );
        }
    }

    /// `s` percent-encoded for a query string.
    fn percent_encode(s: &str) -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    }

    #[test]
    fn max_items_is_within_the_models_range() {
        assert_eq!(max_items("1", MAX_LIST_ITEMS).unwrap(), 1);
        assert_eq!(max_items("10000", MAX_LIST_ITEMS).unwrap(), 10_000);
        for (v, constraint) in [
            (
                "10001",
                "Member must have value less than or equal to 10000",
            ),
            (
                "99999999999999999999",
                "Member must have value less than or equal to 10000",
            ),
            ("0", "Member must have value greater than or equal to 1"),
            ("-1", "Member must have value greater than or equal to 1"),
        ] {
            assert_eq!(
                max_items(v, MAX_LIST_ITEMS).unwrap_err().message(),
                format!("1 validation error detected: Value '{v}' at 'maxItems' failed to satisfy constraint: {constraint}")
            );
        }
        assert!(max_items("51", 50)
            .unwrap_err()
            .message()
            .ends_with("Member must have value less than or equal to 50"));
    }
}
