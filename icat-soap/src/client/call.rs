//! One SOAP call: encode the request, post it, decode the answer or fault, and log it in a span.

use std::time::Instant;

use tracing::Instrument;

use super::Client;
use super::retry::{is_idempotent, is_retryable};
use super::session::short_id;
use super::transport::Reply;
use crate::IcatError;
use crate::envelope::{SoapError, read_response_envelope, write_request_envelope};
use crate::untrusted::{MAX_FAULT_MESSAGE_LEN, clean_text};
use crate::xml::SoapOperation;

impl Client {
    /// Calls operation `Op` with `request`. `session` is the session id the request carries: only
    /// its short form is logged, and it is shortened in fault messages too.
    ///
    /// Read-only operations are retried on transient failures as the [`RetryPolicy`](super::RetryPolicy)
    /// says; the whole is bounded by the operation timeout, if one is set.
    pub(crate) async fn call<Op: SoapOperation>(
        &self,
        request: &Op,
        session: Option<&str>,
    ) -> Result<Op::Response, IcatError>
    where
        Op::Response: Send + 'static,
    {
        let attempts = self.call_with_retries(request, session);
        match self.transport.operation_timeout {
            None => attempts.await,
            Some(limit) => tokio::time::timeout(limit, attempts)
                .await
                .unwrap_or_else(|_| {
                    Err(IcatError::Timeout {
                        url: self.endpoint().to_owned(),
                        after: limit,
                    })
                }),
        }
    }

    async fn call_with_retries<Op: SoapOperation>(
        &self,
        request: &Op,
        session: Option<&str>,
    ) -> Result<Op::Response, IcatError>
    where
        Op::Response: Send + 'static,
    {
        let policy = self.transport.retry;
        let retry = is_idempotent(Op::NAME);
        let mut attempt = 1;
        loop {
            match self.call_once(request, session).await {
                Err(e) if retry && is_retryable(&e) => {
                    if attempt >= policy.max_attempts {
                        return Err(if attempt > 1 {
                            IcatError::RetriesExhausted {
                                operation: Op::NAME.to_owned(),
                                attempts: attempt,
                                last: Box::new(e),
                            }
                        } else {
                            e
                        });
                    }
                    let delay = policy.delay(attempt);
                    tracing::warn!(
                        op = Op::NAME,
                        attempt,
                        error = %e,
                        "transient ICAT failure; retrying in {delay:?}"
                    );
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// One attempt of [`Client::call`].
    async fn call_once<Op: SoapOperation>(
        &self,
        request: &Op,
        session: Option<&str>,
    ) -> Result<Op::Response, IcatError>
    where
        Op::Response: Send + 'static,
    {
        let span = tracing::debug_span!(
            "icat",
            op = Op::NAME,
            session = %session.map_or_else(|| "-".to_owned(), short_id),
        );
        async {
            let started = Instant::now();
            let envelope = write_request_envelope(request);
            let sent = envelope.len();
            match self.transport.post(envelope.into_bytes()).await {
                Ok(Reply::Answer(body) | Reply::Fault(body)) => {
                    let received = body.len();
                    let decoded = decode_bounded::<Op>(body, session).await;
                    tracing::debug!(
                        elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
                        sent,
                        received,
                        ok = decoded.is_ok(),
                        "ICAT call finished"
                    );
                    decoded
                }
                Err(e) => {
                    tracing::debug!(
                        elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
                        sent,
                        error = %e,
                        "ICAT call failed"
                    );
                    Err(e)
                }
            }
        }
        .instrument(span)
        .await
    }
}

/// Answers above this size are decoded on a blocking thread.
const DECODE_ON_THREAD_ABOVE: usize = 1 << 20;

/// [`decode`], inside the operation timeout: a large answer is decoded on a blocking thread so
/// that the timeout around the call can fire while it runs (decoding is linear in the answer's
/// size, which `max_response_size` bounds, so the thread ends soon after).
async fn decode_bounded<Op: SoapOperation>(
    body: bytes::Bytes,
    session: Option<&str>,
) -> Result<Op::Response, IcatError>
where
    Op::Response: Send + 'static,
{
    if body.len() <= DECODE_ON_THREAD_ABOVE {
        return decode::<Op>(&body, session);
    }
    let session = session.map(str::to_owned);
    tokio::task::spawn_blocking(move || decode::<Op>(&body, session.as_deref()))
        .await
        .unwrap_or_else(|e| {
            Err(IcatError::Decode {
                operation: Op::NAME.to_owned(),
                detail: format!("the decoding thread failed: {e}"),
            })
        })
}

/// Decodes an answer for `Op`, mapping SOAP faults to [`IcatError`] variants. Fault text is the
/// server's: it is cleaned and bounded ([`clean_text`]) before it goes into an error.
fn decode<Op: SoapOperation>(
    body: &[u8],
    session: Option<&str>,
) -> Result<Op::Response, IcatError> {
    // ICAT quotes the session id in SESSION faults; keep only its short form.
    let redact = |text: String| {
        let text = match session {
            Some(id) if !id.is_empty() && text.contains(id) => text.replace(id, &short_id(id)),
            _ => text,
        };
        clean_text(&text, MAX_FAULT_MESSAGE_LEN)
    };
    read_response_envelope::<Op::Response>(body).map_err(|e| match e {
        SoapError::Fault(fault) => {
            let fault = *fault;
            match fault.icat {
                Some(ex) => {
                    let kind = ex
                        .type_
                        .as_ref()
                        .map_or("UNKNOWN", |t| t.as_str())
                        .to_owned();
                    let message = redact(ex.message.clone().unwrap_or(fault.message));
                    IcatError::from_fault(&kind, message, ex.offset)
                }
                None => IcatError::SoapFault {
                    code: clean_text(&fault.code, MAX_FAULT_MESSAGE_LEN),
                    message: redact(fault.message),
                },
            }
        }
        other => IcatError::Decode {
            operation: Op::NAME.to_owned(),
            detail: other.to_string(),
        },
    })
}
