//! The IAM policy a Lambda authorizer returns, evaluated against the method ARN as API Gateway
//! does (docs/reference.md §15): an explicit `Deny` wins, then an `Allow`, and no statement
//! that matches is an implicit deny
//! (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-lambda-authorizer-output.html).

use serde_json::Value;

/// What a policy says about one method ARN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A matching `Allow` and no matching `Deny`.
    Allow,
    /// A matching `Deny`.
    ExplicitDeny,
    /// No statement matches.
    ImplicitDeny,
}

/// Evaluate `policy` (a `policyDocument`) for `execute-api:Invoke` on `method_arn`; `None` when
/// it is not a policy document.
pub fn evaluate(policy: &Value, method_arn: &str) -> Option<Verdict> {
    let statements = match policy.get("Statement")? {
        Value::Array(list) => list.iter().collect::<Vec<_>>(),
        one @ Value::Object(_) => vec![one],
        _ => return None,
    };
    let mut allowed = false;
    for statement in statements {
        let effect = statement.get("Effect").and_then(Value::as_str)?;
        let applies = any_of(statement.get("Action"), |a| {
            wildcard_match(&a.to_ascii_lowercase(), "execute-api:invoke")
        }) && any_of(statement.get("Resource"), |r| wildcard_match(r, method_arn));
        match effect {
            "Deny" if applies => return Some(Verdict::ExplicitDeny),
            "Allow" if applies => allowed = true,
            "Allow" | "Deny" => {}
            _ => return None,
        }
    }
    Some(if allowed {
        Verdict::Allow
    } else {
        Verdict::ImplicitDeny
    })
}

/// Whether a string, or any string of a list, passes `test`.
fn any_of(v: Option<&Value>, test: impl Fn(&str) -> bool) -> bool {
    match v {
        Some(Value::String(s)) => test(s),
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).any(test),
        _ => false,
    }
}

/// IAM's wildcards: `*` any run of characters, `?` any one.
fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:api/Prod/GET/items/42";

    fn policy(effect: &str, resource: &str) -> Value {
        json!({"Version": "2012-10-17", "Statement": [
            {"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}]})
    }

    #[test]
    fn allow_deny_and_no_match() {
        assert_eq!(evaluate(&policy("Allow", ARN), ARN), Some(Verdict::Allow));
        assert_eq!(
            evaluate(&policy("Deny", ARN), ARN),
            Some(Verdict::ExplicitDeny)
        );
        let other = "arn:aws:execute-api:us-east-1:123456789012:api/Prod/POST/items";
        assert_eq!(
            evaluate(&policy("Allow", other), ARN),
            Some(Verdict::ImplicitDeny)
        );
        assert_eq!(evaluate(&json!({"Statement": 1}), ARN), None);
        assert_eq!(evaluate(&json!({}), ARN), None);
    }

    #[test]
    fn wildcards_lists_and_deny_over_allow() {
        let both = json!({"Statement": [
            {"Action": ["execute-api:*"], "Effect": "Allow", "Resource": ["arn:aws:execute-api:*"]},
            {"Action": "*", "Effect": "Deny", "Resource": "arn:*/Prod/GET/items/4?"},
        ]});
        assert_eq!(evaluate(&both, ARN), Some(Verdict::ExplicitDeny));
        let one = json!({"Statement":
            {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": "*/GET/*"}});
        assert_eq!(evaluate(&one, ARN), Some(Verdict::Allow));
        assert!(wildcard_match("a*b*c", "axxbyyc"));
        assert!(!wildcard_match("a*b", "axxc"));
    }
}
