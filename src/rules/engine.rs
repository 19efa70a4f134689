//! Rules, evaluation: compiles each rule's CEL condition once, then evaluates rules against
//! subjects in parallel; a subject's CEL context is built once and shared by its rules.
//!
//! A condition that fails to evaluate (reads a missing fact, compares `null`) is never a
//! silent `false`: it becomes a coverage gap, which makes the scan incomplete (exit 3).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use cel_interpreter::objects::{Key, Map};
use cel_interpreter::{Context, Program, Value};
use rayon::prelude::*;

use super::Rule;
use super::condition::Reads;
use super::fast;
use crate::analyze::Subject;
use crate::findings::{Finding, fingerprint, risk};
use crate::inventory::{CoverageGap, Timestamp};
use cel_parser::ast::IdedExpr;

/// Gaps kept per rule: past this, one summary gap says how many more resources failed, so a
/// broken rule on a large estate does not bury the report.
const GAPS_PER_RULE: usize = 20;

/// A rule with its compiled condition, built by the loader.
pub struct CompiledRule {
    rule: Rule,
    compiled: Compiled,
}

struct Compiled {
    program: Program,
    /// Facts the condition reads (`r.<name>`): the finding's evidence.
    evidence: Vec<String>,
    /// The condition uses `r` as a whole, so it needs every fact.
    whole_facts: bool,
    /// `(fact, input that supplies it)`: without the fact, the rule does not judge.
    required: Vec<(String, String)>,
    /// `params`, converted once.
    params: Value,
    /// The condition reads `params`: without, the engine does not set it.
    uses_params: bool,
    /// The rule's title and remediation, shared by all its findings.
    title: Arc<str>,
    remediation: Arc<str>,
    /// The parsed condition, for the direct path ([`fast`]).
    ast: IdedExpr,
}

impl CompiledRule {
    pub fn new(rule: Rule, program: Program, reads: Reads, ast: IdedExpr) -> Self {
        let params = json_object_to_cel(rule.params.iter());
        let compiled = Compiled {
            program,
            evidence: reads.facts,
            whole_facts: reads.whole_facts,
            required: reads.required,
            params,
            uses_params: reads.uses_params,
            title: Arc::from(rule.title.as_str()),
            remediation: Arc::from(rule.docs.remediation.as_str()),
            ast,
        };
        CompiledRule { rule, compiled }
    }
}

/// The active rules of one subject kind, and the facts they read.
struct KindRules {
    rules: Vec<usize>,
    /// Facts to put in `r`, sorted, with their CEL keys built once; `None`: all of them.
    /// Parsing and converting only what conditions read halves the per-subject cost on wide
    /// fact sets.
    facts: Option<Fields>,
    /// Beside `rules`: each condition compiled for the direct path over `facts`, when it can
    /// be (`None`: the interpreter evaluates it).
    fast: Vec<Option<fast::Node>>,
}

/// The facts the rules of a kind read: names (sorted) and their CEL keys.
struct Fields {
    names: Vec<String>,
    keys: Vec<Key>,
}

/// The rules of a run, compiled, indexed by the subject kind they apply to.
pub struct RuleSet {
    rules: Vec<Rule>,
    compiled: Vec<Compiled>,
    /// Active rules (enabled, not removed) by subject kind.
    by_kind: crate::hash::FastMap<String, KindRules>,
}

impl std::fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.rules.iter().map(|r| r.id.as_str()).collect();
        f.debug_struct("RuleSet").field("rules", &ids).finish()
    }
}

impl RuleSet {
    pub fn new(rules: Vec<CompiledRule>) -> Self {
        let (rules, compiled): (Vec<Rule>, Vec<Compiled>) =
            rules.into_iter().map(|c| (c.rule, c.compiled)).unzip();
        let mut indexes: HashMap<String, Vec<usize>> = HashMap::new();
        for (index, rule) in rules.iter().enumerate().filter(|(_, r)| r.is_active()) {
            for kind in &rule.applies_to {
                indexes.entry(kind.clone()).or_default().push(index);
            }
        }
        let by_kind = indexes
            .into_iter()
            .map(|(kind, members)| {
                let facts = facts_read(&compiled, &members);
                let fast = members
                    .iter()
                    .map(|&index| {
                        let fields = facts.as_ref()?;
                        let at = |name: &str| {
                            fields.names.binary_search_by(|n| n.as_str().cmp(name)).ok()
                        };
                        fast::compile(&compiled[index].ast, &at, &rules[index].params)
                    })
                    .collect();
                (
                    kind,
                    KindRules {
                        rules: members,
                        facts,
                        fast,
                    },
                )
            })
            .collect();
        RuleSet {
            rules,
            compiled,
            by_kind,
        }
    }

