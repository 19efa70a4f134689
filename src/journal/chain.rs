//! Journal, hash chain: every record carries `seq` (its 1-based position among the records of
//! the file) and `prev_sha256` (the SHA-256, hex, of the previous record's line, without its
//! newline; absent on the first record). Editing, removing, inserting or reordering a line
//! breaks the chain at that line; a truncated tail is caught by comparing with a head hash
//! stored elsewhere (`lapse journal head`).
//!
//! Journals written before the chain existed have neither field: they stay readable, and a
//! chain may begin after such a prefix (its first chained record hashes the last old line).

use serde::Deserialize;
use sha2::{Digest, Sha256};

/// SHA-256 of one journal line (its bytes without the trailing newline), lowercase hex.
pub fn line_sha256(line: &str) -> String {
    hex::encode(Sha256::digest(line.as_bytes()))
}

/// The link fields of a record; everything else of the record is covered by the next hash.
#[derive(Debug, Deserialize)]
struct Link {
    #[serde(default)]
    seq: Option<u64>,
    #[serde(default)]
    prev_sha256: Option<String>,
}

/// What `verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every chained record links to the one before; `head` is the last line's hash.
    Intact {
        records: usize,
        /// Line of the first chained record (1 unless the journal began before the chain).
        chained_from: usize,
        head: String,
    },
    /// No record carries a chain (a journal written before it existed).
    NoChain { records: usize },
    /// The first line where the chain does not hold, and why.
    Broken { line: usize, reason: String },
}

/// A line that is not a JSON object: not a journal record at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: not a journal record: {message}")]
pub struct Unparsable {
    pub line: usize,
    pub message: String,
}

/// Checks the chain of a journal's text. `head`, when given, must be the hash of one of its
/// lines (it was the last one when it was stored; later appends are fine, a cut is not).
pub fn verify(text: &str, head: Option<&str>) -> Result<Verdict, Unparsable> {
    let mut records = 0usize;
    let mut chained_from = None;
    let mut previous: Option<(usize, String)> = None;
    let mut head_seen = false;
    for (index, line) in text.split('\n').enumerate() {
        let number = index + 1;
        if line.trim().is_empty() {
            continue;
        }
        let link: Link = serde_json::from_str(line).map_err(|e| Unparsable {
            line: number,
            message: e.to_string(),
        })?;
        records += 1;
        let hash = line_sha256(line);
        if let Some((line, reason)) =
            check_link(&link, number, records, previous.as_ref(), chained_from)
        {
            return Ok(Verdict::Broken { line, reason });
        }
        if link.seq.is_some() && chained_from.is_none() {
            chained_from = Some(number);
        }
        head_seen |= head.is_some_and(|h| h.eq_ignore_ascii_case(&hash));
        previous = Some((number, hash));
    }
    let Some(chained_from) = chained_from else {
        return Ok(Verdict::NoChain { records });
    };
    let last = previous.map(|(_, hash)| hash).unwrap_or_default();
    if let Some(head) = head
        && !head_seen
    {
        return Ok(Verdict::Broken {
            line: text.split('\n').count(),
            reason: format!(
                "no line hashes to the head {head}: the journal was cut short or rewritten \
                 after that head was taken"
            ),
        });
    }
    Ok(Verdict::Intact {
        records,
        chained_from,
        head: last,
    })
}

