//! Shared fixture of the tests that run a whole simulator: a small synthetic facility, sessions and
//! HTTP helpers for the IDS side.

#![allow(dead_code)]

use std::collections::BTreeMap;

use icat_sim::{RunningSimulator, Simulator, SimulatorBuilder};

/// The synthetic facility the tests use: 2 visits × 2 datasets × 2 files of 5000 bytes.
pub const SPEC: &str = "visits=2,datasets=2,files=2,size=5000";

/// Login credentials with the default password.
pub fn creds(user: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("username".into(), user.into()),
        ("password".into(), "secret".into()),
    ])
}

/// A running simulator with a root session and the ids of one dataset and one format.
pub struct Sim {
    pub sim: RunningSimulator,
    pub http: reqwest::Client,
    /// Session of `simple/root`.
    pub root: String,
    pub dataset: i64,
    pub format: i64,
}

impl Sim {
    /// A simulator over the [`SPEC`] facility.
    pub async fn start() -> Sim {
        Self::with(Simulator::builder()).await
    }

    /// A simulator from `builder`, over the [`SPEC`] facility.
    pub async fn with(builder: SimulatorBuilder) -> Sim {
        let sim = builder
            .synthetic(SPEC.parse().unwrap())
            .start()
            .await
            .unwrap();
        let root = sim.icat().login("simple", &creds("root")).unwrap();
        let (dataset, format) = {
            let db = sim.icat().db();
            let conn = db.conn();
            let dataset: i64 = conn
                .query_row("SELECT MIN(\"id\") FROM \"Dataset\"", [], |r| r.get(0))
                .unwrap();
            let format: i64 = conn
                .query_row("SELECT MIN(\"id\") FROM \"DatafileFormat\"", [], |r| {
                    r.get(0)
                })
                .unwrap();
            (dataset, format)
        };
        Sim {
            sim,
            http: icat_soap::tls::http_client().unwrap(),
            root,
            dataset,
            format,
        }
    }

    /// A session of `user` of the `db` authenticator.
    pub fn login_db(&self, user: &str) -> String {
        self.sim.icat().login("db", &creds(user)).unwrap()
    }

    /// The URL of an IDS call.
    pub fn url(&self, call: &str) -> String {
        format!("{}/{call}", self.sim.ids_url())
    }

    /// `(id, location, checksum)` of every datafile, by id.
    pub fn datafiles(&self) -> Vec<(i64, String, String)> {
        let db = self.sim.icat().db();
        let mut stmt = db
            .conn()
            .prepare(
                "SELECT \"id\", \"location\", \"checksum\" FROM \"Datafile\" \
                 WHERE \"location\" IS NOT NULL ORDER BY \"id\"",
            )
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    /// How many datafiles the catalogue holds.
    pub fn datafile_count(&self) -> i64 {
        self.sim
            .icat()
            .db()
            .conn()
            .query_row("SELECT COUNT(*) FROM \"Datafile\"", [], |r| r.get(0))
            .unwrap()
    }

    /// `getData` of one datafile with `session`: (status, bytes, content-disposition).
    pub async fn get_data(&self, session: &str, datafile: i64) -> (u16, Vec<u8>, String) {
        let r = self
            .http
            .get(self.url("getData"))
            .query(&[
                ("sessionId", session),
                ("datafileIds", &datafile.to_string()),
            ])
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let disposition = r
            .headers()
            .get("content-disposition")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        (status, r.bytes().await.unwrap().to_vec(), disposition)
    }
}

/// Assert an IDS error answer: status and `{"code","message"}` body with exactly `message`.
pub fn assert_error(status: u16, body: &str, want_status: u16, want_code: &str, message: &str) {
    assert_eq!(status, want_status, "body: {body}");
    let json: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(json["code"], want_code, "body: {body}");
    assert_eq!(json["message"], message, "body: {body}");
}
