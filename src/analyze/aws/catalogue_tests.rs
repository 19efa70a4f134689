//! Every escalation path of the catalogue, exercised from its own data: a policy allowing its
//! actions fires it, and each near miss does not (one action missing, a Deny, a boundary, an
//! unsatisfiable condition, PassRole limited to a read-only role).

use serde_json::{Value, json};

use super::catalogue::{Catalogue, Path, Reach, Yields};
use super::tests::{A, admin, fact, inventory, statement, subjects};

/// How the principal's policy is bent for one case.
#[derive(Clone, Copy, PartialEq)]
enum Case {
    Fires,
    Missing(usize),
    Denied,
    Boundary,
    Unsatisfiable,
    ReadOnlyPassRole,
    Scp,
}

fn policy_arn(name: &str) -> String {
    format!("arn:aws:iam::{A}:policy/{name}")
}

fn managed(name: &str, statements: Vec<Value>) -> Value {
    json!({"PolicyName": name, "Arn": policy_arn(name), "DefaultVersionId": "v1",
        "PolicyVersionList": [{"VersionId": "v1", "IsDefaultVersion": true,
            "Document": {"Version": "2012-10-17", "Statement": statements}}]})
}

fn read_only() -> Vec<Value> {
    vec![statement("Allow", json!("s3:GetObject"), json!("*"))]
}

