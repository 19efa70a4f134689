//! Collect, repository: finds hard-coded secrets in a file's text in one pass. A compiled
//! `RegexSet` over the catalogue (`catalogue`, data) says which patterns occur at all; only
//! those run again to locate each match. A hit carries its pattern, line and the last four
//! characters, never the value. Placeholders, documented example keys, repeated or sequential
//! characters and public emulator keys are not hits.

use std::sync::{Arc, LazyLock};

use regex::RegexSet;

use super::catalogue::{Catalogue, CatalogueError, Pattern};

/// One hard-coded secret found in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// Pattern id (`aws_access_key_id`, `github_pat`, ...).
    pub kind: Arc<str>,
    /// 1-based.
    pub line: u32,
    pub column: u32,
    /// At most the last four characters of the value (none for a private key).
    pub hint: Option<String>,
    /// The AWS account an access key id belongs to, decoded offline from the id itself.
    pub aws_account: Option<String>,
    /// An AWS access key id, kept in memory so a live scan of its account can resolve it
    /// (never written anywhere; its digest is).
    pub aws_key_id: Option<AwsKeyId>,
    pub generic: bool,
    /// Identifies the value within one run (history: one finding per secret), in memory
    /// only: it is never written anywhere.
    pub identity: u64,
}

/// A catalogue compiled for scanning.
pub struct Scanner {
    catalogue: Catalogue,
    kinds: Vec<Arc<str>>,
    set: RegexSet,
}

static BUILTIN: LazyLock<Option<Scanner>> =
    LazyLock::new(|| Catalogue::load(&[]).ok().and_then(|c| Scanner::new(c).ok()));

impl Scanner {
    pub fn new(catalogue: Catalogue) -> Result<Scanner, CatalogueError> {
        let set =
            RegexSet::new(catalogue.patterns.iter().map(|p| p.regex.as_str())).map_err(|e| {
                CatalogueError::Invalid {
                    path: "secret patterns".into(),
                    line: 0,
                    message: e.to_string(),
                }
            })?;
        let kinds = catalogue
            .patterns
            .iter()
            .map(|p| Arc::from(p.id.as_str()))
            .collect();
        Ok(Scanner {
            catalogue,
            kinds,
            set,
        })
    }

    /// The built-in catalogue (covered by `catalogue::tests`).
    pub fn builtin() -> Option<&'static Scanner> {
        BUILTIN.as_ref()
    }

    pub fn len(&self) -> usize {
        self.catalogue.patterns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.catalogue.patterns.is_empty()
    }

    /// Every secret in `text`, in order of position.
    pub fn scan(&self, text: &str) -> Vec<Hit> {
        let matched = self.set.matches(text);
        if !matched.matched_any() {
            return Vec::new();
        }
        let lines = LineIndex::new(text);
        let mut hits = Vec::new();
        let mut covered: Vec<std::ops::Range<usize>> = Vec::new();
        // Precise patterns first, so the generic one can yield to them.
        let mut order: Vec<usize> = matched.iter().collect();
        order.sort_by_key(|&i| self.catalogue.patterns[i].generic);
        for index in order {
            let pattern = &self.catalogue.patterns[index];
            if pattern.requires.as_ref().is_some_and(|r| !r.is_match(text)) {
                continue;
            }
            for caps in pattern.regex.captures_iter(text) {
                let Some(value) = caps.get(pattern.group) else {
                    continue;
                };
                let overlaps = covered
                    .iter()
                    .any(|r| r.start < value.end() && value.start() < r.end);
                if overlaps || !self.plausible(value.as_str(), pattern) {
                    continue;
                }
                covered.push(value.range());
                let (line, column) = lines.position(value.start());
                hits.push(Hit {
                    kind: self.kinds[index].clone(),
                    line,
                    column,
                    hint: pattern.hint.then(|| last_four(value.as_str())),
                    aws_account: (pattern.id == "aws_access_key_id")
                        .then(|| aws_account_of_key_id(value.as_str()))
                        .flatten(),
                    aws_key_id: (pattern.id == "aws_access_key_id")
                        .then(|| AwsKeyId::new(value.as_str()))
                        .flatten(),
                    generic: pattern.generic,
                    identity: identity(&self.kinds[index], value.as_str()),
                });
            }
        }
        hits.sort_by_key(|h| (h.line, h.column));
        hits
    }

    /// Rejects what looks like a credential but is not one.
    fn plausible(&self, value: &str, pattern: &Pattern) -> bool {
        if self.catalogue.known_public.iter().any(|k| k == value) {
            return false;
        }
        !is_placeholder(value)
            && (pattern.min_entropy == 0.0 || entropy(value) >= pattern.min_entropy)
    }
}

