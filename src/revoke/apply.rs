//! Revoke, apply: runs a plan's actions through the provider executors, journalling each one
//! before and after. Before a grant's first action its principal is read again (a changed id or
//! marker skips the grant); every step then runs, a failed one is reported (exit 1) without
//! keeping the others' access in place.

use serde::Serialize;

use super::action::Action;
use super::journal::{Event, Journal, JournalError, JournalState, Record};
use super::{ExpiredGrant, Plan, TEST_ABORT_ENV};
use super::{aws::AwsExecutor, azure::AzureExecutor, github::GithubExecutor};
use crate::exit::Code;
use crate::inventory::{Provider, Timestamp};

/// The clients `apply` acts through; a provider without one fails its actions (exit 1).
#[derive(Default)]
pub struct Executors {
    pub aws: Option<AwsExecutor>,
    pub github: Option<GithubExecutor>,
    pub azure: Option<AzureExecutor>,
    /// Time between deactivating an AWS access key and deleting it (`--grace`).
    pub grace: chrono::Duration,
}

/// What an executor did.
#[derive(Debug)]
pub enum Effect {
    /// Done; the value records the state replaced (detached ARN, deactivated key ids).
    Done(serde_json::Value),
    /// Nothing to do: already gone (NoSuchEntity, 404). Counts as done.
    AlreadyGone,
    /// Partly waiting: key deletion before the grace period ends.
    Deferred {
        until: Timestamp,
        replaced: serde_json::Value,
    },
}

/// Why an action failed. `permission`: the credentials may not do it (AccessDenied, 403).
#[derive(Debug, Clone)]
pub struct ActionError {
    pub permission: bool,
    pub message: String,
}

/// What an executor needs besides its client: the time, the grace period, and the journal
/// (read, and written for claims made in the middle of an action).
pub struct ExecContext<'a> {
    pub now: Timestamp,
    pub grace: chrono::Duration,
    /// This run's id (the session-cutoff deny's name carries it).
    pub run_id: String,
    journal: &'a mut Journal,
    grant: &'a ExpiredGrant,
    action: &'a Action,
}

impl ExecContext<'_> {
    pub fn state(&self) -> &JournalState {
        self.journal.state()
    }

    /// Journals that lapse is about to deactivate access key `id` (fsync'd before the call),
    /// so a resumed run claims exactly the keys lapse touched.
    pub fn claim_key(&mut self, id: &str) -> Result<(), ActionError> {
        let mut record = self.journal.record(Event::KeyClaimed);
        describe_grant(&mut record, self.grant);
        record.action = Some(self.action.clone());
        record.replaced = Some(serde_json::json!({ "access_key_id": id }));
        self.journal.append(&record).map_err(|e| ActionError {
            permission: false,
            message: format!("journal: {e}"),
        })
    }
}

