//! Analyze, AWS trust policies: who can assume a role (any principal, other accounts, services,
//! federated identities, GitHub Actions OIDC bound or not to one repository).
//!
//! Only Allow statements admit anyone; a Deny in a trust policy is ignored (it can only narrow,
//! and judging how much would need the request context). An Allow with `NotPrincipal` admits
//! everyone but the few it names, so it reads as any principal.
//!
//! `*` counts as conditioned only when a condition really restricts the caller (a literal org,
//! account or ARN under a positive operator, see [`restricts_caller`]); another account counts
//! as requiring an ExternalId only under `StringEquals` with a literal.
//!
//! GitHub OIDC: a statement federated to `token.actions.githubusercontent.com` is *bound* when
//! every `…:sub` value it accepts names one repository (`repo:org/app:ref:refs/heads/main`,
//! `repo:org/app:*`) and *unbound* when the condition is missing, negated only, or a value
//! matches more than one repository (`*`, `repo:org/*`, `repo:*/app:*`, `repo:org/app*`).
//! Wildcards mean something only under a `…Like` operator; under `StringEquals` a `*` is literal.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::{Map, Value};

use super::policy::strings;

/// Issuer host of GitHub Actions OIDC tokens.
pub const GITHUB_OIDC_HOST: &str = "token.actions.githubusercontent.com";

/// What a role's trust policy admits.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TrustFacts {
    pub any_principal: bool,
    pub any_principal_conditioned: bool,
    /// Other accounts (never the role's own).
    pub accounts: Vec<String>,
    pub accounts_without_external_id: Vec<String>,
    pub services: Vec<String>,
    pub federated: Vec<String>,
    pub github_oidc: bool,
    pub github_oidc_unbound: bool,
    pub github_subjects: Vec<String>,
    pub github_repos: Vec<String>,
    /// Which AWS principals may call `sts:AssumeRole`, for the assume-role chains.
    #[serde(skip)]
    pub admits: Admits,
}

/// The AWS principals a trust admits; each with whether a condition of its statement must
/// also hold (an ExternalId, MFA, an org): such an edge of a chain is conditional.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Admits {
    /// `*`: any principal of any account whose own policies allow it.
    pub any: Option<bool>,
    /// `arn:…:root` or a bare account id, the role's own account included.
    pub accounts: Vec<(String, bool)>,
    /// Users and roles named by ARN.
    pub arns: Vec<(String, bool)>,
}

#[derive(Default)]
struct Acc {
    facts: TrustFacts,
    accounts: BTreeSet<String>,
    without_external_id: BTreeSet<String>,
    services: BTreeSet<String>,
    federated: BTreeSet<String>,
    subjects: BTreeSet<String>,
    repos: BTreeSet<String>,
}

/// Reads a decoded trust policy of a role in `own_account`.
pub fn analyze(document: &Value, own_account: &str) -> TrustFacts {
    let mut acc = Acc::default();
    let statements: Vec<&Value> = match document.get("Statement") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(item @ Value::Object(_)) => vec![item],
        _ => Vec::new(),
    };
    for statement in statements {
        let allow = statement
            .get("Effect")
            .and_then(Value::as_str)
            .is_some_and(|e| e.eq_ignore_ascii_case("allow"));
        if allow {
            read_statement(statement, own_account, &mut acc);
        }
    }
    let mut facts = acc.facts;
    facts.accounts = acc.accounts.into_iter().collect();
    facts.accounts_without_external_id = acc.without_external_id.into_iter().collect();
    facts.services = acc.services.into_iter().collect();
    facts.federated = acc.federated.into_iter().collect();
    facts.github_subjects = acc.subjects.into_iter().collect();
    facts.github_repos = acc.repos.into_iter().collect();
    facts
}

