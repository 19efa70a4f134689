//! Property tests over the parsers of the revoke side: the grants ledger, the journal (records
//! and hash chain) and the expiry markers. Arbitrary and mutated input never panics; it either
//! parses or fails with a location inside the input.

use std::collections::BTreeMap;

use proptest::prelude::*;

use lapse::analyze::AnalysisContext;
use lapse::analyze::expiry;
use lapse::journal::chain;

const LEDGER_LINE: &str = r#"{"provider":"aws","kind":"policy_attachment","principal_id":"arn:aws:iam::123456789012:role/ci","target":"arn:aws:iam::aws:policy/ReadOnlyAccess","expires_at":"2025-07-01T00:00:00.5Z","requested_by":"alice"}"#;
const JOURNAL_LINE: &str = r#"{"seq":1,"ts":"2025-01-01T00:00:00Z","run_id":"r","event":"done","grant":"acme/api/X","action":{"action":"github_delete_repo_secret","repo":"acme/api","secret":"X"}}"#;

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(64)
}

/// `text` with bytes replaced, inserted or removed at the given positions.
fn mutate(text: &str, edits: &[(usize, u8, u8)]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for &(at, kind, byte) in edits {
        let at = at % (bytes.len() + 1);
        match kind % 3 {
            0 if at < bytes.len() => bytes[at] = byte,
            1 => bytes.insert(at, byte),
            _ if at < bytes.len() => {
                bytes.remove(at);
            }
            _ => {}
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn line_count(text: &str) -> usize {
    text.lines().count().max(1)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn ledger_parse_never_panics_and_names_a_line(text in "\\PC{0,300}") {
        if let Err((line, _)) = lapse::revoke::ledger::parse(&text) {
            prop_assert!(line >= 1 && line <= line_count(&text));
        }
    }

    #[test]
    fn a_mutated_ledger_line_parses_or_names_its_line(
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..6)
    ) {
        let text = format!("# grants\n{}\n", mutate(LEDGER_LINE, &edits));
        if let Err((line, message)) = lapse::revoke::ledger::parse(&text) {
            prop_assert!(line >= 2 && line <= line_count(&text), "{line}: {message}");
        }
    }

    #[test]
    fn chain_verify_never_panics(text in "\\PC{0,300}", head in "[0-9a-f]{64}") {
        if let Err(e) = chain::verify(&text, Some(&head)) {
            prop_assert!(e.line >= 1 && e.line <= text.split('\n').count());
        }
    }

    #[test]
    fn a_mutated_journal_loads_or_names_its_line(
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..6)
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let text = format!("{}\n", mutate(JOURNAL_LINE, &edits));
        std::fs::write(&path, &text).unwrap();
        match lapse::revoke::JournalState::load(&path) {
            Ok(state) => prop_assert!(state.records <= line_count(&text)),
            Err(e) => {
                let message = e.to_string();
                let line: Option<usize> = message
                    .split_once("j.jsonl:")
                    .and_then(|(_, rest)| rest.split(':').next())
                    .and_then(|n| n.parse().ok());
                prop_assert!(line.is_some_and(|l| l >= 1 && l <= line_count(&text)), "{message}");
            }
        }
    }

    #[test]
    fn markers_never_panic(raw in "\\PC{0,80}", key in "[A-Za-z:-]{0,20}", days in 1i64..3650) {
        let ctx = AnalysisContext {
            max_provisional_days: days,
            ..AnalysisContext::at(chrono::Utc::now())
        };
        let facts = expiry::read_marker(Some(&raw), "tag", &ctx);
        prop_assert!(matches!(facts.expiry_marker.as_str(), "valid" | "invalid" | "too_far"));
        prop_assert!(!facts.provisional || facts.expiry_marker == "valid");
        let text = format!("x lapse:expires-at={raw}");
        let _ = expiry::from_text(Some(&text), "title", &ctx);
        let tags = BTreeMap::from([(key, raw)]);
        let _ = expiry::from_tags(&tags, &ctx);
    }
}
