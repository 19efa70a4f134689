//! The direct path against the interpreter, its reference: wherever it answers, it answers as
//! the interpreter does, and it answers the conditions the built-in rules are written in.

use std::collections::BTreeMap;
use std::sync::Arc;

use cel_interpreter::objects::{Key, Map};
use cel_interpreter::{Context, Program, Value};
use proptest::prelude::*;
use serde_json::{Value as J, json};

use super::*;

const FACTS: [&str; 4] = ["a", "b", "c", "d"];

fn params() -> BTreeMap<String, J> {
    [
        ("n".to_string(), json!(90)),
        ("s".to_string(), json!("aws")),
        ("l".to_string(), json!(["aws", 3])),
    ]
    .into()
}

fn parse(condition: &str) -> IdedExpr {
    cel_parser::Parser::default().parse(condition).unwrap()
}

fn compiled(condition: &str) -> Option<Node> {
    let at = |name: &str| FACTS.iter().position(|f| *f == name);
    compile(&parse(condition), &at, &params())
}

/// The interpreter's answer, with `r` built as the engine builds it.
fn interpreted(condition: &str, facts: &[Option<J>]) -> Result<Value, String> {
    let program = Program::compile(condition).map_err(|e| e.to_string())?;
    let mut ctx = Context::default();
    let mut map = std::collections::HashMap::new();
    for (name, value) in FACTS.iter().zip(facts) {
        if let Some(value) = value {
            map.insert(
                Key::String(Arc::new(name.to_string())),
                super::super::engine::json_to_cel(value),
            );
        }
    }
    ctx.add_variable_from_value("r", Value::Map(Map { map: Arc::new(map) }));
    let params: J = params()
        .into_iter()
        .collect::<serde_json::Map<_, _>>()
        .into();
    ctx.add_variable_from_value("params", super::super::engine::json_to_cel(&params));
    crate::rules::condition::contain(|| program.execute(&ctx))
        .map_err(|()| "panicked".to_string())?
        .map_err(|e| e.to_string())
}

fn scalar() -> impl Strategy<Value = J> {
    prop_oneof![
        Just(J::Null),
        any::<bool>().prop_map(J::Bool),
        prop_oneof![
            Just(0i64),
            Just(1),
            Just(-3),
            Just(90),
            Just(91),
            any::<i64>()
        ]
        .prop_map(J::from),
        Just(json!(u64::MAX)),
        prop_oneof![Just(0.0f64), Just(1.5), Just(90.0), Just(-0.5)].prop_map(J::from),
        prop_oneof![
            Just(""),
            Just("a"),
            Just("aws"),
            Just("azure"),
            Just("iam:*"),
            Just("abc"),
            Just("ünï")
        ]
        .prop_map(J::from),
    ]
}

fn value() -> impl Strategy<Value = J> {
    scalar().prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(J::Array),
            prop::collection::vec((prop_oneof![Just("a"), Just("k")], inner), 0..3).prop_map(
                |entries| {
                    J::Object(
                        entries
                            .into_iter()
                            .map(|(k, v)| (k.to_string(), v))
                            .collect(),
                    )
                }
            ),
        ]
    })
}

/// Facts `a` (a boolean), `b` (an integer), `c` (a string), `d` (a list of strings), mostly of
/// their type, sometimes of any, sometimes missing.
fn facts() -> impl Strategy<Value = Vec<Option<J>>> {
    let strings = || {
        prop::sample::select(vec!["", "a", "aws", "azure", "iam:*", "abc", "ünï"]).prop_map(J::from)
    };
    let typed = [
        any::<bool>().prop_map(J::Bool).boxed(),
        prop::sample::select(vec![0i64, 1, 3, 6, 90, 91])
            .prop_map(J::from)
            .boxed(),
        strings().boxed(),
        prop::collection::vec(strings(), 0..3)
            .prop_map(J::Array)
            .boxed(),
    ];
    typed
        .into_iter()
        .map(|typed| {
            prop_oneof![15 => typed.prop_map(Some), 4 => value().prop_map(Some), 1 => Just(None)]
        })
        .collect::<Vec<_>>()
}

