//! The environment variables a runtime sees (docs/reference.md §6), built once per execution
//! environment.

use std::net::SocketAddr;

use crate::config::{EnvInheritance, FunctionConfig};

/// Variables passed from lambda-rie's own environment when the function does not inherit all.
const MINIMAL_INHERITED: &[&str] = &[
    "PATH",
    "HOME",
    "LANG",
    "LD_LIBRARY_PATH",
    "PYTHONPATH",
    "VIRTUAL_ENV",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
];

/// Variables that never pass from lambda-rie's environment: they describe lambda-rie's own
/// configuration, or do not exist on AWS.
const NEVER_INHERITED: &[&str] = &["AWS_LAMBDA_FUNCTION_TIMEOUT", "AWS_LAMBDA_FUNCTION_HANDLER"];

/// Where and how one environment runs, as its variables describe it.
pub struct EnvironmentFacts<'a> {
    /// The function.
    pub function: &'a FunctionConfig,
    /// `AWS_REGION`.
    pub region: &'a str,
    /// The environment's Runtime API address.
    pub runtime_api: SocketAddr,
    /// `AWS_LAMBDA_LOG_STREAM_NAME`.
    pub log_stream_name: &'a str,
    /// `AWS_LAMBDA_INITIALIZATION_TYPE`.
    pub initialization_type: &'a str,
}

/// The complete environment of a runtime process.
pub fn runtime_environment(facts: &EnvironmentFacts<'_>) -> Vec<(String, String)> {
    let f = facts.function;
    let mut vars: Vec<(String, String)> = match f.inherit_env {
        EnvInheritance::All => std::env::vars()
            .filter(|(k, _)| !NEVER_INHERITED.contains(&k.as_str()))
            .collect(),
        EnvInheritance::Minimal => MINIMAL_INHERITED
            .iter()
            .filter_map(|k| std::env::var(k).ok().map(|v| ((*k).to_owned(), v)))
            .collect(),
    };
    let default_region =
        std::env::var("AWS_DEFAULT_REGION").unwrap_or_else(|_| facts.region.to_owned());
    let code_dir = std::fs::canonicalize(&f.code_dir).unwrap_or_else(|_| f.code_dir.clone());
    let mut platform: Vec<(&str, String)> = vec![
        ("AWS_REGION", facts.region.to_owned()),
        ("AWS_DEFAULT_REGION", default_region),
        ("AWS_LAMBDA_FUNCTION_NAME", f.name.clone()),
        ("AWS_LAMBDA_FUNCTION_VERSION", f.version.clone()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", f.memory_mb.to_string()),
        (
            "AWS_LAMBDA_INITIALIZATION_TYPE",
            facts.initialization_type.to_owned(),
        ),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{}", f.name),
        ),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            facts.log_stream_name.to_owned(),
        ),
        ("AWS_LAMBDA_RUNTIME_API", facts.runtime_api.to_string()),
        ("LAMBDA_TASK_ROOT", code_dir.to_string_lossy().into_owned()),
        ("LAMBDA_RUNTIME_DIR", "/var/runtime".to_owned()),
        ("TZ", ":UTC".to_owned()),
        ("LANG", "en_US.UTF-8".to_owned()),
        ("AWS_XRAY_CONTEXT_MISSING", "LOG_ERROR".to_owned()),
        ("AWS_XRAY_DAEMON_ADDRESS", "169.254.79.129:2000".to_owned()),
    ];
    if let Some(h) = &f.handler {
        platform.push(("_HANDLER", h.clone()));
    }
    if let Some(e) = &f.execution_env {
        platform.push(("AWS_EXECUTION_ENV", e.clone()));
    }
    if f.max_concurrency > 1 {
        platform.push(("AWS_LAMBDA_MAX_CONCURRENCY", f.max_concurrency.to_string()));
    }
    for (k, v) in f
        .environment
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .chain(platform)
    {
        set(&mut vars, k, v);
    }
    vars
}

/// Put `paths` in front of `PYTHONPATH` (layers' Python packages, as AWS's runtimes do).
pub fn add_python_path(vars: &mut Vec<(String, String)>, paths: &[std::path::PathBuf]) {
    if paths.is_empty() {
        return;
    }
    let mut entries: Vec<String> = paths
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if let Some((_, existing)) = vars.iter().find(|(k, _)| k == "PYTHONPATH") {
        entries.extend(
            existing
                .split(':')
                .filter(|e| !e.is_empty())
                .map(str::to_owned),
        );
    }
    set(vars, "PYTHONPATH", entries.join(":"));
}

fn set(vars: &mut Vec<(String, String)>, key: &str, value: String) {
    if let Some(slot) = vars.iter_mut().find(|(k, _)| k == key) {
        slot.1 = value;
    } else {
        vars.push((key.to_owned(), value));
    }
}

/// A fresh log stream name, `YYYY/MM/DD/[<version>]<32 hex>` (`[$LATEST]`, `[3]`).
pub fn new_log_stream_name(version: &str) -> String {
    format!(
        "{}/[{version}]{}",
        crate::clock::log_stream_date(crate::clock::epoch_ms()),
        uuid::Uuid::new_v4().simple()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Defaults;

    #[test]
    fn platform_variables_win_and_timeout_is_absent() {
        let mut f = FunctionConfig::new("orders", vec!["x".into()], Defaults::FUNCTION);
        f.environment = vec![
            ("TABLE".into(), "t".into()),
            ("AWS_LAMBDA_FUNCTION_NAME".into(), "spoof".into()),
        ];
        f.handler = Some("app.handler".into());
        let vars = runtime_environment(&EnvironmentFacts {
            function: &f,
            region: "eu-west-1",
            runtime_api: "127.0.0.1:9001".parse().unwrap(),
            log_stream_name: "2026/01/01/[$LATEST]abc",
            initialization_type: "on-demand",
        });
        let get = |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("AWS_LAMBDA_FUNCTION_NAME"), Some("orders"));
        assert_eq!(get("TABLE"), Some("t"));
        assert_eq!(get("_HANDLER"), Some("app.handler"));
        assert_eq!(get("AWS_LAMBDA_RUNTIME_API"), Some("127.0.0.1:9001"));
        assert_eq!(get("AWS_LAMBDA_LOG_GROUP_NAME"), Some("/aws/lambda/orders"));
        assert_eq!(get("TZ"), Some(":UTC"));
        assert_eq!(get("AWS_LAMBDA_FUNCTION_TIMEOUT"), None);
    }

    #[test]
    fn log_stream_name_shape() {
        let n = new_log_stream_name(crate::aws::LATEST);
        let (date, rest) = n.split_at(10);
        assert_eq!(date.len(), 10);
        assert!(rest.starts_with("/[$LATEST]"));
        assert_eq!(rest.len(), "/[$LATEST]".len() + 32);
    }
}
