//! Collect, Azure / Resource Manager: per subscription, role assignments held by service
//! principals (role names resolved), PIM active schedule instances and eligibility schedules.
//!
//! A subscription the identity cannot read is a gap for that subscription only. Assignments
//! inherited from a management group appear in every subscription below it; they are kept once.

use std::collections::{HashMap, HashSet};

use futures::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};

use super::graph::{api_gap, parse_time};
use super::{Run, gap};
use crate::inventory::{Grant, Provider};

const ROLE_API: &str = "api-version=2022-04-01";
const PIM_API: &str = "api-version=2020-10-01";
const SUBSCRIPTIONS_API: &str = "api-version=2022-12-01";

/// Built-in role ids are the same in every tenant; used when role definitions are unreadable.
const BUILTIN_ROLES: [(&str, &str); 4] = [
    ("8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "Owner"),
    ("b24988ac-6180-42a0-ab88-20f7382dd24c", "Contributor"),
    (
        "18d7d88d-d35e-4fb5-a5c3-7773c6a72458",
        "User Access Administrator",
    ),
    ("acdd72a7-3385-48ef-bd42-f606fba81ae7", "Reader"),
];

/// The properties shared by role assignments, schedule instances and eligibility schedules.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Properties {
    role_definition_id: String,
    principal_id: String,
    principal_type: Option<String>,
    scope: String,
    description: Option<String>,
    created_on: Option<String>,
    condition: Option<String>,
    start_date_time: Option<String>,
    end_date_time: Option<String>,
    assignment_type: Option<String>,
    member_type: Option<String>,
    origin_role_assignment_id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Resource {
    id: String,
    properties: Properties,
}

pub async fn collect(run: &Run<'_>) {
    let tenant = &run.opts.tenant;
    let token = match run.token(&run.opts.arm_scope()).await {
        Ok(token) => token,
        Err(reason) => return run.gap(gap(tenant, "Azure Resource Manager (all)", reason, None)),
    };
    let base = run.opts.arm_url.trim_end_matches('/');
    let subscriptions = match run.opts.subscriptions.is_empty() {
        false => run.opts.subscriptions.clone(),
        true => list_subscriptions(run, base, &token).await,
    };
    let per_subscription = subscriptions
        .iter()
        .map(|s| subscription(run, base, &token, s));
    let grants: Vec<Vec<Grant>> = futures::stream::iter(per_subscription)
        .buffer_unordered(run.opts.concurrency.max(1))
        .collect()
        .await;
    let mut seen = HashSet::new();
    let unique: Vec<Grant> = grants
        .into_iter()
        .flatten()
        .filter(|g| seen.insert(g.id.to_ascii_lowercase()))
        .collect();
    run.add(|inv| inv.grants.extend(unique));
}

async fn list_subscriptions(run: &Run<'_>, base: &str, token: &str) -> Vec<String> {
    let url = format!("{base}/subscriptions?{SUBSCRIPTIONS_API}");
    match run
        .api
        .get_all("arm.subscriptions.list", &url, token, "nextLink")
        .await
    {
        Ok(items) => items
            .iter()
            .filter_map(|s| {
                s.get("subscriptionId")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .collect(),
        Err(err) => {
            run.gap(api_gap(&run.opts.tenant, "subscriptions", &err));
            Vec::new()
        }
    }
}

async fn subscription(run: &Run<'_>, base: &str, token: &str, id: &str) -> Vec<Grant> {
    let authz = format!("{base}/subscriptions/{id}/providers/Microsoft.Authorization");
    let assignments_url = format!("{authz}/roleAssignments?{ROLE_API}");
    let assignments = match run
        .api
        .get_all(
            "arm.roleAssignments.list",
            &assignments_url,
            token,
            "nextLink",
        )
        .await
    {
        Ok(items) => items,
        Err(err) => {
            // Without assignments the PIM reads would fail the same way: one gap, not three.
            run.gap(api_gap(id, "role assignments", &err));
            return Vec::new();
        }
    };
    let roles = role_names(run, &authz, token, id).await;
    let instances_url =
        format!("{authz}/roleAssignmentScheduleInstances?{PIM_API}&$filter=atScope()");
    let instances = read(
        run,
        "arm.roleAssignmentScheduleInstances.list",
        &instances_url,
        token,
        id,
        "PIM active assignments",
    )
    .await;
    let eligible_url = format!("{authz}/roleEligibilitySchedules?{PIM_API}&$filter=atScope()");
    let eligible = read(
        run,
        "arm.roleEligibilitySchedules.list",
        &eligible_url,
        token,
        id,
        "PIM eligible assignments",
    )
    .await;

    let schedules = ScheduleIndex::new(&instances);
    let mut grants: Vec<Grant> = assignments
        .iter()
        .filter(|a| {
            is_service_principal(a.props().as_ref().and_then(|p| p.principal_type.as_deref()))
        })
        .map(|a| {
            let mut grant = grant(a, "role_assignment", &roles, id);
            schedules.apply(a, &mut grant);
            grant
        })
        .collect();
    grants.extend(
        eligible
            .iter()
            .filter(|e| is_service_principal(e.properties.principal_type.as_deref()))
            .map(|e| {
                let mut grant = grant(&e.properties_json(), "pim_eligible", &roles, id);
                grant.starts_at = e.properties.start_date_time.as_deref().and_then(parse_time);
                grant.ends_at = e.properties.end_date_time.as_deref().and_then(parse_time);
                grant
            }),
    );
    grants
}

/// Lists and parses one PIM collection; a failure is a gap for this subscription.
async fn read(
    run: &Run<'_>,
    op: &str,
    url: &str,
    token: &str,
    sub: &str,
    what: &str,
) -> Vec<Resource> {
    match run.api.get_all(op, url, token, "nextLink").await {
        Ok(items) => items
            .into_iter()
            .filter_map(|i| serde_json::from_value(i).ok())
            .collect(),
        Err(err) => {
            run.gap(api_gap(sub, what, &err));
            Vec::new()
        }
    }
}

/// Role definition guid (lowercase) → role name.
async fn role_names(run: &Run<'_>, authz: &str, token: &str, sub: &str) -> HashMap<String, String> {
    let mut names: HashMap<String, String> = BUILTIN_ROLES
        .iter()
        .map(|(id, name)| (id.to_string(), name.to_string()))
        .collect();
    let url = format!("{authz}/roleDefinitions?{ROLE_API}");
    match run
        .api
        .get_all("arm.roleDefinitions.list", &url, token, "nextLink")
        .await
    {
        Ok(items) => {
            for item in items {
                let id = item.get("id").and_then(Value::as_str).map(last_segment);
                let name = item.pointer("/properties/roleName").and_then(Value::as_str);
                if let (Some(id), Some(name)) = (id, name) {
                    names.insert(id, name.to_string());
                }
            }
        }
        Err(err) => run.gap(api_gap(sub, "role definitions (custom role names)", &err)),
    }
    names
}

trait AsProperties {
    fn props(&self) -> Option<Properties>;
    fn id(&self) -> Option<&str>;
}

impl AsProperties for Value {
    fn props(&self) -> Option<Properties> {
        serde_json::from_value(self.get("properties")?.clone()).ok()
    }
    fn id(&self) -> Option<&str> {
        self.get("id").and_then(Value::as_str)
    }
}

impl Resource {
    fn properties_json(&self) -> Value {
        json!({
            "id": self.id,
            "properties": {
                "roleDefinitionId": self.properties.role_definition_id,
                "principalId": self.properties.principal_id,
                "principalType": self.properties.principal_type,
                "scope": self.properties.scope,
                "memberType": self.properties.member_type,
                "createdOn": self.properties.created_on,
            }
        })
    }
}

/// Machine identities only: a group holding Owner is a people problem for another tool.
fn is_service_principal(principal_type: Option<&str>) -> bool {
    principal_type == Some("ServicePrincipal")
}

fn grant(item: &Value, kind: &str, roles: &HashMap<String, String>, sub: &str) -> Grant {
    let props = item.props();
    let role_id = props
        .as_ref()
        .map(|p| p.role_definition_id.clone())
        .unwrap_or_default();
    let role = roles
        .get(&last_segment(&role_id))
        .cloned()
        .unwrap_or_else(|| last_segment(&role_id));
    let mut attributes = crate::inventory::Attributes::new();
    attributes.insert("role_definition_id".into(), json!(role_id));
    attributes.insert("subscription".into(), json!(sub));
    if let Some(p) = &props {
        attributes.insert("principal_type".into(), json!(p.principal_type));
        if let Some(condition) = &p.condition {
            attributes.insert("condition".into(), json!(condition));
        }
        if let Some(member_type) = &p.member_type {
            attributes.insert("member_type".into(), json!(member_type));
        }
    }
    Grant {
        provider: Provider::Azure,
        kind: kind.into(),
        id: item.id().unwrap_or_default().to_string(),
        principal_id: props
            .as_ref()
            .map(|p| p.principal_id.clone())
            .unwrap_or_default(),
        name: role.clone(),
        via: None,
        policy_id: None,
        document: None,
        role: Some(role),
        target: props.as_ref().map(|p| p.scope.clone()),
        starts_at: props
            .as_ref()
            .and_then(|p| p.created_on.as_deref())
            .and_then(parse_time),
        ends_at: None,
        description: props.and_then(|p| p.description),
        attributes,
    }
}

/// PIM schedule instances by the assignment they created, and by (principal, role, scope).
struct ScheduleIndex<'a> {
    by_origin: HashMap<String, &'a Resource>,
    by_key: HashMap<(String, String, String), &'a Resource>,
}

impl<'a> ScheduleIndex<'a> {
    fn new(instances: &'a [Resource]) -> Self {
        let mut index = ScheduleIndex {
            by_origin: HashMap::new(),
            by_key: HashMap::new(),
        };
        for instance in instances {
            let p = &instance.properties;
            if let Some(origin) = &p.origin_role_assignment_id {
                index
                    .by_origin
                    .insert(origin.to_ascii_lowercase(), instance);
            }
            index.by_key.insert(
                key(&p.principal_id, &p.role_definition_id, &p.scope),
                instance,
            );
        }
        index
    }

    /// Copies the PIM window and assignment type onto the role assignment it explains.
    fn apply(&self, assignment: &Value, grant: &mut Grant) {
        let by_origin = self.by_origin.get(&grant.id.to_ascii_lowercase());
        let by_key = || {
            let p = assignment.props()?;
            self.by_key
                .get(&key(&p.principal_id, &p.role_definition_id, &p.scope))
        };
        let Some(instance) = by_origin.or_else(by_key) else {
            return;
        };
        let p = &instance.properties;
        grant.ends_at = p.end_date_time.as_deref().and_then(parse_time);
        if let Some(start) = p.start_date_time.as_deref().and_then(parse_time) {
            grant.starts_at = Some(start);
        }
        grant
            .attributes
            .insert("pim_assignment_type".into(), json!(p.assignment_type));
        grant
            .attributes
            .insert("pim_schedule_instance_id".into(), json!(instance.id));
    }
}

fn key(principal: &str, role_definition_id: &str, scope: &str) -> (String, String, String) {
    (
        principal.to_ascii_lowercase(),
        last_segment(role_definition_id),
        scope.trim_end_matches('/').to_ascii_lowercase(),
    )
}

fn last_segment(id: &str) -> String {
    id.rsplit('/').next().unwrap_or(id).to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_definition_ids_match_across_scopes() {
        let a = key(
            "P",
            "/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/ABC",
            "/subscriptions/S/",
        );
        let b = key(
            "p",
            "/providers/Microsoft.Authorization/roleDefinitions/abc",
            "/subscriptions/s",
        );
        assert_eq!(a, b);
    }

    #[test]
    fn builtin_role_names_resolve_without_definitions() {
        let roles: HashMap<String, String> = BUILTIN_ROLES
            .iter()
            .map(|(id, name)| (id.to_string(), name.to_string()))
            .collect();
        let item = json!({"id": "/subscriptions/s/providers/Microsoft.Authorization/roleAssignments/x",
            "properties": {"roleDefinitionId": "/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
            "principalId": "p", "principalType": "ServicePrincipal", "scope": "/subscriptions/s"}});
        let grant = grant(&item, "role_assignment", &roles, "s");
        assert_eq!(grant.role.as_deref(), Some("Owner"));
        assert_eq!(grant.target.as_deref(), Some("/subscriptions/s"));
        assert!(is_service_principal(Some("ServicePrincipal")));
        assert!(!is_service_principal(Some("Group")));
    }
}
