//! Collect, Azure / Microsoft Graph: applications, service principals, their client secrets
//! and certificates (metadata only), federated identity credentials, owners and last sign-in.
//!
//! The wire types below name only the fields lapse keeps: `secretText` has no field, so a
//! secret value Graph might return is dropped at parse time and never reaches the inventory.

use std::collections::HashMap;

use futures::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};

use super::http::ApiError;
use super::{Run, gap};
use crate::inventory::{Credential, LastUsed, Principal, Provider, Timestamp, Trust};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PasswordCredential {
    key_id: Option<String>,
    display_name: Option<String>,
    start_date_time: Option<String>,
    end_date_time: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct KeyCredential {
    key_id: Option<String>,
    display_name: Option<String>,
    start_date_time: Option<String>,
    end_date_time: Option<String>,
    #[serde(rename = "type")]
    key_type: Option<String>,
    usage: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Owner {
    id: String,
    display_name: Option<String>,
    #[serde(rename = "@odata.type")]
    odata_type: Option<String>,
}

/// Fields common to applications and service principals.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DirectoryObject {
    id: String,
    app_id: Option<String>,
    display_name: Option<String>,
    created_date_time: Option<String>,
    #[serde(default)]
    password_credentials: Vec<PasswordCredential>,
    #[serde(default)]
    key_credentials: Vec<KeyCredential>,
    #[serde(default)]
    owners: Vec<Owner>,
    sign_in_audience: Option<String>,
    service_principal_type: Option<String>,
    account_enabled: Option<bool>,
    app_owner_organization_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FederatedCredential {
    id: Option<String>,
    name: Option<String>,
    issuer: Option<String>,
    subject: Option<String>,
    #[serde(default)]
    audiences: Vec<String>,
    description: Option<String>,
    claims_matching_expression: Option<Value>,
}

/// Reads the tenant's directory into `run.inventory`; every failure is a gap.
pub async fn collect(run: &Run<'_>) {
    let token = match run.token(&run.opts.graph_scope()).await {
        Ok(token) => token,
        Err(reason) => {
            return run.gap(gap(&run.opts.tenant, "Microsoft Graph (all)", reason, None));
        }
    };
    let base = run.opts.graph_url.trim_end_matches('/');
    let sign_ins = sign_ins(run, base, &token).await;
    let apps_url = format!(
        "{base}/v1.0/applications?$select=id,appId,displayName,createdDateTime,signInAudience,\
         passwordCredentials,keyCredentials&$expand=owners($select=id,displayName)&$top=999"
    );
    let apps = list(
        run,
        "graph.applications.list",
        &apps_url,
        &token,
        "applications",
    )
    .await;
    let federated = federated_credentials(run, base, &token, &apps).await;
    let sps_url = format!(
        "{base}/v1.0/servicePrincipals?$select=id,appId,displayName,servicePrincipalType,\
         accountEnabled,appOwnerOrganizationId,passwordCredentials,keyCredentials\
         &$expand=owners($select=id,displayName)&$top=999"
    );
    let sps = list(
        run,
        "graph.servicePrincipals.list",
        &sps_url,
        &token,
        "service principals",
    )
    .await;
    run.add(|inv| {
        for app in &apps {
            let last_used = app
                .app_id
                .as_deref()
                .map_or(LastUsed::Unknown, |id| last_used(&sign_ins, id));
            inv.principals
                .push(principal(run, app, "application", last_used));
            inv.credentials.extend(credentials(run, app, "application"));
        }
        for sp in &sps {
            let last_used = sp
                .app_id
                .as_deref()
                .map_or(LastUsed::Unknown, |id| last_used(&sign_ins, id));
            inv.principals
                .push(principal(run, sp, "service_principal", last_used));
            inv.credentials
                .extend(credentials(run, sp, "service_principal"));
        }
        inv.trusts.extend(federated);
    });
}

/// Lists a collection and parses each item; a failed list or item is a gap, not an abort.
async fn list(run: &Run<'_>, op: &str, url: &str, token: &str, what: &str) -> Vec<DirectoryObject> {
    let items = match run.api.get_all(op, url, token, "@odata.nextLink").await {
        Ok(items) => items,
        Err(err) => {
            run.gap(api_gap(&run.opts.tenant, what, &err));
            return Vec::new();
        }
    };
    parse_each(run, items, what)
}

/// Parses each item of a listing; one that does not deserialize is a gap naming it (by its
/// `id` when it has one), never dropped in silence.
fn parse_each<T: serde::de::DeserializeOwned>(
    run: &Run<'_>,
    items: Vec<Value>,
    what: &str,
) -> Vec<T> {
    items
        .into_iter()
        .filter_map(|item| {
            let id = item.get("id").and_then(Value::as_str).map(str::to_string);
            match serde_json::from_value::<T>(item) {
                Ok(object) => Some(object),
                Err(e) => {
                    let which = match id {
                        Some(id) => format!("{what}: item {id}"),
                        None => format!("one of {what}"),
                    };
                    run.gap(gap(
                        &run.opts.tenant,
                        &which,
                        format!("unreadable item: {e}"),
                        None,
                    ));
                    None
                }
            }
        })
        .collect()
}

/// Last sign-in per appId from the beta report. `None` when the tenant does not expose it
/// (no Entra ID P1, or no AuditLog.Read.All): a gap, and idle time stays unknown.
async fn sign_ins(run: &Run<'_>, base: &str, token: &str) -> Option<HashMap<String, Timestamp>> {
    let url = format!("{base}/beta/reports/servicePrincipalSignInActivities");
    let op = "graph.reports.servicePrincipalSignInActivities";
    match run.api.get_all(op, &url, token, "@odata.nextLink").await {
        Ok(items) => Some(latest_sign_ins(&items)),
        Err(err) => {
            let mut gap = api_gap(&run.opts.tenant, "service principal sign-in activity", &err);
            if err.is_forbidden() {
                gap.reason
                    .push_str(" (needs AuditLog.Read.All, and the tenant needs Entra ID P1 or P2)");
            }
            run.gap(gap);
            None
        }
    }
}

fn latest_sign_ins(items: &[Value]) -> HashMap<String, Timestamp> {
    let mut latest: HashMap<String, Timestamp> = HashMap::new();
    for item in items {
        let Some(app_id) = item.get("appId").and_then(Value::as_str) else {
            continue;
        };
        let at = item
            .pointer("/lastSignInActivity/lastSignInDateTime")
            .and_then(Value::as_str)
            .and_then(parse_time);
        if let Some(at) = at {
            let entry = latest.entry(app_id.to_string()).or_insert(at);
            *entry = (*entry).max(at);
        }
    }
    latest
}

/// Absent from a report that was read: never signed in (as far as the report goes back).
fn last_used(sign_ins: &Option<HashMap<String, Timestamp>>, app_id: &str) -> LastUsed {
    match sign_ins {
        None => LastUsed::Unknown,
        Some(map) => map
            .get(app_id)
            .map_or(LastUsed::Never, |t| LastUsed::At(*t)),
    }
}

async fn federated_credentials(
    run: &Run<'_>,
    base: &str,
    token: &str,
    apps: &[DirectoryObject],
) -> Vec<Trust> {
    let requests = apps.iter().map(|app| async move {
        let url = format!(
            "{base}/v1.0/applications/{}/federatedIdentityCredentials",
            app.id
        );
        let op = "graph.applications.federatedIdentityCredentials.list";
        match run.api.get_all(op, &url, token, "@odata.nextLink").await {
            Ok(items) => {
                let what = format!("federated credentials of application {}", app.id);
                let parsed: Vec<FederatedCredential> = parse_each(run, items, &what);
                parsed.into_iter().map(|fic| trust(&app.id, fic)).collect()
            }
            Err(err) => {
                let what = format!("federated credentials of application {}", app.id);
                run.gap(api_gap(&run.opts.tenant, &what, &err));
                Vec::new()
            }
        }
    });
    let per_app: Vec<Vec<Trust>> = futures::stream::iter(requests)
        .buffer_unordered(run.opts.concurrency.max(1))
        .collect()
        .await;
    per_app.into_iter().flatten().collect()
}

fn trust(app_object_id: &str, fic: FederatedCredential) -> Trust {
    Trust {
        provider: Provider::Azure,
        kind: "federated_credential".into(),
        principal_id: app_object_id.to_string(),
        document: Some(
            json!({
                "id": fic.id,
                "name": fic.name,
                "description": fic.description,
                "claimsMatchingExpression": fic.claims_matching_expression,
            })
            .into(),
        ),
        issuer: fic.issuer,
        subject: fic.subject,
        audiences: fic.audiences,
    }
}

fn principal(
    run: &Run<'_>,
    object: &DirectoryObject,
    kind: &str,
    last_used: LastUsed,
) -> Principal {
    let owners: Vec<Value> = object
        .owners
        .iter()
        .map(|o| json!({"id": o.id, "display_name": o.display_name, "type": o.odata_type}))
        .collect();
    let mut attributes = crate::inventory::Attributes::new();
    attributes.insert("app_id".into(), json!(object.app_id));
    attributes.insert("owners".into(), Value::Array(owners));
    for (key, value) in [
        ("sign_in_audience", json!(object.sign_in_audience)),
        (
            "service_principal_type",
            json!(object.service_principal_type),
        ),
        ("account_enabled", json!(object.account_enabled)),
        (
            "app_owner_organization_id",
            json!(object.app_owner_organization_id),
        ),
    ] {
        if !value.is_null() {
            attributes.insert(key.into(), value);
        }
    }
    Principal {
        provider: Provider::Azure,
        kind: kind.into(),
        id: object.id.clone(),
        name: object
            .display_name
            .clone()
            .or_else(|| object.app_id.clone())
            .unwrap_or_else(|| object.id.clone()),
        scope: run.opts.tenant.clone(),
        path: None,
        created_at: object.created_date_time.as_deref().and_then(parse_time),
        last_used,
        tags: Default::default(),
        description: None,
        attributes,
    }
}

fn credentials(run: &Run<'_>, object: &DirectoryObject, owner_kind: &str) -> Vec<Credential> {
    let secrets = object.password_credentials.iter().map(|p| {
        let meta = Meta {
            key_id: &p.key_id,
            name: &p.display_name,
            start: &p.start_date_time,
            end: &p.end_date_time,
        };
        credential(
            run,
            object,
            owner_kind,
            "client_secret",
            "passwordCredentials",
            meta,
        )
    });
    let certificates = object.key_credentials.iter().map(|k| {
        let meta = Meta {
            key_id: &k.key_id,
            name: &k.display_name,
            start: &k.start_date_time,
            end: &k.end_date_time,
        };
        let mut c = credential(
            run,
            object,
            owner_kind,
            "client_certificate",
            "keyCredentials",
            meta,
        );
        c.attributes.insert("key_type".into(), json!(k.key_type));
        c.attributes.insert("usage".into(), json!(k.usage));
        c
    });
    secrets.chain(certificates).collect()
}

struct Meta<'a> {
    key_id: &'a Option<String>,
    name: &'a Option<String>,
    start: &'a Option<String>,
    end: &'a Option<String>,
}

fn credential(
    run: &Run<'_>,
    object: &DirectoryObject,
    owner_kind: &str,
    kind: &str,
    collection: &str,
    meta: Meta,
) -> Credential {
    let key_id = meta.key_id.clone().unwrap_or_default();
    let starts = meta.start.as_deref().and_then(parse_time);
    let ends = meta.end.as_deref().and_then(parse_time);
    let mut attributes = crate::inventory::Attributes::new();
    attributes.insert("owner_kind".into(), json!(owner_kind));
    attributes.insert("key_id".into(), json!(key_id));
    attributes.insert("app_id".into(), json!(object.app_id));
    if meta.end.is_some() && ends.is_none() {
        // Kept so an unreadable date is visible rather than read as "no end date".
        attributes.insert("end_date_time_raw".into(), json!(meta.end));
    }
    Credential {
        provider: Provider::Azure,
        kind: kind.into(),
        id: format!("{}/{collection}/{key_id}", object.id),
        name: meta
            .name
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| key_id.clone()),
        principal_id: Some(object.id.clone()),
        scope: run.opts.tenant.clone(),
        active: ends.is_none_or(|end| end > run.started_at),
        created_at: starts,
        rotated_at: starts,
        expires_at: ends,
        last_used: LastUsed::Unknown,
        hint: None,
        location: None,
        attributes,
    }
}

