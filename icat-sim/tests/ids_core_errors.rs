//! IDS errors over the simulator's own catalogue, each checked against ids.server 2.1.1's source:
//! a `put` of a name the dataset already holds, a selected datafile without a location.

mod sim_common;

use icat_soap::dynamic::{AttrValue, DynEntity};
use reqwest::multipart::{Form, Part};
use sim_common::{Sim, assert_error};

async fn put(s: &Sim, name: &str) -> (u16, String) {
    let form = Form::new()
        .text("sessionId", s.root.clone())
        .text("datasetId", s.dataset.to_string())
        .text("datafileFormatId", s.format.to_string())
        .text("name", name.to_string())
        .part(
            "file",
            Part::bytes(b"abc".to_vec()).file_name(name.to_string()),
        );
    let r = s
        .http
        .post(s.url("put"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// `IdsBean.registerDatafile`: ICAT's `create` fault maps `VALIDATION` to 400, session and
/// privilege faults to 403, and every other type to `InternalException(type + " " + message)`,
/// so a duplicate name (`OBJECT_ALREADY_EXISTS`) is a 500 whose message starts with the type.
#[tokio::test]
async fn putting_an_existing_name_is_an_internal_exception_naming_the_icat_type() {
    let s = Sim::start().await;
    let before = s.datafile_count();
    let (status, body) = put(&s, "twice.dat").await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = put(&s, "twice.dat").await;
    assert_error(
        status,
        &body,
        500,
        "InternalException",
        &format!(
            "OBJECT_ALREADY_EXISTS Datafile exists with dataset = 'id:{}', name = 'twice.dat'",
            s.dataset
        ),
    );
    assert_eq!(
        s.datafile_count(),
        before + 1,
        "the second put left nothing behind"
    );
}

/// `DataSelection.resolveDatasetIds`: an explicitly selected datafile that exists but has no
/// location is 404 `NotFoundException` with the message `Datafile <id>`.
#[tokio::test]
async fn a_selected_datafile_without_location_is_not_found_by_id() {
    let s = Sim::start().await;
    let mut df = DynEntity::new("Datafile");
    df.attrs
        .insert("name".into(), AttrValue::String("nowhere.dat".into()));
    let mut ds = DynEntity::new("Dataset");
    ds.attrs.insert("id".into(), AttrValue::Long(s.dataset));
    df.one.insert("dataset".into(), ds);
    let id = s.sim.icat().create(&s.root, &df).unwrap();
    for call in ["getData", "getSize", "getStatus"] {
        let r = s
            .http
            .get(s.url(call))
            .query(&[
                ("sessionId", s.root.as_str()),
                ("datafileIds", &id.to_string()),
            ])
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let body = r.text().await.unwrap();
        assert_error(
            status,
            &body,
            404,
            "NotFoundException",
            &format!("Datafile {id}"),
        );
    }
}
