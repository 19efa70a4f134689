//! Rules, conditions: parses a rule's CEL condition at load and reports what it reads: the facts
//! (`r.<name>`, the finding's evidence) and the parameters (`params.<name>`), and any variable
//! other than `r`, `params`, `now`, so a typo fails the load instead of every evaluation.

use std::collections::BTreeSet;

use cel_parser::ast::{EntryExpr, Expr, IdedExpr};
use cel_parser::reference::Val;

/// The variables a condition may read.
pub const VARIABLES: [&str; 3] = ["r", "params", "now"];

/// What a condition reads, in order of first appearance (evidence lists facts in that order).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Reads {
    pub facts: Vec<String>,
    pub params: Vec<String>,
}

/// A condition that does not parse or reads what it may not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionError {
    /// 1-based line within the condition text.
    pub line: usize,
    pub message: String,
}

/// Parses `source` and lists what it reads.
pub fn analyze(source: &str) -> Result<Reads, ConditionError> {
    let parser = cel_parser::Parser::default();
    let expr = parser.parse(source).map_err(|errors| {
        let first = errors.errors.first();
        ConditionError {
            line: first.map(|e| e.pos.0.max(1) as usize).unwrap_or(1),
            message: first
                .map(|e| format!("condition does not compile: {} (column {})", e.msg, e.pos.1 + 1))
                .unwrap_or_else(|| "condition does not compile".to_string()),
        }
    })?;
    let mut walk = Walk::default();
    walk.expr(&expr);
    match walk.unknown.into_iter().next() {
        Some(name) => Err(ConditionError {
            line: 1,
            message: format!(
                "condition reads `{name}`; a condition may only read `r`, `params` and `now`"
            ),
        }),
        None => Ok(walk.reads),
    }
}

#[derive(Default)]
struct Walk {
    reads: Reads,
    /// Comprehension variables in scope (`x` in `r.groups.exists(x, ...)`).
    bound: Vec<String>,
    unknown: BTreeSet<String>,
}

impl Walk {
    fn expr(&mut self, e: &IdedExpr) {
        match &e.expr {
            Expr::Unspecified | Expr::Literal(_) => {}
            Expr::Ident(name) => self.ident(name),
            Expr::Select(select) => {
                if let Expr::Ident(root) = &select.operand.expr {
                    self.field(root, &select.field);
                }
                self.expr(&select.operand);
            }
            Expr::Call(call) => {
                // `r["name"]` reads a fact as surely as `r.name`.
                if call.func_name == "_[_]"
                    && let [operand, key] = call.args.as_slice()
                    && let (Expr::Ident(root), Expr::Literal(Val::String(field))) =
                        (&operand.expr, &key.expr)
                {
                    self.field(root, field);
                }
                if let Some(target) = &call.target {
                    self.expr(target);
                }
                call.args.iter().for_each(|a| self.expr(a));
            }
            Expr::Comprehension(c) => {
                self.expr(&c.iter_range);
                self.expr(&c.accu_init);
                let mut names = vec![c.iter_var.clone(), c.accu_var.clone()];
                names.extend(c.iter_var2.clone());
                let depth = self.bound.len();
                self.bound.extend(names);
                for part in [&c.loop_cond, &c.loop_step, &c.result] {
                    self.expr(part);
                }
                self.bound.truncate(depth);
            }
            Expr::List(list) => list.elements.iter().for_each(|x| self.expr(x)),
            Expr::Map(map) => map.entries.iter().for_each(|x| self.entry(&x.expr)),
            Expr::Struct(s) => s.entries.iter().for_each(|x| self.entry(&x.expr)),
        }
    }

    fn entry(&mut self, entry: &EntryExpr) {
        match entry {
            EntryExpr::StructField(field) => self.expr(&field.value),
            EntryExpr::MapEntry(pair) => {
                self.expr(&pair.key);
                self.expr(&pair.value);
            }
        }
    }

    fn ident(&mut self, name: &str) {
        let bound = self.bound.iter().any(|b| b == name);
        // `@`-names are the parser's own accumulators.
        if !bound && !name.starts_with('@') && !VARIABLES.contains(&name) {
            self.unknown.insert(name.to_string());
        }
    }

    fn field(&mut self, root: &str, field: &str) {
        if self.bound.iter().any(|b| b == root) {
            return;
        }
        let list = match root {
            "r" => &mut self.reads.facts,
            "params" => &mut self.reads.params,
            _ => return,
        };
        if !list.iter().any(|f| f == field) {
            list.push(field.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_facts_and_params_in_order() {
        let reads = analyze(
            "r.active && r.age_days != null && r.age_days > params.max_age_days && r[\"slot\"] == 1",
        )
        .unwrap();
        assert_eq!(reads.facts, vec!["active", "age_days", "slot"]);
        assert_eq!(reads.params, vec!["max_age_days"]);
    }

    #[test]
    fn comprehension_variables_are_not_unknown() {
        let reads = analyze("r.wildcard_actions.exists(a, a.endsWith(':*'))").unwrap();
        assert_eq!(reads.facts, vec!["wildcard_actions"]);
    }

    #[test]
    fn unknown_variable_is_an_error() {
        let err = analyze("r.active && facts.age > 3").unwrap_err();
        assert!(err.message.contains("`facts`"), "{}", err.message);
    }

    #[test]
    fn syntax_error_names_its_line() {
        let err = analyze("r.active &&\n  r.age_days >").unwrap_err();
        assert_eq!(err.line, 2, "{}", err.message);
        assert!(err.message.contains("does not compile"), "{}", err.message);
    }
}
