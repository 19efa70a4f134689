//! Journal, the evidence: `lapse journal verify | head | show` read the append-only JSONL
//! journal that `revoke` and `grant` write, check its hash chain and tell each grant's
//! lifecycle. The chain format lives in `chain`; the record type in `revoke::journal`.

use std::path::Path;

use anyhow::Context;

use crate::exit::Code;

pub mod chain;
pub mod show;

use chain::Verdict;

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))
}

fn check(path: &Path, head: Option<&str>) -> anyhow::Result<Verdict> {
    let text = read(path)?;
    chain::verify(&text, head).map_err(|e| {
        anyhow::anyhow!(
            "{}:{}: not a journal record: {}",
            path.display(),
            e.line,
            e.message
        )
    })
}

/// `lapse journal verify FILE [--head HASH]`: 0 intact (or no chain at all), 1 broken, naming
/// the first line that does not hold; an unreadable line is an input error (exit 2).
pub fn verify(path: &Path, head: Option<&str>) -> anyhow::Result<Code> {
    if let Some(head) = head
        && (head.len() != 64 || !head.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        anyhow::bail!(
            "--head `{head}` is not a SHA-256 (64 hex digits, from `lapse journal head`)"
        );
    }
    let shown = path.display();
    Ok(match check(path, head)? {
        Verdict::Intact {
            records,
            chained_from,
            head,
        } => {
            let from = if chained_from > 1 {
                format!(" (lines before {chained_from} were written before the chain)")
            } else {
                String::new()
            };
            println!("{shown}: chain intact, {records} records{from}; head {head}");
            Code::Clean
        }
        Verdict::NoChain { records } => {
            println!(
                "{shown}: no chain: its {records} records were written before lapse chained its \
                 journal, so there is nothing to verify"
            );
            Code::Clean
        }
        Verdict::Broken { line, reason } => {
            println!("{shown}:{line}: chain broken: {reason}");
            Code::Findings
        }
    })
}

/// `lapse journal head FILE`: the hash of the last line, to keep elsewhere and pass to
/// `verify --head` later. Refused (exit 1) on a broken chain: a head of a tampered journal
/// would vouch for the tampering.
pub fn head(path: &Path) -> anyhow::Result<Code> {
    let shown = path.display();
    match check(path, None)? {
        Verdict::Intact { head, .. } => {
            println!("{head}");
            Ok(Code::Clean)
        }
        Verdict::NoChain { .. } => anyhow::bail!(
            "{shown}: no chain (written before lapse chained its journal): no head to print"
        ),
        Verdict::Broken { line, reason } => {
            eprintln!("{shown}:{line}: chain broken: {reason}");
            Ok(Code::Findings)
        }
    }
}

/// `lapse journal show FILE [--principal ID] [--json]`: each grant's lifecycle. The chain is
/// checked first; a broken one is said on stderr and makes the exit 1, after the view.
pub fn show(path: &Path, principal: Option<&str>, json: bool) -> anyhow::Result<Code> {
    let verdict = check(path, None)?;
    let text = read(path)?;
    let mut records = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let record: crate::revoke::journal::Record = serde_json::from_str(line).map_err(|e| {
            anyhow::anyhow!(
                "{}:{}: not a journal record: {e}",
                path.display(),
                index + 1
            )
        })?;
        records.push(record);
    }
    let lifecycles = show::lifecycles(&records, principal);
    if json {
        println!("{}", serde_json::to_string_pretty(&lifecycles)?);
    } else {
        print!("{}", show::text(&lifecycles));
    }
    Ok(match verdict {
        Verdict::Broken { line, reason } => {
            eprintln!("{}:{line}: chain broken: {reason}", path.display());
            Code::Findings
        }
        _ => Code::Clean,
    })
}
