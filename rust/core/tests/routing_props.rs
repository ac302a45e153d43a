//! Property tests of function identifier routing: any identifier is checked against AWS's
//! pattern exactly (compared with a real regular expression engine) and never panics; the
//! registry resolves what passes or answers AWS's 404; names, partial and full ARNs built from
//! valid pieces round-trip to the function and the ARN it sees.

mod common;

use std::sync::{Arc, OnceLock};

use lambda_rie_core::aws::{ServiceError, LATEST};
use lambda_rie_core::config::{Defaults, FunctionConfig, ThrottlePolicy};
use lambda_rie_core::environment::FunctionContext;
use lambda_rie_core::invoke_api::routing::{
    check_identifier, check_qualifier, percent_decode, query_param, split,
};
use lambda_rie_core::registry::Registry;
use lambda_rie_core::scheduler::{EnvironmentCap, Scheduler};
use proptest::prelude::*;

const REGION: &str = "us-east-1";
const ACCOUNT: &str = "012345678912";
/// The functions served, the first being the default (`function` in the path).
const NAMES: [&str; 3] = ["first", "orders", "my-Fn_2.v1"];
const ALIAS: &str = "live";

/// AWS's `NamespacedFunctionName` pattern, written for the `regex` crate: ASCII classes, the
/// `-` of `[a-zA-Z0-9-_\.]` escaped, anchored at both ends.
fn aws_pattern() -> &'static regex::Regex {
    static PATTERN: OnceLock<regex::Regex> = OnceLock::new();
    PATTERN.get_or_init(|| {
        regex::Regex::new(concat!(
            r"^(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-[0-9]{1}:)?",
            r"([0-9]{12}:)?(function:)?([a-zA-Z0-9\-_\.]+)(:(\$LATEST|[a-zA-Z0-9\-_]+))?$"
        ))
        .expect("the pattern compiles")
    })
}

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let registry = Registry::new(REGION, ACCOUNT);
        let cap = Arc::new(EnvironmentCap::new(4));
        for name in NAMES {
            let mut config = FunctionConfig::new(name, vec!["runtime".into()], Defaults::FUNCTION);
            config.aliases = vec![(ALIAS.into(), LATEST.into())];
            let function = Arc::new(FunctionContext {
                config,
                region: REGION.into(),
                account_id: ACCOUNT.into(),
                layers: None,
                snapstart: None,
            });
            let scheduler = Scheduler::new(function, Arc::clone(&cap), ThrottlePolicy::Reject);
            registry.add(Arc::new(scheduler)).expect("distinct names");
        }
        registry
    })
}

/// Strings made of the identifier's own pieces (so that the interesting cases are common),
/// with noise among them.
fn identifier() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("arn".to_owned()),
        Just("aws".to_owned()),
        Just("aws-cn".to_owned()),
        Just("lambda".to_owned()),
        Just("function".to_owned()),
        Just(":".to_owned()),
        Just(":".to_owned()),
        Just("$LATEST".to_owned()),
        Just(REGION.to_owned()),
        Just("us-gov-west-1".to_owned()),
        Just(ACCOUNT.to_owned()),
        "[0-9]{11,13}",
        prop::sample::select(&NAMES[..]).prop_map(str::to_owned),
        "[a-zA-Z0-9._-]{1,70}",
        "[a-z]{2}-[a-z]{1,6}-[0-9]{1,2}",
        "\\PC{1,4}",
        "[/%\0 .]{1,3}",
    ];
    prop_oneof![
        4 => prop::collection::vec(piece, 0..12).prop_map(|p| p.concat()),
        1 => any::<String>(),
    ]
}

/// What a 404 must say for `name` and `qualifier`.
fn not_found(name: &str, qualifier: Option<&str>) -> ServiceError {
    ServiceError::function_not_found(&format!(
        "arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}:{}",
        qualifier.unwrap_or(LATEST)
    ))
}

fn word(extra: &'static str, max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[a-zA-Z0-9_{extra}-]{{1,{max}}}"))
        .expect("a valid class")
}

/// A valid qualifier: none, `$LATEST`, the alias, or another version or alias name.
fn qualifier() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        Just(Some(LATEST.to_owned())),
        Just(Some(ALIAS.to_owned())),
        word("", 60).prop_map(Some),
    ]
}

/// A valid function name: a served one or any other of up to 64 characters.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(&NAMES[..]).prop_map(str::to_owned),
        word(".", 64),
    ]
}

/// The forms of an identifier: bare name, partial ARN, full ARN (optionally another region's).
#[derive(Debug, Clone, Copy)]
enum Form {
    Name,
    Partial,
    Full,
    FullElsewhere,
}

fn build(form: Form, name: &str, qualifier: Option<&str>) -> String {
    let base = match form {
        Form::Name => name.to_owned(),
        Form::Partial => format!("{ACCOUNT}:function:{name}"),
        Form::Full => format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"),
        Form::FullElsewhere => format!("arn:aws:lambda:eu-west-3:{ACCOUNT}:function:{name}"),
    };
    qualifier.map_or(base.clone(), |q| format!("{base}:{q}"))
}

