//! Rules, the direct path: the CEL most conditions are written in, evaluated on a subject's
//! picked facts as they are, without building the interpreter's map of them.
//!
//! It covers facts (`r.name`, `r["name"]`, a field of a fact), `params.name`, literals and
//! lists of them, `!`, `&&`, `||`, `?:`, `==` `!=` `<` `<=` `>` `>=`, `in`, `size()`,
//! `startsWith` and `endsWith`, with the interpreter's semantics (cel-interpreter 0.10):
//! operands left to right, `&&` `||` `?:` short-circuit on truthiness, and `||` yields its left
//! operand itself when that is truthy. It answers only where it knows the interpreter's answer
//! is a boolean. Everything else (a missing fact, an error, a non-boolean result, a construct it
//! does not know) is left to the interpreter, which stays
//! the reference; `fast_is_the_interpreter` compares the two on random conditions and facts.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use cel_parser::ast::{Expr, IdedExpr, operators};
use cel_parser::reference::Val;
use serde_json::Value as J;

/// A condition compiled for one subject kind: facts are positions among the kind's picked
/// facts.
#[derive(Debug)]
pub(super) enum Node {
    /// A picked fact; `index` (`r["name"]`) reads a missing one as `null`, `r.name` does not.
    Fact {
        at: usize,
        index: bool,
    },
    Lit(J),
    Field(Box<Node>, String),
    Not(Box<Node>),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Cond(Box<[Node; 3]>),
    Cmp(Op, Box<Node>, Box<Node>),
    In(Box<Node>, Box<Node>),
    Size(Box<Node>),
    StartsWith(Box<Node>, Box<Node>),
    EndsWith(Box<Node>, Box<Node>),
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// Compiles `expr`, or `None` when it uses what this path does not cover. `fact` gives a
/// fact's position among the picked ones; `params` are the rule's parameters.
pub(super) fn compile(
    expr: &IdedExpr,
    fact: &dyn Fn(&str) -> Option<usize>,
    params: &BTreeMap<String, J>,
) -> Option<Node> {
    let node = |e: &IdedExpr| compile(e, fact, params).map(Box::new);
    Some(match &expr.expr {
        Expr::Literal(val) => Node::Lit(literal(val)?),
        Expr::List(list) => Node::Lit(J::Array(
            list.elements
                .iter()
                .map(|e| match &e.expr {
                    Expr::Literal(val) => literal(val),
                    _ => None,
                })
                .collect::<Option<_>>()?,
        )),
        Expr::Select(select) if !select.test => match &select.operand.expr {
            Expr::Ident(root) if root == "r" => Node::Fact {
                at: fact(&select.field)?,
                index: false,
            },
            Expr::Ident(root) if root == "params" => Node::Lit(params.get(&select.field)?.clone()),
            Expr::Ident(_) => return None,
            _ => Node::Field(node(&select.operand)?, select.field.clone()),
        },
        Expr::Call(call) => {
            let args = call.args.as_slice();
            match (call.func_name.as_str(), call.target.as_deref(), args) {
                (operators::INDEX, None, [root, key]) => match (&root.expr, &key.expr) {
                    (Expr::Ident(root), Expr::Literal(Val::String(name))) if root == "r" => {
                        Node::Fact {
                            at: fact(name)?,
                            index: true,
                        }
                    }
                    _ => return None,
                },
                (operators::CONDITIONAL, None, [c, a, b]) => Node::Cond(Box::new([
                    compile(c, fact, params)?,
                    compile(a, fact, params)?,
                    compile(b, fact, params)?,
                ])),
                (operators::LOGICAL_NOT, None, [a]) => Node::Not(node(a)?),
                (operators::LOGICAL_AND, None, [a, b]) => Node::And(node(a)?, node(b)?),
                (operators::LOGICAL_OR, None, [a, b]) => Node::Or(node(a)?, node(b)?),
                (operators::IN, None, [a, b]) => Node::In(node(a)?, node(b)?),
                ("size", None, [a]) | ("size", Some(a), []) => Node::Size(node(a)?),
                ("startsWith", Some(s), [a]) => Node::StartsWith(node(s)?, node(a)?),
                ("endsWith", Some(s), [a]) => Node::EndsWith(node(s)?, node(a)?),
                (name, None, [a, b]) => {
                    let op = match name {
                        operators::EQUALS => Op::Eq,
                        operators::NOT_EQUALS => Op::Ne,
                        operators::LESS => Op::Lt,
                        operators::LESS_EQUALS => Op::Le,
                        operators::GREATER => Op::Gt,
                        operators::GREATER_EQUALS => Op::Ge,
                        _ => return None,
                    };
                    Node::Cmp(op, node(a)?, node(b)?)
                }
                _ => return None,
            }
        }
        _ => return None,
    })
}

/// A literal as the JSON fact it equals once converted: `uint` and bytes have no such form.
fn literal(val: &Val) -> Option<J> {
    Some(match val {
        Val::String(s) => J::String(s.clone()),
        Val::Boolean(b) => J::Bool(*b),
        Val::Int(i) => J::from(*i),
        Val::Double(f) => J::Number(serde_json::Number::from_f64(*f)?),
        Val::Null => J::Null,
        Val::UInt(_) | Val::Bytes(_) => return None,
    })
}

impl Node {
    /// The condition's boolean on these picked facts, or `None`: ask the interpreter.
    pub(super) fn decide(&self, facts: &[Option<J>]) -> Option<bool> {
        match cel(self.eval(facts)?) {
            C::Bool(b) => Some(b),
            _ => None,
        }
    }

