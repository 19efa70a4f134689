//! Collect, repository: finds hard-coded secrets in a file's text in one pass. A compiled
//! `RegexSet` says which patterns occur at all; only those run again to locate each match.
//! A hit carries its pattern, line and the last four characters, never the value. Word
//! boundaries and blanks are ASCII (`(?-u:\b)`, `[ \t]`) so the set runs on the lazy DFA.

use std::sync::LazyLock;

use regex::{Regex, RegexSet};

/// A secret pattern. `group` is the capture holding the secret itself (0: the whole match).
struct Pattern {
    kind: &'static str,
    regex: &'static str,
    group: usize,
    /// Minimum Shannon entropy (bits per character) of the captured value; 0 disables the check.
    min_entropy: f64,
}

const PATTERNS: &[Pattern] = &[
    Pattern {
        kind: "aws_access_key_id",
        regex: r"(?-u:\b)((?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16})(?-u:\b)",
        group: 1,
        min_entropy: 0.0,
    },
    Pattern {
        kind: "aws_secret_access_key",
        regex: r#"(?i)aws_?secret_?(?:access_?)?key["']?[ \t]*[:=][ \t]*["']?([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+]|$)"#,
        group: 1,
        min_entropy: 3.0,
    },
    Pattern {
        kind: "github_token",
        regex: r"(?-u:\b)(gh[pousr]_[A-Za-z0-9]{36,251})(?-u:\b)",
        group: 1,
        min_entropy: 0.0,
    },
    Pattern {
        kind: "github_fine_grained_pat",
        regex: r"(?-u:\b)(github_pat_[A-Za-z0-9_]{22,255})(?-u:\b)",
        group: 1,
        min_entropy: 0.0,
    },
    Pattern {
        kind: "slack_token",
        regex: r"(?-u:\b)(xox[abposr]-[A-Za-z0-9-]{10,250})(?-u:\b)",
        group: 1,
        min_entropy: 0.0,
    },
    Pattern {
        kind: "slack_webhook",
        regex: r"(https://hooks\.slack\.com/services/T[A-Za-z0-9_]+/B[A-Za-z0-9_]+/[A-Za-z0-9_]{16,})",
        group: 1,
        min_entropy: 0.0,
    },
    Pattern {
        kind: "private_key",
        regex: r"-----BEGIN ((?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?)-----",
        group: 0,
        min_entropy: 0.0,
    },
    Pattern {
        kind: "azure_storage_key",
        regex: r"(?i)AccountKey[ \t]*=[ \t]*([A-Za-z0-9+/]{86}==)",
        group: 1,
        min_entropy: 0.0,
    },
    Pattern {
        kind: "generic_secret",
        regex: r#"(?i)(?:secret|passw(?:or)?d|token|api_?key|apikey|access_?key|private_?key|client_?secret)[a-z0-9_.-]{0,40}["']?[ \t]*[:=][ \t]*["']([A-Za-z0-9+/_\-.=]{20,200})["']"#,
        group: 1,
        min_entropy: 4.0,
    },
];

/// One hard-coded secret found in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// Pattern name (`aws_access_key_id`, `github_token`, ...).
    pub kind: &'static str,
    /// 1-based.
    pub line: u32,
    pub column: u32,
    /// At most the last four characters of the value (none for a private key header).
    pub hint: Option<String>,
}

static SET: LazyLock<RegexSet> = LazyLock::new(|| {
    // The patterns are constants covered by `every_pattern_compiles`.
    RegexSet::new(PATTERNS.iter().map(|p| p.regex)).unwrap_or_else(|_| RegexSet::empty())
});
static REGEXES: LazyLock<Vec<Option<Regex>>> =
    LazyLock::new(|| PATTERNS.iter().map(|p| Regex::new(p.regex).ok()).collect());

