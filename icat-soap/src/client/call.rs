//! One SOAP call: encode the request, post it, decode the answer or fault, and log it in a span.

use std::time::Instant;

use tracing::Instrument;

use super::Client;
use super::retry::verdict;
use super::session::short_id;
use super::transport::Reply;
use crate::IcatError;
use crate::envelope::{
    SoapError, answer_holds_more_than, read_response_envelope, write_request_envelope,
};
use crate::untrusted::{MAX_FAULT_MESSAGE_LEN, clean_text};
use crate::xml::{SoapMessage, SoapOperation};

impl Client {
    /// Calls operation `Op` with `request`. `session` is the session id the request carries: only
    /// its short form is logged, and it is shortened in fault messages too.
    ///
    /// Read-only operations are retried on transient failures as the [`RetryPolicy`](crate::RetryPolicy)
    /// says (a longer `Retry-After` from the server is waited); the whole is bounded by the
    /// operation timeout, if one is set.
    pub(crate) async fn call<Op: SoapOperation>(
        &self,
        request: &Op,
        session: Option<&str>,
    ) -> Result<Op::Response, IcatError>
    where
        Op::Response: Send + 'static,
    {
        self.call_at_most(request, session, None).await
    }

    /// [`Client::call`] for an answer that may hold at most `most` results (a search with a
    /// LIMIT): an answer holding more is refused with [`IcatError::MoreResultsThanAsked`] before
    /// its results are decoded (issue 14: 420,000 tiny rows asked 3,000 at a time decoded into
    /// about 250 MiB before the paging refused them).
    pub(crate) async fn call_at_most<Op: SoapOperation>(
        &self,
        request: &Op,
        session: Option<&str>,
        most: Option<u64>,
    ) -> Result<Op::Response, IcatError>
    where
        Op::Response: Send + 'static,
    {
        let attempts = self.call_with_retries(request, session, most);
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
        most: Option<u64>,
    ) -> Result<Op::Response, IcatError>
    where
        Op::Response: Send + 'static,
    {
        self.transport
            .retry
            .run(
                || self.call_once(request, session, most),
                |e| verdict(Op::NAME, e),
                |e, retry, pause| {
                    tracing::warn!(
                        op = Op::NAME,
                        attempt = retry,
                        error = %e,
                        "transient ICAT failure; retrying in {pause:?}"
                    );
                },
            )
            .await
            .map_err(|gave_up| {
                if gave_up.exhausted && gave_up.attempts > 1 {
                    IcatError::RetriesExhausted {
                        operation: Op::NAME.to_owned(),
                        attempts: gave_up.attempts,
                        last: Box::new(gave_up.error),
                    }
                } else {
                    gave_up.error
                }
            })
    }

