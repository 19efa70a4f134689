//! Analyze, AWS: the closure of escalation paths and assume-role chains over the whole
//! inventory, across accounts: each principal's highest reachable privilege and one witness
//! chain.
//!
//! Near-linear: principals are never paired. Each open path (see `escalation`) points at a
//! *hub*, one per distinct selector (the statements that decide its targets); a hub's members
//! are resolved once, against the candidates its reach allows (the users of the account, the
//! roles whose trust admits the caller's account or anyone, the roles trusting a service).
//! Roles that name a principal by ARN in their trust add one edge each. The levels are then
//! spread backwards by breadth-first search from the principals that hold each level
//! themselves, highest first, so cycles terminate and the parent pointers form the shortest
//! witness chain. Done twice: once on unconditional edges only (`effective_privilege`), once on
//! all (`effective_privilege_conditional`).

use rayon::prelude::*;
use std::collections::VecDeque;

use super::catalogue::{Catalogue, Reach, Yields};
use super::effective::Effective;
use super::escalation::{Found, Taken};
use crate::analyze::Privilege;
use crate::analyze::policy::{Digest128, Target};
use crate::analyze::trust::Admits;
use crate::hash::FastMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    User,
    Role,
    Group,
}

/// One principal (or group) of the inventory, as the chains see it.
pub struct Node<'a> {
    pub arn: &'a str,
    pub account: &'a str,
    pub kind: NodeKind,
    /// Its own level: unconditionally, and counting conditional statements.
    pub strict: Privilege,
    pub loose: Privilege,
    pub found: Option<&'a Found>,
    pub effective: Option<&'a Effective<'a>>,
    pub admits: Option<&'a Admits>,
    pub services: &'a [String],
}

/// What the closure says of one node.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Closure {
    pub strict: Privilege,
    pub loose: Privilege,
    /// The witness chain of the highest level reached (unconditional first), hop by hop.
    pub chain: Vec<String>,
    /// The paths it can take that reach something: `id: title (actions)`.
    pub paths: Vec<String>,
}

const NO_LABEL: u32 = u32::MAX;

struct Hub {
    representative: usize,
    path: usize,
    /// The caller's own account (targets of the same account; assumed roles of any).
    account: String,
    members: Vec<(u32, bool)>,
}

/// Candidate targets of each reach, by account.
#[derive(Default)]
struct Candidates {
    users: FastMap<String, Vec<u32>>,
    roles: FastMap<String, Vec<u32>>,
    groups: FastMap<String, Vec<u32>>,
    by_service: FastMap<(String, String), Vec<u32>>,
    admitting_account: FastMap<String, Vec<(u32, bool)>>,
    admitting_any: Vec<(u32, bool)>,
}

impl Candidates {
    fn build(nodes: &[Node]) -> Self {
        let mut c = Candidates::default();
        for (i, node) in nodes.iter().enumerate() {
            let i = i as u32;
            let account = node.account.to_string();
            match node.kind {
                NodeKind::User => c.users.entry(account).or_default().push(i),
                NodeKind::Group => c.groups.entry(account).or_default().push(i),
                NodeKind::Role => {
                    c.roles.entry(account.clone()).or_default().push(i);
                    for service in node.services {
                        let key = (account.clone(), service.clone());
                        c.by_service.entry(key).or_default().push(i);
                    }
                    if let Some(admits) = node.admits {
                        if let Some(conditional) = admits.any {
                            c.admitting_any.push((i, conditional));
                        }
                        for (account, conditional) in &admits.accounts {
                            let entry = c.admitting_account.entry(account.clone()).or_default();
                            entry.push((i, *conditional));
                        }
                    }
                }
            }
        }
        c
    }

