//! Grant, Azure: a role for an object id at a scope, for the TTL. Preferred: a PIM
//! `roleAssignmentScheduleRequests` (AdminAssign) whose schedule ends at the expiry, so Azure
//! itself ends it. When ARM answers that PIM is not available for the scope (one of
//! [`PIM_UNAVAILABLE`]), a plain role assignment whose description carries
//! `[lapse:expires-at=…]` instead. The plan asks ARM first and says which; either way the ledger
//! gets a `role_assignment` line, so `revoke` removes it after the expiry (a PIM assignment that
//! Azure already ended is "already absent").
//!
//! Before anything else the assignee must exist: its object id is looked up in Microsoft Graph
//! (`--azure-graph-url`), and the plan names its type and display name; a 404 is a refusal with
//! nothing sent to ARM.
//!
//! The ledger is the source of truth. When the assignee already holds the role at the scope and
//! the ledger shows lapse issued that assignment, the grant extends it: through PIM, a schedule
//! request of type `AdminExtend` (Microsoft: "for administrators to extend expiring
//! assignments"; a lapse grant always ends within `max_ttl`) carrying the new end, since Azure
//! itself ends a PIM assignment; a marked assignment gets only the new ledger line (its
//! description keeps its first marker; the latest ledger line wins in `revoke` and `scan`). An
//! assignment with no ledger line is standing access and is refused.
//!
//! Order on apply: the fallback assignment's id is chosen by lapse, so its ledger line is
//! written before the PUT and taken back if the PUT fails (as for AWS). A PIM request's
//! assignment id exists only once ARM made it: its line follows the request, as an extension's
//! line follows ARM's acceptance of the extension.

use serde_json::{Value, json};

use super::{Common, Refused, record, text};
use crate::analyze::expiry::LedgerIndex;
use crate::cli::GrantArgs;
use crate::collect::azure::{AzureOptions, Tokens};
use crate::config::Config;
use crate::exit::Code;
use crate::inventory::{LedgerEntry, Provider, Timestamp};
use crate::render::terminal::clean;
use crate::revoke::Journal;
use crate::revoke::journal::Event;

const ROLE_API: &str = "2022-04-01";
const PIM_API: &str = "2020-10-01";
/// ARM error codes that mean "PIM is not available for this scope" (no Entra ID P2 licence,
/// a scope PIM does not manage): the grant falls back to a marked role assignment.
pub const PIM_UNAVAILABLE: [&str; 4] = [
    "AadPremiumLicenseRequired",
    "PimNotAvailable",
    "RoleAssignmentScheduleRequestNotSupported",
    "InvalidResourceType",
];

/// A validated Azure grant.
#[derive(Debug, Clone)]
pub struct RoleRequest {
    pub common: Common,
    pub assignee: String,
    pub role: String,
    /// Without a trailing slash.
    pub scope: String,
}

fn is_guid(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
        && parts
            .iter()
            .all(|p| p.bytes().all(|b| b.is_ascii_hexdigit()))
}

impl RoleRequest {
    pub fn validate(
        assignee: &str,
        role: &str,
        scope: &str,
        common: Common,
    ) -> Result<Self, Refused> {
        if !is_guid(assignee) {
            return Err(Refused(format!(
                "--assignee {:?} is not an object id (a GUID)",
                clean(assignee)
            )));
        }
        let role = text("--role", role)?;
        let scope = scope.trim_end_matches('/');
        let segments: Vec<&str> = scope.strip_prefix('/').unwrap_or("").split('/').collect();
        let shape_ok = segments.len() >= 2
            && segments[0].eq_ignore_ascii_case("subscriptions")
            && is_guid(segments[1])
            && segments
                .iter()
                .all(|s| crate::revoke::target::check_segment(s).is_ok());
        if !shape_ok {
            return Err(Refused(format!(
                "--scope {:?} must be /subscriptions/ID[/resourceGroups/NAME…]",
                clean(scope)
            )));
        }
        Ok(RoleRequest {
            common,
            assignee: assignee.to_ascii_lowercase(),
            role,
            scope: scope.to_string(),
        })
    }

