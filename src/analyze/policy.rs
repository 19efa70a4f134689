//! Analyze, AWS policy documents: statements compiled once, the privilege level they grant,
//! and whether they allow one action on one resource (what escalation paths and chains ask).
//!
//! Each document is compiled once ([`CompiledPolicy`]) and judged alone; a principal's level is
//! the union of its documents' verdicts, unless one of them holds an unconditional Deny or a
//! conditional statement, in which case its statements are judged together for that principal
//! (a Deny cancels Allows of other documents; a condition on the principal's own ARN, account
//! or tags is decided, see `aws::condition`). Most principals hold neither, which keeps the
//! whole estate O(total statements).
//!
//! The level, deliberately conservative (it may over-state, never under-state):
//! * an action is *read* when its verb is a read verb (`Get`, `List`, `Describe`, ...), a pattern
//!   reaches *write* unless its literal prefix starts with one (`s3:Get*` read, `s3:*` write);
//! * *admin* is an Allow of every action (`*`) on every resource (`*`, `arn:*`,
//!   `arn:aws:*:*:*:*`); what else makes a principal admin (an IAM action that grants itself
//!   anything, a role it can pass or assume) is the escalation catalogue's to say
//!   (`aws::escalation`), matched against the ARN each step must reach;
//! * an unconditional Deny cancels what it covers; a conditional Deny cancels nothing here; a
//!   conditional Allow counts, flagged `privilege_conditional`, unless its condition cannot
//!   hold for the principal; NotResource counts as every resource for an Allow and as no
//!   resource for a Deny.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::Privilege;
use super::aws::PrivilegeFacts;
use super::aws::condition::{Caller, Holds, holds};

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
    /// NotResource (its list), or no Resource element at all (an empty list).
    AllBut(Vec<String>),
}

impl Resources {
    /// Applies to every resource, for an Allow (conservative for NotResource).
    fn any(&self) -> bool {
        match self {
            Resources::Only(list) => list.iter().any(|r| every_resource(r)),
            Resources::AllBut(_) => true,
        }
    }

    /// Names this concrete ARN.
    fn reaches(&self, arn: &str) -> bool {
        match self {
            Resources::Only(list) => list.iter().any(|r| wildcard_match(r, arn)),
            Resources::AllBut(list) => !list.iter().any(|r| wildcard_match(r, arn)),
        }
    }

    /// Can name some resource of `service` (an action whose resource lapse cannot know, such
    /// as the instance `ec2:RunInstances` creates). For a Deny: names all of them.
    fn serves(&self, service: &str, deny: bool) -> bool {
        match self {
            Resources::Only(list) => list.iter().any(|r| {
                if every_resource(r) {
                    return true;
                }
                let mut fields = r.splitn(6, ':');
                let (arn, service_field) = (fields.next(), fields.nth(1));
                let same =
                    arn == Some("arn") && service_field.is_some_and(|f| wildcard_match(f, service));
                if deny {
                    same && fields.all(|f| f.bytes().all(|b| b == b'*'))
                } else {
                    same
                }
            }),
            Resources::AllBut(list) => !deny || list.is_empty(),
        }
    }
}

/// `*`, `arn:*`, `arn:aws:*:*:*:*`: every resource of every service (any partition).
pub fn every_resource(pattern: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let Some(rest) = pattern.strip_prefix("arn:") else {
        return false;
    };
    let stars = |f: &str| !f.is_empty() && f.bytes().all(|b| b == b'*');
    let fields: Vec<&str> = rest.split(':').collect();
    match fields.as_slice() {
        [only] => stars(only),
        // A literal partition still names all of it; the service must be open, and so must the
        // last field (a `*` spans the colons of the fields it swallows).
        [_, tail @ ..] => {
            tail.first().is_some_and(|f| stars(f))
                && tail.last().is_some_and(|f| stars(f))
                && tail.iter().all(|f| f.is_empty() || stars(f))
        }
        [] => false,
    }
}

