//! A tiny HTTP/1.1 server for the client's end-to-end tests, over plain TCP or TLS: it records
//! each request it reads and answers all with one canned response, keeping connections open.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

use super::{AwsClient, AwsSettings};

/// One request as the server read it.
pub(super) struct Seen {
    /// `POST / HTTP/1.1`.
    pub(super) line: String,
    /// Header names lower-cased.
    pub(super) headers: HashMap<String, String>,
    /// The body as text.
    pub(super) body: String,
}

/// A canned answer: status line, extra headers, body.
#[derive(Clone)]
pub(super) struct Canned {
    /// `200 OK`.
    pub(super) status: &'static str,
    /// Headers besides `content-length`.
    pub(super) headers: Vec<(&'static str, &'static str)>,
    /// The body.
    pub(super) body: &'static str,
}

/// A 200 answer of a JSON-protocol service with `body`.
pub(super) fn ok_json(body: &'static str) -> Canned {
    Canned {
        status: "200 OK",
        headers: vec![("content-type", "application/x-amz-json-1.0")],
        body,
    }
}

/// A client of `url` in eu-west-1 with dummy credentials, no shared config files, and the
/// `extra` variables (`AWS_SESSION_TOKEN`, `AWS_CA_BUNDLE`, ...).
pub(super) fn client(url: &str, extra: &[(&str, &str)]) -> AwsClient {
    let base = [
        ("AWS_ACCESS_KEY_ID", "AKIDTEST"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
        ("AWS_REGION", "eu-west-1"),
        ("HOME", "/nonexistent-home"),
    ];
    let env: HashMap<String, String> = base
        .iter()
        .chain(extra)
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    AwsClient::with_env(
        &AwsSettings {
            endpoint_url: Some(url.to_owned()),
        },
        env,
    )
}

/// A server answering every request with `canned`; returns its URL, the requests it sees and
/// the number of connections it accepted.
pub(super) async fn serve(
    canned: Canned,
) -> (String, mpsc::UnboundedReceiver<Seen>, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let (tx, rx) = mpsc::unbounded_channel();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(answer_each(stream, canned.clone(), tx.clone()));
        }
    });
    (url, rx, accepted)
}

/// A server answering every request with `canned` over TLS, presenting `cert` (signed for
/// `key`); returns its port, the requests it sees (those that get past the handshake) and the
/// number of connections it accepted.
pub(super) async fn serve_tls(
    canned: Canned,
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
) -> (u16, mpsc::UnboundedReceiver<Seen>, Arc<AtomicUsize>) {
    // NOTE: the same (deprecated, classical-only) ring provider as the client's, aws_client/tls.rs.
    #[allow(deprecated)]
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .expect("server certificate");
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (tx, rx) = mpsc::unbounded_channel();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let (acceptor, canned, tx) = (acceptor.clone(), canned.clone(), tx.clone());
            tokio::spawn(async move {
                if let Ok(stream) = acceptor.accept(stream).await {
                    answer_each(stream, canned, tx).await;
                }
            });
        }
    });
    (port, rx, accepted)
}

/// Read requests off one connection and answer each.
async fn answer_each<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    canned: Canned,
    tx: mpsc::UnboundedSender<Seen>,
) {
    let mut buffer = Vec::new();
    loop {
        let head_end = loop {
            if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
        let mut lines = head.split("\r\n");
        let line = lines.next().unwrap_or_default().to_owned();
        let headers: HashMap<String, String> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let length: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        while buffer.len() < head_end + length {
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        }
        let body = String::from_utf8_lossy(&buffer[head_end..head_end + length]).into_owned();
        buffer.drain(..head_end + length);
        let _ = tx.send(Seen {
            line,
            headers,
            body,
        });
        let mut reply = format!(
            "HTTP/1.1 {}\r\ncontent-length: {}\r\n",
            canned.status,
            canned.body.len()
        );
        for (name, value) in &canned.headers {
            for part in [*name, ": ", *value, "\r\n"] {
                reply.push_str(part);
            }
        }
        reply.push_str("\r\n");
        reply.push_str(canned.body);
        if stream.write_all(reply.as_bytes()).await.is_err() {
            return;
        }
    }
}
