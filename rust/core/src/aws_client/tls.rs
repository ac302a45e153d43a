//! HTTPS for the AWS client: the rustls connector (ring provider, HTTP/1) under the pooled
//! client, the certificates it trusts (Mozilla's roots, or `AWS_CA_BUNDLE`), and the message of
//! a certificate it refuses (docs/reference.md §16).

use std::sync::Arc;
use std::time::Duration;

use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

use super::AwsError;

/// The variable naming a PEM file of the CA certificates to trust.
pub(super) const CA_BUNDLE_VAR: &str = "AWS_CA_BUNDLE";

/// The connector of the pooled client: `http://` as plain TCP, `https://` through rustls,
/// trusting the certificates [`trusted_roots`] gives.
pub(super) fn connector(
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<HttpsConnector<HttpConnector>, AwsError> {
    let roots = trusted_roots(lookup)?;
    // NOTE: the provider is named here rather than taken from the process default, so the
    // client works whatever other rustls users in the process installed (or did not). rustls
    // 0.23.48 deprecates ring's provider for lacking post-quantum key exchange; ring is kept
    // because the only provider with it, aws-lc-rs, builds a large C library (cmake), and the
    // classical X25519/P-256 groups are what every AWS endpoint accepts.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| AwsError::Transport(format!("TLS not configurable: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut tcp = HttpConnector::new();
    tcp.set_connect_timeout(Some(Duration::from_secs(10)));
    tcp.set_nodelay(true);
    // NOTE: the TCP connector must accept `https://` URIs; the TLS layer above it does the
    // handshake for those and passes `http://` ones through.
    tcp.enforce_http(false);
    Ok(HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_or_http()
        .enable_http1()
        .wrap_connector(tcp))
}

/// The CA certificates trusted: those of the PEM file `AWS_CA_BUNDLE` names when it is set,
/// else Mozilla's root program (webpki-roots).
// NOTE: the AWS CLI and SDKs document AWS_CA_BUNDLE as "the path to a certificate bundle to
// use for HTTPS certificate validation"
// (https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-envvars.html): the bundle is
// the trust store, used instead of the default roots, as botocore does with it.
fn trusted_roots(lookup: &dyn Fn(&str) -> Option<String>) -> Result<RootCertStore, AwsError> {
    let Some(path) = lookup(CA_BUNDLE_VAR) else {
        return Ok(RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        });
    };
    let bad = |why: String| AwsError::Transport(format!("{CA_BUNDLE_VAR} {path}: {why}"));
    let pem = std::fs::read(&path).map_err(|e| bad(format!("cannot be read: {e}")))?;
    let mut roots = RootCertStore::empty();
    for (index, cert) in CertificateDer::pem_slice_iter(&pem).enumerate() {
        let cert = cert.map_err(|e| bad(format!("is not valid PEM: {e}")))?;
        roots.add(cert).map_err(|e| {
            bad(format!(
                "certificate {} is not a usable CA certificate: {e}",
                index + 1
            ))
        })?;
    }
    if roots.is_empty() {
        return Err(bad("holds no PEM certificate".to_owned()));
    }
    Ok(roots)
}

/// Why a server's certificate was refused, when that is why a call had no answer.
pub(super) fn untrusted_certificate(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    // NOTE: the rustls error sits inside an `io::Error` (tokio-rustls) inside another
    // (hyper-rustls); `io::Error::source` skips the wrapped error itself, so each `io::Error`
    // is opened with `get_ref` as well as followed by `source`.
    let mut cause = Some(err);
    while let Some(current) = cause {
        if let Some(refused @ rustls::Error::InvalidCertificate(_)) = current.downcast_ref() {
            return Some(format!(
                "TLS certificate not trusted ({refused}); set {CA_BUNDLE_VAR} to a PEM file \
                 of the CA certificates that sign it"
            ));
        }
        cause = match current.downcast_ref::<std::io::Error>() {
            Some(io) if io.get_ref().is_some() => io.get_ref().map(|inner| inner as _),
            _ => current.source(),
        };
    }
    None
}