fn identity(kind: &str, value: &str) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    // Keyed per process: the number says nothing about the value outside this run.
    static KEY: LazyLock<std::collections::hash_map::RandomState> =
        LazyLock::new(std::collections::hash_map::RandomState::new);
    let mut hasher = KEY.build_hasher();
    hasher.write(kind.as_bytes());
    hasher.write(value.as_bytes());
    hasher.finish()
}

/// Every secret in `text`, with the built-in catalogue.
pub fn scan(text: &str) -> Vec<Hit> {
    Scanner::builtin().map(|s| s.scan(text)).unwrap_or_default()
}

/// Placeholder words, runs of one character, ascending runs (`abcdef`, `123456`) and values
/// with too few distinct characters to be random.
pub fn is_placeholder(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    let words = [
        "example",
        "xxxx",
        "changeme",
        "placeholder",
        "your_",
        "yourkey",
        "dummy",
        "redacted",
        "fake",
        "sample",
        "<",
        "${",
        "{{",
    ];
    // Whole values that tutorials and compose files use as stand-ins.
    let stand_ins = [
        "password", "passwd", "secret", "changeit", "admin", "root", "test",
    ];
    if words.iter().any(|w| lower.contains(w)) || stand_ins.contains(&lower.as_str()) {
        return true;
    }
    let bytes = lower.as_bytes();
    let (mut same, mut ascending) = (1, 1);
    for pair in bytes.windows(2) {
        same = if pair[1] == pair[0] { same + 1 } else { 1 };
        ascending = if pair[1] == pair[0].wrapping_add(1) && pair[0].is_ascii_alphanumeric() {
            ascending + 1
        } else {
            1
        };
        if same >= 6 || ascending >= 6 {
            return true;
        }
    }
    // Few distinct characters (`ghp_aaaa…`, `abababab…`): not random.
    let mut seen = [false; 256];
    let distinct = value
        .bytes()
        .filter(|&b| !std::mem::replace(&mut seen[b as usize], true))
        .count();
    value.len() >= 16 && distinct <= 5
}

/// An AWS access key id (`AKIA…`, `ASIA…`) found in a file: the id, not its secret, but still
/// shown only by its last four characters and its account. `Debug` never prints it; the
/// inventory holds its [`AwsKeyId::digest`], which the AWS side computes too, so a leaked key
/// and the IAM key it is join offline without the id being written anywhere.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct AwsKeyId {
    id: String,
    account: String,
}

impl AwsKeyId {
    /// `None` unless `id` is a key id whose account decodes.
    pub fn new(id: &str) -> Option<AwsKeyId> {
        let account = aws_account_of_key_id(id)?;
        Some(AwsKeyId {
            id: id.to_string(),
            account,
        })
    }

    /// The account the id encodes (decoded offline).
    pub fn account(&self) -> &str {
        &self.account
    }

    /// The id itself, for the one read-only call that resolves it (`iam:GetAccessKeyLastUsed`).
    pub fn expose(&self) -> &str {
        &self.id
    }

    pub fn last_four(&self) -> String {
        last_four(&self.id)
    }