    /// `reason [lapse:expires-at=…]`: the fallback assignment's description, the PIM
    /// request's justification.
    pub fn marked_description(&self) -> String {
        format!(
            "{} [{}={}]",
            self.common.reason,
            crate::analyze::expiry::EXPIRES_AT,
            self.common
                .expires_at()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )
    }

    fn authz(&self) -> String {
        format!("{}/providers/Microsoft.Authorization", self.scope)
    }
}

/// How the grant is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Pim,
    MarkedAssignment,
}

/// ARM (and the one Graph read) with the collector's HTTPS client and token chain. Tokens are
/// never printed.
struct Arm {
    http: reqwest::Client,
    base: String,
    tokens: Tokens,
    scope: String,
    graph_base: String,
    graph_scope: String,
}

impl Arm {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<(u16, Value), String> {
        self.send_to(false, method, path, query, body).await
    }

    /// `graph`: to Microsoft Graph instead of ARM.
    async fn send_to(
        &self,
        graph: bool,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<(u16, Value), String> {
        let (base, scope) = if graph {
            (&self.graph_base, &self.graph_scope)
        } else {
            (&self.base, &self.scope)
        };
        let token = self.tokens.token(scope).await?;
        let mut request = self
            .http
            .request(method.clone(), format!("{base}{path}"))
            .query(query)
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| format!("{method} {path}: {}", e.without_url()))?;
        let status = response.status().as_u16();
        let value = response.json().await.unwrap_or(Value::Null);
        Ok((status, value))
    }
}

fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

fn pim_unavailable(status: u16, body: &Value) -> bool {
    matches!(status, 400 | 403 | 404) && PIM_UNAVAILABLE.contains(&error_code(body))
}

/// GET `path` with an OData `$filter`; anything but 200 is a refusal naming the request.
async fn get_filtered(arm: &Arm, path: &str, filter: &str) -> Result<serde_json::Value, Refused> {
    let (status, body) = arm
        .send(
            reqwest::Method::GET,
            path,
            &[("$filter", filter), ("api-version", ROLE_API)],
            None,
        )
        .await
        .map_err(Refused)?;
    if status != 200 {
        return Err(Refused(format!(
            "GET {}: HTTP {status} {}",
            clean(path),
            clean(error_code(&body))
        )));
    }
    Ok(body)
}

/// The role definition id of `role` at the scope.
async fn role_definition(arm: &Arm, request: &RoleRequest) -> Result<String, Refused> {
    let path = format!("{}/roleDefinitions", request.authz());
    let filter = format!("roleName eq '{}'", request.role.replace('\'', "''"));
    let body = get_filtered(arm, &path, &filter).await?;
    body["value"]
        .as_array()
        .and_then(|v| v.first())
        .and_then(|d| d["id"].as_str())
        .map(str::to_string)
        .ok_or_else(|| {
            Refused(format!(
                "no role named {:?} at {}",
                clean(&request.role),
                clean(&request.scope)
            ))
        })
}

fn last_segment(id: &str) -> String {
    id.rsplit('/').next().unwrap_or(id).to_ascii_lowercase()
}

/// The assignee as the directory knows it.
struct Principal {
    /// `servicePrincipal`, `user`, `group`… (`@odata.type` without its namespace).
    kind: String,
    /// Attacker-controlled: escaped wherever shown.
    name: String,
}