    fn of(&self, reach: Reach, account: &str, service: Option<&str>) -> Vec<(u32, bool)> {
        let plain = |list: Option<&Vec<u32>>| {
            list.map(|l| l.iter().map(|&i| (i, false)).collect())
                .unwrap_or_default()
        };
        match reach {
            Reach::User => plain(self.users.get(account)),
            Reach::Role => plain(self.roles.get(account)),
            Reach::Group => plain(self.groups.get(account)),
            Reach::PassedRole => {
                let key = (account.to_string(), service.unwrap_or_default().to_string());
                plain(self.by_service.get(&key))
            }
            Reach::AssumableRole => {
                let mut all = self.admitting_any.clone();
                all.extend(self.admitting_account.get(account).into_iter().flatten());
                all.sort_unstable();
                all.dedup_by_key(|(i, _)| *i);
                all
            }
            _ => Vec::new(),
        }
    }
}

/// Closes the escalation graph of `nodes`.
pub fn close(nodes: &[Node], catalogue: &Catalogue) -> Vec<Closure> {
    let candidates = Candidates::build(nodes);
    let mut hubs: Vec<Hub> = Vec::new();
    let mut hub_of: FastMap<HubKey, u32> = FastMap::default();
    // (from, to, label, conditional); `to` >= nodes.len() is a hub.
    let mut edges: Vec<(u32, u32, u32, bool)> = Vec::new();
    let n = nodes.len();
    for (i, node) in nodes.iter().enumerate() {
        let Some(found) = node.found else { continue };
        for taken in &found.taken {
            let Some(key) = hub_key(taken, node, catalogue) else {
                continue;
            };
            let next = hubs.len() as u32;
            let hub = *hub_of.entry(key).or_insert_with(|| {
                hubs.push(Hub {
                    representative: i,
                    path: taken.path,
                    account: node.account.to_string(),
                    members: Vec::new(),
                });
                next
            });
            let conditional = !taken.conditions.is_empty();
            edges.push((i as u32, n as u32 + hub, taken.path as u32, conditional));
        }
    }
    hubs.par_iter_mut()
        .for_each(|hub| hub.members = members(hub, nodes, &candidates, catalogue));
    for (h, hub) in hubs.iter().enumerate() {
        for &(member, conditional) in &hub.members {
            edges.push((n as u32 + h as u32, member, NO_LABEL, conditional));
        }
    }
    edges.extend(named_trusts(nodes, catalogue));
    let graph = Graph::new(n + hubs.len(), &edges);
    let base = |strict: bool| -> Vec<Privilege> {
        let mut levels: Vec<Privilege> = nodes
            .iter()
            .map(|node| if strict { node.strict } else { node.loose })
            .collect();
        levels.extend(hubs.iter().map(|hub| {
            let admin = catalogue.path[hub.path].yields == Yields::Admin;
            let reached = hub.members.iter().any(|(_, c)| !strict || !c);
            if admin && reached {
                Privilege::Admin
            } else {
                Privilege::None
            }
        }));
        levels
    };
    // The two spreads are independent passes over the same graph.
    let (strict, loose) = rayon::join(
        || graph.spread(&base(true), true),
        || graph.spread(&base(false), false),
    );
    (0..n)
        .into_par_iter()
        .map(|i| {
            let (level, parents) = if loose.0[i] > strict.0[i] {
                (loose.0[i], &loose.1)
            } else {
                (strict.0[i], &strict.1)
            };
            Closure {
                strict: strict.0[i],
                loose: loose.0[i],
                chain: witness(i, level, parents, nodes, &hubs, catalogue),
                paths: reached_paths(i, nodes, &hubs, &hub_of, catalogue),
            }
        })
        .collect()
}

/// What a hub is the one of: a path and its selector, or a service-role path (whose service
/// the path names) in an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum HubKey<'a> {
    Selector(usize, Digest128),
    Service(usize, &'a str),
}

/// The hub a taken path points at: its selector, or the service-role hub of its account;
/// `None` for a path decided on the principal alone.
fn hub_key<'a>(taken: &Taken, node: &Node<'a>, catalogue: &Catalogue) -> Option<HubKey<'a>> {
    let path = &catalogue.path[taken.path];
    match (taken.selector, path.yields) {
        (Some(selector), _) => Some(HubKey::Selector(taken.path, selector)),
        (None, Yields::ServiceRole) => Some(HubKey::Service(taken.path, node.account)),
        (None, _) => None,
    }
}

