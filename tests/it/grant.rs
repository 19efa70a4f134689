//! `lapse grant` for AWS against moto: plan changes nothing, apply attaches and records (ledger
//! and journal), a second grant extends, `revoke` past the expiry detaches with the same ledger,
//! the journal verifies and catches tampering; and every refusal (TTL over max_ttl, missing or
//! self approval, admin without --allow-admin, standing access, unknown principal) is exit 2
//! with nothing changed, proven by list calls.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

use crate::revoke::{attached, inline, runtime};
use crate::support::moto::Moto;

const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
const DEPLOY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::artifacts/*"}]}"#;
const ADMIN: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

struct Estate {
    role: String,
    deploy: String,
    admin: String,
    standing: String,
}

async fn policy(iam: &aws_sdk_iam::Client, name: &str, document: &str) -> String {
    let out = iam
        .create_policy()
        .policy_name(name)
        .policy_document(document)
        .send()
        .await
        .expect("policy");
    out.policy().and_then(|p| p.arn()).expect("arn").to_string()
}

async fn estate(iam: &aws_sdk_iam::Client) -> Estate {
    let out = iam
        .create_role()
        .role_name("worker")
        .assume_role_policy_document(TRUST)
        .send()
        .await
        .expect("role");
    let role = out.role().map(|r| r.arn().to_string()).expect("arn");
    let standing = policy(iam, "AlreadyHeld", DEPLOY).await;
    iam.attach_role_policy()
        .role_name("worker")
        .policy_arn(&standing)
        .send()
        .await
        .expect("attach");
    Estate {
        role,
        deploy: policy(iam, "Deploy", DEPLOY).await,
        admin: policy(iam, "BreakGlass", ADMIN).await,
        standing,
    }
}

fn grant(moto: &Moto, dir: &Path, principal: &str, policy: &str, extra: &[&str]) -> Command {
    let mut cmd = Command::cargo_bin("lapse").expect("the lapse binary is built");
    moto.env(&mut cmd);
    cmd.env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .current_dir(dir)
        .args(["grant", "--principal", principal, "--attach-policy", policy])
        .args(["--reason", "INC-1", "--requested-by", "alice"])
        .arg("--ledger")
        .arg(dir.join("grants.jsonl"))
        .arg("--journal")
        .arg(dir.join("journal.jsonl"))
        .args(extra);
    if !extra.contains(&"--ttl") {
        cmd.args(["--ttl", "2h"]);
    }
    cmd
}

fn read_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn events(dir: &Path) -> Vec<String> {
    read_lines(&dir.join("journal.jsonl"))
        .iter()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["event"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

fn out(assert: &assert_cmd::assert::Assert) -> String {
    let output = assert.get_output();
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn grant_apply_revoke_and_verify_the_journal() {
    let moto = Moto::start();
    let iam = moto.iam();
    let rt = runtime();
    let estate = rt.block_on(estate(&iam));
    let dir = tempfile::tempdir().unwrap();
    let ledger: PathBuf = dir.path().join("grants.jsonl");
    let approved = ["--approved-by", "bob", "--ticket", "T-7"];

    let plan = grant(&moto, dir.path(), &estate.role, &estate.deploy, &approved)
        .assert()
        .code(0);
    let text = out(&plan);
    assert!(text.contains("plan only"), "{text}");
    assert!(
        text.contains(&format!(
            "iam:AttachRolePolicy RoleName=worker PolicyArn={}",
            estate.deploy
        )),
        "{text}"
    );
    assert!(text.contains("approved by bob"), "{text}");
    assert_eq!(
        rt.block_on(attached(&iam, "role", "worker")),
        [estate.standing.clone()]
    );
    assert!(!ledger.exists(), "the plan writes no ledger line");

    let applied = grant(&moto, dir.path(), &estate.role, &estate.deploy, &approved)
        .arg("--apply")
        .assert()
        .code(0);
    let mut held = rt.block_on(attached(&iam, "role", "worker"));
    held.sort();
    let mut expected = vec![estate.standing.clone(), estate.deploy.clone()];
    expected.sort();
    assert_eq!(held, expected, "{}", out(&applied));
    let lines = read_lines(&ledger);
    assert_eq!(lines.len(), 1);
    let line: Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(line["kind"], "policy_attachment");
    assert_eq!(line["target"], estate.deploy.as_str());
    assert_eq!(line["requested_by"], "alice");
    assert_eq!(line["approved_by"], "bob");
    assert_eq!(line["ticket"], "T-7");
    assert!(
        line["principal_unique_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("AROA"))
    );
    assert_eq!(events(dir.path()), ["requested", "approved", "issued"]);

    // Again while live: extended by a new ledger line, nothing attached twice.
    let again = grant(&moto, dir.path(), &estate.role, &estate.deploy, &approved)
        .arg("--apply")
        .assert()
        .code(0);
    assert!(out(&again).contains("extend"), "{}", out(&again));
    assert_eq!(read_lines(&ledger).len(), 2);
    assert_eq!(
        events(dir.path()),
        [
            "requested",
            "approved",
            "issued",
            "requested",
            "approved",
            "extended"
        ]
    );

    // Past the expiry, revoke with the same ledger and journal detaches it.
    let later = (chrono::Utc::now() + chrono::Duration::hours(3)).to_rfc3339();
    let mut revoke = Command::cargo_bin("lapse").unwrap();
    moto.env(&mut revoke);
    let revoked = revoke
        .current_dir(dir.path())
        .args([
            "revoke", "--aws", "--quiet", "--apply", "--as-of", &later, "--ledger",
        ])
        .arg(&ledger)
        .arg("--journal")
        .arg(dir.path().join("journal.jsonl"))
        .assert();
    let text = out(&revoked);
    revoked.code(0);
    assert_eq!(
        rt.block_on(attached(&iam, "role", "worker")),
        [estate.standing.clone()],
        "{text}"
    );

    let journal = dir.path().join("journal.jsonl");
    let verify = |head: Option<&str>| {
        let mut cmd = Command::cargo_bin("lapse").unwrap();
        cmd.args(["journal", "verify"]).arg(&journal);
        if let Some(head) = head {
            cmd.args(["--head", head]);
        }
        cmd.assert()
    };
    verify(None).code(0);
    let show = Command::cargo_bin("lapse")
        .unwrap()
        .args(["journal", "show", "--principal", &estate.role])
        .arg(&journal)
        .assert()
        .code(0);
    let text = out(&show);
    for stage in [
        "requested",
        "approved",
        "issued",
        "extended",
        "expired",
        "revoked",
    ] {
        assert!(text.contains(stage), "{stage}: {text}");
    }
    assert!(text.contains("by bob"), "{text}");

    let head = String::from_utf8_lossy(
        &Command::cargo_bin("lapse")
            .unwrap()
            .args(["journal", "head"])
            .arg(&journal)
            .assert()
            .code(0)
            .get_output()
            .stdout,
    )
    .trim()
    .to_string();
    let original = read_lines(&journal);
    let write = |lines: &[String]| {
        std::fs::write(
            &journal,
            lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
        )
        .unwrap()
    };
    let mut edited = original.clone();
    edited[1] = edited[1].replace("\"bob\"", "\"eve\"");
    write(&edited);
    assert!(out(&verify(None).code(1)).contains("journal.jsonl:2: chain broken"));
    let mut removed = original.clone();
    removed.remove(2);
    write(&removed);
    assert!(out(&verify(None).code(1)).contains("journal.jsonl:3: chain broken"));
    let mut swapped = original.clone();
    swapped.swap(3, 4);
    write(&swapped);
    assert!(out(&verify(None).code(1)).contains("journal.jsonl:4: chain broken"));
    let mut cut = original.clone();
    cut.pop();
    write(&cut);
    verify(None).code(0);
    verify(Some(&head)).code(1);
}

#[test]
fn refused_grants_exit_2_and_change_nothing() {
    let moto = Moto::start();
    let iam = moto.iam();
    let rt = runtime();
    let estate = rt.block_on(estate(&iam));
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("lapse.toml");
    std::fs::write(
        &config,
        "[grant]\nmax_ttl = \"4h\"\nrequire_approval = true\n",
    )
    .unwrap();
    let config = config.to_string_lossy().to_string();
    let cases: Vec<(&str, String, Vec<&str>, &str)> = vec![
        (
            "ttl over max_ttl",
            estate.deploy.clone(),
            vec!["--ttl", "5h", "--approved-by", "bob"],
            "max_ttl",
        ),
        (
            "no approval",
            estate.deploy.clone(),
            vec![],
            "--approved-by",
        ),
        (
            "self approval",
            estate.deploy.clone(),
            vec!["--approved-by", "alice"],
            "differ",
        ),
        (
            "admin",
            estate.admin.clone(),
            vec!["--approved-by", "bob"],
            "--allow-admin",
        ),
        (
            "already held",
            estate.standing.clone(),
            vec!["--approved-by", "bob"],
            "already holds",
        ),
    ];
    for (case, policy, extra, says) in cases {
        let mut args = vec!["--apply", "--config", &config];
        args.extend(extra);
        let refused = grant(&moto, dir.path(), &estate.role, &policy, &args)
            .assert()
            .code(2);
        let text = out(&refused);
        assert!(text.contains(says), "{case}: {text}");
    }
    let ghost = estate.role.replace("worker", "ghost");
    let refused = grant(
        &moto,
        dir.path(),
        &ghost,
        &estate.deploy,
        &["--apply", "--approved-by", "bob"],
    )
    .assert()
    .code(2);
    assert!(
        out(&refused).contains("does not exist"),
        "{}",
        out(&refused)
    );
    assert_eq!(
        rt.block_on(attached(&iam, "role", "worker")),
        std::slice::from_ref(&estate.standing)
    );
    assert!(rt.block_on(inline(&iam, "role", "worker")).is_empty());
    assert!(!dir.path().join("grants.jsonl").exists(), "no ledger claim");
    // With --allow-admin the same admin grant goes through.
    grant(
        &moto,
        dir.path(),
        &estate.role,
        &estate.admin,
        &[
            "--apply",
            "--allow-admin",
            "--approved-by",
            "bob",
            "--config",
            &config,
        ],
    )
    .assert()
    .code(0);
    assert!(
        rt.block_on(attached(&iam, "role", "worker"))
            .contains(&estate.admin)
    );
}

/// Scope is judged on the principal's effective privilege *with* the grant: `ec2:RunInstances`
/// is harmless on its own, but next to the `iam:PassRole` the worker already holds it lets the
/// worker start an instance as the admin role (ec2-001). Refused (exit 2) with nothing changed;
/// the same policy for a principal without PassRole is planned.
#[test]
fn a_grant_that_is_admin_only_with_what_the_principal_holds_is_refused() {
    const EC2_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    const PASS: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:PassRole","s3:GetObject"],"Resource":"*"}]}"#;
    const LAUNCH: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:RunInstances","Resource":"*"}]}"#;
    let moto = Moto::start();
    let iam = moto.iam();
    let rt = runtime();
    let (worker, builder, launch) = rt.block_on(async {
        let mut arns = Vec::new();
        for name in ["worker", "builder", "instance-admin"] {
            let out = iam
                .create_role()
                .role_name(name)
                .assume_role_policy_document(EC2_TRUST)
                .send()
                .await
                .expect("role");
            arns.push(out.role().map(|r| r.arn().to_string()).expect("arn"));
        }
        iam.put_role_policy()
            .role_name("worker")
            .policy_name("pass")
            .policy_document(PASS)
            .send()
            .await
            .expect("inline");
        iam.put_role_policy()
            .role_name("instance-admin")
            .policy_name("all")
            .policy_document(ADMIN)
            .send()
            .await
            .expect("inline");
        let launch = policy(&iam, "Launch", LAUNCH).await;
        (arns[0].clone(), arns[1].clone(), launch)
    });
    let dir = tempfile::tempdir().unwrap();
    let refused = grant(&moto, dir.path(), &worker, &launch, &["--apply"])
        .assert()
        .code(2);
    let text = out(&refused);
    assert!(text.contains("would be admin"), "{text}");
    assert!(text.contains("ec2-001"), "{text}");
    assert!(text.contains("--allow-admin"), "{text}");
    assert!(rt.block_on(attached(&iam, "role", "worker")).is_empty());
    assert_eq!(rt.block_on(inline(&iam, "role", "worker")), ["pass"]);
    assert!(!dir.path().join("grants.jsonl").exists(), "no ledger claim");
    assert!(
        read_lines(&dir.path().join("journal.jsonl")).is_empty(),
        "nothing journalled as requested"
    );

    // The same policy for a principal that cannot pass roles: below admin, planned.
    let plan = grant(&moto, dir.path(), &builder, &launch, &[])
        .assert()
        .code(0);
    let text = out(&plan);
    assert!(
        text.contains("effective privilege write now, write with the grant")
            || text.contains("effective privilege none now, write with the grant"),
        "{text}"
    );
}

/// `grant` writes through revoke's writer session: in another account only through the revoke
/// role (`--aws-revoke-role-arn`), confirmed there by `sts:GetCallerIdentity`; without it the
/// ambient credentials' account is not the principal's, and nothing changes.
#[test]
fn a_grant_in_another_account_goes_through_the_revoke_role() {
    const OTHER: &str = "111111111111";
    let moto = Moto::start();
    let rt = runtime();
    let (role, deploy) = rt.block_on(async {
        let iam = moto.iam_in(OTHER).await;
        let out = iam
            .create_role()
            .role_name("worker")
            .assume_role_policy_document(TRUST)
            .send()
            .await
            .expect("role");
        let role = out.role().map(|r| r.arn().to_string()).expect("arn");
        (role, policy(&iam, "Deploy", DEPLOY).await)
    });
    let dir = tempfile::tempdir().unwrap();
    let refused = grant(&moto, dir.path(), &role, &deploy, &["--apply"])
        .assert()
        .code(2);
    let text = out(&refused);
    assert!(
        text.contains(&format!(
            "the credentials for account {OTHER} are in account {}",
            crate::support::moto::DEFAULT_ACCOUNT
        )),
        "{text}"
    );
    let other = rt.block_on(moto.iam_in(OTHER));
    assert!(rt.block_on(attached(&other, "role", "worker")).is_empty());
    assert!(!dir.path().join("grants.jsonl").exists(), "no ledger claim");

    let applied = grant(
        &moto,
        dir.path(),
        &role,
        &deploy,
        &[
            "--apply",
            "--aws-revoke-role-arn",
            "arn:aws:iam::{account}:role/LapseRevoke",
            "--aws-region",
            "eu-west-1",
        ],
    )
    .assert();
    let text = out(&applied);
    applied.code(0);
    assert_eq!(
        rt.block_on(attached(&other, "role", "worker")),
        std::slice::from_ref(&deploy),
        "{text}"
    );
    let lines = read_lines(&dir.path().join("grants.jsonl"));
    let line: Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(line["account"], OTHER);
    assert_eq!(line["target"], deploy.as_str());
}

/// The deploy-key grant's requests (GET the repository, GET its keys, POST the key), checked
/// against GitHub's published description by Prism, which answers 4xx to anything it does not
/// allow; the ledger then holds the key id Prism's example gave, the title carries the marker.
#[test]
fn a_deploy_key_grant_is_allowed_by_the_published_description() {
    let dir = tempfile::tempdir().unwrap();
    let (_prism, port) = crate::github::start_prism(&dir.path().join("prism.log"));
    let key = dir.path().join("ci.pub");
    std::fs::write(
        &key,
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGrantTestKeyGrantTestKeyGrantTestKey0 ci@example\n",
    )
    .unwrap();
    let ledger = dir.path().join("grants.jsonl");
    let journal = dir.path().join("journal.jsonl");
    let run = |extra: &[&str]| {
        let mut cmd = Command::cargo_bin("lapse").unwrap();
        cmd.env_remove("RUST_LOG")
            .env("GITHUB_TOKEN", "ghp_granttest")
            .current_dir(dir.path())
            .args(["grant", "--deploy-key-repo", "acme/api", "--public-key"])
            .arg(&key)
            .args(["--title", "ci deploy", "--ttl", "90m", "--reason", "INC-9"])
            .args(["--requested-by", "alice", "--ledger"])
            .arg(&ledger)
            .arg("--journal")
            .arg(&journal)
            .args(["--github-api-url", &format!("http://127.0.0.1:{port}")])
            .args(extra);
        cmd.assert()
    };
    let plan = run(&[]).code(0);
    let text = out(&plan);
    assert!(text.contains("POST /repos/acme/api/keys"), "{text}");
    assert!(text.contains("[lapse:expires-at="), "{text}");
    assert!(!ledger.exists());

    let applied = run(&["--apply"]);
    let text = out(&applied);
    applied.code(0);
    let lines = read_lines(&ledger);
    assert_eq!(lines.len(), 1, "{text}");
    let line: Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(line["kind"], "deploy_key");
    assert!(
        line["target"]
            .as_str()
            .is_some_and(|t| t.starts_with("acme/api/")),
        "{line}"
    );
    assert_eq!(events(dir.path()), ["requested", "issued"]);
    let show = Command::cargo_bin("lapse")
        .unwrap()
        .args(["journal", "show", "--json"])
        .arg(&journal)
        .assert()
        .code(0);
    let view: Value = serde_json::from_slice(&show.get_output().stdout).unwrap();
    assert_eq!(
        view.as_array().map(Vec::len),
        Some(1),
        "one lifecycle: {view}"
    );
}

mod azure {
    //! The Azure grant against ARM served by wiremock behind TLS (a CA made at test time), the
    //! binary's CLI credential finding a stub `az` on PATH: a PIM schedule request with an end
    //! time where PIM is available, a marked role assignment where ARM says it is not.

    use std::path::Path;

    use serde_json::{Value, json};
    use wiremock::matchers::{method, path, path_regex};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    const TENANT: &str = "00000000-0000-0000-0000-0000000000aa";
    const TOKEN: &str = "test-token-0000-do-not-print";
    const SUB: &str = "11111111-2222-3333-4444-555555555555";
    const ASSIGNEE: &str = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
    const READER: &str = "acdd72a7-3385-48ef-bd42-f606fba81ae7";

    fn stub_az(dir: &Path) {
        let script = format!(
            "#!/bin/sh\necho '{{\"accessToken\":\"{TOKEN}\",\"expires_on\":{},\"tokenType\":\"Bearer\"}}'\n",
            chrono::Utc::now().timestamp() + 3600
        );
        let az = dir.join("az");
        std::fs::write(&az, script).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&az, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    async fn arm(pim: bool) -> (MockServer, String, std::path::PathBuf, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let server = MockServer::start().await;
        let (ca, acceptor) = crate::support::tls::private_ca(dir.path());
        let front = crate::support::tls::tls_front(acceptor, *server.address()).await;
        let authz = format!("/subscriptions/{SUB}/providers/Microsoft.Authorization");
        let definition = format!("{authz}/roleDefinitions/{READER}");
        Mock::given(method("GET"))
            .and(path(format!("{authz}/roleDefinitions")))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": [
                {"id": definition, "name": READER, "properties": {"roleName": "Reader"}}]})))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(format!("{authz}/roleAssignments")))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": []})))
            .mount(&server)
            .await;
        let probe = if pim {
            ResponseTemplate::new(200).set_body_json(json!({"value": []}))
        } else {
            ResponseTemplate::new(400).set_body_json(json!({"error": {
                "code": "AadPremiumLicenseRequired",
                "message": "The tenant needs an Entra ID P2 licence"}}))
        };
        Mock::given(method("GET"))
            .and(path(format!("{authz}/roleAssignmentScheduleInstances")))
            .respond_with(probe)
            .mount(&server)
            .await;
        Mock::given(method("PUT"))
            .and(path_regex(format!(
                "^{authz}/(roleAssignmentScheduleRequests|roleAssignments)/[0-9a-f-]{{36}}$"
            )))
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": "x"})))
            .mount(&server)
            .await;
        // The directory knows the assignee (its name is attacker-controlled: printed escaped).
        Mock::given(method("GET"))
            .and(path(format!("/v1.0/directoryObjects/{ASSIGNEE}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "@odata.type": "#microsoft.graph.servicePrincipal",
                "id": ASSIGNEE,
                "displayName": "ci-bot\u{1b}[31m"})))
            .mount(&server)
            .await;
        let base = format!("https://127.0.0.1:{}", front.port());
        stub_az(dir.path());
        (server, base, ca, dir)
    }

    /// The assignee's assignment of Reader at the subscription, as ARM lists it once made.
    async fn held(server: &MockServer, id: &str, description: Option<&str>) {
        let authz = format!("/subscriptions/{SUB}/providers/Microsoft.Authorization");
        Mock::given(method("GET"))
            .and(path(format!("{authz}/roleAssignments")))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": [{
            "id": id,
            "properties": {
                "principalId": ASSIGNEE,
                "roleDefinitionId": format!("{authz}/roleDefinitions/{READER}"),
                "scope": format!("/subscriptions/{SUB}"),
                "description": description,
            }}]})))
            .with_priority(1)
            .mount(server)
            .await;
    }

    async fn paths(server: &MockServer) -> Vec<String> {
        server
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|r| format!("{} {}", r.method, r.url.path()))
            .collect()
    }

    fn events(dir: &Path) -> Vec<String> {
        super::events(dir)
    }

    fn revoke(dir: &Path, base: &str, ca: &Path, as_of: &str) -> assert_cmd::Command {
        let mut revoke = assert_cmd::Command::cargo_bin("lapse").unwrap();
        let search = format!(
            "{}:{}",
            dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        revoke
            .env("PATH", search)
            .env_remove("SSL_CERT_FILE")
            .current_dir(dir)
            .args(["revoke", "--quiet", "--apply", "--as-of", as_of])
            .args(["--azure-tenant", TENANT, "--azure-arm-url", base])
            .args(["--azure-graph-url", base, "--azure-credential", "cli"])
            .arg("--ca-bundle")
            .arg(ca)
            .arg("--ledger")
            .arg(dir.join("grants.jsonl"))
            .arg("--journal")
            .arg(dir.join("journal.jsonl"));
        revoke
    }

    fn grant(dir: &Path, base: &str, ca: &Path, extra: &[&str]) -> assert_cmd::Command {
        grant_role(dir, base, ca, "Reader", extra)
    }

    fn grant_role(
        dir: &Path,
        base: &str,
        ca: &Path,
        role: &str,
        extra: &[&str],
    ) -> assert_cmd::Command {
        let mut cmd = assert_cmd::Command::cargo_bin("lapse").unwrap();
        let path = format!(
            "{}:{}",
            dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        cmd.env("PATH", path)
            .env_remove("SSL_CERT_FILE")
            .env_remove("RUST_LOG")
            .current_dir(dir)
            .args(["grant", "--assignee", ASSIGNEE, "--role", role, "--scope"])
            .arg(format!("/subscriptions/{SUB}"))
            .args(["--reason", "INC-3", "--requested-by", "alice"])
            .args(["--azure-tenant", TENANT, "--azure-arm-url", base])
            .args(["--azure-graph-url", base])
            .args(["--azure-credential", "cli", "--ca-bundle"])
            .arg(ca)
            .arg("--ledger")
            .arg(dir.join("grants.jsonl"))
            .arg("--journal")
            .arg(dir.join("journal.jsonl"))
            .args(extra);
        if !extra.contains(&"--ttl") {
            cmd.args(["--ttl", "2h"]);
        }
        cmd
    }

    async fn run(cmd: assert_cmd::Command) -> (Option<i32>, String) {
        let mut cmd = cmd;
        let output = tokio::task::spawn_blocking(move || cmd.output().unwrap())
            .await
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(!text.contains(TOKEN), "the token is never printed");
        (output.status.code(), text)
    }

    async fn puts(server: &MockServer) -> Vec<(String, Value)> {
        server
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.method.as_str() == "PUT")
            .map(|r| {
                (
                    r.url.path().to_string(),
                    serde_json::from_slice(&r.body).unwrap(),
                )
            })
            .collect()
    }

    fn ledger(dir: &Path) -> Vec<Value> {
        std::fs::read_to_string(dir.join("grants.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn where_pim_is_available_the_grant_is_a_schedule_request_with_an_end() {
        let (server, base, ca, dir) = arm(true).await;
        let (code, text) = run(grant(dir.path(), &base, &ca, &[])).await;
        assert_eq!(code, Some(0), "{text}");
        assert!(text.contains("via:      PIM schedule request"), "{text}");
        assert!(
            text.contains(&format!(
                "servicePrincipal ci-bot\\u{{1b}}[31m (object {ASSIGNEE})"
            )),
            "the directory's type and (escaped) name: {text}"
        );
        let owner = grant_role(dir.path(), &base, &ca, "Owner", &["--apply"]);
        let (code, text) = run(owner).await;
        assert_eq!(code, Some(2), "{text}");
        assert!(text.contains("--allow-admin"), "{text}");
        assert!(puts(&server).await.is_empty(), "the plan changes nothing");
        assert!(ledger(dir.path()).is_empty());

        let (code, text) = run(grant(dir.path(), &base, &ca, &["--apply"])).await;
        assert_eq!(code, Some(0), "{text}");
        let puts = puts(&server).await;
        assert_eq!(puts.len(), 1, "{puts:?}");
        let (url, body) = &puts[0];
        assert!(url.contains("/roleAssignmentScheduleRequests/"), "{url}");
        let p = &body["properties"];
        assert_eq!(p["requestType"], "AdminAssign");
        assert_eq!(p["principalId"], ASSIGNEE);
        assert!(p["roleDefinitionId"].as_str().unwrap().ends_with(READER));
        assert_eq!(p["scheduleInfo"]["expiration"]["type"], "AfterDateTime");
        let line = &ledger(dir.path())[0];
        assert_eq!(line["kind"], "role_assignment");
        assert_eq!(line["account"], TENANT);
        assert_eq!(line["principal_unique_id"], ASSIGNEE);
        assert_eq!(
            p["scheduleInfo"]["expiration"]["endDateTime"].as_str(),
            line["expires_at"].as_str()
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn where_pim_is_not_available_the_grant_is_a_marked_role_assignment() {
        let (server, base, ca, dir) = arm(false).await;
        let (code, text) = run(grant(dir.path(), &base, &ca, &[])).await;
        assert_eq!(code, Some(0), "{text}");
        assert!(text.contains("PIM is not available"), "{text}");
        assert!(puts(&server).await.is_empty());

        let (code, text) = run(grant(dir.path(), &base, &ca, &["--apply"])).await;
        assert_eq!(code, Some(0), "{text}");
        let puts = puts(&server).await;
        assert_eq!(puts.len(), 1, "{puts:?}");
        let (url, body) = &puts[0];
        assert!(url.contains("/roleAssignments/"), "{url}");
        let description = body["properties"]["description"].as_str().unwrap();
        let line = &ledger(dir.path())[0];
        assert_eq!(line["target"].as_str(), Some(url.as_str()));
        assert!(
            description.contains(&format!(
                "[lapse:expires-at={}]",
                line["expires_at"].as_str().unwrap()
            )),
            "{description} {line}"
        );

        // Past the expiry, `revoke` with the same ledger deletes the assignment (the collector
        // finds an empty estate; the assignment is read again, then deleted).
        let id = url.clone();
        Mock::given(method("GET"))
            .and(path(id.as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": id,
                "properties": {"principalId": ASSIGNEE, "description": description}})))
            .with_priority(1)
            .mount(&server)
            .await;
        Mock::given(method("DELETE"))
            .and(path(id.as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": id})))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": []})))
            .with_priority(10)
            .mount(&server)
            .await;
        let later = (chrono::Utc::now() + chrono::Duration::hours(3)).to_rfc3339();
        let mut revoke = assert_cmd::Command::cargo_bin("lapse").unwrap();
        let search = format!(
            "{}:{}",
            dir.path().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        revoke
            .env("PATH", search)
            .env_remove("SSL_CERT_FILE")
            .current_dir(dir.path())
            .args(["revoke", "--quiet", "--apply", "--as-of", &later])
            .args(["--azure-tenant", TENANT, "--azure-arm-url", &base])
            .args(["--azure-graph-url", &base, "--azure-credential", "cli"])
            .arg("--ca-bundle")
            .arg(&ca)
            .arg("--ledger")
            .arg(dir.path().join("grants.jsonl"))
            .arg("--journal")
            .arg(dir.path().join("journal.jsonl"));
        let (code, text) = run(revoke).await;
        assert_eq!(code, Some(0), "{text}");
        let deleted: Vec<String> = server
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.method.as_str() == "DELETE")
            .map(|r| r.url.path().to_string())
            .collect();
        assert_eq!(deleted, [id], "{text}");
    }

    /// The principal must exist (by its object id) before anything changes: Graph's 404 is a
    /// refusal, and ARM is never asked anything.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_object_id_the_directory_does_not_know_is_refused_before_arm_is_asked() {
        let (server, base, ca, dir) = arm(true).await;
        Mock::given(method("GET"))
            .and(path(format!("/v1.0/directoryObjects/{ASSIGNEE}")))
            .respond_with(ResponseTemplate::new(404).set_body_json(json!({"error": {
                "code": "Request_ResourceNotFound",
                "message": "Resource does not exist"}})))
            .with_priority(1)
            .mount(&server)
            .await;
        let (code, text) = run(grant(dir.path(), &base, &ca, &["--apply"])).await;
        assert_eq!(code, Some(2), "{text}");
        assert!(text.contains("does not exist"), "{text}");
        let seen = paths(&server).await;
        assert_eq!(
            seen,
            [format!("GET /v1.0/directoryObjects/{ASSIGNEE}")],
            "nothing sent to ARM"
        );
        assert!(ledger(dir.path()).is_empty());
        assert!(!dir.path().join("journal.jsonl").exists());
    }

    /// A marked assignment lapse issued, granted again: a new ledger line and `extended`, no
    /// request to ARM that changes anything; `revoke` honours the ledger's expiry.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_marked_assignment_granted_again_is_extended_in_the_ledger() {
        let (server, base, ca, dir) = arm(false).await;
        let (code, text) = run(grant(dir.path(), &base, &ca, &["--apply"])).await;
        assert_eq!(code, Some(0), "{text}");
        let (id, body) = puts(&server).await.remove(0);
        let description = body["properties"]["description"]
            .as_str()
            .unwrap()
            .to_string();

        // Held now, with no ledger line: standing access, refused.
        held(&server, &id, Some(&description)).await;
        let empty = tempfile::tempdir().unwrap();
        stub_az(empty.path());
        let (code, text) = run(grant(empty.path(), &base, &ca, &["--apply"])).await;
        assert_eq!(code, Some(2), "{text}");
        assert!(text.contains("standing access"), "{text}");

        let (code, text) = run(grant_ttl(dir.path(), &base, &ca, "4h", false)).await;
        assert_eq!(code, Some(0), "{text}");
        assert!(text.contains("extends:"), "{text}");
        let (code, text) = run(grant_ttl(dir.path(), &base, &ca, "4h", true)).await;
        assert_eq!(code, Some(0), "{text}");
        assert_eq!(puts(&server).await.len(), 1, "no second PUT: {text}");
        let lines = ledger(dir.path());
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(lines[1]["target"].as_str(), Some(id.as_str()));
        assert!(lines[1]["expires_at"].as_str() > lines[0]["expires_at"].as_str());
        assert_eq!(
            events(dir.path()),
            ["requested", "issued", "requested", "extended"]
        );

        // Revoke with the same ledger: nothing before the ledger's expiry, the assignment after.
        Mock::given(method("GET"))
            .and(path(id.as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": id,
                "properties": {"principalId": ASSIGNEE, "description": description}})))
            .with_priority(1)
            .mount(&server)
            .await;
        Mock::given(method("DELETE"))
            .and(path(id.as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": id})))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": []})))
            .with_priority(10)
            .mount(&server)
            .await;
        let first =
            lapse::analyze::expiry::parse_timestamp(lines[0]["expires_at"].as_str().unwrap())
                .unwrap();
        let between = (first + chrono::Duration::minutes(1)).to_rfc3339();
        let (code, text) = run(revoke(dir.path(), &base, &ca, &between)).await;
        assert_eq!(code, Some(0), "{text}");
        let deletes =
            |seen: Vec<String>| seen.into_iter().filter(|p| p.starts_with("DELETE")).count();
        assert_eq!(deletes(paths(&server).await), 0, "{text}");
        let later = (chrono::Utc::now() + chrono::Duration::hours(5)).to_rfc3339();
        let (code, text) = run(revoke(dir.path(), &base, &ca, &later)).await;
        assert_eq!(code, Some(0), "{text}");
        assert_eq!(deletes(paths(&server).await), 1, "{text}");
    }

    /// A PIM assignment lapse issued, granted again: Azure enforces the end, so the grant sends
    /// a schedule request that extends the assignment to the new end, then records the line.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_pim_assignment_granted_again_is_extended_by_a_schedule_request() {
        let (server, base, ca, dir) = arm(true).await;
        let (code, text) = run(grant(dir.path(), &base, &ca, &["--apply"])).await;
        assert_eq!(code, Some(0), "{text}");
        let first = ledger(dir.path());
        let id = first[0]["target"].as_str().unwrap().to_string();
        held(&server, &id, None).await;

        let (code, text) = run(grant_ttl(dir.path(), &base, &ca, "4h", true)).await;
        assert_eq!(code, Some(0), "{text}");
        let puts = puts(&server).await;
        assert_eq!(puts.len(), 2, "{puts:?}");
        let (url, body) = &puts[1];
        assert!(url.contains("/roleAssignmentScheduleRequests/"), "{url}");
        assert_ne!(url, &puts[0].0, "a new request");
        let p = &body["properties"];
        assert_eq!(p["requestType"], "AdminExtend");
        assert_eq!(p["principalId"], ASSIGNEE);
        assert!(p["roleDefinitionId"].as_str().unwrap().ends_with(READER));
        assert_eq!(p["scheduleInfo"]["expiration"]["type"], "AfterDateTime");
        let lines = ledger(dir.path());
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(lines[1]["target"].as_str(), Some(id.as_str()));
        assert_eq!(
            p["scheduleInfo"]["expiration"]["endDateTime"].as_str(),
            lines[1]["expires_at"].as_str()
        );
        assert!(lines[1]["expires_at"].as_str() > lines[0]["expires_at"].as_str());
        assert_eq!(
            events(dir.path()),
            ["requested", "issued", "requested", "extended"]
        );
    }

    fn grant_ttl(dir: &Path, base: &str, ca: &Path, ttl: &str, apply: bool) -> assert_cmd::Command {
        let mut args = vec!["--ttl", ttl];
        if apply {
            args.push("--apply");
        }
        grant(dir, base, ca, &args)
    }
}
