//! The SOAP endpoint: decodes a request envelope with the generated bindings, runs the operation on
//! the [`Icat`] service and encodes the response, or an ICAT fault as HTTP 500 (Metro style).

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use icat_soap::envelope::{
    SoapFault, read_request_envelope, write_fault, write_icat_fault, write_response_envelope,
};
use icat_soap::model::{
    AccessType, AuthenticatorCredentialKey, AuthenticatorInfo, Constraint, Entity, EntityField,
    EntityInfo, IcatException, ParameterValueType, RelType, StudyStatus, Value,
};
use icat_soap::ops::Request;
use icat_soap::xml::SoapBody;

use crate::icat::Icat;
use crate::icat::error::IcatError;
use crate::icat::http::{AppState, ICAT_PATH, wsdl_or_xsd};
use crate::icat::search::{Cell, SearchItem};

/// The `tracing` target of the one debug line logged per SOAP request (`operation=NAME`), so a
/// request counter is `RUST_LOG=icat_sim=info,icat_sim::requests=debug` and counting lines.
pub const REQUEST_LOG_TARGET: &str = "icat_sim::requests";

/// An answer to one SOAP request: the response envelope, or a fault envelope.
enum Answer {
    Ok(String),
    Fault(String),
}

/// The router of the SOAP endpoint (the IDS and REST routers are joined to it by the simulator).
pub fn icat_router(state: AppState) -> Router {
    Router::new()
        .route(ICAT_PATH, get(wsdl_or_xsd).post(handle))
        .with_state(state)
}

/// `POST /ICATService/ICAT`.
pub async fn handle(State(state): State<AppState>, body: Bytes) -> Response {
    let icat = state.icat.clone();
    let answer = match tokio::task::spawn_blocking(move || answer(&icat, &body)).await {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(error = %e, "SOAP handler failed");
            Answer::Fault(write_icat_fault(&exception(IcatError::internal(
                "the request handler failed",
            ))))
        }
    };
    let (status, xml) = match answer {
        Answer::Ok(xml) => (StatusCode::OK, xml),
        Answer::Fault(xml) => (StatusCode::INTERNAL_SERVER_ERROR, xml),
    };
    (
        status,
        [(header::CONTENT_TYPE, "text/xml;charset=utf-8")],
        xml,
    )
        .into_response()
}

/// Runs one request envelope and returns the envelope to send back.
fn answer(icat: &Icat, body: &[u8]) -> Answer {
    let request: Request = match read_request_envelope(body) {
        Ok(r) => r,
        Err(e) => {
            tracing::debug!(error = %e, "undecodable SOAP request");
            return Answer::Fault(write_fault(&SoapFault {
                code: "S:Client".into(),
                message: crate::icat::error::bounded(format!("Cannot process the request: {e}")),
                icat: None,
            }));
        }
    };
    let op = request.operation();
    // One line per request at debug level under its own target: `cargo xtask bench` counts them
    // with RUST_LOG=icat_sim::requests=debug.
    tracing::debug!(target: REQUEST_LOG_TARGET, operation = op, "SOAP request");
    match dispatch(icat, request) {
        Ok(xml) => Answer::Ok(xml),
        Err(e) => {
            tracing::debug!(operation = op, kind = e.kind.as_str(), "ICAT fault");
            Answer::Fault(write_icat_fault(&exception(e)))
        }
    }
}

/// The `IcatException` fault bean of an error.
///
/// The message is cut to [`MAX_FAULT_MESSAGE`](crate::icat::error::MAX_FAULT_MESSAGE) bytes: a fault
/// never echoes megabytes of input back.
pub fn exception(e: IcatError) -> IcatException {
    IcatException {
        message: Some(crate::icat::error::bounded(e.message)),
        offset: e.offset,
        type_: Some(e.kind),
    }
}

fn reply<B: SoapBody>(response: &B) -> Result<String, IcatError> {
    Ok(write_response_envelope(response))
}

fn session(id: &Option<String>) -> &str {
    id.as_deref().unwrap_or("")
}

fn bean(bean: Option<Entity>) -> Result<icat_soap::dynamic::DynEntity, IcatError> {
    bean.map(|b| b.to_dyn())
        .ok_or_else(|| IcatError::bad_parameter("bean must not be null"))
}

fn typed(e: &icat_soap::dynamic::DynEntity) -> Result<Entity, IcatError> {
    Entity::from_dyn(e)
        .map_err(|err| IcatError::internal(format!("cannot encode {}: {err}", e.entity)))
}

