//! Analyze, AWS: the text forms of the escalation evidence, written by the chains and read back
//! by the HTML report's drill-down, so the two cannot drift apart.
//!
//! * an escalation path: `iam-007: Put an inline policy on itself (iam:PutUserPolicy)`;
//! * a chain hop: `FROM → TO via ID (ACTIONS)`, and for a path that yields admin once its target
//!   merely exists, `FROM → LEVEL via ID (ACTIONS) on TARGET`; a chain cut at its hop limit ends
//!   with the hop `…`.

use super::catalogue::Path;

/// `id: title (actions)`.
pub fn path_line(path: &Path) -> String {
    format!("{}: {} ({})", path.id, path.title, path.actions())
}

/// The path id an escalation-path line starts with.
pub fn path_id_of(line: &str) -> Option<&str> {
    let (id, _) = line.split_once(": ")?;
    (!id.is_empty() && !id.contains(' ')).then_some(id)
}

/// One hop of a witness chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop<'a> {
    pub from: &'a str,
    /// The principal the hop reaches, or the level (`admin`) when the path yields it outright.
    pub to: &'a str,
    pub path: &'a str,
    pub actions: &'a str,
    /// The target an admin-yielding path acts on.
    pub on: Option<&'a str>,
}

impl Hop<'_> {
    pub fn line(&self) -> String {
        let mut line = format!(
            "{} → {} via {} ({})",
            self.from, self.to, self.path, self.actions
        );
        if let Some(on) = self.on {
            line.push_str(" on ");
            line.push_str(on);
        }
        line
    }

    /// Reads a hop back; `None` for the `…` that ends a cut chain or any other text.
    pub fn parse(line: &str) -> Option<Hop<'_>> {
        let (from, rest) = line.split_once(" → ")?;
        let (to, rest) = rest.split_once(" via ")?;
        let (path, rest) = rest.split_once(" (")?;
        let (actions, rest) = rest.split_once(')')?;
        let on = match rest {
            "" => None,
            rest => Some(rest.strip_prefix(" on ")?),
        };
        Some(Hop {
            from,
            to,
            path,
            actions,
            on,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_hop_reads_back_what_the_chain_wrote() {
        let hop = Hop {
            from: "arn:aws:iam::111111111111:role/launcher",
            to: "admin",
            path: "ec2-001",
            actions: "iam:PassRole + ec2:RunInstances",
            on: Some("arn:aws:iam::111111111111:role/instance-admin"),
        };
        assert_eq!(Hop::parse(&hop.line()), Some(hop.clone()));
        assert_eq!(Hop::parse("…"), None);
        assert_eq!(Hop::parse("a → b via x (y) trailing"), None);
        assert_eq!(
            path_id_of("iam-007: Put an inline policy on itself (iam:PutUserPolicy)"),
            Some("iam-007")
        );
        assert_eq!(path_id_of("no id here"), None);
    }

    proptest! {
        // Principal ARNs never hold the separators; the catalogue's ids and actions hold no
        // parenthesis. Any such hop round-trips, and no input makes the parser panic.
        #[test]
        fn hops_round_trip(
            from in "[a-zA-Z0-9:/+=,.@_-]{1,40}",
            to in "[a-zA-Z0-9:/+=,.@_-]{1,40}",
            path in "[a-z0-9-]{1,12}",
            actions in "[a-zA-Z0-9:*+ ]{1,30}",
            on in proptest::option::of("[a-zA-Z0-9:/+=,.@_-]{1,40}"),
            noise in ".{0,60}",
        ) {
            let hop = Hop { from: &from, to: &to, path: &path, actions: &actions, on: on.as_deref() };
            let line = hop.line();
            prop_assert_eq!(Hop::parse(&line), Some(hop.clone()));
            let _ = Hop::parse(&noise);
            let _ = path_id_of(&noise);
        }
    }
}
