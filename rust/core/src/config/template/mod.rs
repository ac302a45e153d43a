//! SAM / CloudFormation templates: `AWS::Serverless::Function` (and `AWS::Lambda::Function`)
//! resources, with `Globals.Function` and the intrinsic functions resolved, mapped onto
//! function specs; every error names the file, the function and the property.

mod apis;
mod document;
mod intrinsics;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_yaml::{Mapping, Value};

use super::spec::{ConfigError, FunctionSpec, Number, Origin, Runtime, Setting, Source};
use super::Destination;
use intrinsics::{scalar, Resolver};

const FUNCTION_TYPES: &[&str] = &["AWS::Serverless::Function", "AWS::Lambda::Function"];

/// The functions of a template, and warnings about what was left out.
pub fn load(
    path: &Path,
    region: &str,
    account: &str,
) -> Result<(Vec<FunctionSpec>, Vec<String>), ConfigError> {
    let file = path.display().to_string();
    let whole = Origin::whole(&Arc::new(Source::Template {
        file: file.clone(),
        resource: None,
    }));
    let text = std::fs::read_to_string(path).map_err(|e| whole.error(e.to_string()))?;
    let doc = document::parse(&text, &whole)?;
    document::check_tags(&doc, &mut Vec::new(), &whole)?;
    let empty = Mapping::new();
    let section = |name: &str| doc.get(name).and_then(Value::as_mapping).unwrap_or(&empty);
    let resources = section("Resources");
    let mut resolver = Resolver::new(section("Parameters"), resources, region, account);
    let globals = doc
        .get("Globals")
        .and_then(|g| g.get("Function"))
        .and_then(Value::as_mapping)
        .cloned()
        .unwrap_or_default();
    let base = path.parent().unwrap_or(Path::new("."));
    let file_source = Arc::new(Source::Template {
        file: file.clone(),
        resource: None,
    });
    let apis = apis::read(resources, &mut resolver, &file_source)?;
    let mut functions = Vec::new();
    let mut warnings = Vec::new();
    for (id, resource) in resources {
        let kind = resource.get("Type").and_then(Value::as_str);
        if !kind.is_some_and(|k| FUNCTION_TYPES.contains(&k)) {
            continue;
        }
        let id = scalar(id);
        let spec = FunctionSpec::new(Source::Template {
            file: file.clone(),
            resource: Some(id.clone()),
        });
        let mut props = globals.clone();
        if let Some(own) = resource.get("Properties").and_then(Value::as_mapping) {
            merge(&mut props, own);
        }
        let props = resolver
            .resolve(&Value::Mapping(props))
            .map_err(|problem| Origin::whole(&spec.source).error(problem))?;
        let mut resource = FunctionResource {
            props: &props,
            base,
            warnings: &mut warnings,
            apis: &apis,
        };
        functions.push(resource.spec(spec, &id, resources)?);
    }
    if functions.is_empty() {
        return Err(whole.error("no AWS::Serverless::Function resource"));
    }
    Ok((functions, warnings))
}

/// The event source mappings of a function's `Events` (`SQS`, `Kinesis`, `DynamoDB`) as
/// CreateEventSourceMapping bodies: `Queue` or `Stream` is the `EventSourceArn`, the other
/// properties keep their names (checked when the emulator starts).
fn event_sources(events: &Mapping) -> Vec<serde_json::Value> {
    let mut bodies = Vec::new();
    for event in events.values() {
        let source_key = match event.get("Type").and_then(Value::as_str) {
            Some("SQS") => "Queue",
            Some("Kinesis" | "DynamoDB") => "Stream",
            _ => continue,
        };
        let props = serde_json::to_value(event.get("Properties")).unwrap_or_default();
        let mut body = props.as_object().cloned().unwrap_or_default();
        if let Some(arn) = body.remove(source_key) {
            body.insert("EventSourceArn".into(), arn);
        }
        bodies.push(serde_json::Value::Object(body));
    }
    bodies
}