/// Looks the assignee up by object id in Microsoft Graph: it must exist before anything is
/// changed. Anything but 200 is a refusal.
async fn directory_object(
    arm: &Arm,
    request: &RoleRequest,
    tenant: &str,
) -> Result<Principal, Refused> {
    let path = format!("/v1.0/directoryObjects/{}", request.assignee);
    let (status, body) = arm
        .send_to(true, reqwest::Method::GET, &path, &[], None)
        .await
        .map_err(Refused)?;
    match status {
        200 => Ok(Principal {
            kind: body["@odata.type"]
                .as_str()
                .map(|t| t.trim_start_matches("#microsoft.graph.").to_string())
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| "object".into()),
            name: body["displayName"].as_str().unwrap_or_default().to_string(),
        }),
        404 => Err(Refused(format!(
            "object {} does not exist in the directory of tenant {} (Microsoft Graph answered \
             404 to GET {path}): nothing is changed",
            request.assignee,
            clean(tenant)
        ))),
        status => Err(Refused(format!(
            "GET {path}: HTTP {status} {}: the assignee could not be confirmed, nothing is changed",
            clean(error_code(&body))
        ))),
    }
}

/// An assignment the assignee holds.
#[derive(Debug, Clone)]
struct Held {
    id: String,
    description: Option<String>,
}

/// The assignee's assignments of this role at exactly this scope.
async fn assignments(
    arm: &Arm,
    request: &RoleRequest,
    role_id: &str,
) -> Result<Vec<Held>, Refused> {
    let path = format!("{}/roleAssignments", request.authz());
    let filter = format!("principalId eq '{}'", request.assignee);
    let body = get_filtered(arm, &path, &filter).await?;
    let wanted = last_segment(role_id);
    Ok(body["value"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| {
            let p = &a["properties"];
            last_segment(p["roleDefinitionId"].as_str().unwrap_or_default()) == wanted
                && p["scope"]
                    .as_str()
                    .unwrap_or_default()
                    .trim_end_matches('/')
                    .eq_ignore_ascii_case(&request.scope)
        })
        .filter_map(|a| {
            Some(Held {
                id: a["id"].as_str()?.to_string(),
                description: a["properties"]["description"].as_str().map(str::to_string),
            })
        })
        .collect())
}

/// The held assignment the ledger shows lapse issued, with its latest expiry; refuses standing
/// access (held, with no ledger line).
fn issued_by_lapse(
    request: &RoleRequest,
    held: &[Held],
    ledger: &[LedgerEntry],
) -> Result<Option<(Held, Timestamp)>, Refused> {
    if held.is_empty() {
        return Ok(None);
    }
    let index = LedgerIndex::new(ledger);
    held.iter()
        .find_map(|h| {
            index
                .line(Provider::Azure, "role_assignment", &h.id)
                .map(|line| Some((h.clone(), line.expires_at)))
        })
        .ok_or_else(|| {
            Refused(format!(
                "{} already holds {} at {} and the ledger has no line for it: that is standing \
                 access, and a provisional grant of it would make `lapse revoke` remove it later",
                request.assignee,
                clean(&request.role),
                clean(&request.scope)
            ))
        })
}

/// Asks ARM whether PIM manages the scope (its schedule instances can be listed).
async fn probe_pim(arm: &Arm, request: &RoleRequest) -> Result<Via, Refused> {
    let path = format!("{}/roleAssignmentScheduleInstances", request.authz());
    let (status, body) = arm
        .send(
            reqwest::Method::GET,
            &path,
            &[("$filter", "atScope()"), ("api-version", PIM_API)],
            None,
        )
        .await
        .map_err(Refused)?;
    match status {
        200 => Ok(Via::Pim),
        _ if pim_unavailable(status, &body) => Ok(Via::MarkedAssignment),
        _ => Err(Refused(format!(
            "GET {}: HTTP {status} {}",
            clean(&path),
            clean(error_code(&body))
        ))),
    }
}

fn ledger_entry(request: &RoleRequest, tenant: &str, assignment_id: &str) -> LedgerEntry {
    let mut entry = LedgerEntry::new(
        Provider::Azure,
        "role_assignment",
        assignment_id,
        request.common.expires_at(),
    );
    entry.principal_id = Some(request.assignee.clone());
    entry.account = Some(tenant.to_string());
    entry.principal_unique_id = Some(request.assignee.clone());
    request.common.stamp(&mut entry);
    entry
}

