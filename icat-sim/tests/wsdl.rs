//! The simulator serves the WSDL and XSD with addresses pointing at the URL the request came in on.

use icat_sim::Simulator;

#[tokio::test]
async fn wsdl_and_xsd_are_served_with_rewritten_addresses() {
    let sim = Simulator::builder().start().await.unwrap();
    let client = icat_soap::tls::http_client().unwrap();
    let wsdl = client.get(sim.wsdl_url()).send().await.unwrap();
    assert_eq!(wsdl.status(), 200);
    assert!(
        wsdl.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/xml")
    );
    let body = wsdl.text().await.unwrap();
    assert!(
        body.contains(&format!("<soap:address location=\"{}\"/>", sim.icat_url())),
        "{body}"
    );
    assert!(body.contains(&format!("schemaLocation=\"{}?xsd=1\"", sim.icat_url())));

    // A client that reached us under another name gets that name back.
    let other = client
        .get(sim.wsdl_url())
        .header("Host", "icat.example.org:9999")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(other.contains("location=\"http://icat.example.org:9999/ICATService/ICAT\""));

    let xsd = client
        .get(format!("{}?xsd=1", sim.icat_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(xsd.status(), 200);
    assert!(
        xsd.text()
            .await
            .unwrap()
            .contains("<xs:element name=\"IcatException\"")
    );
    let plain = client.get(sim.icat_url()).send().await.unwrap();
    assert_eq!(plain.status(), 404);

    let url = sim.icat_url();
    sim.shutdown().await;
    assert!(
        client.get(format!("{url}?wsdl")).send().await.is_err(),
        "stopped after shutdown"
    );
}

#[tokio::test]
async fn a_busy_port_is_a_clear_error() {
    let first = Simulator::builder().start().await.unwrap();
    let err = Simulator::builder()
        .listen(first.addr())
        .start()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("cannot listen on"), "{err}");
}
