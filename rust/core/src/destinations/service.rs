//! Destinations that are AWS services named by ARN (docs/reference.md §16.5): an SQS queue
//! (SendMessage), an SNS topic (Publish), an EventBridge bus (PutEvents) and an S3 bucket
//! (PutObject), reached through [`AwsClient`], each delivery retried with backoff.

use std::time::Duration;

use bytes::Bytes;
use serde_json::json;

use crate::aws_client::{AwsClient, AwsError, Service};
use crate::event_sources::source::parse_arn;

/// Attempts of one delivery before it is given up (and logged, and counted).
const ATTEMPTS: u32 = 3;
/// The pause after the first failed attempt; doubled after each.
const FIRST_PAUSE: Duration = Duration::from_millis(500);

/// Whether `arn` names a service destination lambda-rie delivers to.
pub fn is_service_arn(arn: &str) -> bool {
    parse_arn(arn).is_some_and(|a| matches!(a.service, "sqs" | "sns" | "events" | "s3"))
}

/// What the record is about, for EventBridge's `DetailType` and S3's key.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    /// The function whose record it is.
    pub function_arn: &'a str,
    /// Whether it reports a success.
    pub success: bool,
    /// The S3 key's prefix: `aws/lambda/<mapping-or-function>/<shard>` (AWS's layout).
    pub key_prefix: &'a str,
}

/// Deliver `body` to the service `arn`, retrying; the last error when every attempt failed.
pub async fn send(
    client: &AwsClient,
    arn: &str,
    body: Bytes,
    about: Delivery<'_>,
) -> Result<(), AwsError> {
    let mut pause = FIRST_PAUSE;
    let mut attempt = 1;
    loop {
        match send_once(client, arn, body.clone(), about).await {
            Ok(()) => return Ok(()),
            Err(e) if attempt >= ATTEMPTS => return Err(e),
            Err(_) => {
                tokio::time::sleep(pause).await;
                pause *= 2;
                attempt += 1;
            }
        }
    }
}

async fn send_once(
    client: &AwsClient,
    arn: &str,
    body: Bytes,
    about: Delivery<'_>,
) -> Result<(), AwsError> {
    let a = parse_arn(arn).ok_or_else(|| AwsError::Transport(format!("{arn} is not an ARN")))?;
    let text = String::from_utf8_lossy(&body).into_owned();
    match a.service {
        "sqs" => {
            let url = client
                .json(
                    Service::Sqs,
                    a.region,
                    "GetQueueUrl",
                    &json!({"QueueName": a.resource, "QueueOwnerAWSAccountId": a.account}),
                )
                .await?;
            client
                .json(
                    Service::Sqs,
                    a.region,
                    "SendMessage",
                    &json!({"QueueUrl": url["QueueUrl"], "MessageBody": text}),
                )
                .await
                .map(drop)
        }
        "sns" => client.sns_publish(a.region, arn, &text).await.map(drop),
        "events" => {
            let detail_type = if about.success {
                "Lambda Function Invocation Result - Success"
            } else {
                "Lambda Function Invocation Result - Failure"
            };
            let answer = client
                .json(
                    Service::EventBridge,
                    a.region,
                    "PutEvents",
                    &json!({"Entries": [{
                        "Source": "lambda",
                        "DetailType": detail_type,
                        "Detail": text,
                        "Resources": [about.function_arn],
                        "EventBusName": arn,
                    }]}),
                )
                .await?;
            match answer["FailedEntryCount"].as_u64() {
                Some(n) if n > 0 => Err(AwsError::Transport(format!(
                    "PutEvents refused the record: {}",
                    answer["Entries"]
                ))),
                _ => Ok(()),
            }
        }
        "s3" => {
            let key = format!(
                "{}/{}-{}",
                about.key_prefix.trim_end_matches('/'),
                s3_time(crate::clock::epoch_ms()),
                uuid::Uuid::new_v4()
            );
            let region = if a.region.is_empty() {
                client.region()
            } else {
                a.region.to_owned()
            };
            client.s3_put_object(&region, a.resource, &key, body).await
        }
        other => Err(AwsError::Transport(format!(
            "{other} is not a destination service (sqs, sns, events, s3)"
        ))),
    }
}

/// `YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS` of an epoch time in ms (AWS's S3 key layout).
fn s3_time(ms: u64) -> String {
    let iso = crate::clock::iso8601(ms); // 2019-11-14T00:38:06.021Z
    let date = iso.get(..10).unwrap_or_default();
    let time = iso.get(11..19).unwrap_or_default().replace(':', ".");
    format!("{}/{date}T{time}", date.replace('-', "/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_arns_are_told_from_others() {
        assert!(is_service_arn("arn:aws:sqs:us-east-1:123456789012:q"));
        assert!(is_service_arn("arn:aws:sns:us-east-1:123456789012:t"));
        assert!(is_service_arn(
            "arn:aws:events:us-east-1:123456789012:event-bus/default"
        ));
        assert!(is_service_arn("arn:aws:s3:::bucket"));
        assert!(!is_service_arn("arn:aws:lambda:us-east-1:1:function:f"));
        assert!(!is_service_arn("http://example"));
    }

    #[test]
    fn s3_keys_carry_the_date_as_aws_lays_them_out() {
        // 2019-11-14T00:38:06.021Z
        assert_eq!(s3_time(1_573_691_886_021), "2019/11/14/2019-11-14T00.38.06");
    }
}