/// Where and why the record on line `number` (the `position`th record) does not continue the
/// chain, if it does not. A hash mismatch with a fitting seq names the previous line: it is the
/// one most likely edited.
fn check_link(
    link: &Link,
    number: usize,
    position: usize,
    previous: Option<&(usize, String)>,
    chained_from: Option<usize>,
) -> Option<(usize, String)> {
    let Some(seq) = link.seq else {
        return chained_from.map(|from| {
            let reason =
                format!("record without seq/prev_sha256 after the chain began (line {from})");
            (number, reason)
        });
    };
    if seq != position as u64 {
        let reason = format!(
            "seq {seq} where {position} was expected: a line before it was removed, inserted \
             or moved"
        );
        return Some((number, reason));
    }
    match (previous, link.prev_sha256.as_deref()) {
        (None, None) => None,
        (None, Some(_)) => Some((number, "the first record names a previous one".into())),
        (Some((line, _)), None) => Some((
            number,
            format!("no prev_sha256, though line {line} precedes it"),
        )),
        (Some((line, hash)), Some(prev)) if !prev.eq_ignore_ascii_case(hash) => Some((
            *line,
            format!(
                "its SHA-256 is not the prev_sha256 that line {number} recorded: line {line} \
                 (or the link of line {number}) was changed"
            ),
        )),
        (Some(_), Some(_)) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chained journal of `n` records, as `Journal::append` writes it.
    fn chained(n: usize) -> Vec<String> {
        let mut lines: Vec<String> = Vec::new();
        for seq in 1..=n {
            let prev = lines.last().map(|l| line_sha256(l));
            let mut record = serde_json::json!({"ts": "2026-01-01T00:00:00Z", "run_id": "r", "event": "started", "seq": seq});
            if let Some(prev) = prev {
                record["prev_sha256"] = prev.into();
            }
            lines.push(record.to_string());
        }
        lines
    }

    fn text(lines: &[String]) -> String {
        lines.iter().map(|l| format!("{l}\n")).collect()
    }

    #[test]
    fn an_intact_chain_verifies_and_reports_its_head() {
        let lines = chained(4);
        let verdict = verify(&text(&lines), Some(&line_sha256(&lines[1]))).unwrap();
        assert_eq!(
            verdict,
            Verdict::Intact {
                records: 4,
                chained_from: 1,
                head: line_sha256(&lines[3])
            }
        );
    }

    #[test]
    fn edit_removal_swap_and_cut_are_each_named() {
        let lines = chained(5);
        let broken = |lines: &[String], head: Option<&str>| match verify(&text(lines), head) {
            Ok(Verdict::Broken { line, .. }) => line,
            other => panic!("{other:?}"),
        };
        let mut edited = lines.clone();
        edited[2] = edited[2].replace("\"r\"", "\"x\"");
        assert_eq!(broken(&edited, None), 3);
        let mut removed = lines.clone();
        removed.remove(2);
        assert_eq!(broken(&removed, None), 3);
        let mut swapped = lines.clone();
        swapped.swap(1, 2);
        assert_eq!(broken(&swapped, None), 2);
        let head = line_sha256(&lines[4]);
        let cut = &lines[..4];
        assert!(matches!(
            verify(&text(cut), None).unwrap(),
            Verdict::Intact { .. }
        ));
        assert_eq!(broken(cut, Some(&head)), 5);
    }

    #[test]
    fn an_old_journal_has_no_chain_and_a_chain_may_follow_it() {
        let old = "{\"ts\":\"2025-01-01T00:00:00Z\",\"run_id\":\"a\",\"event\":\"run_started\"}";
        assert_eq!(
            verify(&format!("{old}\n{old}\n"), None).unwrap(),
            Verdict::NoChain { records: 2 }
        );
        let next = serde_json::json!({"seq": 2, "prev_sha256": line_sha256(old)}).to_string();
        assert!(matches!(
            verify(&format!("{old}\n{next}\n"), None).unwrap(),
            Verdict::Intact {
                chained_from: 2,
                ..
            }
        ));
        let after = format!("{old}\n{next}\n{old}\n");
        assert!(matches!(
            verify(&after, None).unwrap(),
            Verdict::Broken { line: 3, .. }
        ));
    }

    #[test]
    fn an_unparsable_line_is_named() {
        let lines = chained(2);
        let err = verify(&format!("{}\nnot json\n", lines[0]), None).unwrap_err();
        assert_eq!(err.line, 2);
    }
}