    fn eval<'a>(&'a self, facts: &'a [Option<J>]) -> Option<V<'a>> {
        Some(match self {
            Node::Fact { at, index } => match (facts.get(*at)?, index) {
                (Some(value), _) => V::J(value),
                (None, true) => V::J(&J::Null),
                (None, false) => return None,
            },
            Node::Lit(value) => V::J(value),
            Node::Field(of, name) => match cel(of.eval(facts)?) {
                C::Map(map) => V::J(map.get(name)?),
                _ => return None,
            },
            Node::Not(a) => V::Bool(!truthy(cel(a.eval(facts)?))),
            Node::And(a, b) => V::Bool(truthy(cel(a.eval(facts)?)) && truthy(cel(b.eval(facts)?))),
            Node::Or(a, b) => {
                let left = a.eval(facts)?;
                if truthy(cel(left)) {
                    left
                } else {
                    b.eval(facts)?
                }
            }
            Node::Cond(parts) => {
                let [c, a, b] = &**parts;
                if truthy(cel(c.eval(facts)?)) {
                    a.eval(facts)?
                } else {
                    b.eval(facts)?
                }
            }
            Node::Cmp(op, a, b) => {
                let (a, b) = (cel(a.eval(facts)?), cel(b.eval(facts)?));
                V::Bool(match op {
                    Op::Eq => equal(a, b),
                    Op::Ne => !equal(a, b),
                    Op::Lt => order(a, b)? == Ordering::Less,
                    Op::Le => order(a, b)? != Ordering::Greater,
                    Op::Gt => order(a, b)? == Ordering::Greater,
                    Op::Ge => order(a, b)? != Ordering::Less,
                })
            }
            Node::In(a, b) => {
                let (a, b) = (cel(a.eval(facts)?), cel(b.eval(facts)?));
                V::Bool(match (a, b) {
                    (C::Str(needle), C::Str(hay)) => hay.contains(needle),
                    (any, C::List(items)) => items.iter().any(|item| equal(any, of(item))),
                    // A map's keys are the JSON object's strings: anything else is not among them.
                    (C::Str(key), C::Map(map)) => map.contains_key(key),
                    (_, C::Map(_)) => false,
                    _ => return None,
                })
            }
            Node::Size(a) => V::Int(match cel(a.eval(facts)?) {
                C::List(items) => items.len(),
                C::Map(map) => map.len(),
                C::Str(s) => s.len(),
                _ => return None,
            } as i64),
            Node::StartsWith(s, a) | Node::EndsWith(s, a) => {
                let (C::Str(s), C::Str(a)) = (cel(s.eval(facts)?), cel(a.eval(facts)?)) else {
                    return None;
                };
                V::Bool(match self {
                    Node::StartsWith(..) => s.starts_with(a),
                    _ => s.ends_with(a),
                })
            }
        })
    }
}

/// A value during evaluation: a fact or literal as it is, or one an operator computed.
#[derive(Clone, Copy)]
enum V<'a> {
    J(&'a J),
    Bool(bool),
    Int(i64),
}

/// A value as the interpreter would hold it (`json_to_cel`: an integer that fits `i64` is an
/// `int`, any other number a `double`).
#[derive(Clone, Copy)]
enum C<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'a str),
    List(&'a [J]),
    Map(&'a serde_json::Map<String, J>),
}

fn cel(value: V<'_>) -> C<'_> {
    match value {
        V::J(j) => of(j),
        V::Bool(b) => C::Bool(b),
        V::Int(i) => C::Int(i),
    }
}

fn of(j: &J) -> C<'_> {
    match j {
        J::Null => C::Null,
        J::Bool(b) => C::Bool(*b),
        J::Number(n) => match n.as_i64() {
            Some(i) => C::Int(i),
            None => n.as_f64().map_or(C::Null, C::Float),
        },
        J::String(s) => C::Str(s),
        J::Array(items) => C::List(items),
        J::Object(map) => C::Map(map),
    }
}

/// The interpreter's truthiness (`&&`, `||`, `!`, `?:` read any value).
fn truthy(value: C<'_>) -> bool {
    match value {
        C::Null => false,
        C::Bool(b) => b,
        C::Int(i) => i != 0,
        C::Float(f) => f != 0.0,
        C::Str(s) => !s.is_empty(),
        C::List(items) => !items.is_empty(),
        C::Map(map) => !map.is_empty(),
    }
}

/// The interpreter's `==`: numbers compare across `int` and `double`, lists element by
/// element, maps key by key, different types are unequal.
fn equal(a: C<'_>, b: C<'_>) -> bool {
    match (a, b) {
        (C::Null, C::Null) => true,
        (C::Bool(a), C::Bool(b)) => a == b,
        (C::Int(a), C::Int(b)) => a == b,
        (C::Int(a), C::Float(b)) | (C::Float(b), C::Int(a)) => a as f64 == b,
        (C::Float(a), C::Float(b)) => a == b,
        (C::Str(a), C::Str(b)) => a == b,
        (C::List(a), C::List(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| equal(of(x), of(y)))
        }
        (C::Map(a), C::Map(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(key, x)| b.get(key).is_some_and(|y| equal(of(x), of(y))))
        }
        _ => false,
    }
}

/// The interpreter's ordering; `None` where it fails (values not comparable).
fn order(a: C<'_>, b: C<'_>) -> Option<Ordering> {
    match (a, b) {
        (C::Int(a), C::Int(b)) => Some(a.cmp(&b)),
        (C::Float(a), C::Float(b)) => a.partial_cmp(&b),
        (C::Int(a), C::Float(b)) => (a as f64).partial_cmp(&b),
        (C::Float(a), C::Int(b)) => a.partial_cmp(&(b as f64)),
        (C::Str(a), C::Str(b)) => Some(a.cmp(b)),
        (C::Bool(a), C::Bool(b)) => Some(a.cmp(&b)),
        (C::Null, C::Null) => Some(Ordering::Equal),
        _ => None,
    }
}

#[cfg(test)]
#[path = "fast_tests.rs"]
mod tests;
