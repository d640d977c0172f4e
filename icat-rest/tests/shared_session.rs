//! One session for SOAP and REST against the simulator (which keeps ICAT's single session
//! store): a SOAP session works over REST through `with_session`, a REST login works over SOAP,
//! and a logout on one side ends it on the other.

use icat_rest::RestClient;
use icat_sim::Simulator;
use icat_soap::client::{Client, Credentials};

#[tokio::test]
async fn soap_and_rest_share_sessions_both_ways() {
    let sim = Simulator::builder()
        .synthetic("visits=1,datasets=1,files=1,size=100".parse().unwrap())
        .start()
        .await
        .unwrap();
    let url = sim.icat_url();
    let soap = Client::new(&url).unwrap();

    // SOAP login, used over REST.
    let session = soap
        .login("simple", &Credentials::user_password("root", "secret"))
        .await
        .unwrap();
    let rest = RestClient::new(&url).unwrap().with_session(session.clone());
    let info = rest.session_info().await.unwrap();
    assert_eq!(info.user_name, "simple/root");
    assert!(info.remaining_minutes > 0.0);

    // REST login, used over SOAP.
    let plain = RestClient::new(&url).unwrap();
    let id = plain
        .login("db", &[("username", "jdoe"), ("password", "secret")])
        .await
        .unwrap();
    let resumed = soap.resume(&id, None).await.unwrap();
    assert_eq!(resumed.user_name().await.unwrap(), "db/jdoe");

    // Logged out over SOAP: REST refuses the id as ICAT does (SESSION).
    resumed.logout().await.unwrap();
    let e = plain
        .clone()
        .with_session_id(id)
        .session_info()
        .await
        .unwrap_err();
    assert!(e.is_session(), "{e}");
    sim.shutdown().await;
}
