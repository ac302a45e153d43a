//! A small async client for the AWS services lambda-rie calls (event-source-mapping pollers,
//! destinations): SigV4-signed JSON-protocol calls, SNS Publish and S3 PutObject, to real AWS
//! or to any compatible endpoint, over one reused connection pool (docs/reference.md §16).
//!
//! `https://` endpoints (real AWS) are reached over rustls, trusting Mozilla's roots or the
//! PEM file `AWS_CA_BUNDLE` names; `http://` ones (moto, LocalStack) over plain TCP.

mod credentials;
mod endpoint;
mod errors;
#[cfg(test)]
mod moto_tests;
mod request;
mod service;
mod sigv4;
#[cfg(test)]
mod test_server;
#[cfg(test)]
mod tests;
mod tls;
#[cfg(test)]
mod tls_tests;

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Method;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::{TokioExecutor, TokioTimer};

use credentials::Credentials;
use endpoint::Endpoints;
pub use errors::AwsError;
use request::{Answer, Call};
pub use service::Service;

/// Endpoint settings given to the emulator (`--aws-endpoint-url`).
#[derive(Clone, Debug, Default)]
pub struct AwsSettings {
    /// Every AWS call goes to this URL (e.g. `http://127.0.0.1:5000`) when set.
    pub endpoint_url: Option<String>,
}

/// The time a call may take before it fails as [`AwsError::Transport`].
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

type PooledClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The state every clone of a client shares.
struct Inner {
    /// The pooled client, or why none could be made (an unusable `AWS_CA_BUNDLE`), which
    /// every call then answers; made at the first call.
    http: OnceLock<Result<PooledClient, AwsError>>,
    endpoints: Endpoints,
    region: String,
    /// The `AWS_*` and `HOME` variables as they were when the client was made.
    env: HashMap<String, String>,
    /// Credentials once found; the chain is read again on each call until then.
    credentials: OnceLock<Credentials>,
}

/// A client of AWS services; cheap to clone (the connection pool is shared).
#[derive(Clone)]
pub struct AwsClient {
    inner: Arc<Inner>,
}

impl AwsClient {
    /// A client reading the process environment now (region, endpoint variables); the
    /// credential chain is read at the first call and kept once found.
    pub fn new(settings: &AwsSettings) -> Self {
        let env = std::env::vars()
            .filter(|(name, value)| {
                (name.starts_with("AWS_") || name == "HOME") && !value.is_empty()
            })
            .collect();
        Self::with_env(settings, env)
    }

