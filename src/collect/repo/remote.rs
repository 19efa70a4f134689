//! Collect, repository: the name a checkout is known by, from its `origin` remote. A remote URL
//! may carry credentials (`https://ci:TOKEN@host/app.git`, as CI systems write it), so its
//! userinfo is removed before anything is named after it.

use std::path::Path;

/// The `origin` remote's URL as git resolves it (worktrees and includes too), userinfo removed.
pub fn origin_url(root: &Path) -> Option<String> {
    let out = super::tracked::git(root)
        .args(["config", "--get", "remote.origin.url"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let url = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (!url.is_empty()).then(|| without_userinfo(&url))
}

/// `url` without `user[:password]@`: `https://ci:TOKEN@host/a.git` → `https://host/a.git`,
/// `git@host:a/b.git` → `host:a/b.git`.
pub fn without_userinfo(url: &str) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(at) => (&url[..at + 3], &url[at + 3..]),
        None => ("", url),
    };
    // The authority ends at the first `/` (URL form) or, for scp-like remotes, at the path.
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match authority.rfind('@') {
        Some(at) => format!("{scheme}{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

/// `owner/name` of `git@host:owner/name.git` or `https://host/owner/name(.git)`.
pub fn owner_name(url: &str) -> Option<String> {
    let url = without_userinfo(url);
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(&url);
    // Past the host: `host/owner/name` or `host:owner/name`.
    let path = match (rest.find('/'), rest.find(':')) {
        (Some(slash), Some(colon)) if colon < slash => &rest[colon + 1..],
        (Some(slash), _) => &rest[slash + 1..],
        (None, Some(colon)) => &rest[colon + 1..],
        (None, None) => return None,
    };
    let path = path.trim_end_matches('/').trim_end_matches(".git");
    let mut parts = path.rsplit('/');
    let name = parts.next().filter(|s| !s.is_empty())?;
    let owner = parts.next().filter(|s| !s.is_empty())?;
    Some(format!("{owner}/{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_name_from_remotes() {
        assert_eq!(
            owner_name("git@github.com:acme/app.git").as_deref(),
            Some("acme/app")
        );
        assert_eq!(
            owner_name("https://github.com/acme/app").as_deref(),
            Some("acme/app")
        );
        assert_eq!(
            owner_name("ssh://git@github.com:22/acme/app.git").as_deref(),
            Some("acme/app")
        );
        assert_eq!(owner_name("nope"), None);
    }

    #[test]
    fn userinfo_never_reaches_a_name() {
        for url in [
            "https://ci:TOKEN123@github.com/acme/app.git",
            "https://TOKEN123@github.com/acme/app.git",
            "https://x-access-token:TOKEN123@github.com:443/acme/app",
        ] {
            let stripped = without_userinfo(url);
            assert!(!stripped.contains("TOKEN123"), "{stripped}");
            assert_eq!(owner_name(url).as_deref(), Some("acme/app"), "{url}");
        }
        assert_eq!(
            without_userinfo("git@github.com:acme/app.git"),
            "github.com:acme/app.git"
        );
    }
}
