//! The wire examples of the ICAT SOAP reference (§6) and their variations decode as a client and a
//! server would see them: other prefixes, default namespaces, whitespace, unknown content, nil, faults.

use icat_soap::DateTime;
use icat_soap::envelope::SoapError;
use icat_soap::envelope::{
    read_request_envelope, read_response_envelope, write_icat_fault, write_request_envelope,
    write_response_envelope,
};
use icat_soap::model::*;
use icat_soap::ops::*;
use icat_soap::xml::{SoapMessage, XmlError};

const LOGIN_REQUEST: &str = r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
                  xmlns:icat="http://icatproject.org">
  <soapenv:Header/>
  <soapenv:Body>
    <icat:login>
      <plugin>db</plugin>
      <credentials>
        <entry><key>username</key><value>root</value></entry>
        <entry><key>password</key><value>secret</value></entry>
      </credentials>
    </icat:login>
  </soapenv:Body>
</soapenv:Envelope>"#;

const LOGIN_RESPONSE: &str = r#"<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/">
  <S:Body>
    <ns2:loginResponse xmlns:ns2="http://icatproject.org">
      <return>5c3d0b8e-1f2a-4c8e-9a43-0f1e2d3c4b5a</return>
    </ns2:loginResponse>
  </S:Body>
</S:Envelope>"#;

const SEARCH_ENTITY_RESPONSE: &str = r#"<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/">
  <S:Body>
    <ns2:searchResponse xmlns:ns2="http://icatproject.org">
      <return xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="ns2:investigation">
        <createId>db/root</createId>
        <createTime>2024-03-01T10:15:30.123Z</createTime>
        <id>42</id>
        <modId>db/root</modId>
        <modTime>2024-03-01T10:15:30.123Z</modTime>
        <facility>
          <createId>db/root</createId>
          <createTime>2024-01-01T00:00:00Z</createTime>
          <id>1</id>
          <modId>db/root</modId>
          <modTime>2024-01-01T00:00:00Z</modTime>
          <name>ISIS</name>
        </facility>
        <fileCount>0</fileCount>
        <fileSize>0</fileSize>
        <name>RB1234</name>
        <title>A test</title>
        <visitId>1</visitId>
      </return>
    </ns2:searchResponse>
  </S:Body>
</S:Envelope>"#;

fn wrap(body: &str) -> String {
    format!(
        r#"<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body>{body}</S:Body></S:Envelope>"#
    )
}

#[test]
fn login_request_decodes_on_the_server_side() {
    let req: Request = read_request_envelope(LOGIN_REQUEST.as_bytes()).unwrap();
    assert_eq!(req.operation(), "login");
    let Request::Login(login) = req else {
        panic!("not a login")
    };
    assert_eq!(login.plugin.as_deref(), Some("db"));
    let pairs: Vec<_> = login
        .credentials
        .entry
        .iter()
        .map(|e| (e.key.as_deref().unwrap(), e.value.as_deref().unwrap()))
        .collect();
    assert_eq!(pairs, [("username", "root"), ("password", "secret")]);
    // And the typed decode gives the same.
    let typed: LoginRequest = read_request_envelope(LOGIN_REQUEST.as_bytes()).unwrap();
    assert_eq!(typed, login);
}

#[test]
fn login_response_decodes() {
    let resp: LoginResponse = read_response_envelope(LOGIN_RESPONSE.as_bytes()).unwrap();
    assert_eq!(
        resp.return_.as_deref(),
        Some("5c3d0b8e-1f2a-4c8e-9a43-0f1e2d3c4b5a")
    );
}

