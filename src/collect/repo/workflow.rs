//! Collect, repository: reads a GitHub Actions workflow into `WorkflowDoc`, the structured
//! form the inventory stores (triggers, permissions, jobs, steps, env, with line numbers).
//!
//! Reading only: whether a step hands a long-lived cloud key to CI is judged in
//! `analyze::repo`. Values are never stored, only whether they come from `secrets.*` and which
//! secret names they read, so a key pasted into a workflow never travels into a report. The
//! exceptions are the few action inputs whose value is a ref, a flag or a scope
//! (`VALUE_INPUTS`), and the `github.*` expressions and known commands a step uses, which the
//! audits read.

use serde::{Deserialize, Serialize};

use super::yaml::{self, Node, Value};

/// Attribute key under which a workflow principal carries its `WorkflowDoc`.
pub const WORKFLOW_ATTRIBUTE: &str = "workflow";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WorkflowDoc {
    /// Path relative to the repository root (`.github/workflows/ci.yml`).
    pub path: String,
    pub name: Option<String>,
    /// Event names (`push`, `pull_request_target`, `workflow_run`).
    pub triggers: Vec<String>,
    /// Line of `on:`, the anchor for file-level findings.
    pub on_line: Option<u32>,
    /// Top-level `permissions:`.
    pub permissions: Option<Permissions>,
    pub env: Vec<Input>,
    pub jobs: Vec<Job>,
    /// Set when the file is not one YAML mapping with `jobs` (or breaks a reading limit): the
    /// file could not be judged. Names the line where it can.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
}

/// A `permissions:` block.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Permissions {
    pub line: u32,
    /// `write-all`, `read-all`, `none` (for `{}`) or `scoped`.
    pub mode: String,
    /// Scopes granted `write` (every scope for `write-all`).
    pub write: Vec<String>,
}

/// An `env:` entry or a `with:` input: its name, line and what it reads, never its value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Input {
    pub name: String,
    pub line: u32,
    /// The value reads at least one `secrets.*`.
    pub from_secret: bool,
    /// Secret names read (`AWS_SECRET_ACCESS_KEY` of `${{ secrets.AWS_SECRET_ACCESS_KEY }}`).
    pub secrets: Vec<String>,
    /// The value is a literal (no `${{ }}` expression).
    pub literal: bool,
    /// The value itself, only for the inputs in `VALUE_INPUTS` and never when it reads a secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Reached through an alias: the line of the anchor (`line` is the alias's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anchor_line: Option<u32>,
}

