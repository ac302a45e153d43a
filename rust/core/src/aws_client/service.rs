//! The AWS services lambda-rie calls and how each is addressed on the wire: signing name,
//! host prefix, JSON-protocol content type and target prefix (docs/reference.md §16).

/// The AWS services lambda-rie calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Service {
    /// Amazon SQS (JSON protocol, query-compatible errors).
    Sqs,
    /// Amazon Kinesis Data Streams.
    Kinesis,
    /// Amazon DynamoDB Streams (signed as `dynamodb`).
    DynamoDbStreams,
    /// Amazon SNS (query protocol).
    Sns,
    /// Amazon EventBridge.
    EventBridge,
    /// Amazon S3 (REST-XML).
    S3,
}

impl Service {
    /// The SigV4 signing name (the service of the credential scope).
    pub(super) fn signing_name(self) -> &'static str {
        match self {
            Self::Sqs => "sqs",
            Self::Kinesis => "kinesis",
            Self::DynamoDbStreams => "dynamodb",
            Self::Sns => "sns",
            Self::EventBridge => "events",
            Self::S3 => "s3",
        }
    }

    /// The first labels of the service's AWS host name.
    pub(crate) fn endpoint_prefix(self) -> &'static str {
        match self {
            Self::DynamoDbStreams => "streams.dynamodb",
            Self::EventBridge => "events",
            other => other.signing_name(),
        }
    }

    /// `(Content-Type, X-Amz-Target prefix)` of a JSON-protocol service.
    pub(super) fn json_protocol(self) -> Option<(&'static str, &'static str)> {
        match self {
            Self::Sqs => Some(("application/x-amz-json-1.0", "AmazonSQS")),
            Self::Kinesis => Some(("application/x-amz-json-1.1", "Kinesis_20131202")),
            Self::DynamoDbStreams => {
                Some(("application/x-amz-json-1.0", "DynamoDBStreams_20120810"))
            }
            Self::EventBridge => Some(("application/x-amz-json-1.1", "AWSEvents")),
            Self::Sns | Self::S3 => None,
        }
    }
}
