//! Collect, AWS: translation of authorization details and the credential report into the
//! inventory (shared by the offline reader and the live collector).
//!
//! Users inherit their groups' policies (the group of that name in the user's own account) as
//! grants with `via = <group name>`; a permissions
//! boundary is a grant of kind `permissions_boundary` (applied by `analyze::aws`; one whose
//! document the details lack is a coverage gap); tags become
//! principal tags. Report rows join users by ARN; a report row without a user in the details
//! (or the `<root_account>` row) is still a principal, with what the report says.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use rayon::prelude::*;

use crate::hash::{FastMap, FastSet};
use serde_json::json;

use super::attr;
use super::credential_report::{CredentialReport, CredentialReportRow};
use super::details::{
    AttachedPolicy, AuthorizationDetails, GroupDetail, InlinePolicy, ListedAccessKey,
    ManagedPolicyDetail, PermissionsBoundary, RoleDetail, Tag, UserDetail, account_of_arn,
};
use crate::collect::repo::KEY_ID_SHA256;
use crate::collect::repo::secrets::{aws_account_of_key_id, key_id_digest, last_four};
use crate::inventory::{
    Attributes, CoverageGap, Credential, Document, Grant, Inventory, LastUsed, Policy, Principal,
    Provider, SourceRun,
};

/// Builds the inventory fragment of one or more accounts. `source` is recorded as is (its
/// `source` name is also the coverage gaps' source).
pub fn to_inventory(
    mut details: AuthorizationDetails,
    report: Option<CredentialReport>,
    source: SourceRun,
) -> Inventory {
    details.dedup();
    // Documents move into the inventory rather than being copied: on a large estate the
    // parsed details and the inventory would otherwise both hold every document at once.
    let documents: Vec<Option<Document>> = details
        .policies
        .iter_mut()
        .map(take_default_document)
        .collect();
    let builder = || Builder::new(source.started_at, &source.source);
    let known_policies: FastSet<&str> = details.policies.iter().map(|p| p.arn.as_str()).collect();
    // A user's GroupList names groups of its own account: joined by (account, name), never by
    // name alone, or a second account's group of the same name would stand in for it.
    let groups: FastMap<(&str, &str), &GroupDetail> = details
        .group_detail_list
        .iter()
        .map(|g| {
            (
                (
                    account_of_arn(&g.arn).unwrap_or_default(),
                    g.group_name.as_str(),
                ),
                g,
            )
        })
        .collect();
    // ListAccessKeys names the user but not the account: the key id encodes it.
    let mut listed_keys: FastMap<(String, &str), Vec<&ListedAccessKey>> = FastMap::default();
    for key in &details.access_keys {
        let account = aws_account_of_key_id(&key.access_key_id).unwrap_or_default();
        listed_keys
            .entry((account, key.user_name.as_str()))
            .or_default()
            .push(key);
    }
    let rows = report.map(|r| r.rows).unwrap_or_default();
    // The last row of an ARN, as a map built in report order keeps it.
    let rows_by_arn: FastMap<&str, &CredentialReportRow> =
        rows.iter().map(|r| (r.arn.as_str(), r)).collect();

    let mut policies = builder();
    for (policy, document) in details.policies.iter().zip(documents) {
        policies.policy(policy, document);
    }
    // Principals are independent of each other: translated in parallel, in pieces that are
    // joined in order, so the inventory is the same as a sequential pass would make.
    let users: Vec<Builder> = details
        .user_detail_list
        .par_chunks(CHUNK)
        .map(|chunk| {
            let mut out = builder();
            for user in chunk {
                let row = rows_by_arn.get(user.arn.as_str()).copied();
                out.user(user, row, &groups, &known_policies);
                let account = account_of_arn(&user.arn).unwrap_or_default().to_string();
                if let Some(keys) = listed_keys.get(&(account, user.user_name.as_str())) {
                    out.listed_keys(&user.arn, keys);
                }
            }
            out
        })
        .collect();
    let roles: Vec<Builder> = details
        .role_detail_list
        .par_chunks_mut(CHUNK)
        .map(|chunk| {
            let mut out = builder();
            for role in chunk {
                out.role(role, &known_policies);
            }
            out
        })
        .collect();
    // Report rows left over, in report order: the root account and users the details lack.
    let mut rest = builder();
    let user_arns: FastSet<&str> = details
        .user_detail_list
        .iter()
        .map(|u| u.arn.as_str())
        .collect();
    let mut seen = FastSet::default();
    for row in &rows {
        if !user_arns.contains(row.arn.as_str()) && seen.insert(row.arn.as_str()) {
            rest.report_only(row);
        }
    }
    let user_names: FastSet<(String, &str)> = details
        .user_detail_list
        .iter()
        .map(|u| {
            let account = account_of_arn(&u.arn).unwrap_or_default().to_string();
            (account, u.user_name.as_str())
        })
        .collect();
    let mut orphans: Vec<(&(String, &str), &Vec<&ListedAccessKey>)> = listed_keys
        .iter()
        .filter(|(user, _)| !user_names.contains(*user))
        .collect();
    orphans.sort_by(|a, b| a.0.cmp(b.0));
    for ((account, user), keys) in orphans {
        for key in keys {
            let what = format!(
                "access key …{} of user {user} in account {account}",
                last_four(&key.access_key_id)
            );
            let arn = format!("arn:aws:iam::{account}:user/{user}");
            rest.gap(&arn, what, "the user is not in the authorization details");
        }
    }
    let parts = std::iter::once(policies)
        .chain(users)
        .chain(roles)
        .chain(std::iter::once(rest))
        .collect();
    let mut inventory = Builder::join(parts, source.started_at);
    inventory.sources.push(source);
    // Hundreds of thousands of small allocations: freed beside the next stage.
    crate::release((details, rows));
    inventory
}