fn read_statement(statement: &Value, own_account: &str, acc: &mut Acc) {
    let condition = statement.get("Condition").and_then(Value::as_object);
    let conditioned = condition.is_some_and(restricts_caller);
    let any_condition = condition.is_some_and(|c| !c.is_empty());
    if statement.get("NotPrincipal").is_some() {
        admit_anyone(conditioned, any_condition, acc);
        return;
    }
    let Some(principal) = statement.get("Principal") else {
        return;
    };
    if principal.as_str() == Some("*") {
        admit_anyone(conditioned, any_condition, acc);
        return;
    }
    let field = |name: &str| principal.get(name).map(strings).unwrap_or_default();
    for aws in field("AWS") {
        if aws == "*" {
            admit_anyone(conditioned, any_condition, acc);
            continue;
        }
        let root = aws.ends_with(":root") || account_of(aws) == Some(aws);
        match account_of(aws) {
            Some(account) if root => acc
                .facts
                .admits
                .accounts
                .push((account.to_string(), any_condition)),
            Some(_) => acc.facts.admits.arns.push((aws.to_string(), any_condition)),
            None => {}
        }
        if let Some(account) = account_of(aws).filter(|a| *a != own_account) {
            acc.accounts.insert(account.to_string());
            if !condition.is_some_and(requires_external_id) {
                acc.without_external_id.insert(account.to_string());
            }
        }
    }
    for service in field("Service") {
        acc.services.insert(service.to_string());
    }
    for federated in field("Federated") {
        acc.federated.insert(federated.to_string());
        if federated.contains(GITHUB_OIDC_HOST) {
            read_github(condition, acc);
        }
    }
}

fn admit_anyone(conditioned: bool, any_condition: bool, acc: &mut Acc) {
    let before = acc.facts.admits.any.unwrap_or(true);
    acc.facts.admits.any = Some(before && any_condition);
    if conditioned {
        acc.facts.any_principal_conditioned = true;
    } else {
        acc.facts.any_principal = true;
    }
}

/// `123456789012`, `arn:aws:iam::123456789012:root`, `arn:aws:iam::123456789012:role/x`.
/// Unique ids (`AROA…`, left when the trusted principal was deleted) name no account.
fn account_of(principal: &str) -> Option<&str> {
    let is_account = |s: &str| s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit());
    if is_account(principal) {
        return Some(principal);
    }
    let account = principal.strip_prefix("arn:")?.split(':').nth(3)?;
    is_account(account).then_some(account)
}

/// Condition keys (lowercase) that name who calls, or on whose behalf a service calls.
const CALLER_KEYS: &[&str] = &[
    "aws:principalorgid",
    "aws:principalarn",
    "aws:principalaccount",
    "aws:sourceaccount",
    "aws:sourcearn",
];

/// The condition (its clauses are ANDed) holds only for callers it names: some clause compares
/// a caller key with literal values under a positive operator. Negated, `Null`, `…IfExists`
/// and set operators (`ForAnyValue:`, `ForAllValues:`) restrict nobody for sure, nor does a
/// wildcard over the account.
fn restricts_caller(condition: &Map<String, Value>) -> bool {
    condition.iter().any(|(operator, block)| {
        let op = operator.to_ascii_lowercase();
        let like = match op.as_str() {
            "stringequals" | "stringequalsignorecase" => false,
            "stringlike" | "arnequals" | "arnlike" => true,
            _ => return false,
        };
        let Some(block) = block.as_object() else {
            return false;
        };
        block.iter().any(|(key, values)| {
            let key = key.to_ascii_lowercase();
            CALLER_KEYS.contains(&key.as_str())
                && literal_values(values, |v| {
                    // An ARN narrows the caller by its account, or (S3 and other
                    // account-less ARNs) by the whole resource.
                    let account = v.split(':').nth(4).unwrap_or_default();
                    let significant = if key.ends_with("arn") && !account.is_empty() {
                        account
                    } else {
                        v
                    };
                    !significant.is_empty() && !(like && significant.contains(['*', '?']))
                })
        })
    })
}