pub(super) fn api_gap(scope: &str, what: &str, err: &ApiError) -> crate::inventory::CoverageGap {
    gap(
        scope,
        what,
        err.to_string(),
        err.request().map(str::to_string),
    )
}

/// Graph and ARM dates: RFC 3339, sometimes with seven fractional digits.
pub(super) fn parse_time(text: &str) -> Option<Timestamp> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_text_is_never_parsed() {
        let item = json!({"id": "o1", "passwordCredentials": [{"keyId": "k", "secretText": "s3cr3t", "hint": "s3c"}]});
        let object: DirectoryObject = serde_json::from_value(item).unwrap();
        assert!(!format!("{object:?}").contains("s3cr3t"));
    }

    #[test]
    fn latest_sign_in_per_app() {
        let items = vec![
            json!({"appId": "a", "lastSignInActivity": {"lastSignInDateTime": "2025-01-01T00:00:00Z"}}),
            json!({"appId": "a", "lastSignInActivity": {"lastSignInDateTime": "2025-03-01T00:00:00.0000000Z"}}),
            json!({"appId": "b", "lastSignInActivity": null}),
        ];
        let map = latest_sign_ins(&items);
        assert_eq!(map.get("a"), parse_time("2025-03-01T00:00:00Z").as_ref());
        assert!(!map.contains_key("b"));
        assert_eq!(last_used(&Some(map), "b"), LastUsed::Never);
        assert_eq!(last_used(&None, "a"), LastUsed::Unknown);
    }
}
