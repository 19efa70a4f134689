//! Revoke, apply: runs a plan's actions through the provider executors, journalling each one
//! before and after. A failing action stops its grant (the later steps assume it happened) and
//! is reported; other grants go on.

use serde::Serialize;

use super::action::Action;
use super::journal::{Event, Journal, JournalError, JournalState};
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

/// Read-only inputs an executor needs besides its client.
pub struct ExecContext<'a> {
    pub now: Timestamp,
    pub grace: chrono::Duration,
    pub journal: &'a JournalState,
    /// An earlier run died while this very action was in flight: it may have happened.
    pub resuming: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ActionStatus {
    Done,
    /// Done by an interrupted earlier run (from the journal); not repeated.
    Resumed,
    Deferred {
        until: Timestamp,
    },
    Failed {
        permission: bool,
        error: String,
    },
    /// Not attempted: an earlier action of the same grant failed.
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
/// recorded must not run); provider errors are results.
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

impl Run<'_> {
    async fn grant(&mut self, grant: &ExpiredGrant) -> Result<(), JournalError> {
        let mut stopped_by: Option<String> = None;
        for action in &grant.actions {
            let status = match &stopped_by {
                Some(reason) => ActionStatus::Skipped {
                    reason: reason.clone(),
                },
                None if self.journal.state().resumable.contains(&action.key()) => {
                    ActionStatus::Resumed
                }
                None => self.execute(grant, action).await?,
            };
            if let ActionStatus::Failed { error, .. } = &status {
                stopped_by = Some(format!("an earlier action of this grant failed: {error}"));
            }
            self.results.push(ActionResult {
                grant: grant.resource.id.clone(),
                action: action.clone(),
                status,
            });
        }
        Ok(())
    }

    async fn execute(
        &mut self,
        grant: &ExpiredGrant,
        action: &Action,
    ) -> Result<ActionStatus, JournalError> {
        let resuming = self.journal.state().interrupted.contains_key(&action.key());
        let mut record = self.journal.record(Event::Started);
        record.grant = Some(grant.resource.id.clone());
        record.expires_at = Some(grant.expires_at);
        record.marker_source = Some(grant.marker_source.clone());
        record.action = Some(action.clone());
        self.journal.append(&record)?;

        let effect = self.dispatch(grant, action, resuming).await;
        self.executed += 1;
        if self.abort_after == Some(self.executed) {
            // Test-only crash point: the action ran, its `done` record was never written.
            std::process::exit(86);
        }

        let (event, status, replaced, error) = match effect {
            Ok(Effect::Done(replaced)) => (Event::Done, ActionStatus::Done, Some(replaced), None),
            Ok(Effect::AlreadyGone) => (
                Event::Done,
                ActionStatus::Done,
                Some(serde_json::json!({ "already_gone": true })),
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
        &self,
        grant: &ExpiredGrant,
        action: &Action,
        resuming: bool,
    ) -> Result<Effect, ActionError> {
        let ctx = ExecContext {
            now: chrono::Utc::now(),
            grace: self.executors.grace,
            journal: self.journal.state(),
            resuming,
        };
        let missing = |provider: Provider| ActionError {
            permission: false,
            message: format!("no {provider} credentials configured for revocation"),
        };
        match action.provider() {
            Provider::Aws => match &self.executors.aws {
                Some(aws) => aws.run(&grant.scope, action, &ctx).await,
                None => Err(missing(Provider::Aws)),
            },
            Provider::Github => match &self.executors.github {
                Some(github) => github.run(action).await,
                None => Err(missing(Provider::Github)),
            },
            Provider::Azure => match &self.executors.azure {
                Some(azure) => azure.run(action).await,
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
