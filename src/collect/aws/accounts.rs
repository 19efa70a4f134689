//! Collect, AWS live: the validated plan of a live scan — which accounts, through which role,
//! how many at once — built once from the flags and the `[aws]` table of lapse.toml.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::cli::SourceArgs;
use crate::config::{ConfigError, ProviderTable};
use crate::plan::Shard;

/// Accounts in flight when neither `--concurrency` nor the config says.
pub const DEFAULT_CONCURRENCY: usize = 8;
/// Attempts per API call (the first try plus retries) in the SDK's standard retry mode.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;
/// The placeholder `--aws-role-arn` carries for the account id.
pub const ACCOUNT_PLACEHOLDER: &str = "{account}";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LiveOptionsError {
    /// A `[aws]` key of lapse.toml, already naming the file and line.
    #[error("{0}")]
    Config(String),
    #[error("--aws-accounts {source_name}:{line}: '{value}' is not a 12-digit AWS account id")]
    BadAccount {
        source_name: String,
        line: usize,
        value: String,
    },
    #[error("--aws-accounts {path}: {message}")]
    AccountsFile { path: String, message: String },
    #[error("--aws-accounts needs --aws-role-arn (the role to assume in each account)")]
    AccountsWithoutRole,
    #[error(
        "--aws-role-arn '{0}' needs '{{account}}' in place of the account id when --aws-accounts lists several"
    )]
    RoleWithoutPlaceholder(String),
    #[error("--aws-role-arn with '{{account}}' needs --aws-accounts (which accounts to scan)")]
    RoleWithoutAccounts,
    #[error("--shard '{0}': expected I/N with 0 <= I < N, e.g. 0/4")]
    BadShard(String),
    #[error(
        "--aws-revoke-role-arn '{0}': expected a role ARN (arn:aws:iam::{{account}}:role/NAME)"
    )]
    BadRevokeRole(String),
    #[error("--concurrency must be at least 1")]
    ZeroConcurrency,
}

/// `[aws]` in lapse.toml. Flags win over these keys.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAwsConfig {
    profile: Option<String>,
    region: Option<String>,
    endpoint_url: Option<String>,
    role_arn: Option<String>,
    /// The role `revoke` (and `grant`) assume to write, `{account}` in place of the id.
    revoke_role_arn: Option<String>,
    /// Session name on every assumed role (default `lapse-audit` / `lapse-revoke`).
    session_name: Option<String>,
    /// Lifetime of assumed credentials (900-43200); an apply refreshes them when it outlasts it.
    session_duration_secs: Option<u32>,
    /// Account ids, or one string naming a file (same forms as `--aws-accounts`).
    accounts: Option<AccountsValue>,
    external_id: Option<String>,
    /// Read SCPs through the Organizations API (as `--aws-organizations-live`).
    organizations: Option<bool>,
    concurrency: Option<usize>,
    max_attempts: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum AccountsValue {
    List(Vec<String>),
    One(String),
}

/// How to wait for the credential report: GenerateCredentialReport is polled until COMPLETE.
#[derive(Debug, Clone)]
pub struct ReportPolling {
    pub max_polls: u32,
    pub first_delay: Duration,
    pub max_delay: Duration,
}

impl Default for ReportPolling {
    fn default() -> Self {
        ReportPolling {
            max_polls: 10,
            first_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
        }
    }
}

/// Where a live scan goes: either the account of the ambient credentials (`targets` empty), or
/// every listed account through `role_arn`.
#[derive(Debug, Clone, Default)]
pub struct LiveOptions {
    pub profile: Option<String>,
    pub region: Option<String>,
    /// Overrides the endpoint of every AWS call; `AWS_ENDPOINT_URL` is read by the SDK itself.
    pub endpoint_url: Option<String>,
    /// Role ARN template with `{account}`; `None` scans with the ambient credentials.
    pub role_arn: Option<String>,
    pub external_id: Option<String>,
    /// Role template with `{account}` that `revoke` and `grant` assume to write; `None`:
    /// they write with the ambient credentials, in the ambient account only.
    pub revoke_role_arn: Option<String>,
    /// Session name of assumed roles; `None`: `lapse-audit` to read, `lapse-revoke` to write.
    pub session_name: Option<String>,
    /// Lifetime of assumed credentials, in seconds.
    pub session_seconds: u32,
    /// Accounts to assume into, sorted, deduplicated, already cut to this shard.
    pub accounts: Vec<String>,
    /// With no account list: whether this shard owns the ambient account (shard index 0).
    pub scan_ambient: bool,
    pub concurrency: usize,
    pub max_attempts: u32,
    /// Also read the organization's SCPs through the Organizations API.
    pub organizations: bool,
    pub quiet: bool,
    pub report_polling: ReportPolling,
}