pub async fn run(
    args: &GrantArgs,
    config: &Config,
    request: &RoleRequest,
    ledger: &[LedgerEntry],
) -> anyhow::Result<Code> {
    let sources = super::command::client_sources(args);
    let options = AzureOptions::from_args(&sources, config.azure.as_ref())?;
    let arm = Arm {
        http: crate::collect::azure::http_client(&options)?,
        base: options.arm_url.trim_end_matches('/').to_string(),
        tokens: Tokens::from_environment(options.credential, &options.tenant),
        scope: options.arm_scope(),
        graph_base: options.graph_url.trim_end_matches('/').to_string(),
        graph_scope: options.graph_scope(),
    };
    // Scope: a role that is admin (per the analysis' role privilege) is refused unless
    // --allow-admin, before any request.
    if crate::analyze::azure::role_privilege(&request.role) == crate::analyze::Privilege::Admin
        && !args.allow_admin
    {
        return Err(Refused(format!(
            "role {} is admin: refused unless --allow-admin (expiry alone does not make admin \
             safe)",
            clean(&request.role)
        ))
        .into());
    }
    let principal = directory_object(&arm, request, &options.tenant).await?;
    let role_id = role_definition(&arm, request).await?;
    let held = assignments(&arm, request, &role_id).await?;
    let issued = issued_by_lapse(request, &held, ledger)?;
    // A marked assignment says so in its description; anything else is extended as PIM
    // manages the scope.
    let marked = issued.as_ref().is_some_and(|(h, _)| {
        h.description
            .as_deref()
            .and_then(crate::analyze::expiry::find_in_text)
            .is_some()
    });
    let via = if marked {
        Via::MarkedAssignment
    } else {
        probe_pim(&arm, request).await?
    };
    let head = plan_head(
        args.apply,
        request,
        &options.tenant,
        &principal,
        &role_id,
        via,
    );
    if let Some((held, previous)) = issued {
        let extension = Extension {
            arm: &arm,
            tenant: &options.tenant,
            role_id: &role_id,
            held,
            previous,
            via,
        };
        return extension.run(args, request, head).await;
    }
    let name = uuid::Uuid::new_v4().to_string();
    let expires = request
        .common
        .expires_at()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let pim_path = format!("{}/roleAssignmentScheduleRequests/{name}", request.authz());
    let pim_body = json!({ "properties": {
        "principalId": request.assignee,
        "roleDefinitionId": role_id,
        "requestType": "AdminAssign",
        "justification": request.marked_description(),
        "scheduleInfo": {
            "startDateTime": request.common.now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "expiration": { "type": "AfterDateTime", "endDateTime": expires },
        },
    }});
    let assignment_id = format!("{}/roleAssignments/{name}", request.authz());
    let assignment_body = json!({ "properties": {
        "principalId": request.assignee,
        "roleDefinitionId": role_id,
        "description": request.marked_description(),
    }});
    let pim_call = format!("PUT {pim_path}?api-version={PIM_API} (AdminAssign, ends {expires})");
    let assignment_call = format!(
        "PUT {assignment_id}?api-version={ROLE_API} description={:?}",
        request.marked_description()
    );
    let mut out = head;
    let call = match via {
        Via::Pim => &pim_call,
        Via::MarkedAssignment => &assignment_call,
    };
    out.push_str(&format!("  call 1:   {}\n", clean(call)));
    out.push_str(&format!(
        "  ledger:   {} gets a role_assignment line for the assignment made\n",
        clean(&request.common.ledger.display().to_string())
    ));
    print!("{out}");
    if !args.apply {
        return Ok(Code::Clean);
    }
    let mut journal = Journal::open(&args.journal)?;
    let common = &request.common;
    let mut log = record::Log {
        journal: &mut journal,
        common,
        grant_id: format!("{}#{}", request.assignee, role_id),
        provider: Provider::Azure,
        account: Some(options.tenant.clone()),
        unique_id: Some(request.assignee.clone()),
    };
    let principal =
        json!({ "object_id": request.assignee, "role": request.role, "scope": request.scope });
    log.request_and_approval(principal)?;
    let mut via = via;
    if via == Via::Pim {
        let result = arm
            .send(
                reqwest::Method::PUT,
                &pim_path,
                &[("api-version", PIM_API)],
                Some(&pim_body),
            )
            .await;
        match result {
            Ok((200 | 201, _)) => {
                // The assignment PIM made: its id goes into the ledger.
                let made = assignments(&arm, request, &role_id)
                    .await
                    .unwrap_or_default();
                let id = made
                    .first()
                    .map(|h| h.id.clone())
                    .unwrap_or_else(|| assignment_id.clone());
                let entry = ledger_entry(request, &options.tenant, &id);
                crate::revoke::ledger::append(&common.ledger, &entry)?;
                log.grant_id = format!("{}#{id}", request.assignee);
                let detail = json!({ "calls": [pim_call], "via": "pim", "ledger": entry });
                log.append(Event::Issued, None, detail, None)?;
                super::command::print_done("granted through PIM", common, log.journal);
                return Ok(Code::Clean);
            }
            Ok((status, body)) if pim_unavailable(status, &body) => {
                eprintln!(
                    "note: ARM answered {} to the PIM request: falling back to a marked role \
                     assignment",
                    clean(error_code(&body))
                );
                via = Via::MarkedAssignment;
            }
            Ok((status, body)) => {
                let error = format!("PUT {pim_path}: HTTP {status} {}", error_code(&body));
                return failed(&mut log, json!({ "calls": [pim_call] }), &error);
            }
            Err(error) => return failed(&mut log, json!({ "calls": [pim_call] }), &error),
        }
    }
    debug_assert_eq!(via, Via::MarkedAssignment);
    let entry = ledger_entry(request, &options.tenant, &assignment_id);
    let before = crate::revoke::ledger::append(&common.ledger, &entry)?;
    log.grant_id = format!("{}#{assignment_id}", request.assignee);
    let result = arm
        .send(
            reqwest::Method::PUT,
            &assignment_id,
            &[("api-version", ROLE_API)],
            Some(&assignment_body),
        )
        .await;
    let error = match result {
        Ok((200 | 201, _)) => None,
        Ok((status, body)) => Some(format!(
            "PUT {assignment_id}: HTTP {status} {}",
            error_code(&body)
        )),
        Err(error) => Some(error),
    };
    if let Some(error) = error {
        crate::revoke::ledger::truncate(&common.ledger, before)?;
        return failed(&mut log, json!({ "calls": [assignment_call] }), &error);
    }
    let detail = json!({ "calls": [assignment_call], "via": "role_assignment", "ledger": entry });
    log.append(Event::Issued, None, detail, None)?;
    super::command::print_done("granted", common, log.journal);
    Ok(Code::Clean)
}