/// A grant's principal, read again before its first action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Proceed,
    /// Not the principal or marker planned: nothing is changed.
    Skip(String),
    /// Gone, from a verified client, for a principal whose unique id the plan saw.
    Absent,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ActionStatus {
    Done,
    /// Nothing to do: the entity is gone (proven by a verified client, for an id planned).
    AlreadyAbsent,
    /// Done by an interrupted earlier run (from the journal); not repeated.
    Resumed,
    Deferred {
        until: Timestamp,
    },
    Failed {
        permission: bool,
        error: String,
    },
    /// Not attempted: the principal or its marker changed since the plan, or its executor
    /// refused it.
    Skipped {
        reason: String,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct ActionResult {
    pub grant: String,
    pub action: Action,
    #[serde(flatten)]
    pub status: ActionStatus,
}

#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub run_id: String,
    pub results: Vec<ActionResult>,
}

impl Outcome {
    pub fn failures(&self) -> impl Iterator<Item = &ActionResult> {
        self.results
            .iter()
            .filter(|r| matches!(r.status, ActionStatus::Failed { .. }))
    }

    /// 0 when every planned action was done or is waiting for its grace period, 1 otherwise.
    pub fn exit_code(&self) -> Code {
        let incomplete = self.results.iter().any(|r| {
            matches!(
                r.status,
                ActionStatus::Failed { .. } | ActionStatus::Skipped { .. }
            )
        });
        if incomplete {
            Code::Findings
        } else {
            Code::Clean
        }
    }
}

/// Executes `plan`. Only a journal write failing stops the run early (an action that cannot be
/// recorded must not run); provider errors, refusals and skips are results.
pub async fn apply(
    plan: &Plan,
    executors: &Executors,
    journal: &mut Journal,
) -> Result<Outcome, JournalError> {
    let mut started = journal.record(Event::RunStarted);
    started.replaced =
        Some(serde_json::json!({ "as_of": plan.as_of, "grants": plan.grants.len() }));
    journal.append(&started)?;
    let mut run = Run {
        executors,
        journal,
        results: Vec::new(),
        executed: 0,
        abort_after: abort_after(),
    };
    for grant in &plan.grants {
        run.grant(grant).await?;
    }
    let finished = run.journal.record(Event::RunFinished);
    run.journal.append(&finished)?;
    Ok(Outcome {
        run_id: run.journal.run_id().to_string(),
        results: run.results,
    })
}

struct Run<'a> {
    executors: &'a Executors,
    journal: &'a mut Journal,
    results: Vec<ActionResult>,
    executed: usize,
    abort_after: Option<usize>,
}

fn describe_grant(record: &mut Record, grant: &ExpiredGrant) {
    record.grant = Some(grant.resource.id.clone());
    record.provider = Some(grant.resource.provider);
    record.account = grant.account.clone();
    record.principal_unique_id = grant.principal_unique_id.clone();
    record.expires_at = Some(grant.expires_at);
    record.marker_source = Some(grant.marker_source.clone());
}