fn dispatch(icat: &Icat, request: Request) -> Result<String, IcatError> {
    use icat_soap::ops::{
        CreateManyResponse, CreateResponse, DeleteManyResponse, DeleteResponse, DummyResponse,
        GetApiVersionResponse, GetAuthenticatorInfoResponse, GetEntityInfoResponse,
        GetEntityNamesResponse, GetPropertiesResponse, GetRemainingMinutesResponse, GetResponse,
        GetUserNameResponse, GetVersionResponse, IsAccessAllowedResponse, LoginResponse,
        LogoutResponse, RefreshResponse, SearchResponse, UpdateResponse,
    };
    match request {
        Request::Login(r) => {
            let credentials: BTreeMap<String, String> = r
                .credentials
                .entry
                .into_iter()
                .filter_map(|e| Some((e.key?, e.value.unwrap_or_default())))
                .collect();
            let id = icat.login(r.plugin.as_deref().unwrap_or("null"), &credentials)?;
            reply(&LoginResponse { return_: Some(id) })
        }
        Request::Logout(r) => {
            icat.logout(session(&r.session_id))?;
            reply(&LogoutResponse {})
        }
        Request::Refresh(r) => {
            icat.refresh(session(&r.session_id))?;
            reply(&RefreshResponse {})
        }
        Request::GetUserName(r) => reply(&GetUserNameResponse {
            return_: Some(icat.get_user_name(session(&r.session_id))?),
        }),
        Request::GetRemainingMinutes(r) => reply(&GetRemainingMinutesResponse {
            return_: icat.get_remaining_minutes(session(&r.session_id))?,
        }),
        Request::GetApiVersion(_) => reply(&GetApiVersionResponse {
            return_: Some(icat.get_api_version().to_string()),
        }),
        Request::GetVersion(_) => reply(&GetVersionResponse {
            return_: Some(icat.get_api_version().to_string()),
        }),
        Request::GetEntityNames(_) => reply(&GetEntityNamesResponse {
            return_: icat.get_entity_names(),
        }),
        Request::GetEntityInfo(r) => {
            let info = icat.get_entity_info(r.bean_name.as_deref().unwrap_or("null"))?;
            reply(&GetEntityInfoResponse {
                return_: Some(EntityInfo {
                    class_comment: info.class_comment.clone(),
                    constraints: info
                        .constraints
                        .iter()
                        .map(|c| Constraint {
                            field_names: c.clone(),
                        })
                        .collect(),
                    fields: info
                        .fields
                        .iter()
                        .map(|f| EntityField {
                            comment: f.comment.clone(),
                            name: Some(f.name.clone()),
                            not_nullable: f.not_nullable,
                            rel_type: Some(RelType::from_wire(&f.rel_type)),
                            string_length: f.string_length,
                            type_: Some(f.ty.clone()),
                        })
                        .collect(),
                }),
            })
        }
        Request::GetAuthenticatorInfo(_) => reply(&GetAuthenticatorInfoResponse {
            return_: icat
                .get_authenticator_info()
                .into_iter()
                .map(|a| AuthenticatorInfo {
                    admin: false,
                    friendly: a.friendly,
                    keys: a
                        .keys
                        .into_iter()
                        .map(|(name, hide)| AuthenticatorCredentialKey {
                            hide,
                            name: Some(name),
                            pattern: None,
                        })
                        .collect(),
                    mnemonic: Some(a.mnemonic),
                })
                .collect(),
        }),
        Request::GetProperties(r) => reply(&GetPropertiesResponse {
            return_: icat.get_properties(session(&r.session_id))?,
        }),
        Request::Create(r) => {
            let id = icat.create(session(&r.session_id), &bean(r.bean)?)?;
            reply(&CreateResponse { return_: id })
        }
        Request::CreateMany(r) => {
            let beans: Vec<_> = r.beans.into_iter().map(|b| b.to_dyn()).collect();
            reply(&CreateManyResponse {
                return_: icat.create_many(session(&r.session_id), &beans)?,
            })
        }
        Request::Update(r) => {
            icat.update(session(&r.session_id), &bean(r.bean)?)?;
            reply(&UpdateResponse {})
        }
        Request::Delete(r) => {
            icat.delete(session(&r.session_id), &bean(r.bean)?)?;
            reply(&DeleteResponse {})
        }
        Request::DeleteMany(r) => {
            let beans: Vec<_> = r.beans.into_iter().map(|b| b.to_dyn()).collect();
            icat.delete_many(session(&r.session_id), &beans)?;
            reply(&DeleteManyResponse {})
        }
        Request::Get(r) => {
            let found = icat.get(
                session(&r.session_id),
                r.query.as_deref().unwrap_or(""),
                r.primary_key,
            )?;
            reply(&GetResponse {
                return_: Some(typed(&found)?),
            })
        }
        Request::Search(r) => {
            let items = icat.search(session(&r.session_id), r.query.as_deref().unwrap_or(""))?;
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                out.push(match item {
                    SearchItem::Value(c) => value(c)?.unwrap_or(Value::String(String::new())),
                    SearchItem::FieldSet(cells) => {
                        Value::FieldSet(cells.into_iter().map(value).collect::<Result<_, _>>()?)
                    }
                });
            }
            reply(&SearchResponse { return_: out })
        }
        Request::IsAccessAllowed(r) => {
            let access = match r.access_type {
                Some(AccessType::Unknown(s)) => {
                    return Err(IcatError::bad_parameter(format!(
                        "accessType {s} is not one of {}",
                        AccessType::VALUES.join(", ")
                    )));
                }
                Some(access) => access,
                None => return Err(IcatError::bad_parameter("accessType must not be null")),
            };
            let allowed = icat.is_access_allowed(session(&r.session_id), &bean(r.bean)?, access)?;
            reply(&IsAccessAllowedResponse { return_: allowed })
        }
        Request::Dummy(_) => reply(&DummyResponse {}),
    }
}

/// A search cell as an `xs:anyType` value (`None` for null).
fn value(c: Cell) -> Result<Option<Value>, IcatError> {
    Ok(Some(match c {
        Cell::Null => return Ok(None),
        Cell::Entity(e) => Value::Entity(typed(&e)?),
        Cell::String(s) => Value::String(s),
        Cell::Long(n) => Value::Long(n),
        Cell::Int(n) => match i32::try_from(n) {
            Ok(n) => Value::Int(n),
            Err(_) => Value::Long(n),
        },
        Cell::Double(d) => Value::Double(d),
        Cell::Bool(b) => Value::Bool(b),
        Cell::DateTime(d) => Value::DateTime(d),
        Cell::Enum("ParameterValueType", s) => {
            Value::ParameterValueType(ParameterValueType::from_wire(&s))
        }
        Cell::Enum("StudyStatus", s) => Value::StudyStatus(StudyStatus::from_wire(&s)),
        Cell::Enum(_, s) => Value::String(s),
    }))
}
