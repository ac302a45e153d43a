//! SAM / CloudFormation templates (SPEC 9): `AWS::Serverless::Function` resources with
//! `Globals.Function`, `Parameters` defaults and the intrinsic functions `Ref`, `Fn::Sub`,
//! `Fn::GetAtt`, `Fn::Join` and `Fn::Select` (short `!Tag` and long forms).

use std::path::Path;
use std::time::Duration;

use serde_yaml::{Mapping, Value};

use super::{
    check_range, Defaults, Destination, FunctionConfig, HandlerRuntime, EPHEMERAL_STORAGE_RANGE,
    EVENT_AGE_RANGE, MAX_RETRY_ATTEMPTS, MEMORY_RANGE, RESERVED_CONCURRENCY_RANGE, TIMEOUT_RANGE,
};

const FUNCTION_TYPES: &[&str] = &["AWS::Serverless::Function", "AWS::Lambda::Function"];

/// What resolving intrinsics needs.
struct Context<'a> {
    parameters: &'a Mapping,
    resources: &'a Mapping,
    region: &'a str,
    account: &'a str,
}

/// Functions of a template, and warnings about what was ignored.
pub fn load(
    path: &Path,
    runtime: &HandlerRuntime,
    region: &str,
    account: &str,
) -> Result<(Vec<FunctionConfig>, Vec<String>), String> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{file}: {e}"))?;
    let doc: Value = serde_yaml::from_str(&text).map_err(|e| format!("{file}: {e}"))?;
    let empty = Mapping::new();
    let resources = doc
        .get("Resources")
        .and_then(Value::as_mapping)
        .unwrap_or(&empty);
    let ctx = Context {
        parameters: doc
            .get("Parameters")
            .and_then(Value::as_mapping)
            .unwrap_or(&empty),
        resources,
        region,
        account,
    };
    let globals = doc
        .get("Globals")
        .and_then(|g| g.get("Function"))
        .and_then(Value::as_mapping)
        .cloned()
        .unwrap_or_default();
    let base = path.parent().unwrap_or(Path::new("."));
    let mut functions = Vec::new();
    let mut warnings = Vec::new();
    for (id, resource) in resources {
        let id = id.as_str().unwrap_or_default();
        let kind = resource
            .get("Type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !FUNCTION_TYPES.contains(&kind) {
            continue;
        }
        let mut props = globals.clone();
        if let Some(own) = resource.get("Properties").and_then(Value::as_mapping) {
            merge(&mut props, own);
        }
        let props = resolve(&Value::Mapping(props), &ctx);
        let f = function(id, &props, base, runtime, &ctx, &mut warnings)
            .map_err(|e| format!("{file}: function {id}: {e}"))?;
        functions.push(f);
    }
    if functions.is_empty() {
        return Err(format!("{file}: no AWS::Serverless::Function resource"));
    }
    Ok((functions, warnings))
}

/// Globals under resource properties: mappings merge key by key, anything else is replaced.
fn merge(into: &mut Mapping, from: &Mapping) {
    for (k, v) in from {
        match (into.get_mut(k), v) {
            (Some(Value::Mapping(a)), Value::Mapping(b)) => merge(a, b),
            _ => {
                into.insert(k.clone(), v.clone());
            }
        }
    }
}

/// Replace intrinsic functions by their values.
fn resolve(v: &Value, ctx: &Context<'_>) -> Value {
    match v {
        Value::Tagged(t) => intrinsic(t.tag.to_string().trim_start_matches('!'), &t.value, ctx),
        Value::Mapping(m) if m.len() == 1 => {
            let (k, inner) = m
                .iter()
                .next()
                .map_or((None, &Value::Null), |(k, v)| (k.as_str(), v));
            match k {
                Some(name @ ("Ref" | "Fn::Sub" | "Fn::GetAtt" | "Fn::Join" | "Fn::Select")) => {
                    intrinsic(name.trim_start_matches("Fn::"), inner, ctx)
                }
                _ => Value::Mapping(
                    m.iter()
                        .map(|(k, v)| (k.clone(), resolve(v, ctx)))
                        .collect(),
                ),
            }
        }
        Value::Mapping(m) => Value::Mapping(
            m.iter()
                .map(|(k, v)| (k.clone(), resolve(v, ctx)))
                .collect(),
        ),
        Value::Sequence(s) => Value::Sequence(s.iter().map(|v| resolve(v, ctx)).collect()),
        other => other.clone(),
    }
}

