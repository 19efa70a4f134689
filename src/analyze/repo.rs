//! Analyze, repository and workflows: facts for workflow files, their jobs, long-lived cloud
//! keys handed to CI and hard-coded secrets. Serves both a local checkout (`repo.*`) and the
//! workflow files fetched from GitHub (`github.workflow*`, `github.ci_cloud_key`).

use serde::{Deserialize, Serialize};

use super::Facts;
use super::{Analysis, AnalysisContext, Exposure, Privilege, RiskInputs, Subject, facts_of};
use crate::collect::repo::WORKFLOW_ATTRIBUTE;
use crate::collect::repo::workflow::{Input, Job, WorkflowDoc};
use crate::inventory::{
    CoverageGap, Credential, Inventory, Location, Principal, Provider, ResourceRef,
};

/// Events whose runs get secrets and a write token while running code an outsider can
/// influence (the pull request's head, another workflow's artifacts).
pub const PRIVILEGED_TRIGGERS: &[&str] = &["pull_request_target", "workflow_run"];

/// `repo.workflow` / `github.workflow`: one workflow file.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WorkflowFacts {
    pub repo: String,
    pub path: String,
    pub triggers: Vec<String>,
    /// Top-level `permissions:` present.
    pub permissions_declared: bool,
    /// Jobs with no `permissions:` of their own.
    pub jobs_without_permissions: Vec<String>,
    /// No top-level `permissions:` and some job declares none: the token gets the repository
    /// or organization default, which may be write.
    pub missing_permissions: bool,
    /// `write-all` at the top or in some job.
    pub write_all: bool,
    pub write_all_jobs: Vec<String>,
    /// Scopes granted `write` at the top level.
    pub write_scopes: Vec<String>,
    /// `permissions: read-all` at the top level: every scope readable, private code included.
    pub read_all: bool,
    pub privileged_trigger: bool,
    /// The file could not be read as a workflow.
    pub unreadable: bool,
}

/// `repo.workflow_job` / `github.workflow_job`: one job of a workflow.
#[derive(Debug, Clone, Default, Serialize)]
pub struct JobFacts {
    pub repo: String,
    pub path: String,
    pub job: String,
    pub triggers: Vec<String>,
    /// The workflow runs on `pull_request_target` or `workflow_run`.
    pub privileged_trigger: bool,
    /// Secret names the job reads (`GITHUB_TOKEN` excepted).
    pub secrets_read: Vec<String>,
    pub reads_secrets: bool,
    /// Calls a reusable workflow with `secrets: inherit`.
    pub secrets_inherit: bool,
    pub reusable_workflow: Option<String>,
    pub environment: Option<String>,
}

/// `repo.ci_cloud_key` / `github.ci_cloud_key`: a long-lived cloud credential handed to CI.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CloudKeyFacts {
    pub repo: String,
    pub path: String,
    pub job: Option<String>,
    /// `aws`, `azure`, `gcp`.
    pub cloud: String,
    /// How it is handed over: `env`, or the action that takes it.
    pub via: String,
    /// The env variable or action input name.
    pub input: String,
    pub secrets: Vec<String>,
    /// The value is written in the workflow itself, not read from a secret.
    pub literal: bool,
    /// Always true: the kind exists only for long-lived keys.
    pub long_lived: bool,
    /// What replaces it.
    pub oidc_alternative: String,
    /// Reached through a YAML alias: the line of the anchor that defines it.
    pub anchor_line: Option<u32>,
}

/// `repo.hardcoded_secret`: a secret found in a tracked file.
#[derive(Debug, Clone, Default, Serialize)]
pub struct HardcodedSecretFacts {
    pub repo: String,
    pub path: String,
    pub line: Option<u32>,
    pub secret_type: String,
    /// At most the last four characters.
    pub hint: Option<String>,
    /// Found by the entropy-checked generic pattern rather than a provider's format.
    pub generic: bool,
    /// For an AWS access key id: the account it belongs to, decoded from the id offline.
    pub aws_account: Option<String>,
    /// With `--git-history`: the commit that introduced it, and whether HEAD still holds it
    /// (null without a history scan).
    pub introduced_in: Option<String>,
    pub in_head: Option<bool>,
    /// For an AWS access key id in an account scanned in the same run (set by
    /// `analyze::leaks`): `active`, `inactive`, or `absent` (the account holds no such key);
    /// null when no scan resolved it.
    pub aws_key_state: Option<String>,
    /// The IAM user holding it, when resolved.
    pub aws_key_user: Option<String>,
}

