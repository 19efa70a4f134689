//! Analyze, AWS policy documents: the privilege level of a principal's effective policies.
//!
//! Each document is compiled once ([`CompiledPolicy`]) and judged alone; a principal's level is
//! the union of its documents' verdicts, unless one of them holds an unconditional Deny, in
//! which case its statements are judged together (a Deny cancels Allows of other documents).
//! That keeps the whole estate O(total statements): most principals hold no Deny.
//!
//! The judgement, deliberately conservative (it may over-state, never under-state):
//! * an action is *read* when its verb is a read verb (`Get`, `List`, `Describe`, ...), a pattern
//!   reaches *write* unless its literal prefix starts with one (`s3:Get*` read, `s3:*` write);
//! * *admin* is an Allow, on `Resource: "*"`, of an IAM action that lets a principal grant
//!   itself anything ([`ESCALATION`]): `*`, `iam:*`, `iam:Put*Policy`, `iam:Attach*Policy`,
//!   `iam:CreatePolicyVersion`; an Allow with NotAction is admin when it does not exclude them;
//! * an unconditional Deny cancels what it covers (`*:*` cancels everything, `iam:*` the route
//!   to admin); a conditional Deny cancels nothing; a conditional Allow counts, flagged
//!   `privilege_conditional`; NotResource counts as every resource for an Allow and as no
//!   resource for a Deny.

use std::collections::BTreeSet;

use serde_json::Value;

use super::Privilege;
use super::aws::PrivilegeFacts;

/// IAM actions (lowercase) that let a principal give itself any permission: holding any of
/// them on every resource is as good as `*:*`.
pub const ESCALATION: &[&str] = &[
    "iam:attachuserpolicy",
    "iam:attachrolepolicy",
    "iam:attachgrouppolicy",
    "iam:putuserpolicy",
    "iam:putrolepolicy",
    "iam:putgrouppolicy",
    "iam:createpolicyversion",
];

/// Verbs (lowercase) of actions that only read.
const READ_VERBS: &[&str] = &[
    "get",
    "list",
    "describe",
    "head",
    "query",
    "scan",
    "select",
    "search",
    "view",
    "batchget",
    "batchdescribe",
    "lookup",
    "read",
    "retrieve",
    "download",
    "filter",
];

#[derive(Debug, Clone)]
struct Pattern {
    /// As written, for the `wildcard_actions` fact.
    text: String,
    /// Lowercase (action names are case-insensitive), `*:*` folded to `*`.
    lower: String,
}

impl Pattern {
    fn new(text: &str) -> Self {
        let lower = text.trim().to_ascii_lowercase();
        let lower = if lower == "*:*" {
            "*".to_string()
        } else {
            lower
        };
        Pattern {
            text: text.to_string(),
            lower,
        }
    }
}

#[derive(Debug, Clone)]
enum Actions {
    Only(Vec<Pattern>),
    AllBut(Vec<Pattern>),
}

#[derive(Debug, Clone)]
enum Resources {
    Only(Vec<String>),
    /// NotResource, or no Resource element at all.
    AllBut,
}

impl Resources {
    /// Applies to every resource, for an Allow (conservative for NotResource).
    fn any(&self) -> bool {
        match self {
            Resources::Only(list) => list.iter().any(|r| r == "*"),
            Resources::AllBut => true,
        }
    }
}

#[derive(Debug, Clone)]
struct Statement {
    allow: bool,
    actions: Actions,
    resources: Resources,
    conditional: bool,
}

impl Statement {
    /// This (Deny) statement matches the concrete action `action` (lowercase).
    fn matches_action(&self, action: &str) -> bool {
        match &self.actions {
            Actions::Only(list) => list.iter().any(|p| wildcard_match(&p.lower, action)),
            Actions::AllBut(list) => !list.iter().any(|p| wildcard_match(&p.lower, action)),
        }
    }

    /// This (Deny) statement matches every action the pattern can match.
    fn covers_pattern(&self, pattern: &Pattern) -> bool {
        match &self.actions {
            Actions::Only(list) => list
                .iter()
                .any(|d| wildcard_match(&d.lower, &pattern.lower)),
            Actions::AllBut(kept) => kept
                .iter()
                .all(|k| services_disjoint(&k.lower, &pattern.lower)),
        }
    }

    /// This (Deny) statement applies to every resource the Allow's resources name.
    fn covers_resources(&self, allowed: &Resources) -> bool {
        let Resources::Only(denied) = &self.resources else {
            return false;
        };
        if denied.iter().any(|r| r == "*") {
            return true;
        }
        match allowed {
            Resources::Only(list) => list
                .iter()
                .all(|a| denied.iter().any(|d| wildcard_match(d, a))),
            Resources::AllBut => false,
        }
    }
}