/// What a resource step must reach: a concrete ARN, or any resource of a service.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    Arn(&'a str),
    /// Some resource of the service.
    Service(&'a str),
    /// Every resource of the service.
    AllOf(&'a str),
}

#[derive(Debug, Clone)]
pub(crate) struct Statement {
    allow: bool,
    actions: Actions,
    resources: Resources,
    conditional: bool,
    condition: Option<Map<String, Value>>,
    /// Effect and resources, digested (see [`Statement::content_digest`]).
    digest: [u8; 16],
}

/// A SHA-256 digest cut to 128 bits: what the chains group principals by, in place of the text
/// it digests (no two contents share one but by a collision of SHA-256).
pub(crate) type Digest128 = [u8; 16];

/// Feeds `bytes` to `hasher` with its length first, so that a sequence of parts has one
/// encoding.
pub(crate) fn digest_part(hasher: &mut sha2::Sha256, bytes: &[u8]) {
    use sha2::Digest;
    hasher.update((bytes.len() as u64).to_le_bytes());
    hasher.update(bytes);
}

pub(crate) fn digest_finish(hasher: sha2::Sha256) -> Digest128 {
    use sha2::Digest;
    let full = hasher.finalize();
    let mut cut = [0u8; 16];
    cut.copy_from_slice(&full[..16]);
    cut
}

impl Statement {
    pub(crate) fn allow(&self) -> bool {
        self.allow
    }

    /// Applies to this target, whatever the action (for a statement already known to match
    /// it: see `aws::effective::Action`).
    pub(crate) fn on_target(&self, target: Target) -> bool {
        match target {
            Target::Arn(arn) => self.resources.reaches(arn),
            Target::Service(service) => self.resources.serves(service, !self.allow),
            Target::AllOf(service) => self.resources.serves(service, true),
        }
    }

    /// Can name some resource of `service` (for an Allow) or all of them (for a Deny).
    pub(crate) fn may_serve(&self, service: &str) -> bool {
        self.resources.serves(service, false)
    }

    /// What decides this statement for some action (its effect, its resources, whether its
    /// condition holds for the caller), digested: two statements with the same digest decide
    /// every target alike (the chains group principals by it). The condition-free part is
    /// digested once, when the statement is compiled.
    pub(crate) fn content_digest(&self, caller: Option<&Caller>) -> Digest128 {
        if self.condition.is_none() {
            return self.digest;
        }
        // A condition that surely holds decides as no condition does.
        match self.holds_for(caller) {
            Holds::Always => self.digest,
            held => {
                let mut hasher = <sha2::Sha256 as sha2::Digest>::new();
                digest_part(&mut hasher, &self.digest);
                digest_part(&mut hasher, format!("{held:?}").as_bytes());
                digest_finish(hasher)
            }
        }
    }

    /// Whether the condition holds for this caller (`Always` without one).
    pub(crate) fn holds_for(&self, caller: Option<&Caller>) -> Holds {
        match (&self.condition, caller) {
            (None, _) => Holds::Always,
            (Some(condition), Some(caller)) => holds(condition, caller),
            (Some(condition), None) => Holds::Maybe(Value::Object(condition.clone()).to_string()),
        }
    }

    /// This statement matches the concrete action `action` (lowercase).
    pub(crate) fn matches_action(&self, action: &str) -> bool {
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
        if denied.iter().any(|r| every_resource(r)) {
            return true;
        }
        match allowed {
            Resources::Only(list) => list
                .iter()
                .all(|a| denied.iter().any(|d| wildcard_match(d, a))),
            Resources::AllBut(_) => false,
        }
    }
}

/// One policy document, parsed once, with its verdict when judged alone.
#[derive(Debug, Clone)]
pub struct CompiledPolicy {
    name: String,
    statements: Vec<Statement>,
    /// Judged alone its verdict could be wrong for a principal: an unconditional Deny (it
    /// cancels other documents' Allows) or a condition (it may not hold for the principal).
    judge_together: bool,
    alone: PrivilegeFacts,
    /// The statements matching each action of one list (the escalation catalogue's actions),
    /// computed on first use: a policy is held by many principals, and every principal asks
    /// about every path's actions, on several targets. Keyed by the list's address.
    matching: std::sync::OnceLock<(usize, SlotTable)>,
}

/// For each action of a list (its slot), the indexes of the statements whose Action or
/// NotAction matches it: `(slot, statement)` pairs sorted by slot. Sparse, since most
/// policies match few of the list's actions: a few bytes per policy, where a dense table would
/// cost the list's length.
#[derive(Debug, Clone, Default)]
struct SlotTable(Vec<(u32, u32)>);

impl SlotTable {
    fn build(statements: &[Statement], actions: &[String]) -> Self {
        let mut pairs = Vec::new();
        for (slot, action) in actions.iter().enumerate() {
            for (at, statement) in statements.iter().enumerate() {
                if statement.matches_action(action) {
                    pairs.push((slot as u32, at as u32));
                }
            }
        }
        pairs.shrink_to_fit();
        SlotTable(pairs)
    }

    fn of(&self, slot: usize) -> impl Iterator<Item = usize> + '_ {
        let slot = slot as u32;
        let from = self.0.partition_point(|&(s, _)| s < slot);
        self.0[from..]
            .iter()
            .take_while(move |&&(s, _)| s == slot)
            .map(|&(_, at)| at as usize)
    }
}

impl CompiledPolicy {
    /// Parses a decoded policy document. Statements that are not well-formed (no Effect, no
    /// Action/NotAction) are skipped: AWS would have refused them.
    pub fn compile(name: &str, document: &Value) -> Self {
        let statements = statements_of(document);
        let judge_together = statements.iter().any(|s| s.conditional || !s.allow);
        let mut policy = CompiledPolicy {
            name: name.to_string(),
            statements,
            judge_together,
            alone: PrivilegeFacts::default(),
            matching: std::sync::OnceLock::new(),
        };
        policy.alone = judge(&[&policy], None).into_facts();
        policy
    }

    /// Some Allow statement matches this concrete (lowercase) action, on whatever resource.
    pub fn mentions(&self, action: &str) -> bool {
        self.statements
            .iter()
            .any(|s| s.allow && s.matches_action(action))
    }