    /// Every rule, including disabled and removed ones (listings show them).
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn get(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }
}

/// What evaluation produced: findings, the rules whose condition failed on a subject (gaps),
/// and the rules that could not judge some subjects for want of an input (report-only).
#[derive(Debug, Default)]
pub struct Evaluation {
    /// Sorted by descending risk, then rule id, then resource id.
    pub findings: Vec<Finding>,
    pub errors: Vec<CoverageGap>,
    /// By rule id, then fact.
    pub not_judged: Vec<NotJudged>,
}

/// A rule that did not judge some subjects: a fact it requires was unknown on them. Reported,
/// never counted in the gate: the input is optional, and the rule says which one it wants.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NotJudged {
    pub rule_id: String,
    /// The unknown fact (`max_session_duration_secs`).
    pub fact: String,
    /// The input that supplies it, as the rule's `[requires]` says.
    pub needs: String,
    /// Subjects of the rule's kinds that lacked it.
    pub subjects: u64,
}

/// One piece of the parallel evaluation: findings, gaps, and `(rule, required fact)` indexes
/// of each subject a rule did not judge.
type Part = (Vec<Finding>, Vec<CoverageGap>, Vec<(usize, usize)>);

/// Evaluates every active rule on every subject of a kind it applies to, at `as_of`.
pub fn evaluate(rules: &RuleSet, subjects: &[Subject], as_of: Timestamp) -> Evaluation {
    let now = Value::Timestamp(as_of.fixed_offset());
    // One context per worker, reused: `r` is replaced per subject and `params` per rule, which
    // costs no allocation, where a child context per subject and rule would cost two.
    // Folded per piece of work rather than collected per subject: 300k small vectors (four
    // slots each at least) would cost as much as the findings, at the peak of the run's memory.
    // The pieces are joined once, in the subjects' order, at their final size.
    let parts: Vec<Part> = subjects
        .par_iter()
        .map_init(
            || {
                let mut ctx = Context::default();
                ctx.add_variable_from_value("now", now.clone());
                ctx
            },
            |ctx, subject| evaluate_subject(rules, ctx, subject),
        )
        .fold(
            || (Vec::new(), Vec::new(), Vec::new()),
            |(findings, gaps, unjudged), (more, more_gaps, more_unjudged)| {
                (
                    concat(findings, more),
                    concat(gaps, more_gaps),
                    concat(unjudged, more_unjudged),
                )
            },
        )
        .collect();
    let mut findings = Vec::with_capacity(parts.len());
    let mut errors = Vec::with_capacity(parts.len());
    let mut unjudged: BTreeMap<(usize, usize), u64> = BTreeMap::new();
    for (f, e, u) in parts {
        findings.push(f);
        errors.push(e);
        for key in u {
            *unjudged.entry(key).or_insert(0) += 1;
        }
    }
    let mut evaluation = Evaluation {
        findings: flatten(findings),
        errors: flatten(errors),
        not_judged: not_judged(rules, unjudged),
    };
    sort_findings(&mut evaluation.findings);
    evaluation.errors = cap_gaps(evaluation.errors);
    evaluation
}

/// Sorts findings by descending risk, then rule id, resource id and fingerprint.
///
/// The order is total (ties end at the fingerprint), so an unstable sort gives the same order.
/// The sort moves small keys, not the findings (a few hundred bytes each, and a large estate
/// has 600k of them), then moves each finding once, in place, to where its key landed.
fn sort_findings(findings: &mut [Finding]) {
    let mut keys: Vec<(std::cmp::Reverse<u8>, &str, &str, &str, usize)> = findings
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let (rule, resource, fingerprint) = (&*f.rule_id, &*f.resource.id, &*f.fingerprint);
            (std::cmp::Reverse(f.risk), rule, resource, fingerprint, i)
        })
        .collect();
    keys.par_sort_unstable();
    let mut order: Vec<usize> = keys.into_iter().map(|key| key.4).collect();
    permute(findings, &mut order);
}

/// Puts `items[order[i]]` at `i` for every `i`, by following each cycle of the permutation
/// with swaps; `order` is left as the identity.
fn permute<T>(items: &mut [T], order: &mut [usize]) {
    for start in 0..items.len() {
        let mut at = start;
        while order[at] != at {
            let from = order[at];
            order[at] = at;
            if from == start {
                break;
            }
            items.swap(at, from);
            at = from;
        }
    }
}

