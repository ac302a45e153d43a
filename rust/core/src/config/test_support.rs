//! What the loaders' unit tests share: a runtime and a file to load.

use super::HandlerRuntime;

/// The built-in runtime of a `python3` on `PATH`.
pub fn runtime() -> HandlerRuntime {
    HandlerRuntime {
        python: "python3".into(),
        module: "lambda_rie.runtime".into(),
        execution_env: "AWS_Lambda_python3.11".into(),
    }
}

/// Write `text` as `name` in a fresh directory, `load` it, then remove the directory.
pub fn load_file<T>(name: &str, text: &str, load: impl FnOnce(&std::path::Path) -> T) -> T {
    let dir = std::env::temp_dir().join(format!("lambda-rie-config-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    let result = load(&path);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// Build `specs` as a config file's or template's functions are built (AWS's defaults).
pub fn build(
    specs: &[super::spec::FunctionSpec],
) -> Result<Vec<super::FunctionConfig>, super::spec::ConfigError> {
    let runtime = runtime();
    let ctx = super::spec::BuildContext {
        runtime: &runtime,
        defaults: super::Defaults::FUNCTION,
        max_environments: super::spec::NamedLimit {
            name: "--max-environments".into(),
            value: 8,
        },
    };
    super::spec::build_all(specs, &ctx)
}

/// Property tests: 64 cases each by default, 4096 with `LAMBDA_RIE_STRESS=full`; an explicit
/// `PROPTEST_CASES` wins. Failures are not written next to the sources.
pub fn property_cases() -> proptest::test_runner::Config {
    let default = proptest::test_runner::Config::default();
    let cases = if std::env::var_os("PROPTEST_CASES").is_some() {
        default.cases
    } else if std::env::var("LAMBDA_RIE_STRESS").as_deref() == Ok("full") {
        4096
    } else {
        64
    };
    proptest::test_runner::Config {
        cases,
        failure_persistence: None,
        ..default
    }
}