fn intrinsic(name: &str, arg: &Value, ctx: &Context<'_>) -> Value {
    let arg = resolve(arg, ctx);
    match name {
        "Ref" => reference(arg.as_str().unwrap_or_default(), ctx),
        "Sub" => {
            let (template, vars) = match &arg {
                Value::Sequence(s) => (
                    s.first().and_then(Value::as_str).unwrap_or_default(),
                    s.get(1).and_then(Value::as_mapping),
                ),
                other => (other.as_str().unwrap_or_default(), None),
            };
            Value::String(substitute(template, vars, ctx))
        }
        "GetAtt" => {
            let (res, attr) = match &arg {
                Value::Sequence(s) => (
                    s.first()
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    s.get(1)
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                ),
                other => {
                    let s = other.as_str().unwrap_or_default();
                    let (a, b) = s.split_once('.').unwrap_or((s, ""));
                    (a.to_owned(), b.to_owned())
                }
            };
            match attr.as_str() {
                "Arn" => Value::String(function_arn(&function_name(&res, ctx), ctx)),
                _ => Value::String(format!("{res}.{attr}")),
            }
        }
        "Join" => {
            let parts = arg.as_sequence().cloned().unwrap_or_default();
            let sep = parts
                .first()
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let items = parts
                .get(1)
                .and_then(Value::as_sequence)
                .cloned()
                .unwrap_or_default();
            Value::String(items.iter().map(scalar).collect::<Vec<_>>().join(&sep))
        }
        "Select" => {
            let parts = arg.as_sequence().cloned().unwrap_or_default();
            let index = parts
                .first()
                .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()))
                .unwrap_or(0);
            parts
                .get(1)
                .and_then(Value::as_sequence)
                .and_then(|s| s.get(index as usize))
                .cloned()
                .unwrap_or(Value::Null)
        }
        _ => Value::Null,
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

/// `Ref`: a parameter's default, a pseudo parameter, or a function's name.
fn reference(name: &str, ctx: &Context<'_>) -> Value {
    match name {
        "AWS::Region" => return Value::String(ctx.region.to_owned()),
        "AWS::AccountId" => return Value::String(ctx.account.to_owned()),
        "AWS::StackName" => return Value::String("lambda-rie".to_owned()),
        "AWS::Partition" => return Value::String("aws".to_owned()),
        "AWS::URLSuffix" => return Value::String("amazonaws.com".to_owned()),
        _ => {}
    }
    if let Some(p) = ctx.parameters.get(name) {
        return p.get("Default").cloned().unwrap_or(Value::Null);
    }
    if ctx.resources.get(name).is_some() {
        return Value::String(function_name(name, ctx));
    }
    Value::Null
}

/// `${Name}` and `${Res.Attr}` substitution.
fn substitute(template: &str, vars: Option<&Mapping>, ctx: &Context<'_>) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('}') else {
            break;
        };
        let name = &rest[start + 2..start + end];
        let value = match vars.and_then(|m| m.get(name)) {
            Some(v) => scalar(v),
            None if name.contains('.') => {
                scalar(&intrinsic("GetAtt", &Value::String(name.to_owned()), ctx))
            }
            None => scalar(&reference(name, ctx)),
        };
        out.push_str(&value);
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    out
}

fn function_name(id: &str, ctx: &Context<'_>) -> String {
    ctx.resources
        .get(id)
        .and_then(|r| r.get("Properties"))
        .and_then(|p| p.get("FunctionName"))
        .map(|n| scalar(&resolve(n, ctx)))
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| id.to_owned())
}

fn function_arn(name: &str, ctx: &Context<'_>) -> String {
    format!(
        "arn:aws:lambda:{}:{}:function:{name}",
        ctx.region, ctx.account
    )
}

fn number(props: &Value, path: &[&str], range: (u32, u32)) -> Result<Option<u32>, String> {
    let mut v = props;
    for key in path {
        match v.get(key) {
            Some(next) => v = next,
            None => return Ok(None),
        }
    }
    let key = path.join(".");
    let n = v
        .as_u64()
        .or_else(|| v.as_str()?.parse().ok())
        .ok_or_else(|| format!("{key}: expected a whole number"))?;
    let n = u32::try_from(n).map_err(|_| format!("{key}: {n} is out of range"))?;
    check_range(&key, n, range).map(Some)
}

