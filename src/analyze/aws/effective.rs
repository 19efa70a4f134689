//! Analyze, AWS: effective permissions of one principal, action by action: what its identity
//! policies allow, after explicit Denies, within its permission boundary and within the SCPs
//! on its account's path in the organization (root, each OU, the account: every level must
//! allow). RCPs restrict resources, not principals, and are left out.

use crate::analyze::aws::condition::{Caller, Holds};
use crate::analyze::policy::{CompiledPolicy, Target};

/// The policies that decide what one principal may do.
#[derive(Debug, Clone)]
pub struct Effective<'a> {
    pub identity: Vec<&'a CompiledPolicy>,
    /// `None`: no boundary. `Some(None)`: a boundary whose document the inventory lacks
    /// (nothing is capped; the facts say so).
    pub boundary: Option<Option<&'a CompiledPolicy>>,
    /// One entry per level of the organization path; each level's SCPs are a union.
    pub scp_levels: &'a [Vec<&'a CompiledPolicy>],
    pub caller: Caller<'a>,
}

/// Whether one action on one target is allowed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Access {
    pub allowed: bool,
    /// Undecided conditions of the statements that allow it (and of Denies that might cut it).
    pub conditions: Vec<String>,
    /// Allowed by the identity policies, but cut by the boundary or an SCP.
    pub cut_by: Option<&'static str>,
}

impl Access {
    pub fn conditional(&self) -> bool {
        !self.conditions.is_empty()
    }
}

/// One set's verdict: denied, or allowed with the conditions that must hold.
enum SetVerdict {
    No,
    Yes(Vec<String>),
}

impl Effective<'_> {
    /// The (lowercase) action on this target.
    pub fn access(&self, action: &str, target: Target) -> Access {
        let SetVerdict::Yes(mut conditions) =
            set_access(&self.identity, action, target, &self.caller)
        else {
            return Access::default();
        };
        let cut = |why: &'static str| Access {
            allowed: false,
            conditions: Vec::new(),
            cut_by: Some(why),
        };
        if let Some(Some(boundary)) = self.boundary {
            match set_access(&[boundary], action, target, &self.caller) {
                SetVerdict::No => return cut("permissions boundary"),
                SetVerdict::Yes(more) => conditions.extend(more),
            }
        }
        for level in self.scp_levels {
            match set_access(level, action, target, &self.caller) {
                SetVerdict::No => return cut("service control policy"),
                SetVerdict::Yes(more) => conditions.extend(more),
            }
        }
        conditions.sort();
        conditions.dedup();
        Access {
            allowed: true,
            conditions,
            cut_by: None,
        }
    }

    /// Some identity policy mentions this action in an Allow (a cheap pre-check).
    pub fn mentions(&self, action: &str) -> bool {
        self.identity.iter().any(|p| p.mentions(action))
    }

    /// [`Effective::mentions`] of `actions[slot]` (the catalogue's), from each policy's table.
    pub fn mentions_slot(&self, actions: &[String], slot: usize) -> bool {
        self.identity.iter().any(|p| p.mentions_slot(actions, slot))
    }
}

/// A union of documents: some Allow applies and no Deny that surely applies.
fn set_access(
    policies: &[&CompiledPolicy],
    action: &str,
    target: Target,
    caller: &Caller,
) -> SetVerdict {
    let mut best: Option<Vec<String>> = None;
    let mut deny_conditions = Vec::new();
    for statement in policies.iter().flat_map(|p| p.statements()) {
        if !statement.applies(action, target) {
            continue;
        }
        let held = statement.holds_for(Some(caller));
        match (statement.allow(), held) {
            (_, Holds::Never) => {}
            (false, Holds::Always) => return SetVerdict::No,
            (false, Holds::Maybe(condition)) => {
                deny_conditions.push(format!("unless Deny {condition}"))
            }
            (true, Holds::Always) => best = Some(Vec::new()),
            (true, Holds::Maybe(condition)) => {
                if best.is_none() {
                    best = Some(vec![condition]);
                }
            }
        }
    }
    match best {
        Some(mut conditions) => {
            conditions.extend(deny_conditions);
            SetVerdict::Yes(conditions)
        }
        None => SetVerdict::No,
    }
}