/// The estate in which `path` can be taken by `arn:aws:iam::A:<kind>/actor`.
fn estate(path: &Path, case: Case) -> (Value, String) {
    let kind = path.principals[0].as_str();
    let service = path
        .service
        .clone()
        .unwrap_or_else(|| "ec2.amazonaws.com".into());
    let mut statements: Vec<Value> = path
        .steps
        .iter()
        .enumerate()
        .filter(|(i, _)| case != Case::Missing(*i))
        .map(|(_, step)| {
            let resource = if case == Case::ReadOnlyPassRole && step.reach == Reach::PassedRole {
                json!(format!("arn:aws:iam::{A}:role/reader"))
            } else {
                json!("*")
            };
            let mut s = statement("Allow", json!(step.action), resource);
            if case == Case::Unsatisfiable {
                s["Condition"] = json!({"StringEquals": {"aws:PrincipalAccount": "999999999999"}});
            }
            s
        })
        .collect();
    if case == Case::Denied {
        statements.push(statement("Deny", json!(path.steps[0].action), json!("*")));
    }
    let actor_arn = format!("arn:aws:iam::{A}:{kind}/actor");
    let mut actor = json!({"Path": "/", "Arn": actor_arn,
        "AttachedManagedPolicies": [{"PolicyName": "mine", "PolicyArn": policy_arn("mine")}]});
    let inline = json!([{"PolicyName": "escalate", "PolicyDocument": {"Statement": statements}}]);
    if kind == "user" {
        actor["UserName"] = json!("actor");
        actor["UserPolicyList"] = inline;
        actor["GroupList"] = json!(["team"]);
    } else {
        actor["RoleName"] = json!("actor");
        actor["RolePolicyList"] = inline;
        actor["AssumeRolePolicyDocument"] = json!({"Statement": [{"Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
    }
    if case == Case::Boundary {
        actor["PermissionsBoundary"] = json!({"PermissionsBoundaryArn": policy_arn("boundary")});
    }
    let group = |name: &str, statements: Vec<Value>| {
        json!({"GroupName": name, "Path": "/", "Arn": format!("arn:aws:iam::{A}:group/{name}"),
            "GroupPolicyList": [{"PolicyName": name, "PolicyDocument": {"Statement": statements}}]})
    };
    let trust = json!({"AWS": format!("arn:aws:iam::{A}:root"), "Service": service});
    // With PassRole limited to the reader, no admin role runs with the service at all (else
    // a path that reuses an existing function or project would rightly still reach it).
    let admin_trust = if case == Case::ReadOnlyPassRole {
        json!({"AWS": format!("arn:aws:iam::{A}:root")})
    } else {
        trust.clone()
    };
    let target_role = super::tests::role(A, "target", admin_trust, admin());
    let reader = super::tests::role(A, "reader", trust, read_only());
    let mut target_user = super::tests::user(A, "target", admin());
    target_user["GroupList"] = json!(["admins"]);
    let (users, roles) = if kind == "user" {
        (json!([actor, target_user]), json!([target_role, reader]))
    } else {
        (json!([target_user]), json!([actor, target_role, reader]))
    };
    // The boundary allows all but the path's first action.
    let boundary = managed(
        "boundary",
        vec![json!({"Effect": "Allow",
        "NotAction": path.steps[0].action, "Resource": "*"})],
    );
    let details = json!({
        "UserDetailList": users,
        "RoleDetailList": roles,
        "GroupDetailList": [group("team", read_only()), group("admins", admin())],
        "Policies": [managed("mine", read_only()), boundary],
    });
    (details, actor_arn)
}

fn run(path: &Path, case: Case) -> (Vec<String>, Value, Value) {
    let (details, actor) = estate(path, case);
    let mut inventory = inventory(details);
    if case == Case::Scp {
        // The OU's SCP allows everything but the path's first action.
        let scp = json!({"Statement": [{"Effect": "Allow", "NotAction": path.steps[0].action, "Resource": "*"}]});
        let org = super::tests::org_folder(A, scp);
        inventory = super::tests::with_org(inventory, org.path());
    }
    let subjects = subjects(&inventory);
    let paths: Vec<String> =
        serde_json::from_value(fact(&subjects, &actor, "escalation_paths")).unwrap_or_default();
    let level = fact(&subjects, &actor, "effective_privilege");
    let cut = fact(&subjects, &actor, "reduced_by");
    (paths, level, cut)
}

fn takes(paths: &[String], path: &Path) -> bool {
    paths
        .iter()
        .any(|p| p.starts_with(&format!("{}: ", path.id)))
}

#[test]
fn every_path_fires_on_its_actions() {
    for path in &Catalogue::builtin().path {
        let (paths, level, _) = run(path, Case::Fires);
        assert!(takes(&paths, path), "{}: {paths:?}", path.id);
        assert_eq!(level, json!("admin"), "{}", path.id);
    }
}

#[test]
fn every_path_needs_all_of_its_actions() {
    for path in &Catalogue::builtin().path {
        for missing in 0..path.steps.len() {
            let (paths, _, _) = run(path, Case::Missing(missing));
            assert!(
                !takes(&paths, path),
                "{} without step {missing}: {paths:?}",
                path.id
            );
        }
    }
}

#[test]
fn a_deny_a_boundary_an_scp_or_an_unsatisfiable_condition_cuts_every_path() {
    for path in &Catalogue::builtin().path {
        for case in [Case::Denied, Case::Boundary, Case::Unsatisfiable] {
            let (paths, _, cut) = run(path, case);
            assert!(!takes(&paths, path), "{}: {paths:?}", path.id);
            if case == Case::Boundary && path.target().is_none() {
                let cut = cut.to_string();
                assert!(
                    cut.contains(&path.id) && cut.contains("boundary"),
                    "{}: {cut}",
                    path.id
                );
            }
        }
    }
}

#[test]
fn passing_a_read_only_role_is_not_admin() {
    let catalogue = Catalogue::builtin();
    let passing = catalogue
        .path
        .iter()
        .filter(|p| p.target() == Some(Reach::PassedRole));
    let mut seen = 0;
    for path in passing {
        assert_eq!(path.yields, Yields::Target, "{}", path.id);
        let (paths, level, _) = run(path, Case::ReadOnlyPassRole);
        assert!(takes(&paths, path), "{}: {paths:?}", path.id);
        assert_ne!(level, json!("admin"), "{}", path.id);
        seen += 1;
    }
    assert!(seen >= 20, "{seen}");
}

/// The per-policy table of catalogue actions answers as `mentions` does, for every action of
/// the catalogue, on a policy that mentions some by wildcard, some by NotAction and some not;
/// a list other than the one the table was built for is answered directly.
#[test]
fn the_mention_table_answers_as_mentions_does() {
    use crate::analyze::policy::CompiledPolicy;
    let catalogue = Catalogue::builtin();
    let document = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["iam:Put*", "ec2:RunInstances"], "Resource": "*"},
        {"Effect": "Allow", "NotAction": ["iam:*", "sts:*", "ec2:*"], "Resource": "*"},
        {"Effect": "Deny", "Action": "lambda:*", "Resource": "*"},
    ]});
    let policy = CompiledPolicy::compile("mixed", &document);
    let expected: Vec<bool> = catalogue
        .actions
        .iter()
        .map(|a| policy.mentions(a))
        .collect();
    let table: Vec<bool> = (0..catalogue.actions.len())
        .map(|slot| policy.mentions_slot(&catalogue.actions, slot))
        .collect();
    assert_eq!(table, expected);
    assert!(expected.iter().any(|m| *m) && expected.iter().any(|m| !*m));
    for step in catalogue.path.iter().flat_map(|p| &p.steps) {
        assert_eq!(catalogue.actions[step.slot], step.lower);
    }
    let other = vec![
        "sts:assumerole".to_string(),
        "iam:putuserpolicy".to_string(),
    ];
    assert!(!policy.mentions_slot(&other, 0));
    assert!(policy.mentions_slot(&other, 1));
}
