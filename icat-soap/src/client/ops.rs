//! A method per ICAT operation: those that need no session on [`Client`], the rest on [`Session`].
//!
//! Operations that older servers lack (see [`crate::meta::OPERATIONS`]) are used through
//! `if_operation!`: with bindings generated from such a server's WSDL, a method whose types the
//! schema lacks is absent, and the others return [`IcatError::NotSupported`] or fall back (with no
//! `getEntityNames`, [`Client::entity_names`] lists the schema's entities).

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::paging::limit_count;
use super::session::{Effect, Session, short_id};
use super::{Client, Credentials};
use crate::IcatError;
use crate::model::{Entity, EntityInfo, Value};
// Operations every ICAT since 4.2 has. Newer ones (`refresh`, `getEntityNames`, `isAccessAllowed`,
// `getProperties`, `getAuthenticatorInfo`) are named only inside `if_operation!`, so that this
// runtime compiles with bindings regenerated from an older server's WSDL.
use crate::ops::{
    CreateManyRequest, CreateRequest, DeleteManyRequest, DeleteRequest, GetApiVersionRequest,
    GetEntityInfoRequest, GetRemainingMinutesRequest, GetRequest, GetUserNameRequest, LoginRequest,
    LogoutRequest, SearchRequest, UpdateRequest, if_operation,
};
use crate::query::IntoJpql;

/// Converts ICAT's remaining minutes (a double) into a duration, treating nonsense as zero.
fn minutes(m: f64) -> Duration {
    if m.is_finite() && m > 0.0 {
        Duration::from_secs_f64(m * 60.0)
    } else {
        Duration::ZERO
    }
}

impl Client {
    /// Logs in with the authenticator `plugin` (e.g. `"db"`, `"ldap"`, `"simple"`, `"anon"`) and
    /// returns a session that refreshes itself before it expires. The credentials are not kept: if
    /// the session is lost (server restart, purge), calls fail with [`IcatError::Session`].
    /// Use [`Client::login_with_relogin`] to let the session log in again by itself.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), icat_soap::IcatError> {
    /// use icat_soap::client::{Client, Credentials};
    /// let client = Client::new("https://icat.example.org:8181")?;
    /// let creds = Credentials::new().with("username", "jdoe").with("password", "secret");
    /// let session = client.login("db", &creds).await?;
    /// println!("logged in as {}", session.user_name().await?);
    /// # Ok(()) }
    /// ```
    pub async fn login(
        &self,
        plugin: &str,
        credentials: &Credentials,
    ) -> Result<Session, IcatError> {
        self.login_session(plugin, credentials, false).await
    }

    /// Like [`Client::login`], but the session keeps the credentials (in memory only) and logs in
    /// again once when the server reports a SESSION fault; read-only calls are then retried.
    pub async fn login_with_relogin(
        &self,
        plugin: &str,
        credentials: &Credentials,
    ) -> Result<Session, IcatError> {
        self.login_session(plugin, credentials, true).await
    }

    async fn login_session(
        &self,
        plugin: &str,
        credentials: &Credentials,
        keep: bool,
    ) -> Result<Session, IcatError> {
        let started = Instant::now();
        let (id, remaining) = self.login_raw(plugin, credentials).await?;
        tracing::info!(plugin, session = %short_id(&id), "logged in to ICAT");
        Ok(Session::new(
            self.clone(),
            plugin.to_owned(),
            keep.then(|| credentials.clone()),
            id,
            remaining,
            started,
            true,
        ))
    }

    /// Continues an existing session by its id (e.g. one cached by a command-line tool). Checks it
    /// with one `getRemainingMinutes` call and refreshes it at once if it is close to expiry.
    /// `relogin` optionally gives the plugin and credentials to log in again with.
    pub async fn resume(
        &self,
        session_id: &str,
        relogin: Option<(&str, &Credentials)>,
    ) -> Result<Session, IcatError> {
        let started = Instant::now();
        let id: Arc<str> = session_id.into();
        let remaining = match self.remaining_raw(&id).await {
            Ok(r) => r,
            Err(e) if e.is_session() => match relogin {
                Some((plugin, creds)) => return self.login_session(plugin, creds, true).await,
                None => return Err(e),
            },
            Err(e) => return Err(e),
        };
        let (plugin, creds) = match relogin {
            Some((p, c)) => (p.to_owned(), Some(c.clone())),
            None => (String::new(), None),
        };
        let session = Session::new(
            self.clone(),
            plugin,
            creds,
            session_id.to_owned(),
            remaining,
            started,
            false,
        );
        session.ensure_fresh().await?;
        Ok(session)
    }