fn failed(log: &mut record::Log<'_>, detail: Value, error: &str) -> anyhow::Result<Code> {
    log.failed(detail, error)?;
    eprintln!(
        "error: the role was not granted ({}); nothing was recorded as granted",
        clean(error)
    );
    Ok(Code::Findings)
}

/// What, to whom, how and until when: the start of every Azure plan.
fn plan_head(
    apply: bool,
    request: &RoleRequest,
    tenant: &str,
    principal: &Principal,
    role_id: &str,
    via: Via,
) -> String {
    let mut out = super::print::heading(apply);
    out.push_str(&format!(
        "  to:       {} {} (object {}) in tenant {}\n",
        clean(&principal.kind),
        clean(&principal.name),
        request.assignee,
        clean(tenant)
    ));
    out.push_str(&format!(
        "  grant:    role {} ({}) at {}\n",
        clean(&request.role),
        clean(role_id),
        clean(&request.scope)
    ));
    out.push_str(&match via {
        Via::Pim => {
            "  via:      PIM schedule request with an end time (Azure ends it itself)\n".to_string()
        }
        Via::MarkedAssignment => format!(
            "  via:      role assignment with the marker in its description (ARM says PIM is not \
             available for {}, or the assignment lapse made carries it)\n",
            clean(&request.scope)
        ),
    });
    out.push_str(&super::print::common_lines(&request.common));
    out
}

