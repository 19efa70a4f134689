//! Command line: clap derive only. Turning these arguments plus `lapse.toml` into a validated
//! plan happens in `plan.rs`; nothing here checks more than clap can.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "lapse",
    version,
    about = "Find the standing access that machines hold, and make temporary access end by itself",
    long_about = None,
    after_help = "Exit codes: 0 clean, 1 findings at or above --fail-on, 2 usage/config/input error, \
                  3 incomplete scan (a coverage gap) unless --allow-incomplete."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Collect, evaluate and report in one go.
    Scan(ScanArgs),
    /// Collect an inventory and save it as JSON, evaluating nothing.
    Collect(CollectArgs),
    /// Evaluate a saved inventory offline.
    Evaluate(EvaluateArgs),
    /// Compare two JSON reports: new, resolved and persisting findings; credential changes.
    Diff(DiffArgs),
    /// Plan (default) or apply the revocation of provisional grants whose expiry has passed.
    Revoke(RevokeArgs),
    /// Plan (default) or issue a provisional grant that ends by itself: a ledger line, journalled.
    Grant(GrantArgs),
    /// Check and read the journal that `revoke` writes: its hash chain, its head.
    Journal {
        #[command(subcommand)]
        command: JournalCommand,
    },
    /// Join the JSON reports of several shards into one report.
    Merge(MergeArgs),
    /// List and explain rules.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Write a commented starter lapse.toml.
    Init(InitArgs),
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    #[command(flatten)]
    pub sources: SourceArgs,
    #[command(flatten)]
    pub eval: EvalArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub gate: GateArgs,
    /// Compare with an earlier JSON report: the gate then counts only new findings.
    #[arg(long, value_name = "OLD.json")]
    pub baseline: Option<PathBuf>,
    /// The `lapse revoke` journal whose records show revocations as performed (default
    /// lapse.toml `[scan] journal`; none: every expired grant shows as pending).
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CollectArgs {
    #[command(flatten)]
    pub sources: SourceArgs,
    /// Where to write the inventory JSON.
    #[arg(long, value_name = "FILE")]
    pub save: PathBuf,
    /// Read lapse.toml from here (default: ./lapse.toml when present).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// Inventories written by `lapse collect --save` (several shards are joined).
    #[arg(value_name = "INVENTORY.json", required = true)]
    pub inventory: Vec<PathBuf>,
    #[command(flatten)]
    pub eval: EvalArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub gate: GateArgs,
    #[arg(long, value_name = "OLD.json")]
    pub baseline: Option<PathBuf>,
    /// The `lapse revoke` journal to read for the revocation view (as for `scan`).
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
}

/// How lapse reaches each provider (credentials, endpoints, the role it writes with, the CA it
/// trusts): one set of flags shared by `scan`, `collect`, `revoke` and `grant`, and read by the
/// one client builder of each provider. What to scan (`--aws`, `--github-repo`,
/// `--azure-subscription`, …) is not here: those are `scan`'s source switches.
#[derive(Debug, Args, Default, Clone)]
pub struct ClientArgs {
    #[arg(long, value_name = "NAME", help_heading = "AWS (live)")]
    pub aws_profile: Option<String>,
    #[arg(long, value_name = "REGION", help_heading = "AWS (live)")]
    pub aws_region: Option<String>,
    /// Send AWS API calls here (moto, LocalStack). Also read from AWS_ENDPOINT_URL.
    #[arg(long, value_name = "URL", help_heading = "AWS (live)")]
    pub aws_endpoint_url: Option<String>,
    /// Role `revoke --apply` and `grant --apply` assume to write in each account, with
    /// `{account}` in place of the id (separate from the read-only --aws-role-arn). Without it,
    /// lapse writes only in the account of the ambient credentials.
    #[arg(long, value_name = "ARN", help_heading = "AWS (live)")]
    pub aws_revoke_role_arn: Option<String>,

    /// API root, for GitHub Enterprise Server and tests (token: GITHUB_TOKEN or GH_TOKEN).
    #[arg(long, value_name = "URL", help_heading = "GitHub")]
    pub github_api_url: Option<String>,
    /// Authenticate as a GitHub App (with --github-app-key and --github-installation-id).
    #[arg(long, value_name = "ID", help_heading = "GitHub")]
    pub github_app_id: Option<u64>,
    #[arg(long, value_name = "PEM", help_heading = "GitHub")]
    pub github_app_key: Option<PathBuf>,
    #[arg(long, value_name = "ID", help_heading = "GitHub")]
    pub github_installation_id: Option<u64>,

