//! Analyze, workflow steps: facts for one step of a workflow job, the machine-credential audits
//! zizmor and a gitleaks-replacing CI gate expect. Does the step bring the pull request's code
//! into a privileged run, does `actions/checkout` leave its token on disk, how wide is a GitHub
//! App token, does a publish step use a long-lived registry token where trusted publishing
//! (OIDC) exists. Serves local checkouts (`repo.workflow_step`) and GitHub (`github.workflow_step`).

use serde::Serialize;

use super::repo::{action_name, ci_risk, privileged, subject_at};
use super::{Privilege, Subject, facts_of};
use crate::collect::repo::workflow::{Input, Job, Step, WorkflowDoc};
use crate::inventory::Principal;

/// `repo.workflow_step` / `github.workflow_step`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StepFacts {
    pub repo: String,
    pub path: String,
    pub job: String,
    /// 0-based position in the job.
    pub step: usize,
    /// `owner/name` of `uses:`, lowercased; empty for a `run:` step.
    pub action: String,
    pub triggers: Vec<String>,
    /// The workflow runs on `pull_request_target` or `workflow_run`.
    pub privileged_trigger: bool,
    /// The step checks out or runs the pull request's (or the triggering run's) code.
    pub brings_pr_code: bool,
    /// How: the input, command or context that does it.
    pub pr_code_via: String,
    /// Secrets the job reads (the step's reach once untrusted code runs).
    pub job_secrets: Vec<String>,
    /// Some step of the job brings untrusted code into a privileged run.
    pub job_runs_pr_code: bool,
    /// Some step of the job uploads an artifact.
    pub job_uploads_artifacts: bool,
    /// `actions/checkout` without `persist-credentials: false`.
    pub persists_credentials: bool,
    /// `actions/create-github-app-token`: `owner` without `repositories` (every repository of
    /// the installation).
    pub app_token_all_repositories: bool,
    /// `actions/create-github-app-token` without any `permission-*` input (every permission of
    /// the installation).
    pub app_token_all_permissions: bool,
    /// `skip-token-revoke: true`: the token outlives the job by up to an hour.
    pub app_token_skip_revoke: bool,
    /// Registry published to (`pypi`, `npm`, `rubygems`, `crates.io`), or empty.
    pub publishes_to: String,
    /// Secrets handed to the publish step (the long-lived registry token).
    pub publish_token_secrets: Vec<String>,
    /// What replaces it.
    pub trusted_publishing: String,
    /// Reached through an alias: the anchor's line.
    pub anchor_line: Option<u32>,
}

/// Context paths that name the pull request's head or the triggering run's code.
const PR_HEAD_CONTEXTS: &[&str] = &[
    "github.event.pull_request.head.sha",
    "github.event.pull_request.head.ref",
    "github.event.pull_request.head.repo.full_name",
    "github.event.pull_request.merge_commit_sha",
    "github.head_ref",
    "github.event.workflow_run.head_sha",
    "github.event.workflow_run.head_branch",
    "github.event.workflow_run.head_repository.full_name",
];

/// Step subjects of every job of a workflow.
pub fn step_subjects(principal: &Principal, doc: &WorkflowDoc) -> Vec<Subject> {
    let mut out = Vec::new();
    for job in &doc.jobs {
        let pr_code: Vec<Option<String>> = job
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| pr_code_via(s, &job.steps[i + 1..]))
            .collect();
        let job_runs_pr_code = privileged(doc) && pr_code.iter().any(Option::is_some);
        let job_uploads_artifacts = job.steps.iter().any(|s| {
            s.uses.as_deref().map(action_name).as_deref() == Some("actions/upload-artifact")
        });
        for (index, step) in job.steps.iter().enumerate() {
            let action = step.uses.as_deref().map(action_name).unwrap_or_default();
            let (publishes_to, publish_token_secrets) = publishing(doc, job, step, &action);
            let facts = StepFacts {
                repo: principal.scope.clone(),
                path: doc.path.clone(),
                job: job.id.clone(),
                step: index,
                triggers: doc.triggers.clone(),
                privileged_trigger: privileged(doc),
                brings_pr_code: pr_code[index].is_some(),
                pr_code_via: pr_code[index].clone().unwrap_or_default(),
                job_secrets: job.secrets_read.clone(),
                job_runs_pr_code,
                job_uploads_artifacts,
                persists_credentials: action == "actions/checkout"
                    && input_value(step, "persist-credentials").as_deref() != Some("false"),
                app_token_all_repositories: action == "actions/create-github-app-token"
                    && has_input(step, "owner")
                    && !has_input(step, "repositories"),
                app_token_all_permissions: action == "actions/create-github-app-token"
                    && !step.with.iter().any(|i| i.name.starts_with("permission-")),
                app_token_skip_revoke: action == "actions/create-github-app-token"
                    && input_value(step, "skip-token-revoke").as_deref() == Some("true"),
                trusted_publishing: trusted_publishing(publishes_to).to_string(),
                publishes_to: publishes_to.to_string(),
                publish_token_secrets,
                anchor_line: step.anchor_line,
                action,
            };
            out.push(subject_at(
                principal,
                doc,
                "workflow_step",
                format!("{}#{}/{index}", principal.id, job.id),
                format!("{} job {} step {}", doc.path, job.id, index + 1),
                facts_of(&facts),
                ci_risk(Privilege::Write),
                Some(step.line),
            ));
        }
    }
    out
}