/// Principals per piece of parallel translation.
const CHUNK: usize = 4096;

/// Takes the default version's document out of a managed policy (see `default_version`).
fn take_default_document(policy: &mut ManagedPolicyDetail) -> Option<Document> {
    let default = policy.default_version()?;
    let at = policy
        .policy_version_list
        .iter()
        .position(|v| std::ptr::eq(v, default))?;
    policy.policy_version_list[at].document.take().map(|d| d.0)
}

struct Builder {
    inventory: Inventory,
    source: String,
    gap_keys: HashSet<String>,
}

impl Builder {
    fn new(started_at: crate::inventory::Timestamp, source: &str) -> Self {
        Builder {
            inventory: Inventory::new(started_at),
            source: source.to_string(),
            gap_keys: HashSet::new(),
        }
    }

    /// The pieces' inventories, in order, each list allocated once; a gap found by several
    /// pieces is kept once, where it was first found.
    ///
    /// Each list has room for a few more entries than it holds: the sources merged after this
    /// one (the organization's SCPs and their grants, a repository) are small, and without the
    /// room merging them would move the whole list (a million grants on a large estate). Room
    /// that is never written costs address space only, not memory.
    fn join(parts: Vec<Builder>, started_at: crate::inventory::Timestamp) -> Inventory {
        fn join_list<T>(
            parts: &mut [Builder],
            list: impl Fn(&mut Inventory) -> &mut Vec<T>,
        ) -> Vec<T> {
            let total: usize = parts.iter_mut().map(|p| list(&mut p.inventory).len()).sum();
            let mut all = Vec::with_capacity(total + total / 32 + 64);
            for part in parts.iter_mut() {
                all.append(list(&mut part.inventory));
            }
            all
        }
        let mut parts = parts;
        let mut inventory = Inventory::new(started_at);
        inventory.policies = join_list(&mut parts, |i| &mut i.policies);
        inventory.principals = join_list(&mut parts, |i| &mut i.principals);
        inventory.credentials = join_list(&mut parts, |i| &mut i.credentials);
        inventory.grants = join_list(&mut parts, |i| &mut i.grants);
        inventory.trusts = join_list(&mut parts, |i| &mut i.trusts);
        let mut seen = HashSet::new();
        inventory.coverage_gaps = join_list(&mut parts, |i| &mut i.coverage_gaps);
        inventory
            .coverage_gaps
            .retain(|gap| seen.insert(gap.what.clone()));
        inventory
    }

    fn gap(&mut self, arn: &str, what: String, reason: &str) {
        if self.gap_keys.insert(what.clone()) {
            self.inventory.coverage_gaps.push(CoverageGap {
                source: self.source.clone(),
                scope: account_of_arn(arn).unwrap_or_default().to_string(),
                what,
                reason: reason.to_string(),
                request: None,
            });
        }
    }

    fn policy(&mut self, policy: &ManagedPolicyDetail, document: Option<Document>) {
        if document.is_none() {
            let what = format!("policy document of {}", policy.arn);
            self.gap(
                &policy.arn,
                what,
                "no default policy version in the authorization details",
            );
        }
        let mut attributes = Attributes::new();
        insert_opt(&mut attributes, "path", policy.path.as_deref());
        insert_opt(&mut attributes, "policy_id", policy.policy_id.as_deref());
        insert_opt(
            &mut attributes,
            "default_version_id",
            policy.default_version_id.as_deref(),
        );
        if let Some(count) = policy.attachment_count {
            attributes.insert("attachment_count".into(), json!(count));
        }
        self.inventory.policies.push(Policy {
            provider: Provider::Aws,
            id: policy.arn.clone(),
            name: policy.name().to_string(),
            document: document.unwrap_or_default(),
            provider_managed: is_aws_managed(&policy.arn),
            attributes,
        });
    }

