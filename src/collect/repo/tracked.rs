//! Collect, repository: which files a scan reads. Git's index decides (`git ls-files -z`), never
//! ignore files: a tracked file listed in `.gitignore`, in a `.ignore` of the checkout or of a
//! parent folder, or in the user's global excludes is still in every clone, so it is scanned.
//! Untracked files are added only when asked. A folder that is not a git checkout is read whole.

use std::path::{Path, PathBuf};
use std::process::Command;

/// How the set of files was decided, for the scan's attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackedFrom {
    /// `git ls-files` of the checkout's index.
    GitIndex,
    /// Not a git checkout: every file under the folder.
    Filesystem,
}

impl TrackedFrom {
    pub fn as_str(self) -> &'static str {
        match self {
            TrackedFrom::GitIndex => "git-index",
            TrackedFrom::Filesystem => "filesystem",
        }
    }
}

/// The files to scan, relative to `root` with `/` separators, sorted.
pub struct FileSet {
    pub files: Vec<String>,
    pub from: TrackedFrom,
    /// Why git could not be asked although the folder looks like a checkout.
    pub git_error: Option<String>,
    /// Folders or entries that could not be listed: (relative path, reason).
    pub unreadable: Vec<(String, String)>,
}

/// Lists the files of `root`: from git's index when `root` is inside a checkout, with untracked
/// (not ignored) files too when `untracked` is set.
pub fn list(root: &Path, untracked: bool) -> FileSet {
    let in_checkout = root.ancestors().any(|dir| dir.join(".git").exists());
    if in_checkout {
        match git_files(root, untracked) {
            Ok(files) => {
                return FileSet {
                    files,
                    from: TrackedFrom::GitIndex,
                    git_error: None,
                    unreadable: Vec::new(),
                };
            }
            Err(reason) => {
                let mut set = walk_all(root);
                set.git_error = Some(reason);
                return set;
            }
        }
    }
    walk_all(root)
}

/// A git command that a checkout's own config cannot turn into code execution
/// (`core.fsmonitor` runs a program) and that does not refuse a checkout owned by another user.
pub fn git(root: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.arg("-C")
        .arg(root)
        .args(["-c", "core.fsmonitor=false", "-c", "safe.directory=*"])
        .env("GIT_TERMINAL_PROMPT", "0")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE");
    cmd
}

fn git_files(root: &Path, untracked: bool) -> Result<Vec<String>, String> {
    let mut cmd = git(root);
    cmd.args(["ls-files", "-z", "--cached"]);
    if untracked {
        cmd.args(["--others", "--exclude-standard"]);
    }
    let out = cmd.output().map_err(|e| format!("git ls-files: {e}"))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(format!("git ls-files: {}", stderr.trim()));
    }
    let mut files: Vec<String> = out
        .stdout
        .split(|&b| b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    // A file both staged for deletion and present again, or listed by both modes.
    files.sort();
    files.dedup();
    Ok(files)
}

/// Every regular file under `root` except `.git`, with no ignore rule applied.
fn walk_all(root: &Path) -> FileSet {
    let mut files = Vec::new();
    let mut unreadable = Vec::new();
    let mut stack: Vec<PathBuf> = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(err) => {
                unreadable.push((super::relative_path(root, &dir), err.to_string()));
                continue;
            }
        };
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(err) => {
                    unreadable.push((super::relative_path(root, &dir), err.to_string()));
                    continue;
                }
            };
            let kind = match entry.file_type() {
                Ok(kind) => kind,
                Err(err) => {
                    unreadable.push((super::relative_path(root, &entry.path()), err.to_string()));
                    continue;
                }
            };
            if kind.is_dir() && entry.file_name() != ".git" {
                stack.push(entry.path());
            } else if kind.is_file() {
                files.push(super::relative_path(root, &entry.path()));
            }
        }
    }
    files.sort();
    FileSet {
        files,
        from: TrackedFrom::Filesystem,
        git_error: None,
        unreadable,
    }
}