    #[arg(long, value_name = "TENANT", help_heading = "Azure")]
    pub azure_tenant: Option<String>,
    #[arg(long, value_name = "URL", help_heading = "Azure")]
    pub azure_arm_url: Option<String>,
    /// Microsoft Graph root (default https://graph.microsoft.com): the directory lapse reads
    /// principals from.
    #[arg(long, value_name = "URL", help_heading = "Azure")]
    pub azure_graph_url: Option<String>,
    /// Use only this credential: cli, environment, workload-identity, managed-identity.
    #[arg(long, value_name = "KIND", help_heading = "Azure")]
    pub azure_credential: Option<String>,

    /// Trust these CA certificates (PEM) in addition to the system's; SSL_CERT_FILE also works.
    #[arg(long, value_name = "PEM")]
    pub ca_bundle: Option<PathBuf>,
}

/// Where to collect from. Several sources can be combined in one run.
#[derive(Debug, Args, Default, Clone)]
pub struct SourceArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// Offline AWS: output of `aws iam get-account-authorization-details --output json`
    /// (repeat for page files, or name a folder of them), and optionally of
    /// `aws iam list-roles --output json` among them (found by its `Roles` key: role session
    /// limits and descriptions).
    #[arg(long, value_name = "FILE", help_heading = "AWS (offline files)")]
    pub aws_authorization_details: Vec<PathBuf>,
    /// Offline AWS: the credential report, as CSV or as the raw GetCredentialReport JSON.
    #[arg(long, value_name = "FILE", help_heading = "AWS (offline files)")]
    pub aws_credential_report: Vec<PathBuf>,
    /// Offline AWS Organizations: a folder of `aws organizations … --output json` outputs
    /// (list-roots, list-organizational-units-for-parent-<ID>, list-accounts-for-parent-<ID>,
    /// list-policies, describe-policy-<ID>, list-targets-for-policy-<ID>): the SCPs on each
    /// account's path cap what its principals can do.
    #[arg(long, value_name = "DIR", help_heading = "AWS (offline files)")]
    pub aws_organizations: Option<PathBuf>,

    /// Scan AWS through the API with the standard credential chain.
    #[arg(long, help_heading = "AWS (live)")]
    pub aws: bool,
    /// Role to assume in each account, with `{account}` in place of the account id.
    #[arg(long, value_name = "ARN", help_heading = "AWS (live)")]
    pub aws_role_arn: Option<String>,
    /// Accounts to scan through --aws-role-arn: a comma-separated list, or a file with one per line.
    #[arg(long, value_name = "LIST|FILE", help_heading = "AWS (live)")]
    pub aws_accounts: Option<String>,
    #[arg(long, value_name = "ID", help_heading = "AWS (live)")]
    pub aws_external_id: Option<String>,
    /// Also read the SCPs through the Organizations API, with the base credentials (the
    /// management or a delegated-administrator account): read-only calls, as the offline
    /// --aws-organizations folder. What cannot be read is a coverage gap.
    #[arg(
        long,
        help_heading = "AWS (live)",
        conflicts_with = "aws_organizations"
    )]
    pub aws_organizations_live: bool,

    /// GitHub organization to scan (repeatable).
    #[arg(long, value_name = "ORG", help_heading = "GitHub")]
    pub github_org: Vec<String>,
    /// Only these repositories (repeatable); default every repository of the org.
    #[arg(long, value_name = "OWNER/NAME", help_heading = "GitHub")]
    pub github_repo: Vec<String>,

    /// Scan a local repository checkout (workflows, tracked files) with no network.
    #[arg(long, value_name = "PATH", help_heading = "Repository")]
    pub repo: Option<PathBuf>,
    /// Also scan untracked files that no ignore rule excludes (git's index decides otherwise).
    #[arg(long, help_heading = "Repository")]
    pub untracked: bool,
    /// A folder of your own secret patterns (`*.toml`, the format of the built-in `secrets/`);
    /// repeatable, added to `[repo] secrets` of lapse.toml.
    #[arg(long = "secrets", value_name = "DIR", help_heading = "Repository")]
    pub secrets: Vec<PathBuf>,
    /// Also scan every commit reachable from HEAD for secrets (each blob once); a secret is
    /// reported once, with the commit that introduced it and whether HEAD still holds it.
    #[arg(long, help_heading = "Repository")]
    pub git_history: bool,
    /// With --git-history: only commits since this date (anything `git log --since` reads).
    #[arg(
        long,
        value_name = "DATE",
        requires = "git_history",
        help_heading = "Repository"
    )]
    pub git_since: Option<String>,
    /// With --git-history: at most this many commits back from HEAD.
    #[arg(
        long,
        value_name = "N",
        requires = "git_history",
        help_heading = "Repository"
    )]
    pub git_depth: Option<u64>,

    /// Subscription to scan (repeatable); default every subscription the identity can read.
    #[arg(long, value_name = "ID", help_heading = "Azure")]
    pub azure_subscription: Vec<String>,
    /// Grants ledger: provisional grants that cannot carry a tag.
    #[arg(long, value_name = "FILE")]
    pub ledger: Option<PathBuf>,
    /// Accounts, organizations or subscriptions in flight at once.
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,
    /// Scan only shard I of N (accounts, orgs and subscriptions split deterministically).
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// No progress bars.
    #[arg(long, short)]
    pub quiet: bool,
}