/// Globals under resource properties, as SAM merges them: mappings key by key, lists one after
/// the other (the globals' entries first), anything else replaced by the resource's.
fn merge(into: &mut Mapping, from: &Mapping) {
    for (k, v) in from {
        match (into.get_mut(k), v) {
            (Some(Value::Mapping(a)), Value::Mapping(b)) => merge(a, b),
            (Some(Value::Sequence(a)), Value::Sequence(b)) => a.extend(b.iter().cloned()),
            _ => {
                into.insert(k.clone(), v.clone());
            }
        }
    }
}

/// One function resource's resolved properties, being mapped onto its spec.
struct FunctionResource<'a> {
    props: &'a Value,
    base: &'a Path,
    warnings: &'a mut Vec<String>,
    apis: &'a apis::Apis,
}

impl FunctionResource<'_> {
    fn spec(
        &mut self,
        mut spec: FunctionSpec,
        id: &str,
        resources: &Mapping,
    ) -> Result<FunctionSpec, ConfigError> {
        let props = self.props;
        spec.name = Some(
            match props
                .get("FunctionName")
                .map(scalar)
                .filter(|n| !n.is_empty())
            {
                Some(name) => spec.setting("FunctionName", name),
                None => Setting::new(id.to_owned(), Origin::whole(&spec.source)),
            },
        );
        spec.runtime = Some(
            if props.get("PackageType").and_then(Value::as_str) == Some("Image") {
                spec.setting("PackageType", Runtime::Image)
            } else {
                let identifier = props
                    .get("Runtime")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                spec.setting("Runtime", Runtime::from_identifier(identifier))
            },
        );
        spec.handler = props
            .get("Handler")
            .and_then(Value::as_str)
            .map(|h| spec.setting("Handler", h.to_owned()));
        spec.code_dir = Some(self.code_dir(&spec)?);
        limits(&mut spec, props)?;
        if let Some(vars) = props
            .get("Environment")
            .and_then(|e| e.get("Variables"))
            .and_then(Value::as_mapping)
        {
            let pairs = vars.iter().map(|(k, v)| (scalar(k), scalar(v))).collect();
            spec.environment = Some(spec.setting("Environment.Variables", pairs));
        }
        if let Some(alias) = props.get("AutoPublishAlias").and_then(Value::as_str) {
            let aliases = vec![(alias.to_owned(), crate::aws::LATEST.to_owned())];
            spec.aliases = Some(spec.setting("AutoPublishAlias", aliases));
        }
        self.event_invoke_config(&mut spec)?;
        spec.layers = self.layers(&spec, resources);
        // NOTE: SnapStart applies to published versions on AWS; here every environment is one.
        let snapstart = props.get("SnapStart").and_then(|s| s.get("ApplyOn"));
        if snapstart.and_then(Value::as_str) == Some("PublishedVersions") {
            spec.snapstart = Some(spec.setting("SnapStart.ApplyOn", true));
        }
        if let Some(url) = props.get("FunctionUrlConfig") {
            let text = |key: &str| url.get(key).and_then(Value::as_str);
            let Some(auth) = text("AuthType") else {
                return Err(spec
                    .origin("FunctionUrlConfig.AuthType")
                    .error("required: NONE or AWS_IAM"));
            };
            let mut parsed = crate::config::FunctionUrl::parse(auth, text("InvokeMode"))
                .map_err(|e| spec.origin("FunctionUrlConfig").error(e))?;
            if let Some(cors) = url.get("Cors") {
                let json = serde_json::to_value(cors)
                    .map_err(|e| spec.origin("FunctionUrlConfig.Cors").error(e.to_string()))?;
                let cors = crate::config::cors::Cors::from_aws(&json)
                    .map_err(|e| spec.origin("FunctionUrlConfig.Cors").error(e.to_string()))?;
                parsed.cors = Some(cors);
            }
            spec.url = Some(spec.setting("FunctionUrlConfig", parsed));
        }
        if let Some(events) = props.get("Events").and_then(Value::as_mapping) {
            let routes = apis::http_routes(&spec, events, self.apis, self.warnings)?;
            if !routes.is_empty() {
                spec.http_routes = Some(spec.setting("Events", routes));
            }
            let sources = event_sources(events);
            if !sources.is_empty() {
                spec.event_sources = Some(spec.setting("Events", sources));
            }
        }
        Ok(spec)
    }

    /// `CodeUri`: a local directory, relative to the template (default: the template's own).
    fn code_dir(&self, spec: &FunctionSpec) -> Result<Setting<PathBuf>, ConfigError> {
        let origin = spec.origin("CodeUri");
        match self.props.get("CodeUri") {
            None => Ok(Setting::new(self.base.join("."), origin)),
            Some(Value::String(dir)) => Ok(Setting::new(self.base.join(dir), origin)),
            Some(other) => Err(origin.error(format!(
                "{} is not a local directory (only local code is served)",
                kind(other)
            ))),
        }
    }

    /// `EventInvokeConfig`: retries, event age and `Type: Lambda` destinations.
    fn event_invoke_config(&mut self, spec: &mut FunctionSpec) -> Result<(), ConfigError> {
        let Some(cfg) = self.props.get("EventInvokeConfig") else {
            return Ok(());
        };
        let key = |k: &str| format!("EventInvokeConfig.{k}");
        spec.maximum_retry_attempts = number(spec, cfg, &["MaximumRetryAttempts"])?
            .map(|s| Setting::new(s.value, spec.origin(key("MaximumRetryAttempts"))));
        spec.maximum_event_age = number(spec, cfg, &["MaximumEventAgeInSeconds"])?
            .map(|s| Setting::new(s.value, spec.origin(key("MaximumEventAgeInSeconds"))));
        let name = spec
            .name
            .as_ref()
            .map(|n| n.value.clone())
            .unwrap_or_default();
        for (property, slot) in [
            ("OnSuccess", &mut spec.on_success),
            ("OnFailure", &mut spec.on_failure),
        ] {
            let target = cfg.get("DestinationConfig").and_then(|d| d.get(property));
            *slot = destination(target, &name, property, self.warnings)
                .map(|d| Setting::new(d, Origin::new(&spec.source, key(property))));
        }
        Ok(())
    }

    /// `Layers`: references to `AWS::Serverless::LayerVersion` resources become their
    /// `ContentUri` directories; layer ARNs cannot be fetched and are left out with a warning.
    fn layers(
        &mut self,
        spec: &FunctionSpec,
        resources: &Mapping,
    ) -> Option<Setting<Vec<PathBuf>>> {
        let list = self.props.get("Layers").and_then(Value::as_sequence)?;
        let name = spec
            .name
            .as_ref()
            .map(|n| n.value.clone())
            .unwrap_or_default();
        let mut layers = Vec::new();
        for layer in list.iter().map(scalar) {
            let content = resources
                .get(layer.as_str())
                .filter(|r| {
                    r.get("Type").and_then(Value::as_str) == Some("AWS::Serverless::LayerVersion")
                })
                .and_then(|r| r.get("Properties"))
                .and_then(|p| p.get("ContentUri"))
                .and_then(Value::as_str);
            match content {
                Some(dir) => layers.push(self.base.join(dir)),
                None => self.warnings.push(format!(
                    "function {name}: layer {layer} is not a local AWS::Serverless::LayerVersion; left out"
                )),
            }
        }
        Some(spec.setting("Layers", layers))
    }
}