impl LiveOptions {
    /// Flags first, then `[aws]` from lapse.toml; checks everything a run would trip on later.
    pub fn from_args(
        args: &SourceArgs,
        table: Option<&ProviderTable>,
    ) -> Result<LiveOptions, LiveOptionsError> {
        let raw: RawAwsConfig = table
            .map(ProviderTable::read)
            .transpose()?
            .unwrap_or_default();
        let role_arn = args.aws_role_arn.clone().or(raw.role_arn);
        let accounts = match (&args.aws_accounts, raw.accounts, table) {
            (Some(flag), _, _) => parse_accounts(flag)?,
            (None, Some(value), Some(table)) => table_accounts(value, table)?,
            (None, _, _) => Vec::new(),
        };
        check_role(role_arn.as_deref(), &accounts)?;
        let shard = args
            .shard
            .as_deref()
            .map(|text| {
                Shard::parse(text).map_err(|_| LiveOptionsError::BadShard(text.to_string()))
            })
            .transpose()?;
        let concurrency = args
            .concurrency
            .or(raw.concurrency)
            .unwrap_or(DEFAULT_CONCURRENCY);
        if concurrency == 0 {
            return Err(LiveOptionsError::ZeroConcurrency);
        }
        let revoke_role_arn = args
            .client
            .aws_revoke_role_arn
            .clone()
            .or(raw.revoke_role_arn);
        if let Some(arn) = &revoke_role_arn
            && !is_role_template(arn)
        {
            return Err(LiveOptionsError::BadRevokeRole(printable(arn)));
        }
        let session_seconds = raw
            .session_duration_secs
            .unwrap_or(super::session::DEFAULT_SESSION_SECONDS);
        if let (false, Some(table)) = ((900..=43_200).contains(&session_seconds), table) {
            let message = format!("must be between 900 and 43200, got {session_seconds}");
            return Err(table.invalid("session_duration_secs", message).into());
        }
        if let (Some(name), Some(table)) = (&raw.session_name, table)
            && !is_session_name(name)
        {
            let message = "2-64 characters of letters, digits and =,.@-";
            return Err(table.invalid("session_name", message).into());
        }
        let max_attempts = raw.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS);
        if let (false, Some(table)) = ((1..=20).contains(&max_attempts), table) {
            let message = format!("must be between 1 and 20, got {max_attempts}");
            return Err(table.invalid("max_attempts", message).into());
        }
        // The ambient account counts as index 0 of a one-item list.
        let listed = !accounts.is_empty();
        let accounts = match shard {
            Some(shard) => shard.select(&accounts),
            None => accounts,
        };
        let ambient_in_shard = shard.is_none_or(|s| s.index == 0);
        Ok(LiveOptions {
            profile: args.client.aws_profile.clone().or(raw.profile),
            region: args.client.aws_region.clone().or(raw.region),
            endpoint_url: args.client.aws_endpoint_url.clone().or(raw.endpoint_url),
            external_id: args.aws_external_id.clone().or(raw.external_id),
            scan_ambient: !listed && ambient_in_shard,
            accounts,
            role_arn,
            revoke_role_arn,
            session_name: raw.session_name,
            session_seconds,
            concurrency,
            max_attempts,
            organizations: args.aws_organizations_live
                || (raw.organizations.unwrap_or(false) && args.aws_organizations.is_none()),
            quiet: args.quiet,
            report_polling: ReportPolling::default(),
        })
    }

    /// The role to assume in `account`.
    pub fn role_for(&self, account: &str) -> Option<String> {
        self.role_arn
            .as_ref()
            .map(|t| t.replace(ACCOUNT_PLACEHOLDER, account))
    }
}

impl From<ConfigError> for LiveOptionsError {
    fn from(err: ConfigError) -> Self {
        LiveOptionsError::Config(err.to_string())
    }
}

/// `[aws] accounts`: a list of ids, or one string that is a file (relative to lapse.toml's folder)
/// or a comma-separated list. A bad id in the list names the line of `accounts`.
fn table_accounts(
    value: AccountsValue,
    table: &ProviderTable,
) -> Result<Vec<String>, LiveOptionsError> {
    match value {
        AccountsValue::One(text) => {
            let file = table.resolve(Path::new(&text));
            if file.is_file() {
                parse_accounts(&file.to_string_lossy())
            } else {
                parse_accounts(&text)
            }
        }
        AccountsValue::List(list) => validate_accounts(list, "list").map_err(|err| match err {
            LiveOptionsError::BadAccount { line, value, .. } => {
                let message = format!("item {line}, '{value}', is not a 12-digit AWS account id");
                table.invalid("accounts", message).into()
            }
            other => other,
        }),
    }
}

