//! The shards of a Kinesis stream or a DynamoDB stream and their records, through each
//! service's JSON protocol (docs/reference.md §16.3, §16.4): listing the shards, iterators,
//! GetRecords, and the record turned into Lambda's event record.

use serde_json::{json, Value};

use super::source::parse_arn;
use super::stream_records;
use crate::aws_client::{AwsClient, AwsError, Service};

/// One shard: its id, its parent (read first) and whether it is closed (resharded).
#[derive(Debug, Clone)]
pub struct Shard {
    /// `shardId-000000000000`.
    pub id: String,
    /// The shard it was split or merged from.
    pub parent: Option<String>,
    /// The other parent of a merge.
    pub adjacent_parent: Option<String>,
}

/// A record read from a shard, ready for a batch.
#[derive(Debug, Clone)]
pub struct StreamRecord {
    /// The event record (Lambda's shape).
    pub event: Value,
    /// Its sequence number (the checkpoint and `itemIdentifier`).
    pub sequence: String,
    /// When it arrived in the stream, epoch ms.
    pub arrival_ms: i64,
}

/// A stream named by its ARN.
#[derive(Debug, Clone)]
pub struct Stream {
    /// The stream's ARN.
    pub arn: String,
    /// Its region.
    pub region: String,
    /// Kinesis: the stream name; DynamoDB: none (calls name the ARN).
    kinesis_name: Option<String>,
}

/// What GetRecords answered.
pub struct Page {
    /// The records, in order.
    pub records: Vec<StreamRecord>,
    /// The iterator of the next call; none once a closed shard is read to its end.
    pub next: Option<String>,
}

impl Stream {
    /// The stream of `arn` (`arn:aws:kinesis:..:stream/NAME` or `..:table/T/stream/LABEL`).
    pub fn of(arn: &str) -> Option<Self> {
        let a = parse_arn(arn)?;
        let kinesis_name = match a.service {
            "kinesis" => Some(a.resource.strip_prefix("stream/")?.to_owned()),
            "dynamodb" => None,
            _ => return None,
        };
        Some(Self {
            arn: arn.to_owned(),
            region: a.region.to_owned(),
            kinesis_name,
        })
    }

    fn service(&self) -> Service {
        if self.kinesis_name.is_some() {
            Service::Kinesis
        } else {
            Service::DynamoDbStreams
        }
    }

    /// The stream's name in a call: `StreamName` (Kinesis) or `StreamArn` (DynamoDB).
    fn named(&self, mut body: Value) -> Value {
        match &self.kinesis_name {
            Some(name) => body["StreamName"] = json!(name),
            None => body["StreamArn"] = json!(self.arn),
        }
        body
    }

    async fn call(&self, client: &AwsClient, op: &str, body: Value) -> Result<Value, AwsError> {
        client.json(self.service(), &self.region, op, &body).await
    }

    /// Every shard of the stream, open and closed.
    pub async fn shards(&self, client: &AwsClient) -> Result<Vec<Shard>, AwsError> {
        let mut shards = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let (answer, list) = if self.kinesis_name.is_some() {
                let body = match &token {
                    Some(t) => json!({ "NextToken": t }),
                    None => self.named(json!({})),
                };
                let a = self.call(client, "ListShards", body).await?;
                let list = a["Shards"].clone();
                (a, list)
            } else {
                let mut body = self.named(json!({}));
                if let Some(t) = &token {
                    body["ExclusiveStartShardId"] = json!(t);
                }
                let a = self.call(client, "DescribeStream", body).await?;
                let list = a["StreamDescription"]["Shards"].clone();
                (a, list)
            };
            for s in list.as_array().into_iter().flatten() {
                let text = |k: &str| s[k].as_str().map(str::to_owned);
                shards.push(Shard {
                    id: text("ShardId").unwrap_or_default(),
                    parent: text("ParentShardId"),
                    adjacent_parent: text("AdjacentParentShardId"),
                });
            }
            token = answer["NextToken"]
                .as_str()
                .or_else(|| answer["StreamDescription"]["LastEvaluatedShardId"].as_str())
                .map(str::to_owned);
            if token.is_none() {
                return Ok(shards);
            }
        }
    }

    /// An iterator of `shard`: after `checkpoint` when there is one, else at the mapping's
    /// starting position.
    pub async fn iterator(
        &self,
        client: &AwsClient,
        shard: &str,
        checkpoint: Option<&str>,
        position: &str,
        timestamp: Option<f64>,
    ) -> Result<String, AwsError> {
        let mut body = self.named(json!({ "ShardId": shard }));
        let sequence_key = if self.kinesis_name.is_some() {
            "StartingSequenceNumber"
        } else {
            "SequenceNumber"
        };
        if let Some(seq) = checkpoint {
            body["ShardIteratorType"] = json!("AFTER_SEQUENCE_NUMBER");
            body[sequence_key] = json!(seq);
        } else {
            body["ShardIteratorType"] = json!(position);
            if let Some(t) = timestamp.filter(|_| position == "AT_TIMESTAMP") {
                body["Timestamp"] = json!(t);
            }
        }
        let answer = self.call(client, "GetShardIterator", body).await?;
        Ok(answer["ShardIterator"]
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// Up to `limit` records from `iterator`, as event records of `shard`.
    pub async fn records(
        &self,
        client: &AwsClient,
        shard: &str,
        iterator: &str,
        limit: usize,
        role_arn: &str,
    ) -> Result<Page, AwsError> {
        // NOTE: GetRecords takes at most 10,000 (Kinesis) and 1,000 (DynamoDB) records.
        let cap = if self.kinesis_name.is_some() {
            10_000
        } else {
            1_000
        };
        let body = json!({ "ShardIterator": iterator, "Limit": limit.clamp(1, cap) });
        let answer = self.call(client, "GetRecords", body).await?;
        let records = answer["Records"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| self.record(r, shard, role_arn))
            .collect();
        Ok(Page {
            records,
            next: answer["NextShardIterator"].as_str().map(str::to_owned),
        })
    }

    fn record(&self, r: &Value, shard: &str, role_arn: &str) -> StreamRecord {
        if self.kinesis_name.is_some() {
            StreamRecord {
                event: stream_records::kinesis_record(r, shard, &self.arn, &self.region, role_arn),
                sequence: r["SequenceNumber"].as_str().unwrap_or_default().to_owned(),
                arrival_ms: (r["ApproximateArrivalTimestamp"].as_f64().unwrap_or(0.0) * 1000.0)
                    as i64,
            }
        } else {
            let d = &r["dynamodb"];
            StreamRecord {
                event: stream_records::dynamodb_record(r, &self.arn, &self.region),
                sequence: d["SequenceNumber"].as_str().unwrap_or_default().to_owned(),
                arrival_ms: (d["ApproximateCreationDateTime"].as_f64().unwrap_or(0.0) * 1000.0)
                    as i64,
            }
        }
    }

    /// Whether `e` says the stream itself is missing.
    pub fn is_missing(e: &AwsError) -> bool {
        e.code() == Some("ResourceNotFoundException")
    }

    /// Check a new mapping's stream exists: AWS's `Stream not found: <arn>` when it does not.
    pub async fn check(&self, client: &AwsClient) -> Result<(), crate::aws::ServiceError> {
        match self.shards(client).await {
            Err(e) if Self::is_missing(&e) => Err(crate::aws::ServiceError::invalid_parameter(
                &format!("Stream not found: {}", self.arn),
            )),
            _ => Ok(()),
        }
    }
}
