//! Collect, GitHub options: the `[github]` table of lapse.toml under the `--github-*` flags, into
//! `GithubOptions`. Flags win; `app_key` is relative to lapse.toml's folder. A token is never read
//! from the file (it comes from `GITHUB_TOKEN` / `GH_TOKEN`), so `token` is an unknown key.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::{GithubAuth, GithubConfigError, GithubOptions};
use crate::cli::SourceArgs;
use crate::config::{ConfigError, ProviderTable};

/// Longest `max_rate_limit_wait_secs` accepted: beyond an hour a nightly job looks hung.
const MAX_RATE_LIMIT_WAIT_SECS: u64 = 3600;
/// Most repositories read at once; GitHub's secondary rate limit punishes more.
const MAX_CONCURRENCY: usize = 32;

/// `[github]` in lapse.toml.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGithubConfig {
    orgs: Option<Vec<String>>,
    /// `owner/name`.
    repos: Option<Vec<String>>,
    api_url: Option<String>,
    app_id: Option<u64>,
    /// PEM file of the App's private key, relative to lapse.toml.
    app_key: Option<PathBuf>,
    installation_id: Option<u64>,
    max_rate_limit_wait_secs: Option<u64>,
    /// Repositories read at once.
    concurrency: Option<usize>,
}

/// Whether `[github]` names something to scan (`orgs` or `repos`), which turns the source on.
/// Reading it checks every key, so a typo is an error even when the source stays off.
pub fn table_names_scope(table: &ProviderTable) -> Result<bool, ConfigError> {
    let raw: RawGithubConfig = table.read()?;
    let named = |list: &Option<Vec<String>>| list.as_ref().is_some_and(|l| !l.is_empty());
    Ok(named(&raw.orgs) || named(&raw.repos))
}

/// Flags first, then `[github]`. Naming an org or a repository on the command line replaces the
/// table's whole scope (orgs and repos), so a one-off run scans only what it names.
pub(super) fn options(
    args: &SourceArgs,
    table: Option<&ProviderTable>,
) -> Result<GithubOptions, GithubConfigError> {
    let raw: RawGithubConfig = table
        .map(ProviderTable::read)
        .transpose()?
        .unwrap_or_default();
    if let Some(table) = table {
        check_table(&raw, table)?;
    }
    let flags_scope = !args.github_org.is_empty() || !args.github_repo.is_empty();
    let (orgs, repos) = if flags_scope {
        (args.github_org.clone(), args.github_repo.clone())
    } else {
        let (orgs, repos) = (raw.orgs.clone(), raw.repos.clone());
        (orgs.unwrap_or_default(), repos.unwrap_or_default())
    };
    let mut opts = GithubOptions::new(orgs, repos, auth(args, &raw, table)?);
    if let Some(url) = args.client.github_api_url.as_ref().or(raw.api_url.as_ref()) {
        opts.api_url = url.clone();
    }
    if let Some(secs) = raw.max_rate_limit_wait_secs {
        opts.max_rate_limit_wait = Duration::from_secs(secs);
    }
    if let Some(n) = raw.concurrency {
        opts.concurrency = n;
    }
    Ok(opts)
}

/// Values of the right type that would still fail later: caught here, at their line.
fn check_table(raw: &RawGithubConfig, table: &ProviderTable) -> Result<(), ConfigError> {
    let bad_repo = raw.repos.iter().flatten().find(|r| {
        r.split_once('/')
            .is_none_or(|(o, n)| o.is_empty() || n.is_empty() || n.contains('/'))
    });
    if let Some(repo) = bad_repo {
        return Err(table.invalid("repos", format!("`{}` is not OWNER/NAME", printable(repo))));
    }
    if let Some(url) = &raw.api_url {
        match reqwest::Url::parse(url) {
            Ok(u) if matches!(u.scheme(), "https" | "http") => {}
            Ok(_) => return Err(table.invalid("api_url", "must be an http(s) URL")),
            Err(e) => return Err(table.invalid("api_url", format!("`{}`: {e}", printable(url)))),
        }
    }
    if raw
        .max_rate_limit_wait_secs
        .is_some_and(|s| s > MAX_RATE_LIMIT_WAIT_SECS)
    {
        let message = format!("must be at most {MAX_RATE_LIMIT_WAIT_SECS}");
        return Err(table.invalid("max_rate_limit_wait_secs", message));
    }
    if raw
        .concurrency
        .is_some_and(|n| n == 0 || n > MAX_CONCURRENCY)
    {
        let message = format!("must be between 1 and {MAX_CONCURRENCY}");
        return Err(table.invalid("concurrency", message));
    }
    if raw.app_id.is_none() && (raw.app_key.is_some() || raw.installation_id.is_some()) {
        let key = if raw.app_key.is_some() {
            "app_key"
        } else {
            "installation_id"
        };
        return Err(table.invalid(key, "needs app_id (the GitHub App's id)"));
    }
    Ok(())
}

