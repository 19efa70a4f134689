//! Revoke: plans and applies the removal of provisional grants whose expiry has passed.
//!
//! `plan` reads the inventory (markers on principals, grants and credentials, plus the grants
//! ledger) through `analyze::expiry`, the one place markers are parsed, and lists for every
//! grant that is provisional *and* past its expiry the exact API calls that end it. An
//! unreadable marker becomes a [`MarkerIssue`], never an action. `apply` executes a plan under a
//! lock, writing every action to an append-only journal before and after it runs, so a run
//! killed half-way is finished by the next one without repeating what was done.
//!
//! Each provider's executor is built from the validated options its collector used
//! (`app::ProviderOptions`) and acts only where the grant is held: the verified session of the
//! grant's AWS account, its Azure tenant, its GitHub owner. The plan pins each principal's
//! unique id and marker; `pin` holds the verdicts of the re-read made before acting.

use serde::{Deserialize, Serialize};

use crate::inventory::{Provider, ResourceRef, Timestamp};

pub mod action;
pub mod apply;
pub mod aws;
pub mod azure;
pub mod command;
pub mod github;
pub mod journal;
pub mod ledger;
pub mod lock;
pub mod pin;
pub mod plan;
pub mod print;
pub mod target;

pub use action::Action;
pub use apply::{ActionResult, ActionStatus, Executors, Outcome, Verdict, apply};
pub use journal::{Journal, JournalState};
pub use plan::plan;

/// Environment variable read only by debug builds: exit the process after the Nth action's API
/// call returns and before its `done` record, to test recovery from a crash. Test-only.
pub const TEST_ABORT_ENV: &str = "LAPSE_REVOKE_TEST_ABORT_AFTER";

/// What `lapse revoke` would do at `as_of`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plan {
    pub as_of: Timestamp,
    /// Provisional grants past their expiry, each with the actions that end it.
    pub grants: Vec<ExpiredGrant>,
    /// Markers that could not be read: findings, never actions.
    pub issues: Vec<MarkerIssue>,
    /// Provisional grants whose expiry is still ahead (counted, left alone).
    pub not_yet_expired: usize,
    /// Of those, the ones whose provider marker has passed but whose latest ledger line runs
    /// later (`lapse grant` extended them): left alone until the ledger's expiry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extended: Vec<Extended>,
}

/// A grant the ledger extended past the marker its provider holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Extended {
    pub resource: ResourceRef,
    /// Where the passed marker was read: `title`, `description`, `schedule`, `end_date`.
    pub marker_source: String,
    /// The marker text (attacker-controlled: escape before showing).
    pub marker: Option<String>,
    /// The ledger's expiry, which wins.
    pub expires_at: Timestamp,
}

impl Plan {
    pub fn action_count(&self) -> usize {
        self.grants.iter().map(|g| g.actions.len()).sum()
    }
}

/// One provisional grant whose time is up.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExpiredGrant {
    /// What is revoked (the principal for a tagged user or role, the grant for a ledger entry).
    pub resource: ResourceRef,
    /// Account, tenant, organization or repository; selects the client that acts on it.
    pub scope: String,
    /// The account (AWS), tenant (Azure) or owner (GitHub) that holds the grant: its executor
    /// acts there only, and refuses the grant when it is not where it writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The principal's unique id when the plan saw it (AWS UserId/RoleId, Azure object id,
    /// GitHub key id): read again before acting, and part of every journal key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_unique_id: Option<String>,
    /// The marker text the plan read (attacker-controlled): read again before acting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
    pub expires_at: Timestamp,
    /// Where the expiry was read: `tag`, `description`, `title`, `ledger`, `schedule`, `end_date`.
    pub marker_source: String,
    pub owner: Option<String>,
    pub reason: Option<String>,
    /// In order: an earlier action failing stops the later ones.
    pub actions: Vec<Action>,
    /// What is deliberately left in place, and why (a policy inherited through a shared group).
    pub notes: Vec<String>,
}

impl ExpiredGrant {
    /// The journal key of one of this grant's actions.
    pub fn key(&self, action: &Action) -> String {
        journal::action_key(
            self.resource.provider,
            self.account.as_deref(),
            self.principal_unique_id.as_deref(),
            action,
        )
    }
}

/// A marker that is present but unreadable: reported, never acted on.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MarkerIssue {
    pub resource: ResourceRef,
    pub marker_source: String,
    /// The raw marker text (attacker-controlled: escape before showing).
    pub value: String,
}

/// One line of the report's revocation view (`Report::revocations`): a grant whose expiry has
/// passed, and whether lapse has already ended it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Revocation {
    pub resource: ResourceRef,
    pub scope: String,
    pub expires_at: Timestamp,
    pub marker_source: String,
    /// `pending` (nothing done yet), `partial`, `performed`.
    pub status: String,
    /// The API calls, as `Action::describe` prints them.
    pub actions: Vec<String>,
    /// When the last of its actions was done, from the journal.
    pub performed_at: Option<Timestamp>,
}

/// The report's view of a plan: every expired grant with its state from the journal (when one
/// was named). A record counts only for the grant's key: provider, account, principal unique
/// id and action.
pub fn revocations(plan: &Plan, journal: Option<&JournalState>) -> Vec<Revocation> {
    plan.grants
        .iter()
        .map(|grant| {
            let done: Vec<Option<Timestamp>> = grant
                .actions
                .iter()
                .map(|a| journal.and_then(|j| j.done_at(&grant.key(a))))
                .collect();
            let done_count = done.iter().filter(|d| d.is_some()).count();
            let status = match done_count {
                0 => "pending",
                n if n == grant.actions.len() => "performed",
                _ => "partial",
            };
            Revocation {
                resource: grant.resource.clone(),
                scope: grant.scope.clone(),
                expires_at: grant.expires_at,
                marker_source: grant.marker_source.clone(),
                status: status.to_string(),
                actions: grant.actions.iter().map(Action::describe).collect(),
                performed_at: done.into_iter().flatten().max(),
            }
        })
        .collect()
}

/// Default journal of `lapse revoke` (`--journal`). `scan` never reads it unless named.
pub const DEFAULT_JOURNAL: &str = "lapse-journal.jsonl";

/// What `scan` puts in `Report::revocations`: the plan in `ctx`, with what `journal` (only when
/// one was named: a journal lying in the working directory proves nothing) says was performed.
/// A named journal that cannot be read, or whose chain is broken, is an input error.
pub fn scan_view(
    inventory: &crate::inventory::Inventory,
    ctx: &crate::analyze::AnalysisContext,
    journal: Option<&std::path::Path>,
) -> Result<Vec<Revocation>, journal::JournalError> {
    let plan = plan::plan_in(inventory, ctx);
    if plan.grants.is_empty() {
        return Ok(Vec::new());
    }
    let state = journal.map(JournalState::load).transpose()?;
    Ok(revocations(&plan, state.as_ref()))
}

/// Errors that stop `revoke` before any action runs (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum RevokeError {
    #[error(transparent)]
    Journal(#[from] journal::JournalError),
    #[error(transparent)]
    Ledger(#[from] ledger::LedgerError),
}

/// Convenience for callers building a `ResourceRef`.
pub(crate) fn resource(provider: Provider, kind: &str, id: &str, name: &str) -> ResourceRef {
    ResourceRef {
        provider,
        kind: kind.to_string(),
        id: id.to_string(),
        name: name.to_string(),
    }
}
