//! Collect, repository: secrets in git history (`--git-history`). Every commit reachable from
//! HEAD (bounded by `--git-since` or `--git-depth`), oldest first, in one `git log --raw`; each
//! blob it adds or changes is read once through one `git cat-file --batch` and scanned. A secret
//! is reported once, at the commit and file that introduced it, and marked as still in HEAD when
//! the checkout's own scan found the same value.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::Stdio;

use super::secrets::{Hit, Scanner};
use super::tracked::git;

/// How far back to read.
#[derive(Debug, Clone, Default)]
pub struct HistoryBound {
    /// `--git-since`: commits at or after this date (anything `git log --since` accepts).
    pub since: Option<String>,
    /// `--git-depth`: at most this many commits, counted back from HEAD.
    pub depth: Option<u64>,
}

/// A secret first seen in history.
#[derive(Debug, Clone)]
pub struct HistoryHit {
    pub hit: Hit,
    pub commit: String,
    pub path: String,
}

/// What a history scan read and found.
#[derive(Debug, Default)]
pub struct HistoryScan {
    pub hits: Vec<HistoryHit>,
    pub commits: u64,
    pub blobs: u64,
    pub bytes: u64,
    pub skipped_binary: u64,
    pub skipped_large: u64,
    /// Blobs named by history but absent from the object store.
    pub missing: u64,
}

/// A blob to read and the first commit and path that brought it in.
struct Blob {
    id: String,
    commit: String,
    path: String,
}

pub fn scan(
    root: &Path,
    bound: &HistoryBound,
    scanner: &Scanner,
    max_bytes: u64,
) -> Result<HistoryScan, String> {
    let (blobs, commits) = blobs_of_history(root, bound)?;
    let mut out = HistoryScan {
        commits,
        ..HistoryScan::default()
    };
    // Oldest first: the first blob holding a value is the one that introduced it.
    let mut seen: HashSet<u64> = HashSet::new();
    let mut hits = Vec::new();
    read_blobs(root, &blobs, max_bytes, &mut out, &mut |blob, text| {
        for hit in scanner.scan(text) {
            if seen.insert(hit.identity) {
                hits.push(HistoryHit {
                    hit,
                    commit: blob.commit.clone(),
                    path: blob.path.clone(),
                });
            }
        }
    })?;
    out.hits = hits;
    Ok(out)
}

/// Blobs added or modified by each commit, oldest commit first, each blob once.
fn blobs_of_history(root: &Path, bound: &HistoryBound) -> Result<(Vec<Blob>, u64), String> {
    let mut cmd = git(root);
    cmd.args([
        "-c",
        "core.quotePath=false",
        "log",
        "--reverse",
        "--topo-order",
        "--format=commit %H",
        "--raw",
        "--no-renames",
        "--no-abbrev",
        "--diff-filter=AM",
        "-z",
    ]);
    if let Some(since) = &bound.since {
        cmd.arg(format!("--since={since}"));
    }
    if let Some(depth) = bound.depth {
        cmd.arg(format!("--max-count={depth}"));
    }
    cmd.arg("HEAD");
    let out = cmd.output().map_err(|e| format!("git log: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "git log: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    // With -z: `commit <sha>\n` headers; raw entries `:<modes> <old> <new> <status>\0<path>\0`.
    let mut blobs = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut commit = String::new();
    let mut commits = 0;
    let mut fields = out.stdout.split(|&b| b == 0).peekable();
    while let Some(field) = fields.next() {
        let text = String::from_utf8_lossy(field);
        let text = text.trim_start_matches('\n');
        if let Some(sha) = text.strip_prefix("commit ") {
            commit = sha.trim().to_string();
            commits += 1;
            continue;
        }
        let entry = text;
        if !entry.starts_with(':') {
            continue;
        }
        let parts: Vec<&str> = entry.split_whitespace().collect();
        let Some(path) = fields.next() else { break };
        // `:100644 100644 <old> <new> M`; a gitlink (mode 160000) is a submodule commit.
        if parts.len() >= 4 && !parts[1].starts_with("160") && seen.insert(parts[3].to_string()) {
            blobs.push(Blob {
                id: parts[3].to_string(),
                commit: commit.clone(),
                path: String::from_utf8_lossy(path).into_owned(),
            });
        }
    }
    Ok((blobs, commits))
}

/// Hands the text of each blob (binary and oversized ones counted, not read) to `each`, in
/// order, through one `cat-file --batch`, one blob in memory at a time.
fn read_blobs(
    root: &Path,
    blobs: &[Blob],
    max_bytes: u64,
    out: &mut HistoryScan,
    each: &mut dyn FnMut(&Blob, &str),
) -> Result<(), String> {
    let mut child = git(root)
        .args(["cat-file", "--batch"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("git cat-file: {e}"))?;
    let mut stdin = child.stdin.take().ok_or("git cat-file: no stdin")?;
    let ids: Vec<String> = blobs.iter().map(|b| b.id.clone()).collect();
    // Written from a thread so a full pipe on either side never blocks the other.
    let writer = std::thread::spawn(move || {
        for id in ids {
            if writeln!(stdin, "{id}").is_err() {
                break;
            }
        }
    });
    let stdout = child.stdout.take().ok_or("git cat-file: no stdout")?;
    let mut reader = BufReader::with_capacity(1 << 20, stdout);
    let mut header = String::new();
    for blob in blobs {
        header.clear();
        reader
            .read_line(&mut header)
            .map_err(|e| format!("git cat-file: {e}"))?;
        let parts: Vec<&str> = header.split_whitespace().collect();
        let size: u64 = match parts.as_slice() {
            [_, "blob", size] => size.parse().map_err(|_| "git cat-file: bad size")?,
            // `<id> missing`: a blob the history names but the object store lacks (a
            // shallow or partial clone).
            _ => {
                out.missing += 1;
                continue;
            }
        };
        let mut body = vec![0u8; size as usize];
        reader
            .read_exact(&mut body)
            .map_err(|e| format!("git cat-file: {e}"))?;
        let mut newline = [0u8; 1];
        reader
            .read_exact(&mut newline)
            .map_err(|e| format!("git cat-file: {e}"))?;
        out.blobs += 1;
        if size > max_bytes {
            out.skipped_large += 1;
        } else if body.iter().take(8000).any(|&b| b == 0) {
            out.skipped_binary += 1;
        } else {
            out.bytes += size;
            each(blob, &String::from_utf8_lossy(&body));
        }
    }
    let _ = writer.join();
    let _ = child.wait();
    Ok(())
}