/// Every value is a string that `literal` accepts, none a policy variable, and there is one.
fn literal_values(values: &Value, literal: impl Fn(&str) -> bool) -> bool {
    let all = match values {
        Value::String(_) => vec![values],
        Value::Array(items) => items.iter().collect(),
        _ => return false,
    };
    !all.is_empty()
        && all
            .iter()
            .all(|v| v.as_str().is_some_and(|s| !s.contains("${") && literal(s)))
}

/// `sts:ExternalId` compared with `StringEquals` to literal, non-empty values: the only form
/// that stops a confused deputy (`StringLike "*"` or `Null: false` admit any id).
fn requires_external_id(condition: &Map<String, Value>) -> bool {
    condition
        .iter()
        .filter(|(operator, _)| operator.eq_ignore_ascii_case("StringEquals"))
        .filter_map(|(_, block)| block.as_object())
        .flat_map(|block| block.iter())
        .any(|(key, values)| {
            key.eq_ignore_ascii_case("sts:ExternalId") && literal_values(values, |v| !v.is_empty())
        })
}

fn is_sub_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key.starts_with(GITHUB_OIDC_HOST) && key.ends_with(":sub")
}

fn read_github(condition: Option<&Map<String, Value>>, acc: &mut Acc) {
    acc.facts.github_oidc = true;
    let mut bound_any = false;
    for (operator, block) in condition.into_iter().flatten() {
        let op = operator.to_ascii_lowercase();
        if op.contains("not") {
            continue; // StringNotLike/StringNotEquals exclude; they bind nothing.
        }
        let wildcards = op.contains("like");
        let Some(block) = block.as_object() else {
            continue;
        };
        for (_, values) in block.iter().filter(|(k, _)| is_sub_key(k)) {
            for subject in strings(values) {
                bound_any = true;
                acc.subjects.insert(subject.to_string());
                match repo_of(subject, wildcards) {
                    Some((repo, bound)) => {
                        acc.repos.insert(repo.to_string());
                        acc.facts.github_oidc_unbound |= !bound;
                    }
                    None => acc.facts.github_oidc_unbound = true,
                }
            }
        }
    }
    acc.facts.github_oidc_unbound |= !bound_any;
}