/// Timeout, memory, `/tmp`, reserved and provisioned concurrency.
fn limits(spec: &mut FunctionSpec, props: &Value) -> Result<(), ConfigError> {
    spec.timeout = number(spec, props, &["Timeout"])?;
    spec.memory = number(spec, props, &["MemorySize"])?;
    spec.ephemeral_storage = number(spec, props, &["EphemeralStorage", "Size"])?;
    spec.reserved_concurrency = number(spec, props, &["ReservedConcurrentExecutions"])?;
    let provisioned = [
        "ProvisionedConcurrencyConfig",
        "ProvisionedConcurrentExecutions",
    ];
    spec.provisioned_concurrency = number(spec, props, &provisioned)?;
    Ok(())
}

/// A number property at `path` (a number or a string holding one).
fn number(
    spec: &FunctionSpec,
    props: &Value,
    path: &[&str],
) -> Result<Option<Setting<Number>>, ConfigError> {
    let mut v = props;
    for key in path {
        match v.get(key) {
            Some(next) => v = next,
            None => return Ok(None),
        }
    }
    let origin = spec.origin(path.join("."));
    let n = match v {
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => Number::Whole(i128::from(i)),
            (None, Some(u), _) => Number::Whole(i128::from(u)),
            (None, None, f) => Number::Fraction(f.unwrap_or(f64::NAN)),
        },
        Value::String(s) => Number::Text(s.clone()),
        other => return Err(origin.error(format!("expected a whole number, got {}", kind(other)))),
    };
    Ok(Some(Setting::new(n, origin)))
}

