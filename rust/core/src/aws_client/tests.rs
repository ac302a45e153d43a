//! End-to-end checks of the client against a tiny in-test HTTP server: the request line,
//! headers and SigV4 scope it sends, the answers it parses, and its connection reuse.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use tokio::net::TcpListener;

use super::request::amz_date;
use super::test_server::{client, ok_json, serve, Canned, Seen};
use super::{AwsClient, AwsError, AwsSettings, Service};

/// Check the SigV4 header: scope of today's date (the one `x-amz-date` names), region and
/// service, and the headers it signs.
fn assert_signed(seen: &Seen, region: &str, service: &str, signed: &str) {
    let date = seen.headers.get("x-amz-date").expect("x-amz-date sent");
    assert_eq!(date.len(), 16, "{date}");
    let today = amz_date(crate::clock::epoch_ms());
    assert_eq!(&date[..8], &today[..8], "x-amz-date is now");
    let auth = seen
        .headers
        .get("authorization")
        .expect("authorization sent");
    let prefix = format!(
        "AWS4-HMAC-SHA256 Credential=AKIDTEST/{}/{region}/{service}/aws4_request, SignedHeaders={signed}, Signature=",
        &date[..8]
    );
    assert!(auth.starts_with(&prefix), "{auth}\n wanted {prefix}");
    let signature = &auth[prefix.len()..];
    assert!(
        signature.len() == 64 && signature.bytes().all(|b| b.is_ascii_hexdigit()),
        "{signature}"
    );
}

#[tokio::test]
async fn sqs_json_call_is_signed_targeted_and_parsed() {
    let (url, mut seen, _) =
        serve(ok_json(r#"{"MessageId":"m-1","MD5OfMessageBody":"abc"}"#)).await;
    let aws = client(&url, &[]);
    let body = serde_json::json!({"QueueUrl": "http://q/1", "MessageBody": "hi"});
    let answer = aws
        .json(Service::Sqs, &aws.region(), "SendMessage", &body)
        .await
        .expect("answer");
    assert_eq!(
        answer,
        serde_json::json!({"MessageId": "m-1", "MD5OfMessageBody": "abc"})
    );
    let request = seen.recv().await.expect("request seen");
    assert_eq!(request.line, "POST / HTTP/1.1");
    assert_eq!(request.headers["x-amz-target"], "AmazonSQS.SendMessage");
    assert_eq!(
        request.headers["content-type"],
        "application/x-amz-json-1.0"
    );
    assert_eq!(request.headers["host"], url.trim_start_matches("http://"));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&request.body).ok(),
        Some(body)
    );
    assert_signed(
        &request,
        "eu-west-1",
        "sqs",
        "content-type;host;x-amz-date;x-amz-target",
    );
}

