//! End to end over HTTP: generated request types in, generated response types (or faults) out.

use icat_sim::Simulator;
use icat_sim::icat::db::Clock;
use icat_soap::envelope::SoapError;
use icat_soap::envelope::{read_response_envelope, write_request_envelope};
use icat_soap::model::*;
use icat_soap::ops::*;
use icat_soap::xml::SoapOperation;

struct Soap {
    http: reqwest::Client,
    url: String,
}

impl Soap {
    fn new(url: String) -> Self {
        Soap {
            http: icat_soap::tls::http_client().unwrap(),
            url,
        }
    }

    async fn call<R: SoapOperation>(&self, request: &R) -> Result<R::Response, IcatException> {
        let response = self
            .http
            .post(&self.url)
            .header("Content-Type", "text/xml; charset=utf-8")
            .header("SOAPAction", "\"\"")
            .body(write_request_envelope(request))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body = response.bytes().await.unwrap();
        match read_response_envelope::<R::Response>(&body) {
            Ok(r) => {
                assert_eq!(status, 200);
                Ok(r)
            }
            Err(SoapError::Fault(f)) => {
                assert_eq!(status, 500, "faults are HTTP 500");
                assert_eq!(f.code, "S:Server");
                Err(f.icat.expect("IcatException detail"))
            }
            Err(e) => panic!(
                "undecodable answer: {e}: {}",
                String::from_utf8_lossy(&body)
            ),
        }
    }

    async fn login(
        &self,
        plugin: &str,
        user: &str,
        password: &str,
    ) -> Result<String, IcatException> {
        let entry = |k: &str, v: &str| LoginCredentialsEntry {
            key: Some(k.into()),
            value: Some(v.into()),
        };
        let r = self
            .call(&LoginRequest {
                plugin: Some(plugin.into()),
                credentials: LoginCredentials {
                    entry: vec![entry("username", user), entry("password", password)],
                },
            })
            .await?;
        Ok(r.return_.unwrap())
    }

    async fn search(&self, sid: &str, query: &str) -> Result<Vec<Value>, IcatException> {
        Ok(self
            .call(&SearchRequest {
                session_id: Some(sid.into()),
                query: Some(query.into()),
            })
            .await?
            .return_)
    }
}

fn kind(e: &IcatException) -> &str {
    e.type_.as_ref().map_or("", |t| t.as_str())
}