/// What a YAML value is, for messages.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

/// A `Type: Lambda` destination becomes `function:NAME`; SQS, SNS, EventBridge and S3 ARNs are
/// service destinations; anything else is ignored with a warning.
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
    if crate::destinations::service::is_service_arn(&arn) {
        return Some(Destination::Service(arn));
    }
    warnings.push(format!(
        "function {function}: {key} destination of type {kind:?} is not emulated; ignored"
    ));
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::config::test_support::{build, load_file};
    use crate::config::FunctionConfig;
    use std::collections::HashMap;

    fn load_str(text: &str) -> Result<(Vec<FunctionConfig>, Vec<String>), String> {
        load_file("template.yaml", text, |path| {
            let (specs, warnings) = load(path, "eu-west-1", "111122223333")?;
            Ok((build(&specs)?, warnings))
        })
        .map_err(|e: ConfigError| e.to_string())
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
      CodeUri: .
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
        assert_eq!(
            api.on_success,
            Some(Destination::Service("arn:aws:sqs:eu-west-1:1:q".into()))
        );
        assert!(warnings.is_empty(), "{warnings:?}");
        let worker = fs.iter().find(|f| f.name == "Worker").unwrap();
        assert!(worker.command[0].ends_with("/./bootstrap"));
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
    fn function_url_configs_are_read_and_checked() {
        let template = |config: &str| {
            format!(
                "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      \
                 Runtime: python3.12\n      Handler: app.handler\n      FunctionUrlConfig: {config}\n"
            )
        };
        let (fs, _) = load_str(&template("{AuthType: AWS_IAM}")).unwrap();
        assert_eq!(
            fs[0].url,
            Some(crate::config::FunctionUrl {
                auth_type: crate::config::UrlAuthType::AwsIam,
                cors: None,
                invoke_mode: crate::config::UrlInvokeMode::Buffered,
            })
        );
        let (fs, _) = load_str(&template(
            "{AuthType: NONE, Cors: {AllowOrigins: ['*'], MaxAge: 5}}",
        ))
        .unwrap();
        let cors = fs[0].url.as_ref().and_then(|u| u.cors.clone()).unwrap();
        assert_eq!(
            (cors.allow_origins, cors.max_age),
            (vec!["*".to_owned()], 5)
        );
        let e = load_str(&template("{AuthType: NONE, Cors: {MaxAge: -1}}")).unwrap_err();
        assert!(
            e.contains("FunctionUrlConfig.Cors") && e.contains("cors.maxAge"),
            "{e}"
        );
        let (fs, _) = load_str(&template("{AuthType: NONE, InvokeMode: RESPONSE_STREAM}")).unwrap();
        assert_eq!(
            fs[0].url.as_ref().map(|u| u.invoke_mode),
            Some(crate::config::UrlInvokeMode::ResponseStream)
        );
        let e = load_str(&template("{InvokeMode: BUFFERED}")).unwrap_err();
        assert!(e.contains("FunctionUrlConfig.AuthType"), "{e}");
        let e = load_str(&template("{AuthType: OPEN}")).unwrap_err();
        assert!(e.contains("\"OPEN\" is not NONE or AWS_IAM"), "{e}");
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

    fn refused(text: &str) -> String {
        let e = load_str(text).unwrap_err();
        assert!(e.contains("template.yaml: "), "{e}");
        e
    }

    const FUNCTION: &str = "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      Runtime: python3.12\n      Handler: app.handler\n";

    #[test]
    fn what_aws_refuses_is_refused_naming_file_function_and_property() {
        let cases = [
            ("      CodeUri: missing/\n", "function Fn: CodeUri: "),
            ("      CodeUri: {Bucket: b, Key: k}\n", "function Fn: CodeUri: a mapping is not a local directory"),
            ("      FunctionName: ../../etc/passwd\n", "function Fn: FunctionName: \"../../etc/passwd\" is not a valid function name"),
            (
                "      Environment:\n        Variables:\n          LAMBDA_TASK_ROOT: /x\n",
                "function Fn: Environment.Variables: Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: LAMBDA_TASK_ROOT",
            ),
            ("      Timeout: 0\n", "function Fn: Timeout: 0 is out of range (1-900)"),
            ("      Timeout: '9x'\n", "function Fn: Timeout: \"9x\" is not a whole number (1-900)"),
        ];
        for (property, expected) in cases {
            let e = refused(&format!("{FUNCTION}{property}"));
            assert!(e.contains(expected), "{e}");
        }
        // The 4 KB limit holds for templates too.
        let big = format!(
            "{FUNCTION}      Environment:\n        Variables:\n          BIG: {}\n",
            "x".repeat(4096)
        );
        assert!(refused(&big).contains(
            "function Fn: Environment.Variables: 4099 bytes of variables exceed the 4 KB limit"
        ));
    }

    #[test]
    fn an_unknown_tag_is_named_with_where_it_is() {
        let e = refused(&format!(
            "{FUNCTION}      Environment:\n        Variables:\n          A: !Foo x\n"
        ));
        assert!(
            e.ends_with("template.yaml: Resources.Fn.Properties.Environment.Variables.A: unknown tag !Foo: not a CloudFormation intrinsic function"),
            "{e}"
        );
        // CloudFormation's other functions are known, if not resolved.
        let (fs, _) = load_str(&format!("{FUNCTION}      Description: !If [c, a, b]\n")).unwrap();
        assert_eq!(fs.len(), 1);
    }

    fn variables(text: &str) -> Vec<(String, String)> {
        let (fs, _) = load_str(text).unwrap();
        fs.into_iter().find(|f| f.name == "Fn").unwrap().environment
    }

    #[test]
    fn no_value_and_unresolved_functions_leave_their_property_out() {
        let (fs, _) = load_str(&format!(
            "{FUNCTION}      Timeout: {{'Fn::If': [c, 5, 9]}}\n      ReservedConcurrentExecutions: !Ref AWS::NoValue\n      MemorySize: !FindInMap [M, a, b]\n      Environment:\n        Variables:\n          A: !Ref AWS::NoValue\n          B: kept\n"
        ))
        .unwrap();
        let f = &fs[0];
        assert_eq!(
            (f.timeout_s, f.memory_mb, f.reserved_concurrency),
            (3, 128, None)
        );
        assert_eq!(f.environment, [("B".to_owned(), "kept".to_owned())]);
    }

    #[test]
    fn sub_keeps_escaped_literals_and_get_att_knows_queues_streams_and_topics() {
        let text = "Resources:\n  Q: {Type: 'AWS::SQS::Queue'}\n  F: {Type: 'AWS::SQS::Queue', Properties: {FifoQueue: true}}\n  N: {Type: 'AWS::SQS::Queue', Properties: {QueueName: !Sub '${AWS::Region}-jobs'}}\n  S: {Type: 'AWS::Kinesis::Stream'}\n  T: {Type: 'AWS::SNS::Topic', Properties: {TopicName: alerts}}\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      Runtime: python3.12\n      Handler: app.handler\n      Environment:\n        Variables:\n          A: !Sub '${!Literal}-${AWS::Region}'\n          Q: !GetAtt Q.Arn\n          F: !GetAtt F.Arn\n          N: !GetAtt N.Arn\n          S: !GetAtt S.Arn\n          T: !GetAtt T.TopicArn\n          L: !GetAtt Fn.Arn\n          O: !GetAtt Q.QueueName\n";
        let got: HashMap<String, String> = variables(text).into_iter().collect();
        let expected = [
            ("A", "${Literal}-eu-west-1"),
            ("Q", "arn:aws:sqs:eu-west-1:111122223333:Q"),
            ("F", "arn:aws:sqs:eu-west-1:111122223333:F.fifo"),
            ("N", "arn:aws:sqs:eu-west-1:111122223333:eu-west-1-jobs"),
            ("S", "arn:aws:kinesis:eu-west-1:111122223333:stream/S"),
            ("T", "arn:aws:sns:eu-west-1:111122223333:alerts"),
            ("L", "arn:aws:lambda:eu-west-1:111122223333:function:Fn"),
            ("O", "Q.QueueName"),
        ];
        for (name, value) in expected {
            assert_eq!(got[name], value, "{name}");
        }
    }

    #[test]
    fn select_picks_within_its_list_and_refuses_an_index_outside_it() {
        let with = |select: &str| {
            load_str(&format!(
                "{FUNCTION}      Environment:\n        Variables:\n          S: {select}\n"
            ))
            .map(|(fs, _)| fs[0].environment.clone())
        };
        assert_eq!(
            with("!Select [1, [a, b]]").unwrap(),
            [("S".to_owned(), "b".to_owned())]
        );
        assert_eq!(
            with("!Select ['0', [a, b]]").unwrap(),
            [("S".to_owned(), "a".to_owned())]
        );
        for bad in [
            "!Select [-1, [a, b]]",
            "!Select [5, [a, b]]",
            "!Select [x, [a]]",
        ] {
            let e = with(bad).unwrap_err();
            assert!(e.contains("function Fn: Fn::Select: index "), "{bad}: {e}");
        }
        // A list that is not resolved (an unresolved function) reads as nothing.
        assert_eq!(with("!Select [0, !GetAZs '']").unwrap(), []);
    }

    #[test]
    fn globals_lists_come_before_the_functions_own() {
        let parse = |text: &str| -> Mapping { serde_yaml::from_str(text).unwrap() };
        let mut merged = parse("Layers: [g1, g2]\nTimeout: 3\nEnvironment: {Variables: {A: a}}\n");
        merge(
            &mut merged,
            &parse("Layers: [own]\nTimeout: 9\nEnvironment: {Variables: {B: b}}\n"),
        );
        assert_eq!(
            merged,
            parse("Layers: [g1, g2, own]\nTimeout: 9\nEnvironment: {Variables: {A: a, B: b}}\n")
        );
    }

    #[test]
    fn deep_nesting_is_refused_quickly_and_never_overflows() {
        let depth = 100_000;
        let documents = [
            format!("Resources: {}{}\n", "[".repeat(depth), "]".repeat(depth)),
            format!(
                "Resources: {}1{}\n",
                "{a: ".repeat(depth),
                "}".repeat(depth)
            ),
            format!("Resources:\n{}x\n", "- ".repeat(depth)),
            format!(
                "Resources: {}x{}\n",
                "!Sub [".repeat(depth),
                "]".repeat(depth)
            ),
        ];
        for text in &documents {
            let started = std::time::Instant::now();
            let e = refused(text);
            // NOTE: a liveness bound, 10x and more what a debug build takes on a loaded machine.
            assert!(
                started.elapsed() < std::time::Duration::from_secs(20),
                "{e}"
            );
            assert!(
                e.contains("template.yaml: nested too deeply (more than 64 levels) at line "),
                "{e}"
            );
        }
    }

    #[test]
    fn circular_function_names_are_refused() {
        let text = "Resources:\n  A:\n    Type: AWS::Serverless::Function\n    Properties:\n      FunctionName: !Sub '${B.Arn}'\n      Runtime: python3.12\n      Handler: app.h\n  B:\n    Type: AWS::Serverless::Function\n    Properties:\n      FunctionName: !GetAtt A.Arn\n      Runtime: python3.12\n      Handler: app.h\n";
        let e = refused(text);
        assert!(
            e.contains("function A: circular reference: B -> A -> B"),
            "{e}"
        );
    }
}
