//! App: runs a validated plan: collect → analyze → evaluate → suppress → render → gate.
//! Every command of the CLI is one function here; the work itself lives in the stages.

use std::collections::{BTreeMap, HashSet};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use chrono::Utc;

use crate::analyze::{self, AnalysisContext};
use crate::cli::{
    Cli, CollectArgs, Command, EvaluateArgs, Format, InitArgs, MergeArgs, RulesCommand, ScanArgs,
};
use crate::collect;
use crate::config::Config;
use crate::exit::Code;
use crate::findings::{fixtures, suppress};
use crate::inventory::{self, Inventory, Provider};
use crate::plan::{self, EvalPlan, GatePlan, OutputPlan, SourcePlan};
use crate::render;
use crate::report::{CredentialRecord, InventorySummary, Report, ScanMeta};
use crate::rules;
use crate::{release, timed};

pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

pub fn run(cli: Cli) -> anyhow::Result<Code> {
    match cli.command {
        Command::Scan(args) => scan(args),
        Command::Collect(args) => collect_only(args),
        Command::Evaluate(args) => evaluate_saved(args),
        Command::Rules { command } => rules_command(command),
        Command::Init(args) => init(args),
        Command::Diff(args) => crate::drift::command::diff(&args),
        Command::Revoke(args) => revoke(args),
        Command::Merge(args) => merge(args),
        Command::Journal { command } => journal(command),
        Command::Grant(args) => crate::grant::command::run(&args),
    }
}

fn scan(args: ScanArgs) -> anyhow::Result<Code> {
    let started = Instant::now();
    let eval = plan::eval_plan(&args.eval)?;
    let sources = plan::source_plan(&args.sources, &eval.config)?;
    let inputs = plan::input_files(&args.sources);
    let inputs: Vec<&std::path::Path> = inputs.chain(args.baseline.as_deref()).collect();
    let output = plan::output_plan(&args.output, &eval.config, &inputs)?;
    let gate = plan::gate_plan(&args.gate, &eval.config);
    // Read (and checked) before collecting: a bad baseline must not cost a long scan first.
    let baseline = args
        .baseline
        .as_deref()
        .map(render::read_report)
        .transpose()?;
    let journal = plan::journal_path(args.journal.as_deref(), &eval.config);
    let options = ProviderOptions::build(&sources, false)?;
    let inventory = timed("collect", || collect_sources(&sources, &options))?;
    let mut report = evaluate(inventory, &eval, journal.as_deref(), started)?;
    let history = timed("drift", || {
        crate::drift::command::enrich(&mut report, baseline.as_ref(), output.history.as_deref())
    })?;
    let code = finish(&report, &output, gate, history);
    release(report);
    code
}

fn collect_only(args: CollectArgs) -> anyhow::Result<Code> {
    let config = plan::load_config(args.config.as_deref())?;
    let sources = plan::source_plan(&args.sources, &config)?;
    let options = ProviderOptions::build(&sources, false)?;
    let inventory = collect_sources(&sources, &options)?;
    inventory::io::save(&inventory, &args.save)?;
    let gaps = inventory.coverage_gaps.len();
    eprintln!(
        "saved {} principals, {} credentials, {} grants to {}{}",
        inventory.principals.len(),
        inventory.credentials.len(),
        inventory.grants.len(),
        args.save.display(),
        if gaps > 0 {
            format!(" ({gaps} coverage gaps)")
        } else {
            String::new()
        }
    );
    Ok(if gaps > 0 {
        Code::Incomplete
    } else {
        Code::Clean
    })
}

fn evaluate_saved(args: EvaluateArgs) -> anyhow::Result<Code> {
    let started = Instant::now();
    let eval = plan::eval_plan(&args.eval)?;
    let inputs = args.inventory.iter().map(PathBuf::as_path);
    let inputs: Vec<&std::path::Path> = inputs.chain(args.baseline.as_deref()).collect();
    let output = plan::output_plan(&args.output, &eval.config, &inputs)?;
    let gate = plan::gate_plan(&args.gate, &eval.config);
    // Read (and checked) before collecting: a bad baseline must not cost a long scan first.
    let baseline = args
        .baseline
        .as_deref()
        .map(render::read_report)
        .transpose()?;
    let mut files = Vec::with_capacity(args.inventory.len());
    for path in &args.inventory {
        files.push((path.display().to_string(), inventory::io::load(path)?));
    }
    let (inventory, conflicts) = inventory::join::join(files);
    report_conflicts(&conflicts);
    let journal = plan::journal_path(args.journal.as_deref(), &eval.config);
    let mut report = evaluate(inventory, &eval, journal.as_deref(), started)?;
    let history =
        crate::drift::command::enrich(&mut report, baseline.as_ref(), output.history.as_deref())?;
    let code = finish(&report, &output, gate, history);
    release(report);
    code
}