/// A role without an account list assumes that one role (a single cross-account scan); a list
/// needs the placeholder, or every account would get the same role.
fn check_role(role_arn: Option<&str>, accounts: &[String]) -> Result<(), LiveOptionsError> {
    match role_arn {
        None if !accounts.is_empty() => Err(LiveOptionsError::AccountsWithoutRole),
        Some(arn) if arn.contains(ACCOUNT_PLACEHOLDER) && accounts.is_empty() => {
            Err(LiveOptionsError::RoleWithoutAccounts)
        }
        Some(arn) if !arn.contains(ACCOUNT_PLACEHOLDER) && accounts.len() > 1 => {
            Err(LiveOptionsError::RoleWithoutPlaceholder(arn.to_string()))
        }
        _ => Ok(()),
    }
}

/// `--aws-accounts`: a file with one id per line (`#` comments, blank lines), or a
/// comma-separated list. Returned sorted and deduplicated so that shards are deterministic.
pub fn parse_accounts(value: &str) -> Result<Vec<String>, LiveOptionsError> {
    let path = Path::new(value);
    if path.is_file() {
        let text = std::fs::read_to_string(path).map_err(|e| LiveOptionsError::AccountsFile {
            path: value.to_string(),
            message: e.to_string(),
        })?;
        return accounts_from_lines(&text, value);
    }
    let items: Vec<String> = value
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    validate_accounts(items, "list")
}

fn accounts_from_lines(text: &str, source_name: &str) -> Result<Vec<String>, LiveOptionsError> {
    let mut accounts = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let value = line.split('#').next().unwrap_or("").trim();
        if value.is_empty() {
            continue;
        }
        if !is_account_id(value) {
            return Err(bad_account(source_name, index + 1, value));
        }
        accounts.push(value.to_string());
    }
    Ok(sorted(accounts))
}

fn validate_accounts(
    items: Vec<String>,
    source_name: &str,
) -> Result<Vec<String>, LiveOptionsError> {
    for (index, value) in items.iter().enumerate() {
        if !is_account_id(value) {
            return Err(bad_account(source_name, index + 1, value));
        }
    }
    Ok(sorted(items))
}

fn bad_account(source_name: &str, line: usize, value: &str) -> LiveOptionsError {
    LiveOptionsError::BadAccount {
        source_name: source_name.to_string(),
        line,
        // The value is user input echoed back: keep it short and printable.
        value: value.chars().take(40).filter(|c| !c.is_control()).collect(),
    }
}

fn sorted(mut accounts: Vec<String>) -> Vec<String> {
    accounts.sort();
    accounts.dedup();
    accounts
}

/// `arn:<partition>:iam::<account or {account}>:role/<name>`.
fn is_role_template(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", partition, "iam", "", account, resource] => {
            partition.starts_with("aws")
                && (*account == ACCOUNT_PLACEHOLDER || is_account_id(account))
                && resource
                    .strip_prefix("role/")
                    .is_some_and(|n| !n.is_empty())
        }
        _ => false,
    }
}

/// STS's RoleSessionName: `[\w+=,.@-]{2,64}`.
fn is_session_name(name: &str) -> bool {
    (2..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b))
}

/// User input echoed in an error: short and printable.
fn printable(value: &str) -> String {
    value.chars().take(80).filter(|c| !c.is_control()).collect()
}