    fn user(
        &mut self,
        user: &UserDetail,
        row: Option<&CredentialReportRow>,
        groups: &FastMap<(&str, &str), &GroupDetail>,
        known: &FastSet<&str>,
    ) {
        let mut principal = principal(
            "user",
            &user.arn,
            &user.user_name,
            user.path.as_deref(),
            &user.tags,
        );
        principal.created_at = user.create_date;
        insert_opt(
            &mut principal.attributes,
            attr::USER_ID,
            user.user_id.as_deref(),
        );
        principal
            .attributes
            .insert(attr::GROUPS.into(), json!(user.group_list));
        self.grants(
            &user.arn,
            &user.attached_managed_policies,
            &user.user_policy_list,
            None,
            known,
        );
        self.boundary(&user.arn, user.permissions_boundary.as_ref(), known);
        let account = account_of_arn(&user.arn).unwrap_or_default();
        for group_name in &user.group_list {
            match groups.get(&(account, group_name.as_str())) {
                Some(group) => {
                    let via = Some(*group);
                    self.grants(
                        &user.arn,
                        &group.attached_managed_policies,
                        &group.group_policy_list,
                        via,
                        known,
                    );
                }
                None => {
                    let what = format!("group {group_name} of {}", user.arn);
                    self.gap(
                        &user.arn,
                        what,
                        "the group is not in the authorization details",
                    );
                }
            }
        }
        if let Some(row) = row {
            self.apply_report(&mut principal, row);
        }
        self.inventory.principals.push(principal);
    }

    fn role(&mut self, role: &mut RoleDetail, known: &FastSet<&str>) {
        let mut principal = principal(
            "role",
            &role.arn,
            &role.role_name,
            role.path.as_deref(),
            &role.tags,
        );
        principal.created_at = role.create_date;
        principal.description = role.description.clone();
        let last_used = role.role_last_used.as_ref();
        principal.last_used = last_used
            .and_then(|u| u.last_used_date)
            .map_or(LastUsed::Never, LastUsed::At);
        insert_opt(
            &mut principal.attributes,
            attr::ROLE_ID,
            role.role_id.as_deref(),
        );
        insert_opt(
            &mut principal.attributes,
            attr::LAST_USED_REGION,
            last_used.and_then(|u| u.region.as_deref()),
        );
        if let Some(seconds) = role.max_session_duration {
            principal
                .attributes
                .insert(attr::MAX_SESSION_DURATION.into(), json!(seconds));
        }
        self.grants(
            &role.arn,
            &role.attached_managed_policies,
            &role.role_policy_list,
            None,
            known,
        );
        self.boundary(&role.arn, role.permissions_boundary.as_ref(), known);
        if let Some(document) = role.assume_role_policy_document.take() {
            self.inventory.trusts.push(crate::inventory::Trust {
                provider: Provider::Aws,
                kind: "assume_role_policy".into(),
                principal_id: role.arn.clone(),
                document: Some(document.0),
                issuer: None,
                subject: None,
                audiences: Vec::new(),
            });
        }
        self.inventory.principals.push(principal);
    }

    /// A principal known only from the report: `<root_account>`, or a user the details lack.
    fn report_only(&mut self, row: &CredentialReportRow) {
        let (kind, name) = if row.is_root() {
            ("root", "root")
        } else {
            ("user", row.user.as_str())
        };
        let mut principal = principal(kind, &row.arn, name, None, &[]);
        principal.created_at = row.user_creation_time;
        self.apply_report(&mut principal, row);
        self.inventory.principals.push(principal);
    }

