//! Revoke, AWS pinned identity (verdicts in `revoke::pin`): before a grant's first action, the principal is read again
//! through the verified client of its account. A different unique id (deleted and re-created
//! under the same name), a marker changed, removed or moved into the future, skips the grant
//! with nothing changed; a principal gone since the plan saw its id is "already absent".

use aws_sdk_iam::types::Tag;

use super::{AwsExecutor, Failure, classify};
use crate::analyze::expiry::EXPIRES_AT;
use crate::render::terminal::clean;
use crate::revoke::ExpiredGrant;
use crate::revoke::action::{Action, IamKind};
use crate::revoke::apply::{ActionError, Verdict};
use crate::revoke::pin::{id_verdict, marker_verdict};

/// The user or role a grant's actions change.
fn principal_of(grant: &ExpiredGrant) -> Option<(IamKind, &str)> {
    grant.actions.iter().find_map(|action| match action {
        Action::AwsDeactivateAccessKeys { user }
        | Action::AwsDeleteDeactivatedAccessKeys { user }
        | Action::AwsDeleteLoginProfile { user }
        | Action::AwsRemoveUserFromGroup { user, .. } => Some((IamKind::User, user.as_str())),
        Action::AwsDenyOlderSessions { role } => Some((IamKind::Role, role.as_str())),
        Action::AwsDetachPolicy {
            principal, name, ..
        }
        | Action::AwsDeleteInlinePolicy {
            principal, name, ..
        } => Some((*principal, name.as_str())),
        _ => None,
    })
}

/// What IAM says of the principal now: its unique id and its expiry tag.
struct Current {
    unique_id: String,
    marker: Option<String>,
}

fn marker(tags: &[Tag]) -> Option<String> {
    tags.iter()
        .find(|t| t.key() == EXPIRES_AT)
        .map(|t| t.value().to_string())
}

impl AwsExecutor {
    /// Re-reads the grant's principal; see the module header for the verdicts.
    pub async fn check(&self, grant: &ExpiredGrant) -> Result<Verdict, ActionError> {
        // A group is not a principal that holds credentials; its ledger entries are not pinned.
        let Some((kind @ (IamKind::User | IamKind::Role), name)) = principal_of(grant) else {
            return Ok(Verdict::Proceed);
        };
        let Some(pinned) = grant.principal_unique_id.as_deref() else {
            return Ok(Verdict::Skip(format!(
                "the plan did not see {} {}'s unique id (collect its account to revoke it)",
                kind.as_str(),
                clean(name)
            )));
        };
        let iam = self.client(&grant.scope).await?;
        let read = match kind {
            IamKind::User => iam
                .get_user()
                .user_name(name)
                .send()
                .await
                .map_err(classify)
                .map(|out| {
                    out.user().map(|u| Current {
                        unique_id: u.user_id().to_string(),
                        marker: marker(u.tags()),
                    })
                }),
            IamKind::Role => iam
                .get_role()
                .role_name(name)
                .send()
                .await
                .map_err(classify)
                .map(|out| {
                    out.role().map(|r| Current {
                        unique_id: r.role_id().to_string(),
                        marker: marker(r.tags()),
                    })
                }),
            IamKind::Group => return Ok(Verdict::Proceed),
        };
        let current = match read {
            Ok(Some(current)) => current,
            Ok(None) => return Err(unreadable(kind, name)),
            Err(Failure::Gone) => return Ok(Verdict::Absent),
            Err(Failure::Error(e)) => return Err(e),
        };
        Ok(judge(grant, kind, name, pinned, &current))
    }
}

fn unreadable(kind: IamKind, name: &str) -> ActionError {
    ActionError {
        permission: false,
        message: format!(
            "iam:Get{} {}: the response has no principal",
            kind.as_str(),
            clean(name)
        ),
    }
}

fn judge(grant: &ExpiredGrant, kind: IamKind, name: &str, pinned: &str, now: &Current) -> Verdict {
    let who = format!("{} {}", kind.as_str(), clean(name));
    match id_verdict(&who, pinned, &now.unique_id) {
        // Only a tag marker can be read again from IAM; a ledger's expiry lives in the ledger.
        Verdict::Proceed if grant.marker_source == "tag" => {
            marker_verdict(grant, &who, now.marker.as_deref())
        }
        verdict => verdict,
    }
}