#[tokio::test]
async fn crud_search_and_faults_over_soap() {
    let sim = Simulator::builder()
        .synthetic("visits=3,datasets=2,files=2,size=10".parse().unwrap())
        .start()
        .await
        .unwrap();
    let soap = Soap::new(sim.icat_url());
    let root = soap.login("simple", "root", "secret").await.unwrap();
    assert_eq!(root.len(), 36);
    let bad = soap.login("simple", "root", "nope").await.unwrap_err();
    assert_eq!(kind(&bad), "SESSION");
    assert_eq!(bad.offset, -1);

    let name = soap
        .call(&GetUserNameRequest {
            session_id: Some(root.clone()),
        })
        .await
        .unwrap();
    assert_eq!(name.return_.as_deref(), Some("simple/root"));
    let version = soap.call(&GetVersionRequest {}).await.unwrap();
    assert_eq!(version.return_.as_deref(), Some("6.2.0"));
    let info = soap
        .call(&GetEntityInfoRequest {
            bean_name: Some("Investigation".into()),
        })
        .await
        .unwrap();
    assert_eq!(info.return_.unwrap().fields.len(), 30);

    // search with INCLUDE
    let found = soap
        .search(&root, "SELECT i FROM Investigation i WHERE i.visitId = 'SIM000002-1' INCLUDE i.datasets, i.facility")
        .await
        .unwrap();
    let [Value::Entity(Entity::Investigation(inv))] = found.as_slice() else {
        panic!("{found:?}")
    };
    assert_eq!(inv.datasets.len(), 2);
    assert_eq!(inv.facility.as_ref().unwrap().name.as_deref(), Some("SIM"));
    let inv_id = inv.id.unwrap();
    let ds_type = soap
        .search(&root, "SELECT t FROM DatasetType t WHERE t.name = 'raw'")
        .await
        .unwrap();
    let [Value::Entity(Entity::DatasetType(ds_type))] = ds_type.as_slice() else {
        panic!()
    };

    // create, get, update, delete a Dataset
    let new_ds = Dataset {
        name: Some("soap-ds".into()),
        investigation: Some(Box::new(Investigation {
            id: Some(inv_id),
            ..Default::default()
        })),
        type_: Some(Box::new(DatasetType {
            id: ds_type.id,
            ..Default::default()
        })),
        ..Default::default()
    };
    let id = soap
        .call(&CreateRequest {
            session_id: Some(root.clone()),
            bean: Some(new_ds.clone().into()),
        })
        .await
        .unwrap()
        .return_;
    let dup = soap
        .call(&CreateRequest {
            session_id: Some(root.clone()),
            bean: Some(new_ds.clone().into()),
        })
        .await
        .unwrap_err();
    assert_eq!(kind(&dup), "OBJECT_ALREADY_EXISTS");
    let many = soap
        .call(&CreateManyRequest {
            session_id: Some(root.clone()),
            beans: vec![
                Dataset {
                    name: Some("other".into()),
                    ..new_ds.clone()
                }
                .into(),
                Dataset {
                    name: None,
                    ..new_ds.clone()
                }
                .into(),
            ],
        })
        .await
        .unwrap_err();
    assert_eq!((kind(&many), many.offset), ("VALIDATION", 1));

    let got = soap
        .call(&GetRequest {
            session_id: Some(root.clone()),
            query: Some("Dataset INCLUDE 1".into()),
            primary_key: id,
        })
        .await
        .unwrap()
        .return_
        .unwrap();
    let Entity::Dataset(mut ds) = got else {
        panic!()
    };
    assert_eq!(ds.investigation.as_ref().unwrap().id, Some(inv_id));
    assert_eq!(ds.create_id.as_deref(), Some("simple/root"));
    ds.description = Some("described".into());
    soap.call(&UpdateRequest {
        session_id: Some(root.clone()),
        bean: Some(Entity::Dataset(ds.clone())),
    })
    .await
    .unwrap();
    let rows = soap
        .search(
            &root,
            &format!("SELECT ds.name, ds.description FROM Dataset ds WHERE ds.id = {id}"),
        )
        .await
        .unwrap();
    assert_eq!(
        rows,
        vec![Value::FieldSet(vec![
            Some(Value::String("soap-ds".into())),
            Some(Value::String("described".into()))
        ])]
    );
    soap.call(&DeleteRequest {
        session_id: Some(root.clone()),
        bean: Some(Entity::Dataset(ds)),
    })
    .await
    .unwrap();
    let gone = soap
        .call(&GetRequest {
            session_id: Some(root.clone()),
            query: Some("Dataset".into()),
            primary_key: id,
        })
        .await
        .unwrap_err();
    assert_eq!(kind(&gone), "NO_SUCH_OBJECT_FOUND");
    assert_eq!(
        gone.message.as_deref(),
        Some(format!("Dataset[id:{id}] not found.").as_str())
    );

    // non-root users read what the synthetic facility's rules grant and may not write; queries
    // with errors are BAD_PARAMETER
    let user = soap.login("db", "jdoe", "secret").await.unwrap();
    assert!(
        !soap
            .search(&user, "SELECT f FROM Facility f")
            .await
            .unwrap()
            .is_empty()
    );
    let denied = soap
        .call(&CreateRequest {
            session_id: Some(user.clone()),
            bean: Some(new_ds.into()),
        })
        .await
        .unwrap_err();
    assert_eq!(kind(&denied), "INSUFFICIENT_PRIVILEGES");
    let props = soap
        .call(&GetPropertiesRequest {
            session_id: Some(user.clone()),
        })
        .await
        .unwrap_err();
    assert_eq!(kind(&props), "INSUFFICIENT_PRIVILEGES");
    let syntax = soap.search(&user, "SELECT FROM WHERE").await.unwrap_err();
    assert_eq!(kind(&syntax), "BAD_PARAMETER");
    let jbotu = soap.login("db", "jbotu", "secret").await.unwrap();
    let count = soap
        .search(&jbotu, "SELECT COUNT(df) FROM Datafile df")
        .await
        .unwrap();
    let own = soap
        .search(
            &root,
            "SELECT COUNT(df) FROM Datafile df JOIN df.dataset.investigation i \
             JOIN i.investigationUsers iu WHERE iu.user.name = 'db/jbotu'",
        )
        .await
        .unwrap();
    assert_eq!(count, own, "db/jbotu sees the files of their visits");
    let all = soap
        .search(&root, "SELECT COUNT(df) FROM Datafile df")
        .await
        .unwrap();
    assert_ne!(count, all, "and not the others");

    soap.call(&LogoutRequest {
        session_id: Some(user.clone()),
    })
    .await
    .unwrap();
    let after = soap
        .search(&user, "SELECT f FROM Facility f")
        .await
        .unwrap_err();
    assert_eq!(kind(&after), "SESSION");
    assert_eq!(
        after.message,
        Some(format!("Unable to find user by sessionid: {user}"))
    );
}

