//! Grant, GitHub: a deploy key added for the TTL. Its title carries the marker
//! (`[lapse:expires-at=…]`) and the ledger a `deploy_key` line, so `revoke` removes it either
//! way. The repository must exist. The ledger is the source of truth: when the repository
//! already holds the same key, the grant extends it if the ledger shows lapse issued that key
//! (same repository and key id), with a new ledger line and no call to GitHub, which cannot
//! edit a key's title (the title keeps its first marker; the latest ledger line wins in
//! `revoke` and `scan`). A key with no ledger line is standing access and is refused: `revoke`
//! would later remove it.
//!
//! Order on apply: the key id exists only once GitHub has added the key, so the POST comes
//! first and the ledger line after; if the line cannot be written the key is deleted again. A
//! crash between the two still leaves the marker in the title, which `revoke` reads.

use serde::Deserialize;

use super::{Common, Refused, record, text};
use crate::analyze::expiry::LedgerIndex;
use crate::cli::GrantArgs;
use crate::collect::github::GithubOptions;
use crate::exit::Code;
use crate::inventory::{LedgerEntry, Provider, Timestamp};
use crate::render::terminal::clean;
use crate::revoke::journal::Event;
use crate::revoke::{Action, Journal};

/// Key types GitHub accepts for deploy keys (public halves only).
const KEY_TYPES: [&str; 6] = [
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
];

/// A validated deploy-key grant.
#[derive(Debug, Clone)]
pub struct DeployKeyRequest {
    pub common: Common,
    pub owner: String,
    pub repo: String,
    /// `TYPE BASE64` (a trailing comment is dropped: it is not part of the key).
    pub public_key: String,
    pub title: String,
    pub write: bool,
}

impl DeployKeyRequest {
    pub fn validate(args: &GrantArgs, repo: &str, common: Common) -> Result<Self, Refused> {
        let segments = crate::revoke::target::split(repo, &[2], "OWNER/NAME").map_err(Refused)?;
        let path = args
            .public_key
            .as_deref()
            .ok_or_else(|| Refused("--deploy-key-repo needs --public-key FILE".into()))?;
        let raw = std::fs::read_to_string(path)
            .map_err(|e| Refused(format!("{}: {e}", path.display())))?;
        if raw.contains("PRIVATE KEY") {
            return Err(Refused(format!(
                "{} holds a private key: give the public half (.pub)",
                path.display()
            )));
        }
        let mut fields = raw.split_whitespace();
        let (Some(kind), Some(body)) = (fields.next(), fields.next()) else {
            return Err(Refused(format!(
                "{} is not an SSH public key",
                path.display()
            )));
        };
        if !KEY_TYPES.contains(&kind)
            || !body
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
        {
            return Err(Refused(format!(
                "{} is not an SSH public key",
                path.display()
            )));
        }
        let title = text("--title", args.title.as_deref().unwrap_or_default())?;
        if title
            .to_ascii_lowercase()
            .contains(crate::analyze::expiry::EXPIRES_AT)
        {
            return Err(Refused(
                "--title must not carry a marker: lapse adds [lapse:expires-at=…] itself".into(),
            ));
        }
        Ok(DeployKeyRequest {
            common,
            owner: segments[0].to_string(),
            repo: segments[1].to_string(),
            public_key: format!("{kind} {body}"),
            title,
            write: args.write,
        })
    }

    fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.repo)
    }

    /// The title GitHub stores: the caller's, with the expiry marker.
    pub fn marked_title(&self) -> String {
        format!(
            "{} [{}={}]",
            self.title,
            crate::analyze::expiry::EXPIRES_AT,
            self.common
                .expires_at()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )
    }

    fn ledger_entry(&self, key_id: u64) -> LedgerEntry {
        let target = format!("{}/{key_id}", self.full_name());
        let mut entry = LedgerEntry::new(
            Provider::Github,
            "deploy_key",
            &target,
            self.common.expires_at(),
        );
        entry.account = Some(self.owner.clone());
        entry.principal_unique_id = Some(key_id.to_string());
        self.common.stamp(&mut entry);
        entry
    }

    fn call(&self) -> String {
        format!(
            "POST /repos/{}/keys title={:?} read_only={}",
            self.full_name(),
            self.marked_title(),
            !self.write
        )
    }
}

#[derive(Debug, Deserialize)]
struct Key {
    id: u64,
    #[serde(default)]
    key: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    read_only: Option<bool>,
}

/// REST calls of a grant. The token never appears in output or errors.
struct Client {
    http: reqwest::Client,
    api: String,
    token: String,
}

impl Client {
    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.api))
            .bearer_auth(&self.token)
            // GitHub serves its JSON for either; a strict OpenAPI mock only for the second.
            .header("Accept", "application/vnd.github+json, application/json")
            .header("X-GitHub-Api-Version", "2022-11-28")
            .header("User-Agent", concat!("lapse/", env!("CARGO_PKG_VERSION")))
    }

    async fn get(&self, path: &str) -> Result<reqwest::Response, Refused> {
        self.request(reqwest::Method::GET, path)
            .send()
            .await
            .map_err(|e| Refused(format!("GET {path}: {}", e.without_url())))
    }
}

