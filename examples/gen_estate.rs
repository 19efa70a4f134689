//! Benchmark input: a seeded generator of synthetic AWS estates shaped like real
//! `aws iam get-account-authorization-details --output json` output (URL-encoded policy
//! documents, groups, inline and managed policies, trust policies, tags) plus the matching
//! credential report CSV, and an `aws organizations` folder (`organizations/`) placing both
//! accounts under OUs with service control policies. A tenth of the users and roles carry a
//! permissions boundary (one of two managed policies written after the generated ones).
//!
//! cargo run --release --example gen_estate -- --users 100000 --roles 100000 --policies 50000 --out /tmp/estate
//!
//! The same seed always writes the same files, so figures can be reproduced.

use std::fmt::Write as _;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use serde_json::{Value, json};

const ACCOUNT: &str = "210987654321";
/// A second account of the same run: a fifth of the roles live there, trusting the first.
const ACCOUNT2: &str = "210987654322";

/// xorshift64*: small, fast, deterministic; quality is ample for shaping test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

struct Args {
    users: usize,
    roles: usize,
    policies: usize,
    seed: u64,
    out: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        users: 10_000,
        roles: 0,
        policies: 1_000,
        seed: 42,
        out: PathBuf::from("estate"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<usize>()
                .map_err(|_| format!("{flag}: not a number: {value}"))
        };
        match flag.as_str() {
            "--users" => args.users = number()?,
            "--roles" => args.roles = number()?,
            "--policies" => args.policies = number()?,
            "--seed" => args.seed = number()? as u64,
            "--out" => args.out = PathBuf::from(&value),
            _ => {
                return Err(format!(
                    "unknown flag {flag} (--users --roles --policies --seed --out)"
                ));
            }
        }
    }
    Ok(args)
}

fn encode(doc: &Value) -> String {
    percent_encoding::utf8_percent_encode(&doc.to_string(), percent_encoding::NON_ALPHANUMERIC)
        .to_string()
}

const SERVICES: &[&str] = &[
    "s3",
    "dynamodb",
    "sqs",
    "sns",
    "ec2",
    "lambda",
    "logs",
    "kms",
    "ecr",
    "cloudwatch",
];
const VERBS: &[&str] = &[
    "Get", "List", "Describe", "Put", "Delete", "Create", "Update", "Tag",
];

fn date(days_ago: u64) -> String {
    let t = chrono::DateTime::parse_from_rfc3339("2026-11-20T00:00:00Z").unwrap()
        - chrono::Duration::days(days_ago as i64);
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn policy_document(rng: &mut Rng) -> Value {
    let statements: Vec<Value> = (0..1 + rng.below(4))
        .map(|_| {
            let service = SERVICES[rng.below(SERVICES.len() as u64) as usize];
            let actions: Vec<String> = match rng.below(20) {
                0 => vec![format!("{service}:*")],
                1 => vec!["*".to_string()],
                _ => (0..1 + rng.below(5))
                    .map(|_| {
                        format!(
                            "{service}:{}{}",
                            VERBS[rng.below(VERBS.len() as u64) as usize],
                            ["Object", "Item", "Queue", "*"][rng.below(4) as usize]
                        )
                    })
                    .collect(),
            };
            let mut resource = if rng.chance(50) {
                json!("*")
            } else {
                json!(format!("arn:aws:{service}:::res-{}/*", rng.below(1000)))
            };
            // The escalation and chain analysis's work: assume-role on role/* and *, PassRole
            // with a service that runs what it is given.
            let actions = match rng.below(25) {
                0 => {
                    resource = json!(["arn:aws:iam::*:role/*", "*"][rng.below(2) as usize]);
                    vec!["sts:AssumeRole".to_string()]
                }
                1 => vec![
                    "iam:PassRole".to_string(),
                    [
                        "ec2:RunInstances",
                        "lambda:CreateFunction",
                        "lambda:InvokeFunction",
                    ][rng.below(3) as usize]
                        .to_string(),
                ],
                _ => actions,
            };
            let effect = if rng.chance(3) { "Deny" } else { "Allow" };
            json!({"Effect": effect, "Action": actions, "Resource": resource})
        })
        .collect();
    json!({"Version": "2012-10-17", "Statement": statements})
}

fn role_account(i: usize) -> &'static str {
    if i.is_multiple_of(5) {
        ACCOUNT2
    } else {
        ACCOUNT
    }
}

