//! HTTPS checks of the client against an in-test TLS server with a self-signed certificate:
//! trusted through `AWS_CA_BUNDLE`, refused without it, and the errors of an unusable bundle.

use std::path::PathBuf;
use std::sync::atomic::Ordering;

use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

use super::test_server::{client, ok_json, serve_tls};
use super::{AwsClient, AwsError, Service};

/// A temporary file holding `text`, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn with(text: &str) -> Self {
        let path = std::env::temp_dir().join(format!("lambda-rie-ca-{}.pem", uuid::Uuid::new_v4()));
        std::fs::write(&path, text).expect("write temp file");
        Self(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().expect("utf-8 temp path")
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A TLS server for `localhost` and 127.0.0.1 answering SQS SendMessage; its port, its
/// certificate's PEM and the connections it accepted.
async fn sqs_over_tls() -> (
    u16,
    String,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
    tokio::sync::mpsc::UnboundedReceiver<super::test_server::Seen>,
) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .expect("self-signed certificate");
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let canned = ok_json(r#"{"MessageId":"m-tls","MD5OfMessageBody":"abc"}"#);
    let (port, seen, accepted) = serve_tls(canned, certified.cert.der().clone(), key).await;
    (port, certified.cert.pem(), accepted, seen)
}

async fn send_message(aws: &AwsClient) -> Result<serde_json::Value, AwsError> {
    let body = serde_json::json!({"QueueUrl": "https://q/1", "MessageBody": "hi"});
    aws.json(Service::Sqs, "eu-west-1", "SendMessage", &body)
        .await
}

#[tokio::test]
async fn https_endpoint_trusted_through_aws_ca_bundle_answers_over_one_connection() {
    let (port, pem, accepted, mut seen) = sqs_over_tls().await;
    let bundle = TempFile::with(&pem);
    let aws = client(
        &format!("https://localhost:{port}"),
        &[("AWS_CA_BUNDLE", bundle.path())],
    );
    for _ in 0..2 {
        let answer = send_message(&aws).await.expect("answer over TLS");
        assert_eq!(
            answer,
            serde_json::json!({"MessageId": "m-tls", "MD5OfMessageBody": "abc"})
        );
    }
    let first = seen.recv().await.expect("request seen");
    assert_eq!(first.line, "POST / HTTP/1.1");
    assert_eq!(first.headers["host"], format!("localhost:{port}"));
    assert_eq!(first.headers["x-amz-target"], "AmazonSQS.SendMessage");
    assert_eq!(
        first.body,
        r#"{"MessageBody":"hi","QueueUrl":"https://q/1"}"#
    );
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "pooled TLS connection");
}

#[tokio::test]
async fn https_endpoint_with_an_untrusted_certificate_is_a_transport_error_naming_it() {
    let (port, _pem, _accepted, mut seen) = sqs_over_tls().await;
    let endpoint = format!("https://localhost:{port}");
    let call = send_message(&client(&endpoint, &[])).await;
    assert_eq!(
        call,
        Err(AwsError::Transport(format!(
            "{endpoint}: TLS certificate not trusted (invalid peer certificate: UnknownIssuer); \
             set AWS_CA_BUNDLE to a PEM file of the CA certificates that sign it"
        )))
    );
    assert!(seen.try_recv().is_err(), "no request past the handshake");
}

#[tokio::test]
async fn an_unusable_ca_bundle_is_a_transport_error_naming_the_file() {
    let (port, _pem, accepted, _seen) = sqs_over_tls().await;
    let endpoint = format!("https://localhost:{port}");
    let missing = "/nonexistent-dir/ca.pem";
    assert_eq!(
        send_message(&client(&endpoint, &[("AWS_CA_BUNDLE", missing)])).await,
        Err(AwsError::Transport(format!(
            "AWS_CA_BUNDLE {missing}: cannot be read: No such file or directory (os error 2)"
        )))
    );
    let empty = TempFile::with("not a certificate\n");
    assert_eq!(
        send_message(&client(&endpoint, &[("AWS_CA_BUNDLE", empty.path())])).await,
        Err(AwsError::Transport(format!(
            "AWS_CA_BUNDLE {}: holds no PEM certificate",
            empty.path()
        )))
    );
    let broken = TempFile::with("-----BEGIN CERTIFICATE-----\n%%%%\n-----END CERTIFICATE-----\n");
    let call = send_message(&client(&endpoint, &[("AWS_CA_BUNDLE", broken.path())])).await;
    let prefix = format!("AWS_CA_BUNDLE {}: is not valid PEM: ", broken.path());
    assert!(
        matches!(&call, Err(AwsError::Transport(m)) if m.starts_with(&prefix)),
        "{call:?}"
    );
    assert_eq!(accepted.load(Ordering::SeqCst), 0, "nothing sent");
}
