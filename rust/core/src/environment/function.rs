//! What every execution environment of one function shares: its configuration, ARN, merged
//! layers and SnapStart template; and how an environment was initialised.

use std::path::PathBuf;
use std::sync::Arc;

use crate::config::FunctionConfig;

/// What every environment of one function shares.
#[derive(Debug)]
pub struct FunctionContext {
    /// The function's configuration.
    pub config: FunctionConfig,
    /// Region of the ARNs.
    pub region: String,
    /// Account of the ARNs.
    pub account_id: String,
    /// The function's layers, merged (presented at `/opt`).
    pub layers: Option<Arc<crate::layers::MergedLayers>>,
    /// The SnapStart template environments are forked from (`--snapstart`).
    pub snapstart: Option<Arc<crate::snapstart::SnapStartTemplate>>,
}

impl FunctionContext {
    /// A function of `config` in the RIE's default region and account, no layers (tests).
    #[cfg(test)]
    pub(crate) fn for_test(config: FunctionConfig) -> Arc<Self> {
        Arc::new(Self {
            config,
            region: "us-east-1".into(),
            account_id: "012345678912".into(),
            layers: None,
            snapstart: None,
        })
    }

    /// `arn:aws:lambda:<region>:<account>:function:<name>`.
    pub fn arn(&self) -> String {
        format!(
            "arn:aws:lambda:{}:{}:function:{}",
            self.region, self.account_id, self.config.name
        )
    }

    /// Where external extensions are looked for, and the same directory as the environment's
    /// processes see it (inside the mount namespace, merged layers are at `/opt`).
    pub fn extensions_dirs(&self) -> Option<(PathBuf, PathBuf)> {
        if let Some(dir) = &self.config.extensions_dir {
            return Some((dir.clone(), dir.clone()));
        }
        let default = PathBuf::from(crate::config::DEFAULT_EXTENSIONS_DIR);
        match &self.layers {
            Some(layers) => Some((
                layers.dir().join("extensions"),
                layers.seen_as().join("extensions"),
            )),
            None => Some((default.clone(), default)),
        }
    }
}

/// How the environment was initialised (`AWS_LAMBDA_INITIALIZATION_TYPE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitializationType {
    /// Started for an invoke.
    OnDemand,
    /// Started ahead of invokes by provisioned concurrency.
    ProvisionedConcurrency,
    /// Restored from a SnapStart template.
    SnapStart,
}

impl InitializationType {
    /// The variable's value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OnDemand => "on-demand",
            Self::ProvisionedConcurrency => "provisioned-concurrency",
            Self::SnapStart => "snap-start",
        }
    }
}
