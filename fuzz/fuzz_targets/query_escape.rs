//! The query builder's escaping, checked by the simulator's JPQL parser and compiler: any string
//! values arrive as exactly those bound values, and the compiled SQL is the same as for harmless
//! values (the structure of the query never changes).
#![no_main]

use icat_sim::jpql;
use icat_soap::query::{Condition, Query, Schema};
use libfuzzer_sys::fuzz_target;

fn build(values: &[String]) -> Query {
    Query::new("Investigation")
        .where_eq("visitId", values[0].as_str())
        .filter(Condition::any([
            Condition::like("name", values[1].as_str()),
            Condition::is_in("title", [values[2].as_str(), values[0].as_str()]),
        ]))
        .order_by("id")
}

fn compile(q: &Query) -> Option<jpql::CompiledQuery> {
    let text = q.to_jpql_with(Schema::new(icat_sim::entities())).ok()?;
    let parsed = jpql::parse(&text).unwrap_or_else(|e| panic!("{text}\n  does not parse: {e}"));
    Some(
        jpql::compile(&parsed, "simple/root", icat_sim::entities())
            .unwrap_or_else(|e| panic!("{text}\n  does not compile: {e}")),
    )
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut values: Vec<String> = text.splitn(3, '\u{1}').map(str::to_owned).collect();
    values.resize(3, String::new());
    let Some(hostile) = compile(&build(&values)) else {
        return;
    };
    let plain = compile(&build(&["a".into(), "b".into(), "c".into()])).expect("plain query");
    assert_eq!(hostile.sql, plain.sql, "{values:?} changed the query");
    let expected: Vec<String> = [&values[0], &values[1], &values[2], &values[0]]
        .iter()
        .map(|v| format!("Text({v:?})"))
        .collect();
    assert_eq!(
        format!("{:?}", hostile.params),
        format!("[{}]", expected.join(", ")),
        "{values:?} not bound as themselves"
    );
});
