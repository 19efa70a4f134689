//! Collect, Azure options: the `[azure]` table of lapse.toml under the `--azure-*` flags, into
//! `AzureOptions`. Flags win, key by key; a table value that would fail later is refused here,
//! at its line.

use serde::Deserialize;

use super::{AzureOptions, AzureOptionsError, CredentialKind, origin};
use crate::cli::SourceArgs;
use crate::config::{ConfigError, ProviderTable};

/// `[azure]` in lapse.toml.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAzureConfig {
    tenant: Option<String>,
    subscriptions: Option<Vec<String>>,
    graph_url: Option<String>,
    arm_url: Option<String>,
    /// One of cli, environment, workload-identity, managed-identity.
    credential: Option<String>,
}

/// Flags first, then `[azure]`; then `--ca-bundle` and `--concurrency`.
pub(super) fn options(
    args: &SourceArgs,
    table: Option<&ProviderTable>,
) -> Result<AzureOptions, AzureOptionsError> {
    let raw: RawAzureConfig = table
        .map(ProviderTable::read)
        .transpose()?
        .unwrap_or_default();
    if let Some(table) = table {
        check_table(&raw, table)?;
    }
    let tenant = args
        .client
        .azure_tenant
        .as_deref()
        .or(raw.tenant.as_deref())
        .ok_or(AzureOptionsError::MissingTenant)?;
    let subscriptions = if args.azure_subscription.is_empty() {
        raw.subscriptions.clone().unwrap_or_default()
    } else {
        args.azure_subscription.clone()
    };
    let pick = |flag: &Option<String>, key: &Option<String>| flag.clone().or_else(|| key.clone());
    let mut opts = AzureOptions::from_flags(
        tenant,
        &subscriptions,
        pick(&args.client.azure_graph_url, &raw.graph_url).as_deref(),
        pick(&args.client.azure_arm_url, &raw.arm_url).as_deref(),
        pick(&args.client.azure_credential, &raw.credential).as_deref(),
    )?;
    opts.ca_bundle = args.client.ca_bundle.clone();
    if let Some(n) = args.concurrency {
        opts.concurrency = n.max(1);
    }
    Ok(opts)
}

fn check_table(raw: &RawAzureConfig, table: &ProviderTable) -> Result<(), ConfigError> {
    if let Some(tenant) = &raw.tenant {
        AzureOptions::new(tenant.as_str())
            .validate()
            .map_err(|_| table.invalid("tenant", "expected a tenant id (GUID) or domain name"))?;
    }
    let bad_subscription = raw
        .subscriptions
        .iter()
        .flatten()
        .find(|s| s.is_empty() || !s.chars().all(|c| c.is_ascii_hexdigit() || c == '-'));
    if let Some(id) = bad_subscription {
        let shown: String = id.chars().take(60).filter(|c| !c.is_control()).collect();
        let message = format!("`{shown}` is not a subscription id (GUID)");
        return Err(table.invalid("subscriptions", message));
    }
    for (key, url) in [("graph_url", &raw.graph_url), ("arm_url", &raw.arm_url)] {
        if let Some(url) = url {
            origin("url", url).map_err(|e| match e {
                AzureOptionsError::Url { reason, .. } => table.invalid(key, reason),
                other => table.invalid(key, other),
            })?;
        }
    }
    if let Some(kind) = &raw.credential {
        kind.parse::<CredentialKind>()
            .map_err(|message| table.invalid("credential", message))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::Config;

    const TENANT: &str = "00000000-0000-0000-0000-000000000001";

    fn azure_table(body: &str) -> ProviderTable {
        let text = format!("[scan]\nfail_on = \"high\"\n[azure]\n{body}");
        Config::parse(Path::new("lapse.toml"), &text)
            .unwrap()
            .azure
            .unwrap()
    }

    fn options_of(args: &SourceArgs, body: &str) -> Result<AzureOptions, String> {
        options(args, Some(&azure_table(body))).map_err(|e| e.to_string())
    }

    #[test]
    fn unknown_key_names_lapse_toml_and_line() {
        let err = options_of(
            &SourceArgs::default(),
            "tenant = \"contoso.com\"\ntenent = \"x\"\n",
        );
        let err = err.unwrap_err();
        assert!(
            err.starts_with("lapse.toml:5: [azure] unknown field `tenent`"),
            "{err}"
        );
    }

    #[test]
    fn table_alone_is_enough_and_flags_win() {
        let body = format!(
            "tenant = \"{TENANT}\"\nsubscriptions = [\"11111111-2222-3333-4444-555555555555\"]\n\
             graph_url = \"https://graph.microsoft.us/\"\narm_url = \"https://management.usgovcloudapi.net\"\n\
             credential = \"cli\"\n"
        );
        let opts = options_of(&SourceArgs::default(), &body).unwrap();
        assert_eq!(opts.tenant, TENANT);
        assert_eq!(
            opts.subscriptions,
            vec!["11111111-2222-3333-4444-555555555555"]
        );
        assert_eq!(opts.graph_url, "https://graph.microsoft.us");
        assert_eq!(opts.arm_url, "https://management.usgovcloudapi.net");
        assert_eq!(opts.credential, Some(CredentialKind::Cli));
        let args = SourceArgs {
            client: crate::cli::ClientArgs {
                azure_tenant: Some("contoso.onmicrosoft.com".into()),
                azure_credential: Some("environment".into()),
                ..Default::default()
            },
            azure_subscription: vec!["aaaaaaaa-0000-0000-0000-000000000000".into()],
            ..SourceArgs::default()
        };
        let opts = options_of(&args, &body).unwrap();
        assert_eq!(opts.tenant, "contoso.onmicrosoft.com");
        assert_eq!(
            opts.subscriptions,
            vec!["aaaaaaaa-0000-0000-0000-000000000000"]
        );
        assert_eq!(opts.credential, Some(CredentialKind::Environment));
        assert_eq!(opts.graph_url, "https://graph.microsoft.us");
    }

    #[test]
    fn bad_values_name_their_line_and_a_tenant_is_required() {
        for (body, expected) in [
            ("tenant = \"a b\"\n", "lapse.toml:4: [azure] tenant:"),
            (
                "tenant = \"t\"\narm_url = \"http://x\"\n",
                "lapse.toml:5: [azure] arm_url: must be https",
            ),
            (
                "credential = \"pat\"\n",
                "lapse.toml:4: [azure] credential: unknown Azure credential",
            ),
            (
                "subscriptions = [\"../x\"]\n",
                "lapse.toml:4: [azure] subscriptions:",
            ),
        ] {
            let err = options_of(&SourceArgs::default(), body).unwrap_err();
            assert!(err.starts_with(expected), "{body}: {err}");
        }
        let err = options_of(&SourceArgs::default(), "graph_url = \"https://g\"\n").unwrap_err();
        assert!(err.contains("[azure] tenant"), "{err}");
    }
}
