//! `POST /icat/session` (login), `GET/PUT/DELETE /icat/session/{id}`, `GET /icat/version` and
//! `GET /icat/properties`, as `ICATRest.login`, `getSession`, `refresh`, `logout`, `getVersion`
//! and `getProperties` answer them. Sessions live in the one session table the SOAP service uses,
//! so a session made over SOAP works here and the other way round.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{blocking, json_response};
use crate::icat::error::IcatError;
use crate::icat::http::AppState;

/// `POST /icat/session` with form field `json` = `{"plugin": ..., "credentials": [{"username":
/// ...}, {"password": ...}]}`: `{"sessionId": ...}`.
pub async fn login(State(state): State<AppState>, body: Bytes) -> Response {
    blocking(&state.icat, move |icat| {
        let json = form_urlencoded::parse(&body)
            .find(|(k, _)| k == "json")
            .map(|(_, v)| v.into_owned())
            .ok_or_else(|| IcatError::bad_parameter("json must not be null"))?;
        let (plugin, credentials) = parse_login(&json)?;
        let session = icat.login(plugin.as_deref().unwrap_or("null"), &credentials)?;
        Ok(json_response(json!({ "sessionId": session }).to_string()))
    })
    .await
}

/// The plugin and credentials of a login request, read as `ICATRest.login`'s event parser does:
/// every string value inside the `credentials` array is a credential under its key.
fn parse_login(json: &str) -> Result<(Option<String>, BTreeMap<String, String>), IcatError> {
    // Java's parser throws JsonParsingException, which reaches ThrowableExceptionMapper (INTERNAL).
    let value: Value = serde_json::from_str(json).map_err(|e| {
        IcatError::internal(format!(
            "class jakarta.json.stream.JsonParsingException {e}"
        ))
    })?;
    let plugin = value
        .get("plugin")
        .and_then(Value::as_str)
        .map(str::to_string);
    let mut credentials = BTreeMap::new();
    if let Some(list) = value.get("credentials").and_then(Value::as_array) {
        for item in list {
            if let Some(map) = item.as_object() {
                for (k, v) in map {
                    if let Some(s) = v.as_str() {
                        credentials.insert(k.clone(), s.to_string());
                    }
                }
            }
        }
    }
    Ok((plugin, credentials))
}

/// `GET /icat/session/{id}`: `{"userName": ..., "remainingMinutes": ...}`.
pub async fn get_session(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    blocking(&state.icat, move |icat| {
        let user = icat.get_user_name(&id)?;
        let remaining = icat.get_remaining_minutes(&id)?;
        Ok(json_response(
            json!({ "userName": user, "remainingMinutes": remaining }).to_string(),
        ))
    })
    .await
}

/// `PUT /icat/session/{id}`: refresh (204, as a JAX-RS `void` method answers).
pub async fn refresh(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    blocking(&state.icat, move |icat| {
        icat.refresh(&id)?;
        Ok(StatusCode::NO_CONTENT.into_response())
    })
    .await
}

/// `DELETE /icat/session/{id}`: logout (204).
pub async fn logout(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    blocking(&state.icat, move |icat| {
        icat.logout(&id)?;
        Ok(StatusCode::NO_CONTENT.into_response())
    })
    .await
}

/// `GET /icat/version`: `{"version": "6.2.0"}`.
pub async fn version(State(state): State<AppState>) -> Response {
    json_response(json!({ "version": state.icat.get_api_version() }).to_string())
}

/// `GET /icat/properties` (no session): `maxEntities`, `lifetimeMinutes`, the authenticators
/// with the credential keys their description lists, and `containerType` (Payara reports as
/// `Glassfish` to `ContainerGetter`).
pub async fn properties(State(state): State<AppState>) -> Response {
    let icat = &state.icat;
    let authenticators: Vec<Value> = icat
        .get_authenticator_info()
        .into_iter()
        .map(|a| {
            let keys: Vec<Value> = a
                .keys
                .iter()
                .map(|(name, hide)| {
                    if *hide {
                        json!({ "name": name, "hide": true })
                    } else {
                        json!({ "name": name })
                    }
                })
                .collect();
            let mut entry = json!({ "mnemonic": a.mnemonic, "keys": keys });
            if let Some(friendly) = a.friendly {
                entry["friendly"] = json!(friendly);
            }
            entry
        })
        .collect();
    json_response(
        json!({
            "maxEntities": icat.config().max_entities,
            "lifetimeMinutes": icat.config().lifetime_minutes,
            "authenticators": authenticators,
            "containerType": "Glassfish",
        })
        .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_json_is_read_like_icat_rest() {
        let (plugin, creds) =
            parse_login(r#"{"plugin":"db","credentials":[{"username":"jdoe"},{"password":"pw"}]}"#)
                .unwrap();
        assert_eq!(plugin.as_deref(), Some("db"));
        assert_eq!(creds["username"], "jdoe");
        assert_eq!(creds["password"], "pw");
        let e = parse_login("{not json").unwrap_err();
        assert_eq!(e.kind, crate::icat::error::IcatErrorKind::Internal);
    }
}