#[tokio::test]
async fn malformed_requests_get_a_client_fault() {
    let sim = Simulator::builder().start().await.unwrap();
    let response = icat_soap::tls::http_client()
        .unwrap()
        .post(sim.icat_url())
        .header("Content-Type", "text/xml")
        .body("<not-soap")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 500);
    let body = response.text().await.unwrap();
    assert!(body.contains("<faultcode>S:Client</faultcode>"), "{body}");
}

#[tokio::test]
async fn sessions_expire_and_survive_a_restart_with_a_database_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sim.db");
    let clock = Clock::default();
    let sim = Simulator::builder()
        .db_path(&db)
        .clock(clock.clone())
        .start()
        .await
        .unwrap();
    let soap = Soap::new(sim.icat_url());
    let sid = soap.login("db", "acord", "secret").await.unwrap();
    let root = soap.login("simple", "root", "secret").await.unwrap();
    let fac = soap
        .call(&CreateRequest {
            session_id: Some(root.clone()),
            bean: Some(
                Facility {
                    name: Some("Kept".into()),
                    ..Default::default()
                }
                .into(),
            ),
        })
        .await
        .unwrap()
        .return_;
    // Facilities are readable by everybody.
    soap.call(&CreateRequest {
        session_id: Some(root),
        bean: Some(
            Rule {
                crud_flags: Some("R".into()),
                what: Some("Facility".into()),
                ..Default::default()
            }
            .into(),
        ),
    })
    .await
    .unwrap();
    sim.shutdown().await;

    let sim = Simulator::builder()
        .db_path(&db)
        .clock(clock.clone())
        .start()
        .await
        .unwrap();
    let soap = Soap::new(sim.icat_url());
    let found = soap
        .search(
            &sid,
            &format!("SELECT f.name FROM Facility f WHERE f.id = {fac}"),
        )
        .await
        .unwrap();
    assert_eq!(
        found,
        vec![Value::String("Kept".into())],
        "data and session survive the restart"
    );

    clock.advance(std::time::Duration::from_secs(121 * 60));
    let expired = soap
        .call(&GetRemainingMinutesRequest {
            session_id: Some(sid.clone()),
        })
        .await
        .unwrap_err();
    assert_eq!(
        expired.message,
        Some(format!("Session id:{sid} has expired"))
    );
    soap.call(&RefreshRequest {
        session_id: Some(sid.clone()),
    })
    .await
    .unwrap();
    let left = soap
        .call(&GetRemainingMinutesRequest {
            session_id: Some(sid),
        })
        .await
        .unwrap()
        .return_;
    assert!(left > 119.0 && left <= 120.0, "{left}");
}