fn trust_document(rng: &mut Rng, i: usize, roles: usize) -> Value {
    let principal = match rng.below(14) {
        0 => {
            json!({"AWS": format!("arn:aws:iam::{:012}:root", 100_000_000_000u64 + rng.below(1000))})
        }
        // `:root` of its own account or of the other account of the run.
        10 | 11 => {
            json!({"AWS": format!("arn:aws:iam::{}:root", [ACCOUNT, ACCOUNT2][rng.below(2) as usize])})
        }
        // The next role by ARN: long chains that close into a cycle.
        12 | 13 => {
            let next = (i + 1) % roles.max(1);
            json!({"AWS": format!("arn:aws:iam::{}:role/role-{next}", role_account(next))})
        }
        1 => {
            json!({"Federated": format!("arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com")})
        }
        _ => json!({"Service": format!("{}.amazonaws.com", SERVICES[i % SERVICES.len()])}),
    };
    let mut statement =
        json!({"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"});
    if principal.get("Federated").is_some() {
        statement["Action"] = json!("sts:AssumeRoleWithWebIdentity");
        if rng.chance(50) {
            statement["Condition"] = json!({"StringLike": {"token.actions.githubusercontent.com:sub": format!("repo:org/repo-{i}:*")}});
        }
    }
    json!({"Version": "2012-10-17", "Statement": [statement]})
}

fn managed_arn(i: usize) -> String {
    format!("arn:aws:iam::{ACCOUNT}:policy/generated-{i}")
}

fn attached(rng: &mut Rng, policies: usize) -> Value {
    let n = if policies == 0 { 0 } else { rng.below(4) };
    Value::Array(
        (0..n)
            .map(|_| {
                let p = rng.below(policies as u64) as usize;
                json!({"PolicyName": format!("generated-{p}"), "PolicyArn": managed_arn(p)})
            })
            .collect(),
    )
}

/// The two boundary policies, written after the generated ones: one allows only reads of data
/// services (it cuts every IAM, PassRole and AssumeRole path), the other allows everything but
/// IAM writes.
const BOUNDARIES: [&str; 2] = ["boundary-data-read", "boundary-no-iam-write"];

fn boundary_document(i: usize) -> Value {
    match i {
        0 => json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["s3:Get*", "s3:List*", "dynamodb:Get*", "dynamodb:Query"], "Resource": "*"}]}),
        _ => json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Deny", "Action": ["iam:Create*", "iam:Put*", "iam:Attach*", "iam:Update*", "iam:SetDefaultPolicyVersion"], "Resource": "*"}]}),
    }
}

/// A tenth of the principals (by index, so the seeded stream is the same as without it) carry
/// one of the two boundaries.
fn boundary(i: usize) -> Option<Value> {
    (i % 10 == 3).then(|| {
        let name = BOUNDARIES[(i / 10) % 2];
        json!({"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": format!("arn:aws:iam::{ACCOUNT}:policy/{name}")})
    })
}

fn tags(rng: &mut Rng) -> Value {
    match rng.below(10) {
        0 => {
            json!([{"Key": "lapse:expires-at", "Value": date(rng.below(60)).replace("2026", "2027")}])
        }
        1 => json!([{"Key": "lapse:expires-at", "Value": date(rng.below(60))}]),
        2 => json!([{"Key": "team", "Value": "payments"}]),
        _ => json!([]),
    }
}