    /// `mentions(&actions[slot])`, answered from the table of [`CompiledPolicy::slot_statements`].
    pub fn mentions_slot(&self, actions: &[String], slot: usize) -> bool {
        let mut found = false;
        self.slot_statements(actions, slot, |s| {
            found |= s.allow;
            !found
        });
        found
    }

    /// Calls `visit` on each statement whose Action or NotAction matches `actions[slot]`, in
    /// document order, until it returns false. Answered from a table built once per policy
    /// for `actions` (the first list asked about; another list is answered by matching each
    /// statement). A slot past the list's end matches nothing.
    pub(crate) fn slot_statements(
        &self,
        actions: &[String],
        slot: usize,
        mut visit: impl FnMut(&Statement) -> bool,
    ) {
        let key = actions.as_ptr() as usize;
        let (for_list, table) = self
            .matching
            .get_or_init(|| (key, SlotTable::build(&self.statements, actions)));
        if *for_list == key && slot < actions.len() {
            for at in table.of(slot) {
                if !visit(&self.statements[at]) {
                    return;
                }
            }
        } else if let Some(action) = actions.get(slot) {
            self.statements_matching(action, visit);
        }
    }

    /// Calls `visit` on each statement whose Action or NotAction matches the (lowercase)
    /// `action`, in document order, until it returns false.
    pub(crate) fn statements_matching(
        &self,
        action: &str,
        mut visit: impl FnMut(&Statement) -> bool,
    ) {
        for statement in self.statements.iter().filter(|s| s.matches_action(action)) {
            if !visit(statement) {
                return;
            }
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The verdict of this document alone.
    pub fn verdict(&self) -> &PrivilegeFacts {
        &self.alone
    }
}

/// The privilege facts of a principal (`caller`, when known) holding these documents
/// (managed, inline, via groups).
pub fn evaluate(policies: &[&CompiledPolicy], caller: Option<&Caller>) -> PrivilegeFacts {
    if policies.iter().any(|p| p.judge_together) {
        return judge(policies, caller).into_facts();
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
    /// The level unconditional statements alone grant.
    strict: Privilege,
}

impl Verdict {
    fn raise(&mut self, level: Privilege, conditional: bool) {
        self.level = self.level.max(level);
        if !conditional {
            self.strict = self.strict.max(level);
        }
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
        self.strict = self.strict.max(facts.strict);
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
            strict: self.strict,
            ..PrivilegeFacts::default()
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

/// Judges the statements of these documents together, for `caller` when known.
fn judge(policies: &[&CompiledPolicy], caller: Option<&Caller>) -> Verdict {
    let denies: Vec<&Statement> = policies
        .iter()
        .flat_map(|p| p.statements.iter())
        .filter(|s| !s.allow && s.holds_for(caller) == Holds::Always)
        .collect();
    let mut verdict = Verdict::default();
    for policy in policies {
        for statement in policy.statements.iter().filter(|s| s.allow) {
            let conditional = match statement.holds_for(caller) {
                Holds::Never => continue,
                Holds::Always => false,
                Holds::Maybe(_) => true,
            };
            judge_allow(&policy.name, statement, conditional, &denies, &mut verdict);
        }
    }
    verdict
}

fn judge_allow(
    policy: &str,
    allow: &Statement,
    conditional: bool,
    denies: &[&Statement],
    verdict: &mut Verdict,
) {
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
                verdict.raise(reach, conditional);
                if reach == Privilege::Write {
                    if has_wildcard(&pattern.lower) {
                        verdict.wildcard_actions.insert(pattern.text.clone());
                    }
                    verdict.write_on_any_resource |= any_resource;
                }
                // Every action on every resource, nothing of it denied everywhere.
                let partly_denied = denies
                    .iter()
                    .any(|d| d.covers_resources(&Resources::Only(vec!["*".into()])));
                if pattern.lower == "*" && any_resource && !partly_denied {
                    verdict.admin(policy, conditional);
                }
            }
        }
        Actions::AllBut(_) => {
            if cancelled(&Pattern::new("*")) {
                return;
            }
            verdict.not_action = true;
            verdict.raise(Privilege::Write, conditional);
            verdict.write_on_any_resource |= any_resource;
        }
    }
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
    let owned = |list: &Value| strings(list).into_iter().map(str::to_string).collect();
    let resources = match (value.get("Resource"), value.get("NotResource")) {
        (Some(list), _) => Resources::Only(owned(list)),
        (None, Some(list)) => Resources::AllBut(owned(list)),
        (None, None) => Resources::AllBut(Vec::new()),
    };
    let condition = match value.get("Condition") {
        None | Some(Value::Null) => None,
        Some(Value::Object(map)) if map.is_empty() => None,
        Some(Value::Object(map)) => Some(map.clone()),
        // Not an object: AWS would refuse it; kept undecidable rather than ignored.
        Some(other) => Some(Map::from_iter([("?".to_string(), other.clone())])),
    };
    let mut hasher = <sha2::Sha256 as sha2::Digest>::new();
    digest_part(&mut hasher, format!("{allow}|{resources:?}").as_bytes());
    Some(Statement {
        allow,
        actions,
        resources,
        conditional: condition.is_some(),
        condition,
        digest: digest_finish(hasher),
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