#[test]
fn search_entity_result_decodes_with_included_relation() {
    let resp: SearchResponse = read_response_envelope(SEARCH_ENTITY_RESPONSE.as_bytes()).unwrap();
    assert_eq!(resp.return_.len(), 1);
    let Value::Entity(Entity::Investigation(inv)) = &resp.return_[0] else {
        panic!("expected an investigation, got {:?}", resp.return_[0])
    };
    assert_eq!(inv.id, Some(42));
    assert_eq!(inv.name.as_deref(), Some("RB1234"));
    assert_eq!(inv.visit_id.as_deref(), Some("1"));
    // `Investigation.fileCount` arrived in ICAT 5.0 (with `DataPublication`).
    icat_soap::model::if_type! { dataPublication {
        assert_eq!(inv.file_count, Some(0));
    } else {} }
    assert_eq!(
        inv.create_time.unwrap().to_string(),
        "2024-03-01T10:15:30.123Z"
    );
    let facility = inv.facility.as_ref().unwrap();
    assert_eq!(facility.name.as_deref(), Some("ISIS"));
    assert_eq!(facility.id, Some(1));
    assert_eq!(
        resp.return_[0].clone(),
        Value::Entity(Entity::Investigation(inv.clone()))
    );
}

#[test]
fn other_prefixes_and_default_namespace_decode_the_same() {
    let expected: SearchResponse =
        read_response_envelope(SEARCH_ENTITY_RESPONSE.as_bytes()).unwrap();
    // env/ns3 prefixes, xsi bound under another prefix, whitespace and comments everywhere.
    let other = SEARCH_ENTITY_RESPONSE
        .replace("S:", "env:")
        .replace("xmlns:S=", "xmlns:env=")
        .replace("ns2:", "ns3:")
        .replace("xmlns:ns2", "xmlns:ns3")
        .replace("xsi:", "i:")
        .replace("xmlns:xsi", "xmlns:i")
        .replace("<id>42</id>", "<!-- c --><id>\n 42 \n</id>");
    let got: SearchResponse = read_response_envelope(other.as_bytes()).unwrap();
    assert_eq!(got, expected);
    // Default namespace on the wrapper: children must then be unqualified via xmlns="".
    let default_ns = wrap(
        r#"<searchResponse xmlns="http://icatproject.org"><return xmlns="" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:t="http://icatproject.org" xsi:type="t:facility"><id>7</id><name>ISIS</name></return></searchResponse>"#,
    );
    let got: SearchResponse = read_response_envelope(default_ns.as_bytes()).unwrap();
    let Value::Entity(Entity::Facility(f)) = &got.return_[0] else {
        panic!("expected a facility")
    };
    assert_eq!((f.id, f.name.as_deref()), (Some(7), Some("ISIS")));
}

#[test]
fn xsi_type_is_resolved_by_namespace_not_prefix() {
    // The prefix "ns2" is bound to a foreign namespace here: must not be taken as ICAT's investigation.
    let doc = wrap(
        r#"<ns2:searchResponse xmlns:ns2="http://icatproject.org"><return xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:ns2="urn:other" xsi:type="ns2:investigation"><id>1</id></return></ns2:searchResponse>"#,
    );
    let err = read_response_envelope::<SearchResponse>(doc.as_bytes()).unwrap_err();
    assert!(
        matches!(err, SoapError::Xml(XmlError::UnknownType { .. })),
        "{err}"
    );
    // An unbound prefix is a typed error.
    let doc = wrap(
        r#"<ns2:searchResponse xmlns:ns2="http://icatproject.org"><return xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="zz:investigation"/></ns2:searchResponse>"#,
    );
    let err = read_response_envelope::<SearchResponse>(doc.as_bytes()).unwrap_err();
    assert!(
        matches!(err, SoapError::Xml(XmlError::UnboundPrefix { .. })),
        "{err}"
    );
}

#[test]
fn unknown_elements_and_attributes_are_skipped() {
    let doc = SEARCH_ENTITY_RESPONSE
        .replace(
            "<name>RB1234</name>",
            "<name a=\"1\" xmlns:q=\"urn:q\" q:b=\"2\">RB1234</name><futureField><nested><deeper>x</deeper></nested></futureField><futureEmpty/>",
        )
        .replace("<S:Body>", "<S:Body unknown=\"yes\">");
    let got: SearchResponse = read_response_envelope(doc.as_bytes()).unwrap();
    let expected: SearchResponse =
        read_response_envelope(SEARCH_ENTITY_RESPONSE.as_bytes()).unwrap();
    assert_eq!(got, expected);
}