    /// `login` then `getRemainingMinutes`: the new session id and its lifetime.
    pub(crate) async fn login_raw(
        &self,
        plugin: &str,
        credentials: &Credentials,
    ) -> Result<(String, Duration), IcatError> {
        let mut request = LoginRequest {
            plugin: Some(plugin.to_owned()),
            ..Default::default()
        };
        for (k, v) in credentials.iter() {
            request
                .credentials
                .entry
                .push(crate::model::LoginCredentialsEntry {
                    key: Some(k.to_owned()),
                    value: Some(v.to_owned()),
                });
        }
        let response = self.call(&request, None).await?;
        let id = response.return_.ok_or_else(|| IcatError::Decode {
            operation: "login".into(),
            detail: "the answer holds no session id".into(),
        })?;
        let remaining = self.remaining_raw(&id).await?;
        Ok((id, remaining))
    }

    pub(crate) async fn remaining_raw(&self, id: &str) -> Result<Duration, IcatError> {
        let request = GetRemainingMinutesRequest {
            session_id: Some(id.to_owned()),
        };
        let r = self.call(&request, Some(id)).await?;
        Ok(minutes(r.return_))
    }

    /// `refresh`, or [`IcatError::NotSupported`] when the schema has no `refresh` (ICAT 4.2).
    pub(crate) async fn refresh_raw(&self, id: &str) -> Result<(), IcatError> {
        if_operation! { refresh {
            let request = crate::ops::RefreshRequest {
                session_id: Some(id.to_owned()),
            };
            self.call(&request, Some(id)).await?;
            Ok(())
        } else {
            let _ = id;
            Err(IcatError::NotSupported { operation: "refresh".into() })
        }}
    }

    /// The server's API version, e.g. `"6.2.0"` (`getApiVersion`; needs no session).
    pub async fn api_version(&self) -> Result<String, IcatError> {
        let r = self.call(&GetApiVersionRequest::default(), None).await?;
        Ok(r.return_.unwrap_or_default())
    }

    /// All entity names, alphabetically (`getEntityNames`; needs no session).
    ///
    /// **Depends on the WSDL:** with bindings generated from a schema without `getEntityNames`
    /// (ICAT before 4.3), the schema's own entity list, which is that server's, with no round trip.
    pub async fn entity_names(&self) -> Result<Vec<String>, IcatError> {
        if_operation! { getEntityNames {
            Ok(self
                .call(&crate::ops::GetEntityNamesRequest::default(), None)
                .await?
                .return_)
        } else {
            Ok(crate::meta::ENTITIES.iter().map(|e| e.name.to_owned()).collect())
        }}
    }

    /// The server's description of one entity type (`getEntityInfo`; needs no session).
    /// The same facts are available offline in [`crate::meta`].
    pub async fn entity_info(&self, entity: &str) -> Result<EntityInfo, IcatError> {
        let request = GetEntityInfoRequest {
            bean_name: Some(entity.to_owned()),
        };
        self.call(&request, None)
            .await?
            .return_
            .ok_or_else(|| IcatError::Decode {
                operation: "getEntityInfo".into(),
                detail: "the answer holds no entity info".into(),
            })
    }
}

// `getAuthenticatorInfo` and its result type came with ICAT 4.9.
if_operation! { getAuthenticatorInfo {
    impl Client {
        /// The configured authenticators and the credential keys each takes
        /// (`getAuthenticatorInfo`; needs no session).
        ///
        /// **Depends on the WSDL:** this method exists only when the bindings have the
        /// `getAuthenticatorInfo` operation (ICAT 4.9 and later); bindings regenerated for an
        /// older server do not have it (a compile error at each use; gate such code with
        /// [`ops::if_operation!`](crate::ops::if_operation)).
        pub async fn authenticator_info(
            &self,
        ) -> Result<Vec<crate::model::AuthenticatorInfo>, IcatError> {
            Ok(self
                .call(&crate::ops::GetAuthenticatorInfoRequest::default(), None)
                .await?
                .return_)
        }
    }
} else {}}

