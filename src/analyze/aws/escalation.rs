//! Analyze, AWS: the escalation paths of the catalogue one principal can take, matched on its
//! effective permissions (`effective`), each step against the ARN it must reach.
//!
//! A path whose steps all act on the principal itself, its groups, its policies or a service
//! is decided here. A path with a target (another user, a role it assumes or passes) is left
//! *open* with a selector key: the chains (`chains`) resolve targets once per distinct key, so
//! principals that hold the same statements share one resolution.

use super::catalogue::{Catalogue, Path, Reach, Yields};
use super::effective::{Access, Effective};
use crate::analyze::policy::Target;

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
    /// For a path with a target: what decides which targets its steps reach.
    pub selector: Option<String>,
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
        match own_steps(view, path) {
            Ok(conditions) => {
                let selector = match path.target() {
                    Some(reach) => match selector(view, path, reach) {
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
fn own_steps(view: &View, path: &Path) -> Result<Vec<String>, Option<&'static str>> {
    let mut conditions = Vec::new();
    for step in path.steps.iter().filter(|s| !s.reach.is_target()) {
        let access = match step.reach {
            Reach::Own => view.effective.access(&step.lower, Target::Arn(view.arn)),
            Reach::OwnGroup => best(&view.own_groups, |g| {
                view.effective.access(&step.lower, Target::Arn(g))
            }),
            Reach::AttachedPolicy => best(&view.attached_policies, |p| {
                view.effective.access(&step.lower, Target::Arn(p))
            }),
            // Any policy, or any resource of the action's service: lapse cannot name it.
            _ => view
                .effective
                .access(&step.lower, Target::Service(step.service())),
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

/// The statements that decide the path's target steps, as a key, or `None` when no Allow of
/// the identity could reach any IAM resource for one of them.
fn selector(view: &View, path: &Path, reach: Reach) -> Option<String> {
    let caller = &view.effective.caller;
    let mut key = format!(
        "{:?}|{}|{}",
        reach,
        view.account,
        path.service.as_deref().unwrap_or("")
    );
    for step in path.steps.iter().filter(|s| s.reach.is_target()) {
        key.push_str("\n");
        key.push_str(&step.lower);
        let mut allows = false;
        let mut layer = |tag: &str, policies: &[&crate::analyze::policy::CompiledPolicy]| {
            let mut parts: Vec<String> = policies
                .iter()
                .flat_map(|p| p.statements())
                .filter(|s| s.matches_action(&step.lower) && s.may_serve("iam"))
                .inspect(|s| allows |= tag == "i" && s.allow())
                .map(|s| s.content_key(Some(caller)))
                .collect();
            parts.sort();
            parts.dedup();
            format!("|{tag}:{}", parts.join(";"))
        };
        let mut text = layer("i", &view.effective.identity);
        if let Some(Some(boundary)) = view.effective.boundary {
            text.push_str(&layer("b", &[boundary]));
        }
        for level in view.effective.scp_levels {
            text.push_str(&layer("s", level));
        }
        if !allows {
            return None;
        }
        key.push_str(&text);
    }
    Some(key)
}
