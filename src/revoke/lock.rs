//! Revoke, run lock: one `revoke --apply` at a time per journal, through an OS file lock on
//! `<journal>.lock` (released by the OS when the process ends, even when it is killed).

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "{}: another `lapse revoke --apply` is running on this journal; wait for it to finish",
        path.display()
    )]
    Held { path: PathBuf },
    #[error("{}: cannot take the revoke lock: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Held for the whole apply; dropping it releases the lock.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
    pub path: PathBuf,
}

/// The lock file that guards `journal`, beside its canonical path: a symlink or another
/// spelling of the same journal takes the same lock.
pub fn lock_path(journal: &Path) -> PathBuf {
    let mut name = canonical(journal).into_os_string();
    name.push(".lock");
    PathBuf::from(name)
}

/// The journal's canonical path; for a journal not written yet, its folder's canonical path
/// joined with its name.
fn canonical(journal: &Path) -> PathBuf {
    if let Ok(path) = std::fs::canonicalize(journal) {
        return path;
    }
    let parent = match journal.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    match (std::fs::canonicalize(parent), journal.file_name()) {
        (Ok(dir), Some(name)) => dir.join(name),
        _ => journal.to_path_buf(),
    }
}

/// Takes the lock without waiting: a second concurrent run is refused, not queued.
pub fn acquire(journal: &Path) -> Result<RunLock, LockError> {
    let path = lock_path(journal);
    let io = |source| LockError::Io {
        path: path.clone(),
        source,
    };
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io)?;
    match file.try_lock() {
        Ok(()) => Ok(RunLock { _file: file, path }),
        Err(TryLockError::WouldBlock) => Err(LockError::Held { path }),
        Err(TryLockError::Error(source)) => Err(io(source)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("j.jsonl");
        let first = acquire(&journal).unwrap();
        assert!(matches!(acquire(&journal), Err(LockError::Held { .. })));
        drop(first);
        assert!(acquire(&journal).is_ok());
    }

    #[test]
    fn a_symlinked_journal_takes_the_same_lock() {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("j.jsonl");
        std::fs::write(&journal, "").unwrap();
        let link = dir.path().join("link.jsonl");
        std::os::unix::fs::symlink(&journal, &link).unwrap();
        let _first = acquire(&journal).unwrap();
        assert!(matches!(acquire(&link), Err(LockError::Held { .. })));
    }
}