fn not_judged(rules: &RuleSet, counts: BTreeMap<(usize, usize), u64>) -> Vec<NotJudged> {
    let mut list: Vec<NotJudged> = counts
        .into_iter()
        .map(|((rule, fact), subjects)| {
            let (name, needs) = &rules.compiled[rule].required[fact];
            NotJudged {
                rule_id: rules.rules[rule].id.clone(),
                fact: name.clone(),
                needs: needs.clone(),
                subjects,
            }
        })
        .collect();
    list.sort_by(|a, b| a.rule_id.cmp(&b.rule_id).then_with(|| a.fact.cmp(&b.fact)));
    list
}

/// The parts, in order, in one vector allocated at its final size.
fn flatten<T>(parts: Vec<Vec<T>>) -> Vec<T> {
    let mut all = Vec::with_capacity(parts.iter().map(Vec::len).sum());
    for part in parts {
        all.extend(part);
    }
    all
}

/// `first` then `rest`, reusing `first`'s buffer (or taking `rest`'s when `first` is empty).
fn concat<T>(mut first: Vec<T>, mut rest: Vec<T>) -> Vec<T> {
    if first.is_empty() {
        return rest;
    }
    first.append(&mut rest);
    first
}

fn evaluate_subject(rules: &RuleSet, ctx: &mut Context, subject: &Subject) -> Part {
    let mut findings = Vec::new();
    let mut gaps = Vec::new();
    let mut unjudged = Vec::new();
    let Some(kind) = rules.by_kind.get(&subject.kind) else {
        return (findings, gaps, unjudged);
    };
    // Only the facts the kind's rules read are parsed; they also give findings their evidence.
    let read = match &kind.facts {
        Some(fields) => Read::Picked(fields, subject.facts.pick(&fields.names)),
        None => Read::All(subject.facts()),
    };
    // The interpreter's `r`: built on the first rule the direct path leaves to it, then shared
    // by the subject's other rules (the costly part of a CEL evaluation).
    let mut r_set = false;
    for (&index, fast) in kind.rules.iter().zip(&kind.fast) {
        let (rule, compiled) = (&rules.rules[index], &rules.compiled[index]);
        let missing = compiled
            .required
            .iter()
            .position(|(fact, _)| read.get(fact).is_none_or(serde_json::Value::is_null));
        if let Some(fact) = missing {
            unjudged.push((index, fact));
            continue;
        }
        let direct = match (fast, &read) {
            (Some(node), Read::Picked(_, values)) => node.decide(values),
            _ => None,
        };
        let outcome = match direct {
            Some(holds) => Ok(Ok(Value::Bool(holds))),
            None => {
                if !r_set {
                    ctx.add_variable_from_value("r", read.to_cel());
                    r_set = true;
                }
                if compiled.uses_params {
                    ctx.add_variable_from_value("params", compiled.params.clone());
                }
                // A panic inside the interpreter (a `duration()` literal chrono cannot hold)
                // costs this rule on this subject, as a gap; the other rules and subjects go on.
                super::condition::contain(|| compiled.program.execute(ctx))
            }
        };
        match outcome {
            Ok(Ok(Value::Bool(true))) => findings.push(finding(
                rule,
                compiled,
                subject,
                read.evidence(&compiled.evidence),
            )),
            Ok(Ok(Value::Bool(false))) => {}
            Ok(Ok(other)) => gaps.push(gap(
                rule,
                subject,
                format!("condition returned {:?}, not a boolean", other.type_of()),
            )),
            Ok(Err(err)) => gaps.push(gap(rule, subject, format!("condition failed: {err}"))),
            Err(()) => gaps.push(gap(
                rule,
                subject,
                "the expression engine panicked while evaluating the condition".to_string(),
            )),
        }
    }
    (findings, gaps, unjudged)
}

/// A subject's facts as evaluation reads them: the few its kind's rules name (in the order of
/// the kind's [`Fields`]), or all of them.
enum Read<'a> {
    Picked(&'a Fields, Vec<Option<serde_json::Value>>),
    All(serde_json::Map<String, serde_json::Value>),
}