fn write_details(args: &Args, rng: &mut Rng) -> std::io::Result<()> {
    let file = std::fs::File::create(args.out.join("authorization-details.json"))?;
    let mut w = BufWriter::new(file);
    write!(w, "{{\"UserDetailList\":[")?;
    for i in 0..args.users {
        let inline = if rng.chance(10) {
            json!([{"PolicyName": "inline", "PolicyDocument": encode(&policy_document(rng))}])
        } else {
            json!([])
        };
        let mut user = json!({
            "Path": "/", "UserName": format!("user-{i}"), "UserId": format!("AIDA{i:016}"),
            "Arn": format!("arn:aws:iam::{ACCOUNT}:user/user-{i}"), "CreateDate": date(rng.below(1500)),
            "UserPolicyList": inline, "GroupList": if rng.chance(30) { json!(["developers"]) } else { json!([]) },
            "AttachedManagedPolicies": attached(rng, args.policies), "Tags": tags(rng),
        });
        if let Some(b) = boundary(i) {
            user["PermissionsBoundary"] = b;
        }
        if i > 0 {
            w.write_all(b",")?;
        }
        serde_json::to_writer(&mut w, &user)?;
    }
    write!(w, "],\"GroupDetailList\":[")?;
    let group = json!({"Path": "/", "GroupName": "developers", "GroupId": "AGPA0000000000000001",
        "Arn": format!("arn:aws:iam::{ACCOUNT}:group/developers"), "CreateDate": date(2000),
        "GroupPolicyList": [], "AttachedManagedPolicies": attached(rng, args.policies)});
    serde_json::to_writer(&mut w, &group)?;
    write!(w, "],\"RoleDetailList\":[")?;
    let mut sessions = Vec::with_capacity(args.roles);
    for i in 0..args.roles {
        let last_used = if rng.chance(20) {
            json!({})
        } else {
            json!({"LastUsedDate": date(rng.below(400)), "Region": "eu-west-1"})
        };
        let mut role = json!({
            "Path": "/", "RoleName": format!("role-{i}"), "RoleId": format!("AROA{i:016}"),
            "Arn": format!("arn:aws:iam::{}:role/role-{i}", role_account(i)), "CreateDate": date(rng.below(1500)),
            "AssumeRolePolicyDocument": encode(&trust_document(rng, i, args.roles)), "InstanceProfileList": [],
            "RolePolicyList": [], "AttachedManagedPolicies": attached(rng, args.policies), "Tags": tags(rng),
            "RoleLastUsed": last_used,
        });
        if let Some(b) = boundary(i) {
            role["PermissionsBoundary"] = b;
        }
        // MaxSessionDuration is not in GetAccountAuthorizationDetails: ListRoles carries it.
        sessions.push((i, if rng.chance(10) { 43200 } else { 3600 }));
        if i > 0 {
            w.write_all(b",")?;
        }
        serde_json::to_writer(&mut w, &role)?;
    }
    write!(w, "],\"Policies\":[")?;
    for i in 0..args.policies {
        let policy = json!({
            "PolicyName": format!("generated-{i}"), "PolicyId": format!("ANPA{i:016}"), "Arn": managed_arn(i),
            "Path": "/", "DefaultVersionId": "v1", "AttachmentCount": 1, "IsAttachable": true,
            "CreateDate": date(2000), "UpdateDate": date(100),
            "PolicyVersionList": [{"Document": encode(&policy_document(rng)), "VersionId": "v1", "IsDefaultVersion": true, "CreateDate": date(100)}],
        });
        if i > 0 {
            w.write_all(b",")?;
        }
        serde_json::to_writer(&mut w, &policy)?;
    }
    for (n, name) in BOUNDARIES.iter().enumerate() {
        if args.policies > 0 || n > 0 {
            w.write_all(b",")?;
        }
        let policy = json!({
            "PolicyName": name, "PolicyId": format!("ANPB{n:016}"), "Arn": format!("arn:aws:iam::{ACCOUNT}:policy/{name}"),
            "Path": "/", "DefaultVersionId": "v1", "AttachmentCount": 0, "PermissionsBoundaryUsageCount": 1,
            "IsAttachable": true, "CreateDate": date(2000), "UpdateDate": date(100),
            "PolicyVersionList": [{"Document": encode(&boundary_document(n)), "VersionId": "v1", "IsDefaultVersion": true, "CreateDate": date(100)}],
        });
        serde_json::to_writer(&mut w, &policy)?;
    }
    write!(w, "],\"IsTruncated\":false}}")?;
    w.flush()?;
    write_list_roles(args, &sessions)
}

/// `aws iam list-roles --output json`, reduced to what lapse reads from it.
fn write_list_roles(args: &Args, sessions: &[(usize, u32)]) -> std::io::Result<()> {
    let file = std::fs::File::create(args.out.join("list-roles.json"))?;
    let mut w = BufWriter::new(file);
    write!(w, "{{\"Roles\":[")?;
    for (n, (i, seconds)) in sessions.iter().enumerate() {
        let role = json!({
            "Path": "/", "RoleName": format!("role-{i}"), "RoleId": format!("AROA{i:016}"),
            "Arn": format!("arn:aws:iam::{}:role/role-{i}", role_account(*i)), "CreateDate": date(100),
            "MaxSessionDuration": seconds,
        });
        if n > 0 {
            w.write_all(b",")?;
        }
        serde_json::to_writer(&mut w, &role)?;
    }
    write!(w, "]}}")?;
    w.flush()
}

