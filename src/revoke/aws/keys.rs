//! Revoke, AWS access keys: deactivated first, deleted on a later run once `--grace` has passed.
//! lapse claims a key (journals its id) *before* it calls UpdateAccessKey, so after a crash the
//! journal names exactly the keys lapse may have deactivated, and only those are ever deleted: a
//! key someone deactivated months ago is theirs, not lapse's.

use aws_sdk_iam::Client;
use aws_sdk_iam::types::{AccessKeyMetadata, StatusType};

use super::{Failure, call, classify, present};
use crate::inventory::Timestamp;
use crate::revoke::apply::{ActionError, Effect, ExecContext};

async fn list(iam: &Client, user: &str) -> Result<Vec<AccessKeyMetadata>, Failure> {
    // A user holds at most two keys: one page.
    let out = iam
        .list_access_keys()
        .user_name(user)
        .send()
        .await
        .map_err(classify)?;
    Ok(out.access_key_metadata().to_vec())
}

fn with_status<'a>(
    keys: &'a [AccessKeyMetadata],
    status: &'a StatusType,
) -> impl Iterator<Item = &'a str> {
    keys.iter()
        .filter(move |k| k.status() == Some(status))
        .filter_map(AccessKeyMetadata::access_key_id)
}

/// Deactivates every active key, each claimed in the journal before its call.
pub(super) async fn deactivate(
    iam: &Client,
    user: &str,
    ctx: &mut ExecContext<'_>,
) -> Result<Effect, ActionError> {
    let Some(keys) = present(list(iam, user).await)? else {
        return Ok(Effect::AlreadyGone);
    };
    let mut deactivated: Vec<String> = Vec::new();
    for id in with_status(&keys, &StatusType::Active) {
        ctx.claim_key(id)?;
        let request = iam
            .update_access_key()
            .user_name(user)
            .access_key_id(id)
            .status(StatusType::Inactive);
        // Gone: deleted meanwhile, which is more than deactivated.
        present(call(request.send()).await)?;
        deactivated.push(id.to_string());
    }
    Ok(Effect::Done(
        serde_json::json!({ "deactivated_keys": deactivated }),
    ))
}

/// Deletes the inactive keys the journal says lapse claimed at least `grace` ago. Any other
/// inactive key (someone else deactivated it, or the journal was lost) is left alone.
pub(super) async fn delete(
    iam: &Client,
    user: &str,
    ctx: &mut ExecContext<'_>,
) -> Result<Effect, ActionError> {
    let Some(keys) = present(list(iam, user).await)? else {
        return Ok(Effect::AlreadyGone);
    };
    let mut deleted = Vec::new();
    let mut left_alone = Vec::new();
    let mut waiting_until: Option<Timestamp> = None;
    for id in with_status(&keys, &StatusType::Inactive) {
        let Some(claimed_at) = ctx.state().deactivated_keys.get(id).copied() else {
            left_alone.push(id.to_string());
            continue;
        };
        let due = claimed_at + ctx.grace;
        if due > ctx.now {
            waiting_until = Some(waiting_until.map_or(due, |w| w.max(due)));
            continue;
        }
        let request = iam.delete_access_key().user_name(user).access_key_id(id);
        present(call(request.send()).await)?;
        deleted.push(id.to_string());
    }
    let replaced = serde_json::json!({
        "deleted_keys": deleted,
        "not_deactivated_by_lapse": left_alone,
    });
    Ok(match waiting_until {
        Some(until) => Effect::Deferred { until, replaced },
        None => Effect::Done(replaced),
    })
}