/// The members of a hub: candidates every target step of its path reaches. The hub is shared
/// by every principal with the same selector, so no holder is left out, the representative
/// included: a holder that reaches itself gains nothing (the spread has already seen it), and
/// leaving out whichever holder the inventory happened to list first would drop it from the
/// others' targets.
fn members(
    hub: &Hub,
    nodes: &[Node],
    candidates: &Candidates,
    catalogue: &Catalogue,
) -> Vec<(u32, bool)> {
    let path = &catalogue.path[hub.path];
    let service = path.service.as_deref();
    let Some(reach) = path.target() else {
        // A service-role path: every role of the account that the service runs with.
        return candidates.of(Reach::PassedRole, &hub.account, service);
    };
    let Some(effective) = nodes[hub.representative].effective else {
        return Vec::new();
    };
    let steps: Vec<usize> = path
        .steps
        .iter()
        .filter(|s| s.reach.is_target())
        .map(|s| s.slot)
        .collect();
    candidates
        .of(reach, &hub.account, service)
        .into_iter()
        .filter_map(|(i, trust_conditional)| {
            let mut conditional = trust_conditional;
            for &slot in &steps {
                let target = Target::Arn(nodes[i as usize].arn);
                let access = effective.access_slot(&catalogue.actions, slot, target);
                if !access.allowed {
                    return None;
                }
                conditional |= access.conditional();
            }
            Some((i, conditional))
        })
        .collect()
}

/// Edges of trusts that name a principal by ARN: within its account the trust alone lets it
/// assume the role; from another account its own policies must allow `sts:AssumeRole` too.
fn named_trusts(nodes: &[Node], catalogue: &Catalogue) -> Vec<(u32, u32, u32, bool)> {
    let Some(label) = catalogue.path.iter().position(|p| {
        p.steps.len() == 1 && p.steps[0].reach == Reach::AssumableRole && p.yields == Yields::Target
    }) else {
        return Vec::new();
    };
    let assume = catalogue.actions.iter().position(|a| a == "sts:assumerole");
    let by_arn: FastMap<&str, u32> = nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| n.kind != NodeKind::Group)
        .map(|(i, n)| (n.arn, i as u32))
        .collect();
    // Per role in parallel (a cross-account caller costs an access check), then joined in the
    // roles' order, as a sequential pass would list them.
    let per_role: Vec<Vec<(u32, u32, u32, bool)>> = nodes
        .par_iter()
        .enumerate()
        .map(|(r, role)| {
            let mut edges = Vec::new();
            let Some(admits) = role.admits else {
                return edges;
            };
            for (arn, conditional) in &admits.arns {
                let Some(&caller) = by_arn.get(arn.as_str()) else {
                    continue;
                };
                let node = &nodes[caller as usize];
                let access = if node.account == role.account {
                    Some(false)
                } else {
                    node.effective
                        .map(|e| match assume {
                            Some(slot) => {
                                e.access_slot(&catalogue.actions, slot, Target::Arn(role.arn))
                            }
                            None => e.access("sts:assumerole", Target::Arn(role.arn)),
                        })
                        .filter(|a| a.allowed)
                        .map(|a| a.conditional())
                };
                if let Some(policy_conditional) = access {
                    edges.push((
                        caller,
                        r as u32,
                        label as u32,
                        *conditional || policy_conditional,
                    ));
                }
            }
            edges
        })
        .collect();
    per_role.concat()
}

/// Reverse adjacency (CSR): for each node, the edges that point at it.
struct Graph {
    start: Vec<u32>,
    from: Vec<(u32, u32, bool)>,
}

type Parents = Vec<Option<(u32, u32)>>;

