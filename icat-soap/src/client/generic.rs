//! Any generated operation through the typed client: `session.call(request)` fills in the session
//! id and applies the session's refresh, re-login and retry rules; `client.call_operation` for
//! operations without a session.

use super::retry::is_idempotent;
use super::session::Effect;
use super::{Client, Session};
use crate::IcatError;
use crate::xml::SoapOperation;

/// A request that carries a session id (the `sessionId` child of most ICAT operations), so that
/// [`Session::call`] can fill it in. The generator implements it for every request of the schema
/// that has an optional `sessionId` string, in icat-soap's bindings and in bindings generated with
/// `cargo xtask codegen --out` alike.
pub trait SessionRequest: SoapOperation {
    /// Sets the request's session id.
    fn set_session_id(&mut self, id: String);
}

impl Session {
    /// Calls any operation whose request carries a session id: the id is filled in, the session
    /// is refreshed ahead of expiry, and after a SESSION fault (with re-login kept) read-only
    /// operations are repeated with the new session. Read-only operations are retried on
    /// transient failures like the typed methods.
    ///
    /// ```no_run
    /// # async fn demo(session: icat_soap::Session) -> Result<(), icat_soap::IcatError> {
    /// use icat_soap::ops::SearchRequest;
    /// let answer = session
    ///     .call(SearchRequest { query: Some("SELECT COUNT(d) FROM Dataset d".into()), ..Default::default() })
    ///     .await?;
    /// println!("{:?}", answer.return_);
    /// # Ok(()) }
    /// ```
    pub async fn call<Op>(&self, request: Op) -> Result<Op::Response, IcatError>
    where
        Op: SessionRequest + Clone + Sync,
        Op::Response: Send + 'static,
    {
        let effect = if is_idempotent(Op::NAME) {
            Effect::ReadOnly
        } else {
            Effect::Write
        };
        let client = self.client().clone();
        self.run(effect, |id| {
            let mut request = request.clone();
            request.set_session_id(id.to_string());
            let client = client.clone();
            async move { client.call(&request, Some(&id)).await }
        })
        .await
    }
}

impl Client {
    /// Calls any operation that needs no session (`getApiVersion`, `getEntityInfo`, ...), with
    /// the client's retry and timeout rules.
    pub async fn call_operation<Op>(&self, request: &Op) -> Result<Op::Response, IcatError>
    where
        Op: SoapOperation + Sync,
        Op::Response: Send + 'static,
    {
        self.call(request, None).await
    }
}