    fn apply_report(&mut self, principal: &mut Principal, row: &CredentialReportRow) {
        principal.created_at = principal.created_at.or(row.user_creation_time);
        let attributes = &mut principal.attributes;
        if let Some(enabled) = row.password_enabled {
            attributes.insert(attr::PASSWORD_ENABLED.into(), json!(enabled));
        }
        attributes.insert(attr::MFA_ACTIVE.into(), json!(row.mfa_active));
        attributes.insert(
            attr::PASSWORD_LAST_USED.into(),
            json!(row.password_last_used),
        );
        if let Some(changed) = row.password_last_changed {
            attributes.insert(attr::PASSWORD_LAST_CHANGED.into(), json!(changed));
        }
        let mut uses = vec![row.password_last_used];
        for (slot, key) in (1u8..).zip(&row.access_keys).filter(|(_, k)| k.exists()) {
            uses.push(key.last_used);
            let mut credential =
                credential(principal, "access_key", slot, key.active, key.last_rotated);
            credential.last_used = key.last_used;
            insert_opt(
                &mut credential.attributes,
                attr::LAST_USED_SERVICE,
                key.last_used_service.as_deref(),
            );
            insert_opt(
                &mut credential.attributes,
                attr::LAST_USED_REGION,
                key.last_used_region.as_deref(),
            );
            self.inventory.credentials.push(credential);
        }
        for (slot, cert) in (1u8..).zip(&row.certs).filter(|(_, c)| c.exists()) {
            let credential = credential(
                principal,
                "signing_certificate",
                slot,
                cert.active,
                cert.last_rotated,
            );
            self.inventory.credentials.push(credential);
        }
        principal.last_used = most_recent(&uses);
    }

    /// Joins `aws iam list-access-keys` entries to the user's keys: the report's slot created
    /// at the same second, else a key of its own. Writes the id's digest and last four, the
    /// listed status and what GetAccessKeyLastUsed said; never the id.
    fn listed_keys(&mut self, user_arn: &str, keys: &[&ListedAccessKey]) {
        let Some(owner) = self
            .inventory
            .principals
            .iter()
            .rev()
            .find(|p| p.id == user_arn)
            .cloned()
        else {
            return;
        };
        for key in keys {
            let second = |t: crate::inventory::Timestamp| t.timestamp();
            let slot = self.inventory.credentials.iter_mut().rev().find(|c| {
                c.kind == "access_key"
                    && c.principal_id.as_deref() == Some(user_arn)
                    && !c.attributes.contains_key(KEY_ID_SHA256)
                    && c.rotated_at.map(second) == key.create_date.map(second)
            });
            let credential = match slot {
                Some(credential) => credential,
                None => {
                    let hint = last_four(&key.access_key_id);
                    let mut listed = credential(&owner, "access_key", 0, true, key.create_date);
                    listed.id = format!("{}/access_key_{hint}", owner.id);
                    listed.name = format!("{} access key …{hint}", owner.name);
                    listed.attributes.remove(attr::SLOT);
                    self.inventory.credentials.push(listed);
                    self.inventory.credentials.last_mut().expect("just pushed")
                }
            };
            credential.attributes.insert(
                KEY_ID_SHA256.into(),
                json!(key_id_digest(&key.access_key_id)),
            );
            credential.hint = Some(last_four(&key.access_key_id));
            if let Some(status) = &key.status {
                credential.active = status.eq_ignore_ascii_case("active");
                credential
                    .attributes
                    .insert(attr::KEY_STATUS.into(), json!(status));
            }
            if let Some(used) = &key.last_used {
                credential.last_used = match used.at {
                    Some(at) => LastUsed::At(at),
                    None => LastUsed::Never,
                };
                insert_opt(
                    &mut credential.attributes,
                    attr::LAST_USED_SERVICE,
                    used.service.as_deref().filter(|s| *s != "N/A"),
                );
                insert_opt(
                    &mut credential.attributes,
                    attr::LAST_USED_REGION,
                    used.region.as_deref().filter(|s| *s != "N/A"),
                );
            }
        }
    }

    fn grants(
        &mut self,
        principal_arn: &str,
        managed: &[AttachedPolicy],
        inline: &[InlinePolicy],
        via: Option<&GroupDetail>,
        known: &FastSet<&str>,
    ) {
        let prefix = match via {
            Some(group) => format!("{principal_arn}|group:{}", group.group_name),
            None => principal_arn.to_string(),
        };
        for attached in managed {
            if !known.contains(attached.policy_arn.as_str()) {
                let what = format!("policy document of {}", attached.policy_arn);
                self.gap(
                    principal_arn,
                    what,
                    "attached, but not in the authorization details' Policies",
                );
            }
            let mut grant = grant(
                principal_arn,
                "managed_policy",
                format!("{prefix}|{}", attached.policy_arn),
                attached.name(),
                via,
            );
            grant.policy_id = Some(attached.policy_arn.clone());
            self.inventory.grants.push(grant);
        }
        for policy in inline {
            let id = format!("{prefix}|inline:{}", policy.policy_name);
            let mut grant = grant(principal_arn, "inline_policy", id, &policy.policy_name, via);
            grant.document = Some(policy.policy_document.0.clone());
            self.inventory.grants.push(grant);
        }
    }

