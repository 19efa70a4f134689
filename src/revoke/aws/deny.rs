//! Revoke, AWS session cutoff: the inline deny that ends a role's sessions issued before the
//! revocation, and how lapse recognises its own deny: by content (one Deny of every action on
//! every resource for tokens issued before a time, under a name lapse writes with a run-specific
//! suffix), never by a name alone, which anyone who can write the role's policies can pre-create.

use crate::inventory::Timestamp;

/// Prefix of the deny's policy name; the run's id follows it (`LapseRevokeOlderSessions-1a2b3c4d`).
pub const DENY_PREFIX: &str = "LapseRevokeOlderSessions";
/// Sid of the deny's one statement.
const DENY_SID: &str = "LapseRevokeOlderSessions";

/// The deny's policy name for a run: a fresh name, so a pre-existing policy is never mistaken
/// for it or overwritten into it.
pub fn deny_name(run_id: &str) -> String {
    let suffix: String = run_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(8)
        .collect();
    format!("{DENY_PREFIX}-{suffix}")
}

/// The deny AWS's console writes for "Revoke active sessions", marked as lapse's.
pub fn deny_document(revoked_at: Timestamp) -> serde_json::Value {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": DENY_SID,
            "Effect": "Deny",
            "Action": ["*"],
            "Resource": ["*"],
            "Condition": {
                "DateLessThan": {
                    "aws:TokenIssueTime": revoked_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                }
            }
        }]
    })
}

/// Whether an inline policy is lapse's own session cutoff: its name has lapse's prefix and its
/// document is exactly one such deny (nothing it contains can allow anything). Anything else,
/// whatever its name, is an inline policy like the rest and is deleted.
pub fn is_own_deny(policy_name: &str, document: &serde_json::Value) -> bool {
    if !policy_name.starts_with(DENY_PREFIX) {
        return false;
    }
    let Some(object) = document.as_object() else {
        return false;
    };
    if object.keys().any(|k| k != "Version" && k != "Statement") {
        return false;
    }
    let statements = match object.get("Statement") {
        Some(serde_json::Value::Array(items)) => items.as_slice(),
        Some(one @ serde_json::Value::Object(_)) => std::slice::from_ref(one),
        _ => return false,
    };
    !statements.is_empty() && statements.iter().all(is_cutoff_statement)
}

fn is_cutoff_statement(statement: &serde_json::Value) -> bool {
    let Some(object) = statement.as_object() else {
        return false;
    };
    let allowed_keys = ["Sid", "Effect", "Action", "Resource", "Condition"];
    if object.keys().any(|k| !allowed_keys.contains(&k.as_str())) {
        return false;
    }
    let all = |value: Option<&serde_json::Value>| match value {
        Some(serde_json::Value::String(s)) => s == "*",
        Some(serde_json::Value::Array(items)) => items.len() == 1 && items[0] == "*",
        _ => false,
    };
    let condition = object
        .get("Condition")
        .and_then(|c| c.as_object())
        .filter(|c| c.len() == 1)
        .and_then(|c| c.get("DateLessThan"))
        .and_then(|c| c.as_object())
        .filter(|c| c.len() == 1 && c.contains_key("aws:TokenIssueTime"));
    object.get("Effect").and_then(|e| e.as_str()) == Some("Deny")
        && all(object.get("Action"))
        && all(object.get("Resource"))
        && condition.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_deny_is_recognised_by_content_not_by_name() {
        let now = chrono::Utc::now();
        let name = deny_name("1a2b3c4d-5e6f");
        assert_eq!(name, "LapseRevokeOlderSessions-1a2b3c4d");
        assert!(is_own_deny(&name, &deny_document(now)));
        let allow_all = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]
        });
        assert!(!is_own_deny(DENY_PREFIX, &allow_all));
        let mut mixed = deny_document(now);
        mixed["Statement"]
            .as_array_mut()
            .unwrap()
            .push(allow_all["Statement"][0].clone());
        assert!(!is_own_deny(&name, &mixed));
        assert!(!is_own_deny("SomeoneElse", &deny_document(now)));
        let mut narrowed = deny_document(now);
        narrowed["Statement"][0]["Action"] = serde_json::json!(["s3:GetObject"]);
        assert!(!is_own_deny(&name, &narrowed));
    }
}
