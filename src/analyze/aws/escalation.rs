//! Analyze, AWS: the escalation paths of the catalogue one principal can take, matched on its
//! effective permissions (`effective`), each step against the ARN it must reach.
//!
//! A path whose steps all act on the principal itself, its groups, its policies or a service
//! is decided here. A path with a target (another user, a role it assumes or passes) is left
//! *open* with a selector key: the chains (`chains`) resolve targets once per distinct key, so
//! principals that hold the same statements share one resolution.

use super::catalogue::{Catalogue, Path, Reach, Yields};
use super::effective::{Access, Effective};
use crate::analyze::policy::{Digest128, Target, digest_finish, digest_part};

/// What the catalogue needs to know of a principal.
#[derive(Debug, Clone)]
pub struct View<'a> {
    /// `user` or `role`.
    pub kind: &'a str,
    pub arn: &'a str,
    pub account: &'a str,
    pub own_groups: Vec<&'a str>,
    /// Customer-managed policies attached to it, directly or through a group.
    pub attached_policies: Vec<&'a str>,
    pub effective: Effective<'a>,
}

/// A path whose own steps hold.
#[derive(Debug, Clone)]
pub struct Taken {
    /// Index in the catalogue.
    pub path: usize,
    pub conditions: Vec<String>,
    /// For a path with a target: what decides which targets its steps reach (see
    /// [`selector`]).
    pub selector: Option<Digest128>,
}

/// The paths of one principal.
#[derive(Debug, Clone, Default)]
pub struct Found {
    pub taken: Vec<Taken>,
    /// `escalation paths cut by <what>: <ids>`: paths the identity policies allow but a
    /// boundary or SCP cuts, for the evidence.
    pub cut: Vec<String>,
}

impl Found {
    /// A path that needs no target and yields admin.
    pub fn self_admin(&self, catalogue: &Catalogue) -> impl Iterator<Item = &Taken> {
        self.taken.iter().filter(|t| {
            let path = &catalogue.path[t.path];
            path.yields == Yields::Admin && path.target().is_none()
        })
    }
}

/// The paths of the catalogue `view` can take.
pub fn find(view: &View, catalogue: &Catalogue) -> Found {
    let mut found = Found::default();
    let mut cut: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for (index, path) in catalogue.path.iter().enumerate() {
        if !path.principals.iter().any(|k| k == view.kind)
            || !path
                .steps
                .iter()
                .all(|s| view.effective.mentions_slot(&catalogue.actions, s.slot))
        {
            continue;
        }
        match own_steps(view, path, &catalogue.actions) {
            Ok(conditions) => {
                let selector = match path.target() {
                    Some(reach) => match selector(view, path, reach, &catalogue.actions) {
                        Some(key) => Some(key),
                        None => continue,
                    },
                    None => None,
                };
                found.taken.push(Taken {
                    path: index,
                    conditions,
                    selector,
                });
            }
            Err(Some(by)) => cut.entry(by).or_default().push(&path.id),
            Err(None) => {}
        }
    }
    found.cut = cut
        .into_iter()
        .map(|(by, ids)| format!("escalation paths cut by {by}: {}", ids.join(", ")))
        .collect();
    found
}

/// The steps that do not reach a target: allowed (with their conditions), or why not.
fn own_steps(
    view: &View,
    path: &Path,
    actions: &[String],
) -> Result<Vec<String>, Option<&'static str>> {
    let mut conditions = Vec::new();
    for step in path.steps.iter().filter(|s| !s.reach.is_target()) {
        let access = |target: Target| view.effective.access_slot(actions, step.slot, target);
        let access = match step.reach {
            Reach::Own => access(Target::Arn(view.arn)),
            Reach::OwnGroup => best(&view.own_groups, |g| access(Target::Arn(g))),
            Reach::AttachedPolicy => best(&view.attached_policies, |p| access(Target::Arn(p))),
            // Any policy, or any resource of the action's service: lapse cannot name it.
            _ => access(Target::Service(step.service())),
        };
        if !access.allowed {
            return Err(access.cut_by);
        }
        conditions.extend(access.conditions);
    }
    conditions.sort();
    conditions.dedup();
    Ok(conditions)
}

/// The best access over candidate resources: unconditional first.
fn best(candidates: &[&str], access: impl Fn(&str) -> Access) -> Access {
    let mut result = Access::default();
    for candidate in candidates {
        let this = access(candidate);
        if this.allowed && !this.conditional() {
            return this;
        }
        // Keep a conditional allow over a refusal, and a refusal that says why over one that
        // does not.
        let better = if result.allowed {
            false
        } else {
            this.allowed || (this.cut_by.is_some() && result.cut_by.is_none())
        };
        if better {
            result = this;
        }
    }
    result
}

/// The statements that decide the path's target steps, digested, or `None` when no Allow of
/// the identity could reach any IAM resource for one of them. Two principals with the same
/// selector reach the same targets: the reach, the account, the service, and per target step
/// the distinct statements (effect, resources, condition for the caller) of each layer.
fn selector(view: &View, path: &Path, reach: Reach, actions: &[String]) -> Option<Digest128> {
    let caller = &view.effective.caller;
    let mut hasher = <sha2::Sha256 as sha2::Digest>::new();
    digest_part(&mut hasher, format!("{reach:?}").as_bytes());
    digest_part(&mut hasher, view.account.as_bytes());
    digest_part(
        &mut hasher,
        path.service.as_deref().unwrap_or("").as_bytes(),
    );
    for step in path.steps.iter().filter(|s| s.reach.is_target()) {
        digest_part(&mut hasher, step.lower.as_bytes());
        let mut allows = false;
        let mut layer = |tag: &str, policies: &[&crate::analyze::policy::CompiledPolicy]| {
            let mut parts: Vec<Digest128> = Vec::new();
            for policy in policies {
                policy.slot_statements(actions, step.slot, |s| {
                    if s.may_serve("iam") {
                        allows |= tag == "i" && s.allow();
                        parts.push(s.content_digest(Some(caller)));
                    }
                    true
                });
            }
            parts.sort_unstable();
            parts.dedup();
            digest_part(&mut hasher, tag.as_bytes());
            digest_part(&mut hasher, parts.as_flattened());
        };
        layer("i", &view.effective.identity);
        if let Some(Some(boundary)) = view.effective.boundary {
            layer("b", &[boundary]);
        }
        for level in view.effective.scp_levels {
            layer("s", level);
        }
        if !allows {
            return None;
        }
    }
    Some(digest_finish(hasher))
}