/// `aws organizations … --output json` outputs, named as `--aws-organizations` reads them: a root
/// with FullAWSAccess, OU `workloads` (deny IAM user keys and leaving the organization) holding
/// the first account, and under it OU `sandbox` (deny outside eu-west-1, a conditional deny)
/// holding the second.
fn write_organization(args: &Args) -> std::io::Result<()> {
    let dir = args.out.join("organizations");
    std::fs::create_dir_all(&dir)?;
    let put = |name: &str, value: Value| -> std::io::Result<()> {
        std::fs::write(
            dir.join(format!("{name}.json")),
            serde_json::to_vec_pretty(&value)?,
        )
    };
    let (root, workloads, sandbox) = ("r-gen1", "ou-gen1-workloads", "ou-gen1-sandbox");
    put(
        "describe-organization",
        json!({"Organization": {"Id": "o-generated1", "MasterAccountId": "210987654300"}}),
    )?;
    put(
        "list-roots",
        json!({"Roots": [{"Id": root, "Name": "Root", "Arn": format!("arn:aws:organizations::210987654300:root/o-generated1/{root}")}]}),
    )?;
    put(
        &format!("list-organizational-units-for-parent-{root}"),
        json!({"OrganizationalUnits": [{"Id": workloads, "Name": "workloads"}]}),
    )?;
    put(
        &format!("list-organizational-units-for-parent-{workloads}"),
        json!({"OrganizationalUnits": [{"Id": sandbox, "Name": "sandbox"}]}),
    )?;
    put(
        &format!("list-organizational-units-for-parent-{sandbox}"),
        json!({"OrganizationalUnits": []}),
    )?;
    put(
        &format!("list-accounts-for-parent-{root}"),
        json!({"Accounts": [{"Id": "210987654300", "Name": "management"}]}),
    )?;
    put(
        &format!("list-accounts-for-parent-{workloads}"),
        json!({"Accounts": [{"Id": ACCOUNT, "Name": "workloads"}]}),
    )?;
    put(
        &format!("list-accounts-for-parent-{sandbox}"),
        json!({"Accounts": [{"Id": ACCOUNT2, "Name": "sandbox"}]}),
    )?;
    let scps = [
        (
            "p-FullAWSAccess",
            "FullAWSAccess",
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
            vec![root, workloads, sandbox, ACCOUNT, ACCOUNT2],
        ),
        (
            "p-gen00000001",
            "deny-user-keys-and-leaving",
            json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Deny", "Action": ["iam:CreateAccessKey", "iam:CreateLoginProfile", "iam:UpdateLoginProfile", "organizations:LeaveOrganization"], "Resource": "*"}]}),
            vec![workloads],
        ),
        (
            "p-gen00000002",
            "sandbox-guardrails",
            json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Deny", "Action": ["iam:PassRole", "iam:SetDefaultPolicyVersion"], "Resource": "*"},
            {"Effect": "Deny", "NotAction": ["iam:*", "sts:*"], "Resource": "*", "Condition": {"StringNotEquals": {"aws:RequestedRegion": "eu-west-1"}}}]}),
            vec![sandbox],
        ),
    ];
    put(
        "list-policies",
        json!({"Policies": scps.iter().map(|(id, name, _, _)| json!({"Id": id, "Name": name, "Type": "SERVICE_CONTROL_POLICY", "AwsManaged": *id == "p-FullAWSAccess"})).collect::<Vec<_>>()}),
    )?;
    for (id, name, document, targets) in &scps {
        put(
            &format!("describe-policy-{id}"),
            json!({"Policy": {"PolicySummary": {"Id": id, "Name": name, "Type": "SERVICE_CONTROL_POLICY"}, "Content": document.to_string()}}),
        )?;
        put(
            &format!("list-targets-for-policy-{id}"),
            json!({"Targets": targets.iter().map(|t| json!({"TargetId": t})).collect::<Vec<_>>()}),
        )?;
    }
    Ok(())
}

fn report_date(days_ago: u64) -> String {
    date(days_ago).replace('Z', "+00:00")
}

fn write_credential_report(args: &Args, rng: &mut Rng) -> std::io::Result<()> {
    let file = std::fs::File::create(args.out.join("credential-report.csv"))?;
    let mut w = BufWriter::new(file);
    writeln!(
        w,
        "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated"
    )?;
    let mut line = String::new();
    for i in 0..args.users {
        line.clear();
        let password = rng.chance(10);
        let _ = write!(
            line,
            "user-{i},arn:aws:iam::{ACCOUNT}:user/user-{i},{},{},{},N/A,N/A,{}",
            report_date(1500),
            password,
            if password {
                report_date(rng.below(30))
            } else {
                "N/A".into()
            },
            password
        );
        for _slot in 0..2 {
            if rng.chance(60) {
                let used = match rng.below(10) {
                    0 => "N/A".to_string(),
                    _ => report_date(rng.below(200)),
                };
                let _ = write!(
                    line,
                    ",{},{},{},eu-west-1,s3",
                    rng.chance(90),
                    report_date(rng.below(400)),
                    used
                );
            } else {
                line.push_str(",false,N/A,N/A,N/A,N/A");
            }
        }
        line.push_str(",false,N/A,false,N/A");
        writeln!(w, "{line}")?;
    }
    w.flush()
}

fn main() -> std::process::ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("error: {message}");
            return std::process::ExitCode::from(2);
        }
    };
    let mut rng = Rng(args.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let result = std::fs::create_dir_all(&args.out)
        .and_then(|_| write_details(&args, &mut rng))
        .and_then(|_| write_credential_report(&args, &mut rng))
        .and_then(|_| write_organization(&args));
    if let Err(e) = result {
        eprintln!("error: writing {}: {e}", args.out.display());
        return std::process::ExitCode::from(2);
    }
    eprintln!(
        "wrote {} users, {} roles, {} policies to {}",
        args.users,
        args.roles,
        args.policies,
        args.out.display()
    );
    std::process::ExitCode::SUCCESS
}
