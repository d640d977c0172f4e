//! The ICAT service: the 20 SOAP operations with ICAT 6.2 semantics, over the [`Db`], independent of
//! the wire format (the SOAP layer decodes requests into calls here and encodes the answers).
//!
//! Beside the operations: the catalogue's storage ([`db`]), the authorization rules ([`access`]),
//! the fault model ([`error`]), `getEntityInfo` ([`entity_info`]), the free-text index
//! ([`textsearch`]), and the endpoints: SOAP ([`soap`], with [`http`]) and JSON REST ([`rest`]).

pub mod access;
pub mod db;
pub mod entity_info;
pub mod error;
pub mod getquery;
pub mod http;
pub mod rest;
pub mod search;
pub mod soap;
pub mod textsearch;
mod writes;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use icat_soap::dynamic::DynEntity;

use crate::icat::access::{Access, AccessControl, IncludeFilter, UserAccess};
use crate::icat::db::{Budget, Db, Include};
use crate::icat::entity_info::EntityInfo;
use crate::icat::error::IcatError;
use crate::process::config::SimConfig;

/// The API version a 6.2.0 server reports.
pub const API_VERSION: &str = "6.2.0";

/// One authenticator as `getAuthenticatorInfo` describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthenticatorInfo {
    /// The plugin mnemonic.
    pub mnemonic: String,
    /// Friendly name.
    pub friendly: Option<String>,
    /// Credential keys: (name, hide).
    pub keys: Vec<(String, bool)>,
}

/// The catalogue service shared by the SOAP and IDS sides.
#[derive(Debug, Clone)]
pub struct Icat {
    db: Arc<Mutex<Db>>,
    config: Arc<SimConfig>,
    access: Arc<AccessControl>,
}

impl Icat {
    /// A service over this database and configuration.
    pub fn new(db: Db, config: SimConfig) -> Self {
        Icat {
            db: Arc::new(Mutex::new(db)),
            config: Arc::new(config),
            access: Arc::new(AccessControl::new()),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// Exclusive access to the database (for loaders and the IDS catalogue).
    pub fn db(&self) -> MutexGuard<'_, Db> {
        // A panic while holding the lock cannot leave SQLite inconsistent (transactions roll back).
        self.db
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The user of a live session.
    pub fn user_of(&self, session: &str) -> Result<String, IcatError> {
        Ok(self.db().session_get(session)?.user)
    }

    /// True when the user is a root user.
    pub fn is_root(&self, user: &str) -> bool {
        self.config.is_root(user)
    }

    /// The compiled rules of `user`, or `None` for a root user (who may do everything). `db` is
    /// the locked database of this service.
    pub fn user_access(&self, db: &Db, user: &str) -> Result<Option<Arc<UserAccess>>, IcatError> {
        if self.is_root(user) {
            return Ok(None);
        }
        self.access.for_user(db, user).map(Some)
    }

    /// The compiled rules of `user` even for a root user: what free-text search reads to know
    /// which relationships are public (`GateKeeper.allowed` does not depend on the user).
    pub fn public_access(&self, db: &Db, user: &str) -> Result<Arc<UserAccess>, IcatError> {
        self.access.for_user(db, user)
    }

    /// Fails with INSUFFICIENT_PRIVILEGES unless `user` may read the existing row `id` of
    /// `entity` (NO_SUCH_OBJECT_FOUND when there is no such row).
    pub fn check_read(&self, db: &Db, user: &str, entity: &str, id: i64) -> Result<(), IcatError> {
        if !db.exists(entity, id)? {
            return Err(IcatError::not_found(entity, id));
        }
        if let Some(access) = self.user_access(db, user)? {
            let now = db.clock().now_millis();
            if !access.allows(db.conn(), Access::Read, entity, id, now)? {
                return Err(denied(Access::Read, entity));
            }
        }
        Ok(())
    }

    /// `login(plugin, credentials)`: a new session id.
    pub fn login(
        &self,
        plugin: &str,
        credentials: &BTreeMap<String, String>,
    ) -> Result<String, IcatError> {
        let auth = self.config.authenticator(plugin).ok_or_else(|| {
            IcatError::session(format!("Authenticator mnemonic {plugin} not recognised"))
        })?;
        let user = auth.authenticate(credentials).map_err(IcatError::session)?;
        let id = self
            .db()
            .session_create(&user, self.config.lifetime_minutes)?;
        tracing::info!(user = %user, "login");
        Ok(id)
    }

    /// `getUserName`.
    pub fn get_user_name(&self, session: &str) -> Result<String, IcatError> {
        self.user_of(session)
    }

    /// `getRemainingMinutes`.
    pub fn get_remaining_minutes(&self, session: &str) -> Result<f64, IcatError> {
        self.db().session_remaining_minutes(session)
    }

    /// `refresh`.
    pub fn refresh(&self, session: &str) -> Result<(), IcatError> {
        self.db().session_refresh(session)
    }

    /// `logout`.
    pub fn logout(&self, session: &str) -> Result<(), IcatError> {
        self.db().session_logout(session)
    }

    /// `getApiVersion` and `getVersion`.
    pub fn get_api_version(&self) -> &'static str {
        API_VERSION
    }

    /// `getEntityNames`.
    pub fn get_entity_names(&self) -> Vec<String> {
        entity_info::entity_names().to_vec()
    }

    /// `getEntityInfo`.
    pub fn get_entity_info(&self, bean_name: &str) -> Result<&'static EntityInfo, IcatError> {
        entity_info::entity_info(bean_name)
            .ok_or_else(|| IcatError::bad_parameter(format!("{bean_name} is not an ICAT entity")))
    }