/// Builds workflow and hard-coded-secret subjects of every provider.
pub fn analyze(inventory: &Inventory, _ctx: &AnalysisContext) -> Analysis {
    let mut analysis = Analysis::default();
    for principal in inventory.principals.iter().filter(|p| p.kind == "workflow") {
        let doc = match principal.attributes.get(WORKFLOW_ATTRIBUTE) {
            Some(value) => WorkflowDoc::deserialize(value).map_err(|e| e.to_string()),
            None => Err(format!("no `{WORKFLOW_ATTRIBUTE}` attribute")),
        };
        match doc {
            Ok(doc) => analysis.subjects.extend(workflow_subjects(principal, &doc)),
            // A saved inventory edited by hand or written by another version: say so.
            Err(reason) => analysis.gaps.push(CoverageGap {
                source: principal.provider.to_string(),
                scope: principal.scope.clone(),
                what: format!("workflow {}", principal.name),
                reason: format!("workflow attribute unreadable: {reason}"),
                request: None,
            }),
        }
    }
    let secrets = inventory
        .credentials
        .iter()
        .filter(|c| c.provider == Provider::Repo && c.kind == "hardcoded_secret");
    analysis.subjects.extend(secrets.map(hardcoded_subject));
    analysis
}

/// The workflow, job and cloud-key subjects of one workflow file.
pub fn workflow_subjects(principal: &Principal, doc: &WorkflowDoc) -> Vec<Subject> {
    let mut subjects = vec![workflow_subject(principal, doc)];
    for job in &doc.jobs {
        subjects.push(job_subject(principal, doc, job));
    }
    subjects.extend(cloud_keys(principal, doc));
    subjects.extend(super::repo_steps::step_subjects(principal, doc));
    subjects
}

/// A subject of a workflow file located at `line` of it.
#[allow(clippy::too_many_arguments)]
pub(super) fn subject_at(
    principal: &Principal,
    doc: &WorkflowDoc,
    kind: &str,
    id: String,
    name: String,
    facts: Facts,
    risk: RiskInputs,
    line: Option<u32>,
) -> Subject {
    subject(principal, kind, id, name, facts, risk, at(doc, line))
}

fn subject(
    principal: &Principal,
    kind: &str,
    id: String,
    name: String,
    facts: Facts,
    risk: RiskInputs,
    location: Location,
) -> Subject {
    Subject {
        kind: format!("{}.{kind}", principal.provider),
        resource: ResourceRef {
            provider: principal.provider,
            kind: kind.into(),
            id,
            name,
        },
        principal_id: Some(principal.id.clone()),
        facts,
        risk,
        location: Some(location),
    }
}

fn at(doc: &WorkflowDoc, line: Option<u32>) -> Location {
    Location {
        path: doc.path.clone(),
        line: Some(line.unwrap_or(1).max(1)),
        column: None,
    }
}

pub(super) fn ci_risk(scope: Privilege) -> RiskInputs {
    RiskInputs {
        scope,
        window_days: None,
        idle_days: None,
        exposure: Exposure::Ci,
    }
}

