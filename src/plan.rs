//! Plan: arguments plus lapse.toml, validated once into what a run will do. Nothing downstream
//! re-checks user input (ripgrep's low-args → high-args).

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::cli::{EvalArgs, FailOn, Format, GateArgs, OutputArgs, SourceArgs};
use crate::config::{Config, ConfigError, ProviderTable};
use crate::findings::Severity;
use crate::inventory::Timestamp;

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("--as-of `{value}` is not an RFC 3339 timestamp (e.g. 2026-01-31T00:00:00Z): {reason}")]
    AsOf { value: String, reason: String },
    #[error("--shard `{0}` must be I/N with 0 <= I < N (e.g. 0/4)")]
    Shard(String),
    #[error(
        "no source to scan: name one (--aws-authorization-details, --aws, --github-org, \
         --azure-tenant, --repo, --ledger), or run inside a git checkout to scan it"
    )]
    NoSource,
    #[error(
        "--aws-credential-report needs --aws-authorization-details (the report alone has no policies)"
    )]
    ReportWithoutDetails,
    #[error(
        "--out {} holds the input {}: the reports would be read back as input on the next \
         run; write them to another folder",
        crate::input::shown(out),
        crate::input::shown(input)
    )]
    OutHoldsInput { out: PathBuf, input: PathBuf },
}

/// How findings are judged.
#[derive(Debug, Clone)]
pub struct EvalPlan {
    pub config: Config,
    /// Rule folders beyond the built-in catalogue (lapse.toml's first, then --rules).
    pub rule_dirs: Vec<PathBuf>,
    pub as_of: Timestamp,
    /// Whether --as-of was given (reports say so).
    pub as_of_given: bool,
}

#[derive(Debug, Clone)]
pub struct OutputPlan {
    pub out: PathBuf,
    pub formats: Vec<Format>,
    pub history: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy)]
pub struct GatePlan {
    /// `None`: never fail on findings.
    pub fail_on: Option<Severity>,
    pub allow_incomplete: bool,
}

/// `--shard I/N`: this run takes the scopes whose index modulo N is I.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    pub fn parse(text: &str) -> Result<Shard, PlanError> {
        let err = || PlanError::Shard(text.to_string());
        let (i, n) = text.split_once('/').ok_or_else(err)?;
        let index: usize = i.trim().parse().map_err(|_| err())?;
        let count: usize = n.trim().parse().map_err(|_| err())?;
        if count == 0 || index >= count {
            return Err(err());
        }
        Ok(Shard { index, count })
    }

    /// Keeps the items (sorted, so every shard agrees) that fall in this shard.
    pub fn select<T: Ord + Clone>(&self, items: &[T]) -> Vec<T> {
        let mut sorted = items.to_vec();
        sorted.sort();
        sorted
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % self.count == self.index)
            .map(|(_, t)| t)
            .collect()
    }
}

/// Which sources run. Each collector validates its own options from `args`.
#[derive(Debug, Clone)]
pub struct SourcePlan {
    pub args: SourceArgs,
    pub aws_files: bool,
    pub aws_live: bool,
    pub github: bool,
    pub azure: bool,
    pub repo: Option<PathBuf>,
    pub shard: Option<Shard>,
    /// `[aws]`, `[github]`, `[azure]` of lapse.toml, validated by their collectors' `from_args`.
    pub aws_config: Option<ProviderTable>,
    pub github_config: Option<ProviderTable>,
    pub azure_config: Option<ProviderTable>,
    pub repo_config: Option<ProviderTable>,
}

pub fn parse_as_of(value: Option<&str>) -> Result<(Timestamp, bool), PlanError> {
    match value {
        None => Ok((Utc::now(), false)),
        Some(text) => DateTime::parse_from_rfc3339(text)
            .map(|t| (t.with_timezone(&Utc), true))
            .map_err(|e| PlanError::AsOf {
                value: text.to_string(),
                reason: e.to_string(),
            }),
    }
}

/// The revoke journal `scan` reads: `--journal`, else lapse.toml's `[scan] journal` (relative
/// to the file), else none. Never a file that merely sits in the working directory.
pub fn journal_path(flag: Option<&Path>, config: &Config) -> Option<PathBuf> {
    if let Some(path) = flag {
        return Some(path.to_path_buf());
    }
    let base = config.path.as_deref().and_then(Path::parent);
    config
        .journal
        .as_deref()
        .map(|j| base.map(|b| b.join(j)).unwrap_or_else(|| j.to_path_buf()))
}

