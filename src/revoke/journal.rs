//! Revoke, journal: the append-only JSONL record of every action, written (and fsync'd) before
//! and after each one, with the state it replaced. Read back, it tells a re-run what an
//! interrupted run already did and when each access key was deactivated.
//!
//! Record events: `run_started`, `started`, `key_claimed`, `done`, `deferred`, `failed`,
//! `skipped`, `run_finished`. A run without `run_finished` was interrupted; the `done` actions of
//! interrupted runs since the last finished run are skipped by the next run (it resumes them).
//!
//! An action is known by its key: provider, account (tenant, owner), the principal's unique id,
//! the action and its target. The same user name in two accounts, or a principal re-created
//! under its old name, is another key. Records of the earlier format carry no account or id, so
//! their unfinished actions match no key of a new plan: the grant is planned again, not resumed.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::action::Action;
use crate::inventory::{Provider, Timestamp};

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Lock(#[from] super::lock::LockError),
    #[error("{}:{line}: not a lapse journal record: {message}", path.display())]
    Corrupt {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    RunStarted,
    Started,
    /// About to deactivate an access key (`replaced.access_key_id`): written before the call.
    KeyClaimed,
    Done,
    Deferred,
    Failed,
    /// A grant left alone: its principal or marker changed, or its executor refused it.
    Skipped,
    RunFinished,
}

/// One line of the journal.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub ts: Timestamp,
    pub run_id: String,
    pub event: Event,
    /// Resource id of the expired grant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<Provider>,
    /// Account, tenant or owner that holds the grant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The principal's unique id the plan pinned (AWS UserId/RoleId, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_unique_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker_source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    /// What the action removed or changed (policy ARN detached, key ids deactivated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What the journal says so far.
#[derive(Debug, Clone, Default)]
pub struct JournalState {
    /// Action keys done by interrupted runs since the last finished run: a re-run skips them.
    pub resumable: BTreeSet<String>,
    /// Last time each action key was done, in any run.
    pub done: BTreeMap<String, Timestamp>,
    /// Access key id → when lapse last deactivated it.
    pub deactivated_keys: BTreeMap<String, Timestamp>,
    /// Action keys whose last record is `started`: the process died while the call was in
    /// flight, so it may or may not have happened.
    pub interrupted: BTreeMap<String, Timestamp>,
    pub records: usize,
}

impl JournalState {
    pub fn done_at(&self, key: &str) -> Option<Timestamp> {
        self.done.get(key).copied()
    }

    fn absorb(&mut self, record: &Record) {
        self.records += 1;
        let key = record.action.as_ref().map(|action| {
            action_key(
                record.provider.unwrap_or(action.provider()),
                record.account.as_deref(),
                record.principal_unique_id.as_deref(),
                action,
            )
        });
        match (record.event, key) {
            (Event::RunFinished, _) => self.resumable.clear(),
            (Event::Started, Some(key)) => {
                self.interrupted.insert(key, record.ts);
            }
            (Event::KeyClaimed, _) => {
                let id = record
                    .replaced
                    .as_ref()
                    .and_then(|r| r.get("access_key_id"));
                if let Some(id) = id.and_then(|v| v.as_str()) {
                    self.deactivated_keys.insert(id.to_string(), record.ts);
                }
            }
            (Event::Deferred | Event::Failed, Some(key)) => {
                self.interrupted.remove(&key);
            }
            (Event::Done, Some(key)) => {
                self.interrupted.remove(&key);
                self.resumable.insert(key.clone());
                self.done.insert(key, record.ts);
                // Journals of the earlier format claimed keys only here, after the call.
                if record.account.is_none() {
                    for id in string_list(record.replaced.as_ref(), "deactivated_keys") {
                        self.deactivated_keys.insert(id, record.ts);
                    }
                }
            }
            _ => {}
        }
    }

    /// Reads a journal; a missing file is an empty journal. A torn last line (the process was
    /// killed while writing it) is ignored; a malformed line elsewhere is an error.
    pub fn load(path: &Path) -> Result<JournalState, JournalError> {
        let mut state = JournalState::default();
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(state),
            Err(source) => return Err(io_error(path, source)),
        };
        let complete = text.ends_with('\n');
        let lines: Vec<&str> = text.lines().collect();
        for (index, line) in lines.iter().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Record>(line) {
                Ok(record) => state.absorb(&record),
                Err(_) if !complete && index + 1 == lines.len() => {}
                Err(e) => {
                    return Err(JournalError::Corrupt {
                        path: path.to_path_buf(),
                        line: index + 1,
                        message: e.to_string(),
                    });
                }
            }
        }
        Ok(state)
    }
}

/// The key of `action` on a grant: provider, account, principal unique id, action and target.
pub fn action_key(
    provider: Provider,
    account: Option<&str>,
    principal_unique_id: Option<&str>,
    action: &Action,
) -> String {
    let key = serde_json::json!({
        "provider": provider,
        "account": account,
        "principal": principal_unique_id,
        "action": action,
    });
    key.to_string()
}