fn workflow_subject(principal: &Principal, doc: &WorkflowDoc) -> Subject {
    let jobs_without: Vec<String> = doc
        .jobs
        .iter()
        .filter(|j| j.permissions.is_none())
        .map(|j| j.id.clone())
        .collect();
    let write_all_jobs: Vec<&Job> = doc
        .jobs
        .iter()
        .filter(|j| {
            j.permissions
                .as_ref()
                .is_some_and(|p| p.mode == "write-all")
        })
        .collect();
    let top_write_all = doc
        .permissions
        .as_ref()
        .is_some_and(|p| p.mode == "write-all");
    let facts = WorkflowFacts {
        repo: principal.scope.clone(),
        path: doc.path.clone(),
        triggers: doc.triggers.clone(),
        permissions_declared: doc.permissions.is_some(),
        missing_permissions: doc.permissions.is_none() && !jobs_without.is_empty(),
        jobs_without_permissions: jobs_without,
        write_all: top_write_all || !write_all_jobs.is_empty(),
        write_all_jobs: write_all_jobs.iter().map(|j| j.id.clone()).collect(),
        write_scopes: doc
            .permissions
            .as_ref()
            .map(|p| p.write.clone())
            .unwrap_or_default(),
        read_all: doc
            .permissions
            .as_ref()
            .is_some_and(|p| p.mode == "read-all"),
        privileged_trigger: privileged(doc),
        unreadable: doc.unreadable.is_some(),
    };
    // Point at what to change: the write-all line, else the top `permissions:`, else `on:`
    // (where `permissions:` goes).
    let line = if top_write_all {
        doc.permissions.as_ref().map(|p| p.line)
    } else if let Some(job) = write_all_jobs.first() {
        job.permissions.as_ref().map(|p| p.line)
    } else if let Some(permissions) = &doc.permissions {
        Some(permissions.line)
    } else {
        doc.on_line
    };
    let scope = if facts.write_all {
        Privilege::Write
    } else {
        Privilege::Read
    };
    subject(
        principal,
        "workflow",
        principal.id.clone(),
        doc.path.clone(),
        facts_of(&facts),
        ci_risk(scope),
        at(doc, line),
    )
}

pub(super) fn privileged(doc: &WorkflowDoc) -> bool {
    doc.triggers
        .iter()
        .any(|t| PRIVILEGED_TRIGGERS.contains(&t.as_str()))
}

fn job_subject(principal: &Principal, doc: &WorkflowDoc, job: &Job) -> Subject {
    let facts = JobFacts {
        repo: principal.scope.clone(),
        path: doc.path.clone(),
        job: job.id.clone(),
        triggers: doc.triggers.clone(),
        privileged_trigger: privileged(doc),
        reads_secrets: !job.secrets_read.is_empty() || job.secrets_inherit.is_some(),
        secrets_read: job.secrets_read.clone(),
        secrets_inherit: job.secrets_inherit.is_some(),
        reusable_workflow: job.uses.clone(),
        environment: job.environment.clone(),
    };
    subject(
        principal,
        "workflow_job",
        format!("{}#{}", principal.id, job.id),
        format!("{} job {}", doc.path, job.id),
        facts_of(&facts),
        ci_risk(Privilege::Write),
        at(doc, job.secrets_inherit.or(Some(job.line))),
    )
}

/// An env variable name that carries a long-lived cloud secret, and its cloud.
fn cloud_of_env(name: &str) -> Option<&'static str> {
    match name.to_ascii_uppercase().as_str() {
        "AWS_SECRET_ACCESS_KEY" => Some("aws"),
        "AZURE_CLIENT_SECRET" | "ARM_CLIENT_SECRET" => Some("azure"),
        "GOOGLE_CREDENTIALS"
        | "GOOGLE_APPLICATION_CREDENTIALS_JSON"
        | "GOOGLE_CLOUD_KEYFILE_JSON"
        | "GCP_SA_KEY"
        | "GCP_CREDENTIALS" => Some("gcp"),
        _ => None,
    }
}

/// An action input that takes a long-lived cloud secret: `(action, input, cloud)`.
const KEY_INPUTS: &[(&str, &str, &str)] = &[
    (
        "aws-actions/configure-aws-credentials",
        "aws-secret-access-key",
        "aws",
    ),
    ("azure/login", "creds", "azure"),
    ("google-github-actions/auth", "credentials_json", "gcp"),
    (
        "google-github-actions/setup-gcloud",
        "service_account_key",
        "gcp",
    ),
];

fn oidc_alternative(cloud: &str) -> &'static str {
    match cloud {
        "aws" => "aws-actions/configure-aws-credentials with role-to-assume (GitHub OIDC)",
        "azure" => "azure/login with client-id, tenant-id, subscription-id (federated credential)",
        _ => "google-github-actions/auth with workload_identity_provider",
    }
}

/// A handover counts when the value is a secret or a literal; an output of an earlier step
/// (an OIDC exchange) is not a standing key.
fn handed_over(input: &Input) -> bool {
    input.from_secret || input.literal
}

