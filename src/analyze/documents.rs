//! Analyze, documents: finds the AWS policy and trust documents the analyzers cannot read as
//! a JSON object, and records each as a coverage gap. The analyzers count such a document as
//! granting (or admitting) nothing; without the gap that would be a silent pass.
//!
//! Checked here, once, on the text the inventory keeps: a document that starts as an object
//! is readable without parsing it again, so a large estate pays only for the odd ones.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::collect::aws::details::account_of_arn;
use crate::inventory::{CoverageGap, Document, Inventory, Provider};

/// Every unreadable document that analysis would read: managed policies some grant refers to,
/// inline policies and permission boundaries, role trust policies. One gap per document.
pub fn unreadable(inventory: &Inventory) -> Vec<CoverageGap> {
    let aws = |provider: Provider| provider == Provider::Aws;
    let mut gaps = Vec::new();
    let mut seen = BTreeSet::new();
    // `what` is only written for a document with a problem: most have none.
    let mut check = |document: &Document, kind: Kind, what: &dyn Fn() -> String, arn: &str| {
        let Some(reason) = kind.problem(document) else {
            return;
        };
        let what = what();
        if seen.insert(what.clone()) {
            gaps.push(CoverageGap {
                source: "aws".into(),
                scope: account_of_arn(arn).unwrap_or("").to_string(),
                what,
                reason: format!("{reason}; lapse counts it as {}", kind.counted_as()),
                request: None,
            });
        }
    };
    let referenced: crate::hash::FastSet<&str> = inventory
        .grants
        .iter()
        .filter(|g| aws(g.provider) && g.kind == "managed_policy")
        .filter_map(|g| g.policy_id.as_deref())
        .collect();
    for policy in inventory.policies.iter().filter(|p| aws(p.provider)) {
        if referenced.contains(policy.id.as_str()) {
            let what = || format!("policy document of {}", policy.id);
            check(&policy.document, Kind::Policy, &what, &policy.id);
        }
    }
    for grant in inventory.grants.iter().filter(|g| aws(g.provider)) {
        if let Some(document) = &grant.document {
            let holder = grant
                .attributes
                .get(crate::collect::aws::attr::GROUP_ARN)
                .and_then(Value::as_str)
                .unwrap_or(&grant.principal_id);
            let what = || format!("{} `{}` of {holder}", grant.kind, grant.name);
            check(document, Kind::Policy, &what, holder);
        }
    }
    for trust in inventory
        .trusts
        .iter()
        .filter(|t| aws(t.provider) && t.kind == "assume_role_policy")
    {
        if let Some(document) = &trust.document {
            let what = || format!("trust policy of {}", trust.principal_id);
            check(document, Kind::Trust, &what, &trust.principal_id);
        }
    }
    gaps
}

#[derive(Clone, Copy)]
enum Kind {
    /// The permission analysis also reads a policy still in string form (a hand-made
    /// inventory), one level deep.
    Policy,
    /// The trust analysis reads objects only.
    Trust,
}

impl Kind {
    fn counted_as(self) -> &'static str {
        match self {
            Kind::Policy => "granting no permissions",
            Kind::Trust => "admitting no one",
        }
    }

    /// Why the analysis cannot read `document`, or `None` when it can.
    fn problem(self, document: &Document) -> Option<String> {
        let text = document.as_str().trim_start();
        if text.starts_with('{') {
            return None;
        }
        match (self, document.value()) {
            (Kind::Policy, Value::String(inner)) => match serde_json::from_str::<Value>(&inner) {
                Ok(Value::Object(_)) => None,
                Ok(other) => Some(format!(
                    "the document is a string holding {}, not a JSON object",
                    shape(&other)
                )),
                Err(e) => Some(format!("the document is a string that is not JSON ({e})")),
            },
            (_, other) => Some(format!(
                "the document is {}, not a JSON object",
                shape(&other)
            )),
        }
    }
}

fn shape(value: &Value) -> &'static str {
    match value {
        Value::Null => "JSON null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{Grant, Policy, Trust};
    use serde_json::json;

    fn inventory(documents: &[Value]) -> Inventory {
        let mut inv = Inventory::new(chrono::Utc::now());
        for (i, document) in documents.iter().enumerate() {
            let id = format!("arn:aws:iam::123456789012:policy/p{i}");
            inv.policies.push(Policy {
                provider: Provider::Aws,
                id: id.clone(),
                name: format!("p{i}"),
                document: Document::from(document.clone()),
                provider_managed: false,
                attributes: Default::default(),
            });
            inv.grants.push(Grant {
                provider: Provider::Aws,
                kind: "managed_policy".into(),
                id: format!("g{i}"),
                principal_id: "arn:aws:iam::123456789012:user/u".into(),
                name: format!("p{i}"),
                via: None,
                policy_id: Some(id),
                document: None,
                role: None,
                target: None,
                starts_at: None,
                ends_at: None,
                description: None,
                attributes: Default::default(),
            });
        }
        inv
    }

    #[test]
    fn null_array_and_deep_strings_are_gaps_objects_are_not() {
        let admin = json!({"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}});
        let once = Value::String(admin.to_string());
        let twice = Value::String(once.to_string());
        let inv = inventory(&[admin.clone(), once, json!(null), json!([]), twice]);
        let gaps = unreadable(&inv);
        let whats: Vec<&str> = gaps.iter().map(|g| g.what.as_str()).collect();
        assert_eq!(
            whats,
            [
                "policy document of arn:aws:iam::123456789012:policy/p2",
                "policy document of arn:aws:iam::123456789012:policy/p3",
                "policy document of arn:aws:iam::123456789012:policy/p4",
            ]
        );
        assert!(
            gaps.iter()
                .all(|g| g.scope == "123456789012" && g.source == "aws")
        );
        assert!(gaps[0].reason.contains("JSON null"), "{:?}", gaps[0]);
        assert!(
            gaps[2].reason.contains("string holding a string"),
            "{:?}",
            gaps[2]
        );
    }

    #[test]
    fn a_string_encoded_trust_policy_is_a_gap() {
        let mut inv = Inventory::new(chrono::Utc::now());
        let admits_all = json!({"Statement": {"Effect": "Allow", "Principal": "*"}});
        inv.trusts.push(Trust {
            provider: Provider::Aws,
            kind: "assume_role_policy".into(),
            principal_id: "arn:aws:iam::123456789012:role/r".into(),
            document: Some(Document::from(Value::String(admits_all.to_string()))),
            issuer: None,
            subject: None,
            audiences: Vec::new(),
        });
        let gaps = unreadable(&inv);
        assert_eq!(gaps.len(), 1);
        assert!(gaps[0].reason.contains("admitting no one"), "{:?}", gaps[0]);
    }
}