fn function(
    id: &str,
    props: &Value,
    base: &Path,
    runtime: &HandlerRuntime,
    ctx: &Context<'_>,
    warnings: &mut Vec<String>,
) -> Result<FunctionConfig, String> {
    let name = props
        .get("FunctionName")
        .map(scalar)
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| id.to_owned());
    if props.get("PackageType").and_then(Value::as_str) == Some("Image") {
        return Err(
            "PackageType Image is not supported (serve the image's runtime with the CLI instead)"
                .to_owned(),
        );
    }
    let code_dir = base.join(props.get("CodeUri").and_then(Value::as_str).unwrap_or("."));
    let rt = props
        .get("Runtime")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let handler = props
        .get("Handler")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let mut f = if rt.starts_with("python") {
        let h = handler.clone().ok_or("Runtime python needs a Handler")?;
        let mut f = FunctionConfig::new(&name, runtime.command(&h), Defaults::FUNCTION);
        f.execution_env = Some(format!("AWS_Lambda_{rt}"));
        f
    } else if rt.starts_with("provided") {
        let bootstrap = code_dir.join("bootstrap").to_string_lossy().into_owned();
        FunctionConfig::new(&name, vec![bootstrap], Defaults::FUNCTION)
    } else {
        return Err(format!("Runtime {rt:?} is not supported: use python3.x or provided.al2023 (or serve it with the CLI)"));
    };
    f.handler = handler;
    f.code_dir = code_dir;
    if let Some(n) = number(props, &["Timeout"], TIMEOUT_RANGE)? {
        f.timeout_s = n;
    }
    if let Some(n) = number(props, &["MemorySize"], MEMORY_RANGE)? {
        f.memory_mb = n;
    }
    if let Some(n) = number(
        props,
        &["EphemeralStorage", "Size"],
        EPHEMERAL_STORAGE_RANGE,
    )? {
        f.ephemeral_storage_mb = n;
    }
    f.reserved_concurrency = number(
        props,
        &["ReservedConcurrentExecutions"],
        RESERVED_CONCURRENCY_RANGE,
    )?;
    if let Some(n) = number(
        props,
        &[
            "ProvisionedConcurrencyConfig",
            "ProvisionedConcurrentExecutions",
        ],
        (0, 1000),
    )? {
        f.provisioned_concurrency = n;
    }
    if let Some(vars) = props
        .get("Environment")
        .and_then(|e| e.get("Variables"))
        .and_then(Value::as_mapping)
    {
        f.environment = vars.iter().map(|(k, v)| (scalar(k), scalar(v))).collect();
    }
    if let Some(alias) = props.get("AutoPublishAlias").and_then(Value::as_str) {
        f.aliases
            .push((alias.to_owned(), crate::aws::LATEST.to_owned()));
    }
    if let Some(cfg) = props.get("EventInvokeConfig") {
        if let Some(n) = number(cfg, &["MaximumRetryAttempts"], (0, MAX_RETRY_ATTEMPTS))? {
            f.maximum_retry_attempts = n;
        }
        if let Some(n) = number(cfg, &["MaximumEventAgeInSeconds"], EVENT_AGE_RANGE)? {
            f.maximum_event_age = Duration::from_secs(u64::from(n));
        }
        let dest = |key: &str, warnings: &mut Vec<String>| {
            destination(
                cfg.get("DestinationConfig").and_then(|d| d.get(key)),
                &name,
                key,
                warnings,
            )
        };
        f.on_success = dest("OnSuccess", warnings);
        f.on_failure = dest("OnFailure", warnings);
    }
    f.layers = layers(props, base, ctx, &name, warnings)?;
    // NOTE: SnapStart applies to published versions on AWS; here every environment is one.
    f.snapstart = props
        .get("SnapStart")
        .and_then(|s| s.get("ApplyOn"))
        .and_then(Value::as_str)
        == Some("PublishedVersions");
    Ok(f)
}

/// `Layers`: references to `AWS::Serverless::LayerVersion` resources become their `ContentUri`
/// directories; layer ARNs cannot be fetched and are left out with a warning.
fn layers(
    props: &Value,
    base: &Path,
    ctx: &Context<'_>,
    name: &str,
    warnings: &mut Vec<String>,
) -> Result<Vec<std::path::PathBuf>, String> {
    let Some(list) = props.get("Layers").and_then(Value::as_sequence) else {
        return Ok(Vec::new());
    };
    let mut layers = Vec::new();
    for layer in list.iter().map(scalar) {
        let content = ctx
            .resources
            .get(layer.as_str())
            .filter(|r| {
                r.get("Type").and_then(Value::as_str) == Some("AWS::Serverless::LayerVersion")
            })
            .and_then(|r| r.get("Properties"))
            .and_then(|p| p.get("ContentUri"))
            .and_then(Value::as_str);
        match content {
            Some(dir) => {
                let path = base.join(dir);
                if !path.exists() {
                    return Err(format!("Layers: {layer}: {} does not exist", path.display()));
                }
                layers.push(path);
            }
            None => warnings.push(format!(
                "function {name}: layer {layer} is not a local AWS::Serverless::LayerVersion; left out"
            )),
        }
    }
    if layers.len() > super::MAX_LAYERS {
        return Err(format!("Layers: at most {} layers", super::MAX_LAYERS));
    }
    Ok(layers)
}