    /// SHA-256 (hex) of the id: the join key between a leaked id and an IAM key.
    pub fn digest(&self) -> String {
        key_id_digest(&self.id)
    }
}

impl std::fmt::Debug for AwsKeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AwsKeyId(…{} in {})", self.last_four(), self.account)
    }
}

/// SHA-256 (hex) of an access key id: written as `key_id_sha256` on a leaked id's finding
/// and on the IAM key listed under that id.
pub fn key_id_digest(key_id: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(key_id.as_bytes()))
}

/// The AWS account id an access key id encodes (offline, no call): the 10 bytes that follow
/// the four-letter prefix are base32; the account is bits 7..47 of their first six bytes.
pub fn aws_account_of_key_id(key_id: &str) -> Option<String> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let body = key_id.get(4..)?.as_bytes();
    if body.len() != 16 {
        return None;
    }
    let mut bits: u128 = 0;
    for &c in body {
        let v = ALPHABET.iter().position(|&a| a == c)? as u128;
        bits = (bits << 5) | v;
    }
    // 16 characters = 80 bits; the first 48 hold the account id shifted left by 7.
    let first_six = (bits >> 32) as u64;
    let account = (first_six & 0x7fff_ffff_ff80) >> 7;
    Some(format!("{account:012}"))
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
    fn finds_each_kind_with_line_and_hint() {
        let gh = format!("ghp_{}", "aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dE3fG5");
        let key_id = format!("AKIA{}", "Z7Q4XJ2LMN5OPQR6");
        let text = format!(
            "a = 1\nkey_id = \"{key_id}\"\naws_secret_access_key = \"wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQ4Lm8Tq2W\"\ntoken: {gh}\n"
        );
        let hits = scan(&text);
        let kinds: Vec<_> = hits.iter().map(|h| (&*h.kind, h.line)).collect();
        assert_eq!(
            kinds,
            vec![
                ("aws_access_key_id", 2),
                ("aws_secret_access_key", 3),
                ("github_pat", 4),
            ]
        );
        assert_eq!(hits[0].hint.as_deref(), Some("PQR6"));
        assert!(hits[0].aws_account.is_some());
    }

    #[test]
    fn account_id_decodes_offline() {
        // The decoding AWS's key ids are known for: ASIAY34FZKBOKMUTVV7A is account 609629065308.
        assert_eq!(
            aws_account_of_key_id(&format!("ASIA{}", "Y34FZKBOKMUTVV7A")).as_deref(),
            Some("609629065308")
        );
        assert_eq!(aws_account_of_key_id("AKIA"), None);
    }

    #[test]
    fn placeholders_are_not_secrets() {
        for value in [
            "AKIAXXXXXXXXXXXXXXXX",
            "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            "abcdefghijklmnopqrst",
            "1234567890abcdef",
            "aaaaaaaaaaaaaaaaaaaaaaaa",
            "abababababababababababab",
            "${{ secrets.X }}",
        ] {
            assert!(is_placeholder(value), "{value}");
        }
        assert!(!is_placeholder("Zx8Qp2Lm7Rt4Vb9Nc3Kd6Hf1Jg5"));
    }

    #[test]
    fn generic_needs_entropy_and_no_placeholder() {
        assert_eq!(scan("password = \"aaaaaaaaaaaaaaaaaaaaaaaa\"").len(), 0);
        assert_eq!(scan("api_key = \"your_api_key_goes_here_12345\"").len(), 0);
        let hits = scan("api_key = \"Zx8Qp2Lm7Rt4Vb9Nc3Kd6Hf1Jg5\"");
        assert_eq!(hits.len(), 1);
        assert_eq!(&*hits[0].kind, "generic_secret");
    }

    #[test]
    fn clean_text_has_no_hits() {
        assert!(scan("fn main() { println!(\"hello\"); }\n# AKIA in prose\n").is_empty());
    }
}