/// How to judge.
#[derive(Debug, Args, Default, Clone)]
pub struct EvalArgs {
    /// Read lapse.toml from here (default: ./lapse.toml when present).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Add a folder of your own rule files (repeatable).
    #[arg(long, value_name = "DIR")]
    pub rules: Vec<PathBuf>,
    /// Judge the estate at this instant instead of now (RFC 3339).
    #[arg(long, value_name = "RFC3339")]
    pub as_of: Option<String>,
}

#[derive(Debug, Args, Default, Clone)]
pub struct OutputArgs {
    /// Folder for the reports.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Report formats (comma-separated or repeated); default json,html.
    #[arg(long, value_enum, value_delimiter = ',', value_name = "FORMAT")]
    pub format: Vec<Format>,
    /// Append this run's findings and summary to a Parquet history file.
    #[arg(long, value_name = "FILE.parquet")]
    pub history: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, ValueEnum)]
pub enum Format {
    Json,
    Html,
    Sarif,
    Ocsf,
    Csv,
    Parquet,
    Markdown,
}

#[derive(Debug, Args, Default, Clone)]
pub struct GateArgs {
    /// Exit 1 when a finding is at or above this severity (default high).
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub fail_on: Option<FailOn>,
    /// Exit by findings alone even when a source left a coverage gap.
    #[arg(long)]
    pub allow_incomplete: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailOn {
    Critical,
    High,
    Medium,
    Low,
    Info,
    /// Never fail on findings (coverage gaps still exit 3).
    Never,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    #[arg(value_name = "OLD.json")]
    pub old: PathBuf,
    #[arg(value_name = "NEW.json")]
    pub new: PathBuf,
    /// Write the drift as JSON here as well.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    #[command(flatten)]
    pub gate: GateArgs,
}

#[derive(Debug, Args)]
pub struct RevokeArgs {
    #[command(flatten)]
    pub sources: SourceArgs,
    #[command(flatten)]
    pub eval: EvalArgs,
    /// Execute the plan. Without it, lapse prints the plan and changes nothing.
    #[arg(long)]
    pub apply: bool,
    /// Append-only journal of every action (JSONL).
    #[arg(long, value_name = "FILE", default_value = "lapse-journal.jsonl")]
    pub journal: PathBuf,
    /// Days between deactivating an AWS access key and deleting it (0 to 365).
    #[arg(long, value_name = "DAYS", default_value_t = 7,
          value_parser = clap::value_parser!(u32).range(0..=365))]
    pub grace: u32,
    /// Write the plan as JSON here as well.
    #[arg(long, value_name = "FILE")]
    pub plan_json: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct GrantArgs {
    /// AWS: the IAM user or role ARN that receives the grant.
    #[arg(
        long,
        value_name = "ARN",
        help_heading = "What",
        required_unless_present_any = ["deploy_key_repo", "assignee"],
        conflicts_with_all = ["deploy_key_repo", "assignee"]
    )]
    pub principal: Option<String>,
    /// AWS: attach this managed policy for the TTL.
    #[arg(
        long,
        value_name = "POLICY_ARN",
        help_heading = "What",
        conflicts_with = "inline_policy",
        requires = "principal"
    )]
    pub attach_policy: Option<String>,
    /// Write this policy document as an inline policy for the TTL (with --policy-name).
    #[arg(
        long,
        value_name = "FILE",
        help_heading = "What",
        requires = "policy_name"
    )]
    pub inline_policy: Option<PathBuf>,
    #[arg(
        long,
        value_name = "NAME",
        help_heading = "What",
        requires = "inline_policy"
    )]
    pub policy_name: Option<String>,
    /// GitHub: add a deploy key to this repository for the TTL.
    #[arg(long, value_name = "OWNER/NAME", help_heading = "What", requires_all = ["public_key", "title"])]
    pub deploy_key_repo: Option<String>,
    /// GitHub: the SSH public key (.pub) of the deploy key.
    #[arg(
        long,
        value_name = "FILE",
        help_heading = "What",
        requires = "deploy_key_repo"
    )]
    pub public_key: Option<PathBuf>,
    /// GitHub: the deploy key's title (lapse appends the expiry marker).
    #[arg(
        long,
        value_name = "TEXT",
        help_heading = "What",
        requires = "deploy_key_repo"
    )]
    pub title: Option<String>,
    /// Azure: the object id (service principal, managed identity) that receives the role.
    #[arg(long, value_name = "OBJECT_ID", help_heading = "What", requires_all = ["role", "scope"],
          conflicts_with = "deploy_key_repo")]
    pub assignee: Option<String>,
    /// Azure: the role's name (`Reader`, `Storage Blob Data Contributor`).
    #[arg(
        long,
        value_name = "NAME",
        help_heading = "What",
        requires = "assignee"
    )]
    pub role: Option<String>,
    /// Azure: where the role applies (`/subscriptions/ID[/resourceGroups/NAME…]`).
    #[arg(
        long,
        value_name = "SCOPE",
        help_heading = "What",
        requires = "assignee"
    )]
    pub scope: Option<String>,
    /// GitHub: a read-write key (default read-only).
    #[arg(long, help_heading = "What", requires = "deploy_key_repo")]
    pub write: bool,
    /// How long the grant lasts: 90m, 2h, 1d (at most lapse.toml [grant] max_ttl, default 24h).
    #[arg(long, value_name = "DURATION", help_heading = "Why and how long")]
    pub ttl: String,
    #[arg(long, value_name = "TEXT", help_heading = "Why and how long")]
    pub reason: String,
    #[arg(long, value_name = "NAME", help_heading = "Why and how long")]
    pub requested_by: String,
    /// Who approved it: declared, not verified by lapse.
    #[arg(long, value_name = "NAME", help_heading = "Why and how long")]
    pub approved_by: Option<String>,
    #[arg(long, value_name = "ID", help_heading = "Why and how long")]
    pub ticket: Option<String>,
    /// Grant even when what is granted makes the principal admin.
    #[arg(long)]
    pub allow_admin: bool,
    /// The grants ledger `lapse revoke --ledger` reads.
    #[arg(long, value_name = "FILE")]
    pub ledger: PathBuf,
    /// The journal (shared with `lapse revoke`).
    #[arg(long, value_name = "FILE", default_value = "lapse-journal.jsonl")]
    pub journal: PathBuf,
    /// Execute the plan. Without it, lapse prints the plan and changes nothing.
    #[arg(long)]
    pub apply: bool,
    /// Read lapse.toml from here (default: ./lapse.toml when present).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Credentials and endpoints: the same client flags as `revoke`.
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Subcommand)]
pub enum JournalCommand {
    /// Exit 0 when the hash chain holds, 1 naming the first broken line.
    Verify {
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// A head printed earlier by `lapse journal head`: it must still be in the chain, so a
        /// journal cut short is caught too.
        #[arg(long, value_name = "HASH")]
        head: Option<String>,
    },
    /// Print the hash of the last record, to keep elsewhere (a CI artifact, a ticket).
    Head {
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Each grant's lifecycle: requested, approved, issued, extended, expired, revoked.
    Show {
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Only the grants of this principal (ARN, object id, repository).
        #[arg(long, value_name = "ID")]
        principal: Option<String>,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Shard reports to join.
    #[arg(value_name = "REPORT.json", required = true)]
    pub reports: Vec<PathBuf>,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Every rule with its id, family, severity and title.
    List {
        #[command(flatten)]
        eval: EvalArgs,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
        /// Print the Markdown table used in the README.
        #[arg(long, conflicts_with = "json")]
        markdown: bool,
    },
    /// A rule's rationale, condition, parameters, remediation and references.
    Explain {
        #[arg(value_name = "ID")]
        id: String,
        #[command(flatten)]
        eval: EvalArgs,
    },
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where to write it.
    #[arg(long, value_name = "FILE", default_value = "lapse.toml")]
    pub path: PathBuf,
    /// Overwrite an existing file.
    #[arg(long)]
    pub force: bool,
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    /// Every client flag, as `grant`, `revoke` and `scan` all take them.
    const CLIENT_FLAGS: &[&str] = &[
        "--aws-profile",
        "ops",
        "--aws-region",
        "eu-west-1",
        "--aws-endpoint-url",
        "http://127.0.0.1:5000",
        "--aws-revoke-role-arn",
        "arn:aws:iam::{account}:role/LapseRevoke",
        "--github-api-url",
        "https://ghe.example.com/api/v3",
        "--github-app-id",
        "7",
        "--github-app-key",
        "app.pem",
        "--github-installation-id",
        "9",
        "--azure-tenant",
        "contoso.onmicrosoft.com",
        "--azure-arm-url",
        "https://management.usgovcloudapi.net",
        "--azure-graph-url",
        "https://graph.microsoft.us",
        "--ca-bundle",
        "ca.pem",
    ];

    const GRANT: &[&str] = &[
        "lapse",
        "grant",
        "--principal",
        "arn:aws:iam::123456789012:role/worker",
        "--attach-policy",
        "arn:aws:iam::123456789012:policy/Deploy",
        "--ttl",
        "2h",
        "--reason",
        "INC-1",
        "--requested-by",
        "alice",
        "--ledger",
        "grants.jsonl",
    ];

    fn expected_client() -> ClientArgs {
        ClientArgs {
            aws_profile: Some("ops".into()),
            aws_region: Some("eu-west-1".into()),
            aws_endpoint_url: Some("http://127.0.0.1:5000".into()),
            aws_revoke_role_arn: Some("arn:aws:iam::{account}:role/LapseRevoke".into()),
            github_api_url: Some("https://ghe.example.com/api/v3".into()),
            github_app_id: Some(7),
            github_app_key: Some(PathBuf::from("app.pem")),
            github_installation_id: Some(9),
            azure_tenant: Some("contoso.onmicrosoft.com".into()),
            azure_arm_url: Some("https://management.usgovcloudapi.net".into()),
            azure_graph_url: Some("https://graph.microsoft.us".into()),
            azure_credential: None,
            ca_bundle: Some(PathBuf::from("ca.pem")),
        }
    }

    fn client_debug(client: &ClientArgs) -> String {
        format!("{client:?}")
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn grant_takes_every_client_flag() {
        let args: Vec<&str> = GRANT.iter().chain(CLIENT_FLAGS).copied().collect();
        let Command::Grant(grant) = Cli::try_parse_from(args).unwrap().command else {
            panic!("not grant");
        };
        assert_eq!(
            client_debug(&grant.client),
            client_debug(&expected_client())
        );
        assert_eq!(
            grant.attach_policy.as_deref(),
            Some("arn:aws:iam::123456789012:policy/Deploy")
        );
    }

    #[test]
    fn revoke_and_scan_take_the_same_client_flags() {
        for command in ["revoke", "scan"] {
            let args: Vec<&str> = ["lapse", command]
                .iter()
                .chain(CLIENT_FLAGS)
                .copied()
                .collect();
            let sources = match Cli::try_parse_from(args).unwrap().command {
                Command::Revoke(revoke) => revoke.sources,
                Command::Scan(scan) => scan.sources,
                _ => panic!("{command}"),
            };
            assert_eq!(
                client_debug(&sources.client),
                client_debug(&expected_client()),
                "{command}"
            );
        }
    }

    #[test]
    fn grant_refuses_scan_source_switches() {
        for extra in [
            &["--aws"][..],
            &["--github-repo", "acme/api"],
            &[
                "--azure-subscription",
                "aaaaaaaa-0000-0000-0000-000000000000",
            ],
            &["--aws-role-arn", "arn:aws:iam::{account}:role/LapseAudit"],
        ] {
            let args: Vec<&str> = GRANT.iter().chain(extra).copied().collect();
            let err = Cli::try_parse_from(args).unwrap_err();
            assert_eq!(
                err.kind(),
                clap::error::ErrorKind::UnknownArgument,
                "{extra:?}"
            );
        }
    }
}