/// Reads lapse.toml: the one named, else ./lapse.toml when present.
pub fn load_config(explicit: Option<&Path>) -> Result<Config, PlanError> {
    Ok(match explicit {
        Some(path) => Config::load(path, true)?,
        None => Config::load(Path::new("lapse.toml"), false)?,
    })
}

pub fn eval_plan(args: &EvalArgs) -> Result<EvalPlan, PlanError> {
    let config = load_config(args.config.as_deref())?;
    let (as_of, as_of_given) = parse_as_of(args.as_of.as_deref())?;
    // Rule folders named in lapse.toml are relative to the file, not to where lapse runs.
    let base = config
        .path
        .as_deref()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut rule_dirs: Vec<PathBuf> = config.rule_dirs.iter().map(|d| base.join(d)).collect();
    rule_dirs.extend(args.rules.iter().cloned());
    Ok(EvalPlan {
        config,
        rule_dirs,
        as_of,
        as_of_given,
    })
}

/// Where the reports go, refused when that folder is or holds one of the run's inputs: the
/// next run would read its own report back as input (or a report would overwrite an input).
pub fn output_plan(
    args: &OutputArgs,
    config: &Config,
    inputs: &[&Path],
) -> Result<OutputPlan, PlanError> {
    let plan = output_plan_unchecked(args, config);
    let out = absolute(&plan.out);
    for input in inputs {
        if absolute(input).starts_with(&out) {
            return Err(PlanError::OutHoldsInput {
                out: plan.out.clone(),
                input: input.to_path_buf(),
            });
        }
    }
    Ok(plan)
}

/// The files and folders a source plan reads (what `--out` must not hold).
pub fn input_files(args: &SourceArgs) -> impl Iterator<Item = &Path> {
    let aws = args.aws_authorization_details.iter();
    aws.chain(&args.aws_credential_report)
        .chain(&args.ledger)
        .map(PathBuf::as_path)
}

/// A path with symlinks resolved as far as it exists (a new `--out` folder does not yet).
fn absolute(path: &Path) -> PathBuf {
    if let Ok(real) = std::fs::canonicalize(path) {
        return real;
    }
    match (path.parent(), path.file_name()) {
        (Some(parent), Some(name)) => {
            let parent = if parent.as_os_str().is_empty() {
                Path::new(".")
            } else {
                parent
            };
            absolute(parent).join(name)
        }
        _ => std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()),
    }
}

fn output_plan_unchecked(args: &OutputArgs, config: &Config) -> OutputPlan {
    let mut formats = if !args.format.is_empty() {
        args.format.clone()
    } else if !config.formats.is_empty() {
        config.formats.clone()
    } else {
        vec![Format::Json, Format::Html]
    };
    formats.sort();
    formats.dedup();
    OutputPlan {
        out: args
            .out
            .clone()
            .or_else(|| config.out.clone())
            .unwrap_or_else(|| PathBuf::from("lapse-out")),
        formats,
        history: args.history.clone().or_else(|| config.history.clone()),
    }
}

pub fn gate_plan(args: &GateArgs, config: &Config) -> GatePlan {
    let fail_on = args.fail_on.or(config.fail_on).unwrap_or(FailOn::High);
    let fail_on = match fail_on {
        FailOn::Critical => Some(Severity::Critical),
        FailOn::High => Some(Severity::High),
        FailOn::Medium => Some(Severity::Medium),
        FailOn::Low => Some(Severity::Low),
        FailOn::Info => Some(Severity::Info),
        FailOn::Never => None,
    };
    GatePlan {
        fail_on,
        allow_incomplete: args.allow_incomplete || config.allow_incomplete.unwrap_or(false),
    }
}

