//! Collect, Azure authentication: azure_identity credentials tried in order (Azure CLI,
//! environment, workload identity, managed identity) unless one is named, and a per-scope
//! token cache (the CLI credential runs `az` on every call).

use std::collections::HashMap;
use std::sync::Arc;

use azure_core::credentials::{Secret, TokenCredential};
use azure_identity::{
    AzureCliCredential, AzureCliCredentialOptions, ClientSecretCredential,
    ManagedIdentityCredential, WorkloadIdentityCredential, WorkloadIdentityCredentialOptions,
};
use tokio::sync::Mutex;

/// Longest credential error kept (they can be long CLI transcripts).
const MAX_REASON: usize = 240;

/// Which azure_identity credential to use (`--azure-credential`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKind {
    Cli,
    Environment,
    WorkloadIdentity,
    ManagedIdentity,
}

impl CredentialKind {
    /// The default chain's order: a developer's login first, a machine's own identity last.
    pub const CHAIN: [CredentialKind; 4] = [
        CredentialKind::Cli,
        CredentialKind::Environment,
        CredentialKind::WorkloadIdentity,
        CredentialKind::ManagedIdentity,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CredentialKind::Cli => "cli",
            CredentialKind::Environment => "environment",
            CredentialKind::WorkloadIdentity => "workload-identity",
            CredentialKind::ManagedIdentity => "managed-identity",
        }
    }
}

impl std::str::FromStr for CredentialKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CredentialKind::CHAIN
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                format!("unknown Azure credential `{s}` (known: cli, environment, workload-identity, managed-identity)")
            })
    }
}

/// Builds one credential; `Err` says why it is unavailable (a missing variable).
fn build(kind: CredentialKind, tenant: &str) -> Result<Arc<dyn TokenCredential>, String> {
    let reason = |e: azure_core::Error| bounded(&e.to_string());
    match kind {
        CredentialKind::Cli => {
            let options = AzureCliCredentialOptions {
                tenant_id: Some(tenant.to_string()),
                ..Default::default()
            };
            AzureCliCredential::new(Some(options))
                .map(|c| c as _)
                .map_err(reason)
        }
        CredentialKind::Environment => environment(tenant),
        CredentialKind::WorkloadIdentity => {
            let options = WorkloadIdentityCredentialOptions {
                tenant_id: Some(tenant.to_string()),
                ..Default::default()
            };
            WorkloadIdentityCredential::new(Some(options))
                .map(|c| c as _)
                .map_err(reason)
        }
        CredentialKind::ManagedIdentity => ManagedIdentityCredential::new(None)
            .map(|c| c as _)
            .map_err(reason),
    }
}

/// `AZURE_CLIENT_ID` with `AZURE_CLIENT_SECRET`, the variables azure-identity SDKs share.
fn environment(tenant: &str) -> Result<Arc<dyn TokenCredential>, String> {
    let client_id =
        std::env::var("AZURE_CLIENT_ID").map_err(|_| "AZURE_CLIENT_ID is not set".to_string())?;
    if let Ok(secret) = std::env::var("AZURE_CLIENT_SECRET") {
        return ClientSecretCredential::new(tenant, client_id, Secret::new(secret), None)
            .map(|c| c as _)
            .map_err(|e| bounded(&e.to_string()));
    }
    if std::env::var_os("AZURE_CLIENT_CERTIFICATE_PATH").is_some() {
        // azure_identity's certificate credential needs OpenSSL (feature `client_certificate`),
        // which would end the single static binary; federation is the better path anyway.
        return Err(
            "AZURE_CLIENT_CERTIFICATE_PATH is set, but this build reads certificates only \
                    through the Azure CLI (`az login --service-principal --certificate`) or use \
                    workload identity federation"
                .into(),
        );
    }
    Err("AZURE_CLIENT_SECRET is not set".into())
}

fn bounded(text: &str) -> String {
    let one_line = text.replace(['\n', '\r'], " ");
    one_line.chars().take(MAX_REASON).collect()
}

/// A credential by name, or why it could not be built.
type Candidate = (String, Result<Arc<dyn TokenCredential>, String>);

