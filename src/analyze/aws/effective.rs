//! Analyze, AWS: effective permissions of one principal, action by action: what its identity
//! policies allow, after explicit Denies, within its permission boundary and within the SCPs
//! on its account's path in the organization (root, each OU, the account: every level must
//! allow). RCPs restrict resources, not principals, and are left out.

use crate::analyze::aws::condition::{Caller, Holds};
use crate::analyze::policy::{CompiledPolicy, Statement, Target};

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

/// The action an access is asked for: by name, or by its slot in a list every policy keeps a
/// table for (the catalogue's, see [`CompiledPolicy::slot_statements`]), which spares matching
/// each statement's actions on every ask.
#[derive(Debug, Clone, Copy)]
pub enum Action<'q> {
    Named(&'q str),
    Slot(&'q [String], usize),
}

impl Action<'_> {
    /// Calls `visit` on the statements of `policy` that match the action, until it returns
    /// false.
    fn statements(&self, policy: &CompiledPolicy, visit: impl FnMut(&Statement) -> bool) {
        match *self {
            Action::Named(action) => policy.statements_matching(action, visit),
            Action::Slot(actions, slot) => policy.slot_statements(actions, slot, visit),
        }
    }
}

impl Effective<'_> {
    /// The (lowercase) action on this target.
    pub fn access(&self, action: &str, target: Target) -> Access {
        self.access_of(Action::Named(action), target)
    }

    /// The catalogue action `actions[slot]` on this target (the same answer as
    /// [`Effective::access`] of it, from each policy's table).
    pub fn access_slot(&self, actions: &[String], slot: usize, target: Target) -> Access {
        self.access_of(Action::Slot(actions, slot), target)
    }

    fn access_of(&self, action: Action, target: Target) -> Access {
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

    /// Some identity policy mentions `actions[slot]` (the catalogue's) in an Allow, from each
    /// policy's table (a cheap pre-check).
    pub fn mentions_slot(&self, actions: &[String], slot: usize) -> bool {
        self.identity.iter().any(|p| p.mentions_slot(actions, slot))
    }
}

/// A union of documents: some Allow applies and no Deny that surely applies.
fn set_access(
    policies: &[&CompiledPolicy],
    action: Action,
    target: Target,
    caller: &Caller,
) -> SetVerdict {
    let mut best: Option<Vec<String>> = None;
    let mut deny_conditions = Vec::new();
    let mut denied = false;
    for policy in policies {
        action.statements(policy, |statement| {
            if !statement.on_target(target) {
                return true;
            }
            let held = statement.holds_for(Some(caller));
            match (statement.allow(), held) {
                (_, Holds::Never) => {}
                (false, Holds::Always) => {
                    denied = true;
                    return false;
                }
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
            true
        });
        if denied {
            return SetVerdict::No;
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
