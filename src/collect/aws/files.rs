//! Collect, AWS offline: reads GetAccountAuthorizationDetails files (several pages, or a folder
//! of `*.json`), ListRoles and ListAccessKeys output among them, and credential reports (CSV or raw JSON) into an
//! inventory, with no network: the same three calls the live collector makes.

use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use super::AwsFilesError;
use super::credential_report::{CredentialReport, parse_credential_report};
use super::details::{
    AuthorizationDetails, GroupDetail, ListRoles, ListedAccessKey, ListedRole, ManagedPolicyDetail,
    RoleDetail, UserDetail,
};
use super::translate::{accounts_of, to_inventory};
use crate::inventory::{CoverageGap, Inventory, SourceRun};

/// Name of this source in scan metadata and coverage gaps.
pub const SOURCE: &str = "aws-offline";

/// One file as written by the CLI, told apart by content: GetAccountAuthorizationDetails has at
/// least one of its four lists, ListRoles has `Roles`. A file of another kind (a credential
/// report, `{}`) is refused rather than read as empty.
///
/// Read in two passes: the page with each entity left as raw JSON text (a quick scan that
/// checks the syntax of the whole file), then the entities, in parallel: a 160 MB export of
/// 200k identities took two seconds to parse on one core.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Page<'a> {
    #[serde(borrow)]
    user_detail_list: Option<Vec<&'a RawValue>>,
    #[serde(borrow)]
    group_detail_list: Option<Vec<&'a RawValue>>,
    #[serde(borrow)]
    role_detail_list: Option<Vec<&'a RawValue>>,
    #[serde(borrow)]
    policies: Option<Vec<&'a RawValue>>,
    #[serde(borrow)]
    roles: Option<Vec<&'a RawValue>>,
    #[serde(borrow)]
    access_key_metadata: Option<Vec<&'a RawValue>>,
}

/// Reads the offline files into one inventory fragment (source `aws-offline`, scope the
/// account ids, no API calls). Accounts with users but no credential report, and accounts in
/// a report but not in the details, are recorded as coverage gaps.
pub fn collect_files(details: &[PathBuf], reports: &[PathBuf]) -> Result<Inventory, AwsFilesError> {
    let started = Instant::now();
    let started_at = chrono::Utc::now();
    let files = expand(details)?;
    let mut merged = AuthorizationDetails::default();
    let mut list_roles = ListRoles::default();
    for file in &files {
        let (details, roles) = crate::timed("parse details", || read_details(file))?;
        merged.merge(details);
        list_roles.roles.extend(roles.roles);
    }
    merged.apply_list_roles(&list_roles);
    let mut report = CredentialReport::default();
    for file in expand(reports)? {
        let origin = crate::input::shown(&file);
        let part = crate::timed("parse credential report", || {
            parse_credential_report(&read(&file)?, &origin)
        })?;
        report.generated_at = report.generated_at.max(part.generated_at);
        report.rows.extend(part.rows);
    }
    let source = SourceRun {
        source: SOURCE.into(),
        scope: String::new(),
        started_at,
        duration_ms: 0,
        api_calls: Default::default(),
        attributes: Default::default(),
    };
    let have_report = !reports.is_empty();
    let detail_accounts = accounts_in_details(&merged);
    let report_accounts: std::collections::BTreeSet<String> = report
        .rows
        .iter()
        .filter_map(|r| super::details::account_of_arn(&r.arn).map(str::to_string))
        .collect();
    let user_accounts = accounts_with_users(&merged);
    let mut inventory = crate::timed("translate", || {
        to_inventory(merged, have_report.then_some(report), source)
    });
    for account in user_accounts.difference(&report_accounts) {
        inventory.coverage_gaps.push(gap(account, "credential report", "no --aws-credential-report covers this account: access keys, passwords and MFA were not assessed"));
    }
    for account in report_accounts.difference(&detail_accounts) {
        inventory.coverage_gaps.push(gap(
            account,
            "authorization details",
            "only a credential report covers this account: policies and roles were not assessed",
        ));
    }
    let scope: Vec<String> = accounts_of(&inventory).into_iter().collect();
    if let Some(run) = inventory.sources.last_mut() {
        run.scope = scope.join(",");
        run.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let names: Vec<String> = files.iter().map(|f| crate::input::shown(f)).collect();
        run.attributes
            .insert("files".into(), serde_json::json!(names));
    }
    Ok(inventory)
}

/// Parses one GetAccountAuthorizationDetails or ListRoles file.
pub fn read_details(path: &Path) -> Result<(AuthorizationDetails, ListRoles), AwsFilesError> {
    let text = read(path)?;
    parse_details(&text, &crate::input::shown(path))
}

