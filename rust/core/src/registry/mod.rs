//! The function registry: every function the emulator serves, by name, with its versions and
//! aliases, and the region and account of their ARNs. Built first and handed to everything
//! that looks a function up: the Invoke API, the Event queue and its destinations (and, as
//! they come, the control plane, the event source pollers and the HTTP front).

mod function;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard, Weak};

use crate::aws::{ServiceError, LATEST};
use crate::invoke_api::routing::{check_identifier, split};
use crate::scheduler::Scheduler;
use crate::CoreError;
pub use function::{AliasRoute, Function, Version};

/// A resolved invoke target.
pub struct Target {
    /// The scheduler of the version that runs.
    pub scheduler: Arc<Scheduler>,
    /// The ARN the function sees as `invoked_function_arn` (as the caller wrote it).
    pub invoked_arn: String,
    /// The version that runs (`X-Amz-Executed-Version`; never an alias).
    pub version: Version,
}

#[derive(Default)]
struct Functions {
    /// In the order they were added; the first is the default (`function` in the path).
    order: Vec<Arc<Function>>,
    by_name: HashMap<String, Arc<Function>>,
}

/// Every function the emulator serves.
pub struct Registry {
    region: String,
    account_id: String,
    functions: RwLock<Functions>,
    /// Schedulers no longer served (replaced, unpublished, deleted) whose environments may
    /// still be finishing invocations: the emulator's shutdown stops them too.
    retired: Mutex<Vec<Weak<Scheduler>>>,
}