/// A `Type: Lambda` destination becomes `function:NAME`; other types are ignored with a warning.
fn destination(
    v: Option<&Value>,
    function: &str,
    key: &str,
    warnings: &mut Vec<String>,
) -> Option<Destination> {
    let v = v?;
    let kind = v.get("Type").and_then(Value::as_str).unwrap_or_default();
    let arn = v.get("Destination").map(scalar).unwrap_or_default();
    if kind == "Lambda" {
        let name = arn
            .rsplit_once(":function:")
            .map_or(arn.as_str(), |(_, n)| n);
        return Some(Destination::Function(
            name.split(':').next().unwrap_or(name).to_owned(),
        ));
    }
    warnings.push(format!(
        "function {function}: {key} destination of type {kind:?} is not emulated; ignored"
    ));
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::config::test_support::{load_file, runtime};

    fn load_str(text: &str) -> Result<(Vec<FunctionConfig>, Vec<String>), String> {
        load_file("template.yaml", text, |path| {
            load(path, &runtime(), "eu-west-1", "111122223333")
        })
    }

    const TEMPLATE: &str = r#"
Parameters:
  Stage: {Type: String, Default: prod}
Globals:
  Function:
    Runtime: python3.12
    Timeout: 9
    Environment:
      Variables:
        STAGE: !Ref Stage
Resources:
  Api:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: !Sub "api-${Stage}-${AWS::Region}"
      Handler: app.api
      MemorySize: 512
      Environment:
        Variables:
          WORKER: !GetAtt Worker.Arn
          PATHS: !Join [":", [a, b]]
      EventInvokeConfig:
        MaximumRetryAttempts: 0
        DestinationConfig:
          OnFailure: {Type: Lambda, Destination: !GetAtt Worker.Arn}
          OnSuccess: {Type: SQS, Destination: arn:aws:sqs:eu-west-1:1:q}
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.worker
      Runtime: provided.al2023
      CodeUri: worker/
"#;

    #[test]
    fn globals_parameters_and_intrinsics_resolve() {
        let (fs, warnings) = load_str(TEMPLATE).unwrap();
        let api = fs.iter().find(|f| f.name == "api-prod-eu-west-1").unwrap();
        assert_eq!((api.timeout_s, api.memory_mb), (9, 512));
        let env: std::collections::HashMap<_, _> = api.environment.iter().cloned().collect();
        assert_eq!(env["STAGE"], "prod");
        assert_eq!(
            env["WORKER"],
            "arn:aws:lambda:eu-west-1:111122223333:function:Worker"
        );
        assert_eq!(env["PATHS"], "a:b");
        assert_eq!(api.maximum_retry_attempts, 0);
        assert_eq!(api.on_failure, Some(Destination::Function("Worker".into())));
        assert_eq!(api.execution_env.as_deref(), Some("AWS_Lambda_python3.12"));
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        let worker = fs.iter().find(|f| f.name == "Worker").unwrap();
        assert!(worker.command[0].ends_with("worker/bootstrap"));
    }

    #[test]
    fn unsupported_runtime_names_the_function() {
        let e = load_str(&TEMPLATE.replace("provided.al2023", "nodejs20.x")).unwrap_err();
        assert!(
            e.contains("function Worker") && e.contains("nodejs20.x"),
            "{e}"
        );
    }

    #[test]
    fn local_layers_and_snapstart_are_read() {
        let (fs, warnings) = load_str(
            r"
Resources:
  Deps:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: .
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      Layers: [!Ref Deps, 'arn:aws:lambda:us-east-1:123456789012:layer:remote:3']
      SnapStart:
        ApplyOn: PublishedVersions
",
        )
        .unwrap();
        assert_eq!(fs[0].layers.len(), 1);
        assert!(fs[0].snapstart);
        assert!(
            warnings.iter().any(|w| w.contains("layer:remote:3")),
            "{warnings:?}"
        );
    }
}