/// Atoms the direct path compiles, and (`all`) atoms it leaves to the interpreter.
fn atom(all: bool) -> BoxedStrategy<String> {
    let mut literals = vec![
        "true",
        "false",
        "null",
        "0",
        "1",
        "3",
        "90",
        "1.5",
        "90.0",
        "'aws'",
        "''",
        "'a'",
        "'ünï'",
        "'iam:*'",
        "['aws', 'azure']",
        "[1, 'a']",
        "[]",
    ];
    if all {
        literals.extend(["3u", "b'a'", "-1", "{'k': 1}", "r.e", "now"]);
    }
    prop_oneof![
        3 => prop::sample::select(FACTS.to_vec()).prop_map(|f| format!("r.{f}")),
        1 => prop::sample::select(FACTS.to_vec()).prop_map(|f| format!("r[\"{f}\"]")),
        1 => Just("r.a.k".to_string()),
        1 => prop::sample::select(vec!["params.n", "params.s", "params.l"]).prop_map(String::from),
        3 => prop::sample::select(literals).prop_map(String::from),
    ]
    .boxed()
}

fn condition(all: bool) -> impl Strategy<Value = String> {
    let mut functions = vec!["startsWith", "endsWith"];
    let mut operators = vec!["&&", "||", "==", "!=", "<", "<=", ">", ">=", "in"];
    if all {
        functions.push("contains");
        operators.extend(["+", "-"]);
    }
    atom(all).prop_recursive(4, 24, 3, move |inner| {
        let two = (inner.clone(), inner.clone());
        let mut forms = vec![
            inner.clone().prop_map(|a| format!("!({a})")).boxed(),
            inner.clone().prop_map(|a| format!("size({a})")).boxed(),
            inner.clone().prop_map(|a| format!("({a}).size()")).boxed(),
            (inner.clone(), prop::sample::select(functions.clone()))
                .prop_map(|(a, f)| format!("({a}).{f}('a')"))
                .boxed(),
            (two.clone(), prop::sample::select(operators.clone()))
                .prop_map(|((a, b), op)| format!("({a}) {op} ({b})"))
                .boxed(),
            (inner.clone(), two)
                .prop_map(|(c, (a, b))| format!("({c}) ? ({a}) : ({b})"))
                .boxed(),
        ];
        if all {
            forms.push(
                inner
                    .prop_map(|a| format!("[{a}].exists(x, x == 1)"))
                    .boxed(),
            );
        }
        prop::strategy::Union::new(forms)
    })
}

/// Conditions of the shape rules are written in, well typed on facts of their type, so most
/// are decided: comparisons of a fact, its size or a parameter with a literal, membership,
/// prefixes, joined by `!`, `&&`, `||` and `?:`.
fn typed_condition() -> impl Strategy<Value = String> {
    let op = || prop::sample::select(vec!["==", "!=", "<", "<=", ">", ">="]);
    let int = || prop::sample::select(vec!["0", "1", "2", "3", "5", "90", "90.0", "params.n"]);
    let string = || prop::sample::select(vec!["''", "'a'", "'aws'", "'ünï'", "'ün'", "params.s"]);
    let atom = prop_oneof![
        Just("r.a".to_string()),
        prop::sample::select(vec!["true", "false"]).prop_map(String::from),
        (op(), int()).prop_map(|(op, n)| format!("r.b {op} {n}")),
        (
            prop::sample::select(vec!["r.c", "r.d", "r[\"c\"]"]),
            op(),
            int()
        )
            .prop_map(|(f, op, n)| format!("size({f}) {op} {n}")),
        (op(), string()).prop_map(|(op, s)| format!("r.c {op} {s}")),
        prop::sample::select(vec!["['aws', 'ünï']", "r.d", "params.l", "'xawsy'"])
            .prop_map(|list| format!("r.c in {list}")),
        (
            prop::sample::select(vec!["startsWith", "endsWith"]),
            string()
        )
            .prop_map(|(f, s)| format!("r.c.{f}({s})")),
        prop::sample::select(vec!["r[\"a\"] == null", "r[\"b\"] != null"]).prop_map(String::from),
    ];
    atom.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            inner.clone().prop_map(|a| format!("!({a})")),
            (
                inner.clone(),
                inner.clone(),
                prop::sample::select(vec!["&&", "||"])
            )
                .prop_map(|(a, b, op)| format!("({a}) {op} ({b})")),
            (inner.clone(), inner.clone(), inner)
                .prop_map(|(c, a, b)| format!("({c}) ? ({a}) : ({b})")),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    /// Typed conditions on typed facts: decided, and as the interpreter decides.
    #[test]
    fn fast_decides_typed_conditions_as_the_interpreter(
        condition in typed_condition(),
        facts in facts(),
    ) {
        let node = compiled(&condition);
        prop_assert!(node.is_some(), "{} not compiled", condition);
        let reference = interpreted(&condition, &facts);
        match node.unwrap().decide(&facts) {
            Some(fast) => prop_assert_eq!(reference, Ok(Value::Bool(fast)), "{} on {:?}", condition, facts),
            // Only where the interpreter has no boolean either: a fact missing or of another type.
            None => prop_assert!(!matches!(reference, Ok(Value::Bool(_))), "{} on {:?}: undecided but the interpreter says {:?}", condition, facts, reference),
        }
    }

    #[test]
    fn fast_is_the_interpreter(
        condition in prop_oneof![3 => condition(false), 1 => condition(true)],
        facts in facts(),
    ) {
        let Some(node) = compiled(&condition) else { return Ok(()) };
        let Some(fast) = node.decide(&facts) else { return Ok(()) };
        let reference = interpreted(&condition, &facts);
        prop_assert_eq!(
            reference.clone(),
            Ok(Value::Bool(fast)),
            "{} on {:?}", condition, facts
        );
    }
}