impl Graph {
    fn new(size: usize, edges: &[(u32, u32, u32, bool)]) -> Self {
        let mut start = vec![0u32; size + 1];
        for &(_, to, _, _) in edges {
            start[to as usize + 1] += 1;
        }
        for i in 0..size {
            start[i + 1] += start[i];
        }
        let mut fill = start.clone();
        let mut from = vec![(0, 0, false); edges.len()];
        for &(f, to, label, conditional) in edges {
            let at = &mut fill[to as usize];
            from[*at as usize] = (f, label, conditional);
            *at += 1;
        }
        Graph { start, from }
    }

    /// Each node's highest reachable level and its parent toward the node holding it.
    fn spread(&self, base: &[Privilege], strict: bool) -> (Vec<Privilege>, Parents) {
        let mut level = vec![Privilege::None; base.len()];
        let mut parent: Parents = vec![None; base.len()];
        let mut seen = vec![false; base.len()];
        for target in [Privilege::Admin, Privilege::Write, Privilege::Read] {
            let mut queue: VecDeque<u32> = (0..base.len() as u32)
                .filter(|&i| !seen[i as usize] && base[i as usize] >= target)
                .collect();
            for &i in &queue {
                seen[i as usize] = true;
                level[i as usize] = base[i as usize];
            }
            while let Some(node) = queue.pop_front() {
                let range =
                    self.start[node as usize] as usize..self.start[node as usize + 1] as usize;
                for &(from, label, conditional) in &self.from[range] {
                    if (strict && conditional) || seen[from as usize] {
                        continue;
                    }
                    seen[from as usize] = true;
                    level[from as usize] = target;
                    parent[from as usize] = Some((node, label));
                    queue.push_back(from);
                }
            }
        }
        (level, parent)
    }
}

/// Longest witness shown; a longer chain ends with an ellipsis hop.
const MAX_HOPS: usize = 8;

fn witness(
    start: usize,
    level: Privilege,
    parents: &Parents,
    nodes: &[Node],
    hubs: &[Hub],
    catalogue: &Catalogue,
) -> Vec<String> {
    let n = nodes.len();
    let mut hops = Vec::new();
    let mut at = start;
    while let Some((next, label)) = parents[at] {
        if hops.len() == MAX_HOPS {
            hops.push("…".to_string());
            break;
        }
        let path = &catalogue.path[label as usize];
        let next = next as usize;
        if next >= n {
            let hub = &hubs[next - n];
            match parents[next] {
                Some((member, _)) => {
                    let member = member as usize;
                    hops.push(hop(nodes[at].arn, nodes[member].arn, path, None));
                    at = member;
                }
                None => {
                    // An admin-yielding path: its target only had to exist.
                    let target = hub
                        .members
                        .first()
                        .map_or("", |(m, _)| nodes[*m as usize].arn);
                    hops.push(hop(nodes[at].arn, level.as_str(), path, Some(target)));
                    break;
                }
            }
        } else {
            hops.push(hop(nodes[at].arn, nodes[next].arn, path, None));
            at = next;
        }
    }
    hops
}

/// One hop's evidence text (`evidence::Hop`).
fn hop(from: &str, to: &str, path: &super::catalogue::Path, on: Option<&str>) -> String {
    let actions = path.actions();
    super::evidence::Hop {
        from,
        to,
        path: &path.id,
        actions: &actions,
        on,
    }
    .line()
}

fn reached_paths(
    i: usize,
    nodes: &[Node],
    hubs: &[Hub],
    hub_of: &FastMap<HubKey, u32>,
    catalogue: &Catalogue,
) -> Vec<String> {
    let Some(found) = nodes[i].found else {
        return Vec::new();
    };
    let mut out: Vec<String> = found
        .taken
        .iter()
        .filter(|taken| {
            let Some(key) = hub_key(taken, &nodes[i], catalogue) else {
                return true;
            };
            hub_of
                .get(&key)
                .is_some_and(|&h| !hubs[h as usize].members.is_empty())
        })
        .map(|taken| {
            let path = &catalogue.path[taken.path];
            super::evidence::path_line(path)
        })
        .collect();
    out.dedup();
    out
}
