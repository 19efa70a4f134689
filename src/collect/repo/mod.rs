//! Collect, repository: scans a local checkout with no network. Reads every workflow under
//! `.github/workflows/` into a `WorkflowDoc` and finds hard-coded secrets in the files git
//! tracks (its index decides, `tracked`; binaries skipped), in parallel over files.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use rayon::prelude::*;

use crate::inventory::{
    CoverageGap, Credential, Inventory, LastUsed, Location, Principal, Provider, SourceRun,
};

pub mod catalogue;
pub mod history;
pub mod remote;
pub mod secrets;
pub mod tracked;
pub mod workflow;
pub mod yaml;

pub use workflow::{WORKFLOW_ATTRIBUTE, WorkflowDoc};

/// Attribute of a leaked AWS key id's credential (and of the IAM key listed under the same id):
/// SHA-256 of the id, the offline join between the two.
pub const KEY_ID_SHA256: &str = "key_id_sha256";

/// Files larger than this are skipped (generated data, vendored archives) and counted.
pub const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error("{}: not a directory", crate::input::shown(path))]
    NotADirectory { path: PathBuf },
    #[error(transparent)]
    Secrets(#[from] catalogue::CatalogueError),
    #[error("the built-in secret catalogue does not load")]
    BuiltinSecrets,
    #[error("{}: {source}", crate::input::shown(path))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What one file yielded.
enum FileResult {
    Secrets {
        path: String,
        hits: Vec<secrets::Hit>,
    },
    /// A workflow is both read and scanned for secrets.
    Workflow {
        doc: Box<WorkflowDoc>,
        hits: Vec<secrets::Hit>,
    },
    Unreadable {
        path: String,
        reason: String,
    },
}

#[derive(Default)]
struct Counters {
    files: AtomicU64,
    bytes: AtomicU64,
    binary: AtomicU64,
    large: AtomicU64,
    /// Tracked but absent from the work tree.
    missing: AtomicU64,
    /// Tracked symlinks and submodules.
    not_file: AtomicU64,
}

/// What a repository scan reads beyond the tracked files.
#[derive(Debug, Clone, Default)]
pub struct RepoOptions {
    /// Also scan untracked files that no ignore rule excludes (`--untracked`).
    pub untracked: bool,
    /// Folders of the user's own secret patterns (`--secrets DIR`, `[repo] secrets`).
    pub secret_dirs: Vec<PathBuf>,
    /// Also scan git history (`--git-history`), this far back.
    pub history: Option<history::HistoryBound>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRepoTable {
    secrets: Option<Vec<PathBuf>>,
    untracked: Option<bool>,
}

impl RepoOptions {
    /// Flags plus `[repo]` of lapse.toml; `[repo] secrets` folders are relative to lapse.toml.
    pub fn from_args(
        args: &crate::cli::SourceArgs,
        table: Option<&crate::config::ProviderTable>,
    ) -> Result<RepoOptions, crate::config::ConfigError> {
        let raw: RawRepoTable = table.map(|t| t.read()).transpose()?.unwrap_or_default();
        let base = table
            .and_then(|t| t.path().parent())
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let mut secret_dirs: Vec<PathBuf> = raw
            .secrets
            .unwrap_or_default()
            .into_iter()
            .map(|dir| base.join(dir))
            .collect();
        secret_dirs.extend(args.secrets.iter().cloned());
        let history = args.git_history.then(|| history::HistoryBound {
            since: args.git_since.clone(),
            depth: args.git_depth,
        });
        Ok(RepoOptions {
            untracked: args.untracked || raw.untracked.unwrap_or(false),
            secret_dirs,
            history,
        })
    }
}

/// Scans the checkout at `path` with the default options.
pub fn collect(path: &Path) -> Result<Inventory, RepoError> {
    collect_with(path, &RepoOptions::default())
}

/// Scans the checkout at `path`. Unreadable files become coverage gaps; only a missing root
/// is an error.
pub fn collect_with(path: &Path, options: &RepoOptions) -> Result<Inventory, RepoError> {
    scan(path, options).map(|scan| scan.inventory)
}

/// What a repository scan yields: the inventory, and the AWS access key ids it found (in
/// memory only), which a live AWS scan of their accounts resolves.
#[derive(Debug)]
pub struct RepoScan {
    pub inventory: Inventory,
    /// Each id once, in order of first sighting (HEAD, then history).
    pub leaked_aws_keys: Vec<secrets::AwsKeyId>,
}

/// As [`collect_with`], keeping the AWS key ids found.
pub fn scan(path: &Path, options: &RepoOptions) -> Result<RepoScan, RepoError> {
    let root = path.canonicalize().map_err(|source| RepoError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if !root.is_dir() {
        return Err(RepoError::NotADirectory {
            path: path.to_path_buf(),
        });
    }
    let started_at = chrono::Utc::now();
    let clock = Instant::now();
    let custom;
    let scanner = if options.secret_dirs.is_empty() {
        secrets::Scanner::builtin().ok_or(RepoError::BuiltinSecrets)?
    } else {
        custom = secrets::Scanner::new(catalogue::Catalogue::load(&options.secret_dirs)?)?;
        &custom
    };
    let counters = Counters::default();
    let set = tracked::list(&root, options.untracked);
    let mut results: Vec<FileResult> = set
        .files
        .par_iter()
        .filter_map(|relative| scan_file(&root, relative, scanner, &counters))
        .collect();
    results.extend(
        set.unreadable
            .iter()
            .map(|(path, reason)| FileResult::Unreadable {
                path: path.clone(),
                reason: reason.clone(),
            }),
    );
    results.sort_by(|a, b| result_path(a).cmp(result_path(b)));

    let name = repository_name(&root);
    let mut inventory = Inventory::new(started_at);
    inventory
        .principals
        .push(repository_principal(&name, &root));
    if let Some(reason) = &set.git_error {
        inventory.coverage_gaps.push(CoverageGap {
            source: "repo".into(),
            scope: name.clone(),
            what: "git index".into(),
            reason: format!("{reason}; every file under the folder was read instead"),
            request: None,
        });
    }
    let mut leaked_aws_keys: Vec<secrets::AwsKeyId> = results
        .iter()
        .flat_map(|result| match result {
            FileResult::Secrets { hits, .. } | FileResult::Workflow { hits, .. } => hits.as_slice(),
            FileResult::Unreadable { .. } => &[],
        })
        .filter_map(|hit| hit.aws_key_id.clone())
        .collect();
    // Secret identity → index of its credential, to join history with HEAD.
    let mut in_head: HashMap<u64, usize> = HashMap::new();
    for result in results {
        add_result(&mut inventory, &name, result, &mut in_head);
    }
    let mut run = source_run(&name, started_at, clock, &counters);
    run.attributes
        .insert("tracked_from".into(), set.from.as_str().into());
    if let Some(bound) = &options.history {
        leaked_aws_keys.extend(add_history(
            &mut inventory,
            &name,
            &root,
            bound,
            scanner,
            &in_head,
            &mut run,
        ));
    }
    inventory.sources.push(run);
    let mut seen = std::collections::HashSet::new();
    leaked_aws_keys.retain(|key| seen.insert(key.clone()));
    Ok(RepoScan {
        inventory,
        leaked_aws_keys,
    })
}

/// The nearest enclosing git checkout of `start` (the folder holding `.git`), for a plain
/// `lapse scan` with no provider configured.
pub fn find_checkout(start: &Path) -> Option<PathBuf> {
    let start = start.canonicalize().ok()?;
    start
        .ancestors()
        .find(|dir| dir.join(".git").exists())
        .map(Path::to_path_buf)
}

fn scan_file(
    root: &Path,
    relative: &str,
    scanner: &secrets::Scanner,
    counters: &Counters,
) -> Option<FileResult> {
    let path = root.join(relative);
    // Only regular files: a tracked symlink may point outside the checkout, a submodule is a
    // folder, and a tracked file deleted from the work tree is not there to read.
    let meta = match std::fs::symlink_metadata(&path) {
        Ok(meta) => meta,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            counters.missing.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        Err(err) => {
            return Some(FileResult::Unreadable {
                path: relative.to_string(),
                reason: err.to_string(),
            });
        }
    };
    if !meta.is_file() {
        counters.not_file.fetch_add(1, Ordering::Relaxed);
        return None;
    }
    let relative = relative.to_string();
    if meta.len() > MAX_FILE_BYTES {
        counters.large.fetch_add(1, Ordering::Relaxed);
        return None;
    }
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(err) => {
            return Some(FileResult::Unreadable {
                path: relative,
                reason: err.to_string(),
            });
        }
    };
    // Git's own test: a NUL byte in the first 8000 bytes makes a file binary.
    if bytes.iter().take(8000).any(|&b| b == 0) {
        counters.binary.fetch_add(1, Ordering::Relaxed);
        return None;
    }
    counters.files.fetch_add(1, Ordering::Relaxed);
    counters
        .bytes
        .fetch_add(bytes.len() as u64, Ordering::Relaxed);
    let text = String::from_utf8_lossy(&bytes);
    if is_workflow(&relative) {
        let doc = Box::new(workflow::read(&relative, &text));
        return Some(FileResult::Workflow {
            doc,
            hits: scanner.scan(&text),
        });
    }
    let hits = scanner.scan(&text);
    (!hits.is_empty()).then_some(FileResult::Secrets {
        path: relative,
        hits,
    })
}

pub fn is_workflow(relative: &str) -> bool {
    relative.starts_with(".github/workflows/")
        && (relative.ends_with(".yml") || relative.ends_with(".yaml"))
}

pub(crate) fn relative_path(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

fn result_path(result: &FileResult) -> &str {
    match result {
        FileResult::Secrets { path, .. } | FileResult::Unreadable { path, .. } => path,
        FileResult::Workflow { doc, .. } => &doc.path,
    }
}

/// `owner/name` from the `origin` remote (userinfo stripped), else the folder's name: stable
/// across machines, so fingerprints match between a laptop and CI.
fn repository_name(root: &Path) -> String {
    let from_remote = remote::origin_url(root).and_then(|url| remote::owner_name(&url));
    from_remote.unwrap_or_else(|| {
        root.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "repo".into())
    })
}

fn repository_principal(name: &str, root: &Path) -> Principal {
    Principal {
        provider: Provider::Repo,
        kind: "repository".into(),
        id: format!("repo:{name}"),
        name: name.to_string(),
        scope: name.to_string(),
        path: Some(root.display().to_string()),
        created_at: None,
        last_used: LastUsed::Unknown,
        tags: BTreeMap::new(),
        description: None,
        attributes: BTreeMap::new(),
    }
}

/// The inventory form of a workflow: a `workflow` principal carrying its `WorkflowDoc`.
pub fn workflow_principal(provider: Provider, repo: &str, doc: &WorkflowDoc) -> Principal {
    let prefix = match provider {
        Provider::Github => "github:repo",
        _ => "repo:",
    };
    let sep = if prefix.ends_with(':') { "" } else { "/" };
    let mut attributes = BTreeMap::new();
    attributes.insert(
        WORKFLOW_ATTRIBUTE.to_string(),
        serde_json::to_value(doc).unwrap_or(serde_json::Value::Null),
    );
    Principal {
        provider,
        kind: "workflow".into(),
        id: format!("{prefix}{sep}{repo}/{}", doc.path),
        name: doc.path.clone(),
        scope: repo.to_string(),
        path: None,
        created_at: None,
        last_used: LastUsed::Unknown,
        tags: BTreeMap::new(),
        description: doc.name.clone(),
        attributes,
    }
}

fn add_result(
    inventory: &mut Inventory,
    repo: &str,
    result: FileResult,
    in_head: &mut HashMap<u64, usize>,
) {
    match result {
        FileResult::Secrets { path, hits } => add_hits(inventory, repo, &path, hits, in_head),
        FileResult::Workflow { doc, hits } => {
            add_hits(inventory, repo, &doc.path, hits, in_head);
            if let Some(reason) = &doc.unreadable {
                inventory.coverage_gaps.push(CoverageGap {
                    source: "repo".into(),
                    scope: repo.to_string(),
                    what: format!("workflow {}", doc.path),
                    reason: format!("could not read as a workflow: {reason}"),
                    request: None,
                });
            }
            inventory
                .principals
                .push(workflow_principal(Provider::Repo, repo, &doc));
        }
        FileResult::Unreadable { path, reason } => inventory.coverage_gaps.push(CoverageGap {
            source: "repo".into(),
            scope: repo.to_string(),
            what: if path.is_empty() {
                "a folder".into()
            } else {
                format!("file {path}")
            },
            reason,
            request: None,
        }),
    }
}

fn add_hits(
    inventory: &mut Inventory,
    repo: &str,
    path: &str,
    hits: Vec<secrets::Hit>,
    in_head: &mut HashMap<u64, usize>,
) {
    for hit in hits {
        in_head
            .entry(hit.identity)
            .or_insert(inventory.credentials.len());
        inventory
            .credentials
            .push(hit_credential(repo, path, None, hit));
    }
}

/// Reads history and joins it with HEAD: a secret still in HEAD gets the commit that
/// introduced it; one no longer there becomes a finding of its own at that commit. Returns
/// the AWS key ids found in history.
fn add_history(
    inventory: &mut Inventory,
    repo: &str,
    root: &Path,
    bound: &history::HistoryBound,
    scanner: &secrets::Scanner,
    in_head: &HashMap<u64, usize>,
    run: &mut SourceRun,
) -> Vec<secrets::AwsKeyId> {
    let scan = match history::scan(root, bound, scanner, MAX_FILE_BYTES) {
        Ok(scan) => scan,
        Err(reason) => {
            inventory.coverage_gaps.push(CoverageGap {
                source: "repo".into(),
                scope: repo.to_string(),
                what: "git history".into(),
                reason,
                request: None,
            });
            return Vec::new();
        }
    };
    let leaked = scan
        .hits
        .iter()
        .filter_map(|found| found.hit.aws_key_id.clone())
        .collect();
    for credential in &mut inventory.credentials {
        credential
            .attributes
            .insert("in_head".into(), serde_json::Value::Bool(true));
    }
    for found in scan.hits {
        match in_head.get(&found.hit.identity) {
            Some(&index) => {
                inventory.credentials[index]
                    .attributes
                    .insert("introduced_in".into(), found.commit.into());
            }
            None => {
                let commit = found.commit.clone();
                let mut credential = hit_credential(repo, &found.path, Some(&commit), found.hit);
                credential
                    .attributes
                    .insert("in_head".into(), serde_json::Value::Bool(false));
                credential
                    .attributes
                    .insert("introduced_in".into(), commit.into());
                inventory.credentials.push(credential);
            }
        }
    }
    for (key, value) in [
        ("history_commits", scan.commits),
        ("history_blobs", scan.blobs),
        ("history_bytes", scan.bytes),
        ("history_blobs_binary", scan.skipped_binary),
        ("history_blobs_large", scan.skipped_large),
        ("history_blobs_missing", scan.missing),
    ] {
        run.attributes.insert(key.into(), value.into());
    }
    leaked
}

/// The inventory form of a secret found in `path` (at `commit`, for one only in history).
fn hit_credential(repo: &str, path: &str, commit: Option<&str>, hit: secrets::Hit) -> Credential {
    {
        let mut attributes = BTreeMap::new();
        attributes.insert("secret_type".to_string(), hit.kind.to_string().into());
        if hit.generic {
            attributes.insert("generic".to_string(), true.into());
        }
        if let Some(account) = &hit.aws_account {
            attributes.insert("aws_account".to_string(), account.clone().into());
        }
        if let Some(key) = &hit.aws_key_id {
            attributes.insert(KEY_ID_SHA256.to_string(), key.digest().into());
        }
        let at = commit
            .map(|c| format!("@{}", &c[..c.len().min(12)]))
            .unwrap_or_default();
        Credential {
            provider: Provider::Repo,
            kind: "hardcoded_secret".into(),
            id: format!("repo:{repo}/{path}{at}:{}:{}", hit.line, hit.kind),
            name: format!("{} in {path}", hit.kind),
            principal_id: Some(format!("repo:{repo}")),
            scope: repo.to_string(),
            active: true,
            created_at: None,
            rotated_at: None,
            expires_at: None,
            last_used: LastUsed::Unknown,
            hint: hit.hint.filter(|h| !h.is_empty()),
            location: Some(Location {
                path: path.to_string(),
                line: Some(hit.line),
                column: Some(hit.column),
            }),
            attributes,
        }
    }
}

fn source_run(
    repo: &str,
    started_at: chrono::DateTime<chrono::Utc>,
    clock: Instant,
    counters: &Counters,
) -> SourceRun {
    let elapsed = clock.elapsed();
    let bytes = counters.bytes.load(Ordering::Relaxed);
    let mb_per_s = bytes as f64 / 1_000_000.0 / elapsed.as_secs_f64().max(1e-6);
    let mut attributes = BTreeMap::new();
    attributes.insert(
        "files_scanned".into(),
        counters.files.load(Ordering::Relaxed).into(),
    );
    attributes.insert("bytes_scanned".into(), bytes.into());
    attributes.insert(
        "files_skipped_binary".into(),
        counters.binary.load(Ordering::Relaxed).into(),
    );
    attributes.insert(
        "files_skipped_large".into(),
        counters.large.load(Ordering::Relaxed).into(),
    );
    attributes.insert(
        "files_missing".into(),
        counters.missing.load(Ordering::Relaxed).into(),
    );
    attributes.insert(
        "files_not_regular".into(),
        counters.not_file.load(Ordering::Relaxed).into(),
    );
    attributes.insert("mb_per_s".into(), ((mb_per_s * 10.0).round() / 10.0).into());
    SourceRun {
        source: "repo".into(),
        scope: repo.to_string(),
        started_at,
        duration_ms: elapsed.as_millis() as u64,
        api_calls: BTreeMap::new(),
        attributes,
    }
}