fn has_input(step: &Step, name: &str) -> bool {
    step.with.iter().any(|i| i.name == name)
}

fn input_value(step: &Step, name: &str) -> Option<String> {
    step.with
        .iter()
        .find(|i| i.name == name)
        .and_then(|i| i.value.as_deref())
        .map(|v| v.trim().to_ascii_lowercase())
}

fn names_pr_head(text: &str) -> Option<&'static str> {
    PR_HEAD_CONTEXTS
        .iter()
        .find(|c| text.contains(**c))
        .copied()
        .or_else(|| text.contains("refs/pull/").then_some("refs/pull/…"))
}

/// Whether `step` checks out or runs the pull request's code, and how. `later` are the steps
/// after it in the job (what runs a downloaded artifact).
fn pr_code_via(step: &Step, later: &[Step]) -> Option<String> {
    let action = step.uses.as_deref().map(action_name).unwrap_or_default();
    if action == "actions/checkout" {
        for name in ["ref", "repository"] {
            if let Some(context) = input_value(step, name).as_deref().and_then(names_pr_head) {
                return Some(format!("actions/checkout {name}: {context}"));
            }
        }
    }
    if step.commands.iter().any(|c| c == "gh pr checkout") {
        return Some("gh pr checkout".into());
    }
    if step.run_line.is_some()
        && let Some(context) = step.contexts.iter().find_map(|c| names_pr_head(c))
    {
        return Some(format!("run: {context}"));
    }
    let downloads = matches!(
        action.as_str(),
        "actions/download-artifact" | "dawidd6/action-download-artifact"
    );
    let of_trigger = step
        .with
        .iter()
        .any(|i| matches!(i.name.as_str(), "run-id" | "run_id" | "workflow"));
    if downloads
        && of_trigger
        && let Some(runner) = later.iter().find(|s| {
            s.run_line.is_some() || s.uses.as_deref().is_some_and(|u| u.starts_with("./"))
        })
    {
        return Some(format!(
            "{action} of the triggering run, then run at line {}",
            runner.run_line.unwrap_or(runner.line)
        ));
    }
    None
}

/// Registry token variables, per registry.
const TOKEN_VARIABLES: &[(&str, &[&str])] = &[
    (
        "pypi",
        &[
            "TWINE_PASSWORD",
            "UV_PUBLISH_TOKEN",
            "FLIT_PASSWORD",
            "POETRY_PYPI_TOKEN_PYPI",
        ],
    ),
    ("npm", &["NODE_AUTH_TOKEN", "NPM_TOKEN", "NPM_AUTH_TOKEN"]),
    ("rubygems", &["GEM_HOST_API_KEY", "RUBYGEMS_API_KEY"]),
    ("crates.io", &["CARGO_REGISTRY_TOKEN"]),
];

fn registry_of(step: &Step, action: &str) -> Option<&'static str> {
    match action {
        "pypa/gh-action-pypi-publish" => return Some("pypi"),
        "js-devtools/npm-publish" => return Some("npm"),
        _ => {}
    }
    step.commands.iter().find_map(|c| match c.as_str() {
        "twine upload" | "poetry publish" | "uv publish" | "flit publish" => Some("pypi"),
        "npm publish" | "yarn publish" | "yarn npm publish" | "pnpm publish" => Some("npm"),
        "gem push" => Some("rubygems"),
        "cargo publish" => Some("crates.io"),
        _ => None,
    })
}

/// The registry a step publishes to and the secrets that carry its token: the step's own
/// secrets, and the registry's token variables set from secrets on the job or the workflow.
fn publishing(
    doc: &WorkflowDoc,
    job: &Job,
    step: &Step,
    action: &str,
) -> (&'static str, Vec<String>) {
    let Some(registry) = registry_of(step, action) else {
        return ("", Vec::new());
    };
    let variables = TOKEN_VARIABLES
        .iter()
        .find(|(r, _)| *r == registry)
        .map(|(_, v)| *v)
        .unwrap_or_default();
    let inherited = doc
        .env
        .iter()
        .chain(&job.env)
        .filter(|i: &&Input| variables.contains(&i.name.to_ascii_uppercase().as_str()));
    let mut secrets = step.secrets_read.clone();
    for input in inherited {
        for name in &input.secrets {
            if !secrets.contains(name) {
                secrets.push(name.clone());
            }
        }
    }
    (registry, secrets)
}

fn trusted_publishing(registry: &str) -> &'static str {
    match registry {
        "pypi" => {
            "PyPI trusted publishing: pypa/gh-action-pypi-publish with id-token: write and no password"
        }
        "npm" => "npm trusted publishing (OIDC) with id-token: write and no NODE_AUTH_TOKEN",
        "rubygems" => {
            "RubyGems trusted publishing: rubygems/release-gem or rubygems/configure-rubygems-credentials"
        }
        "crates.io" => {
            "crates.io trusted publishing: rust-lang/crates-io-auth-action with id-token: write"
        }
        _ => "",
    }
}