/// Most conflicts between joined inventories printed one by one; the rest are counted.
const CONFLICTS_SHOWN: usize = 20;

fn report_conflicts(conflicts: &[inventory::join::Conflict]) {
    for conflict in conflicts.iter().take(CONFLICTS_SHOWN) {
        eprintln!("warning: {}", crate::text::terminal(&conflict.to_string()));
    }
    if conflicts.len() > CONFLICTS_SHOWN {
        eprintln!(
            "warning: {} more objects differ between the inventories; the copies collected \
             later were kept",
            conflicts.len() - CONFLICTS_SHOWN
        );
    }
}

/// `lapse revoke`: collect with the same source flags as `scan`, then plan (and apply).
fn revoke(args: crate::cli::RevokeArgs) -> anyhow::Result<Code> {
    let eval = plan::eval_plan(&args.eval)?;
    let sources = plan::source_plan(&args.sources, &eval.config)?;
    let options = ProviderOptions::build(&sources, true)?;
    let inventory = collect_sources(&sources, &options)?;
    let ctx = AnalysisContext::from_config(eval.as_of, &eval.config);
    crate::revoke::command::run(&args, &options, &inventory, &ctx)
}

fn journal(command: crate::cli::JournalCommand) -> anyhow::Result<Code> {
    use crate::cli::JournalCommand;
    match command {
        JournalCommand::Verify { file, head } => crate::journal::verify(&file, head.as_deref()),
        JournalCommand::Head { file } => crate::journal::head(&file),
        JournalCommand::Show {
            file,
            principal,
            json,
        } => crate::journal::show(&file, principal.as_deref(), json),
    }
}

/// Joins shard reports into one JSON report; exits 3 when a shard left a coverage gap.
fn merge(args: MergeArgs) -> anyhow::Result<Code> {
    let merged = crate::merge::merge_files(&args.reports)?;
    let out = args
        .output
        .out
        .clone()
        .unwrap_or_else(|| std::path::PathBuf::from("lapse-out"));
    if args.output.format.iter().any(|f| *f != Format::Json) {
        anyhow::bail!(
            "merge writes JSON only; for other formats, merge inventories instead: \
             `lapse evaluate shard-*.json` joins the inventories of `lapse collect --save`"
        );
    }
    let path = crate::merge::write(&merged, &out)?;
    eprintln!(
        "merged {} reports into {} ({} findings)",
        args.reports.len(),
        path.display(),
        merged.findings.len()
    );
    Ok(if merged.scan.complete {
        Code::Clean
    } else {
        Code::Incomplete
    })
}

/// Each provider's validated options, built once per run from the flags and lapse.toml: the
/// collectors read with them and `revoke` (and `grant`) build their executors from the very same
/// values, so a write uses the credentials, role options and endpoints the read used.
#[derive(Debug, Clone, Default)]
pub struct ProviderOptions {
    pub aws: Option<collect::aws::LiveOptions>,
    pub azure: Option<collect::azure::AzureOptions>,
    pub github: Option<collect::github::GithubOptions>,
}

impl ProviderOptions {
    /// The options of the sources `sources` turns on. `writing`: also AWS and GitHub when
    /// their sources are off (a plan from offline files or a ledger still writes through them).
    /// Every table is validated before anything is collected: a typo in [azure] must not wait
    /// for a long AWS scan to finish.
    pub fn build(sources: &SourcePlan, writing: bool) -> anyhow::Result<ProviderOptions> {
        let args = &sources.args;
        let aws = (sources.aws_live || writing)
            .then(|| collect::aws::LiveOptions::from_args(args, sources.aws_config.as_ref()))
            .transpose()?;
        let azure = sources
            .azure
            .then(|| collect::azure::AzureOptions::from_args(args, sources.azure_config.as_ref()))
            .transpose()?;
        let github = (sources.github || writing)
            .then(|| {
                collect::github::GithubOptions::from_args(args, sources.github_config.as_ref())
            })
            .transpose()?;
        Ok(ProviderOptions { aws, azure, github })
    }
}

