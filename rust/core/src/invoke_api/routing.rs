//! Function identifiers of the Invoke API paths: `function`, a name, a partial or a full ARN,
//! with an optional qualifier; AWS's check of their shape; percent-decoding and query strings.

use crate::aws::{ServiceError, LATEST};

/// The pieces of a function identifier.
#[derive(Debug, PartialEq, Eq)]
pub struct Identifier<'a> {
    /// The function name.
    pub name: &'a str,
    /// The qualifier after the name, if any.
    pub qualifier: Option<&'a str>,
    /// The region of a full ARN.
    pub region: Option<&'a str>,
    /// The account of a partial or full ARN.
    pub account: Option<&'a str>,
}

impl<'a> Identifier<'a> {
    /// The qualifier of the identifier and the `Qualifier` parameter given beside it: either
    /// one, or both when they are the same; two that differ are refused (400), as AWS does.
    pub fn qualifier_with(&self, given: Option<&'a str>) -> Result<Option<&'a str>, ServiceError> {
        match (self.qualifier, given) {
            (Some(named), Some(given)) if named != given => Err(ServiceError::invalid_parameter(
                "The derived qualifier from the function name does not match the specified qualifier.",
            )),
            (named, given) => Ok(named.or(given)),
        }
    }
}

/// Split a function identifier into its pieces (it is checked by [`check_identifier`]).
pub fn split(id: &str) -> Identifier<'_> {
    let parts: Vec<&str> = id.split(':').collect();
    match parts.as_slice() {
        ["arn", "aws", "lambda", region, account, "function", name] => Identifier {
            name,
            qualifier: None,
            region: Some(region),
            account: Some(account),
        },
        ["arn", "aws", "lambda", region, account, "function", name, q] => Identifier {
            name,
            qualifier: Some(q),
            region: Some(region),
            account: Some(account),
        },
        [account, "function", name] => Identifier {
            name,
            qualifier: None,
            region: None,
            account: Some(account),
        },
        [account, "function", name, q] => Identifier {
            name,
            qualifier: Some(q),
            region: None,
            account: Some(account),
        },
        [name, q] => Identifier {
            name,
            qualifier: Some(q),
            region: None,
            account: None,
        },
        _ => Identifier {
            name: id,
            qualifier: None,
            region: None,
            account: None,
        },
    }
}

/// AWS's pattern for a function identifier in the Invoke API (`NamespacedFunctionName`).
const IDENTIFIER_PATTERN: &str = r"(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_\.]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?";
/// Longest function identifier (a qualified ARN).
const MAX_IDENTIFIER_LEN: usize = 170;

/// Check a function identifier as AWS does before it looks the function up: its length, and
/// AWS's pattern (`../../etc/passwd` or a NUL byte is a 400 `ValidationException`, not a 404).
pub fn check_identifier(id: &str) -> Result<(), ServiceError> {
    let invalid = |constraint: String| ServiceError::Validation {
        value: id.to_owned(),
        member: "functionName",
        constraint,
    };
    if id.is_empty() {
        return Err(invalid(
            "Member must have length greater than or equal to 1".to_owned(),
        ));
    }
    if !matches_identifier(id) {
        return Err(invalid(format!(
            "Member must satisfy regular expression pattern: {IDENTIFIER_PATTERN}"
        )));
    }
    let limit = if id.contains(':') {
        MAX_IDENTIFIER_LEN
    } else {
        crate::config::MAX_FUNCTION_NAME_BYTES
    };
    if id.len() > limit {
        return Err(invalid(format!(
            "Member must have length less than or equal to {limit}"
        )));
    }
    Ok(())
}

/// botocore's `Qualifier` pattern.
const QUALIFIER_PATTERN: &str = "(|[a-zA-Z0-9$_-]+)";

/// Check a `Qualifier` query parameter as AWS does: 1 to 128 characters of [`QUALIFIER_PATTERN`].
pub fn check_qualifier(qualifier: &str) -> Result<(), ServiceError> {
    let invalid = |constraint: String| ServiceError::validation(qualifier, "qualifier", constraint);
    if qualifier.is_empty() {
        return Err(invalid(
            "Member must have length greater than or equal to 1".to_owned(),
        ));
    }
    if !qualifier
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'$' | b'_' | b'-'))
    {
        return Err(invalid(format!(
            "Member must satisfy regular expression pattern: {QUALIFIER_PATTERN}"
        )));
    }
    if qualifier.len() > 128 {
        return Err(invalid(
            "Member must have length less than or equal to 128".to_owned(),
        ));
    }
    Ok(())
}

/// Whether `id` matches [`IDENTIFIER_PATTERN`] as a whole. Every optional part of the pattern
/// ends with `:` and the name has none, so the identifier is matched part by part on its
/// colon-separated fields, trying each optional part present or absent.
fn matches_identifier(id: &str) -> bool {
    let fields: Vec<&str> = id.split(':').collect();
    matches_from(&fields, 0)
}

