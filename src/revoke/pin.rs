//! Revoke, pinned identity: the verdicts shared by every provider's re-read before a grant's
//! first action. A principal whose unique id is not the one planned, or whose marker changed or
//! was removed since the plan, is skipped with nothing changed.

use super::ExpiredGrant;
use super::apply::Verdict;
use crate::render::terminal::clean;

/// `Skip` when the id read now is not the one the plan pinned (deleted and re-created under the
/// same name).
pub fn id_verdict(who: &str, pinned: &str, current: &str) -> Verdict {
    if current == pinned {
        return Verdict::Proceed;
    }
    Verdict::Skip(format!(
        "{who} is not the principal planned: its id is {} now, {} when planned (deleted and re-created?)",
        clean(current),
        clean(pinned)
    ))
}

/// `Skip` when the marker read now (`current`) differs from the one the plan read.
pub fn marker_verdict(grant: &ExpiredGrant, who: &str, current: Option<&str>) -> Verdict {
    match (grant.marker.as_deref(), current) {
        (Some(planned), Some(now)) if planned == now => Verdict::Proceed,
        (_, None) => Verdict::Skip(format!(
            "{who}: its expiry marker was removed since the plan"
        )),
        (planned, Some(now)) => Verdict::Skip(format!(
            "{who}: its expiry marker changed since the plan ({:?} -> {:?})",
            clean(planned.unwrap_or_default()),
            clean(now)
        )),
    }
}
