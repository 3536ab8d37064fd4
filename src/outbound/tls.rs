//! TLS for every outbound client: one platform verifier (the system's root
//! certificates, checked by WebPKI) shared by all of them.
//!
//! Why it exists: each client built the usual way (hyper-rustls'
//! `with_provider_and_platform_verifier`, reqwest's default) reads and parses the
//! system's CA bundle into a root store of its own. The gateway builds five such
//! clients at start (the upstream and BYOK hops, image fetches, connections,
//! webhooks), so it parsed the bundle five times and kept five copies of the same
//! roots. Sharing one verifier parses it once: about 0.4 MB less anonymous memory
//! at idle (bench/RESULTS.md, branch `mem`). The SMTP transport (lettre) still
//! builds its own, and only when `[email] smtp_url` is set.
//!
//! The roots are read once per process, at the first client built: as before,
//! a change to the system's bundle is picked up on restart.

use std::sync::{Arc, OnceLock};

use rustls::ClientConfig;
use rustls::crypto::CryptoProvider;
use rustls_platform_verifier::Verifier;

/// The one crypto provider of the outbound clients (DESIGN §5: aws-lc-rs).
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// The shared verifier, built on first use. Two first uses racing may both
/// parse the bundle; one result is kept.
fn verifier() -> Result<Arc<Verifier>, rustls::Error> {
    static SHARED: OnceLock<Arc<Verifier>> = OnceLock::new();
    if let Some(v) = SHARED.get() {
        return Ok(v.clone());
    }
    let built = Arc::new(Verifier::new(provider())?);
    Ok(SHARED.get_or_init(|| built).clone())
}

/// A client config trusting the platform's roots (TLS 1.2 and 1.3, no client
/// certificate), with no ALPN protocols: the caller sets the ones it speaks.
pub fn client_config() -> Result<ClientConfig, rustls::Error> {
    Ok(ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .dangerous() // the platform verifier, as hyper-rustls and reqwest set it
        .with_custom_certificate_verifier(verifier()?)
        .with_no_client_auth())
}

/// [`client_config`] for a reqwest client: it offers HTTP/2 and HTTP/1.1 by
/// ALPN, as reqwest's own config does.
fn reqwest_config() -> Result<ClientConfig, rustls::Error> {
    let mut config = client_config()?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// `builder` using the shared verifier. If it cannot be built (no CA
/// certificates on the system), `builder` is left as it is, so reqwest's own
/// setup fails with the same cause in its own error type.
pub fn with_shared_roots(builder: reqwest::ClientBuilder) -> reqwest::ClientBuilder {
    match reqwest_config() {
        Ok(config) => builder.tls_backend_preconfigured(config),
        Err(_) => builder,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_config_shares_one_verifier() {
        let a = verifier().unwrap();
        let b = verifier().unwrap();
        assert!(Arc::ptr_eq(&a, &b), "the bundle must be parsed once");
        assert!(client_config().unwrap().alpn_protocols.is_empty());
        assert_eq!(
            reqwest_config().unwrap().alpn_protocols,
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        );
    }
}