/// One policy document, parsed once, with its verdict when judged alone.
#[derive(Debug, Clone)]
pub struct CompiledPolicy {
    name: String,
    statements: Vec<Statement>,
    has_unconditional_deny: bool,
    alone: PrivilegeFacts,
}

impl CompiledPolicy {
    /// Parses a decoded policy document. Statements that are not well-formed (no Effect, no
    /// Action/NotAction) are skipped: AWS would have refused them.
    pub fn compile(name: &str, document: &Value) -> Self {
        let statements = statements_of(document);
        let has_unconditional_deny = statements.iter().any(|s| !s.allow && !s.conditional);
        let mut policy = CompiledPolicy {
            name: name.to_string(),
            statements,
            has_unconditional_deny,
            alone: PrivilegeFacts::default(),
        };
        policy.alone = judge(&[&policy]).into_facts();
        policy
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The verdict of this document alone.
    pub fn verdict(&self) -> &PrivilegeFacts {
        &self.alone
    }
}

/// The privilege facts of a principal holding these documents (managed, inline, via groups).
pub fn evaluate(policies: &[&CompiledPolicy]) -> PrivilegeFacts {
    if policies.iter().any(|p| p.has_unconditional_deny) {
        return judge(policies).into_facts();
    }
    let mut acc = Verdict::default();
    for policy in policies {
        acc.absorb(&policy.alone);
    }
    acc.into_facts()
}

#[derive(Debug, Default)]
struct Verdict {
    level: Privilege,
    wildcard_actions: BTreeSet<String>,
    not_action: bool,
    write_on_any_resource: bool,
    admin_via: BTreeSet<String>,
    conditional: bool,
}

impl Verdict {
    fn raise(&mut self, level: Privilege, conditional: bool) {
        self.level = self.level.max(level);
        self.conditional |= conditional && level > Privilege::None;
    }

    fn admin(&mut self, policy: &str, conditional: bool) {
        self.raise(Privilege::Admin, conditional);
        self.admin_via.insert(policy.to_string());
    }

    fn absorb(&mut self, facts: &PrivilegeFacts) {
        self.level = self.level.max(facts.privilege);
        self.wildcard_actions
            .extend(facts.wildcard_actions.iter().cloned());
        self.not_action |= facts.not_action;
        self.write_on_any_resource |= facts.write_on_any_resource;
        self.admin_via.extend(facts.admin_via.iter().cloned());
        self.conditional |= facts.privilege_conditional;
    }

