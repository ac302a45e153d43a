//! The calls a mapping makes to its queue: its URL, the checks of a new mapping, deletes.

use serde_json::{json, Value};

use super::MAX_RECEIVE;
use crate::aws::ServiceError;
use crate::aws_client::{AwsClient, AwsError, Service};
use crate::config::LogLevel;
use crate::event_sources::source::parse_arn;

/// A queue named by its ARN.
pub(super) struct Queue {
    pub(super) name: String,
    pub(super) account: String,
    pub(super) region: String,
}

impl Queue {
    pub(super) fn of(arn: &str) -> Option<Self> {
        let a = parse_arn(arn)?;
        Some(Self {
            name: a.resource.to_owned(),
            account: a.account.to_owned(),
            region: a.region.to_owned(),
        })
    }

    pub(super) async fn url(&self, client: &AwsClient) -> Result<String, AwsError> {
        let answer = client
            .json(
                Service::Sqs,
                &self.region,
                "GetQueueUrl",
                &json!({"QueueName": self.name, "QueueOwnerAWSAccountId": self.account}),
            )
            .await?;
        Ok(answer["QueueUrl"].as_str().unwrap_or_default().to_owned())
    }
}

/// AWS's text for a queue call that failed at CreateEventSourceMapping (and, here, in
/// LastProcessingResult).
pub(super) fn queue_error(e: &AwsError) -> String {
    match e {
        AwsError::Service { code, message, .. } => format!(
            "Error occurred while ReceiveMessage. SQS Error Code: {code}. SQS Error Message: {message}"
        ),
        other => format!("Error occurred while ReceiveMessage: {other}"),
    }
}

/// Check the queue of a new mapping: it exists and its visibility timeout is at least the
/// function's timeout. A queue endpoint that does not answer is accepted (logged).
pub async fn check_queue(
    client: &AwsClient,
    arn: &str,
    function_timeout_s: u32,
) -> Result<(), ServiceError> {
    let queue = Queue::of(arn)
        .ok_or_else(|| ServiceError::invalid_parameter("Unrecognized event source."))?;
    let attributes = async {
        let url = queue.url(client).await?;
        client
            .json(
                Service::Sqs,
                &queue.region,
                "GetQueueAttributes",
                &json!({"QueueUrl": url, "AttributeNames": ["VisibilityTimeout"]}),
            )
            .await
    };
    match attributes.await {
        Ok(a) => {
            let visibility: u32 = a["Attributes"]["VisibilityTimeout"]
                .as_str()
                .and_then(|v| v.parse().ok())
                .unwrap_or(30);
            if visibility < function_timeout_s {
                return Err(ServiceError::invalid_parameter(&format!(
                    "Queue visibility timeout: {visibility} seconds is less than Function timeout: {function_timeout_s} seconds"
                )));
            }
            Ok(())
        }
        Err(e @ AwsError::Service { .. }) => Err(ServiceError::invalid_parameter(&queue_error(&e))),
        Err(e) => {
            crate::logs::message(
                LogLevel::Warn,
                &format!("queue {arn} cannot be checked now ({e}); its mapping will retry"),
            );
            Ok(())
        }
    }
}

/// Delete `records` from the queue, ten per call; failures are logged (the messages come back).
pub(super) async fn delete(
    client: &AwsClient,
    region: &str,
    url: &str,
    uuid: &str,
    records: &[Value],
) {
    for chunk in records.chunks(MAX_RECEIVE) {
        let entries: Vec<Value> = chunk
            .iter()
            .enumerate()
            .map(|(i, r)| json!({"Id": i.to_string(), "ReceiptHandle": r["receiptHandle"]}))
            .collect();
        let answer = client
            .json(
                Service::Sqs,
                region,
                "DeleteMessageBatch",
                &json!({"QueueUrl": url, "Entries": entries}),
            )
            .await;
        let failed = match answer {
            Ok(a) => a["Failed"].as_array().map_or(0, Vec::len),
            Err(e) => {
                crate::event_sources::log(
                    LogLevel::Warn,
                    uuid,
                    &format!("DeleteMessageBatch: {e}"),
                );
                chunk.len()
            }
        };
        if failed > 0 {
            crate::event_sources::log(
                LogLevel::Warn,
                uuid,
                &format!("{failed} message(s) not deleted; they will be received again"),
            );
        }
    }
}