/// Decides the sources. With none named, a git checkout in the current folder is scanned as a
/// repository (what a repository's CI gate runs as plain `lapse scan`).
pub fn source_plan(args: &SourceArgs, config: &Config) -> Result<SourcePlan, PlanError> {
    let aws_files = !args.aws_authorization_details.is_empty();
    if !aws_files && !args.aws_credential_report.is_empty() {
        return Err(PlanError::ReportWithoutDetails);
    }
    let aws_live = args.aws
        || args.aws_organizations_live
        || args.aws_role_arn.is_some()
        || config.aws.is_some();
    // A [github] table is read (and so checked) even when it does not turn the source on.
    let github_table_scope = match &config.github {
        Some(table) => crate::collect::github::table_names_scope(table)?,
        None => false,
    };
    let github = !args.github_org.is_empty() || !args.github_repo.is_empty() || github_table_scope;
    let azure = args.client.azure_tenant.is_some() || config.azure.is_some();
    // A grants ledger alone is enough for `revoke` (it names what cannot be tagged).
    let ledger = args.ledger.is_some();
    let mut repo = args.repo.clone();
    if !(aws_files || aws_live || github || azure || ledger) && repo.is_none() {
        if Path::new(".git").exists() {
            repo = Some(PathBuf::from("."));
        } else {
            return Err(PlanError::NoSource);
        }
    }
    let shard = args.shard.as_deref().map(Shard::parse).transpose()?;
    Ok(SourcePlan {
        args: args.clone(),
        aws_files,
        aws_live,
        github,
        azure,
        repo,
        shard,
        aws_config: config.aws.clone(),
        github_config: config.github.clone(),
        azure_config: config.azure.clone(),
        repo_config: config.repo.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_parses_and_partitions_deterministically() {
        assert!(Shard::parse("2/2").is_err());
        assert!(Shard::parse("0/0").is_err());
        assert!(Shard::parse("x").is_err());
        let items = vec!["c", "a", "d", "b"];
        let first = Shard::parse("0/2").unwrap().select(&items);
        let second = Shard::parse("1/2").unwrap().select(&items);
        assert_eq!(first, vec!["a", "c"]);
        assert_eq!(second, vec!["b", "d"]);
    }

    #[test]
    fn as_of_must_be_rfc3339() {
        assert!(parse_as_of(Some("2026-01-01")).is_err());
        let (t, given) = parse_as_of(Some("2026-01-01T00:00:00Z")).unwrap();
        assert!(given);
        assert_eq!(t.to_rfc3339(), "2026-01-01T00:00:00+00:00");
    }

    fn config(text: &str) -> Config {
        Config::parse(Path::new("lapse.toml"), text).unwrap()
    }

    #[test]
    fn provider_tables_turn_their_sources_on() {
        let args = SourceArgs::default();
        let plan = source_plan(&args, &config("[github]\norgs = [\"acme\"]\n")).unwrap();
        assert!(plan.github && !plan.azure && !plan.aws_live);
        assert!(plan.github_config.is_some());
        let plan = source_plan(&args, &config("[azure]\ntenant = \"contoso.com\"\n")).unwrap();
        assert!(plan.azure && !plan.github);
        // App settings alone name nothing to scan; with a repo to scan the plan is still valid.
        let repo = SourceArgs {
            repo: Some(PathBuf::from(".")),
            ..SourceArgs::default()
        };
        let plan = source_plan(
            &repo,
            &config("[github]\napp_id = 7\napp_key = \"k.pem\"\n"),
        )
        .unwrap();
        assert!(!plan.github);
    }

    #[test]
    fn a_github_table_is_checked_even_when_it_names_no_org() {
        let repo = SourceArgs {
            repo: Some(PathBuf::from(".")),
            ..SourceArgs::default()
        };
        let err = source_plan(&repo, &config("[github]\norgz = [\"acme\"]\n"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("lapse.toml:2: [github] unknown field `orgz`"),
            "{err}"
        );
    }

    /// The provider tables `lapse init` writes commented out must work once uncommented.
    #[test]
    fn starter_config_provider_tables_are_valid() {
        let starter = include_str!("../examples/lapse.toml");
        let start = starter
            .find("# [aws]")
            .expect("examples/lapse.toml documents [aws]");
        let uncommented: String = starter[start..]
            .lines()
            .map(|l| format!("{}\n", l.strip_prefix("# ").unwrap_or(l)))
            .collect();
        let config = config(&format!("{}{uncommented}", &starter[..start]));
        let plan = source_plan(&SourceArgs::default(), &config).unwrap();
        assert!(plan.aws_live && plan.github && plan.azure);
        let args = &plan.args;
        crate::collect::aws::LiveOptions::from_args(args, plan.aws_config.as_ref()).unwrap();
        crate::collect::azure::AzureOptions::from_args(args, plan.azure_config.as_ref()).unwrap();
    }

    #[test]
    fn gate_defaults_to_high_and_never_disables() {
        let config = Config::default();
        let plan = gate_plan(&GateArgs::default(), &config);
        assert_eq!(plan.fail_on, Some(Severity::High));
        let never = GateArgs {
            fail_on: Some(FailOn::Never),
            allow_incomplete: false,
        };
        assert_eq!(gate_plan(&never, &config).fail_on, None);
    }
}