/// Every secret in `text`, in order of position.
pub fn scan(text: &str) -> Vec<Hit> {
    let matched = SET.matches(text);
    if !matched.matched_any() {
        return Vec::new();
    }
    let lines = LineIndex::new(text);
    let mut hits = Vec::new();
    let mut covered: Vec<std::ops::Range<usize>> = Vec::new();
    for index in matched.iter() {
        let (pattern, Some(regex)) = (&PATTERNS[index], &REGEXES[index]) else {
            continue;
        };
        for caps in regex.captures_iter(text) {
            let Some(value) = caps.get(pattern.group) else {
                continue;
            };
            // The generic pattern must not repeat what a precise one already found.
            if pattern.kind == "generic_secret"
                && covered
                    .iter()
                    .any(|r| r.start < value.end() && value.start() < r.end)
            {
                continue;
            }
            if !plausible(value.as_str(), pattern) {
                continue;
            }
            covered.push(value.range());
            let (line, column) = lines.position(value.start());
            let hint = (pattern.group != 0).then(|| last_four(value.as_str()));
            hits.push(Hit {
                kind: pattern.kind,
                line,
                column,
                hint,
            });
        }
    }
    hits.sort_by_key(|h| (h.line, h.column));
    hits
}

/// Rejects placeholders and low-entropy text where the pattern asks for it.
fn plausible(value: &str, pattern: &Pattern) -> bool {
    if pattern.min_entropy == 0.0 {
        return true;
    }
    let lower = value.to_ascii_lowercase();
    let placeholder = [
        "example",
        "xxxx",
        "changeme",
        "placeholder",
        "your_",
        "dummy",
        "redacted",
    ]
    .iter()
    .any(|p| lower.contains(p));
    !placeholder && entropy(value) >= pattern.min_entropy
}

/// Shannon entropy in bits per character.
pub fn entropy(value: &str) -> f64 {
    let mut counts = [0u32; 256];
    for b in value.bytes() {
        counts[b as usize] += 1;
    }
    let len = value.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / len;
            -p * p.log2()
        })
        .sum()
}

/// The last four characters, or none of a value shorter than twelve (too much of it).
pub fn last_four(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() < 12 {
        return String::new();
    }
    chars[chars.len() - 4..].iter().collect()
}

/// Byte offset → (line, column), both 1-based.
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { starts }
    }

    fn position(&self, offset: usize) -> (u32, u32) {
        let line = self.starts.partition_point(|&s| s <= offset);
        let start = self.starts[line - 1];
        (line as u32, (offset - start) as u32 + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pattern_compiles() {
        for p in PATTERNS {
            assert!(Regex::new(p.regex).is_ok(), "{}", p.kind);
        }
        assert_eq!(SET.len(), PATTERNS.len());
    }

    #[test]
    fn finds_each_kind_with_line_and_hint() {
        let gh = format!("ghp_{}", "aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dE3fG5");
        let text = format!(
            "a = 1\nkey_id = \"AKIAZ7Q4XJ2LMN5OPQR6\"\naws_secret_access_key = \"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\"\ntoken: {gh}\n-----BEGIN OPENSSH PRIVATE KEY-----\n"
        );
        let hits = scan(&text);
        let kinds: Vec<_> = hits.iter().map(|h| (h.kind, h.line)).collect();
        assert_eq!(
            kinds,
            vec![
                ("aws_access_key_id", 2),
                ("aws_secret_access_key", 3),
                ("github_token", 4),
                ("private_key", 5)
            ]
        );
        assert_eq!(hits[0].hint.as_deref(), Some("PQR6"));
        assert_eq!(hits[3].hint, None);
        for hit in &hits {
            assert!(hit.hint.as_deref().unwrap_or("").len() <= 4);
        }
    }

    #[test]
    fn generic_needs_entropy_and_no_placeholder() {
        assert_eq!(scan("password = \"aaaaaaaaaaaaaaaaaaaaaaaa\"").len(), 0);
        assert_eq!(scan("api_key = \"your_api_key_goes_here_12345\"").len(), 0);
        let hits = scan("api_key = \"Zx8Qp2Lm7Rt4Vb9Nc3Kd6Hf1Jg5\"");
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].kind, "generic_secret");
    }

    #[test]
    fn clean_text_has_no_hits() {
        assert!(scan("fn main() { println!(\"hello\"); }\n# AKIA in prose\n").is_empty());
    }
}