/// Runs every planned source and joins their fragments. A source's input error (a malformed
/// file) stops the run; a source that could not reach everything records coverage gaps instead.
pub fn collect_sources(
    sources: &SourcePlan,
    options: &ProviderOptions,
) -> anyhow::Result<Inventory> {
    let mut inventory = Inventory::new(Utc::now());
    if sources.aws_files {
        let args = &sources.args;
        inventory.merge(collect::aws::files::collect_files(
            &args.aws_authorization_details,
            &args.aws_credential_report,
        )?);
    }
    if let Some(dir) = &sources.args.aws_organizations {
        inventory.merge(collect::aws::organizations::read_folder(dir)?);
    }
    // The repository is read first (offline, quick) so a live AWS scan can resolve the key
    // ids it leaks; it joins the inventory at its usual place.
    let repo = match &sources.repo {
        Some(path) => {
            let options =
                collect::repo::RepoOptions::from_args(&sources.args, sources.repo_config.as_ref())?;
            Some(collect::repo::scan(path, &options)?)
        }
        None => None,
    };
    let leaked = repo
        .as_ref()
        .map_or(&[][..], |r| r.leaked_aws_keys.as_slice());
    if let (true, Some(options)) = (sources.aws_live, &options.aws) {
        inventory.merge(collect::aws::collect_live_with(options, leaked));
    }
    if let (true, Some(options)) = (sources.azure, &options.azure) {
        inventory.merge(collect::azure::collect(options));
    }
    if let (true, Some(options)) = (sources.github, &options.github) {
        inventory.merge(collect::github::collect(options));
    }
    if let Some(repo) = repo {
        inventory.merge(repo.inventory);
    }
    if let Some(path) = &sources.args.ledger {
        inventory.ledger.extend(crate::revoke::ledger::load(path)?);
    }
    Ok(inventory)
}

/// Analyze, evaluate and suppress: the offline half of a scan, shared by `scan` and `evaluate`.
/// `journal` is the revoke journal the revocation view trusts, when one was named.
pub fn evaluate(
    inventory: Inventory,
    eval: &EvalPlan,
    journal: Option<&std::path::Path>,
    started: Instant,
) -> anyhow::Result<Report> {
    let rules = timed("load rules", || {
        rules::loader::load(&eval.rule_dirs, &eval.config)
    })?;
    let ctx = AnalysisContext::from_config(eval.as_of, &eval.config);
    // The revocation view and what the report takes from the inventory (its counts, the
    // credentials, the findings' holders) read the inventory only: they run beside the analysis.
    let (mut analysis, (revocations, (summary, credentials, holders))) = rayon::join(
        || timed("analyze", || analyze::analyze(&inventory, &ctx)),
        || {
            let revocations = timed("revocations", || {
                crate::revoke::scan_view(&inventory, &ctx, journal)
            });
            let summary = summarize(&inventory);
            let credentials: Vec<CredentialRecord> = inventory
                .credentials
                .iter()
                .map(CredentialRecord::from)
                .collect();
            let holders = crate::findings::holders(&inventory);
            (revocations, (summary, credentials, holders))
        },
    );
    let revocations = revocations?;
    // Take what the report needs from the inventory, then let it go before rules run: on a
    // large estate the inventory, the subjects and the findings do not fit in memory together.
    let mut coverage_gaps = inventory.coverage_gaps.clone();
    coverage_gaps.append(&mut analysis.gaps);
    let sources = inventory.sources.clone();
    let api_calls = inventory.api_calls();
    release(inventory);
    let evaluation = timed("evaluate", || {
        rules::engine::evaluate(&rules, &analysis.subjects, eval.as_of)
    });
    release(analysis.subjects);
    let mut findings = evaluation.findings;
    crate::findings::name_holders(&mut findings, &holders);
    release(holders);
    let suppression_issues = timed("suppress", || {
        let mut issues = fixtures::apply(&mut findings, &eval.config.fixtures);
        issues.extend(suppress::apply(
            &mut findings,
            &eval.config.suppressions,
            eval.as_of,
        ));
        issues
    });
    coverage_gaps.extend(evaluation.errors);
    let scan = ScanMeta {
        started_at: Utc::now() - chrono::Duration::from_std(started.elapsed()).unwrap_or_default(),
        as_of: eval.as_of,
        duration_ms: 0,
        sources,
        api_calls,
        coverage_gaps,
        not_judged: evaluation.not_judged,
    };
    let mut report = Report {
        scan,
        inventory: summary,
        findings,
        identities: analysis.identities,
        suppression_issues,
        rules: rules.rules().to_vec(),
        credentials,
        drift: None,
        history: None,
        revocations,
    };
    report.scan.duration_ms = started.elapsed().as_millis() as u64;
    Ok(report)
}

