//! GitHub Enterprise Server behind a private CA: octocrab builds its own TLS client from the
//! platform roots, which `SSL_CERT_FILE` replaces; `--ca-bundle` does not reach it (README,
//! "## GitHub"). Both halves are pinned here so a change to either is noticed.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use wiremock::MockServer;

use super::quiet_org;

/// A CA in `dir/ca.pem`, and an acceptor serving a certificate for 127.0.0.1 it signed.
fn private_ca(dir: &Path) -> (PathBuf, tokio_rustls::TlsAcceptor) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "lapse GHES test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &Issuer::from_params(&ca, &ca_key))
        .unwrap();
    let ca_path = dir.join("ca.pem");
    std::fs::write(&ca_path, ca_cert.pem()).unwrap();
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into());
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone()], key)
        .unwrap();
    (ca_path, tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Terminates TLS and forwards the plain bytes to wiremock.
async fn tls_front(acceptor: tokio_rustls::TlsAcceptor, upstream: SocketAddr) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut plain) = tokio::net::TcpStream::connect(upstream).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ghes_behind_a_private_ca_is_trusted_through_ssl_cert_file_only() {
    let dir = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    quiet_org::mount(&server, "acme", &["api"]).await;
    let (ca, acceptor) = private_ca(dir.path());
    let front = tls_front(acceptor, *server.address()).await;
    let url = format!("https://127.0.0.1:{}", front.port());
    let args = |extra: &[&str]| -> Vec<String> {
        let mut args: Vec<String> = ["--github-org", "acme", "--github-api-url", &url]
            .iter()
            .chain(extra)
            .map(|s| s.to_string())
            .collect();
        args.extend(["--fail-on".into(), "never".into()]);
        args
    };
    let ca_text = ca.display().to_string();

    let run = quiet_org::scan_with_env(dir.path(), args(&[]), &[("SSL_CERT_FILE", &ca_text)]).await;
    assert_eq!(
        run.code,
        Some(0),
        "SSL_CERT_FILE is honoured: {}",
        run.stderr
    );
    assert!(run.gaps().is_empty(), "{:?}", run.gaps());

    let run = quiet_org::scan(dir.path(), args(&["--ca-bundle", &ca_text])).await;
    assert_eq!(
        run.code,
        Some(3),
        "--ca-bundle does not reach octocrab: {}",
        run.stderr
    );
    assert!(!run.gaps().is_empty());
}