/// An App when an App id is given (flag or table), else `GITHUB_TOKEN` / `GH_TOKEN`.
fn auth(
    args: &SourceArgs,
    raw: &RawGithubConfig,
    table: Option<&ProviderTable>,
) -> Result<GithubAuth, GithubConfigError> {
    let Some(app_id) = args.client.github_app_id.or(raw.app_id) else {
        return Ok(GithubAuth::from_env());
    };
    let installation_id = args.client.github_installation_id.or(raw.installation_id);
    match (&args.client.github_app_key, &raw.app_key, table) {
        (Some(flag), _, _) => GithubAuth::app(app_id, flag, installation_id).map_err(|source| {
            GithubConfigError::AppKey {
                path: flag.clone(),
                source,
            }
        }),
        (None, Some(key), Some(table)) => {
            let path = table.resolve(key);
            GithubAuth::app(app_id, &path, installation_id).map_err(|e| {
                let message = format!("{}: {e}", path.display());
                table.invalid("app_key", message).into()
            })
        }
        _ => Err(GithubConfigError::MissingAppKey),
    }
}

/// A value echoed back in an error: short and without control characters.
fn printable(value: &str) -> String {
    value.chars().take(80).filter(|c| !c.is_control()).collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::Config;

    fn github_table(dir: &Path, body: &str) -> ProviderTable {
        let text = format!("[scan]\nfail_on = \"high\"\n\n[github]\n{body}");
        Config::parse(&dir.join("lapse.toml"), &text)
            .unwrap()
            .github
            .unwrap()
    }

    fn options_of(args: &SourceArgs, table: &ProviderTable) -> Result<GithubOptions, String> {
        options(args, Some(table)).map_err(|e| e.to_string())
    }

    #[test]
    fn unknown_key_names_lapse_toml_and_line() {
        let table = github_table(Path::new("."), "orgs = [\"acme\"]\ntoken = \"ghp_x\"\n");
        let err = options_of(&SourceArgs::default(), &table).unwrap_err();
        assert!(
            err.starts_with("./lapse.toml:6: [github] unknown field `token`"),
            "{err}"
        );
        assert!(!err.contains("ghp_x"), "{err}");
        assert!(table_names_scope(&table).is_err());
    }

    #[test]
    fn table_alone_names_the_scope_and_flags_win() {
        let body = "orgs = [\"acme\"]\nrepos = [\"other/tool\"]\napi_url = \"http://127.0.0.1:9\"\n\
                    max_rate_limit_wait_secs = 7\nconcurrency = 2\n";
        let table = github_table(Path::new("."), body);
        assert!(table_names_scope(&table).unwrap());
        let opts = options_of(&SourceArgs::default(), &table).unwrap();
        assert_eq!(
            (opts.orgs.clone(), opts.repos.clone()),
            (vec!["acme".into()], vec!["other/tool".into()])
        );
        assert_eq!(opts.api_url, "http://127.0.0.1:9");
        assert_eq!(opts.max_rate_limit_wait, Duration::from_secs(7));
        assert_eq!(opts.concurrency, 2);
        let args = SourceArgs {
            github_org: vec!["beta".into()],
            client: crate::cli::ClientArgs {
                github_api_url: Some("https://ghe.example.com/api/v3".into()),
                ..Default::default()
            },
            ..SourceArgs::default()
        };
        let opts = options_of(&args, &table).unwrap();
        assert_eq!(opts.orgs, vec!["beta"]);
        assert!(opts.repos.is_empty(), "{:?}", opts.repos);
        assert_eq!(opts.api_url, "https://ghe.example.com/api/v3");
        let app_only = github_table(Path::new("."), "max_rate_limit_wait_secs = 5\n");
        assert!(!table_names_scope(&app_only).unwrap());
    }

    #[test]
    fn values_that_would_fail_later_name_their_line() {
        for (body, expected) in [
            (
                "repos = [\"acme\"]\n",
                "lapse.toml:5: [github] repos: `acme` is not OWNER/NAME",
            ),
            (
                "orgs = []\napi_url = \"ftp://x\"\n",
                "lapse.toml:6: [github] api_url:",
            ),
            ("concurrency = 0\n", "lapse.toml:5: [github] concurrency:"),
            (
                "app_key = \"k.pem\"\n",
                "lapse.toml:5: [github] app_key: needs app_id",
            ),
        ] {
            let err =
                options_of(&SourceArgs::default(), &github_table(Path::new(""), body)).unwrap_err();
            assert!(err.starts_with(expected), "{body}: {err}");
        }
    }

    #[test]
    fn app_key_is_relative_to_lapse_toml_and_the_flag_wins() {
        let dir = tempfile::tempdir().unwrap();
        // Not a key: reading it proves where it was looked for, and the App is refused.
        std::fs::write(dir.path().join("app.pem"), "not a key").unwrap();
        let body = "orgs = [\"acme\"]\napp_id = 7\napp_key = \"app.pem\"\ninstallation_id = 9\n";
        let table = github_table(dir.path(), body);
        let err = options_of(&SourceArgs::default(), &table).unwrap_err();
        let resolved = dir.path().join("app.pem").display().to_string();
        assert!(err.contains("lapse.toml:7: [github] app_key:"), "{err}");
        assert!(
            err.contains(&resolved) && !err.contains("No such file"),
            "{err}"
        );
        let args = SourceArgs {
            client: crate::cli::ClientArgs {
                github_app_key: Some(PathBuf::from("/nonexistent/flag.pem")),
                ..Default::default()
            },
            ..SourceArgs::default()
        };
        let err = options_of(&args, &table).unwrap_err();
        assert!(
            err.starts_with("--github-app-key /nonexistent/flag.pem"),
            "{err}"
        );
    }
}
