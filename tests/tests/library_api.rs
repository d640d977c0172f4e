//! The library conveniences of issue 18 against the simulator: several select items with GROUP BY,
//! searches over long id lists, LIKE helpers that escape wildcards, typed values and rows.

use icat_sim::synthetic::SyntheticSpec;
use icat_sim::{RunningSimulator, Simulator};
use icat_soap::client::{Client, Credentials, Session};
use icat_soap::query::{Aggregate, CompareOp, Condition, Jpql, QueryError};
use icat_soap::{IcatError, Query, Value};

async fn sim() -> RunningSimulator {
    Simulator::builder()
        .synthetic(SyntheticSpec {
            visits: 4,
            datasets: 3,
            files: 5,
            size: 16,
            ..SyntheticSpec::default()
        })
        .start()
        .await
        .expect("simulator starts")
}

async fn root(s: &RunningSimulator) -> Session {
    let client = Client::new(&s.icat_url()).expect("client");
    let creds = Credentials::new()
        .with("username", "root")
        .with("password", "secret");
    client.login("simple", &creds).await.expect("root login")
}

#[tokio::test]
async fn count_and_sum_per_investigation_in_one_query() {
    let s = sim().await;
    let session = root(&s).await;
    let q = Query::new("Datafile")
        .select("dataset.investigation.name")
        .count()
        .aggregate(Aggregate::Sum, "fileSize")
        .group_by("dataset.investigation.name")
        .having(Condition::count(CompareOp::Ge, 1_i64))
        .order_by("dataset.investigation.name");
    let rows = session.search(&q).await.expect("grouped search");
    assert_eq!(rows.len(), 4, "{rows:?}");
    for row in &rows {
        let Value::FieldSet(cols) = row else {
            panic!("not a row: {row:?}")
        };
        assert_eq!(cols.len(), 3, "{cols:?}");
        assert_eq!(cols[1], Some(Value::Long(15)), "{cols:?}");
        assert_eq!(cols[2], Some(Value::Long(15 * 16)), "{cols:?}");
    }
    // The same with raw JPQL and a bound parameter.
    let name = match &rows[0] {
        Value::FieldSet(cols) => match &cols[0] {
            Some(Value::String(n)) => n.clone(),
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    };
    let q = Jpql::new(
        "SELECT COUNT(df), SUM(df.fileSize) FROM Datafile df JOIN df.dataset ds \
         JOIN ds.investigation i WHERE i.name = :name",
    )
    .bind("name", name.as_str());
    let rows = session.search(&q).await.expect("raw search");
    assert_eq!(
        rows,
        [Value::FieldSet(vec![
            Some(Value::Long(15)),
            Some(Value::Long(240))
        ])]
    );
}

#[tokio::test]
async fn long_id_lists_are_searched_in_chunks() {
    let s = sim().await;
    let session = root(&s).await;
    let ids: Vec<i64> = session
        .search(&Query::new("Datafile").select("id"))
        .await
        .expect("ids")
        .into_iter()
        .map(|v| match v {
            Value::Long(id) => id,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(ids.len(), 60);
    // 2,460 values: more than one IN list may hold.
    let mut wanted = ids.clone();
    wanted.extend(1_000_000..1_002_400_i64);
    let too_long = Query::new("Datafile").filter(Condition::is_in("id", wanted.iter().copied()));
    match session.search(&too_long).await {
        Err(IcatError::Query(QueryError::TooManyInValues { count: 2460, .. })) => {}
        other => panic!("{other:?}"),
    }
    let found = session
        .search_in_chunks(
            &Query::new("Datafile").select("id"),
            "id",
            wanted.clone(),
            100,
        )
        .await
        .expect("chunked search");
    let mut found: Vec<Value> = found;
    found.sort_by_key(|v| match v {
        Value::Long(id) => *id,
        _ => 0,
    });
    let mut expected: Vec<Value> = ids.iter().map(|id| Value::Long(*id)).collect();
    expected.sort_by_key(|v| match v {
        Value::Long(id) => *id,
        _ => 0,
    });
    assert_eq!(found, expected);
    let typed: Vec<icat_soap::Datafile> = session
        .search_entities_in(&Query::new("Datafile"), "id", wanted)
        .await
        .expect("typed chunked search");
    assert_eq!(typed.len(), 60);
    assert!(matches!(
        session
            .search_in(&Query::new("Datafile").count(), "id", ids)
            .await,
        Err(IcatError::InvalidArgument(_))
    ));
}

#[tokio::test]
async fn like_helpers_take_user_input_literally() {
    let s = sim().await;
    let session = root(&s).await;
    let all = session
        .search(&Query::new("Datafile").filter(Condition::like("name", "%_%")))
        .await
        .expect("raw pattern");
    assert_eq!(all.len(), 60, "a raw pattern's wildcards match every name");
    for input in ["%", "_", "%_%", "!"] {
        let none = session
            .search(&Query::new("Datafile").filter(Condition::contains("name", input)))
            .await
            .expect("escaped pattern");
        assert!(none.is_empty(), "{input:?} matched {none:?}");
    }
    let some = session
        .search(&Query::new("Datafile").filter(!Condition::contains("name", "%")))
        .await
        .expect("negated");
    assert_eq!(some.len(), 60);
}
