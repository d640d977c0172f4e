//! The library conveniences of issue 18 against the simulator: several select items with GROUP BY,
//! searches over long id lists, LIKE helpers that escape wildcards, typed values and rows.

use icat_sim::data::synthetic::SyntheticSpec;
use icat_sim::{RunningSimulator, Simulator};
use icat_soap::client::{Client, Credentials, Session};
use icat_soap::model::Value;
use icat_soap::query::{Aggregate, CompareOp, Condition, Jpql, QueryError};
use icat_soap::{IcatError, Query};

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
    let typed: Vec<icat_soap::model::Datafile> = session
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

#[tokio::test]
async fn typed_rows_references_and_delete_by_id() {
    use icat_soap::EntityType;
    use icat_soap::model::{Dataset, DatasetType, Investigation};
    let s = sim().await;
    let session = root(&s).await;
    let rows: Vec<(String, i64, Option<i64>)> = session
        .search_rows(
            &Query::new("Datafile")
                .select("dataset.investigation.name")
                .count()
                .aggregate(Aggregate::Sum, "fileSize")
                .group_by("dataset.investigation.name")
                .order_by("dataset.investigation.name"),
        )
        .await
        .expect("typed rows");
    assert_eq!(rows.len(), 4);
    assert!(rows.iter().all(|(_, n, sum)| *n == 15 && *sum == Some(240)));
    let (files, bytes): (i64, Option<i64>) = session
        .search_one(
            &Query::new("Datafile")
                .count()
                .aggregate(Aggregate::Sum, "fileSize"),
        )
        .await
        .expect("one row");
    assert_eq!((files, bytes), (60, Some(960)));
    // The wrong Rust type is a typed error that names the column.
    match session
        .search_rows::<(String, String)>(&Query::new("Datafile").select("name").select("fileSize"))
        .await
    {
        Err(IcatError::RowShape { row: 0, error }) => {
            assert_eq!((error.column, error.found.as_str()), (1, "an integer"));
        }
        other => panic!("{other:?}"),
    }
    match session
        .search_one::<i64>(&Query::new("Datafile").select("id"))
        .await
    {
        Err(IcatError::NotOneResult { count: 60 }) => {}
        other => panic!("{other:?}"),
    }

    // Build with references (no Box, no `Some(id)`), delete by type and id.
    let inv: Investigation = session
        .search_one(&Query::new("Investigation").order_by("id").limit(0, 1))
        .await
        .expect("an investigation");
    let type_id: i64 = session
        .search_one(
            &Query::new("DatasetType")
                .select("id")
                .order_by("id")
                .limit(0, 1),
        )
        .await
        .expect("a dataset type");
    let id = session
        .create(Dataset {
            name: Some("library-api".into()),
            investigation: Investigation::reference(inv.stored_id().expect("id")).into(),
            type_: DatasetType::reference(type_id).into(),
            ..Default::default()
        })
        .await
        .expect("create");
    let fetched: Dataset = session
        .get_entity(id, &["investigation"])
        .await
        .expect("get");
    assert_eq!(fetched.stored_id().expect("id"), id);
    assert_eq!(
        fetched.investigation.as_deref().and_then(EntityType::id),
        inv.id
    );
    session.delete_by_id::<Dataset>(id).await.expect("delete");
    assert!(matches!(
        session.get_entity::<Dataset>(id, &[]).await,
        Err(IcatError::NoSuchObjectFound { .. })
    ));
}

#[tokio::test]
async fn any_generated_operation_through_the_session() {
    use icat_soap::ops::{GetApiVersionRequest, GetUserNameRequest, SearchRequest};
    let s = sim().await;
    let session = root(&s).await;
    let name = session
        .call(GetUserNameRequest::default())
        .await
        .expect("getUserName");
    assert_eq!(name.return_.as_deref(), Some("simple/root"));
    let answer = session
        .call(SearchRequest {
            query: Some("SELECT COUNT(d) FROM Datafile d".into()),
            ..Default::default()
        })
        .await
        .expect("search");
    assert_eq!(answer.return_, [Value::Long(60)]);
    let version = session
        .client()
        .call_operation(&GetApiVersionRequest::default())
        .await
        .expect("version");
    assert_eq!(version.return_.as_deref(), Some("6.2.0"));
}