/// Extending the assignment lapse issued (its latest ledger line until `previous`).
struct Extension<'a> {
    arm: &'a Arm,
    tenant: &'a str,
    role_id: &'a str,
    held: Held,
    previous: Timestamp,
    via: Via,
}

impl Extension<'_> {
    async fn run(
        self,
        args: &GrantArgs,
        request: &RoleRequest,
        mut out: String,
    ) -> anyhow::Result<Code> {
        let common = &request.common;
        let entry = ledger_entry(request, self.tenant, &self.held.id);
        let line = serde_json::to_string(&entry)?;
        let expires = common
            .expires_at()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let path = format!(
            "{}/roleAssignmentScheduleRequests/{}",
            request.authz(),
            uuid::Uuid::new_v4()
        );
        let body = json!({ "properties": {
            "principalId": request.assignee,
            "roleDefinitionId": self.role_id,
            "requestType": "AdminExtend",
            "justification": request.marked_description(),
            "scheduleInfo": {
                "startDateTime": common.now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "expiration": { "type": "AfterDateTime", "endDateTime": expires },
            },
        }});
        let calls: Vec<String> = match self.via {
            Via::Pim => vec![format!(
                "PUT {path}?api-version={PIM_API} (AdminExtend, ends {expires})"
            )],
            Via::MarkedAssignment => Vec::new(),
        };
        out.push_str(&format!(
            "  extends:  the assignment lapse issued, {} (ledger until {})\n",
            clean(&self.held.id),
            self.previous
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ));
        match calls.first() {
            Some(call) => out.push_str(&format!("  call 1:   {}\n", clean(call))),
            None => out.push_str(
                "  calls:    none: its description keeps its first marker, the ledger's new line \
                 wins\n",
            ),
        }
        out.push_str(&super::print::ledger_lines(common, &line));
        print!("{out}");
        if !args.apply {
            return Ok(Code::Clean);
        }
        let mut journal = Journal::open(&args.journal)?;
        let mut log = record::Log {
            journal: &mut journal,
            common,
            grant_id: format!("{}#{}", request.assignee, self.held.id),
            provider: Provider::Azure,
            account: Some(self.tenant.to_string()),
            unique_id: Some(request.assignee.clone()),
        };
        let principal =
            json!({ "object_id": request.assignee, "role": request.role, "scope": request.scope });
        log.request_and_approval(principal)?;
        if self.via == Via::Pim {
            let result = self
                .arm
                .send(
                    reqwest::Method::PUT,
                    &path,
                    &[("api-version", PIM_API)],
                    Some(&body),
                )
                .await;
            let error = match result {
                Ok((200 | 201, _)) => None,
                Ok((status, body)) => {
                    Some(format!("PUT {path}: HTTP {status} {}", error_code(&body)))
                }
                Err(error) => Some(error),
            };
            if let Some(error) = error {
                // Not extended: the ledger keeps the expiry Azure still enforces.
                return failed(&mut log, json!({ "calls": calls }), &error);
            }
        }
        crate::revoke::ledger::append(&common.ledger, &entry)?;
        let via = match self.via {
            Via::Pim => "pim",
            Via::MarkedAssignment => "role_assignment",
        };
        let detail = json!({
            "calls": calls,
            "via": via,
            "ledger": entry,
            "previous_expires_at": self.previous,
        });
        log.append(Event::Extended, None, detail, None)?;
        super::command::print_done("extended", common, log.journal);
        Ok(Code::Clean)
    }
}
