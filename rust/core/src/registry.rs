//! The function registry: every function the emulator serves, by name, with the region and
//! account of their ARNs. Built first and handed to everything that looks a function up: the
//! Invoke API, the Event queue and its destinations (and, as they come, the control plane, the
//! event source pollers and the HTTP front).

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard};

use crate::aws::{ServiceError, LATEST};
use crate::invoke_api::routing::{check_identifier, split};
use crate::scheduler::Scheduler;
use crate::CoreError;

/// A resolved invoke target.
pub struct Target {
    /// The function's scheduler.
    pub scheduler: Arc<Scheduler>,
    /// The ARN the function sees as `invoked_function_arn`.
    pub invoked_arn: String,
}

#[derive(Default)]
struct Functions {
    /// In the order they were added; the first is the default (`function` in the path).
    order: Vec<Arc<Scheduler>>,
    by_name: HashMap<String, Arc<Scheduler>>,
}

/// Every function the emulator serves.
pub struct Registry {
    region: String,
    account_id: String,
    functions: RwLock<Functions>,
}

impl Registry {
    /// An empty registry for functions of `region` and `account_id`.
    pub fn new(region: &str, account_id: &str) -> Self {
        Self {
            region: region.to_owned(),
            account_id: account_id.to_owned(),
            functions: RwLock::new(Functions::default()),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, Functions> {
        self.functions
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Serve `scheduler`'s function; its name must be new.
    pub fn add(&self, scheduler: Arc<Scheduler>) -> Result<(), CoreError> {
        let name = scheduler.function().config.name.clone();
        let mut functions = self
            .functions
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if functions.by_name.contains_key(&name) {
            return Err(CoreError::Config(format!(
                "function {name} is defined twice"
            )));
        }
        functions.by_name.insert(name, Arc::clone(&scheduler));
        functions.order.push(scheduler);
        Ok(())
    }

    /// The function called `name`.
    pub fn get(&self, name: &str) -> Option<Arc<Scheduler>> {
        self.read().by_name.get(name).cloned()
    }

    /// Every function, the default first.
    pub fn all(&self) -> Vec<Arc<Scheduler>> {
        self.read().order.clone()
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

    /// Prometheus text of every function's metrics.
    pub fn metrics_text(&self) -> String {
        let functions = self.all();
        let counts: Vec<_> = functions
            .iter()
            .map(|s| {
                (
                    s.function().config.name.as_str(),
                    s.metrics(),
                    s.environment_counts(),
                )
            })
            .collect();
        crate::metrics::render_all(&counts)
    }

    /// Resolve a (percent-decoded) function identifier of the Invoke API (`function`, a name, a
    /// partial or full ARN, with an optional qualifier) and the `Qualifier` query parameter:
    /// AWS's 400 for a malformed identifier, its 404 for one that names no function here.
    pub fn resolve(&self, id: &str, query_qualifier: Option<&str>) -> Result<Target, ServiceError> {
        check_identifier(id)?;
        let ident = split(id);
        let qualifier = ident.qualifier.or(query_qualifier);
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
        let scheduler = if ident.name == "function" && ident.account.is_none() {
            self.read().order.first().cloned()
        } else {
            self.get(ident.name)
        };
        let Some(scheduler) = scheduler else {
            return Err(not_found());
        };
        let aliases = &scheduler.function().config.aliases;
        if qualifier.is_some_and(|q| q != LATEST && !aliases.iter().any(|(a, _)| a == q)) {
            return Err(not_found());
        }
        let base = self.arn(&scheduler.function().config.name);
        let invoked_arn = match qualifier {
            Some(q) => format!("{base}:{q}"),
            None => base,
        };
        Ok(Target {
            scheduler,
            invoked_arn,
        })
    }
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
            let function = Arc::new(FunctionContext {
                config,
                region: "us-east-1".into(),
                account_id: "012345678912".into(),
                layers: None,
                snapstart: None,
            });
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

    #[test]
    fn a_name_is_served_once() {
        let r = registry(&["orders"]);
        let again = registry(&["orders"]).get("orders").unwrap();
        assert!(r.add(again).is_err());
        assert_eq!(r.all().len(), 1);
    }
}