#[tokio::test]
async fn dynamodb_streams_signs_as_dynamodb_and_connections_are_reused() {
    let (url, mut seen, accepted) = serve(ok_json(r#"{"StreamDescription":{"Shards":[]}}"#)).await;
    let aws = client(&url, &[("AWS_SESSION_TOKEN", "tok")]);
    let body = serde_json::json!({"StreamArn": "arn:aws:dynamodb:us-east-2:1:table/t/stream/x"});
    for _ in 0..3 {
        let answer = aws
            .json(
                Service::DynamoDbStreams,
                "us-east-2",
                "DescribeStream",
                &body,
            )
            .await;
        assert_eq!(
            answer.expect("answer")["StreamDescription"]["Shards"],
            serde_json::json!([])
        );
    }
    let request = seen.recv().await.expect("request seen");
    assert_eq!(
        request.headers["x-amz-target"],
        "DynamoDBStreams_20120810.DescribeStream"
    );
    assert_eq!(request.headers["x-amz-security-token"], "tok");
    assert_signed(
        &request,
        "us-east-2",
        "dynamodb",
        "content-type;host;x-amz-date;x-amz-security-token;x-amz-target",
    );
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "three calls, one pooled connection"
    );
}

#[tokio::test]
async fn sqs_errors_carry_the_query_error_code() {
    let canned = Canned {
        status: "400 Bad Request",
        headers: vec![(
            "x-amzn-query-error",
            "AWS.SimpleQueueService.NonExistentQueue;Sender",
        )],
        body: r#"{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"The specified queue does not exist."}"#,
    };
    let (url, _seen, _) = serve(canned).await;
    let err = client(&url, &[])
        .json(
            Service::Sqs,
            "us-east-1",
            "GetQueueUrl",
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(
        err,
        Err(AwsError::Service {
            status: 400,
            code: "AWS.SimpleQueueService.NonExistentQueue".into(),
            message: "The specified queue does not exist.".into(),
        })
    );
}

#[tokio::test]
async fn kinesis_uses_json_1_1_and_its_target_prefix() {
    let (url, mut seen, _) = serve(ok_json(
        r#"{"Shards":[{"ShardId":"shardId-000000000000"}]}"#,
    ))
    .await;
    let aws = client(&url, &[]);
    let answer = aws
        .json(
            Service::Kinesis,
            "eu-west-1",
            "ListShards",
            &serde_json::json!({"StreamName": "s"}),
        )
        .await;
    assert_eq!(
        answer.expect("answer")["Shards"][0]["ShardId"],
        "shardId-000000000000"
    );
    let request = seen.recv().await.expect("request seen");
    assert_eq!(
        request.headers["x-amz-target"],
        "Kinesis_20131202.ListShards"
    );
    assert_eq!(
        request.headers["content-type"],
        "application/x-amz-json-1.1"
    );
    assert_signed(
        &request,
        "eu-west-1",
        "kinesis",
        "content-type;host;x-amz-date;x-amz-target",
    );
}

#[tokio::test]
async fn sns_publish_posts_the_form_and_reads_the_message_id() {
    let canned = Canned {
        status: "200 OK",
        headers: vec![("content-type", "text/xml")],
        body: "<PublishResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><PublishResult>\
               <MessageId>5f1c0c4e-0000-4000-8000-000000000001</MessageId></PublishResult></PublishResponse>",
    };
    let (url, mut seen, _) = serve(canned).await;
    let arn = "arn:aws:sns:eu-west-1:123456789012:topic";
    let id = client(&url, &[])
        .sns_publish("eu-west-1", arn, "{\"a\": 1}&b")
        .await;
    assert_eq!(id.as_deref(), Ok("5f1c0c4e-0000-4000-8000-000000000001"));
    let request = seen.recv().await.expect("request seen");
    assert_eq!(request.line, "POST / HTTP/1.1");
    assert_eq!(
        request.body,
        "Action=Publish&Version=2010-03-31&TopicArn=arn%3Aaws%3Asns%3Aeu-west-1%3A123456789012%3Atopic\
         &Message=%7B%22a%22%3A%201%7D%26b"
    );
    assert_signed(&request, "eu-west-1", "sns", "content-type;host;x-amz-date");
}

#[tokio::test]
async fn s3_put_object_is_path_style_with_a_signed_payload_hash() {
    let canned = Canned {
        status: "200 OK",
        headers: vec![("etag", "\"x\"")],
        body: "",
    };
    let (url, mut seen, _) = serve(canned).await;
    let put = client(&url, &[])
        .s3_put_object(
            "eu-west-1",
            "my-bucket",
            "dir/a b.json",
            Bytes::from_static(b"{}"),
        )
        .await;
    assert_eq!(put, Ok(()));
    let request = seen.recv().await.expect("request seen");
    assert_eq!(request.line, "PUT /my-bucket/dir/a%20b.json HTTP/1.1");
    assert_eq!(request.body, "{}");
    assert_eq!(
        request.headers["x-amz-content-sha256"],
        "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    );
    assert_signed(
        &request,
        "eu-west-1",
        "s3",
        "host;x-amz-content-sha256;x-amz-date",
    );
}

#[tokio::test]
async fn s3_errors_are_read_from_xml() {
    let canned = Canned {
        status: "404 Not Found",
        headers: vec![("content-type", "application/xml")],
        body: "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchBucket</Code>\
               <Message>The specified bucket does not exist</Message></Error>",
    };
    let (url, _seen, _) = serve(canned).await;
    let put = client(&url, &[])
        .s3_put_object("eu-west-1", "nope", "k", Bytes::new())
        .await;
    assert_eq!(
        put,
        Err(AwsError::Service {
            status: 404,
            code: "NoSuchBucket".into(),
            message: "The specified bucket does not exist".into(),
        })
    );
}

#[tokio::test]
async fn other_schemes_and_missing_credentials_fail_before_sending() {
    let aws = client("ftp://sqs.eu-west-1.amazonaws.com", &[]);
    let call = aws
        .json(
            Service::Sqs,
            "eu-west-1",
            "ListQueues",
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(
        call,
        Err(AwsError::Transport(
            "bad endpoint URL \"ftp://sqs.eu-west-1.amazonaws.com\": not http:// or https://"
                .to_owned()
        ))
    );
    let env = HashMap::from([("HOME".to_owned(), "/nonexistent-home".to_owned())]);
    let bare = AwsClient::with_env(
        &AwsSettings {
            endpoint_url: Some("http://127.0.0.1:9".into()),
        },
        env,
    );
    let call = bare
        .json(
            Service::Sqs,
            "us-east-1",
            "ListQueues",
            &serde_json::json!({}),
        )
        .await;
    assert!(
        matches!(call, Err(AwsError::Credentials(ref m)) if m.contains("AWS_ACCESS_KEY_ID")),
        "{call:?}"
    );
}

#[tokio::test]
async fn a_closed_port_is_a_transport_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    drop(listener);
    let call = client(&url, &[])
        .json(
            Service::Kinesis,
            "eu-west-1",
            "ListShards",
            &serde_json::json!({}),
        )
        .await;
    assert!(
        matches!(call, Err(AwsError::Transport(ref m)) if m.starts_with(&url)),
        "{call:?}"
    );
}

#[test]
fn endpoint_and_region_come_from_settings_and_env() {
    let aws = client("http://127.0.0.1:5055/", &[]);
    assert_eq!(aws.region(), "eu-west-1");
    assert_eq!(
        aws.endpoint(Service::EventBridge, "us-east-1"),
        "http://127.0.0.1:5055"
    );
    let env = HashMap::from([(
        "AWS_ENDPOINT_URL_SQS".to_owned(),
        "http://localhost:4566".to_owned(),
    )]);
    let aws = AwsClient::with_env(&AwsSettings::default(), env);
    assert_eq!(aws.region(), "us-east-1");
    assert_eq!(
        aws.endpoint(Service::Sqs, "us-east-1"),
        "http://localhost:4566"
    );
    assert_eq!(
        aws.endpoint(Service::Kinesis, "us-west-2"),
        "https://kinesis.us-west-2.amazonaws.com"
    );
    assert_eq!(amz_date(1_440_938_160_000), "20150830T123600Z");
}
