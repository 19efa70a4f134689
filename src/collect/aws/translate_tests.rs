//! Translation tests: last use, groups joined within their own account, AWS-managed policies.

use super::*;

#[test]
fn most_recent_use() {
    let at = |s: &str| LastUsed::At(s.parse().unwrap());
    let (old, new) = (at("2024-01-01T00:00:00Z"), at("2025-01-01T00:00:00Z"));
    assert_eq!(
        most_recent(&[LastUsed::Never, old, new, LastUsed::Unknown]),
        new
    );
    assert_eq!(
        most_recent(&[LastUsed::Never, LastUsed::Unknown]),
        LastUsed::Unknown
    );
    assert_eq!(
        most_recent(&[LastUsed::Never, LastUsed::Never]),
        LastUsed::Never
    );
    assert_eq!(most_recent(&[]), LastUsed::Never);
}

fn source() -> SourceRun {
    SourceRun {
        source: "aws".into(),
        scope: String::new(),
        started_at: "2025-06-01T00:00:00Z".parse().unwrap(),
        duration_ms: 0,
        api_calls: Default::default(),
        attributes: Default::default(),
    }
}

/// Two accounts each with a group `ops`: A's grants admin, B's reads. A user is joined to
/// the group of its own account, whichever order the exports came in.
#[test]
fn groups_join_users_within_their_own_account() {
    let group = |account: &str, action: &str| {
        json!({"GroupName": "ops", "Path": "/", "Arn": format!("arn:aws:iam::{account}:group/ops"),
            "GroupPolicyList": [{"PolicyName": format!("ops-{account}"),
                "PolicyDocument": {"Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]}}]})
    };
    let user = |account: &str| json!({"UserName": "alice", "Arn": format!("arn:aws:iam::{account}:user/alice"), "GroupList": ["ops"]});
    for groups in [
        json!([
            group("111111111111", "*"),
            group("222222222222", "s3:GetObject")
        ]),
        json!([
            group("222222222222", "s3:GetObject"),
            group("111111111111", "*")
        ]),
    ] {
        let details: AuthorizationDetails = serde_json::from_value(json!({
            "UserDetailList": [user("111111111111"), user("222222222222")],
            "GroupDetailList": groups,
        }))
        .unwrap();
        let inventory = to_inventory(details, None, source());
        let held = |account: &str| -> Vec<String> {
            let arn = format!("arn:aws:iam::{account}:user/alice");
            let mut names: Vec<String> = inventory
                .grants
                .iter()
                .filter(|g| g.principal_id == arn)
                .map(|g| g.name.clone())
                .collect();
            names.sort();
            names
        };
        assert_eq!(held("111111111111"), vec!["ops-111111111111"]);
        assert_eq!(held("222222222222"), vec!["ops-222222222222"]);
    }
}

#[test]
fn aws_managed_by_account_field() {
    assert!(is_aws_managed("arn:aws:iam::aws:policy/ReadOnlyAccess"));
    assert!(is_aws_managed("arn:aws-cn:iam::aws:policy/ReadOnlyAccess"));
    assert!(!is_aws_managed("arn:aws:iam::111111111111:policy/mine"));
}
