//! Tests of the frozen v1 types and their views.

use super::*;
use crate::{findings, inventory};

fn finding(full: bool) -> findings::Finding {
    findings::Finding {
        rule_id: "AWS-007".into(),
        title: Arc::from("Admin \"for ever\" <b>"),
        family: findings::Family::StandingPrivilege,
        severity: findings::Severity::Critical,
        risk: 250,
        resource: inventory::ResourceRef {
            provider: inventory::Provider::Aws,
            kind: "role".into(),
            id: "arn:aws:iam::111122223333:role/x\u{2028}y".into(),
            name: "x\u{1b}[31my".into(),
        },
        principal_id: full.then(|| "arn:aws:iam::111122223333:user/u".into()),
        principal: full.then(|| findings::Holder {
            kind: "user".into(),
            id: "AIDA".into(),
            name: "u".into(),
        }),
        fingerprint: "ab12".into(),
        evidence: [
            ("chain".to_string(), serde_json::json!(["a", {"b": null}])),
            ("age_days".to_string(), serde_json::json!(91)),
        ]
        .into(),
        remediation: Arc::from("Remove it."),
        location: full.then(|| inventory::Location {
            path: ".github/workflows/ci.yml".into(),
            line: Some(3),
            column: None,
        }),
        suppressed: full.then(|| findings::Suppression {
            reason: "accepted".into(),
            owner: "team".into(),
            expires: "2027-01-01".into(),
        }),
    }
}

#[test]
fn finding_view_serializes_as_the_finding() {
    for full in [false, true] {
        let f = finding(full);
        let owned = serde_json::to_string(&Finding::from(&f)).unwrap();
        let view = serde_json::to_string(&FindingView::from(&f)).unwrap();
        assert_eq!(view, owned, "full: {full}");
        // And it reads back as the frozen type.
        let back: Finding = serde_json::from_str(&view).unwrap();
        assert_eq!(back, Finding::from(&f));
    }
}

#[test]
fn escaped_view_writes_the_bytes_of_the_plain_one() {
    // Quotes, markup, a newline, a control character and non-ASCII: everything escaping
    // touches, compact and indented.
    let mut f = finding(true);
    f.remediation = Arc::from("Run:\n  aws iam \"x\" <y>\u{1}\tdé");
    let findings = vec![f.clone(), f];
    let escaped = Escaped::of(&findings);
    assert_eq!(escaped.0.len(), 2, "one entry per shared string");
    for f in &findings {
        let plain = FindingView::from(f);
        let fast = FindingView::escaped(f, &escaped);
        assert!(fast.title.json.is_some() && fast.remediation.json.is_some());
        assert_eq!(
            serde_json::to_string(&fast).unwrap(),
            serde_json::to_string(&plain).unwrap()
        );
        assert_eq!(
            serde_json::to_string_pretty(&fast).unwrap(),
            serde_json::to_string_pretty(&plain).unwrap()
        );
    }
    // A string it was not built from (same text, another allocation) is written plainly.
    let other = finding(true);
    let view = FindingView::escaped(&other, &escaped);
    assert!(view.title.json.is_none());
    assert_eq!(
        serde_json::to_string(&view).unwrap(),
        serde_json::to_string(&FindingView::from(&other)).unwrap()
    );
}
