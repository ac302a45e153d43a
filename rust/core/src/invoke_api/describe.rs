//! `ListFunctions`, `GetFunction` and `GetFunctionConfiguration` in the shapes botocore parses.

use serde_json::{json, Value};

use crate::config::FunctionConfig;
use crate::environment::FunctionContext;

/// A `FunctionConfiguration` object.
fn configuration(f: &FunctionContext) -> Value {
    let c: &FunctionConfig = &f.config;
    let runtime = c
        .execution_env
        .as_deref()
        .and_then(|e| e.strip_prefix("AWS_Lambda_"))
        .unwrap_or("provided.al2023");
    let variables: serde_json::Map<String, Value> = c
        .environment
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    json!({
        "FunctionName": c.name,
        "FunctionArn": f.arn(),
        "Runtime": runtime,
        "Role": format!("arn:aws:iam::{}:role/lambda-rie", f.account_id),
        "Handler": c.handler.clone().unwrap_or_default(),
        "CodeSize": 0,
        "Description": "",
        "Timeout": c.timeout_s,
        "MemorySize": c.memory_mb,
        "LastModified": "1970-01-01T00:00:00.000+0000",
        "CodeSha256": "",
        "Version": crate::aws::LATEST,
        "Environment": {"Variables": variables},
        "TracingConfig": {"Mode": "PassThrough"},
        "PackageType": "Zip",
        "Architectures": [std::env::consts::ARCH.replace("aarch64", "arm64")],
        "EphemeralStorage": {"Size": c.ephemeral_storage_mb},
        "State": "Active",
        "LastUpdateStatus": "Successful",
    })
}

/// `GET /2015-03-31/functions/{name}`: configuration, code and concurrency.
pub fn get_function(f: &FunctionContext) -> String {
    let mut out = json!({
        "Configuration": configuration(f),
        "Code": {"RepositoryType": "S3", "Location": format!("file://{}", f.config.code_dir.display())},
    });
    if let Some(r) = f.config.reserved_concurrency {
        out["Concurrency"] = json!({"ReservedConcurrentExecutions": r});
    }
    out.to_string()
}

/// `GET /2015-03-31/functions/{name}/configuration`.
pub fn get_configuration(f: &FunctionContext) -> String {
    configuration(f).to_string()
}
