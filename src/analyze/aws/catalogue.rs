//! Analyze, AWS: the escalation catalogue (`paths/aws/escalation.toml`), data beside the rules.
//!
//! Embedded like the built-in rules and parsed once, with unknown fields refused; a catalogue
//! that does not parse or breaks an invariant (a path with two target kinds, a passed role with
//! no service) is an error naming the file and line, caught by the tests that load it.

use std::sync::OnceLock;

use serde::Deserialize;

/// Where the built-in catalogue lives, for error messages and the docs.
pub const CATALOGUE_PATH: &str = "paths/aws/escalation.toml";

static BUILTIN: &str = include_str!("../../../paths/aws/escalation.toml");

/// What an action's Resource must cover (see the catalogue's header).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reach {
    #[serde(rename = "self")]
    Own,
    OwnGroup,
    AttachedPolicy,
    AnyPolicy,
    User,
    Role,
    Group,
    AssumableRole,
    PassedRole,
    Service,
}

impl Reach {
    /// The reach names another principal: the path's target.
    pub fn is_target(self) -> bool {
        matches!(
            self,
            Reach::User | Reach::Role | Reach::Group | Reach::AssumableRole | Reach::PassedRole
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Yields {
    Admin,
    Target,
    ServiceRole,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub action: String,
    pub reach: Reach,
    /// The action in lowercase, as policies are matched (filled when parsed).
    #[serde(skip)]
    pub lower: String,
    /// Its index in [`Catalogue::actions`] (filled when parsed).
    #[serde(skip)]
    pub slot: usize,
}

impl Step {
    /// The service prefix of the action (`ec2` of `ec2:RunInstances`).
    pub fn service(&self) -> &str {
        self.lower.split(':').next().unwrap_or_default()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Path {
    pub id: String,
    pub title: String,
    #[serde(default = "both_kinds")]
    pub principals: Vec<String>,
    pub yields: Yields,
    pub service: Option<String>,
    pub sources: Vec<String>,
    pub steps: Vec<Step>,
}

fn both_kinds() -> Vec<String> {
    vec!["user".into(), "role".into()]
}

impl Path {
    /// The kind of principal this path's target is, if it has one.
    pub fn target(&self) -> Option<Reach> {
        self.steps.iter().map(|s| s.reach).find(|r| r.is_target())
    }

    /// What the path yields, in words (the HTML drill-down).
    pub fn yields_text(&self) -> String {
        let service = self.service.as_deref().unwrap_or("the service");
        match self.yields {
            Yields::Admin => "admin: full control of the account".to_string(),
            Yields::Target => match self.target() {
                Some(Reach::PassedRole) => {
                    format!("the privilege of the role it passes to {service}")
                }
                _ => "the privilege of its target".to_string(),
            },
            Yields::ServiceRole => format!("the privilege of the roles {service} runs with"),
        }
    }

    /// What a step's Resource must cover, in words (the catalogue header's `reach`).
    pub fn reach_text(&self, reach: Reach) -> String {
        let service = self.service.as_deref().unwrap_or("the service");
        match reach {
            Reach::Own => "the principal itself".to_string(),
            Reach::OwnGroup => "a group the user belongs to".to_string(),
            Reach::AttachedPolicy => "a customer-managed policy attached to it".to_string(),
            Reach::AnyPolicy => "any customer-managed policy of the account".to_string(),
            Reach::User => "another user of the account (the target)".to_string(),
            Reach::Role => "another role of the account (the target)".to_string(),
            Reach::Group => "a group of the account (the target)".to_string(),
            Reach::AssumableRole => "a role whose trust admits it, in any account".to_string(),
            Reach::PassedRole => format!("a role of the account whose trust admits {service}"),
            Reach::Service => "any resource of the action's service".to_string(),
        }
    }

    /// `iam:PassRole + ec2:RunInstances`.
    pub fn actions(&self) -> String {
        let names: Vec<&str> = self.steps.iter().map(|s| s.action.as_str()).collect();
        names.join(" + ")
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialAction {
    pub action: String,
    /// The service in the ARN of what the action reads, when not the action's own.
    pub resource_service: Option<String>,
    pub what: String,
    /// The action in lowercase (filled when parsed).
    #[serde(skip)]
    pub lower: String,
    /// Its index in [`Catalogue::actions`] (filled when parsed).
    #[serde(skip)]
    pub slot: usize,
}

impl CredentialAction {
    pub fn service(&self) -> String {
        match &self.resource_service {
            Some(service) => service.clone(),
            None => self
                .action
                .split(':')
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalogue {
    pub path: Vec<Path>,
    #[serde(default)]
    pub credential: Vec<CredentialAction>,
    /// The distinct actions of the steps and the credential actions, lowercase (filled when
    /// parsed; `Step::slot` and `CredentialAction::slot` index it).
    #[serde(skip)]
    pub actions: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct CatalogueError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

impl Catalogue {
    /// Parses and checks a catalogue file's text.
    pub fn parse(file: &str, text: &str) -> Result<Catalogue, CatalogueError> {
        let error = |offset: usize, message: String| CatalogueError {
            file: file.to_string(),
            line: text[..offset.min(text.len())].matches('\n').count() + 1,
            message,
        };
        let mut catalogue: Catalogue = toml::from_str(text).map_err(|e| {
            let at = e.span().map_or(0, |s| s.start);
            error(at, e.message().to_string())
        })?;
        let mut slots: std::collections::HashMap<String, usize> = Default::default();
        for step in catalogue.path.iter_mut().flat_map(|p| p.steps.iter_mut()) {
            step.lower = step.action.to_ascii_lowercase();
            let next = slots.len();
            step.slot = *slots.entry(step.lower.clone()).or_insert(next);
        }
        for credential in &mut catalogue.credential {
            credential.lower = credential.action.to_ascii_lowercase();
            let next = slots.len();
            credential.slot = *slots.entry(credential.lower.clone()).or_insert(next);
        }
        catalogue.actions = vec![String::new(); slots.len()];
        for (action, slot) in slots {
            catalogue.actions[slot] = action;
        }
        let mut ids = std::collections::BTreeSet::new();
        for path in &catalogue.path {
            let at = text.find(&format!("id = \"{}\"", path.id)).unwrap_or(0);
            let targets: std::collections::BTreeSet<Reach> = path
                .steps
                .iter()
                .map(|s| s.reach)
                .filter(|r| r.is_target())
                .collect();
            let needs_service =
                path.yields == Yields::ServiceRole || targets.contains(&Reach::PassedRole);
            let problem = if !ids.insert(path.id.clone()) {
                Some("duplicate path id")
            } else if path.steps.is_empty() {
                Some("a path needs at least one step")
            } else if targets.len() > 1 {
                Some("all target steps of a path must reach the same kind of target")
            } else if needs_service && path.service.is_none() {
                Some("a passed or service role needs `service`")
            } else if path.yields == Yields::Target && targets.is_empty() {
                Some("`yields = \"target\"` needs a step that reaches a target")
            } else if path.sources.is_empty() {
                Some("a path cites at least one public source")
            } else {
                None
            };
            if let Some(problem) = problem {
                return Err(error(at, format!("path {}: {problem}", path.id)));
            }
        }
        Ok(catalogue)
    }

    /// The built-in catalogue, parsed once.
    pub fn builtin() -> &'static Catalogue {
        static CATALOGUE: OnceLock<Catalogue> = OnceLock::new();
        CATALOGUE.get_or_init(|| {
            // Embedded and checked by the tests below: a broken built-in catalogue never ships.
            Catalogue::parse(CATALOGUE_PATH, BUILTIN).unwrap_or_else(|e| panic!("{e}"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalogue_parses_and_cites_sources() {
        let catalogue = Catalogue::parse(CATALOGUE_PATH, BUILTIN).unwrap();
        assert!(catalogue.path.len() >= 60, "{}", catalogue.path.len());
        for path in &catalogue.path {
            assert!(!path.sources.is_empty(), "{}", path.id);
        }
        assert!(!catalogue.credential.is_empty());
    }

    #[test]
    fn errors_name_file_and_line() {
        let text = "[[path]]\nid = \"x\"\ntitle = \"t\"\nyields = \"admin\"\nsources = [\"s\"]\nsteps = []\nsevrity = 1\n";
        let e = Catalogue::parse("cat.toml", text).unwrap_err();
        assert_eq!((e.file.as_str(), e.line), ("cat.toml", 7), "{e}");
        let text = "[[path]]\nid = \"x\"\ntitle = \"t\"\nyields = \"target\"\nsources = [\"s\"]\nsteps = [{ action = \"a:b\", reach = \"self\" }]\n";
        let e = Catalogue::parse("cat.toml", text).unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        assert!(e.message.contains("target"), "{e}");
    }
}
