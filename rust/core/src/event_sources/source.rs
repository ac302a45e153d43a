//! Event source ARNs: their parts, and which service (SQS, Kinesis, DynamoDB Streams) a mapping reads.

/// Which AWS service an event source mapping reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// An SQS queue, `arn:aws:sqs:R:A:queue`.
    Sqs,
    /// A Kinesis data stream, `arn:aws:kinesis:R:A:stream/S`.
    Kinesis,
    /// A DynamoDB table's stream, `arn:aws:dynamodb:R:A:table/T/stream/LABEL`.
    DynamoDbStreams,
}

impl SourceKind {
    /// The kind of an event source ARN (`arn:aws:sqs:..`, `arn:aws:kinesis:..:stream/..`,
    /// `arn:aws:dynamodb:..:table/T/stream/..`), None for anything else (AWS answers
    /// "Unrecognized event source.", docs/reference.md §16).
    pub fn of_arn(arn: &str) -> Option<Self> {
        let parts = parse_arn(arn)?;
        if parts.region.is_empty() || parts.account.is_empty() {
            return None;
        }
        match parts.service {
            "sqs" if is_name(parts.resource) => Some(Self::Sqs),
            "kinesis" => parts
                .resource
                .strip_prefix("stream/")
                .filter(|name| is_name(name))
                .map(|_| Self::Kinesis),
            "dynamodb" if is_table_stream(parts.resource) => Some(Self::DynamoDbStreams),
            _ => None,
        }
    }
}

/// A non-empty name without a path separator (queue and stream names).
fn is_name(s: &str) -> bool {
    !s.is_empty() && !s.contains('/')
}

/// `table/<table>/stream/<label>` with non-empty table and label.
fn is_table_stream(resource: &str) -> bool {
    let Some(rest) = resource.strip_prefix("table/") else {
        return false;
    };
    match rest.split_once("/stream/") {
        Some((table, label)) => is_name(table) && !label.is_empty(),
        None => false,
    }
}

/// The parts of an ARN: `arn:<partition>:<service>:<region>:<account>:<resource>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arn<'a> {
    /// `aws`, `aws-cn`, `aws-us-gov`.
    pub partition: &'a str,
    /// `sqs`, `kinesis`, `dynamodb`, `lambda`, ...
    pub service: &'a str,
    /// The region, empty for global services.
    pub region: &'a str,
    /// The 12-digit account id, empty for some services.
    pub account: &'a str,
    /// Everything after the account, colons included (`function:f:1`, `table/T/stream/L`).
    pub resource: &'a str,
}

/// The parts of `arn`, or None when it is not `arn:` followed by five colon-separated
/// fields with a non-empty partition, service and resource.
pub fn parse_arn(arn: &str) -> Option<Arn<'_>> {
    let mut fields = arn.splitn(6, ':');
    if fields.next()? != "arn" {
        return None;
    }
    let parsed = Arn {
        partition: fields.next()?,
        service: fields.next()?,
        region: fields.next()?,
        account: fields.next()?,
        resource: fields.next()?,
    };
    let complete =
        !parsed.partition.is_empty() && !parsed.service.is_empty() && !parsed.resource.is_empty();
    complete.then_some(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_the_three_event_sources() {
        assert_eq!(
            SourceKind::of_arn("arn:aws:sqs:us-east-2:123456789012:my-queue"),
            Some(SourceKind::Sqs)
        );
        assert_eq!(
            SourceKind::of_arn("arn:aws:sqs:us-east-1:123456789012:q.fifo"),
            Some(SourceKind::Sqs)
        );
        assert_eq!(
            SourceKind::of_arn("arn:aws:kinesis:us-east-2:123456789012:stream/lambda-stream"),
            Some(SourceKind::Kinesis)
        );
        assert_eq!(
            SourceKind::of_arn(
                "arn:aws:dynamodb:us-east-1:123456789012:table/T/stream/2015-05-11T21:21:33.291"
            ),
            Some(SourceKind::DynamoDbStreams)
        );
    }

    #[test]
    fn anything_else_is_unrecognized() {
        for arn in [
            "",
            "my-queue",
            "arn:aws:sqs:us-east-1:123456789012:",
            "arn:aws:sqs::123456789012:q",
            "arn:aws:sqs:us-east-1::q",
            "arn:aws:kinesis:us-east-1:123456789012:q",
            "arn:aws:kinesis:us-east-1:123456789012:stream/",
            "arn:aws:dynamodb:us-east-1:123456789012:table/T",
            "arn:aws:dynamodb:us-east-1:123456789012:table/T/stream/",
            "arn:aws:kafka:us-east-1:123456789012:cluster/c/uuid",
            "arn:aws:lambda:us-east-1:123456789012:function:f",
            "urn:aws:sqs:us-east-1:123456789012:q",
        ] {
            assert_eq!(SourceKind::of_arn(arn), None, "{arn}");
        }
    }

    #[test]
    fn splits_an_arn_keeping_colons_in_the_resource() {
        let arn = parse_arn("arn:aws:lambda:us-east-1:123456789012:function:f:live");
        assert_eq!(
            arn,
            Some(Arn {
                partition: "aws",
                service: "lambda",
                region: "us-east-1",
                account: "123456789012",
                resource: "function:f:live",
            })
        );
        let stream = parse_arn(
            "arn:aws:dynamodb:us-east-1:123456789012:table/T/stream/2015-05-11T21:21:33.291",
        );
        assert_eq!(
            stream.map(|a| a.resource),
            Some("table/T/stream/2015-05-11T21:21:33.291")
        );
        let global = parse_arn("arn:aws:iam::123456789012:role/lambda-role");
        assert_eq!(
            global.map(|a| (a.region, a.resource)),
            Some(("", "role/lambda-role"))
        );
    }

    #[test]
    fn rejects_malformed_arns() {
        assert_eq!(parse_arn("arn:aws:sqs:us-east-1"), None);
        assert_eq!(parse_arn("arn::sqs:us-east-1:1:q"), None);
        assert_eq!(parse_arn("arn:aws::us-east-1:1:q"), None);
        assert_eq!(parse_arn("arn:aws:sqs:us-east-1:1:"), None);
        assert_eq!(parse_arn("ARN:aws:sqs:us-east-1:1:q"), None);
    }
}
