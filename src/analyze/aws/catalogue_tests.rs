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

/// Access asked by catalogue slot (each policy's table of matching statements) answers as
/// access asked by name does: every catalogue action, on concrete ARNs of both accounts, on a
/// service and on all of it, through identity policies with wildcards, NotAction, a Deny and
/// a condition on the caller's tag, a boundary and an SCP level with a Deny.
#[test]
fn access_by_slot_answers_as_access_by_name_does() {
    use super::condition::Caller;
    use super::effective::Effective;
    use crate::analyze::policy::{CompiledPolicy, Target};
    let catalogue = Catalogue::builtin();
    let compile = |name: &str, statements: Value| {
        CompiledPolicy::compile(
            name,
            &json!({"Version": "2012-10-17", "Statement": statements}),
        )
    };
    let identity = [
        compile(
            "mixed",
            json!([
                {"Effect": "Allow", "Action": ["iam:Put*", "iam:Attach*", "ec2:RunInstances"],
                 "Resource": format!("arn:aws:iam::{A}:*")},
                {"Effect": "Allow", "NotAction": ["iam:*", "ec2:*"], "Resource": "*"},
                {"Effect": "Deny", "Action": "lambda:*", "Resource": "*"},
            ]),
        ),
        compile(
            "tagged",
            json!([
                {"Effect": "Allow", "Action": ["iam:PassRole", "sts:AssumeRole", "iam:Create*"],
                 "Resource": "*",
                 "Condition": {"StringEquals": {"aws:PrincipalTag/team": "ops"}}},
                {"Effect": "Allow", "Action": "iam:UpdateLoginProfile", "Resource": "*",
                 "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}},
            ]),
        ),
    ];
    let boundary = compile(
        "boundary",
        json!([{"Effect": "Allow", "NotAction": "iam:AttachUserPolicy", "Resource": "*"}]),
    );
    let scp = [compile(
        "scp",
        json!([
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Deny", "Action": "iam:CreateAccessKey", "Resource": "*"},
        ]),
    )];
    let tags = [("team".to_string(), "ops".to_string())]
        .into_iter()
        .collect();
    let arn = format!("arn:aws:iam::{A}:user/me");
    let levels = vec![scp.iter().collect::<Vec<_>>()];
    let effective = Effective {
        identity: identity.iter().collect(),
        boundary: Some(Some(&boundary)),
        scp_levels: &levels,
        caller: Caller {
            arn: &arn,
            account: A,
            tags: &tags,
        },
    };
    let arns: Vec<String> = ["user/other", "role/admin", "group/ops", "policy/mine"]
        .iter()
        .flat_map(|r| [A, "222222222222"].map(|a| format!("arn:aws:iam::{a}:{r}")))
        .collect();
    let (mut allowed, mut conditional, mut cut) = (0, 0, 0);
    for (slot, action) in catalogue.actions.iter().enumerate() {
        let service = action.split(':').next().unwrap();
        let mut targets: Vec<Target> = arns.iter().map(|a| Target::Arn(a)).collect();
        targets.extend([Target::Service(service), Target::AllOf(service)]);
        for target in targets {
            let by_name = effective.access(action, target);
            let by_slot = effective.access_slot(&catalogue.actions, slot, target);
            assert_eq!(by_slot, by_name, "{action} on {target:?}");
            allowed += usize::from(by_name.allowed);
            conditional += usize::from(by_name.conditional());
            cut += usize::from(by_name.cut_by.is_some());
        }
    }
    // The case is not vacuous: some accesses are allowed, some conditional, some cut.
    assert!(
        allowed > 20 && conditional > 0 && cut > 0,
        "{allowed} {conditional} {cut}"
    );
    for credential in &catalogue.credential {
        assert_eq!(catalogue.actions[credential.slot], credential.lower);
    }
}

/// The selector of a path with a target (what the chains group principals by) is the same
/// for principals whose statements decide its targets alike, whatever the policies' names,
/// order or duplicates, and differs when a resource or the condition's verdict for the caller
/// differs.
#[test]
fn selectors_group_principals_by_what_decides_their_targets() {
    use super::condition::Caller;
    use super::effective::Effective;
    use super::escalation::{View, find};
    use crate::analyze::policy::CompiledPolicy;
    let catalogue = Catalogue::builtin();
    let (index, path) = catalogue
        .path
        .iter()
        .enumerate()
        .find(|(_, p)| {
            let actions: Vec<&str> = p.steps.iter().map(|s| s.lower.as_str()).collect();
            actions == ["iam:passrole", "ec2:runinstances"]
        })
        .expect("the catalogue passes a role to EC2");
    assert_eq!(path.target(), Some(Reach::PassedRole));
    let compile = |name: &str, statements: Value| {
        CompiledPolicy::compile(
            name,
            &json!({"Version": "2012-10-17", "Statement": statements}),
        )
    };
    let pass = |resource: &str| statement("Allow", json!("iam:PassRole"), json!(resource));
    let run = statement("Allow", json!("ec2:RunInstances"), json!("*"));
    let roles = format!("arn:aws:iam::{A}:role/*");
    let tagged = json!({"Effect": "Allow", "Action": "iam:PassRole", "Resource": roles,
        "Condition": {"StringEquals": {"aws:PrincipalTag/team": "ops"}}});
    let policies = [
        compile("one", json!([pass(&roles), run.clone()])),
        compile("two", json!([run.clone(), pass(&roles), pass(&roles)])),
        compile(
            "three",
            json!([pass(&format!("arn:aws:iam::{A}:role/app-*")), run.clone()]),
        ),
        compile("four", json!([tagged, run.clone()])),
    ];
    let ops = [("team".to_string(), "ops".to_string())]
        .into_iter()
        .collect();
    let dev = [("team".to_string(), "dev".to_string())]
        .into_iter()
        .collect();
    let arn = format!("arn:aws:iam::{A}:user/me");
    let selector = |policy: usize, tags| {
        let view = View {
            kind: "user",
            arn: &arn,
            account: A,
            own_groups: Vec::new(),
            attached_policies: Vec::new(),
            effective: Effective {
                identity: vec![&policies[policy]],
                boundary: None,
                scp_levels: &[],
                caller: Caller {
                    arn: &arn,
                    account: A,
                    tags,
                },
            },
        };
        let found = find(&view, catalogue);
        let taken = found.taken.iter().find(|t| t.path == index);
        taken.and_then(|t| t.selector)
    };
    let none = Default::default();
    let one = selector(0, &none).expect("the path is taken");
    assert_eq!(
        selector(1, &none),
        Some(one),
        "names, order and duplicates aside"
    );
    assert_ne!(selector(2, &none), Some(one), "another resource");
    assert_eq!(
        selector(3, &ops),
        Some(one),
        "a condition that holds for the caller"
    );
    assert_ne!(
        selector(3, &dev),
        Some(one),
        "a condition that cannot hold for it"
    );
}