/// Action inputs whose value the audits need: refs, flags and scopes, not credentials.
pub const VALUE_INPUTS: &[&str] = &[
    "ref",
    "repository",
    "persist-credentials",
    "run-id",
    "github-token",
    "repositories",
    "owner",
    "skip-token-revoke",
];

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Job {
    pub id: String,
    pub line: u32,
    pub permissions: Option<Permissions>,
    /// A reusable workflow call (`uses:` at job level).
    pub uses: Option<String>,
    /// Line of `secrets: inherit`.
    pub secrets_inherit: Option<u32>,
    pub environment: Option<String>,
    pub env: Vec<Input>,
    pub steps: Vec<Step>,
    /// Secret names the job reads anywhere (excluding `GITHUB_TOKEN`).
    pub secrets_read: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Step {
    pub line: u32,
    pub uses: Option<String>,
    pub with: Vec<Input>,
    pub env: Vec<Input>,
    /// Line of `run:`, when the step runs a script.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_line: Option<u32>,
    /// Known commands the script runs (`KNOWN_COMMANDS`), in order, once each.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<String>,
    /// `github.*` context paths the step reads (`github.event.pull_request.head.sha`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub contexts: Vec<String>,
    /// Secret names the step reads anywhere (`with`, `env`, `run`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secrets_read: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anchor_line: Option<u32>,
}

/// Commands in a `run:` script that the audits judge: checking out a pull request, publishing
/// to a registry.
pub const KNOWN_COMMANDS: &[&str] = &[
    "gh pr checkout",
    "npm publish",
    "yarn publish",
    "yarn npm publish",
    "pnpm publish",
    "twine upload",
    "poetry publish",
    "uv publish",
    "flit publish",
    "gem push",
    "cargo publish",
];

/// Reads a workflow file's text.
pub fn read(path: &str, text: &str) -> WorkflowDoc {
    let mut doc = WorkflowDoc {
        path: path.to_string(),
        ..WorkflowDoc::default()
    };
    let root = match yaml::parse(text) {
        Ok(root) => root,
        Err(err) => {
            doc.unreadable = Some(err.to_string());
            return doc;
        }
    };
    let Value::Map(_) = root.value else {
        doc.unreadable = Some("not a YAML mapping".into());
        return doc;
    };
    doc.name = root.get("name").and_then(Node::as_str).map(str::to_string);
    // YAML 1.2, as GitHub reads it: `on` is a string key, never the boolean `true`.
    if let Some(on) = root.get("on") {
        doc.on_line = Some(on.line);
        doc.triggers = triggers(on);
    }
    doc.permissions = root.get("permissions").map(permissions);
    doc.env = root.get("env").map(inputs).unwrap_or_default();
    match root.get("jobs") {
        Some(jobs) if matches!(jobs.value, Value::Map(_)) => {
            doc.jobs = jobs.entries().iter().map(|(id, n)| job(id, n)).collect()
        }
        Some(jobs) => {
            doc.unreadable = Some(format!("line {}: `jobs:` is not a mapping", jobs.line))
        }
        None => doc.unreadable = Some("no `jobs:` mapping".into()),
    }
    doc
}

fn triggers(on: &Node) -> Vec<String> {
    match &on.value {
        Value::Scalar(s) => vec![s.clone()],
        Value::Seq(items) => items
            .iter()
            .filter_map(Node::as_str)
            .map(str::to_string)
            .collect(),
        Value::Map(entries) => entries.iter().map(|(k, _)| k.clone()).collect(),
        Value::Null => Vec::new(),
    }
}

fn permissions(node: &Node) -> Permissions {
    let line = node.line;
    match &node.value {
        Value::Scalar(s) if s == "write-all" => Permissions {
            line,
            mode: s.clone(),
            write: vec!["*".into()],
        },
        Value::Scalar(s) => Permissions {
            line,
            mode: s.clone(),
            write: Vec::new(),
        },
        Value::Map(entries) if entries.is_empty() => Permissions {
            line,
            mode: "none".into(),
            write: Vec::new(),
        },
        Value::Map(entries) => Permissions {
            line,
            mode: "scoped".into(),
            write: entries
                .iter()
                .filter(|(_, v)| v.as_str() == Some("write"))
                .map(|(k, _)| k.clone())
                .collect(),
        },
        _ => Permissions {
            line,
            mode: "none".into(),
            write: Vec::new(),
        },
    }
}

fn inputs(node: &Node) -> Vec<Input> {
    node.entries()
        .iter()
        .map(|(name, value)| {
            let text = scalar_text(value);
            let secrets = secret_names(&text);
            let keep = VALUE_INPUTS.contains(&name.as_str()) && secrets.is_empty();
            Input {
                name: name.clone(),
                line: value.line.max(1),
                from_secret: !secrets.is_empty(),
                literal: !text.contains("${{"),
                secrets,
                value: keep.then_some(text),
                anchor_line: value.anchor_line,
            }
        })
        .collect()
}

fn scalar_text(node: &Node) -> String {
    match &node.value {
        Value::Scalar(s) => s.clone(),
        _ => String::new(),
    }
}

fn job(id: &str, node: &Node) -> Job {
    let mut job = Job {
        id: id.to_string(),
        line: node.line,
        permissions: node.get("permissions").map(permissions),
        uses: node.get("uses").and_then(Node::as_str).map(str::to_string),
        env: node.get("env").map(inputs).unwrap_or_default(),
        ..Job::default()
    };
    if let Some(secrets) = node.get("secrets")
        && secrets.as_str() == Some("inherit")
    {
        job.secrets_inherit = Some(secrets.line);
    }
    job.environment = node.get("environment").and_then(|e| match &e.value {
        Value::Scalar(s) => Some(s.clone()),
        _ => e.get("name").and_then(Node::as_str).map(str::to_string),
    });
    job.steps = node
        .get("steps")
        .map(|s| s.items().iter().map(step).collect())
        .unwrap_or_default();
    job.secrets_read = secret_names_in(node);
    job
}

fn step(node: &Node) -> Step {
    let run = node.get("run");
    let script = run.map(scalar_text).unwrap_or_default();
    let commands = KNOWN_COMMANDS
        .iter()
        .filter(|c| script.contains(*c))
        .map(|c| c.to_string())
        .collect();
    let mut contexts: Vec<String> = Vec::new();
    for text in node.scalars() {
        for context in github_contexts(text) {
            if !contexts.contains(&context) {
                contexts.push(context);
            }
        }
    }
    Step {
        line: node.line,
        uses: node.get("uses").and_then(Node::as_str).map(str::to_string),
        with: node.get("with").map(inputs).unwrap_or_default(),
        env: node.get("env").map(inputs).unwrap_or_default(),
        run_line: run.map(|r| r.line),
        commands,
        contexts,
        secrets_read: secret_names_in(node),
        anchor_line: node.anchor_line,
    }
}

/// Secret names read anywhere below `node`, in order, once each.
fn secret_names_in(node: &Node) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for text in node.scalars() {
        for name in secret_names(text) {
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    names
}

/// `github.x.y` context paths in a text (`${{ github.head_ref }}`, `github.event.…`).
fn github_contexts(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("github.") {
        let boundary = rest[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'));
        let path: String = rest[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
            .collect();
        if boundary {
            out.push(path.trim_end_matches('.').to_string());
        }
        rest = &rest[at + "github.".len()..];
    }
    out
}

/// `X` of every `secrets.X` / `secrets['X']` in an expression, `GITHUB_TOKEN` excepted.
pub fn secret_names(text: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("secrets") {
        let after = &rest[at + "secrets".len()..];
        let name: String = after
            .trim_start_matches(['.', '[', '\'', '"'])
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
            .collect();
        let is_ref = after.starts_with('.') || after.starts_with('[');
        if is_ref && !name.is_empty() && !name.eq_ignore_ascii_case("GITHUB_TOKEN") {
            let name = name.to_ascii_uppercase();
            if !names.contains(&name) {
                names.push(name);
            }
        }
        rest = after;
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_jobs_steps_and_secret_references() {
        let text = "on:\n  pull_request_target:\n    types: [opened]\npermissions: write-all\njobs:\n  deploy:\n    runs-on: x\n    env:\n      AWS_SECRET_ACCESS_KEY: ${{ secrets.AWS_SECRET }}\n    steps:\n      - uses: aws-actions/configure-aws-credentials@v4\n        with:\n          aws-access-key-id: ${{ secrets['AWS_ID'] }}\n          aws-region: eu-west-1\n  call:\n    uses: org/repo/.github/workflows/x.yml@main\n    secrets: inherit\n";
        let doc = read(".github/workflows/d.yml", text);
        assert_eq!(doc.triggers, vec!["pull_request_target"]);
        assert_eq!(doc.on_line, Some(1));
        let perms = doc.permissions.as_ref().unwrap();
        assert_eq!((perms.mode.as_str(), perms.line), ("write-all", 4));
        let deploy = &doc.jobs[0];
        assert_eq!(deploy.env[0].name, "AWS_SECRET_ACCESS_KEY");
        assert_eq!(deploy.env[0].line, 9);
        assert!(deploy.env[0].from_secret);
        let with = &deploy.steps[0].with;
        assert_eq!(with[0].secrets, vec!["AWS_ID"]);
        assert_eq!(with[0].line, 13);
        assert!(with[1].literal && !with[1].from_secret);
        assert_eq!(deploy.secrets_read, vec!["AWS_SECRET", "AWS_ID"]);
        assert_eq!(doc.jobs[1].secrets_inherit, Some(17));
    }

    #[test]
    fn not_a_workflow_is_unreadable() {
        assert!(read("x.yml", "- a\n- b\n").unreadable.is_some());
        assert!(read("x.yml", "name: x\n").unreadable.is_some());
    }
}
