//! `AWS_IAM` function URLs (docs/reference.md §14): the request must be signed with SigV4, and
//! the event's `requestContext.authorizer.iam` names the signer. There is no IAM here: a
//! signature's shape is checked, not its validity, and the signer is known only by the access
//! key of its `Credential`; the other members are derived from that key and the account.

use serde_json::{json, Value};

/// The prefix of a SigV4 `Authorization` header, up to its access key.
const CREDENTIAL: &str = "AWS4-HMAC-SHA256 Credential=";
/// The prefix of an IAM user's unique id (`AIDA...`), which AWS's access keys of IAM users
/// share after their own prefix (`AKIA...`).
const USER_ID_PREFIX: &str = "AIDA";

/// Whether a request carries a SigV4 signature (its shape, not its validity).
pub fn signed(headers: &hyper::HeaderMap) -> bool {
    let authorization = authorization(headers);
    let shaped = authorization.starts_with(CREDENTIAL)
        && authorization.contains("SignedHeaders=")
        && authorization.contains("Signature=");
    shaped && (headers.contains_key("x-amz-date") || headers.contains_key(hyper::header::DATE))
}

/// `requestContext.authorizer` of a signed request to a URL of the account `account_id`:
/// `{"iam": {...}}` as AWS's, the access key from the signature's `Credential`.
pub fn authorizer(headers: &hyper::HeaderMap, account_id: &str) -> Value {
    let access_key = authorization(headers)
        .strip_prefix(CREDENTIAL)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_default();
    // NOTE: the caller is taken to be an IAM user named by its access key, with the unique id
    // the key's characters give (AKIAIOSFODNN7EXAMPLE: AIDAIOSFODNN7EXAMPLE); no organization.
    let unique: String = access_key
        .chars()
        .skip(4)
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let user_id = format!("{USER_ID_PREFIX}{unique}");
    json!({
        "iam": {
            "accessKey": access_key,
            "accountId": account_id,
            "callerId": user_id,
            "cognitoIdentity": null,
            "principalOrgId": null,
            "userArn": format!("arn:aws:iam::{account_id}:user/{access_key}"),
            "userId": user_id,
        }
    })
}

fn authorization(headers: &hyper::HeaderMap) -> &str {
    headers
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed_headers(authorization: &str) -> hyper::HeaderMap {
        let mut h = hyper::HeaderMap::new();
        h.insert(hyper::header::AUTHORIZATION, authorization.parse().unwrap());
        h.insert("x-amz-date", "20261206T120000Z".parse().unwrap());
        h
    }

    const SIGNATURE: &str = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261206/\
        us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=00ff";

    #[test]
    fn a_signature_needs_its_parts_and_a_date() {
        assert!(signed(&signed_headers(SIGNATURE)));
        assert!(!signed(&signed_headers("Bearer token")));
        assert!(!signed(&signed_headers(
            "AWS4-HMAC-SHA256 Credential=AKIA/x, Signature=00"
        )));
        let mut undated = signed_headers(SIGNATURE);
        undated.remove("x-amz-date");
        assert!(!signed(&undated));
    }

    #[test]
    fn the_authorizer_names_the_signer_by_its_access_key() {
        let a = authorizer(&signed_headers(SIGNATURE), "123456789012");
        assert_eq!(
            a,
            json!({"iam": {
                "accessKey": "AKIAIOSFODNN7EXAMPLE",
                "accountId": "123456789012",
                "callerId": "AIDAIOSFODNN7EXAMPLE",
                "cognitoIdentity": null,
                "principalOrgId": null,
                "userArn": "arn:aws:iam::123456789012:user/AKIAIOSFODNN7EXAMPLE",
                "userId": "AIDAIOSFODNN7EXAMPLE",
            }})
        );
        let moto = authorizer(
            &signed_headers("AWS4-HMAC-SHA256 Credential=testing/20261206/x"),
            "1",
        );
        assert_eq!(moto["iam"]["accessKey"], "testing");
        assert_eq!(moto["iam"]["userId"], "AIDAING");
    }
}