pub fn is_account_id(value: &str) -> bool {
    value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> SourceArgs {
        SourceArgs {
            aws: true,
            ..SourceArgs::default()
        }
    }

    #[test]
    fn shard_splits_sorted_accounts_by_index() {
        let mut a = args();
        a.aws_role_arn = Some("arn:aws:iam::{account}:role/LapseAudit".into());
        a.aws_accounts = Some("333333333333,111111111111,222222222222,111111111111".into());
        a.shard = Some("3/4".into());
        let opts = LiveOptions::from_args(&a, None).unwrap();
        assert!(opts.accounts.is_empty() && !opts.scan_ambient, "{opts:?}");
        a.shard = Some("1/2".into());
        let opts = LiveOptions::from_args(&a, None).unwrap();
        assert_eq!(opts.accounts, vec!["222222222222"]);
        assert!(!opts.scan_ambient);
        assert_eq!(
            opts.role_for("222222222222").unwrap(),
            "arn:aws:iam::222222222222:role/LapseAudit"
        );
    }

    #[test]
    fn bad_inputs_are_errors() {
        let mut a = args();
        a.shard = Some("2/2".into());
        assert_eq!(
            LiveOptions::from_args(&a, None).unwrap_err(),
            LiveOptionsError::BadShard("2/2".into())
        );
        a.shard = None;
        a.aws_accounts = Some("111111111111".into());
        assert_eq!(
            LiveOptions::from_args(&a, None).unwrap_err(),
            LiveOptionsError::AccountsWithoutRole
        );
        a.aws_role_arn = Some("arn:aws:iam::{account}:role/X".into());
        a.aws_accounts = Some("111111111111,12345".into());
        let err = LiveOptions::from_args(&a, None).unwrap_err().to_string();
        assert!(err.contains("list:2") && err.contains("12345"), "{err}");
        a.aws_accounts = None;
        assert_eq!(
            LiveOptions::from_args(&a, None).unwrap_err(),
            LiveOptionsError::RoleWithoutAccounts
        );
    }

    #[test]
    fn accounts_file_names_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("accounts.txt");
        std::fs::write(&path, "# prod\n111111111111\n\n22222222222x\n").unwrap();
        let err = parse_accounts(path.to_str().unwrap())
            .unwrap_err()
            .to_string();
        assert!(err.contains("accounts.txt:4"), "{err}");
        std::fs::write(&path, "# prod\n222222222222 # b\n111111111111\n").unwrap();
        assert_eq!(
            parse_accounts(path.to_str().unwrap()).unwrap(),
            vec!["111111111111", "222222222222"]
        );
    }

    fn aws_table(dir: &Path, body: &str) -> ProviderTable {
        let path = dir.join("lapse.toml");
        let text = format!("[scan]\nfail_on = \"high\"\n[aws]\n{body}");
        crate::config::Config::parse(&path, &text)
            .unwrap()
            .aws
            .unwrap()
    }

    #[test]
    fn config_table_rejects_unknown_keys_and_flags_win() {
        let dir = Path::new("conf");
        let table = aws_table(
            dir,
            "role_arn = 'arn:aws:iam::{account}:role/A'\naccounts = ['111111111111']\nregion = 'eu-west-1'\n",
        );
        let mut a = args();
        a.client.aws_region = Some("us-east-2".into());
        let opts = LiveOptions::from_args(&a, Some(&table)).unwrap();
        assert_eq!(opts.region.as_deref(), Some("us-east-2"));
        assert_eq!(opts.accounts, vec!["111111111111"]);
        let typo = aws_table(dir, "region = 'x'\nrol_arn = 'x'\n");
        let err = LiveOptions::from_args(&args(), Some(&typo))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("conf/lapse.toml:5: [aws] unknown field `rol_arn`"),
            "{err}"
        );
        let attempts = aws_table(dir, "max_attempts = 0\n");
        let err = LiveOptions::from_args(&args(), Some(&attempts))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("conf/lapse.toml:4: [aws] max_attempts:"),
            "{err}"
        );
        let bad = aws_table(
            dir,
            "role_arn = 'arn:aws:iam::{account}:role/A'\naccounts = ['1']\n",
        );
        let err = LiveOptions::from_args(&args(), Some(&bad))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("conf/lapse.toml:5: [aws] accounts: item 1"),
            "{err}"
        );
    }

    #[test]
    fn accounts_file_is_relative_to_lapse_toml() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("accounts.txt"),
            "222222222222\n111111111111\n",
        )
        .unwrap();
        let table = aws_table(
            dir.path(),
            "role_arn = 'arn:aws:iam::{account}:role/A'\naccounts = 'accounts.txt'\n",
        );
        // The working directory is the crate root, which has no accounts.txt.
        assert!(!Path::new("accounts.txt").exists());
        let opts = LiveOptions::from_args(&args(), Some(&table)).unwrap();
        assert_eq!(opts.accounts, vec!["111111111111", "222222222222"]);
        let list = aws_table(
            dir.path(),
            "role_arn = 'arn:aws:iam::{account}:role/A'\naccounts = '333333333333,111111111111'\n",
        );
        let opts = LiveOptions::from_args(&args(), Some(&list)).unwrap();
        assert_eq!(opts.accounts, vec!["111111111111", "333333333333"]);
    }
}
