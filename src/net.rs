//! Net: the one way lapse builds an HTTP client for the REST APIs it calls (Azure, GitHub,
//! revoke): rustls with the bundled web roots, plus every certificate in `--ca-bundle` and in
//! `SSL_CERT_FILE` (reqwest's webpki roots ignore that variable on their own), a timeout and
//! lapse's user agent.
//!
//! Callers add what is theirs (e.g. `https_only`) to the returned builder.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Longest a single request may take, connection included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("{}: {message}", crate::input::shown(path))]
    CaBundle { path: String, message: String },
    #[error("cannot build the HTTP client: {0}")]
    Build(String),
}

/// A builder that trusts the bundled roots, `ca_bundle` and `SSL_CERT_FILE`.
pub(crate) fn client_builder(ca_bundle: Option<&Path>) -> Result<reqwest::ClientBuilder, NetError> {
    // Both ring and aws-lc may be compiled in; rustls then needs a process default.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let mut builder = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .user_agent(concat!("lapse/", env!("CARGO_PKG_VERSION")));
    let env_bundle = std::env::var_os("SSL_CERT_FILE").map(PathBuf::from);
    for path in ca_bundle.into_iter().chain(env_bundle.as_deref()) {
        for cert in read_bundle(path)? {
            builder = builder.add_root_certificate(cert);
        }
    }
    Ok(builder)
}

/// [`client_builder`], built as is.
pub(crate) fn client(ca_bundle: Option<&Path>) -> Result<reqwest::Client, NetError> {
    client_builder(ca_bundle)?
        .build()
        .map_err(|e| NetError::Build(e.to_string()))
}

fn read_bundle(path: &Path) -> Result<Vec<reqwest::Certificate>, NetError> {
    let error = |message: String| NetError::CaBundle {
        path: path.display().to_string(),
        message,
    };
    let pem = std::fs::read(path).map_err(|e| error(e.to_string()))?;
    reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| error(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_bundle_names_its_path() {
        let err = client(Some(Path::new("/nonexistent/lapse-ca.pem"))).unwrap_err();
        assert!(
            err.to_string().starts_with("/nonexistent/lapse-ca.pem: "),
            "{err}"
        );
    }

    #[test]
    fn no_bundle_builds() {
        assert!(client(None).is_ok());
    }
}