    /// A boundary is a grant; one whose document the details lack is a coverage gap (once per
    /// boundary): it cannot be applied, so the principal's level may be overstated.
    fn boundary(
        &mut self,
        principal_arn: &str,
        boundary: Option<&PermissionsBoundary>,
        known: &FastSet<&str>,
    ) {
        let Some(boundary) = boundary else {
            return;
        };
        let arn = &boundary.permissions_boundary_arn;
        if !known.contains(arn.as_str()) {
            let reason = format!(
                "the permissions boundary of {principal_arn} (and any other principal it \
                 bounds), but not in the authorization details' Policies: not applied, so \
                 privilege may be overstated"
            );
            self.gap(principal_arn, format!("policy document of {arn}"), &reason);
        }
        let name = arn.rsplit('/').next().unwrap_or(arn);
        let mut grant = grant(
            principal_arn,
            "permissions_boundary",
            format!("{principal_arn}|boundary|{arn}"),
            name,
            None,
        );
        grant.policy_id = Some(arn.clone());
        self.inventory.grants.push(grant);
    }
}

fn principal(kind: &str, arn: &str, name: &str, path: Option<&str>, tags: &[Tag]) -> Principal {
    Principal {
        provider: Provider::Aws,
        kind: kind.to_string(),
        id: arn.to_string(),
        name: name.to_string(),
        scope: account_of_arn(arn).unwrap_or_default().to_string(),
        path: path.map(str::to_string),
        created_at: None,
        last_used: LastUsed::Unknown,
        tags: tags
            .iter()
            .map(|t| (t.key.clone(), t.value.clone()))
            .collect::<BTreeMap<_, _>>(),
        description: None,
        attributes: Attributes::new(),
    }
}

fn grant(
    principal_arn: &str,
    kind: &str,
    id: String,
    name: &str,
    via: Option<&GroupDetail>,
) -> Grant {
    let mut attributes = Attributes::new();
    if let Some(group) = via {
        attributes.insert(attr::GROUP_ARN.into(), json!(group.arn));
    }
    Grant {
        provider: Provider::Aws,
        kind: kind.to_string(),
        id,
        principal_id: principal_arn.to_string(),
        name: name.to_string(),
        via: via.map(|g| g.group_name.clone()),
        policy_id: None,
        document: None,
        role: None,
        target: None,
        starts_at: None,
        ends_at: None,
        description: None,
        attributes,
    }
}

/// A key or certificate slot: the report has no key ids, so the id is `<arn>/<kind>_<slot>`.
fn credential(
    owner: &Principal,
    kind: &str,
    slot: u8,
    active: bool,
    rotated_at: Option<crate::inventory::Timestamp>,
) -> Credential {
    let short = if kind == "access_key" {
        "access_key"
    } else {
        "cert"
    };
    let label = if kind == "access_key" {
        "access key"
    } else {
        "signing certificate"
    };
    let mut attributes = Attributes::new();
    attributes.insert(attr::SLOT.into(), json!(slot));
    Credential {
        provider: Provider::Aws,
        kind: kind.to_string(),
        id: format!("{}/{short}_{slot}", owner.id),
        name: format!("{} {label} {slot}", owner.name),
        principal_id: Some(owner.id.clone()),
        scope: owner.scope.clone(),
        active,
        created_at: None,
        rotated_at,
        expires_at: None,
        last_used: LastUsed::Unknown,
        hint: None,
        location: None,
        attributes,
    }
}

/// The latest known use; else `Unknown` if any is unknown; else `Never`.
pub fn most_recent(uses: &[LastUsed]) -> LastUsed {
    if let Some(latest) = uses.iter().filter_map(|u| u.at()).max() {
        return LastUsed::At(latest);
    }
    if uses.contains(&LastUsed::Unknown) {
        LastUsed::Unknown
    } else {
        LastUsed::Never
    }
}

/// `arn:<partition>:iam::aws:policy/...`: maintained by AWS.
fn is_aws_managed(arn: &str) -> bool {
    account_of_arn(arn) == Some("aws")
}

fn insert_opt(attributes: &mut Attributes, key: &str, value: Option<&str>) {
    if let Some(value) = value {
        attributes.insert(key.to_string(), json!(value));
    }
}

/// Account ids of the principals of an inventory (sorted): a source's scope.
pub fn accounts_of(inventory: &Inventory) -> BTreeSet<String> {
    inventory
        .principals
        .iter()
        .filter(|p| p.provider == Provider::Aws && !p.scope.is_empty())
        .map(|p| p.scope.clone())
        .collect()
}

#[cfg(test)]
#[path = "translate_tests.rs"]
mod tests;