#[test]
fn primitive_search_results_decode() {
    let doc = wrap(
        r#"<ns2:searchResponse xmlns:ns2="http://icatproject.org">
  <return xmlns:xs="http://www.w3.org/2001/XMLSchema"
          xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xs:string">bill</return>
  <return xmlns:xs="http://www.w3.org/2001/XMLSchema"
          xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xs:string">fred</return>
  <return xmlns:xs="http://www.w3.org/2001/XMLSchema"
          xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xs:long">17</return>
  <return xmlns:x="http://www.w3.org/2001/XMLSchema"
          xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="x:double">2.5</return>
  <return xmlns:xs="http://www.w3.org/2001/XMLSchema"
          xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xs:dateTime">2024-03-01T10:15:30.123+01:00</return>
  <return xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="ns2:parameterValueType">NUMERIC</return>
</ns2:searchResponse>"#,
    );
    let got: SearchResponse = read_response_envelope(doc.as_bytes()).unwrap();
    assert_eq!(
        got.return_,
        vec![
            Value::String("bill".into()),
            Value::String("fred".into()),
            Value::Long(17),
            Value::Double(2.5),
            Value::DateTime(DateTime::parse("2024-03-01T10:15:30.123+01:00").unwrap()),
            Value::ParameterValueType(ParameterValueType::Numeric),
        ]
    );
}

