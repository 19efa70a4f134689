//! GitHub Enterprise Server behind a private CA: octocrab builds its own TLS client from the
//! platform roots, which `SSL_CERT_FILE` replaces; `--ca-bundle` does not reach it (README,
//! "## GitHub"). Both halves are pinned here so a change to either is noticed.

use wiremock::MockServer;

use super::quiet_org;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ghes_behind_a_private_ca_is_trusted_through_ssl_cert_file_only() {
    let dir = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    quiet_org::mount(&server, "acme", &["api"]).await;
    let (ca, acceptor) = crate::support::tls::private_ca(dir.path());
    let front = crate::support::tls::tls_front(acceptor, *server.address()).await;
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