impl Run<'_> {
    /// Every action of the grant runs even when an earlier one failed: each only takes access
    /// away, so one failed step (a deny refused by a quota) must not keep the rest in place.
    async fn grant(&mut self, grant: &ExpiredGrant) -> Result<(), JournalError> {
        let pending = grant
            .actions
            .iter()
            .any(|a| !self.journal.state().resumable.contains(&grant.key(a)));
        let verdict = if pending {
            self.check(grant).await
        } else {
            Ok(Verdict::Proceed)
        };
        // The re-read itself failing (a refused account, owner or tenant; an error) fails
        // the grant's actions without a call.
        let (verdict, refused) = match verdict {
            Ok(verdict) => (verdict, None),
            Err(e) => (Verdict::Skip(e.message.clone()), Some(e)),
        };
        if let Verdict::Skip(reason) = &verdict {
            let mut record = self.journal.record(Event::Skipped);
            describe_grant(&mut record, grant);
            record.error = Some(reason.clone());
            self.journal.append(&record)?;
        }
        for action in &grant.actions {
            let status = match (&verdict, &refused) {
                _ if self.journal.state().resumable.contains(&grant.key(action)) => {
                    ActionStatus::Resumed
                }
                (_, Some(e)) => ActionStatus::Failed {
                    permission: e.permission,
                    error: e.message.clone(),
                },
                (Verdict::Skip(reason), None) => ActionStatus::Skipped {
                    reason: reason.clone(),
                },
                (Verdict::Absent, None) => self.absent(grant, action)?,
                (Verdict::Proceed, None) => self.execute(grant, action).await?,
            };
            self.results.push(ActionResult {
                grant: grant.resource.id.clone(),
                action: action.clone(),
                status,
            });
        }
        Ok(())
    }

    /// The principal is read again through its provider's verified client.
    async fn check(&self, grant: &ExpiredGrant) -> Result<Verdict, ActionError> {
        match grant.resource.provider {
            Provider::Aws => match &self.executors.aws {
                Some(aws) => aws.check(grant).await,
                None => Ok(Verdict::Proceed),
            },
            Provider::Github => match &self.executors.github {
                Some(github) => github.check(grant).await,
                None => Ok(Verdict::Proceed),
            },
            Provider::Azure => match &self.executors.azure {
                Some(azure) => azure.check(grant).await,
                None => Ok(Verdict::Proceed),
            },
            Provider::Repo => Ok(Verdict::Proceed),
        }
    }

    /// Journals an action whose principal is already gone: nothing to call.
    fn absent(
        &mut self,
        grant: &ExpiredGrant,
        action: &Action,
    ) -> Result<ActionStatus, JournalError> {
        let mut record = self.journal.record(Event::Done);
        describe_grant(&mut record, grant);
        record.action = Some(action.clone());
        record.replaced = Some(serde_json::json!({ "already_absent": true }));
        self.journal.append(&record)?;
        Ok(ActionStatus::AlreadyAbsent)
    }

    async fn execute(
        &mut self,
        grant: &ExpiredGrant,
        action: &Action,
    ) -> Result<ActionStatus, JournalError> {
        let mut record = self.journal.record(Event::Started);
        describe_grant(&mut record, grant);
        record.action = Some(action.clone());
        self.journal.append(&record)?;

        let effect = self.dispatch(grant, action).await;
        self.executed += 1;
        if self.abort_after == Some(self.executed) {
            // Test-only crash point: the action ran, its `done` record was never written.
            std::process::exit(86);
        }

        let (event, status, replaced, error) = match effect {
            Ok(Effect::Done(replaced)) => (Event::Done, ActionStatus::Done, Some(replaced), None),
            Ok(Effect::AlreadyGone) => (
                Event::Done,
                ActionStatus::AlreadyAbsent,
                Some(serde_json::json!({ "already_absent": true })),
                None,
            ),
            Ok(Effect::Deferred { until, replaced }) => (
                Event::Deferred,
                ActionStatus::Deferred { until },
                Some(replaced),
                None,
            ),
            Err(e) => (
                Event::Failed,
                ActionStatus::Failed {
                    permission: e.permission,
                    error: e.message.clone(),
                },
                None,
                Some(e.message),
            ),
        };
        record.ts = chrono::Utc::now();
        record.event = event;
        record.replaced = replaced;
        record.error = error;
        self.journal.append(&record)?;
        Ok(status)
    }

    async fn dispatch(
        &mut self,
        grant: &ExpiredGrant,
        action: &Action,
    ) -> Result<Effect, ActionError> {
        let missing = |provider: Provider| ActionError {
            permission: false,
            message: format!("no {provider} credentials configured for revocation"),
        };
        let executors = self.executors;
        match action.provider() {
            Provider::Aws => match &executors.aws {
                Some(aws) => {
                    let mut ctx = ExecContext {
                        now: chrono::Utc::now(),
                        grace: executors.grace,
                        run_id: self.journal.run_id().to_string(),
                        journal: &mut *self.journal,
                        grant,
                        action,
                    };
                    aws.run(&grant.scope, action, &mut ctx).await
                }
                None => Err(missing(Provider::Aws)),
            },
            Provider::Github => match &executors.github {
                Some(github) => github.run(action).await,
                None => Err(missing(Provider::Github)),
            },
            Provider::Azure => match &executors.azure {
                Some(azure) => azure.run(grant, action).await,
                None => Err(missing(Provider::Azure)),
            },
            Provider::Repo => Err(missing(Provider::Repo)),
        }
    }
}

/// `LAPSE_REVOKE_TEST_ABORT_AFTER=N`: debug builds only, for the crash-recovery test.
fn abort_after() -> Option<usize> {
    if !cfg!(debug_assertions) {
        return None;
    }
    std::env::var(TEST_ABORT_ENV).ok()?.parse().ok()
}