    /// One attempt of [`Client::call`].
    async fn call_once<Op: SoapOperation>(
        &self,
        request: &Op,
        session: Option<&str>,
        most: Option<u64>,
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
            // The request's time limit covers decoding the answer too (issue 14, finding 6).
            let deadline = tokio::time::Instant::now().checked_add(self.transport.timeout);
            let envelope = write_request_envelope(request);
            let sent = envelope.len();
            match self.transport.post(envelope.into_bytes()).await {
                Ok(Reply::Answer(body) | Reply::Fault(body)) => {
                    let received = body.len();
                    let out_of_time = || IcatError::Timeout {
                        url: self.endpoint().to_owned(),
                        after: self.transport.timeout,
                    };
                    let decoded =
                        decode_before::<Op>(deadline, body, session, most, out_of_time).await;
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

/// [`decode_bounded`] before `deadline` (the end of the time allowed for the request, `None`
/// for no end): an answer that arrives when that time is used up is not decoded, and decoding
/// still under way when it runs out is given up; both are `out_of_time()`.
async fn decode_before<Op: SoapOperation>(
    deadline: Option<tokio::time::Instant>,
    body: bytes::Bytes,
    session: Option<&str>,
    most: Option<u64>,
    out_of_time: impl FnOnce() -> IcatError,
) -> Result<Op::Response, IcatError>
where
    Op::Response: Send + 'static,
{
    let Some(deadline) = deadline else {
        return decode_bounded::<Op>(body, session, most).await;
    };
    if tokio::time::Instant::now() >= deadline {
        return Err(out_of_time());
    }
    tokio::time::timeout_at(deadline, decode_bounded::<Op>(body, session, most))
        .await
        .unwrap_or_else(|_| Err(out_of_time()))
}

/// Answers above this size are decoded on a blocking thread.
const DECODE_ON_THREAD_ABOVE: usize = 1 << 20;

/// [`decode`], inside the operation timeout: a large answer is decoded on a blocking thread so
/// that the timeout around the call can fire while it runs (decoding is linear in the answer's
/// size, which `max_response_size` bounds, so the thread ends soon after).
async fn decode_bounded<Op: SoapOperation>(
    body: bytes::Bytes,
    session: Option<&str>,
    most: Option<u64>,
) -> Result<Op::Response, IcatError>
where
    Op::Response: Send + 'static,
{
    if body.len() <= DECODE_ON_THREAD_ABOVE {
        return decode::<Op>(&body, session, most);
    }
    let session = session.map(str::to_owned);
    tokio::task::spawn_blocking(move || decode::<Op>(&body, session.as_deref(), most))
        .await
        .unwrap_or_else(|e| {
            Err(IcatError::Decode {
                operation: Op::NAME.to_owned(),
                detail: format!("the decoding thread failed: {e}"),
            })
        })
}

/// Decodes an answer for `Op`, mapping SOAP faults to [`IcatError`] variants. Fault text is the
/// server's: it is cleaned and bounded ([`clean_text`]) before it goes into an error. With
/// `most`, an answer holding more results than that is refused before any is decoded.
fn decode<Op: SoapOperation>(
    body: &[u8],
    session: Option<&str>,
    most: Option<u64>,
) -> Result<Op::Response, IcatError> {
    if let Some(most) = most
        && answer_holds_more_than(body, <Op::Response as SoapMessage>::NAMESPACE, most)
    {
        return Err(IcatError::MoreResultsThanAsked {
            operation: Op::NAME.to_owned(),
            asked: most,
        });
    }
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
                None if is_unknown_operation(&fault.code, &fault.message) => {
                    IcatError::NotSupported {
                        operation: Op::NAME.to_owned(),
                    }
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

/// True for the fault a JAX-WS (Metro) server such as ICAT's answers a request for an operation
/// it does not have with: faultcode `Client`, faultstring `Cannot find dispatch method for
/// {namespace}operation` (JAX-WS RI `SEIInvokerPipe`/`OperationDispatcher`, message
/// `dispatch.cannotFindMethod`). An older ICAT answers so to e.g. `refresh`.
fn is_unknown_operation(code: &str, message: &str) -> bool {
    let local_code = code.rsplit(':').next().unwrap_or(code);
    local_code == "Client"
        && message
            .trim_start()
            .starts_with("Cannot find dispatch method for")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generated::ops::GetApiVersionRequest;
    use std::time::Duration;

    fn answer(padding: usize) -> bytes::Bytes {
        bytes::Bytes::from(format!(
            "<S:Envelope xmlns:S=\"http://schemas.xmlsoap.org/soap/envelope/\"><S:Body><ns2:getApiVersionResponse xmlns:ns2=\"http://icatproject.org\"><return>6.2.0{}</return></ns2:getApiVersionResponse></S:Body></S:Envelope>",
            " ".repeat(padding)
        ))
    }

    fn out_of_time() -> IcatError {
        IcatError::Timeout {
            url: "http://icat.test/".to_owned(),
            after: Duration::from_secs(1),
        }
    }

    /// Issue 14, finding 6: the request's time limit covers decoding. An answer that arrives
    /// when that time is used up is not decoded (small answers, decoded inline, and large ones,
    /// decoded on a blocking thread, alike): the outcome is the timeout, not the answer.
    #[tokio::test]
    async fn an_answer_arriving_after_the_deadline_is_not_decoded() {
        let passed = tokio::time::Instant::now();
        for padding in [0, DECODE_ON_THREAD_ABOVE + 1] {
            let r = decode_before::<GetApiVersionRequest>(
                Some(passed),
                answer(padding),
                None,
                None,
                out_of_time,
            )
            .await;
            assert!(matches!(r, Err(IcatError::Timeout { .. })), "{r:?}");
        }
    }

    /// The same answers before the deadline (or without one) are decoded.
    #[tokio::test]
    async fn an_answer_within_the_deadline_is_decoded() {
        let later = tokio::time::Instant::now() + Duration::from_secs(3600);
        for deadline in [Some(later), None] {
            for padding in [0, DECODE_ON_THREAD_ABOVE + 1] {
                let r = decode_before::<GetApiVersionRequest>(
                    deadline,
                    answer(padding),
                    None,
                    None,
                    out_of_time,
                )
                .await
                .expect("decoded");
                assert_eq!(r.return_.as_deref().map(str::trim), Some("6.2.0"));
            }
        }
    }
}