    fn into_facts(self) -> PrivilegeFacts {
        PrivilegeFacts {
            privilege: self.level,
            privilege_rank: rank(self.level),
            wildcard_actions: self.wildcard_actions.into_iter().collect(),
            not_action: self.not_action,
            write_on_any_resource: self.write_on_any_resource,
            admin_via: self.admin_via.into_iter().collect(),
            privilege_conditional: self.conditional,
            permissions_boundary: None,
        }
    }
}

pub fn rank(level: Privilege) -> u8 {
    match level {
        Privilege::None => 0,
        Privilege::Read => 1,
        Privilege::Write => 2,
        Privilege::Admin => 3,
    }
}

/// Judges the statements of these documents together.
fn judge(policies: &[&CompiledPolicy]) -> Verdict {
    let denies: Vec<&Statement> = policies
        .iter()
        .flat_map(|p| p.statements.iter())
        .filter(|s| !s.allow && !s.conditional)
        .collect();
    let mut verdict = Verdict::default();
    for policy in policies {
        for statement in policy.statements.iter().filter(|s| s.allow) {
            judge_allow(&policy.name, statement, &denies, &mut verdict);
        }
    }
    verdict
}

fn judge_allow(policy: &str, allow: &Statement, denies: &[&Statement], verdict: &mut Verdict) {
    let any_resource = allow.resources.any();
    let cancelled = |pattern: &Pattern| {
        denies
            .iter()
            .any(|d| d.covers_pattern(pattern) && d.covers_resources(&allow.resources))
    };
    match &allow.actions {
        Actions::Only(patterns) => {
            for pattern in patterns.iter().filter(|p| !cancelled(p)) {
                let reach = reach(&pattern.lower);
                verdict.raise(reach, allow.conditional);
                if reach == Privilege::Write {
                    if has_wildcard(&pattern.lower) {
                        verdict.wildcard_actions.insert(pattern.text.clone());
                    }
                    verdict.write_on_any_resource |= any_resource;
                }
                let escalates = |action: &&str| {
                    wildcard_match(&pattern.lower, action) && !denied(action, denies)
                };
                if any_resource && ESCALATION.iter().any(escalates) {
                    verdict.admin(policy, allow.conditional);
                }
            }
        }
        Actions::AllBut(excluded) => {
            if cancelled(&Pattern::new("*")) {
                return;
            }
            verdict.not_action = true;
            verdict.raise(Privilege::Write, allow.conditional);
            verdict.write_on_any_resource |= any_resource;
            let escalates = |action: &&str| {
                !excluded.iter().any(|x| wildcard_match(&x.lower, action))
                    && !denied(action, denies)
            };
            if any_resource && ESCALATION.iter().any(escalates) {
                verdict.admin(policy, allow.conditional);
            }
        }
    }
}

/// An unconditional Deny on every resource matches this concrete action.
fn denied(action: &str, denies: &[&Statement]) -> bool {
    denies
        .iter()
        .any(|d| d.covers_resources(&Resources::Only(vec!["*".into()])) && d.matches_action(action))
}

/// The most a (lowercase) action pattern can do.
fn reach(lower: &str) -> Privilege {
    let Some((_, action)) = lower.split_once(':') else {
        // `*` (every action); anything else without a service prefix matches nothing.
        return if lower.chars().all(|c| c == '*') && !lower.is_empty() {
            Privilege::Write
        } else {
            Privilege::None
        };
    };
    let literal = action.split(['*', '?']).next().unwrap_or_default();
    if READ_VERBS.iter().any(|verb| literal.starts_with(verb)) {
        Privilege::Read
    } else {
        Privilege::Write
    }
}

fn has_wildcard(text: &str) -> bool {
    text.contains(['*', '?'])
}

/// The literal service prefixes of two patterns differ, so no action matches both.
fn services_disjoint(a: &str, b: &str) -> bool {
    match (a.split_once(':'), b.split_once(':')) {
        (Some((sa, _)), Some((sb, _))) => !has_wildcard(sa) && !has_wildcard(sb) && sa != sb,
        _ => false,
    }
}

/// IAM wildcard match: `*` any run, `?` one character. When `text` is itself a pattern, a
/// pattern `?` never stands for a wildcard of `text`, so a match means the pattern covers every
/// string the text pattern matches.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len()
            && (p[pi] == t[ti] || (p[pi] == b'?' && t[ti] != b'*' && t[ti] != b'?'))
        {
            pi += 1;
            ti += 1;
        } else if let Some((star_pi, star_ti)) = star {
            pi = star_pi + 1;
            ti = star_ti + 1;
            star = Some((star_pi, star_ti + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

fn statements_of(document: &Value) -> Vec<Statement> {
    let parsed;
    // Tolerate a document still in string form (a hand-made inventory).
    let document = match document {
        Value::String(text) => match serde_json::from_str::<Value>(text) {
            Ok(value) => {
                parsed = value;
                &parsed
            }
            Err(_) => return Vec::new(),
        },
        other => other,
    };
    match document.get("Statement") {
        Some(Value::Array(items)) => items.iter().filter_map(statement_of).collect(),
        Some(item @ Value::Object(_)) => statement_of(item).into_iter().collect(),
        _ => Vec::new(),
    }
}

fn statement_of(value: &Value) -> Option<Statement> {
    let effect = value.get("Effect")?.as_str()?;
    let allow = if effect.eq_ignore_ascii_case("allow") {
        true
    } else if effect.eq_ignore_ascii_case("deny") {
        false
    } else {
        return None;
    };
    let patterns = |v: &Value| strings(v).iter().map(|s| Pattern::new(s)).collect();
    let actions = match (value.get("Action"), value.get("NotAction")) {
        (Some(list), _) => Actions::Only(patterns(list)),
        (None, Some(list)) => Actions::AllBut(patterns(list)),
        (None, None) => return None,
    };
    let resources = match value.get("Resource") {
        Some(list) => Resources::Only(strings(list).into_iter().map(str::to_string).collect()),
        None => Resources::AllBut,
    };
    let conditional = match value.get("Condition") {
        None | Some(Value::Null) => false,
        Some(Value::Object(map)) => !map.is_empty(),
        Some(_) => true,
    };
    Some(Statement {
        allow,
        actions,
        resources,
        conditional,
    })
}

/// A string, or an array of strings (other items ignored).
pub fn strings(value: &Value) -> Vec<&str> {
    match value {
        Value::String(text) => vec![text.as_str()],
        Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
