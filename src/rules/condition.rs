//! Rules, conditions: parses a rule's CEL condition at load and reports what it reads: the facts
//! (`r.<name>`, the finding's evidence) and the parameters (`params.<name>`), and any variable
//! other than `r`, `params`, `now`, so a typo fails the load instead of every evaluation.

use std::cell::Cell;
use std::collections::BTreeSet;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

use cel_interpreter::Program;
use cel_parser::ast::{EntryExpr, Expr, IdedExpr};
use cel_parser::reference::Val;

/// The variables a condition may read.
pub const VARIABLES: [&str; 3] = ["r", "params", "now"];

/// What a condition reads, in order of first appearance (evidence lists facts in that order).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Reads {
    pub facts: Vec<String>,
    pub params: Vec<String>,
    /// `r` is used as a whole (`size(r)`, `r[name]`): the engine then passes every fact.
    pub whole_facts: bool,
    /// Facts the rule cannot judge without (its `[requires]` table), each with the input that
    /// supplies it: a subject lacking one is counted as not judged, not as passing.
    pub required: Vec<(String, String)>,
    /// `params` is read at all (a field of it, or as a whole): without, the engine leaves it
    /// unset.
    pub uses_params: bool,
}

/// A condition that does not parse or reads what it may not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionError {
    /// 1-based line within the condition text.
    pub line: usize,
    pub message: String,
}

/// Compiles `source` for the engine and lists what it reads; the parsed expression is the
/// engine's direct path ([`super::fast`]).
pub fn compile(source: &str) -> Result<(Program, Reads, IdedExpr), ConditionError> {
    let expr = parse(source)?;
    let reads = reads_of(&expr)?;
    let program = quietly(|| Program::compile(source).map_err(|e| e.to_string()))
        .and_then(|r| r)
        .map_err(|message| ConditionError {
            line: 1,
            message: format!("condition does not compile: {message}"),
        })?;
    Ok((program, reads, expr))
}

thread_local! {
    static PARSING: Cell<bool> = const { Cell::new(false) };
}

/// Runs `work` inside the expression engine, turning its panics into `Err`, silently.
pub fn contain<T>(work: impl FnOnce() -> T) -> Result<T, ()> {
    quietly(work).map_err(|_| ())
}

/// Runs the CEL parser or interpreter, turning its panics into errors. The parser
/// (antlr4rust) panics on some malformed input (`a &&` at the end of a line), the interpreter
/// on some values (a `duration()` too large for chrono); a rule must get an error, not a crash,
/// nor a panic message on stderr, so the hook stays silent while this thread is inside it.
fn quietly<T>(parse: impl FnOnce() -> T) -> Result<T, String> {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !PARSING.with(Cell::get) {
                previous(info);
            }
        }));
    });
    PARSING.with(|p| p.set(true));
    let result = panic::catch_unwind(AssertUnwindSafe(parse));
    PARSING.with(|p| p.set(false));
    result.map_err(|_| "the expression is incomplete or malformed".to_string())
}

/// Longest condition accepted, in bytes: the built-in rules use under 200.
pub const MAX_CONDITION_BYTES: usize = 4096;
/// Deepest nesting of `(`, `[` and `{` accepted: the parser recurses a dozen frames per level,
/// so 2,000 levels overflow its stack; the built-in rules nest 3 deep.
pub const MAX_NESTING: usize = 32;

/// Refuses a condition too long or nested too deep, before the parser (which recurses) sees it.
fn check_size(source: &str) -> Result<(), ConditionError> {
    if source.len() > MAX_CONDITION_BYTES {
        return Err(ConditionError {
            line: 1,
            message: format!(
                "condition is {} bytes; at most {MAX_CONDITION_BYTES} are allowed",
                source.len()
            ),
        });
    }
    let (mut depth, mut line, mut quote) = (0usize, 1usize, None::<char>);
    let mut chars = source.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (_, '\n') => line += 1,
            (Some(_), '\\') => {
                chars.next();
            }
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '(' | '[' | '{') => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(ConditionError {
                        line,
                        message: format!("condition nests brackets more than {MAX_NESTING} deep"),
                    });
                }
            }
            (None, ')' | ']' | '}') => depth = depth.saturating_sub(1),
            (None, _) => {}
        }
    }
    Ok(())
}

/// Parses `source` and lists what it reads.
pub fn analyze(source: &str) -> Result<Reads, ConditionError> {
    reads_of(&parse(source)?)
}

fn parse(source: &str) -> Result<IdedExpr, ConditionError> {
    check_size(source)?;
    let parsed = quietly(|| {
        cel_parser::Parser::default()
            .parse(source)
            .map_err(|errors| {
                let first = errors.errors.first();
                ConditionError {
                    line: first.map(|e| e.pos.0.max(1) as usize).unwrap_or(1),
                    message: first
                        .map(|e| {
                            format!(
                                "condition does not compile: {} (column {})",
                                e.msg,
                                e.pos.1 + 1
                            )
                        })
                        .unwrap_or_else(|| "condition does not compile".to_string()),
                }
            })
    });
    match parsed {
        Ok(result) => result,
        Err(message) => Err(ConditionError {
            line: 1,
            message: format!("condition does not compile: {message}"),
        }),
    }
}

