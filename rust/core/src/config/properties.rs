//! Property tests of the loaders: whatever a `lambda-rie.toml` or a template holds, loading and
//! building it never panics, and every refusal is one line that starts with the file's name.

use std::fmt::Write;

use proptest::prelude::*;

use super::test_support::{build, property_cases};
use super::{file, template};

/// Keys a function may hold, some it may not, and names AWS reserves.
fn keys() -> Vec<&'static str> {
    [file::KEYS, &["AWS_REGION", "_HANDLER", "live", "bogus"]].concat()
}

/// Strings a setting may meet: good ones, paths, destinations, versions, names.
const WORDS: &[&str] = &[
    "app.handler",
    ".",
    "missing",
    "./bootstrap",
    "file:x.jsonl",
    "function:b",
    "https://x",
    "http://127.0.0.1:1/",
    "$LATEST",
    "3",
    "../../etc/passwd",
    "",
];

fn quoted(s: &str) -> String {
    // NOTE: a JSON string is a valid TOML basic string and a valid YAML double-quoted scalar.
    serde_json::to_string(s).unwrap_or_default()
}

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(WORDS).prop_map(str::to_owned),
        "\\PC{0,12}",
        "[a-zA-Z0-9_-]{60,70}",
    ]
}

fn toml_value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        (-5i64..2000).prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        (-1e4f64..1e4).prop_map(|f| format!("{f:?}")),
        any::<bool>().prop_map(|b| b.to_string()),
        word().prop_map(|w| quoted(&w)),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(", "))),
            prop::collection::vec((prop::sample::select(keys()), inner), 0..4).prop_map(|kv| {
                let pairs: Vec<String> = kv
                    .iter()
                    .map(|(k, v)| format!("{} = {v}", quoted(k)))
                    .collect();
                format!("{{ {} }}", pairs.join(", "))
            }),
        ]
    })
}

fn toml_table() -> impl Strategy<Value = String> {
    prop::collection::vec((prop::sample::select(keys()), toml_value()), 0..6).prop_map(|kv| {
        kv.iter().fold(String::new(), |mut text, (k, v)| {
            let _ = writeln!(text, "{k} = {v}");
            text
        })
    })
}

fn config_file() -> impl Strategy<Value = String> {
    let structured = (
        prop::option::of(toml_table()),
        prop::collection::vec((word(), toml_table()), 0..3),
    )
        .prop_map(|(defaults, functions)| {
            let mut text = defaults.map_or_else(String::new, |d| format!("[defaults]\n{d}"));
            for (name, table) in functions {
                let _ = write!(text, "\n[functions.{}]\n{table}", quoted(&name));
            }
            text
        });
    prop_oneof![
        structured,
        "\\PC{0,300}",
        "[\\[\\]{}=.,\"'a-z0-9 \n#]{0,300}"
    ]
}

const PROPERTIES: &[&str] = &[
    "Runtime",
    "Handler",
    "CodeUri",
    "Timeout",
    "MemorySize",
    "FunctionName",
    "Environment",
    "EphemeralStorage",
    "ReservedConcurrentExecutions",
    "ProvisionedConcurrencyConfig",
    "AutoPublishAlias",
    "EventInvokeConfig",
    "Layers",
    "SnapStart",
    "PackageType",
    "Bogus",
];

fn yaml_value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        (-5i64..2000).prop_map(|n| n.to_string()),
        (-1e4f64..1e4).prop_map(|f| format!("{f:?}")),
        prop::sample::select(
            &[
                "python3.12",
                "provided.al2023",
                "nodejs20.x",
                "Image",
                "null"
            ][..]
        )
        .prop_map(str::to_owned),
        word().prop_map(|w| quoted(&w)),
        prop::sample::select(
            &[
                "!Ref Fn",
                "!Ref Stage",
                "!Ref AWS::Region",
                "!Sub '${Fn.Arn}-${Stage}'",
                "!GetAtt Fn.Arn",
                "!GetAtt Other.Arn",
                "!Join [',', [a, !Ref Stage]]",
                "!Select [1, [a, b]]",
                "!If [c, a, b]",
                "!Foo x",
                "{Ref: Fn}",
                "{'Fn::Sub': x}",
            ][..]
        )
        .prop_map(str::to_owned),
        (0usize..100).prop_map(|n| format!("{}{}", "[".repeat(n), "]".repeat(n))),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(", "))),
            prop::collection::vec((prop::sample::select(keys()), inner), 0..4).prop_map(|kv| {
                let pairs: Vec<String> = kv.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                format!("{{{}}}", pairs.join(", "))
            }),
        ]
    })
}

fn template_file() -> impl Strategy<Value = String> {
    let properties = prop::collection::vec((prop::sample::select(PROPERTIES), yaml_value()), 0..8);
    let resource = (
        prop::sample::select(&["Fn", "Other", "Layer"][..]),
        prop::sample::select(
            &[
                "AWS::Serverless::Function",
                "AWS::Lambda::Function",
                "AWS::Serverless::LayerVersion",
                "AWS::S3::Bucket",
            ][..],
        ),
        properties,
    );
    let structured = (
        prop::option::of(yaml_value()),
        prop::collection::vec(resource, 0..3),
    )
        .prop_map(|(stage, resources)| {
            let mut text = stage.map_or_else(String::new, |s| {
                format!("Parameters:\n  Stage: {{Type: String, Default: {s}}}\n")
            });
            text.push_str("Resources:\n");
            for (id, kind, properties) in resources {
                let _ = write!(text, "  {id}:\n    Type: {kind}\n    Properties:\n");
                for (key, value) in properties {
                    let _ = writeln!(text, "      {key}: {value}");
                }
            }
            text
        });
    prop_oneof![
        structured,
        "\\PC{0,300}",
        "[\\[\\]{}:,\\-?'\"!&*#|> \na-z0-9]{0,300}"
    ]
}

/// Write `text` as `name` in a fresh directory, load and build it, and check the refusal.
fn refusal_names_the_file(name: &str, text: &str) -> Result<(), TestCaseError> {
    let toml = name == "lambda-rie.toml";
    let outcome = super::test_support::load_file(name, text, |path| {
        let built = if toml {
            file::load(path).and_then(|specs| build(&specs))
        } else {
            template::load(path, "us-east-1", "123456789012").and_then(|(specs, _)| build(&specs))
        };
        (path.display().to_string(), built.map(|_| ()))
    });
    if let (path, Err(e)) = outcome {
        let message = e.to_string();
        prop_assert!(message.starts_with(&format!("{path}: ")), "{message}");
        prop_assert!(!message.contains('\n'), "{message}");
    }
    Ok(())
}

proptest! {
    #![proptest_config(property_cases())]

    #[test]
    fn any_config_file_loads_or_is_refused_naming_the_file(text in config_file()) {
        refusal_names_the_file("lambda-rie.toml", &text)?;
    }

    #[test]
    fn any_template_loads_or_is_refused_naming_the_file(text in template_file()) {
        refusal_names_the_file("template.yaml", &text)?;
    }
}
