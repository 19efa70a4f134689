//! Collect, repository: reads a GitHub Actions workflow into `WorkflowDoc`, the structured
//! form the inventory stores (triggers, permissions, jobs, steps, env, with line numbers).
//!
//! Reading only: whether a step hands a long-lived cloud key to CI is judged in
//! `analyze::repo`. Values are never stored, only whether they come from `secrets.*` and which
//! secret names they read, so a key pasted into a workflow never travels into a report.

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
    /// Set when the file is not a mapping with `jobs`: the file could not be judged.
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
}

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
}

/// Reads a workflow file's text.
pub fn read(path: &str, text: &str) -> WorkflowDoc {
    let root = yaml::parse(text);
    let mut doc = WorkflowDoc {
        path: path.to_string(),
        ..WorkflowDoc::default()
    };
    let Value::Map(_) = root.value else {
        doc.unreadable = Some("not a YAML mapping".into());
        return doc;
    };
    doc.name = root.get("name").and_then(Node::as_str).map(str::to_string);
    // `on` may be spelled `true` by YAML 1.1 readers; a workflow author writes `on`.
    if let Some(on) = root.get("on").or_else(|| root.get("true")) {
        doc.on_line = Some(on.line);
        doc.triggers = triggers(on);
    }
    doc.permissions = root.get("permissions").map(permissions);
    doc.env = root.get("env").map(inputs).unwrap_or_default();
    match root.get("jobs") {
        Some(jobs) => {
            doc.jobs = jobs
                .entries()
                .iter()
                .map(|(id, n)| job(id, n, text))
                .collect()
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
            Input {
                name: name.clone(),
                line: value.line.max(1),
                from_secret: !secrets.is_empty(),
                literal: !text.contains("${{"),
                secrets,
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

fn job(id: &str, node: &Node, text: &str) -> Job {
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
    job.secrets_read = secrets_in_lines(text, node.line, last_line(node));
    job
}

fn step(node: &Node) -> Step {
    Step {
        line: node.line,
        uses: node.get("uses").and_then(Node::as_str).map(str::to_string),
        with: node.get("with").map(inputs).unwrap_or_default(),
        env: node.get("env").map(inputs).unwrap_or_default(),
    }
}

/// Last line a node spans (its deepest last child).
fn last_line(node: &Node) -> u32 {
    let child = match &node.value {
        Value::Map(entries) => entries.last().map(|(_, n)| last_line(n)),
        Value::Seq(items) => items.last().map(last_line),
        Value::Scalar(s) => Some(node.line + s.matches('\n').count() as u32),
        Value::Null => None,
    };
    child.unwrap_or(node.line).max(node.line)
}

/// Secret names read between two lines (inclusive), in order, once each.
fn secrets_in_lines(text: &str, first: u32, last: u32) -> Vec<String> {
    let span: Vec<&str> = text
        .lines()
        .skip(first.saturating_sub(1) as usize)
        .take((last + 1).saturating_sub(first) as usize)
        .collect();
    secret_names(&span.join("\n"))
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