    /// A client reading `env` in place of the process environment.
    pub(crate) fn with_env(settings: &AwsSettings, env: HashMap<String, String>) -> Self {
        let lookup = |name: &str| env.get(name).cloned();
        let endpoints = Endpoints::new(settings.endpoint_url.as_deref(), &lookup);
        let region = credentials::resolve_region(&lookup);
        let inner = Inner {
            http: OnceLock::new(),
            endpoints,
            region,
            env,
            credentials: OnceLock::new(),
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The default region (AWS_REGION, AWS_DEFAULT_REGION, the profile's `region` in the
    /// config file, else "us-east-1").
    pub fn region(&self) -> String {
        self.inner.region.clone()
    }

    /// The endpoint a call to `service` in `region` goes to (for logs and errors).
    pub fn endpoint(&self, service: Service, region: &str) -> String {
        self.inner.endpoints.resolve(service, region)
    }

    /// The pooled client, made at the first call.
    // NOTE: not at start-up, where the TLS set-up (root store, provider) of the emulator's two
    // clients took about 1.5 ms of the 4-5 ms before the Invoke API listened.
    fn http(&self) -> Result<&PooledClient, AwsError> {
        let env = &self.inner.env;
        let made = self.inner.http.get_or_init(|| {
            // NOTE: pollers call the same endpoint every few seconds; a pooled keep-alive
            // connection saves a TCP (and TLS) handshake per call. Idle ones close after 30 s.
            tls::connector(&|name| env.get(name).cloned()).map(|connector| {
                Client::builder(TokioExecutor::new())
                    .pool_timer(TokioTimer::new())
                    .pool_idle_timeout(Duration::from_secs(30))
                    .build(connector)
            })
        });
        made.as_ref().map_err(Clone::clone)
    }

    /// The credentials of the chain, read now if not found before.
    fn credentials(&self) -> Result<Credentials, AwsError> {
        if let Some(found) = self.inner.credentials.get() {
            return Ok(found.clone());
        }
        let env = &self.inner.env;
        let found = credentials::resolve_credentials(&|name| env.get(name).cloned())
            .ok_or_else(|| AwsError::Credentials(credentials::MISSING_CREDENTIALS.to_owned()))?;
        Ok(self.inner.credentials.get_or_init(|| found).clone())
    }

    /// Sign and send a call; the answer whatever its status, or why there was none.
    async fn send(&self, call: Call<'_>) -> Result<Answer, AwsError> {
        let base = self.endpoint(call.service, call.region);
        let credentials = self.credentials()?;
        let timeout = call.timeout;
        let http = self.http()?;
        let request = request::signed(call, &credentials, &base)?;
        let exchange = async {
            let response = http.request(request).await.map_err(|e| {
                tls::untrusted_certificate(&e).unwrap_or_else(|| request::error_chain(&e))
            })?;
            let (parts, body) = response.into_parts();
            let body = body
                .collect()
                .await
                .map_err(|e| request::error_chain(&e))?
                .to_bytes();
            Ok::<_, String>(Answer {
                status: parts.status.as_u16(),
                headers: parts.headers,
                body,
            })
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(reason)) => Err(AwsError::Transport(format!("{base}: {reason}"))),
            Err(_) => Err(AwsError::Transport(format!(
                "{base}: no answer within {} s",
                timeout.as_secs()
            ))),
        }
    }

    /// POST an AWS JSON-protocol operation (`X-Amz-Target: <prefix>.<operation>`),
    /// SigV4-signed; the parsed JSON answer.
    pub async fn json(
        &self,
        service: Service,
        region: &str,
        operation: &str,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value, AwsError> {
        let Some((content_type, prefix)) = service.json_protocol() else {
            // NOTE: a caller's bug, never the data's: SNS and S3 have their own methods.
            return Err(AwsError::Transport(format!(
                "{service:?} does not speak the AWS JSON protocol"
            )));
        };
        let mut timeout = CALL_TIMEOUT;
        if service == Service::Sqs && operation == "ReceiveMessage" {
            // NOTE: a long poll holds the answer for up to WaitTimeSeconds (at most 20).
            let wait = body
                .get("WaitTimeSeconds")
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(0);
            timeout += Duration::from_secs(wait.min(20));
        }
        let call = Call {
            service,
            region,
            method: Method::POST,
            path: "/".to_owned(),
            headers: vec![
                ("content-type".to_owned(), content_type.to_owned()),
                ("x-amz-target".to_owned(), format!("{prefix}.{operation}")),
            ],
            body: Bytes::from(body.to_string()),
            content_sha256: false,
            timeout,
        };
        let answer = self.send(call).await?;
        if !(200..300).contains(&answer.status) {
            return Err(errors::json_error(
                answer.status,
                &answer.headers,
                &answer.body,
            ));
        }
        if answer.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(serde_json::Value::Object(serde_json::Map::new()));
        }
        serde_json::from_slice(&answer.body).map_err(|e| {
            AwsError::Transport(format!(
                "{operation} answered HTTP {} with a body that is not JSON: {e}",
                answer.status
            ))
        })
    }

    /// SNS Publish (the query protocol: form-encoded `Action=Publish&Version=2010-03-31&
    /// TopicArn=..&Message=..`); the MessageId from the XML answer.
    pub async fn sns_publish(
        &self,
        region: &str,
        topic_arn: &str,
        message: &str,
    ) -> Result<String, AwsError> {
        let form = format!(
            "Action=Publish&Version=2010-03-31&TopicArn={}&Message={}",
            sigv4::uri_encode(topic_arn, false),
            sigv4::uri_encode(message, false)
        );
        let call = Call {
            service: Service::Sns,
            region,
            method: Method::POST,
            path: "/".to_owned(),
            headers: vec![(
                "content-type".to_owned(),
                "application/x-www-form-urlencoded; charset=utf-8".to_owned(),
            )],
            body: Bytes::from(form),
            content_sha256: false,
            timeout: CALL_TIMEOUT,
        };
        let answer = self.send(call).await?;
        if !(200..300).contains(&answer.status) {
            return Err(errors::xml_error(answer.status, &answer.body));
        }
        errors::xml_text(&String::from_utf8_lossy(&answer.body), "MessageId").ok_or_else(|| {
            AwsError::Transport(format!(
                "SNS Publish answered HTTP {} without a MessageId",
                answer.status
            ))
        })
    }

    /// S3 PutObject (path-style `PUT /<bucket>/<key>`, payload SHA-256 signed,
    /// `x-amz-content-sha256`).
    pub async fn s3_put_object(
        &self,
        region: &str,
        bucket: &str,
        key: &str,
        body: Bytes,
    ) -> Result<(), AwsError> {
        let call = Call {
            service: Service::S3,
            region,
            method: Method::PUT,
            path: format!(
                "/{}/{}",
                sigv4::uri_encode(bucket, false),
                sigv4::uri_encode(key, true)
            ),
            headers: Vec::new(),
            body,
            content_sha256: true,
            timeout: CALL_TIMEOUT,
        };
        let answer = self.send(call).await?;
        if (200..300).contains(&answer.status) {
            Ok(())
        } else {
            Err(errors::xml_error(answer.status, &answer.body))
        }
    }
}