impl Registry {
    /// An empty registry for functions of `region` and `account_id`.
    pub fn new(region: &str, account_id: &str) -> Self {
        Self {
            region: region.to_owned(),
            account_id: account_id.to_owned(),
            functions: RwLock::new(Functions::default()),
            retired: Mutex::new(Vec::new()),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, Functions> {
        self.functions
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Serve a new function whose `$LATEST` runs on `scheduler`, with the aliases its
    /// configuration declares; its name must be new.
    pub fn add(&self, scheduler: Arc<Scheduler>) -> Result<Arc<Function>, CoreError> {
        let config = &scheduler.function().config;
        let mut aliases = BTreeMap::new();
        for (alias, version) in &config.aliases {
            let Some(version) = Version::parse(version) else {
                return Err(CoreError::Config(format!(
                    "function {}: alias {alias}: no version {version}",
                    config.name
                )));
            };
            aliases.insert(
                alias.clone(),
                AliasRoute {
                    version,
                    additional: None,
                    async_settings: None,
                },
            );
        }
        let function = Arc::new(Function::new(scheduler, aliases));
        let mut functions = self
            .functions
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if functions.by_name.contains_key(function.name()) {
            return Err(CoreError::Config(format!(
                "function {} is defined twice",
                function.name()
            )));
        }
        functions
            .by_name
            .insert(function.name().to_owned(), Arc::clone(&function));
        functions.order.push(Arc::clone(&function));
        Ok(function)
    }

    /// Stop serving the function called `name`; it is returned for its schedulers to be shut
    /// down.
    pub fn remove(&self, name: &str) -> Option<Arc<Function>> {
        let mut functions = self
            .functions
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let removed = functions.by_name.remove(name)?;
        functions.order.retain(|f| !Arc::ptr_eq(f, &removed));
        Some(removed)
    }

    /// The function called `name`.
    pub fn function(&self, name: &str) -> Option<Arc<Function>> {
        self.read().by_name.get(name).cloned()
    }

    /// The scheduler of `$LATEST` of the function called `name`.
    pub fn get(&self, name: &str) -> Option<Arc<Scheduler>> {
        self.function(name).map(|f| f.latest())
    }

    /// Every function, the default first.
    pub fn functions(&self) -> Vec<Arc<Function>> {
        self.read().order.clone()
    }

    /// The `$LATEST` scheduler of every function, the default first.
    pub fn all(&self) -> Vec<Arc<Scheduler>> {
        self.read().order.iter().map(|f| f.latest()).collect()
    }

    /// Every scheduler that may have environments: each function's versions, then the retired
    /// ones still alive.
    pub fn every_scheduler(&self) -> Vec<Arc<Scheduler>> {
        let mut all: Vec<_> = self
            .functions()
            .iter()
            .flat_map(|f| f.schedulers())
            .collect();
        all.extend(
            self.retired
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .iter()
                .filter_map(Weak::upgrade),
        );
        all
    }

    /// `scheduler` serves no more: its idle environments go now, busy ones once their
    /// invocations are over (they finish on the old code and configuration); until then the
    /// emulator's shutdown still reaches it.
    pub fn retire(&self, scheduler: &Arc<Scheduler>) {
        scheduler.retire();
        let mut retired = self.retired.lock().unwrap_or_else(PoisonError::into_inner);
        retired.retain(|s| s.strong_count() > 0);
        retired.push(Arc::downgrade(scheduler));
    }

    /// Region of every ARN.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// Account of every ARN.
    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    /// `arn:aws:lambda:<region>:<account>:function:<name>`.
    pub fn arn(&self, name: &str) -> String {
        format!(
            "arn:aws:lambda:{}:{}:function:{name}",
            self.region, self.account_id
        )
    }

    /// Prometheus text of every function's metrics, environments counted over its versions.
    pub fn metrics_text(&self) -> String {
        let functions = self.functions();
        let counts: Vec<_> = functions
            .iter()
            .map(|f| {
                let envs = f
                    .schedulers()
                    .iter()
                    .map(|s| s.environment_counts())
                    .fold(crate::metrics::EnvironmentCounts::default(), |a, b| a + b);
                (f.name(), f.wide().metrics(), envs)
            })
            .collect();
        crate::metrics::render_all(&counts)
    }

    /// Resolve a (percent-decoded) function identifier of the Invoke API (`function`, a name, a
    /// partial or full ARN, with an optional qualifier) and the `Qualifier` query parameter:
    /// AWS's 400 for a malformed identifier, its 404 for one that names no function, version or
    /// alias here. A weighted alias picks the version that runs.
    pub fn resolve(&self, id: &str, query_qualifier: Option<&str>) -> Result<Target, ServiceError> {
        check_identifier(id)?;
        if let Some(q) = query_qualifier {
            crate::invoke_api::routing::check_qualifier(q)?;
        }
        let ident = split(id);
        let qualifier = ident.qualifier_with(query_qualifier)?;
        let not_found = || {
            ServiceError::function_not_found(&format!(
                "{}:{}",
                self.arn(ident.name),
                qualifier.unwrap_or(LATEST)
            ))
        };
        if ident.region.is_some_and(|r| r != self.region)
            || ident.account.is_some_and(|a| a != self.account_id)
        {
            return Err(not_found());
        }
        let function = if ident.name == "function" && ident.account.is_none() {
            self.read().order.first().cloned()
        } else {
            self.function(ident.name)
        };
        let Some(function) = function else {
            return Err(not_found());
        };
        let version = match qualifier {
            None => Version::Latest,
            Some(q) => match Version::parse(q) {
                Some(v) => v,
                None => function.alias(q).ok_or_else(not_found)?.pick(draw()),
            },
        };
        let scheduler = function.version(version).ok_or_else(not_found)?;
        let base = self.arn(function.name());
        let invoked_arn = match qualifier {
            Some(q) => format!("{base}:{q}"),
            None => base,
        };
        Ok(Target {
            scheduler,
            invoked_arn,
            version,
        })
    }
}

/// A uniform draw in [0, 1) for weighted aliases.
fn draw() -> f64 {
    let bits = (uuid::Uuid::new_v4().as_u128() >> 75) as u64; // 53 random bits
    bits as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Defaults, FunctionConfig, ThrottlePolicy};
    use crate::environment::FunctionContext;
    use crate::scheduler::EnvironmentCap;

    fn registry(names: &[&str]) -> Registry {
        let registry = Registry::new("us-east-1", "012345678912");
        let cap = Arc::new(EnvironmentCap::new(4));
        for name in names {
            let mut config = FunctionConfig::new(name, vec!["runtime".into()], Defaults::FUNCTION);
            config.aliases = vec![("live".into(), LATEST.into())];
            let function = FunctionContext::for_test(config);
            let scheduler = Scheduler::new(function, Arc::clone(&cap), ThrottlePolicy::Reject);
            registry.add(Arc::new(scheduler)).unwrap();
        }
        registry
    }

    fn resolved(r: &Registry, id: &str, q: Option<&str>) -> Result<(String, String), ServiceError> {
        r.resolve(id, q)
            .map(|t| (t.scheduler.function().config.name.clone(), t.invoked_arn))
    }

    #[test]
    fn resolves_every_identifier_form() {
        let r = registry(&["first", "orders"]);
        let arn = "arn:aws:lambda:us-east-1:012345678912:function:orders";
        assert_eq!(
            resolved(&r, "orders", None).unwrap(),
            ("orders".into(), arn.into())
        );
        assert_eq!(resolved(&r, arn, None).unwrap().0, "orders");
        assert_eq!(
            resolved(&r, "012345678912:function:orders:live", None).unwrap(),
            ("orders".into(), format!("{arn}:live"))
        );
        assert_eq!(
            resolved(&r, "orders", Some("$LATEST")).unwrap().1,
            format!("{arn}:$LATEST")
        );
        assert_eq!(resolved(&r, "function", None).unwrap().0, "first");
    }

    #[test]
    fn unknown_functions_regions_accounts_and_qualifiers_are_not_found() {
        let r = registry(&["orders"]);
        for (id, q, arn) in [
            (
                "nope",
                None,
                "arn:aws:lambda:us-east-1:012345678912:function:nope:$LATEST",
            ),
            (
                "arn:aws:lambda:eu-west-1:012345678912:function:orders",
                None,
                "arn:aws:lambda:us-east-1:012345678912:function:orders:$LATEST",
            ),
            (
                "999999999999:function:orders",
                None,
                "arn:aws:lambda:us-east-1:012345678912:function:orders:$LATEST",
            ),
            (
                "orders",
                Some("7"),
                "arn:aws:lambda:us-east-1:012345678912:function:orders:7",
            ),
        ] {
            assert_eq!(
                resolved(&r, id, q).unwrap_err(),
                ServiceError::function_not_found(arn),
                "{id}"
            );
        }
        assert_eq!(
            resolved(&r, "../x", None).unwrap_err().code(),
            "ValidationException"
        );
    }

    fn scheduler(name: &str) -> Arc<Scheduler> {
        let config = FunctionConfig::new(name, vec!["runtime".into()], Defaults::FUNCTION);
        let function = FunctionContext::for_test(config);
        Arc::new(Scheduler::new(
            function,
            Arc::new(EnvironmentCap::new(4)),
            ThrottlePolicy::Reject,
        ))
    }

    #[test]
    fn versions_and_aliases_route_to_their_scheduler() {
        let r = registry(&["orders"]);
        let f = r.function("orders").unwrap();
        let v1 = scheduler("orders");
        f.publish(1, Arc::clone(&v1));
        let t = r.resolve("orders:1", None).unwrap();
        assert!(Arc::ptr_eq(&t.scheduler, &v1));
        assert_eq!(t.version, Version::Published(1));
        assert_eq!(r.resolve("orders", None).unwrap().version, Version::Latest);
        f.set_alias(
            "prod",
            AliasRoute {
                version: Version::Published(1),
                additional: None,
                async_settings: None,
            },
        );
        let t = r.resolve("orders", Some("prod")).unwrap();
        assert_eq!(t.version, Version::Published(1));
        assert!(t.invoked_arn.ends_with(":function:orders:prod"));
        assert_eq!(
            resolved(&r, "orders:2", None).unwrap_err(),
            ServiceError::function_not_found(
                "arn:aws:lambda:us-east-1:012345678912:function:orders:2"
            )
        );
        assert!(f.remove_alias("prod"));
        assert!(r.resolve("orders:prod", None).is_err());
    }

    #[test]
    fn a_weighted_alias_spreads_invocations_by_weight() {
        let r = registry(&["orders"]);
        let f = r.function("orders").unwrap();
        f.publish(1, scheduler("orders"));
        f.publish(2, scheduler("orders"));
        f.set_alias(
            "live",
            AliasRoute {
                version: Version::Published(1),
                additional: Some((Version::Published(2), 0.3)),
                async_settings: None,
            },
        );
        let on_two = (0..2000)
            .filter(|_| r.resolve("orders:live", None).unwrap().version == Version::Published(2))
            .count();
        // NOTE: a binomial(2000, 0.3) count is within 600 ± 120 with overwhelming probability.
        assert!((480..=720).contains(&on_two), "{on_two}");
    }

    #[test]
    fn a_replaced_latest_serves_new_invocations_and_a_removed_function_none() {
        let r = registry(&["orders"]);
        let f = r.function("orders").unwrap();
        let next = scheduler("orders");
        let previous = f.replace_latest(Arc::clone(&next));
        r.retire(&previous);
        // The retired scheduler is reached until nothing holds it (its invocations are over).
        assert_eq!(r.every_scheduler().len(), 2);
        drop(previous);
        assert_eq!(r.every_scheduler().len(), 1);
        assert!(Arc::ptr_eq(
            &r.resolve("orders", None).unwrap().scheduler,
            &next
        ));
        assert!(r.remove("orders").is_some());
        assert!(r.resolve("orders", None).is_err());
        assert!(r.functions().is_empty());
    }

    #[test]
    fn a_name_is_served_once() {
        let r = registry(&["orders"]);
        let again = registry(&["orders"]).get("orders").unwrap();
        assert!(r.add(again).is_err());
        assert_eq!(r.all().len(), 1);
    }
}
