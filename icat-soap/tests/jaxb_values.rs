//! Request envelopes are read as ICAT's JAXB RI unmarshaller reads them (`icat_soap::jaxb`), the
//! way suds (python-icat) writes them: empty elements for unset values, date-only dates. Response
//! envelopes (the client's side) stay strict.

use icat_soap::envelope::SoapError;
use icat_soap::envelope::{read_request_envelope, read_response_envelope};
use icat_soap::model::Entity;
use icat_soap::ops::{CreateResponse, Request};
use icat_soap::xml::XmlError;

fn create(bean: &str) -> Entity {
    let xml = format!(
        r#"<SOAP-ENV:Envelope xmlns:ns0="http://icatproject.org" xmlns:ns1="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Header/><ns1:Body><ns0:create><sessionId>s</sessionId><bean xsi:type="{bean}</bean></ns0:create></ns1:Body></SOAP-ENV:Envelope>"#
    );
    match read_request_envelope::<Request>(xml.as_bytes()) {
        Ok(Request::Create(c)) => c.bean.expect("a bean"),
        Ok(other) => panic!("not a create: {}", other.operation()),
        Err(e) => panic!("refused: {e}"),
    }
}

#[test]
fn suds_empty_boolean_is_false_as_in_jaxb() {
    // python-icat's `client.new("Dataset", name=..., investigation=inv, type=t).create()`.
    let Entity::Dataset(ds) = create(
        r#"ns0:dataset"><complete/><investigation><id>1</id></investigation><name>d</name><startDate> </startDate><type><id>2</id></type>"#,
    ) else {
        panic!("not a dataset")
    };
    assert!(!ds.complete);
    assert_eq!(ds.name.as_deref(), Some("d"));
    assert_eq!(ds.start_date, None);
}

#[test]
fn date_only_and_other_calendar_forms_are_dates() {
    let Entity::Investigation(inv) = create(
        r#"ns0:investigation"><endDate>2019-12-31</endDate><fileSize>  </fileSize><name>i</name><startDate>2019-06-01+02:00</startDate>"#,
    ) else {
        panic!("not an investigation")
    };
    let end = inv.end_date.expect("endDate set");
    assert_eq!(end.to_string(), "2019-12-31T00:00:00");
    assert_eq!(end.to_unix_millis(), 1_577_750_400_000);
    assert_eq!(
        inv.start_date.expect("startDate set").to_unix_millis(),
        1_559_340_000_000
    );
    // `Investigation.fileSize` arrived in ICAT 5.0 (`datafile.fileSize` below is in every schema).
    icat_soap::model::if_type! { dataPublication {
        assert_eq!(inv.file_size, None);
    } else {} }
}

#[test]
fn values_jaxb_cannot_convert_are_left_unset() {
    let Entity::Datafile(df) = create(
        r#"ns0:datafile"><datafileCreateTime>yesterday</datafileCreateTime><fileSize>12x</fileSize><name>f</name>"#,
    ) else {
        panic!("not a datafile")
    };
    assert_eq!(df.datafile_create_time, None);
    assert_eq!(df.file_size, None);
    assert_eq!(df.name.as_deref(), Some("f"));
}

#[test]
fn responses_stay_strict() {
    for value in ["", "2019-12-31", "12x"] {
        let xml = format!(
            r#"<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body><ns2:createResponse xmlns:ns2="http://icatproject.org"><return>{value}</return></ns2:createResponse></S:Body></S:Envelope>"#
        );
        let err = read_response_envelope::<CreateResponse>(xml.as_bytes()).unwrap_err();
        assert!(
            matches!(err, SoapError::Xml(XmlError::InvalidValue { .. })),
            "{value:?}: {err}"
        );
    }
}