/// The parts of the pattern, in order: `arn:<partition>:lambda:`, region, account,
/// `function:`, then the name and an optional qualifier.
fn matches_from(fields: &[&str], part: usize) -> bool {
    let word = |s: &str, extra: &[u8]| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || extra.contains(&b))
    };
    match part {
        0 => {
            let arn = fields.len() >= 3
                && fields[0] == "arn"
                && (fields[1].is_empty()
                    || fields[1].strip_prefix("aws").is_some_and(|rest| {
                        rest.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-')
                    }))
                && fields[2] == "lambda";
            (arn && matches_from(&fields[3..], 1)) || matches_from(fields, 1)
        }
        1 => {
            let region = fields.first().is_some_and(|f| is_region(f));
            (region && matches_from(&fields[1..], 2)) || matches_from(fields, 2)
        }
        2 => {
            let account = fields
                .first()
                .is_some_and(|f| f.len() == 12 && f.bytes().all(|b| b.is_ascii_digit()));
            (account && matches_from(&fields[1..], 3)) || matches_from(fields, 3)
        }
        3 => {
            (fields.first() == Some(&"function") && matches_from(&fields[1..], 4))
                || matches_from(fields, 4)
        }
        _ => match fields {
            [name] => word(name, b"."),
            [name, qualifier] => word(name, b".") && (*qualifier == LATEST || word(qualifier, b"")),
            _ => false,
        },
    }
}

/// `[a-z]{2}(-gov)?-[a-z]+-\d{1}`.
fn is_region(s: &str) -> bool {
    let lower = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase());
    let parts: Vec<&str> = s.split('-').collect();
    let digit = |p: &str| p.len() == 1 && p.bytes().all(|b| b.is_ascii_digit());
    match parts.as_slice() {
        [cc, area, n] | [cc, "gov", area, n] => {
            cc.len() == 2 && lower(cc) && lower(area) && digit(n)
        }
        _ => false,
    }
}

/// Decode `%XX` escapes (function names and ARNs arrive URL-encoded from SDKs).
pub fn percent_decode(s: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The value of `key` in a query string.
pub fn query_param(query: Option<&str>, key: &str) -> Option<String> {
    query?
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| percent_decode(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_qualifier_named_twice_must_agree() {
        let ident = split("orders:live");
        assert_eq!(ident.qualifier_with(None).unwrap(), Some("live"));
        assert_eq!(ident.qualifier_with(Some("live")).unwrap(), Some("live"));
        assert_eq!(ident.qualifier_with(Some("7")).unwrap_err().status(), 400);
        assert_eq!(
            split("orders").qualifier_with(Some("7")).unwrap(),
            Some("7")
        );
        assert_eq!(split("orders").qualifier_with(None).unwrap(), None);
    }

    #[test]
    fn splits_every_form() {
        assert_eq!(split("f").name, "f");
        let full = split("arn:aws:lambda:us-east-1:012345678912:function:f:live");
        assert_eq!(full.name, "f");
        assert_eq!(full.qualifier, Some("live"));
        assert_eq!(full.region, Some("us-east-1"));
        let partial = split("012345678912:function:f");
        assert_eq!(partial.account, Some("012345678912"));
        assert_eq!(partial.name, "f");
        assert_eq!(split("f:$LATEST").qualifier, Some("$LATEST"));
    }

    #[test]
    fn qualifiers_follow_aws_pattern() {
        for good in ["$LATEST", "1", "live", "blue-green_2"] {
            assert!(check_qualifier(good).is_ok(), "{good}");
        }
        for bad in ["", "a/b", "nul\0", "sp ace", &"q".repeat(129)] {
            let Err(ServiceError::Validation { member, .. }) = check_qualifier(bad) else {
                panic!("{bad:?} is not a qualifier");
            };
            assert_eq!(member, "qualifier");
        }
    }

    #[test]
    fn identifiers_follow_aws_pattern() {
        for ok in [
            "f",
            "my-function_1",
            "f:live",
            "f:$LATEST",
            "012345678912:function:f",
            "012345678912:function:f:7",
            "arn:aws:lambda:us-east-1:012345678912:function:f",
            "arn:aws-us-gov:lambda:us-gov-west-1:012345678912:function:f:live",
            "us-east-1:f",
        ] {
            assert_eq!(check_identifier(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "../../etc/passwd",
            "f\0",
            "a:b:c",
            "f:",
            "arn:aws:lambda:x:y:function:f",
        ] {
            assert!(check_identifier(bad).is_err(), "{bad}");
        }
        let long = "a".repeat(65);
        let e = check_identifier(&long).unwrap_err();
        assert_eq!(e.status(), 400);
        assert_eq!(e.code(), "ValidationException");
        assert!(e
            .message()
            .ends_with("Member must have length less than or equal to 64"));
        let e = check_identifier("../../etc/passwd").unwrap_err();
        assert!(e.message().starts_with(
            "1 validation error detected: Value '../../etc/passwd' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:"
        ));
    }

    #[test]
    fn decodes_percent_escapes() {
        assert_eq!(percent_decode("arn%3Aaws%3Alambda"), "arn:aws:lambda");
        assert_eq!(percent_decode("%24LATEST"), "$LATEST");
        assert_eq!(percent_decode("50%"), "50%");
    }
}
