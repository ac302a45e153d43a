//! Checks against a real moto server, started by each test from the `moto_server` named by
//! `LAMBDA_RIE_MOTO_SERVER` (`make test` sets it to the venv's; `pip install "moto[server]"`).
//! Without it the tests say so and pass: the suite's Python tests cover the same calls.

use std::collections::HashMap;

use bytes::Bytes;
use hyper::Method;
use serde_json::json;

use super::{AwsClient, AwsError, AwsSettings, Call, Service, CALL_TIMEOUT};

/// A name no earlier run against the same server used.
fn fresh(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// A moto server on a free loopback port, killed when dropped.
struct Moto {
    child: std::process::Child,
    url: String,
}

impl Moto {
    /// Start `$LAMBDA_RIE_MOTO_SERVER -H 127.0.0.1 -p PORT` and wait until it answers; none
    /// when the variable is not set.
    fn start() -> Option<Self> {
        let Ok(program) = std::env::var("LAMBDA_RIE_MOTO_SERVER") else {
            eprintln!("LAMBDA_RIE_MOTO_SERVER is not set: moto checks not run");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = std::process::Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("moto_server starts");
        let moto = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        // NOTE: ready when it answers HTTP, not when its port accepts: a call sent between the
        // two was reset.
        while !answers(port) {
            assert!(
                std::time::Instant::now() < deadline,
                "moto_server did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        Some(moto)
    }

    /// A client of this server with dummy credentials.
    fn client(&self) -> AwsClient {
        let env = HashMap::from([
            ("AWS_ACCESS_KEY_ID".to_owned(), "testing".to_owned()),
            ("AWS_SECRET_ACCESS_KEY".to_owned(), "testing".to_owned()),
        ]);
        AwsClient::with_env(
            &AwsSettings {
                endpoint_url: Some(self.url.clone()),
            },
            env,
        )
    }
}

/// Whether a moto server on `port` answers `GET /moto-api/` with 200.
fn answers(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(2)));
    let request = "GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    let mut head = [0u8; 12];
    stream.write_all(request.as_bytes()).is_ok()
        && stream.read_exact(&mut head).is_ok()
        && head.ends_with(b" 200")
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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
async fn moto_sqs_round_trip() {
    let Some(moto) = Moto::start() else { return };
    let aws = moto.client();
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
async fn moto_kinesis_round_trip() {
    let Some(moto) = Moto::start() else { return };
    let aws = moto.client();
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
async fn moto_dynamodb_streams_describe_and_read() {
    let Some(moto) = Moto::start() else { return };
    let aws = moto.client();
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
async fn moto_sns_publish() {
    let Some(moto) = Moto::start() else { return };
    let aws = moto.client();
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
async fn moto_s3_put_object_and_eventbridge_put_events() {
    let Some(moto) = Moto::start() else { return };
    let aws = moto.client();
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