    /// `getAuthenticatorInfo`.
    pub fn get_authenticator_info(&self) -> Vec<AuthenticatorInfo> {
        self.config
            .authenticators
            .iter()
            .map(|a| AuthenticatorInfo {
                mnemonic: a.mnemonic.clone(),
                friendly: a.friendly.clone(),
                keys: if a.anon {
                    vec![]
                } else {
                    vec![("username".into(), false), ("password".into(), true)]
                },
            })
            .collect()
    }

    /// `getProperties` (root users only).
    pub fn get_properties(&self, session: &str) -> Result<Vec<String>, IcatError> {
        let user = self.user_of(session)?;
        if !self.is_root(&user) {
            return Err(IcatError::privileges("user must be in rootUserNames"));
        }
        Ok(self.config.properties())
    }

    /// `get(query, primaryKey)`: INSUFFICIENT_PRIVILEGES when the user may not read the object;
    /// included objects the user may not read are left out.
    pub fn get(&self, session: &str, query: &str, id: i64) -> Result<DynEntity, IcatError> {
        let user = self.user_of(session)?;
        let db = self.db();
        let q = getquery::parse(query, db.schema())?;
        self.check_read(&db, &user, &q.entity, id)?;
        let access = self.user_access(&db, &user)?;
        let filter = access.as_deref().map(|access| IncludeFilter {
            access,
            now_millis: db.clock().now_millis(),
        });
        db.load_entities_filtered(
            &q.entity,
            &[id],
            &q.include,
            &mut Budget::new(self.config.max_entities),
            filter
                .as_ref()
                .map(|f| f as &dyn crate::icat::db::ReadFilter),
        )?
        .pop()
        .ok_or_else(|| IcatError::not_found(&q.entity, id))
    }

    /// Loads entities by id with included relations, within `maxEntities` (used by `search`).
    pub fn load(
        &self,
        entity: &str,
        ids: &[i64],
        include: &Include,
    ) -> Result<Vec<DynEntity>, IcatError> {
        self.db().load_entities(
            entity,
            ids,
            include,
            &mut Budget::new(self.config.max_entities),
        )
    }
}

/// ICAT's INSUFFICIENT_PRIVILEGES message for a denied access.
pub(crate) fn denied(access: Access, entity: &str) -> IcatError {
    IcatError::privileges(format!(
        "{} access to this {entity} is not allowed.",
        access.as_str()
    ))
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod hostile_query_tests;
