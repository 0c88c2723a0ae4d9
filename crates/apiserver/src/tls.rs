//! The server's certificate: a CA and a loopback certificate made at start, so nothing
//! secret ships with Greenlight.

use std::sync::Arc;

use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A CA and a loopback certificate made now, so nothing secret ships with Greenlight.
pub(crate) fn tls() -> Result<(String, ServerConfig), String> {
    let failed = |e: &dyn std::fmt::Display| format!("cannot make the sandbox's certificate: {e}");
    let ca_key = rcgen::KeyPair::generate().map_err(|e| failed(&e))?;
    let mut ca_params =
        rcgen::CertificateParams::new(Vec::<String>::new()).map_err(|e| failed(&e))?;
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "greenlight sandbox CA");
    ca_params.key_usages =
        vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::DigitalSignature];
    let ca_cert = ca_params.self_signed(&ca_key).map_err(|e| failed(&e))?;
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let leaf_key = rcgen::KeyPair::generate().map_err(|e| failed(&e))?;
    let mut leaf_params =
        rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .map_err(|e| failed(&e))?;
    leaf_params.distinguished_name.push(rcgen::DnType::CommonName, "greenlight sandbox");
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).map_err(|e| failed(&e))?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| failed(&e))?
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(leaf.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
        )
        .map_err(|e| failed(&e))?;
    Ok((ca_cert.pem(), config))
}