fn cloud_keys(principal: &Principal, doc: &WorkflowDoc) -> Vec<Subject> {
    let mut found: Vec<(Option<&Job>, &str, String, &Input)> = Vec::new();
    for input in doc.env.iter().filter(|i| handed_over(i)) {
        if let Some(cloud) = cloud_of_env(&input.name) {
            found.push((None, cloud, "env".into(), input));
        }
    }
    for job in &doc.jobs {
        let step_env = job.steps.iter().flat_map(|s| s.env.iter());
        for input in job.env.iter().chain(step_env).filter(|i| handed_over(i)) {
            if let Some(cloud) = cloud_of_env(&input.name) {
                found.push((Some(job), cloud, "env".into(), input));
            }
        }
        for step in &job.steps {
            let Some(action) = step.uses.as_deref().map(action_name) else {
                continue;
            };
            for (name, key, cloud) in KEY_INPUTS.iter().filter(|(name, ..)| *name == action) {
                if let Some(input) = step.with.iter().find(|i| i.name == *key && handed_over(i)) {
                    found.push((Some(job), cloud, (*name).to_string(), input));
                }
            }
        }
    }
    found
        .into_iter()
        .map(|(job, cloud, via, input)| cloud_key_subject(principal, doc, job, cloud, via, input))
        .collect()
}

/// `owner/action` of `owner/action/path@ref`, lowercased.
pub(super) fn action_name(uses: &str) -> String {
    let path = uses.split('@').next().unwrap_or(uses).to_ascii_lowercase();
    path.split('/').take(2).collect::<Vec<_>>().join("/")
}

fn cloud_key_subject(
    principal: &Principal,
    doc: &WorkflowDoc,
    job: Option<&Job>,
    cloud: &str,
    via: String,
    input: &Input,
) -> Subject {
    let job_id = job.map(|j| j.id.clone());
    let facts = CloudKeyFacts {
        repo: principal.scope.clone(),
        path: doc.path.clone(),
        job: job_id.clone(),
        cloud: cloud.to_string(),
        via,
        input: input.name.clone(),
        secrets: input.secrets.clone(),
        literal: input.literal && !input.from_secret,
        long_lived: true,
        oidc_alternative: oidc_alternative(cloud).to_string(),
        anchor_line: input.anchor_line,
    };
    let where_ = job_id.as_deref().unwrap_or("workflow");
    subject(
        principal,
        "ci_cloud_key",
        format!("{}#{where_}/{}", principal.id, input.name),
        format!("{cloud} key {} in {} ({where_})", input.name, doc.path),
        facts_of(&facts),
        ci_risk(Privilege::Write),
        at(doc, Some(input.line)),
    )
}

fn hardcoded_subject(credential: &Credential) -> Subject {
    let secret_type = credential
        .attributes
        .get("secret_type")
        .and_then(|v| v.as_str())
        .unwrap_or("unknown")
        .to_string();
    let location = credential.location.clone();
    let facts = HardcodedSecretFacts {
        repo: credential.scope.clone(),
        path: location
            .as_ref()
            .map(|l| l.path.clone())
            .unwrap_or_default(),
        line: location.as_ref().and_then(|l| l.line),
        generic: credential
            .attributes
            .get("generic")
            .and_then(|v| v.as_bool())
            .unwrap_or(secret_type == "generic_secret"),
        aws_account: credential
            .attributes
            .get("aws_account")
            .and_then(|v| v.as_str())
            .map(str::to_string),
        introduced_in: credential
            .attributes
            .get("introduced_in")
            .and_then(|v| v.as_str())
            .map(str::to_string),
        in_head: credential
            .attributes
            .get("in_head")
            .and_then(|v| v.as_bool()),
        secret_type,
        hint: credential.hint.clone(),
        // Set by `analyze::leaks` when a scan of the key's account resolved it.
        aws_key_state: None,
        aws_key_user: None,
    };
    Subject {
        kind: "repo.hardcoded_secret".into(),
        resource: ResourceRef {
            provider: credential.provider,
            kind: credential.kind.clone(),
            id: credential.id.clone(),
            name: credential.name.clone(),
        },
        principal_id: credential.principal_id.clone(),
        facts: facts_of(&facts),
        risk: ci_risk(Privilege::Write),
        location,
    }
}
