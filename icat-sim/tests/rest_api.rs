//! ICAT's REST API in the simulator (`/icat/...`, icat.server `ICATRest.java`): sessions shared
//! with SOAP in both directions, version, properties, `entityManager` search and get in the JSON
//! shape ICAT writes, and errors as `IcatExceptionMapper` writes them.

use icat_sim::Simulator;
use icat_soap::client::{Client, Credentials};
use serde_json::{Value, json};

struct Rest {
    sim: icat_sim::RunningSimulator,
    http: reqwest::Client,
}

impl Rest {
    async fn start() -> Rest {
        let sim = Simulator::builder()
            .synthetic("visits=2,datasets=2,files=2,size=100".parse().unwrap())
            .start()
            .await
            .unwrap();
        Rest {
            sim,
            http: icat_soap::tls::http_client().unwrap(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/icat/{path}", self.sim.base_url())
    }

    async fn login(&self, plugin: &str, user: &str) -> String {
        let login =
            json!({"plugin": plugin, "credentials": [{"username": user}, {"password": "secret"}]});
        let r = self
            .http
            .post(self.url("session"))
            .form(&[("json", login.to_string())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
        body["sessionId"].as_str().unwrap().to_string()
    }

    async fn get(&self, path: &str, query: &[(&str, &str)]) -> (u16, Value) {
        let r = self
            .http
            .get(self.url(path))
            .query(query)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

fn error_of(body: &Value) -> (&str, &str) {
    (
        body["code"].as_str().unwrap_or_default(),
        body["message"].as_str().unwrap_or_default(),
    )
}

#[tokio::test]
async fn a_soap_session_works_over_rest_and_a_rest_session_over_soap() {
    let rest = Rest::start().await;
    let client = Client::new(&rest.sim.icat_url()).unwrap();
    let soap = client
        .login("db", &Credentials::user_password("jdoe", "secret"))
        .await
        .unwrap();
    let (status, body) = rest.get(&format!("session/{}", soap.id()), &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["userName"], "db/jdoe");
    assert!(body["remainingMinutes"].as_f64().unwrap() > 119.0);

    let rest_id = rest.login("simple", "root").await;
    let resumed = client.resume(&rest_id, None).await.unwrap();
    assert_eq!(resumed.user_name().await.unwrap(), "simple/root");

    let put = rest
        .http
        .put(rest.url(&format!("session/{rest_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 204);
    let delete = rest
        .http
        .delete(rest.url(&format!("session/{rest_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), 204);
    let err = resumed.user_name().await.unwrap_err();
    assert!(err.is_session(), "{err}");
    let (status, body) = rest.get(&format!("session/{rest_id}"), &[]).await;
    assert_eq!(status, 403);
    assert_eq!(error_of(&body).0, "SESSION");
}

#[tokio::test]
async fn login_errors_are_icat_exceptions() {
    let rest = Rest::start().await;
    let r = rest
        .http
        .post(rest.url("session"))
        .form(&[("x", "y")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(error_of(&body), ("BAD_PARAMETER", "json must not be null"));
    let bad = json!({"plugin": "nope", "credentials": []}).to_string();
    let r = rest
        .http
        .post(rest.url("session"))
        .form(&[("json", bad)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        error_of(&body),
        ("SESSION", "Authenticator mnemonic nope not recognised")
    );
    let wrong = json!({"plugin": "db", "credentials": [{"username": "jdoe"}, {"password": "no"}]})
        .to_string();
    let r = rest
        .http
        .post(rest.url("session"))
        .form(&[("json", wrong)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn version_and_properties_need_no_session() {
    let rest = Rest::start().await;
    let (status, body) = rest.get("version", &[]).await;
    assert_eq!((status, body), (200, json!({"version": "6.2.0"})));
    let (status, body) = rest.get("properties", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(body["maxEntities"], 10000);
    assert_eq!(body["lifetimeMinutes"], 120);
    assert_eq!(body["containerType"], "Glassfish");
    let db = body["authenticators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["mnemonic"] == "db")
        .unwrap();
    assert_eq!(
        db["keys"],
        json!([{"name": "username"}, {"name": "password", "hide": true}])
    );
    assert_eq!(db["friendly"], "Database");
}

#[tokio::test]
async fn entity_manager_search_and_get_write_icat_json() {
    let rest = Rest::start().await;
    let root = rest.login("simple", "root").await;
    let (status, body) = rest
        .get(
            "entityManager",
            &[
                ("sessionId", &root),
                (
                    "query",
                    "SELECT ds FROM Dataset ds ORDER BY ds.id INCLUDE ds.investigation",
                ),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let list = body.as_array().unwrap();
    assert_eq!(list.len(), 4);
    let ds = &list[0]["Dataset"];
    assert!(ds["id"].is_i64());
    assert_eq!(ds["createId"], "simple/root");
    let created = ds["createTime"].as_str().unwrap();
    assert!(created.ends_with('Z') && created.len() == 24, "{created}");
    assert_eq!(ds["datafiles"], json!([]), "not INCLUDEd: an empty array");
    assert!(ds.get("type").is_none(), "not INCLUDEd: absent");
    let inv = &ds["investigation"];
    assert!(inv["visitId"].as_str().unwrap().starts_with("SIM"));
    assert_eq!(inv["datasets"], json!([]));

    let (status, body) = rest
        .get(
            "entityManager",
            &[("sessionId", &root), ("query", "SELECT ds.name, COUNT(df) FROM Dataset ds JOIN ds.datafiles df GROUP BY ds.id ORDER BY ds.id")],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body[0][1], 2);
    assert!(body[0][0].is_string());

    let id = list[1]["Dataset"]["id"].as_i64().unwrap().to_string();
    let (status, body) = rest
        .get(
            "entityManager",
            &[
                ("sessionId", &root),
                ("query", "Dataset ds INCLUDE ds.datafiles"),
                ("id", &id),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["Dataset"]["id"].as_i64().unwrap().to_string(), id);
    assert_eq!(body["Dataset"]["datafiles"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn entity_manager_errors_carry_icat_codes_and_statuses() {
    let rest = Rest::start().await;
    let root = rest.login("simple", "root").await;
    let (status, body) = rest.get("entityManager", &[("sessionId", &root)]).await;
    assert_eq!(
        (status, error_of(&body)),
        (400, ("BAD_PARAMETER", "query is not set"))
    );
    let (status, body) = rest
        .get(
            "entityManager",
            &[("sessionId", "nope"), ("query", "SELECT f FROM Facility f")],
        )
        .await;
    assert_eq!((status, error_of(&body).0), (403, "SESSION"));
    let (status, body) = rest
        .get(
            "entityManager",
            &[
                ("sessionId", &root),
                ("query", "SELECT f FROM Facility f WHERE"),
            ],
        )
        .await;
    assert_eq!((status, error_of(&body).0), (400, "BAD_PARAMETER"));
    let (status, body) = rest
        .get(
            "entityManager",
            &[("sessionId", &root), ("query", "Dataset"), ("id", "999999")],
        )
        .await;
    assert_eq!(
        (status, error_of(&body)),
        (
            404,
            ("NO_SUCH_OBJECT_FOUND", "Dataset[id:999999] not found.")
        )
    );
    let (status, body) = rest
        .get(
            "entityManager",
            &[("sessionId", &root), ("query", "Dataset"), ("id", "x")],
        )
        .await;
    assert_eq!((status, error_of(&body).0), (501, "NOT_IMPLEMENTED"));
    let (status, body) = rest.get("no/such/call", &[]).await;
    assert_eq!(
        (status, error_of(&body)),
        (
            501,
            (
                "NOT_IMPLEMENTED",
                "Operation not implemented by this ICAT server."
            )
        )
    );
    // A user who may not read a visit gets INSUFFICIENT_PRIVILEGES on get, and search hides it.
    let nbour = rest.login("db", "nbour").await;
    let (_, all) = rest
        .get(
            "entityManager",
            &[
                ("sessionId", &root),
                ("query", "SELECT i.id FROM Investigation i"),
            ],
        )
        .await;
    let (_, own) = rest
        .get(
            "entityManager",
            &[
                ("sessionId", &nbour),
                ("query", "SELECT i.id FROM Investigation i"),
            ],
        )
        .await;
    let hidden = all
        .as_array()
        .unwrap()
        .iter()
        .find(|id| !own.as_array().unwrap().contains(id))
        .expect("a visit nbour may not read")
        .to_string();
    let (status, body) = rest
        .get(
            "entityManager",
            &[
                ("sessionId", &nbour),
                ("query", "Investigation"),
                ("id", &hidden),
            ],
        )
        .await;
    assert_eq!(
        (status, error_of(&body).0),
        (403, "INSUFFICIENT_PRIVILEGES")
    );
}