impl Session {
    /// Runs a JPQL query (a string or a [`Query`](crate::Query)) and returns the decoded results: entities,
    /// values, or `FieldSet` rows for multi-column SELECTs.
    ///
    /// ```no_run
    /// # async fn demo(session: icat_soap::client::Session) -> Result<(), icat_soap::IcatError> {
    /// use icat_soap::Query;
    /// let rows = session.search(&Query::new("Dataset").where_eq("investigation.visitId", "1.1-N")).await?;
    /// let names = session.search("SELECT i.name FROM Investigation i").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// A query ending in `LIMIT offset, count` may get at most `count` results: an answer holding
    /// more is refused with [`IcatError::MoreResultsThanAsked`] before its results are decoded.
    pub async fn search(&self, query: impl IntoJpql) -> Result<Vec<Value>, IcatError> {
        let jpql = query.into_jpql()?;
        let most = limit_count(&jpql);
        let values = self
            .run(Effect::ReadOnly, |sid| {
                let request = SearchRequest {
                    session_id: Some(sid.to_string()),
                    query: Some(jpql.clone()),
                };
                async move { self.client().call_at_most(&request, Some(&sid), most).await }
            })
            .await?
            .return_;
        tracing::debug!(results = values.len(), "search returned");
        Ok(values)
    }

    /// Gets one entity by id. `query` is the entity name with optional includes, e.g. `"Dataset"`,
    /// `"Dataset INCLUDE 1"` or `"Dataset ds INCLUDE ds.datafiles"`.
    pub async fn get(&self, query: &str, id: i64) -> Result<Entity, IcatError> {
        let query = query.to_owned();
        let r = self
            .run(Effect::ReadOnly, |sid| {
                let request = GetRequest {
                    session_id: Some(sid.to_string()),
                    query: Some(query.clone()),
                    primary_key: id,
                };
                async move { self.client().call(&request, Some(&sid)).await }
            })
            .await?;
        r.return_.ok_or_else(|| IcatError::Decode {
            operation: "get".into(),
            detail: "the answer holds no entity".into(),
        })
    }

    /// Creates an entity (with its one-to-many children, cascaded) and returns its new id.
    pub async fn create(&self, entity: impl Into<Entity>) -> Result<i64, IcatError> {
        let bean = entity.into();
        let r = self
            .run(Effect::Write, |sid| {
                let request = CreateRequest {
                    session_id: Some(sid.to_string()),
                    bean: Some(bean.clone()),
                };
                async move { self.client().call(&request, Some(&sid)).await }
            })
            .await?;
        Ok(r.return_)
    }

    /// Creates several entities atomically and returns their ids in order. On failure nothing is
    /// created and the error's [`fault_offset`](IcatError::fault_offset) names the failing item.
    pub async fn create_many(&self, entities: Vec<Entity>) -> Result<Vec<i64>, IcatError> {
        let r = self
            .run(Effect::Write, |sid| {
                let request = CreateManyRequest {
                    session_id: Some(sid.to_string()),
                    beans: entities.clone(),
                };
                async move { self.client().call(&request, Some(&sid)).await }
            })
            .await?;
        Ok(r.return_)
    }

    /// Updates an entity's attributes and many-to-one relations. Relations left unset become null
    /// on the server, so get the entity with `INCLUDE 1` first, change it, then update.
    pub async fn update(&self, entity: impl Into<Entity>) -> Result<(), IcatError> {
        let bean = entity.into();
        self.run(Effect::Write, |sid| {
            let request = UpdateRequest {
                session_id: Some(sid.to_string()),
                bean: Some(bean.clone()),
            };
            let sid = sid.clone();
            async move { self.client().call(&request, Some(&sid)).await }
        })
        .await?;
        Ok(())
    }

    /// Deletes an entity (only its id is used) and, by cascade, its one-to-many children.
    pub async fn delete(&self, entity: impl Into<Entity>) -> Result<(), IcatError> {
        let bean = entity.into();
        self.run(Effect::Write, |sid| {
            let request = DeleteRequest {
                session_id: Some(sid.to_string()),
                bean: Some(bean.clone()),
            };
            let sid = sid.clone();
            async move { self.client().call(&request, Some(&sid)).await }
        })
        .await?;
        Ok(())
    }

