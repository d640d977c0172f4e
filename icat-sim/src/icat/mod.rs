//! The ICAT service: the 20 SOAP operations with ICAT 6.2 semantics, over the [`Db`], independent of
//! the wire format (the SOAP layer decodes requests into calls here and encodes the answers).

pub mod getquery;
pub mod search;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use icat_soap::dynamic::DynEntity;

use crate::config::SimConfig;
use crate::db::{Budget, Db, Include};
use crate::entity_info::{self, EntityInfo};
use crate::error::IcatError;

/// The API version a 6.2.0 server reports.
pub const API_VERSION: &str = "6.2.0";

/// The kinds of access `isAccessAllowed` asks about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// READ.
    Read,
    /// UPDATE.
    Update,
    /// DELETE.
    Delete,
    /// CREATE.
    Create,
}

impl Access {
    fn name(self) -> &'static str {
        match self {
            Access::Read => "READ",
            Access::Update => "UPDATE",
            Access::Delete => "DELETE",
            Access::Create => "CREATE",
        }
    }
}

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
}

impl Icat {
    /// A service over this database and configuration.
    pub fn new(db: Db, config: SimConfig) -> Self {
        Icat {
            db: Arc::new(Mutex::new(db)),
            config: Arc::new(config),
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

    fn may_write(&self, user: &str) -> bool {
        self.config.non_root_write || self.is_root(user)
    }

    fn check_write(&self, user: &str, access: Access, entity: &str) -> Result<(), IcatError> {
        if self.may_write(user) {
            Ok(())
        } else {
            Err(IcatError::privileges(format!(
                "{} access to this {entity} is not allowed.",
                access.name()
            )))
        }
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

    /// `create`.
    pub fn create(&self, session: &str, bean: &DynEntity) -> Result<i64, IcatError> {
        let user = self.user_of(session)?;
        self.check_write(&user, Access::Create, &bean.entity)?;
        self.db().create(&user, bean)
    }

    /// `createMany`.
    pub fn create_many(&self, session: &str, beans: &[DynEntity]) -> Result<Vec<i64>, IcatError> {
        let user = self.user_of(session)?;
        for (i, bean) in beans.iter().enumerate() {
            self.check_write(&user, Access::Create, &bean.entity)
                .map_err(|e| e.at_offset(i))?;
        }
        self.db().create_many(&user, beans)
    }

    /// `update`.
    pub fn update(&self, session: &str, bean: &DynEntity) -> Result<(), IcatError> {
        let user = self.user_of(session)?;
        self.check_write(&user, Access::Update, &bean.entity)?;
        self.db().update(&user, bean)
    }

    /// `delete`.
    pub fn delete(&self, session: &str, bean: &DynEntity) -> Result<(), IcatError> {
        let user = self.user_of(session)?;
        self.check_write(&user, Access::Delete, &bean.entity)?;
        self.db().delete(bean)
    }

    /// `deleteMany`.
    pub fn delete_many(&self, session: &str, beans: &[DynEntity]) -> Result<(), IcatError> {
        let user = self.user_of(session)?;
        for (i, bean) in beans.iter().enumerate() {
            self.check_write(&user, Access::Delete, &bean.entity)
                .map_err(|e| e.at_offset(i))?;
        }
        self.db().delete_many(beans)
    }

    /// `get(query, primaryKey)`.
    pub fn get(&self, session: &str, query: &str, id: i64) -> Result<DynEntity, IcatError> {
        let _user = self.user_of(session)?;
        let db = self.db();
        let q = getquery::parse(query, db.schema())?;
        db.get(&q.entity, id, &q.include, self.config.max_entities)
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

    /// `isAccessAllowed(bean, accessType)`.
    pub fn is_access_allowed(
        &self,
        session: &str,
        bean: &DynEntity,
        access: Access,
    ) -> Result<bool, IcatError> {
        let user = self.user_of(session)?;
        let mut db = self.db();
        db.table(&bean.entity)?;
        match access {
            Access::Create => {
                // ICAT creates the bean in a transaction that is rolled back: a duplicate throws.
                db.check_create(&user, bean)?;
                Ok(self.may_write(&user))
            }
            Access::Read | Access::Update | Access::Delete => {
                let exists = match bean.id() {
                    Some(id) => db.exists(&bean.entity, id)?,
                    None => false,
                };
                Ok(exists && (access == Access::Read || self.may_write(&user)))
            }
        }
    }
}

#[cfg(test)]
mod tests;