fn string_list(value: Option<&serde_json::Value>, field: &str) -> Vec<String> {
    value
        .and_then(|v| v.get(field))
        .and_then(|v| v.as_array())
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn io_error(path: &Path, source: std::io::Error) -> JournalError {
    JournalError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// An open journal for one run, holding the run lock (`<journal>.lock`) while open.
#[derive(Debug)]
pub struct Journal {
    _lock: super::lock::RunLock,
    file: File,
    path: PathBuf,
    run_id: String,
    state: JournalState,
}

impl Journal {
    /// Takes the run lock, reads what is there, then opens for appending under a fresh run id.
    /// A second concurrent opener is refused (`JournalError::Lock`).
    pub fn open(path: &Path) -> Result<Journal, JournalError> {
        let lock = super::lock::acquire(path)?;
        let state = JournalState::load(path)?;
        drop_torn_tail(path)?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| io_error(path, e))?;
        Ok(Journal {
            _lock: lock,
            file,
            path: path.to_path_buf(),
            run_id: uuid::Uuid::new_v4().to_string(),
            state,
        })
    }

    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn state(&self) -> &JournalState {
        &self.state
    }

    /// A record for this run at `now`, to fill in and `append`.
    pub fn record(&self, event: Event) -> Record {
        Record {
            ts: chrono::Utc::now(),
            run_id: self.run_id.clone(),
            event,
            grant: None,
            provider: None,
            account: None,
            principal_unique_id: None,
            expires_at: None,
            marker_source: None,
            action: None,
            replaced: None,
            error: None,
        }
    }

    /// Writes one record and syncs it to disk before returning: a record written is a record
    /// that survives a crash.
    pub fn append(&mut self, record: &Record) -> Result<(), JournalError> {
        let mut line = serde_json::to_vec(record)
            .map_err(|e| io_error(&self.path, std::io::Error::other(e)))?;
        line.push(b'\n');
        self.file
            .write_all(&line)
            .and_then(|()| self.file.sync_data())
            .map_err(|e| io_error(&self.path, e))?;
        self.state.absorb(record);
        Ok(())
    }
}

/// A record cut short by a crash was never acknowledged (its fsync did not return): it is
/// removed, so the next record starts on a line of its own and every line parses. A last line
/// that is a whole record is kept.
fn drop_torn_tail(path: &Path) -> Result<(), JournalError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_error(path, e)),
    };
    if bytes.is_empty() || bytes.ends_with(b"\n") {
        return Ok(());
    }
    let keep = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    if serde_json::from_slice::<Record>(&bytes[keep..]).is_ok() {
        // A whole record whose newline was lost (an editor, a copy): kept, and ended.
        let mut file = OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|e| io_error(path, e))?;
        return file
            .write_all(b"\n")
            .and_then(|()| file.sync_data())
            .map_err(|e| io_error(path, e));
    }
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| io_error(path, e))?;
    file.set_len(keep as u64)
        .and_then(|()| file.sync_data())
        .map_err(|e| io_error(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done(journal: &Journal, user: &str, keys: &[&str]) -> Record {
        let mut record = journal.record(Event::Done);
        record.action = Some(Action::AwsDeactivateAccessKeys { user: user.into() });
        record.replaced = Some(serde_json::json!({ "deactivated_keys": keys }));
        record
    }

    #[test]
    fn interrupted_run_is_resumable_and_finished_run_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let mut journal = Journal::open(&path).unwrap();
        let record = done(&journal, "bob", &["AKIA1"]);
        journal.append(&record).unwrap();
        drop(journal);

        let state = JournalState::load(&path).unwrap();
        let action = Action::AwsDeactivateAccessKeys { user: "bob".into() };
        let key = action_key(Provider::Aws, None, None, &action);
        assert!(state.resumable.contains(&key));
        assert!(state.deactivated_keys.contains_key("AKIA1"));

        let mut journal = Journal::open(&path).unwrap();
        let finished = journal.record(Event::RunFinished);
        journal.append(&finished).unwrap();
        let state = JournalState::load(&path).unwrap();
        assert!(state.resumable.is_empty());
        assert!(state.done_at(&key).is_some(), "history is kept");
    }

    #[test]
    fn a_whole_last_line_without_its_newline_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let line = "{\"ts\":\"2025-01-01T00:00:00Z\",\"run_id\":\"a\",\"event\":\"run_started\"}";
        std::fs::write(&path, line).unwrap();
        let mut journal = Journal::open(&path).unwrap();
        assert_eq!(journal.state().records, 1);
        let record = journal.record(Event::RunFinished);
        journal.append(&record).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with(&format!("{line}\n")), "{text}");
        assert_eq!(JournalState::load(&path).unwrap().records, 2);
    }

    #[test]
    fn keys_differ_by_account_and_principal() {
        let action = Action::AwsDeactivateAccessKeys { user: "bob".into() };
        let a = action_key(Provider::Aws, Some("111111111111"), Some("AIDA1"), &action);
        let b = action_key(Provider::Aws, Some("222222222222"), Some("AIDA1"), &action);
        let c = action_key(Provider::Aws, Some("111111111111"), Some("AIDA2"), &action);
        assert!(a != b && a != c && b != c);
    }

    #[test]
    fn torn_last_line_is_ignored_and_repaired() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        std::fs::write(&path, "{\"ts\":\"2025-01-01T00:00:00Z\",\"run_id\":\"a\",\"event\":\"run_started\"}\n{\"ts\":").unwrap();
        let mut journal = Journal::open(&path).unwrap();
        assert_eq!(journal.state().records, 1);
        let record = journal.record(Event::RunFinished);
        journal.append(&record).unwrap();
        assert_eq!(JournalState::load(&path).unwrap().records, 2);
        std::fs::write(&path, "{}\n{\"ts\":1}\n").unwrap();
        let err = JournalState::load(&path).unwrap_err();
        assert!(err.to_string().contains(":1:"), "{err}");
    }
}
