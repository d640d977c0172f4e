//! putAsPost (deprecated in IDS 2.1.1, gone in 3.0): `POST put` with `multipart/form-data`, the
//! browser form variant of `put`.
//!
//! As the real IDS, the parts are read in order: form fields set the parameters of `put`
//! (`sessionId`, `name`, `datafileFormatId`, `datasetId`, `description`, `doi`,
//! `datafileCreateTime`, `datafileModTime`) and `wrap`/`padding`; a part with a file name is
//! uploaded at once with the fields seen so far (its file name is the default `name`), streamed
//! through the same code as `put`. So fields after the file part come too late: a missing
//! `sessionId` is refused as for `put`, known fields after it are ignored, and an unknown field
//! anywhere is 400 `Form field Xis not recognised` (after a file part, that file stays stored).
//! Several file parts are several uploads; the answer is the last one's, and a form without a
//! file part answers 204. A body that is not multipart is 400 `Multipart content expected` (the
//! real IDS's own check); a malformed multipart body is 500, as its `FileUploadException`.
//!
//! `wrap=true` puts the answer into `<html><script type="text/javascript">window.name='…';
//! </script></html>` (a CORS work-around of the old GWT TopCAT); `padding=true` pads the wrapper
//! of error answers with a comment, as the real IDS does.

use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::upload::{Uploaded, store_and_register};
use crate::ids::error::{IdsError, IdsResult, shorten_uuids};
use crate::ids::params::Params;
use crate::ids::state::IdsState;

/// The parameters of `put` a form field may set.
const PUT_FIELDS: [&str; 8] = [
    "sessionId",
    "name",
    "datafileFormatId",
    "datasetId",
    "description",
    "doi",
    "datafileCreateTime",
    "datafileModTime",
];

/// Longest accepted form field value (file parts are not limited).
const MAX_FIELD_BYTES: usize = 64 * 1024;

/// Start of the `wrap=true` wrapper.
const WRAP_PREFIX: &str = "<html><script type=\"text/javascript\">window.name='";
/// End of the `wrap=true` wrapper.
const WRAP_SUFFIX: &str = "';</script></html>";

/// Start of the wrapper of error answers with `padding=true`: a comment of 24 lines.
fn padded_prefix() -> String {
    let mut prefix = String::from("<html><script type=\"text/javascript\">/*");
    for _ in 1..25 {
        prefix.push_str(" *        \n");
    }
    prefix.push_str("*/window.name='");
    prefix
}

/// `POST put` (multipart): see the module documentation.
pub(super) async fn put_as_post(
    State(state): State<IdsState>,
    request: Request,
) -> IdsResult<Response> {
    let multipart_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/")
        });
    if !multipart_type {
        return Err(IdsError::BadRequest(
            "Multipart content expected".to_string(),
        ));
    }
    let mut multipart = Multipart::from_request(request, &()).await.map_err(|e| {
        IdsError::BadRequest(format!("Multipart content expected: {}", e.body_text()))
    })?;
    let mut params = Params::default();
    let (mut wrap, mut padding) = (false, false);
    let mut answer = None;
    while let Some(field) = multipart.next_field().await.map_err(broken_form)? {
        let field_name = field.name().unwrap_or_default().to_string();
        if let Some(file_name) = field.file_name() {
            if params.get("name").is_none() {
                params.set("name", file_name.to_string());
            }
            let uploaded = store_and_register(&state, &params, field).await;
            answer = Some(respond(uploaded, wrap, padding));
            continue;
        }
        let value = field_text(field, &field_name).await?;
        match field_name.as_str() {
            "wrap" => wrap = value.eq_ignore_ascii_case("true"),
            "padding" => padding = value.eq_ignore_ascii_case("true"),
            known if PUT_FIELDS.contains(&known) => params.set(known, value),
            _ => {
                return Err(IdsError::BadRequest(format!(
                    "Form field {field_name}is not recognised"
                )));
            }
        }
    }
    Ok(answer.unwrap_or_else(|| StatusCode::NO_CONTENT.into_response()))
}

/// A malformed multipart body: the real IDS's `FileUploadException`, 500.
fn broken_form(e: axum::extract::multipart::MultipartError) -> IdsError {
    IdsError::Internal(format!("FileUploadException {}", e.body_text()))
}

/// The text of a form field, at most [`MAX_FIELD_BYTES`].
async fn field_text(
    mut field: axum::extract::multipart::Field<'_>,
    field_name: &str,
) -> IdsResult<String> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(broken_form)? {
        if bytes.len() + chunk.len() > MAX_FIELD_BYTES {
            return Err(IdsError::BadRequest(format!(
                "Form field {field_name} is longer than {MAX_FIELD_BYTES} bytes"
            )));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The answer to one upload: 201 JSON, or the error, each HTML-wrapped when `wrap` is set.
fn respond(uploaded: IdsResult<Uploaded>, wrap: bool, padding: bool) -> Response {
    match uploaded {
        Ok(up) if wrap => created(format!("{WRAP_PREFIX}{}{WRAP_SUFFIX}", up.json())),
        Ok(up) => created(up.json()),
        Err(e) if wrap => {
            tracing::debug!(
                code = e.code(),
                message = %shorten_uuids(&e.to_string()),
                "IDS put refused (wrapped answer)"
            );
            let prefix = if padding {
                padded_prefix()
            } else {
                WRAP_PREFIX.to_string()
            };
            let body = format!("{prefix}{}{WRAP_SUFFIX}", e.body().replace('\'', "\\'"));
            (
                e.status(),
                [(header::CONTENT_TYPE, "application/json")],
                body,
            )
                .into_response()
        }
        Err(e) => e.into_response(),
    }
}

fn created(body: String) -> Response {
    (
        StatusCode::CREATED,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padded_prefix_is_a_24_line_comment() {
        let p = padded_prefix();
        assert!(p.starts_with("<html><script type=\"text/javascript\">/*"));
        assert!(p.ends_with("\n*/window.name='"));
        assert_eq!(p.matches(" *        \n").count(), 24);
    }
}
