//! One function as the registry knows it: the scheduler of its `$LATEST`, those of its
//! published versions, its aliases (with weighted routing), and what they all share.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use crate::aws::LATEST;
use crate::config::AsyncSettings;
use crate::scheduler::{FunctionWide, Scheduler};

/// A version of a function: `$LATEST` or a published number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Version {
    /// The unpublished, editable version.
    Latest,
    /// Published version N (from 1).
    Published(u32),
}

impl Version {
    /// `$LATEST` or a decimal number; anything else is not a version (an alias, perhaps).
    /// A number names its version only in its canonical form: AWS reads versions as numbers,
    /// so `01` is version 0, which is never published (one version, one spelling).
    pub fn parse(s: &str) -> Option<Self> {
        if s == LATEST {
            return Some(Self::Latest);
        }
        let all_digits = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !all_digits {
            return None;
        }
        let n: u32 = s.parse().ok()?;
        let canonical = s.len() == 1 || !s.starts_with('0');
        Some(Self::Published(if canonical { n } else { 0 }))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Latest => f.write_str(LATEST),
            Self::Published(n) => write!(f, "{n}"),
        }
    }
}

/// Where an alias sends invocations.
#[derive(Debug, Clone, PartialEq)]
pub struct AliasRoute {
    /// The version it points to.
    pub version: Version,
    /// An additional version and the share of invocations it gets (0.0 to 1.0).
    pub additional: Option<(Version, f64)>,
    /// The alias's own asynchronous invocation settings, which its `Event` invocations use
    /// instead of the version's (none: the version's).
    pub async_settings: Option<Arc<AsyncSettings>>,
}

impl AliasRoute {
    /// The version one invocation runs: the additional one with its weight's probability.
    pub fn pick(&self, draw: f64) -> Version {
        match self.additional {
            Some((version, weight)) if draw < weight => version,
            _ => self.version,
        }
    }
}

/// One function: its versions' schedulers and its aliases.
pub struct Function {
    name: String,
    wide: Arc<FunctionWide>,
    latest: RwLock<Arc<Scheduler>>,
    versions: RwLock<BTreeMap<u32, Arc<Scheduler>>>,
    aliases: RwLock<BTreeMap<String, AliasRoute>>,
}

impl Function {
    /// A function whose `$LATEST` runs on `latest`, with `aliases`.
    pub fn new(latest: Arc<Scheduler>, aliases: BTreeMap<String, AliasRoute>) -> Self {
        Self {
            name: latest.function().config.name.clone(),
            wide: Arc::clone(latest.function_wide()),
            latest: RwLock::new(latest),
            versions: RwLock::new(BTreeMap::new()),
            aliases: RwLock::new(aliases),
        }
    }

    /// The function's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What its versions share: metrics and reserved concurrency.
    pub fn wide(&self) -> &Arc<FunctionWide> {
        &self.wide
    }

    /// The scheduler of `$LATEST`.
    pub fn latest(&self) -> Arc<Scheduler> {
        Arc::clone(&self.latest.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// `$LATEST` changed: `next` serves it from now on; the previous scheduler is returned, to
    /// be retired ([`super::Registry::retire`]).
    pub fn replace_latest(&self, next: Arc<Scheduler>) -> Arc<Scheduler> {
        std::mem::replace(
            &mut *self.latest.write().unwrap_or_else(PoisonError::into_inner),
            next,
        )
    }

    /// The scheduler of `version`, when it exists.
    pub fn version(&self, version: Version) -> Option<Arc<Scheduler>> {
        match version {
            Version::Latest => Some(self.latest()),
            Version::Published(n) => self
                .versions
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .get(&n)
                .cloned(),
        }
    }

    /// Serve published version `n` on `scheduler`; the one it replaces, to be retired.
    pub fn publish(&self, n: u32, scheduler: Arc<Scheduler>) -> Option<Arc<Scheduler>> {
        self.versions
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(n, scheduler)
    }

    /// Stop serving published version `n`; its scheduler, to be retired.
    pub fn unpublish(&self, n: u32) -> Option<Arc<Scheduler>> {
        self.versions
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&n)
    }

    /// Every scheduler: `$LATEST` first, then the versions in order.
    pub fn schedulers(&self) -> Vec<Arc<Scheduler>> {
        let mut all = vec![self.latest()];
        all.extend(
            self.versions
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .values()
                .cloned(),
        );
        all
    }

    /// The route of alias `name`.
    pub fn alias(&self, name: &str) -> Option<AliasRoute> {
        self.aliases
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned()
    }

    /// Create or change alias `name`.
    pub fn set_alias(&self, name: &str, route: AliasRoute) {
        self.aliases
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.to_owned(), route);
    }

    /// Remove alias `name`; whether it existed.
    pub fn remove_alias(&self, name: &str) -> bool {
        self.aliases
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(name)
            .is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_and_print_as_aws_writes_them() {
        assert_eq!(Version::parse("$LATEST"), Some(Version::Latest));
        assert_eq!(Version::parse("12"), Some(Version::Published(12)));
        assert_eq!(Version::parse("live"), None);
        assert_eq!(Version::parse("01"), Some(Version::Published(0)));
        assert_eq!(Version::parse("007"), Some(Version::Published(0)));
        assert_eq!(Version::parse("10"), Some(Version::Published(10)));
        assert_eq!(Version::parse(""), None);
        assert_eq!(Version::Published(3).to_string(), "3");
        assert_eq!(Version::Latest.to_string(), "$LATEST");
    }

    #[test]
    fn a_weighted_alias_picks_the_additional_version_by_its_weight() {
        let route = AliasRoute {
            version: Version::Published(1),
            additional: Some((Version::Published(2), 0.3)),
            async_settings: None,
        };
        assert_eq!(route.pick(0.29), Version::Published(2));
        assert_eq!(route.pick(0.3), Version::Published(1));
        assert_eq!(route.pick(0.99), Version::Published(1));
    }
}