/// The `owner/name` a `sub` pattern names, and whether it names exactly one repository.
/// `None`: not a `repo:` subject (a custom claim template), judged unbound unless literal.
fn repo_of(subject: &str, wildcards: bool) -> Option<(&str, bool)> {
    let Some(rest) = subject.strip_prefix("repo:") else {
        // `*`, `repository_owner:org`, ...: cannot prove one repository.
        return None;
    };
    let repo = rest.split(':').next().unwrap_or_default();
    let (owner, name) = repo.split_once('/').unwrap_or((repo, ""));
    let wild = |s: &str| wildcards && s.contains(['*', '?']);
    let bound = !owner.is_empty() && !name.is_empty() && !wild(owner) && !wild(name);
    // A Like pattern whose repository part runs on into the rest (`repo:org/app*`) is caught
    // by `wild(name)`; `repo:org/app:*` keeps the wildcard after the repository's colon.
    Some((repo, bound))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const OWN: &str = "111111111111";

    fn trust(principal: Value, condition: Option<Value>) -> TrustFacts {
        let mut statement =
            json!({"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": principal});
        if let Some(c) = condition {
            statement["Condition"] = c;
        }
        analyze(
            &json!({"Version": "2012-10-17", "Statement": [statement]}),
            OWN,
        )
    }

    fn github(condition: Option<Value>) -> TrustFacts {
        let federated = format!("arn:aws:iam::{OWN}:oidc-provider/{GITHUB_OIDC_HOST}");
        trust(json!({"Federated": federated}), condition)
    }

    #[test]
    fn star_principal_is_any() {
        let f = trust(json!("*"), None);
        assert!(f.any_principal && !f.any_principal_conditioned);
        let f = trust(json!({"AWS": "*"}), None);
        assert!(f.any_principal);
    }

    #[test]
    fn star_with_condition_is_conditioned() {
        let f = trust(
            json!({"AWS": ["*"]}),
            Some(json!({"StringEquals": {"aws:PrincipalOrgID": "o-1"}})),
        );
        assert!(!f.any_principal && f.any_principal_conditioned);
    }

    /// Only a condition that restricts who calls clears `*`: a literal org, account or ARN
    /// under a positive operator.
    #[test]
    fn star_conditions_judged_by_what_they_restrict() {
        let restricting = [
            json!({"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}),
            json!({"StringEquals": {"aws:PrincipalAccount": ["111111111111", "222222222222"]}}),
            json!({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::222222222222:role/ci-*"}}),
            json!({"ArnEquals": {"aws:SourceArn": "arn:aws:s3:::my-bucket"}}),
            json!({"StringEquals": {"AWS:SourceAccount": "111111111111"}}),
            json!({"StringLike": {"aws:PrincipalOrgID": "o-abc123"}}),
        ];
        for condition in restricting {
            let f = trust(json!("*"), Some(condition.clone()));
            assert!(
                !f.any_principal && f.any_principal_conditioned,
                "{condition}"
            );
        }
        let loose = [
            json!({"Bool": {"aws:SecureTransport": "true"}}),
            json!({"StringLike": {"aws:PrincipalOrgID": "*"}}),
            json!({"StringLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/x"}}),
            json!({"StringNotEquals": {"aws:PrincipalOrgID": "o-evil"}}),
            json!({"StringEqualsIfExists": {"aws:PrincipalOrgID": "o-abc123"}}),
            json!({"ForAnyValue:StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}),
            json!({"Null": {"aws:PrincipalOrgID": "false"}}),
            json!({"StringEquals": {"aws:RequestedRegion": "eu-west-1"}}),
            json!({"StringEquals": {"aws:PrincipalOrgID": []}}),
            json!({}),
        ];
        for condition in loose {
            let f = trust(json!({"AWS": "*"}), Some(condition.clone()));
            assert!(f.any_principal, "{condition}");
        }
    }

    /// AWS-013 is cleared only by `sts:ExternalId` under `StringEquals` with a literal value.
    #[test]
    fn external_id_judged_by_effect() {
        let vendor = || json!({"AWS": "arn:aws:iam::222222222222:root"});
        let f = trust(
            vendor(),
            Some(json!({"StringEquals": {"sts:externalid": ["id-1"]}})),
        );
        assert!(f.accounts_without_external_id.is_empty());
        for condition in [
            json!({"StringLike": {"sts:ExternalId": "*"}}),
            json!({"Null": {"sts:ExternalId": "false"}}),
            json!({"StringNotEquals": {"sts:ExternalId": "x"}}),
            json!({"StringEqualsIfExists": {"sts:ExternalId": "id-1"}}),
            json!({"StringEquals": {"sts:ExternalId": ""}}),
        ] {
            let f = trust(vendor(), Some(condition.clone()));
            assert_eq!(
                f.accounts_without_external_id,
                vec!["222222222222"],
                "{condition}"
            );
        }
    }

    #[test]
    fn not_principal_allow_is_any() {
        let d = json!({"Statement": [{"Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::2:root"}, "Action": "sts:AssumeRole"}]});
        assert!(analyze(&d, OWN).any_principal);
    }

    #[test]
    fn deny_statements_admit_nobody() {
        let d =
            json!({"Statement": {"Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRole"}});
        assert_eq!(analyze(&d, OWN), TrustFacts::default());
    }

    #[test]
    fn other_accounts_with_and_without_external_id() {
        let f = trust(
            json!({"AWS": ["arn:aws:iam::222222222222:root", "333333333333", format!("arn:aws:iam::{OWN}:role/x")]}),
            None,
        );
        assert_eq!(f.accounts, vec!["222222222222", "333333333333"]);
        assert_eq!(f.accounts_without_external_id, f.accounts);
        let f = trust(
            json!({"AWS": "arn:aws:iam::222222222222:role/vendor"}),
            Some(json!({"StringEquals": {"sts:ExternalId": "abc"}})),
        );
        assert_eq!(f.accounts, vec!["222222222222"]);
        assert!(f.accounts_without_external_id.is_empty());
    }

    #[test]
    fn unique_ids_and_own_account_are_not_other_accounts() {
        let f = trust(
            json!({"AWS": ["AROAEXAMPLEID", format!("arn:aws:iam::{OWN}:root")]}),
            None,
        );
        assert!(f.accounts.is_empty());
    }

    #[test]
    fn services_and_federated_are_listed() {
        let f = trust(
            json!({"Service": ["lambda.amazonaws.com", "ec2.amazonaws.com"]}),
            None,
        );
        assert_eq!(
            f.services,
            vec!["ec2.amazonaws.com", "lambda.amazonaws.com"]
        );
        let f = trust(
            json!({"Federated": "arn:aws:iam::1:saml-provider/Okta"}),
            None,
        );
        assert_eq!(f.federated, vec!["arn:aws:iam::1:saml-provider/Okta"]);
        assert!(!f.github_oidc);
    }

    #[test]
    fn github_without_sub_is_unbound() {
        let f = github(Some(
            json!({"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}}),
        ));
        assert!(f.github_oidc && f.github_oidc_unbound);
        let f = github(None);
        assert!(f.github_oidc_unbound);
    }

    #[test]
    fn github_bound_to_one_branch_or_repo() {
        for sub in [
            "repo:org/app:ref:refs/heads/main",
            "repo:org/app:*",
            "repo:org/app:environment:prod",
        ] {
            let f = github(Some(
                json!({"StringLike": {"token.actions.githubusercontent.com:sub": sub}}),
            ));
            assert!(f.github_oidc && !f.github_oidc_unbound, "{sub}");
            assert_eq!(f.github_repos, vec!["org/app"], "{sub}");
            assert_eq!(f.github_subjects, vec![sub]);
        }
    }

    #[test]
    fn github_wildcards_over_repositories_are_unbound() {
        for sub in [
            "*",
            "repo:org/*",
            "repo:*/app:*",
            "repo:org/app*",
            "repo:*",
            "repo:org/?pp:*",
        ] {
            let f = github(Some(
                json!({"StringLike": {"token.actions.githubusercontent.com:sub": sub}}),
            ));
            assert!(f.github_oidc_unbound, "{sub}");
        }
    }

    #[test]
    fn github_star_under_string_equals_is_literal() {
        let f = github(Some(
            json!({"StringEquals": {"token.actions.githubusercontent.com:sub": "repo:org/*:ref:refs/heads/main"}}),
        ));
        assert!(!f.github_oidc_unbound);
    }

    #[test]
    fn github_one_loose_value_among_many_is_unbound() {
        let subs = json!(["repo:org/app:ref:refs/heads/main", "repo:org/*"]);
        let f = github(Some(
            json!({"ForAnyValue:StringLike": {"token.actions.githubusercontent.com:sub": subs}}),
        ));
        assert!(f.github_oidc_unbound);
        assert_eq!(f.github_repos, vec!["org/*", "org/app"]);
    }

    #[test]
    fn github_negated_sub_only_is_unbound() {
        let f = github(Some(
            json!({"StringNotLike": {"token.actions.githubusercontent.com:sub": "repo:evil/*"}}),
        ));
        assert!(f.github_oidc_unbound);
    }

    #[test]
    fn github_custom_claim_subject_is_unbound() {
        let f = github(Some(
            json!({"StringEquals": {"token.actions.githubusercontent.com:sub": "repository_owner:org"}}),
        ));
        assert!(f.github_oidc_unbound);
        assert!(f.github_repos.is_empty());
    }

    #[test]
    fn github_sub_key_case_insensitive() {
        let f = github(Some(
            json!({"StringEquals": {"Token.Actions.GitHubUserContent.com:SUB": "repo:org/app:ref:refs/heads/main"}}),
        ));
        assert!(!f.github_oidc_unbound);
    }
}