#[test]
fn field_set_rows_keep_null_columns() {
    let doc = wrap(
        r#"<ns2:searchResponse xmlns:ns2="http://icatproject.org"
    xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <return xsi:type="ns2:fieldSet">
    <fields xsi:type="xs:string">bill</fields>
    <fields xsi:type="xs:long">17</fields>
  </return>
  <return xsi:type="ns2:fieldSet">
    <fields xsi:nil="true"/>
    <fields xsi:type="xs:long">11</fields>
  </return>
</ns2:searchResponse>"#,
    );
    let got: SearchResponse = read_response_envelope(doc.as_bytes()).unwrap();
    assert_eq!(
        got.return_,
        vec![
            Value::FieldSet(vec![
                Some(Value::String("bill".into())),
                Some(Value::Long(17))
            ]),
            Value::FieldSet(vec![None, Some(Value::Long(11))]),
        ]
    );
    // Encoding writes the null column as xsi:nil and decodes back the same.
    let again: SearchResponse =
        read_response_envelope(write_response_envelope(&got).as_bytes()).unwrap();
    assert_eq!(again, got);
    assert!(write_response_envelope(&got).contains(r#"<fields xsi:nil="true"/>"#));
}

#[test]
fn nil_elements_are_absent_values() {
    let doc = wrap(
        r#"<ns2:getResponse xmlns:ns2="http://icatproject.org" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><return xsi:type="ns2:dataset"><description xsi:nil="true"/><id>5</id><investigation xsi:nil="true"/><datafiles xsi:nil="true"/><name>ds</name></return></ns2:getResponse>"#,
    );
    let got: GetResponse = read_response_envelope(doc.as_bytes()).unwrap();
    let Some(Entity::Dataset(ds)) = got.return_ else {
        panic!("expected a dataset")
    };
    assert_eq!(ds.description, None);
    assert_eq!(ds.investigation, None);
    assert!(ds.datafiles.is_empty());
    assert_eq!((ds.id, ds.name.as_deref()), (Some(5), Some("ds")));
}

#[test]
fn create_request_round_trips_with_xsi_type() {
    let doc = r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><icat:create xmlns:icat="http://icatproject.org" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <sessionId>abc</sessionId>
  <bean xsi:type="icat:dataset">
    <complete>false</complete>
    <investigation><id>42</id></investigation>
    <name>ds1</name>
    <type><id>7</id></type>
  </bean>
</icat:create></soapenv:Body></soapenv:Envelope>"#;
    let req: CreateRequest = read_request_envelope(doc.as_bytes()).unwrap();
    let Some(Entity::Dataset(ds)) = &req.bean else {
        panic!("expected a dataset bean")
    };
    assert!(!ds.complete);
    assert_eq!(ds.investigation.as_ref().unwrap().id, Some(42));
    assert_eq!(ds.type_.as_ref().unwrap().id, Some(7));
    let written = write_request_envelope(&req);
    assert!(
        written.contains(r#"<bean xsi:type="tns:dataset">"#),
        "{written}"
    );
    assert!(written.contains("<tns:create xmlns:tns=\"http://icatproject.org\""));
    let back: CreateRequest = read_request_envelope(written.as_bytes()).unwrap();
    assert_eq!(back, req);
    // A bean without xsi:type cannot be typed.
    let untyped = doc.replace(r#" xsi:type="icat:dataset""#, "");
    let err = read_request_envelope::<CreateRequest>(untyped.as_bytes()).unwrap_err();
    assert!(
        matches!(err, SoapError::Xml(XmlError::MissingType { .. })),
        "{err}"
    );
}

#[test]
fn create_response_and_get_request() {
    let resp: CreateResponse = read_response_envelope(
        wrap(r#"<ns2:createResponse xmlns:ns2="http://icatproject.org"><return>1234</return></ns2:createResponse>"#)
            .as_bytes(),
    )
    .unwrap();
    assert_eq!(resp.return_, 1234);
    let get: GetRequest = read_request_envelope(
        wrap(r#"<icat:get xmlns:icat="http://icatproject.org"><sessionId>s</sessionId><query>Dataset ds INCLUDE ds.datafiles</query><primaryKey>1234</primaryKey></icat:get>"#)
            .as_bytes(),
    )
    .unwrap();
    assert_eq!(get.primary_key, 1234);
    assert_eq!(
        get.query.as_deref(),
        Some("Dataset ds INCLUDE ds.datafiles")
    );
}

const FAULT: &str = r#"<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/">
  <S:Body>
    <S:Fault xmlns:ns4="http://www.w3.org/2003/05/soap-envelope">
      <faultcode>S:Server</faultcode>
      <faultstring>Session id:5c3d0b8e-1f2a-4c8e-9a43-0f1e2d3c4b5a has expired</faultstring>
      <detail>
        <ns2:IcatException xmlns:ns2="http://icatproject.org">
          <message>Session id:5c3d0b8e-1f2a-4c8e-9a43-0f1e2d3c4b5a has expired</message>
          <offset>-1</offset>
          <type>SESSION</type>
        </ns2:IcatException>
      </detail>
    </S:Fault>
  </S:Body>
</S:Envelope>"#;

#[test]
fn soap_fault_carries_icat_exception() {
    let err = read_response_envelope::<SearchResponse>(FAULT.as_bytes()).unwrap_err();
    let SoapError::Fault(fault) = err else {
        panic!("expected a fault, got {err}")
    };
    assert_eq!(fault.code, "S:Server");
    let icat = fault.icat.as_ref().unwrap();
    assert_eq!(icat.type_, Some(IcatExceptionType::Session));
    assert_eq!(icat.offset, -1);
    assert!(icat.message.as_deref().unwrap().ends_with("has expired"));
    // The server side writes the same fault, which reads back identically.
    let written = write_icat_fault(icat);
    let SoapError::Fault(again) =
        read_response_envelope::<SearchResponse>(written.as_bytes()).unwrap_err()
    else {
        panic!("expected a fault")
    };
    assert_eq!(again, fault);
    // A type a newer server adds is kept, not an error.
    let newer = FAULT.replace("<type>SESSION</type>", "<type>RATE_LIMITED</type>");
    let SoapError::Fault(f) =
        read_response_envelope::<SearchResponse>(newer.as_bytes()).unwrap_err()
    else {
        panic!("expected a fault")
    };
    let kind = f.icat.unwrap().type_.unwrap();
    assert!(matches!(kind, IcatExceptionType::Unknown(_)), "{kind:?}");
    assert_eq!(kind.as_str(), "RATE_LIMITED");
}

#[test]
fn malformed_truncated_and_doctype_inputs_are_typed_errors() {
    let truncated = &SEARCH_ENTITY_RESPONSE[..SEARCH_ENTITY_RESPONSE.len() / 2];
    let err = read_response_envelope::<SearchResponse>(truncated.as_bytes()).unwrap_err();
    assert!(
        matches!(
            err,
            SoapError::Xml(XmlError::UnexpectedEof { .. } | XmlError::Malformed { .. })
        ),
        "{err}"
    );
    let mismatched = LOGIN_RESPONSE.replace("</return>", "</retour>");
    let err = read_response_envelope::<LoginResponse>(mismatched.as_bytes()).unwrap_err();
    assert!(
        matches!(err, SoapError::Xml(XmlError::Malformed { .. })),
        "{err}"
    );
    let doctype = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;\">]>{}",
        LOGIN_RESPONSE.replace("5c3d0b8e", "&lol2;")
    );
    let err = read_response_envelope::<LoginResponse>(doctype.as_bytes()).unwrap_err();
    assert!(
        matches!(err, SoapError::Xml(XmlError::Doctype { .. })),
        "{err}"
    );
    let entity = LOGIN_RESPONSE.replace("5c3d0b8e", "&undefined;");
    let err = read_response_envelope::<LoginResponse>(entity.as_bytes()).unwrap_err();
    assert!(
        matches!(err, SoapError::Xml(XmlError::UnknownEntity { .. })),
        "{err}"
    );
    let bad_number = wrap(
        r#"<ns2:createResponse xmlns:ns2="http://icatproject.org"><return>12x</return></ns2:createResponse>"#,
    );
    let err = read_response_envelope::<CreateResponse>(bad_number.as_bytes()).unwrap_err();
    assert!(
        matches!(err, SoapError::Xml(XmlError::InvalidValue { .. })),
        "{err}"
    );
    let not_soap = "<html><body>502 Bad Gateway</body></html>";
    let err = read_response_envelope::<LoginResponse>(not_soap.as_bytes()).unwrap_err();
    assert!(matches!(err, SoapError::NotEnvelope { .. }), "{err}");
    let wrong_op =
        read_response_envelope::<LoginResponse>(SEARCH_ENTITY_RESPONSE.as_bytes()).unwrap_err();
    assert!(
        matches!(wrong_op, SoapError::Xml(XmlError::UnexpectedElement { .. })),
        "{wrong_op}"
    );
    for input in ["", "   ", "<", "<a", "<S:Envelope", "\u{0}\u{1}"] {
        assert!(read_response_envelope::<LoginResponse>(input.as_bytes()).is_err());
    }
    // Every error carries a position inside the input.
    if let SoapError::Xml(e) =
        read_response_envelope::<LoginResponse>(mismatched.as_bytes()).unwrap_err()
    {
        assert!(e.position() <= mismatched.len() as u64);
    }
}

#[test]
fn nesting_depth_is_bounded() {
    let deep = format!("{}{}{}", "<a>".repeat(10_000), "x", "</a>".repeat(10_000));
    let body = wrap(&format!(
        r#"<ns2:loginResponse xmlns:ns2="http://icatproject.org"><unknown>{deep}</unknown></ns2:loginResponse>"#
    ));
    let err = read_response_envelope::<LoginResponse>(body.as_bytes()).unwrap_err();
    assert!(
        matches!(err, SoapError::Xml(XmlError::TooDeep { .. })),
        "{err}"
    );
}

#[test]
fn text_is_escaped_and_unescaped() {
    let req = SearchRequest {
        session_id: Some("s".into()),
        query: Some("SELECT d FROM Dataset d WHERE d.name = 'a<b>&\"c\"' \r\n\ttab".into()),
    };
    let xml = req.to_xml();
    assert!(!xml.contains("'a<b>"));
    assert_eq!(SearchRequest::from_xml(xml.as_bytes()).unwrap(), req);
    let with_cdata = r#"<t:search xmlns:t="http://icatproject.org"><query>a<![CDATA[<&>]]>&#x41;&#66;&amp;</query></t:search>"#;
    let got = SearchRequest::from_xml(with_cdata.as_bytes()).unwrap();
    assert_eq!(got.query.as_deref(), Some("a<&>AB&"));
}