/// `/repos/OWNER/NAME`, each segment percent-encoded (both were checked at validation).
fn repo_path(request: &DeployKeyRequest) -> Result<String, Refused> {
    use crate::revoke::github::segment;
    let encode = |s: &str| segment(s).map_err(|e| Refused(e.message));
    Ok(format!(
        "/repos/{}/{}",
        encode(&request.owner)?,
        encode(&request.repo)?
    ))
}

/// The repository must exist; returns the key it already holds with this public key, if any.
async fn inspect(client: &Client, request: &DeployKeyRequest) -> Result<Option<Key>, Refused> {
    let repo = repo_path(request)?;
    let response = client.get(&repo).await?;
    match response.status().as_u16() {
        200 => {}
        404 => {
            return Err(Refused(format!(
                "{} does not exist (or the token cannot see it)",
                request.full_name()
            )));
        }
        status => return Err(Refused(format!("GET {repo}: HTTP {status}"))),
    }
    for page in 1..=10 {
        let path = format!("{repo}/keys?per_page=100&page={page}");
        let response = client.get(&path).await?;
        if !response.status().is_success() {
            return Err(Refused(format!("GET {path}: HTTP {}", response.status())));
        }
        let keys: Vec<Key> = response
            .json()
            .await
            .map_err(|e| Refused(format!("GET {path}: {}", e.without_url())))?;
        let full = keys.len() == 100;
        if let Some(key) = keys
            .into_iter()
            .find(|k| same_key(&k.key, &request.public_key))
        {
            return Ok(Some(key));
        }
        if !full {
            break;
        }
    }
    Ok(None)
}

/// What `--apply` does with a deploy key.
enum Decision {
    /// POST the key, then record it.
    Issue,
    /// The repository holds the key lapse issued (its latest ledger line): a new line moves
    /// its expiry, no call to GitHub.
    Extend { key: Key, previous: Timestamp },
}

/// Extends the key the repository holds when the ledger shows lapse issued it; refuses it as
/// standing access otherwise, and refuses to turn a read-only key into a read-write one.
fn decide(
    request: &DeployKeyRequest,
    held: Option<Key>,
    ledger: &[LedgerEntry],
) -> Result<Decision, Refused> {
    let Some(key) = held else {
        return Ok(Decision::Issue);
    };
    let target = request.ledger_entry(key.id).target;
    let Some(line) = LedgerIndex::new(ledger).line(Provider::Github, "deploy_key", &target) else {
        return Err(Refused(format!(
            "{} already holds this deploy key (id {}) and the ledger has no line for it: that \
             is standing access, and a provisional grant of it would make `lapse revoke` remove \
             it later",
            request.full_name(),
            key.id
        )));
    };
    if key
        .read_only
        .is_some_and(|read_only| read_only == request.write)
    {
        return Err(Refused(format!(
            "deploy key {} of {} is {}: extending it cannot change that (revoke it, then grant \
             again)",
            key.id,
            request.full_name(),
            if request.write {
                "read-only"
            } else {
                "read-write"
            }
        )));
    }
    Ok(Decision::Extend {
        previous: line.expires_at,
        key,
    })
}

fn same_key(a: &str, b: &str) -> bool {
    let fields = |k: &str| k.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
    fields(a) == fields(b)
}