struct Cached {
    token: Secret,
    expires_on: azure_core::time::OffsetDateTime,
}

/// Tokens per scope from the first credential that works; the chosen one is kept for the run,
/// so Graph and ARM are read as the same identity.
pub struct Tokens {
    candidates: Vec<Candidate>,
    chosen: Mutex<Option<usize>>,
    cache: Mutex<HashMap<String, Cached>>,
}

impl Tokens {
    /// The named credential, or the default chain.
    pub fn from_environment(kind: Option<CredentialKind>, tenant: &str) -> Self {
        let kinds: Vec<CredentialKind> = match kind {
            Some(kind) => vec![kind],
            None => CredentialKind::CHAIN.to_vec(),
        };
        let candidates = kinds
            .into_iter()
            .map(|k| (k.as_str().to_string(), build(k, tenant)))
            .collect();
        Tokens::new(candidates)
    }

    /// A caller-supplied credential (an embedding application, tests).
    pub fn with_credential(name: &str, credential: Arc<dyn TokenCredential>) -> Self {
        Tokens::new(vec![(name.to_string(), Ok(credential))])
    }

    fn new(candidates: Vec<Candidate>) -> Self {
        Tokens {
            candidates,
            chosen: Mutex::new(None),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The credential that produced the tokens, once one has.
    pub fn chosen_name(&self) -> Option<String> {
        let chosen = self.chosen.try_lock().ok()?;
        chosen.map(|index| self.candidates[index].0.clone())
    }

    /// A bearer token for `scope` (`https://graph.microsoft.com/.default`). The error lists
    /// why each credential failed, never a token.
    pub async fn token(&self, scope: &str) -> Result<String, String> {
        let mut cache = self.cache.lock().await;
        let fresh_until =
            azure_core::time::OffsetDateTime::now_utc() + azure_core::time::Duration::minutes(5);
        if let Some(cached) = cache.get(scope).filter(|c| c.expires_on > fresh_until) {
            return Ok(cached.token.secret().to_string());
        }
        let token = self.fetch(scope).await?;
        let secret = token.token.secret().to_string();
        cache.insert(
            scope.to_string(),
            Cached {
                token: token.token,
                expires_on: token.expires_on,
            },
        );
        Ok(secret)
    }

    async fn fetch(&self, scope: &str) -> Result<azure_core::credentials::AccessToken, String> {
        let mut chosen = self.chosen.lock().await;
        if let Some(index) = *chosen {
            let (name, credential) = &self.candidates[index];
            let credential = credential.as_ref().map_err(|e| format!("{name}: {e}"))?;
            return credential
                .get_token(&[scope], None)
                .await
                .map_err(|e| format!("{name}: {}", bounded(&e.to_string())));
        }
        let mut reasons = Vec::new();
        for (index, (name, credential)) in self.candidates.iter().enumerate() {
            let attempt = match credential {
                Ok(credential) => credential
                    .get_token(&[scope], None)
                    .await
                    .map_err(|e| bounded(&e.to_string())),
                Err(reason) => Err(reason.clone()),
            };
            match attempt {
                Ok(token) => {
                    tracing::info!(credential = %name, "Azure credential chosen");
                    *chosen = Some(index);
                    return Ok(token);
                }
                Err(reason) => reasons.push(format!("{name}: {reason}")),
            }
        }
        Err(format!(
            "no Azure credential worked ({})",
            reasons.join("; ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_credential_names() {
        assert_eq!("cli".parse::<CredentialKind>(), Ok(CredentialKind::Cli));
        assert_eq!(
            "workload-identity".parse::<CredentialKind>(),
            Ok(CredentialKind::WorkloadIdentity)
        );
        assert!(
            "password"
                .parse::<CredentialKind>()
                .unwrap_err()
                .contains("managed-identity")
        );
    }

    #[test]
    fn reasons_are_one_bounded_line() {
        let reason = bounded(&format!("a\nb{}", "x".repeat(1000)));
        assert!(!reason.contains('\n'));
        assert_eq!(reason.chars().count(), MAX_REASON);
    }
}