fn summarize(inventory: &Inventory) -> InventorySummary {
    // Counted by (provider, kind) and named once per pair: a large estate has a million grants.
    // A provider's name has no `.`, so two pairs never share a name.
    fn count<'a>(keys: impl Iterator<Item = (Provider, &'a str)>) -> BTreeMap<String, u64> {
        let mut counts: BTreeMap<(Provider, &str), u64> = BTreeMap::new();
        for key in keys {
            *counts.entry(key).or_insert(0) += 1;
        }
        let named = counts.into_iter();
        named
            .map(|((provider, kind), n)| (format!("{provider}.{kind}"), n))
            .collect()
    }
    InventorySummary {
        principals: count(
            inventory
                .principals
                .iter()
                .map(|p| (p.provider, p.kind.as_str())),
        ),
        credentials: count(
            inventory
                .credentials
                .iter()
                .map(|c| (c.provider, c.kind.as_str())),
        ),
        grants: count(
            inventory
                .grants
                .iter()
                .map(|g| (g.provider, g.kind.as_str())),
        ),
        policies: inventory.policies.len() as u64,
    }
}

/// Writes the reports, then records the run in `--history` (only once every report is
/// written), prints the terminal summary and decides the exit code.
fn finish(
    report: &Report,
    output: &OutputPlan,
    gate: GatePlan,
    history: Option<crate::drift::history::Pending>,
) -> anyhow::Result<Code> {
    let written = timed("render", || {
        render::write_all(report, &output.formats, &output.out)
    })?;
    if let Some(pending) = history {
        timed("history", || pending.commit())?;
    }
    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let summary = timed("summary", || {
        render::terminal::summary_with_reports(report, color, &written)
    });
    print!("{summary}");
    Ok(gate_code(report, gate))
}

/// The CI gate. An incomplete scan (a coverage gap) wins over findings: its result cannot be
/// trusted either way. With a baseline (`report.drift`), only findings new since it count.
pub fn gate_code(report: &Report, gate: GatePlan) -> Code {
    if !report.is_complete() && !gate.allow_incomplete {
        return Code::Incomplete;
    }
    let Some(threshold) = gate.fail_on else {
        return Code::Clean;
    };
    let new: Option<HashSet<&str>> = report.drift.as_ref().map(|drift| {
        drift
            .new_findings
            .iter()
            .map(|f| f.fingerprint.as_str())
            .collect()
    });
    let failing = report
        .active_findings()
        .filter(|f| f.severity >= threshold)
        .any(|f| {
            new.as_ref()
                .is_none_or(|new| new.contains(f.fingerprint.as_str()))
        });
    if failing { Code::Findings } else { Code::Clean }
}

fn rules_command(command: RulesCommand) -> anyhow::Result<Code> {
    match command {
        RulesCommand::List {
            eval,
            json,
            markdown,
        } => {
            let plan = plan::eval_plan(&eval)?;
            let set = rules::loader::load(&plan.rule_dirs, &plan.config)?;
            let text = if json {
                rules::explain::list_json(set.rules())?
            } else if markdown {
                rules::explain::list_markdown(set.rules())
            } else {
                rules::explain::list_table(set.rules())
            };
            print!("{text}");
        }
        RulesCommand::Explain { id, eval } => {
            let plan = plan::eval_plan(&eval)?;
            let set = rules::loader::load(&plan.rule_dirs, &plan.config)?;
            let rule = set
                .get(&id)
                .with_context(|| format!("no rule `{id}` (see `lapse rules list`)"))?;
            print!("{}", rules::explain::explain(rule));
        }
    }
    Ok(Code::Clean)
}

/// The starter config `lapse init` writes: the commented example shipped in examples/.
const STARTER_CONFIG: &str = include_str!("../examples/lapse.toml");

fn init(args: InitArgs) -> anyhow::Result<Code> {
    if args.path.exists() && !args.force {
        anyhow::bail!(
            "{} exists; use --force to overwrite it",
            args.path.display()
        );
    }
    // The starter must always be valid: a broken example would teach users a broken config.
    Config::parse(&args.path, STARTER_CONFIG)?;
    std::fs::write(&args.path, STARTER_CONFIG)
        .with_context(|| format!("writing {}", args.path.display()))?;
    eprintln!("wrote {}", args.path.display());
    Ok(Code::Clean)
}