pub async fn run(
    args: &GrantArgs,
    config: &crate::config::Config,
    request: &DeployKeyRequest,
    ledger: &[LedgerEntry],
) -> anyhow::Result<Code> {
    // The collector's and revoke's options: --github-api-url, a token or the GitHub App flags
    // over [github] of lapse.toml.
    let sources = super::command::client_sources(args);
    let options = GithubOptions::from_args(&sources, config.github.as_ref())?;
    let token = crate::collect::github::token_for(&options, &request.owner)
        .await
        .map_err(Refused)?
        .ok_or_else(|| {
            Refused(
                "a GitHub grant needs GITHUB_TOKEN or GH_TOKEN, or a GitHub App                  (--github-app-id, --github-app-key)"
                    .into(),
            )
        })?;
    let api = options.api_url.trim_end_matches('/').to_string();
    let http = crate::net::client(args.client.ca_bundle.as_deref())?;
    let client = Client {
        http: http.clone(),
        api: api.clone(),
        token: token.clone(),
    };
    let held = inspect(&client, request).await?;
    let decision = decide(request, held, ledger)?;
    if let Decision::Extend { key, previous } = &decision {
        return extend(args, request, key, *previous);
    }
    let mut out = super::print::heading(args.apply);
    out.push_str(&format!(
        "  to:       repository {} (deploy key, {})\n",
        clean(&request.full_name()),
        if request.write {
            "read-write"
        } else {
            "read-only"
        }
    ));
    out.push_str(&format!(
        "  grant:    key titled {}\n",
        clean(&request.marked_title())
    ));
    out.push_str(&super::print::common_lines(&request.common));
    out.push_str(&format!("  call 1:   {}\n", clean(&request.call())));
    out.push_str(&format!(
        "  ledger:   {} gets a deploy_key line {}/KEY_ID once GitHub has given the key its id\n",
        clean(&request.common.ledger.display().to_string()),
        clean(&request.full_name())
    ));
    print!("{out}");
    if !args.apply {
        return Ok(Code::Clean);
    }
    let mut journal = Journal::open(&args.journal)?;
    let common = &request.common;
    let requested_as = request.full_name();
    let principal = serde_json::json!({ "repository": requested_as });
    let mut log = record::Log {
        journal: &mut journal,
        common,
        grant_id: requested_as.clone(),
        provider: Provider::Github,
        account: Some(request.owner.clone()),
        unique_id: None,
    };
    log.request_and_approval(principal)?;
    let calls = vec![request.call()];
    let body = serde_json::json!({
        "title": request.marked_title(),
        "key": request.public_key,
        "read_only": !request.write,
    });
    let path = format!("{}/keys", repo_path(request)?);
    let posted = client
        .request(reqwest::Method::POST, &path)
        .json(&body)
        .send()
        .await;
    let key = match posted {
        Ok(response) if response.status().as_u16() == 201 => response
            .json::<Key>()
            .await
            .map_err(|e| format!("POST {path}: {}", e.without_url())),
        Ok(response) => Err(format!("POST {path}: HTTP {}", response.status())),
        Err(e) => Err(format!("POST {path}: {}", e.without_url())),
    };
    let key = match key {
        Ok(key) => key,
        Err(error) => {
            let detail = serde_json::json!({ "calls": calls });
            log.failed(detail, &error)?;
            eprintln!(
                "error: the deploy key was not added ({}); nothing was recorded as granted",
                clean(&error)
            );
            return Ok(Code::Findings);
        }
    };
    let entry = request.ledger_entry(key.id);
    log.grant_id = entry.target.clone();
    log.unique_id = Some(key.id.to_string());
    if let Err(e) = crate::revoke::ledger::append(&common.ledger, &entry) {
        let executor = crate::revoke::github::GithubExecutor::new(http, &api, token)
            .for_owners(&[request.owner.as_str()]);
        let undo = Action::GithubDeleteDeployKey {
            repo: request.full_name(),
            key_id: key.id,
        };
        let undone = executor.run(&undo).await.is_ok();
        let error = format!(
            "{e}; the key was {}deleted again",
            if undone { "" } else { "NOT " }
        );
        let detail = serde_json::json!({ "calls": calls, "requested_as": requested_as });
        log.failed(detail, &error)?;
        anyhow::bail!(error);
    }
    let detail = serde_json::json!({
        "calls": calls,
        "ledger": entry,
        "requested_as": requested_as,
    });
    log.append(Event::Issued, None, detail, None)?;
    super::command::print_done("granted", common, log.journal);
    Ok(Code::Clean)
}

/// Extends the key lapse issued: the plan, then (with `--apply`) the journal's request, the new
/// ledger line and `extended`. Nothing is sent to GitHub.
fn extend(
    args: &GrantArgs,
    request: &DeployKeyRequest,
    key: &Key,
    previous: Timestamp,
) -> anyhow::Result<Code> {
    let common = &request.common;
    let entry = request.ledger_entry(key.id);
    let line = serde_json::to_string(&entry)?;
    let previous_text = previous.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut out = super::print::heading(args.apply);
    out.push_str(&format!(
        "  to:       repository {} (deploy key {}, {})\n",
        clean(&request.full_name()),
        key.id,
        if request.write {
            "read-write"
        } else {
            "read-only"
        }
    ));
    out.push_str(&format!(
        "  grant:    the key titled {}, already in the repository\n",
        clean(&key.title)
    ));
    out.push_str(&super::print::common_lines(common));
    out.push_str(&format!(
        "  extends:  the key lapse issued (ledger until {previous_text}): no call to GitHub, \
         which cannot edit a key's title (it keeps its first marker); the ledger's new line \
         wins\n"
    ));
    out.push_str(&super::print::ledger_lines(common, &line));
    print!("{out}");
    if !args.apply {
        return Ok(Code::Clean);
    }
    let mut journal = Journal::open(&args.journal)?;
    let mut log = record::Log {
        journal: &mut journal,
        common,
        grant_id: entry.target.clone(),
        provider: Provider::Github,
        account: Some(request.owner.clone()),
        unique_id: Some(key.id.to_string()),
    };
    let principal = serde_json::json!({ "repository": request.full_name(), "key_id": key.id });
    log.request_and_approval(principal)?;
    if let Err(e) = crate::revoke::ledger::append(&common.ledger, &entry) {
        let error = e.to_string();
        log.failed(serde_json::json!({ "calls": [] }), &error)?;
        anyhow::bail!(error);
    }
    let detail = serde_json::json!({
        "calls": [],
        "ledger": entry,
        "previous_expires_at": previous,
    });
    log.append(Event::Extended, None, detail, None)?;
    super::command::print_done("extended", common, log.journal);
    Ok(Code::Clean)
}
