//! Revoke, targets: a grant's target split into the path segments its kind expects, each one
//! checked, so a ledger line cannot steer a request elsewhere (`acme/../X`, `%2e%2e`, an empty
//! or an extra segment). Percent-encoding happens where URLs are built; this refuses what no
//! encoding should be asked to carry.

/// Checks one segment: not empty, not `.` or `..`, no `%` (an encoding the URL builder would
/// encode again, or a server decode), no `/` and no control character.
pub fn check_segment(segment: &str) -> Result<(), String> {
    if segment.is_empty() {
        return Err("an empty segment".into());
    }
    if segment == "." || segment == ".." {
        return Err(format!("the segment {segment:?}"));
    }
    if let Some(c) = segment
        .chars()
        .find(|&c| c == '%' || c == '/' || c == '\\' || c.is_control())
    {
        return Err(format!("{c:?} in the segment {segment:?}"));
    }
    Ok(())
}

/// Splits `target` on `/` into exactly `count` checked segments (one of `counts`).
pub fn split<'a>(target: &'a str, counts: &[usize], shape: &str) -> Result<Vec<&'a str>, String> {
    let segments: Vec<&str> = target.split('/').collect();
    if !counts.contains(&segments.len()) {
        return Err(format!(
            "target {target:?} must be {shape} ({} segments found)",
            segments.len()
        ));
    }
    for segment in &segments {
        check_segment(segment).map_err(|e| format!("target {target:?} must be {shape}: {e}"))?;
    }
    Ok(segments)
}

/// An ARM id (`/subscriptions/…/providers/Microsoft.Authorization/roleAssignments/NAME`):
/// every segment checked, the last three fixed.
pub fn role_assignment_id(target: &str) -> Result<(), String> {
    let shape = "a role assignment id (/subscriptions/…/providers/Microsoft.Authorization/roleAssignments/NAME)";
    let rest = target
        .strip_prefix('/')
        .ok_or_else(|| format!("target {target:?} must be {shape}"))?;
    let segments: Vec<&str> = rest.split('/').collect();
    for segment in &segments {
        check_segment(segment).map_err(|e| format!("target {target:?} must be {shape}: {e}"))?;
    }
    match segments.as_slice() {
        [first, .., providers, namespace, kind, _name]
            if first.eq_ignore_ascii_case("subscriptions")
                && providers.eq_ignore_ascii_case("providers")
                && namespace.eq_ignore_ascii_case("Microsoft.Authorization")
                && kind.eq_ignore_ascii_case("roleAssignments") =>
        {
            Ok(())
        }
        _ => Err(format!("target {target:?} must be {shape}")),
    }
}

/// The resource part of an IAM ARN (`user/path/NAME`, `policy/NAME`), each segment checked.
pub fn iam_arn_path(arn: &str) -> Result<(), String> {
    let resource = arn
        .strip_prefix("arn:")
        .and_then(|rest| rest.splitn(5, ':').nth(4))
        .ok_or_else(|| format!("{arn:?} is not an IAM ARN"))?;
    for segment in resource.split('/') {
        check_segment(segment).map_err(|e| format!("{arn:?}: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_could_reach_another_path() {
        let shape = "OWNER/REPO/NAME";
        assert!(split("acme/api/TOKEN", &[3], shape).is_ok());
        for bad in [
            "acme/../TOKEN",
            "acme/%2e%2e/TOKEN",
            "acme//TOKEN",
            "acme/api/TOKEN/x",
            "acme/./TOKEN",
            "acme/a\u{7}pi/TOKEN",
            "acme/api\\x/TOKEN",
        ] {
            assert!(split(bad, &[3], shape).is_err(), "{bad}");
        }
        let id = "/subscriptions/s1/providers/Microsoft.Authorization/roleAssignments/ra1";
        assert!(role_assignment_id(id).is_ok());
        assert!(role_assignment_id("/subscriptions/s1/resourceGroups/../providers/Microsoft.Authorization/roleAssignments/ra1").is_err());
        assert!(role_assignment_id("/subscriptions/s1/roleAssignments/ra1").is_err());
        assert!(iam_arn_path("arn:aws:iam::1:role/a/../b").is_err());
        assert!(iam_arn_path("arn:aws:iam::aws:policy/ReadOnlyAccess").is_ok());
    }
}
