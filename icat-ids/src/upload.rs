//! Upload (`put`): stream a local file to the IDS in chunks, computing CRC32 and size on the way,
//! and check them against the server's answer.

use std::path::Path;
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use reqwest::header::CONTENT_TYPE;
use tokio_util::io::ReaderStream;

use crate::client::{IdsClient, check_status};
use crate::download::{Phase, Progress, ProgressFn};
use crate::error::IdsError;
use crate::selection::DataSelection;
use crate::types::{PutRequest, PutResponse};

#[derive(Default)]
struct Tally {
    crc: crc32fast::Hasher,
    len: u64,
}

impl IdsClient {
    /// Upload the file at `path` as a new Datafile described by `req`. The body is streamed
    /// (memory does not grow with file size); the CRC32 and size the IDS reports must equal what
    /// was sent, otherwise [`IdsError::UploadMismatch`] names the new datafile to delete.
    pub async fn put(
        &self,
        path: &Path,
        req: &PutRequest,
        progress: Option<ProgressFn>,
    ) -> Result<PutResponse, IdsError> {
        if req.name.trim().is_empty() {
            return Err(IdsError::BadRequest {
                message: "the datafile name must be set for put".into(),
            });
        }
        let file = tokio::fs::File::open(path)
            .await
            .map_err(|e| IdsError::io("open", path, e))?;
        let total = file
            .metadata()
            .await
            .map_err(|e| IdsError::io("stat", path, e))?
            .len();
        let mut params = vec![
            (
                "sessionId",
                self.session()
                    .ok_or(IdsError::NoSession)?
                    .expose()
                    .to_string(),
            ),
            ("name", req.name.clone()),
            ("datasetId", req.dataset_id.to_string()),
            ("datafileFormatId", req.datafile_format_id.to_string()),
        ];
        if let Some(d) = &req.description {
            params.push(("description", d.clone()));
        }
        let mut params = self.fresh_params(&params).await?;
        if let Some(d) = &req.doi {
            params.push(("doi", d.clone()));
        }
        if let Some(t) = req.create_time_millis {
            params.push(("datafileCreateTime", t.to_string()));
        }
        if let Some(t) = req.mod_time_millis {
            params.push(("datafileModTime", t.to_string()));
        }

        let tally = Arc::new(Mutex::new(Tally::default()));
        let t2 = tally.clone();
        let label = req.name.clone();
        let read_err_path = path.to_path_buf();
        let stream = ReaderStream::with_capacity(file, 256 * 1024).map(move |chunk| {
            let chunk = chunk.map_err(|e| {
                tracing::error!(path = %read_err_path.display(), error = %e, "reading upload source failed");
                e
            })?;
            let done = {
                let mut t = t2.lock().unwrap_or_else(|p| p.into_inner());
                t.crc.update(&chunk);
                t.len += chunk.len() as u64;
                t.len
            };
            if let Some(cb) = &progress {
                cb(&Progress {
                    index: 0,
                    name: &label,
                    done,
                    total: Some(total),
                    phase: Phase::Transferring,
                });
            }
            Ok::<_, std::io::Error>(chunk)
        });
        let request = self
            .http()
            .put(self.url("put"))
            .query(&params)
            .header(CONTENT_TYPE, "application/octet-stream")
            .body(reqwest::Body::wrap_stream(stream));
        let resp = match request.send().await {
            Ok(r) => r,
            Err(e) => {
                return Err(self
                    .explain_put_failure(req, self.map_reqwest("put", e))
                    .await);
            }
        };
        let resp = check_status("put", resp, self.session()).await?;
        let text = self.small_answer("put", resp).await?;

        #[derive(serde::Deserialize)]
        struct Answer {
            id: i64,
            checksum: u64,
            #[serde(default)]
            location: String,
            size: u64,
        }
        let a: Answer = serde_json::from_str(&text).map_err(|e| IdsError::UnexpectedResponse {
            call: "put",
            detail: format!("invalid JSON answer: {e}"),
        })?;
        let (sent_crc, sent_size) = {
            let t = tally.lock().unwrap_or_else(|p| p.into_inner());
            (t.crc.clone().finalize(), t.len)
        };
        let stored_crc = u32::try_from(a.checksum).unwrap_or(u32::MAX);
        if u64::from(stored_crc) != a.checksum || stored_crc != sent_crc || a.size != sent_size {
            return Err(IdsError::UploadMismatch {
                file: path.display().to_string(),
                datafile_id: a.id,
                sent_crc,
                stored_crc,
                sent_size,
                stored_size: a.size,
            });
        }
        Ok(PutResponse {
            id: a.id,
            checksum: stored_crc,
            location: a.location,
            size: a.size,
        })
    }

    /// A server that rejects an upload early (bad session, unknown dataset, read-only) may
    /// close the connection while the body is still being sent, so the client sees only a
    /// transport error. Ask cheap questions to find the real reason.
    async fn explain_put_failure(&self, req: &PutRequest, transport: IdsError) -> IdsError {
        if !matches!(transport, IdsError::Transport { .. }) {
            return transport;
        }
        if let Ok(true) = self.is_read_only().await {
            return IdsError::NotImplemented {
                message: "the IDS is read-only; uploads are not accepted".into(),
            };
        }
        match self
            .get_size(&DataSelection::datasets([req.dataset_id]))
            .await
        {
            Err(
                e @ (IdsError::InsufficientPrivileges { .. }
                | IdsError::NotFound { .. }
                | IdsError::BadRequest { .. }),
            ) => e,
            _ => transport,
        }
    }
}
