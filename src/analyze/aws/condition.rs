//! Analyze, AWS: what an IAM statement's `Condition` means for one principal.
//!
//! Only a condition lapse can decide from the principal itself is resolved: `aws:PrincipalArn`,
//! `aws:PrincipalAccount` and `aws:PrincipalTag/<key>` compared with literal values under a
//! plain `String*` or `Arn*` operator. Everything else (source IP, MFA, time, request tags,
//! `ForAllValues:` / `ForAnyValue:` set operators, `…IfExists`, policy variables) stays
//! undecided, and the statement is *conditional*: counted one severity step lower by the rules,
//! quoted in the evidence, never silently dropped and never silently counted in full.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::analyze::policy::wildcard_match;

/// The principal a condition is judged for.
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    pub arn: &'a str,
    pub account: &'a str,
    pub tags: &'a BTreeMap<String, String>,
}

/// Whether a statement's condition holds for a caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holds {
    Always,
    Never,
    /// Undecided: the clauses lapse could not resolve, as compact JSON.
    Maybe(String),
}

/// Judges a `Condition` block (clauses are ANDed) for `caller`.
pub fn holds(condition: &Map<String, Value>, caller: &Caller) -> Holds {
    let mut undecided = Map::new();
    for (operator, block) in condition {
        let Some(block) = block.as_object() else {
            undecided.insert(operator.clone(), block.clone());
            continue;
        };
        for (key, values) in block {
            match clause(operator, key, values, caller) {
                Some(true) => {}
                Some(false) => return Holds::Never,
                None => {
                    let entry = undecided
                        .entry(operator.clone())
                        .or_insert_with(|| Value::Object(Map::new()));
                    if let Some(map) = entry.as_object_mut() {
                        map.insert(key.clone(), values.clone());
                    }
                }
            }
        }
    }
    if undecided.is_empty() {
        Holds::Always
    } else {
        Holds::Maybe(Value::Object(undecided).to_string())
    }
}

/// One `operator: {key: values}` clause: `Some` when decided.
fn clause(operator: &str, key: &str, values: &Value, caller: &Caller) -> Option<bool> {
    let op = operator.to_ascii_lowercase();
    let (negated, kind) = match op.as_str() {
        "stringequals" | "arnequals" => (false, Compare::Exact),
        "stringnotequals" | "arnnotequals" => (true, Compare::Exact),
        "stringequalsignorecase" => (false, Compare::IgnoreCase),
        "stringnotequalsignorecase" => (true, Compare::IgnoreCase),
        "stringlike" | "arnlike" => (false, Compare::Like),
        "stringnotlike" | "arnnotlike" => (true, Compare::Like),
        // Set operators, IfExists, Null, Bool, numeric, date, IP: never resolved here.
        _ => return None,
    };
    let actual = caller_value(key, caller)?;
    let literals = literals(values)?;
    let matched = actual.is_some_and(|a| literals.iter().any(|v| kind.matches(v, a)));
    // A key the caller lacks (an untagged principal) fails a positive operator and satisfies a
    // negated one, as AWS evaluates them without `IfExists`.
    Some(matched != negated)
}

#[derive(Clone, Copy)]
enum Compare {
    Exact,
    IgnoreCase,
    Like,
}

impl Compare {
    fn matches(self, pattern: &str, actual: &str) -> bool {
        match self {
            Compare::Exact => pattern == actual,
            Compare::IgnoreCase => pattern.eq_ignore_ascii_case(actual),
            Compare::Like => wildcard_match(pattern, actual),
        }
    }
}

/// The caller's value of a principal key: `Some(None)` when it is a principal key the caller
/// does not carry (a tag it lacks), `None` when the key is not one lapse resolves.
fn caller_value<'a>(key: &str, caller: &Caller<'a>) -> Option<Option<&'a str>> {
    let lower = key.to_ascii_lowercase();
    match lower.as_str() {
        "aws:principalarn" => Some(Some(caller.arn)),
        "aws:principalaccount" => Some(Some(caller.account)),
        _ => {
            let tag = lower.strip_prefix("aws:principaltag/")?;
            // Tag keys are case-insensitive in condition keys.
            let value = caller
                .tags
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(tag))
                .map(|(_, v)| v.as_str());
            Some(value)
        }
    }
}

/// The values as literal strings; `None` if one is a policy variable or not a string.
fn literals(values: &Value) -> Option<Vec<&str>> {
    let list: Vec<&Value> = match values {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    list.iter()
        .map(|v| v.as_str().filter(|s| !s.contains("${")))
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn judge(condition: Value) -> Holds {
        let tags = BTreeMap::from([("team".to_string(), "ops".to_string())]);
        let caller = Caller {
            arn: "arn:aws:iam::111111111111:role/ci",
            account: "111111111111",
            tags: &tags,
        };
        holds(condition.as_object().unwrap(), &caller)
    }

    #[test]
    fn principal_keys_are_resolved() {
        let always = [
            json!({"StringEquals": {"aws:PrincipalAccount": "111111111111"}}),
            json!({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::111111111111:role/*"}}),
            json!({"StringEquals": {"aws:PrincipalTag/Team": ["dev", "ops"]}}),
            json!({"StringNotEquals": {"aws:PrincipalTag/owner": "x"}}),
        ];
        for c in always {
            assert_eq!(judge(c.clone()), Holds::Always, "{c}");
        }
        let never = [
            json!({"StringEquals": {"aws:PrincipalAccount": "999999999999"}}),
            json!({"StringEquals": {"aws:PrincipalTag/owner": "x"}}),
            json!({"StringNotLike": {"aws:PrincipalArn": "*:role/ci"}}),
        ];
        for c in never {
            assert_eq!(judge(c.clone()), Holds::Never, "{c}");
        }
    }

    #[test]
    fn other_keys_and_operators_stay_undecided() {
        for c in [
            json!({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}),
            json!({"StringEqualsIfExists": {"aws:PrincipalAccount": "999999999999"}}),
            json!({"ForAnyValue:StringEquals": {"aws:PrincipalTag/team": "x"}}),
            json!({"ForAllValues:StringEquals": {"aws:PrincipalAccount": "9"}}),
            json!({"StringEquals": {"aws:PrincipalAccount": "${aws:ResourceAccount}"}}),
        ] {
            assert!(matches!(judge(c.clone()), Holds::Maybe(_)), "{c}");
        }
        // A decided clause that holds leaves only the undecided one quoted.
        let mixed = json!({"StringEquals": {"aws:PrincipalAccount": "111111111111"},
            "Bool": {"aws:MultiFactorAuthPresent": "true"}});
        assert_eq!(
            judge(mixed),
            Holds::Maybe(r#"{"Bool":{"aws:MultiFactorAuthPresent":"true"}}"#.into())
        );
    }
}