#[test]
fn decides_the_common_forms_as_the_interpreter() {
    let facts = vec![
        Some(json!(true)),
        Some(json!(91)),
        Some(json!("aws")),
        Some(json!(["iam:*", "s3:getobject"])),
    ];
    for (condition, expected) in [
        ("r.a && r.b > params.n", true),
        ("!r.a || r.b <= 90", false),
        ("r.c in ['aws', 'azure'] && size(r.d) == 2", true),
        ("r.c == params.s && r[\"b\"] != null", true),
        ("r.b > 90.5 ? r.c.startsWith('a') : false", true),
        ("size(r.d) > 0 && r.c.endsWith('s')", true),
        ("r.c in params.l", true),
    ] {
        let node = compiled(condition).unwrap_or_else(|| panic!("{condition} not compiled"));
        assert_eq!(node.decide(&facts), Some(expected), "{condition}");
        assert_eq!(interpreted(condition, &facts), Ok(Value::Bool(expected)));
    }
}

#[test]
fn leaves_to_the_interpreter_what_it_does_not_know() {
    let facts = vec![
        Some(json!("x")),
        None,
        Some(json!({"k": 1})),
        Some(json!(1)),
    ];
    // A missing fact is the interpreter's error, not `false`.
    assert_eq!(compiled("r.b > 1").unwrap().decide(&facts), None);
    // Values the interpreter cannot order.
    assert_eq!(compiled("r.a > 1").unwrap().decide(&facts), None);
    // `||` yields a non-boolean left operand: the interpreter says which type.
    assert_eq!(compiled("r.a || false").unwrap().decide(&facts), None);
    // Maps compare key by key, as the interpreter's do.
    for (condition, expected) in [
        ("r.c == r.c", true),
        ("'k' in r.c", true),
        ("1 in r.c", false),
    ] {
        assert_eq!(
            compiled(condition).unwrap().decide(&facts),
            Some(expected),
            "{condition}"
        );
        assert_eq!(
            interpreted(condition, &facts),
            Ok(Value::Bool(expected)),
            "{condition}"
        );
    }
    // But a short circuit never looks at them.
    assert_eq!(
        compiled("false && r.b > 1").unwrap().decide(&facts),
        Some(false)
    );
    for condition in [
        "r.d.exists(x, x == 1)",
        "now > timestamp('2020-01-01T00:00:00Z')",
        "r.d == 1u",
        "size(r)",
        "r.a + 'y' == 'xy'",
        "params.missing == 1",
    ] {
        assert!(compiled(condition).is_none(), "{condition}");
    }
}