    /// Deletes several entities atomically.
    pub async fn delete_many(&self, entities: Vec<Entity>) -> Result<(), IcatError> {
        self.run(Effect::Write, |sid| {
            let request = DeleteManyRequest {
                session_id: Some(sid.to_string()),
                beans: entities.clone(),
            };
            let sid = sid.clone();
            async move { self.client().call(&request, Some(&sid)).await }
        })
        .await?;
        Ok(())
    }

    /// The user name of this session, e.g. `"db/jdoe"`.
    pub async fn user_name(&self) -> Result<String, IcatError> {
        let r = self
            .run(Effect::ReadOnly, |sid| {
                let request = GetUserNameRequest {
                    session_id: Some(sid.to_string()),
                };
                async move { self.client().call(&request, Some(&sid)).await }
            })
            .await?;
        Ok(r.return_.unwrap_or_default())
    }

    /// The minutes left before the session expires, as the server sees it.
    pub async fn remaining_minutes(&self) -> Result<f64, IcatError> {
        let started = Instant::now();
        let r = self
            .run(Effect::ReadOnly, |sid| {
                let request = GetRemainingMinutesRequest {
                    session_id: Some(sid.to_string()),
                };
                async move { self.client().call(&request, Some(&sid)).await }
            })
            .await?;
        self.mark_remaining(started, minutes(r.return_));
        Ok(r.return_)
    }

    /// Resets the session's time to live now (the session also does this by itself before it
    /// expires).
    ///
    /// **Depends on the WSDL:** [`IcatError::NotSupported`] with bindings for a schema without
    /// `refresh` (ICAT before 4.3); sessions then log in again when they must (or run until the
    /// server ends them when no credentials were kept).
    pub async fn refresh(&self) -> Result<(), IcatError> {
        let started = Instant::now();
        let id = self.id();
        self.client().refresh_raw(&id).await?;
        self.mark_refreshed(started);
        Ok(())
    }

    /// The server's `run.properties` lines ("key value"); root users only.
    ///
    /// **Depends on the WSDL:** [`IcatError::NotSupported`] with bindings for a schema without
    /// `getProperties` (ICAT before 4.3).
    pub async fn properties(&self) -> Result<Vec<String>, IcatError> {
        if_operation! { getProperties {
            let r = self
                .run(Effect::ReadOnly, |sid| {
                    let request = crate::ops::GetPropertiesRequest {
                        session_id: Some(sid.to_string()),
                    };
                    async move { self.client().call(&request, Some(&sid)).await }
                })
                .await?;
            Ok(r.return_)
        } else {
            Err(IcatError::NotSupported { operation: "getProperties".into() })
        }}
    }

    /// Ends the session on the server. Clones of this session stop working too.
    pub async fn logout(self) -> Result<(), IcatError> {
        let id = self.id();
        let request = LogoutRequest {
            session_id: Some(id.clone()),
        };
        self.client().call(&request, Some(&id)).await?;
        self.mark_expired();
        tracing::info!(session = %short_id(&id), "logged out of ICAT");
        Ok(())
    }
}

// `isAccessAllowed` and its `accessType` enumeration came with ICAT 4.3.
if_operation! { isAccessAllowed {
    impl Session {
        /// Whether the user may do `access` (READ, UPDATE, DELETE, CREATE) on `entity`.
        ///
        /// **Depends on the WSDL:** this method (and [`AccessType`](crate::model::AccessType))
        /// exists only when the bindings have the `isAccessAllowed` operation (ICAT 4.3 and
        /// later); bindings regenerated for an older server do not have it (gate such code with
        /// [`ops::if_operation!`](crate::ops::if_operation)).
        pub async fn is_access_allowed(
            &self,
            entity: impl Into<Entity>,
            access: crate::model::AccessType,
        ) -> Result<bool, IcatError> {
            let bean = entity.into();
            let r = self
                .run(Effect::ReadOnly, |sid| {
                    let request = crate::ops::IsAccessAllowedRequest {
                        session_id: Some(sid.to_string()),
                        bean: Some(bean.clone()),
                        access_type: Some(access.clone()),
                    };
                    async move { self.client().call(&request, Some(&sid)).await }
                })
                .await?;
            Ok(r.return_)
        }
    }
} else {}}