impl Read<'_> {
    /// The facts as the interpreter's `r`.
    fn to_cel(&self) -> Value {
        match self {
            Read::Picked(fields, values) => {
                let mut map = HashMap::with_capacity(fields.keys.len());
                for (key, value) in fields.keys.iter().zip(values) {
                    if let Some(value) = value {
                        map.insert(key.clone(), json_to_cel(value));
                    }
                }
                Value::Map(Map { map: Arc::new(map) })
            }
            Read::All(json) => json_object_to_cel(json.iter()),
        }
    }

    /// One fact; `None` when the subject does not carry it.
    fn get(&self, name: &str) -> Option<&serde_json::Value> {
        match self {
            Read::Picked(fields, values) => fields
                .names
                .binary_search_by(|n| n.as_str().cmp(name))
                .ok()
                .and_then(|at| values[at].as_ref()),
            Read::All(map) => map.get(name),
        }
    }

    /// The facts a condition reads, by name: its finding's evidence (`null` for one the
    /// subject does not carry).
    fn evidence(&self, names: &[String]) -> BTreeMap<String, serde_json::Value> {
        names
            .iter()
            .map(|name| {
                let value = self.get(name).cloned().unwrap_or(serde_json::Value::Null);
                (name.clone(), value)
            })
            .collect()
    }
}

/// The union of the facts `rules` read, or `None` when one of them needs them all.
fn facts_read(compiled: &[Compiled], rules: &[usize]) -> Option<Fields> {
    let mut names: Vec<&String> = Vec::new();
    for &index in rules {
        let rule = &compiled[index];
        if rule.whole_facts {
            return None;
        }
        names.extend(&rule.evidence);
        names.extend(rule.required.iter().map(|(fact, _)| fact));
    }
    names.sort();
    names.dedup();
    let names: Vec<String> = names.into_iter().cloned().collect();
    let keys = names
        .iter()
        .map(|n| Key::String(Arc::new(n.clone())))
        .collect();
    Some(Fields { names, keys })
}

fn finding(
    rule: &Rule,
    compiled: &Compiled,
    subject: &Subject,
    evidence: BTreeMap<String, serde_json::Value>,
) -> Finding {
    Finding {
        rule_id: rule.id.clone(),
        title: Arc::clone(&compiled.title),
        family: rule.family,
        severity: rule.severity,
        risk: risk::score(rule.severity, &subject.risk),
        resource: subject.resource.clone(),
        principal_id: subject.principal_id.clone(),
        principal: None,
        fingerprint: fingerprint(&rule.id, &subject.resource, subject.location.as_ref()),
        evidence,
        remediation: Arc::clone(&compiled.remediation),
        location: subject.location.clone(),
        suppressed: None,
    }
}

fn gap(rule: &Rule, subject: &Subject, reason: String) -> CoverageGap {
    CoverageGap {
        source: "rules".to_string(),
        scope: rule.id.clone(),
        what: subject.resource.id.clone(),
        reason,
        request: None,
    }
}

/// Keeps the first `GAPS_PER_RULE` gaps of each rule (by resource id) and summarizes the rest.
fn cap_gaps(mut gaps: Vec<CoverageGap>) -> Vec<CoverageGap> {
    gaps.sort_by(|a, b| a.scope.cmp(&b.scope).then_with(|| a.what.cmp(&b.what)));
    let mut kept = Vec::new();
    let mut by_rule: BTreeMap<String, Vec<CoverageGap>> = BTreeMap::new();
    for gap in gaps {
        by_rule.entry(gap.scope.clone()).or_default().push(gap);
    }
    for (rule_id, mut list) in by_rule {
        let more = list.len().saturating_sub(GAPS_PER_RULE);
        list.truncate(GAPS_PER_RULE);
        kept.extend(list);
        if more > 0 {
            kept.push(CoverageGap {
                source: "rules".to_string(),
                scope: rule_id,
                what: format!("{more} more resources"),
                reason: "the condition failed on them too (first failures listed above)"
                    .to_string(),
                request: None,
            });
        }
    }
    kept
}

fn json_object_to_cel<'a>(
    entries: impl Iterator<Item = (&'a String, &'a serde_json::Value)>,
) -> Value {
    let map: HashMap<Key, Value> = entries
        .map(|(k, v)| (Key::String(Arc::new(k.clone())), json_to_cel(v)))
        .collect();
    Value::Map(Map { map: Arc::new(map) })
}

/// JSON to CEL. Integers become `int` (never `uint`) so `r.age_days > 90` and arithmetic
/// between facts and literals type-check.
pub(super) fn json_to_cel(value: &serde_json::Value) -> Value {
    use serde_json::Value as J;
    match value {
        J::Null => Value::Null,
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => n.as_f64().map(Value::Float).unwrap_or(Value::Null),
        },
        J::String(s) => Value::String(Arc::new(s.clone())),
        J::Array(items) => Value::List(Arc::new(items.iter().map(json_to_cel).collect())),
        J::Object(map) => json_object_to_cel(map.iter()),
    }
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