/// What a parsed condition reads, or the variable or construct it may not use.
fn reads_of(expr: &IdedExpr) -> Result<Reads, ConditionError> {
    let mut walk = Walk::default();
    walk.expr(expr);
    if let Some(what) = walk.unsupported {
        return Err(ConditionError {
            line: 1,
            message: format!("condition uses {what}, which lapse does not support"),
        });
    }
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
    /// A construct the interpreter would panic on at evaluation (message literals).
    unsupported: Option<&'static str>,
}

impl Walk {
    fn expr(&mut self, e: &IdedExpr) {
        match &e.expr {
            Expr::Unspecified | Expr::Literal(_) => {}
            Expr::Ident(name) => {
                self.ident(name);
                if name == "r" && !self.is_bound(name) {
                    self.reads.whole_facts = true;
                }
            }
            Expr::Select(select) => match &select.operand.expr {
                Expr::Ident(root) => {
                    self.ident(root);
                    self.field(root, &select.field);
                }
                _ => self.expr(&select.operand),
            },
            Expr::Call(call) => {
                // `r["name"]` reads a fact as surely as `r.name`.
                if call.func_name == "_[_]"
                    && let [operand, key] = call.args.as_slice()
                    && let (Expr::Ident(root), Expr::Literal(Val::String(field))) =
                        (&operand.expr, &key.expr)
                {
                    self.ident(root);
                    self.field(root, field);
                    return;
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
            // cel-interpreter 0.10 panics evaluating `Type{field: ...}`: refuse it at load.
            Expr::Struct(_) => self.unsupported = Some("message literals (`Type{field: value}`)"),
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

    fn is_bound(&self, name: &str) -> bool {
        self.bound.iter().any(|b| b == name)
    }

    fn ident(&mut self, name: &str) {
        if self.is_bound(name) {
            return;
        }
        // `@`-names are the parser's own accumulators.
        if !name.starts_with('@') && !VARIABLES.contains(&name) {
            self.unknown.insert(name.to_string());
        }
        self.reads.uses_params |= name == "params";
    }

    fn field(&mut self, root: &str, field: &str) {
        if self.is_bound(root) {
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
    fn uses_params_when_params_is_read_free() {
        let uses = |c: &str| analyze(c).unwrap().uses_params;
        assert!(uses("r.age_days > params.max_age_days"));
        assert!(uses("size(params) > 0"));
        assert!(uses("r[\"a\"] in params[\"roles\"]"));
        assert!(!uses("r.active && r.age_days > 90"));
        assert!(
            !uses("r.xs.exists(params, params > 1)"),
            "a bound `params` shadows"
        );
    }

    #[test]
    fn whole_facts_only_when_r_is_used_bare() {
        assert!(
            !analyze("r.a && r[\"b\"] == 1 && has(r.c)")
                .unwrap()
                .whole_facts
        );
        assert!(analyze("size(r) > 3").unwrap().whole_facts);
        assert!(
            !analyze("r.xs.exists(r, r > 1)").unwrap().whole_facts,
            "a bound `r` shadows"
        );
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
        let err = analyze("r.active &&\n  r.age_days > > 3").unwrap_err();
        assert_eq!(err.line, 2, "{}", err.message);
        assert!(err.message.contains("does not compile"), "{}", err.message);
    }

    #[test]
    fn message_literal_is_refused() {
        let err = analyze("r.active && Foo{a: 1} == Foo{a: 1}").unwrap_err();
        assert!(err.message.contains("message literals"), "{}", err.message);
    }

    #[test]
    fn deep_nesting_is_refused_before_the_parser() {
        let deep = format!("{}r.x{}", "(".repeat(2000), ")".repeat(2000));
        let err = analyze(&deep).unwrap_err();
        assert!(err.message.contains("more than 32 deep"), "{err:?}");
        let err = compile(&deep).unwrap_err();
        assert!(err.message.contains("deep"), "{err:?}");
        // Brackets inside a string literal do not count.
        let quoted = format!("r.x == '{}'", "(".repeat(100));
        assert!(analyze(&quoted).is_ok());
    }

    #[test]
    fn a_long_flat_condition_is_bounded() {
        let flat = vec!["r.x"; 5000].join(" || ");
        assert!(analyze(&flat).unwrap_err().message.contains("bytes"));
    }

    #[test]
    fn parser_panic_is_an_error() {
        let err = compile("r.active &&\n  r.age_days >").unwrap_err();
        assert!(err.message.contains("does not compile"), "{}", err.message);
    }
}