/// Parses the text of one GetAccountAuthorizationDetails or ListRoles file; errors name
/// `origin` and the line and column.
pub fn parse_details(
    text: &[u8],
    origin: &str,
) -> Result<(AuthorizationDetails, ListRoles), AwsFilesError> {
    let page: Page = serde_json::from_slice(text).map_err(|e| AwsFilesError::json(origin, &e))?;
    if page.user_detail_list.is_none()
        && page.group_detail_list.is_none()
        && page.role_detail_list.is_none()
        && page.policies.is_none()
        && page.roles.is_none()
        && page.access_key_metadata.is_none()
    {
        return Err(AwsFilesError::invalid(
            origin,
            "neither GetAccountAuthorizationDetails output (UserDetailList, GroupDetailList, RoleDetailList, Policies) nor ListRoles output (Roles) nor ListAccessKeys output (AccessKeyMetadata)",
        ));
    }
    let entities = Entities { text, origin };
    let details = AuthorizationDetails {
        user_detail_list: entities.parse::<UserDetail>(page.user_detail_list)?,
        group_detail_list: entities.parse::<GroupDetail>(page.group_detail_list)?,
        role_detail_list: entities.parse::<RoleDetail>(page.role_detail_list)?,
        policies: entities.parse::<ManagedPolicyDetail>(page.policies)?,
        access_keys: entities.parse::<ListedAccessKey>(page.access_key_metadata)?,
    };
    let roles = ListRoles {
        roles: entities.parse::<ListedRole>(page.roles)?,
    };
    Ok((details, roles))
}

/// The entities of one file, as raw JSON text within it.
struct Entities<'a> {
    text: &'a [u8],
    origin: &'a str,
}

impl Entities<'_> {
    /// Parses each entity of a list, in parallel, in order. An error names the file, and the
    /// line and column in it, of the first entity in order that fails.
    fn parse<T: DeserializeOwned + Send>(
        &self,
        items: Option<Vec<&RawValue>>,
    ) -> Result<Vec<T>, AwsFilesError> {
        let Some(items) = items else {
            return Ok(Vec::new());
        };
        let parsed: Result<Vec<T>, ()> = items
            .par_iter()
            .map(|raw| serde_json::from_str(raw.get()).map_err(|_| ()))
            .collect();
        parsed.or_else(|()| {
            let (raw, error) = items
                .iter()
                .find_map(|raw| serde_json::from_str::<T>(raw.get()).err().map(|e| (raw, e)))
                .ok_or_else(|| AwsFilesError::invalid(self.origin, "an entity failed to parse"))?;
            Err(self.located(raw, &error))
        })
    }

    /// An entity's error, at its place in the file rather than in the entity's own text.
    fn located(&self, raw: &RawValue, error: &serde_json::Error) -> AwsFilesError {
        let offset = (raw.get().as_ptr() as usize)
            .saturating_sub(self.text.as_ptr() as usize)
            .min(self.text.len());
        let before = &self.text[..offset];
        let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
        let column = offset
            - before
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |at| at + 1)
            + 1;
        let mut located = AwsFilesError::json(self.origin, error);
        if let AwsFilesError::Json {
            line: at_line,
            column: at_column,
            ..
        } = &mut located
        {
            if *at_line <= 1 {
                *at_column += column - 1;
            }
            *at_line += line - 1;
        }
        located
    }
}

/// A file's bytes, bounded, refused when UTF-16 or BOM-prefixed (named as such).
fn read(path: &Path) -> Result<Vec<u8>, AwsFilesError> {
    let bytes = match crate::input::read_bytes(path, crate::input::MAX_DATA_BYTES) {
        Ok(bytes) => bytes,
        Err(crate::input::InputError::Io { source, .. }) => {
            return Err(AwsFilesError::Io {
                path: crate::input::shown(path),
                error: source,
            });
        }
        Err(other) => return Err(other.into()),
    };
    crate::input::check_encoding(path, &bytes)?;
    Ok(bytes)
}

/// Files as given; a folder stands for its `*.json` files (not recursive), in name order so a
/// run is reproducible.
fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>, AwsFilesError> {
    let mut files = Vec::new();
    for path in paths {
        if !path.is_dir() {
            files.push(path.clone());
            continue;
        }
        let io = |error| AwsFilesError::Io {
            path: crate::input::shown(path),
            error,
        };
        let mut found = Vec::new();
        for entry in std::fs::read_dir(path).map_err(io)? {
            let entry = entry.map_err(io)?.path();
            if entry.is_file()
                && entry
                    .extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("json"))
            {
                found.push(entry);
            }
        }
        if found.is_empty() {
            return Err(AwsFilesError::invalid(
                &crate::input::shown(path),
                "folder holds no *.json file",
            ));
        }
        found.sort();
        files.extend(found);
    }
    Ok(files)
}

fn accounts_in_details(details: &AuthorizationDetails) -> std::collections::BTreeSet<String> {
    let arns = details
        .user_detail_list
        .iter()
        .map(|u| &u.arn)
        .chain(details.role_detail_list.iter().map(|r| &r.arn))
        .chain(details.group_detail_list.iter().map(|g| &g.arn));
    arns.filter_map(|arn| super::details::account_of_arn(arn).map(str::to_string))
        .collect()
}

fn accounts_with_users(details: &AuthorizationDetails) -> std::collections::BTreeSet<String> {
    details
        .user_detail_list
        .iter()
        .filter_map(|u| super::details::account_of_arn(&u.arn).map(str::to_string))
        .collect()
}

fn gap(account: &str, what: &str, reason: &str) -> CoverageGap {
    CoverageGap {
        source: SOURCE.into(),
        scope: account.to_string(),
        what: what.into(),
        reason: reason.into(),
        request: None,
    }
}