/// Percent-encode every byte outside the unreserved set, as SDKs do in paths.
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

proptest! {
    #![proptest_config(common::config(1024, 50_000))]

    #[test]
    fn the_identifier_check_is_aws_pattern_and_length(id in identifier()) {
        let matches = aws_pattern().is_match(&id);
        let limit = if id.contains(':') { 170 } else { 64 };
        let valid = matches && id.len() <= limit;
        match check_identifier(&id) {
            Ok(()) => prop_assert!(valid, "accepted {:?}", id),
            Err(e) => {
                prop_assert!(!valid, "refused {:?}: {}", id, e.message());
                prop_assert_eq!(e.status(), 400);
                prop_assert_eq!(e.code(), "ValidationException");
                let message = common::service_error_message(400, e.body().as_bytes())
                    .map_err(TestCaseError::fail)?;
                let prefix = format!(
                    "1 validation error detected: Value '{id}' at 'functionName' failed to satisfy constraint: Member must "
                );
                prop_assert!(message.starts_with(&prefix), "{}", message);
            }
        }
    }

    #[test]
    fn any_identifier_resolves_or_is_refused_in_aws_shape(
        id in identifier(),
        query in prop::option::of(prop_oneof![Just(LATEST.to_owned()), Just(ALIAS.to_owned()), "\\PC{0,8}"]),
    ) {
        let pieces = split(&id);
        let qualifiers_differ =
            matches!((pieces.qualifier, query.as_deref()), (Some(a), Some(b)) if a != b);
        match registry().resolve(&id, query.as_deref()) {
            Ok(target) => {
                prop_assert!(check_identifier(&id).is_ok());
                prop_assert!(!qualifiers_differ);
                prop_assert!(query.as_deref().is_none_or(|q| check_qualifier(q).is_ok()));
                let served = &target.scheduler.function().config.name;
                prop_assert!(NAMES.contains(&served.as_str()));
                let base = format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{served}");
                prop_assert!(
                    target.invoked_arn == base || target.invoked_arn.starts_with(&format!("{base}:")),
                    "{}", target.invoked_arn
                );
                if pieces.name != "function" || pieces.account.is_some() {
                    prop_assert_eq!(served, pieces.name);
                }
            }
            Err(e) => {
                let message = common::service_error_message(e.status(), e.body().as_bytes())
                    .map_err(TestCaseError::fail)?;
                match e.status() {
                    400 => prop_assert!(
                        check_identifier(&id).is_err()
                            || query.as_deref().is_some_and(|q| check_qualifier(q).is_err())
                            || qualifiers_differ
                    ),
                    404 => {
                        prop_assert!(check_identifier(&id).is_ok());
                        let q = pieces.qualifier.or(query.as_deref());
                        prop_assert_eq!(message, not_found(pieces.name, q).message());
                    }
                    other => prop_assert!(false, "status {}", other),
                }
            }
        }
    }

    #[test]
    fn identifiers_built_from_valid_pieces_round_trip(
        form in prop_oneof![Just(Form::Name), Just(Form::Partial), Just(Form::Full), Just(Form::FullElsewhere)],
        name in name(),
        qualifier in qualifier(),
        encoded in any::<bool>(),
    ) {
        let id = build(form, &name, qualifier.as_deref());
        let path_segment = if encoded { percent_encode(&id) } else { id.clone() };
        let id_as_routed = percent_decode(&path_segment);
        prop_assert_eq!(&id_as_routed, &id);
        let limit = if id.contains(':') { 170 } else { 64 };
        if id.len() > limit {
            prop_assert!(check_identifier(&id).is_err());
            return Ok(());
        }
        prop_assert_eq!(check_identifier(&id), Ok(()));
        let pieces = split(&id);
        prop_assert_eq!(pieces.name, name.as_str());
        prop_assert_eq!(pieces.qualifier, qualifier.as_deref());
        let default = name == "function" && matches!(form, Form::Name);
        let served = NAMES.contains(&name.as_str()) || default;
        let known_qualifier = !matches!(qualifier.as_deref(), Some(q) if q != LATEST && q != ALIAS);
        match registry().resolve(&id_as_routed, None) {
            Ok(target) => {
                prop_assert!(served && known_qualifier && !matches!(form, Form::FullElsewhere));
                let served_name = if default { NAMES[0] } else { name.as_str() };
                prop_assert_eq!(&target.scheduler.function().config.name, served_name);
                let base = format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{served_name}");
                prop_assert_eq!(target.invoked_arn, build(Form::Full, served_name, qualifier.as_deref()));
                prop_assert!(build(Form::Full, served_name, None) == base);
            }
            Err(e) => {
                prop_assert!(!served || !known_qualifier || matches!(form, Form::FullElsewhere));
                // The 404 names the function as the caller did (`function` included).
                prop_assert_eq!(e, not_found(&name, qualifier.as_deref()));
            }
        }
    }

    #[test]
    fn percent_decoding_and_query_strings_never_panic(s in any::<String>(), key in "\\PC{0,6}") {
        let _ = percent_decode(&s);
        let _ = query_param(Some(&s), &key);
        prop_assert_eq!(percent_decode(&percent_encode(&s)), s);
    }
}
