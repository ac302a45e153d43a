//! By-hand checks against a running moto server (ignored by default): start
//! `moto_server -H 127.0.0.1 -p 5077`, then
//! `LAMBDA_RIE_MOTO_URL=http://127.0.0.1:5077 cargo test -p lambda-rie-core moto -- --ignored`.

use std::collections::HashMap;

use bytes::Bytes;
use hyper::Method;
use serde_json::json;

use super::{AwsClient, AwsError, AwsSettings, Call, Service, CALL_TIMEOUT};

/// A name no earlier run against the same server used.
fn fresh(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

fn moto() -> AwsClient {
    let url =
        std::env::var("LAMBDA_RIE_MOTO_URL").unwrap_or_else(|_| "http://127.0.0.1:5077".to_owned());
    let env = HashMap::from([
        ("AWS_ACCESS_KEY_ID".to_owned(), "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY".to_owned(), "testing".to_owned()),
    ]);
    AwsClient::with_env(
        &AwsSettings {
            endpoint_url: Some(url),
        },
        env,
    )
}

/// A call outside the public API (DynamoDB itself, SNS CreateTopic, S3 CreateBucket) to set up.
async fn raw(
    aws: &AwsClient,
    service: Service,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> u16 {
    let call = Call {
        service,
        region: "us-east-1",
        method,
        path: path.to_owned(),
        headers: headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect(),
        body: Bytes::from(body.to_owned()),
        content_sha256: service == Service::S3,
        timeout: CALL_TIMEOUT,
    };
    aws.send(call).await.expect("moto answers").status
}

#[tokio::test]
#[ignore = "needs a moto server"]
async fn moto_sqs_round_trip() {
    let aws = moto();
    let queue = aws
        .json(
            Service::Sqs,
            "us-east-1",
            "CreateQueue",
            &json!({"QueueName": "rie-q"}),
        )
        .await
        .expect("create");
    let url = queue["QueueUrl"].as_str().expect("QueueUrl").to_owned();
    let sent = aws
        .json(
            Service::Sqs,
            "us-east-1",
            "SendMessage",
            &json!({"QueueUrl": url, "MessageBody": "hello"}),
        )
        .await;
    assert!(sent.expect("send")["MessageId"].is_string());
    let receive = json!({"QueueUrl": url, "WaitTimeSeconds": 1, "MessageSystemAttributeNames": ["All"], "MaxNumberOfMessages": 10});
    let got = aws
        .json(Service::Sqs, "us-east-1", "ReceiveMessage", &receive)
        .await
        .expect("receive");
    assert_eq!(got["Messages"][0]["Body"], "hello");
    let handle = got["Messages"][0]["ReceiptHandle"].clone();
    let deleted = aws
        .json(
            Service::Sqs,
            "us-east-1",
            "DeleteMessageBatch",
            &json!({"QueueUrl": url, "Entries": [{"Id": "0", "ReceiptHandle": handle}]}),
        )
        .await;
    assert_eq!(deleted.expect("delete")["Successful"][0]["Id"], "0");
    let missing = aws
        .json(
            Service::Sqs,
            "us-east-1",
            "GetQueueUrl",
            &json!({"QueueName": "nope"}),
        )
        .await;
    assert_eq!(
        missing.as_ref().err().and_then(AwsError::code),
        Some("AWS.SimpleQueueService.NonExistentQueue"),
        "{missing:?}"
    );
}

#[tokio::test]
#[ignore = "needs a moto server"]
async fn moto_kinesis_round_trip() {
    let aws = moto();
    let stream = fresh("rie-s");
    let name = json!({"StreamName": stream});
    aws.json(
        Service::Kinesis,
        "us-east-1",
        "CreateStream",
        &json!({"StreamName": stream, "ShardCount": 1}),
    )
    .await
    .expect("create");
    let put = json!({"StreamName": stream, "Data": "aGVsbG8=", "PartitionKey": "k"});
    aws.json(Service::Kinesis, "us-east-1", "PutRecord", &put)
        .await
        .expect("put");
    let shards = aws
        .json(Service::Kinesis, "us-east-1", "ListShards", &name)
        .await
        .expect("shards");
    let shard = shards["Shards"][0]["ShardId"].clone();
    let it = json!({"StreamName": stream, "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON"});
    let it = aws
        .json(Service::Kinesis, "us-east-1", "GetShardIterator", &it)
        .await
        .expect("iterator");
    let records = aws
        .json(
            Service::Kinesis,
            "us-east-1",
            "GetRecords",
            &json!({"ShardIterator": it["ShardIterator"]}),
        )
        .await;
    assert_eq!(records.expect("records")["Records"][0]["Data"], "aGVsbG8=");
    let missing = aws
        .json(
            Service::Kinesis,
            "us-east-1",
            "DescribeStream",
            &json!({"StreamName": "nope"}),
        )
        .await;
    assert_eq!(
        missing.as_ref().err().and_then(AwsError::code),
        Some("ResourceNotFoundException"),
        "{missing:?}"
    );
}

/// A DynamoDB table with a NEW_AND_OLD_IMAGES stream and one item put; its name.
async fn table_with_one_item(aws: &AwsClient) -> String {
    let name = fresh("rie-t");
    let table = json!({
        "TableName": name,
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
        "StreamSpecification": {"StreamEnabled": true, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    });
    let item = json!({"TableName": name, "Item": {"id": {"S": "1"}}});
    for (operation, body) in [("CreateTable", table), ("PutItem", item)] {
        let target = format!("DynamoDB_20120810.{operation}");
        let headers = [
            ("content-type", "application/x-amz-json-1.0"),
            ("x-amz-target", target.as_str()),
        ];
        let status = raw(
            aws,
            Service::DynamoDbStreams,
            Method::POST,
            "/",
            &headers,
            &body.to_string(),
        )
        .await;
        assert_eq!(status, 200, "{operation}");
    }
    name
}

#[tokio::test]
#[ignore = "needs a moto server"]
async fn moto_dynamodb_streams_describe_and_read() {
    let aws = moto();
    let name = table_with_one_item(&aws).await;
    let streams = aws
        .json(
            Service::DynamoDbStreams,
            "us-east-1",
            "ListStreams",
            &json!({"TableName": name}),
        )
        .await;
    let arn = streams.expect("streams")["Streams"][0]["StreamArn"].clone();
    let described = aws
        .json(
            Service::DynamoDbStreams,
            "us-east-1",
            "DescribeStream",
            &json!({"StreamArn": arn}),
        )
        .await;
    let shard = described.expect("describe")["StreamDescription"]["Shards"][0]["ShardId"].clone();
    let it = json!({"StreamArn": arn, "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON"});
    let it = aws
        .json(
            Service::DynamoDbStreams,
            "us-east-1",
            "GetShardIterator",
            &it,
        )
        .await
        .expect("iterator");
    let records = aws
        .json(
            Service::DynamoDbStreams,
            "us-east-1",
            "GetRecords",
            &json!({"ShardIterator": it["ShardIterator"]}),
        )
        .await;
    assert_eq!(
        records.expect("records")["Records"][0]["eventName"],
        "INSERT"
    );
}

#[tokio::test]
#[ignore = "needs a moto server"]
async fn moto_sns_publish() {
    let aws = moto();
    let form = [(
        "content-type",
        "application/x-www-form-urlencoded; charset=utf-8",
    )];
    assert_eq!(
        raw(
            &aws,
            Service::Sns,
            Method::POST,
            "/",
            &form,
            "Action=CreateTopic&Version=2010-03-31&Name=rie-topic"
        )
        .await,
        200
    );
    let id = aws
        .sns_publish(
            "us-east-1",
            "arn:aws:sns:us-east-1:123456789012:rie-topic",
            "{\"a\": \"b&c\"}",
        )
        .await;
    assert!(id.as_ref().is_ok_and(|id| id.len() == 36), "{id:?}");
    let missing = aws
        .sns_publish("us-east-1", "arn:aws:sns:us-east-1:123456789012:nope", "x")
        .await;
    assert_eq!(
        missing.as_ref().err().and_then(AwsError::code),
        Some("NotFound"),
        "{missing:?}"
    );
}

#[tokio::test]
#[ignore = "needs a moto server"]
async fn moto_s3_put_object_and_eventbridge_put_events() {
    let aws = moto();
    assert_eq!(
        raw(&aws, Service::S3, Method::PUT, "/rie-bucket", &[], "").await,
        200
    );
    let put = aws
        .s3_put_object(
            "us-east-1",
            "rie-bucket",
            "dir/a b.json",
            Bytes::from_static(b"{\"x\":1}"),
        )
        .await;
    assert_eq!(put, Ok(()));
    let nobucket = aws
        .s3_put_object("us-east-1", "no-such-bucket", "k", Bytes::new())
        .await;
    assert_eq!(
        nobucket.as_ref().err().and_then(AwsError::code),
        Some("NoSuchBucket"),
        "{nobucket:?}"
    );
    let events = json!({"Entries": [{"Source": "rie.test", "DetailType": "t", "Detail": "{}"}]});
    let answer = aws
        .json(Service::EventBridge, "us-east-1", "PutEvents", &events)
        .await
        .expect("put events");
    assert_eq!(answer["FailedEntryCount"], 0);
}
