//! Zero-copy raw-file responses: connections that send stored file bytes with `sendfile(2)`.
//!
//! hyper only writes `Bytes`, so a raw `getData` body is made of placeholder chunks: slices of a
//! static buffer that no other body can contain. When the body produces a placeholder chunk it
//! registers the file region the chunk stands for with its connection's [`FileSender`]. The
//! connection's IO type ([`SendfileStream`]) recognises placeholder slices by their address and
//! sends the registered file bytes in their place with `sendfile`, so file contents go from the
//! page cache to the socket without being copied through user space. hyper writes the chunks of
//! a connection in the order the body produced them, which is the order of the regions.
//!
//! [`serve`] runs an axum router on such connections; handlers find their connection's sender with
//! [`FileSender::of`]. On systems without `sendfile`, [`serve`] is plain `axum::serve` and
//! [`FileSender::of`] is always `None` (callers then stream the file with reads).

use std::future::Future;
use std::io;

use axum::Router;
use tokio::net::TcpListener;

#[cfg(target_os = "linux")]
pub use linux::{FileSender, SendfileListener, SendfileStream};

/// Serve `router` on `listener` until `shutdown` completes, with zero-copy file responses where
/// the platform has them.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    serve_shaped(listener, router, None, shutdown).await
}

/// As [`serve`], and when `network` is given every new connection first waits its set-up time
/// (TCP and TLS handshakes; on Linux only).
pub async fn serve_shaped(
    listener: TcpListener,
    router: Router,
    network: Option<crate::network::Network>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        axum::serve(
            SendfileListener::new(listener).with_network(network),
            router.into_make_service_with_connect_info::<FileSender>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = network;
        axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use std::collections::VecDeque;
    use std::fs::File;
    use std::io::{self, IoSlice};
    use std::net::SocketAddr;
    use std::pin::Pin;
    use std::sync::{Arc, Mutex, MutexGuard};
    use std::task::{Context, Poll, ready};
    use std::time::Duration;

    use axum::body::Body;
    use axum::extract::ConnectInfo;
    use axum::extract::connect_info::Connected;
    use axum::http::Extensions;
    use axum::serve::{IncomingStream, Listener};
    use bytes::Bytes;
    use futures_util::stream;
    use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
    use tokio::net::{TcpListener, TcpStream};

    /// Size of the placeholder buffer, and so of the largest placeholder chunk.
    const PLACEHOLDER_LEN: usize = 1 << 20;

    /// The bytes placeholder chunks are cut from; never sent (its address marks placeholders).
    static PLACEHOLDER: [u8; PLACEHOLDER_LEN] = [0; PLACEHOLDER_LEN];

    fn is_placeholder(slice: &[u8]) -> bool {
        let start = PLACEHOLDER.as_ptr() as usize;
        let p = slice.as_ptr() as usize;
        !slice.is_empty() && p >= start && p + slice.len() <= start + PLACEHOLDER_LEN
    }

    /// Bytes of a file still to be sent in place of placeholder bytes.
    #[derive(Debug)]
    struct Region {
        file: Arc<File>,
        offset: u64,
        remaining: u64,
    }

    type Regions = Arc<Mutex<VecDeque<Region>>>;

    fn lock(regions: &Regions) -> MutexGuard<'_, VecDeque<Region>> {
        // The queue is consistent after every operation, so a poisoned lock is taken over.
        regions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The handle through which a request's response sends file regions on its connection.
    #[derive(Debug, Clone)]
    pub struct FileSender {
        regions: Regions,
    }

    impl FileSender {
        /// The sender of the connection a request came in on (from its extensions), if the
        /// server runs on [`SendfileListener`] connections.
        pub fn of(extensions: &Extensions) -> Option<FileSender> {
            extensions
                .get::<ConnectInfo<FileSender>>()
                .map(|info| info.0.clone())
        }

        /// A response body of `len` bytes of `file` from `offset`, sent with `sendfile`.
        ///
        /// The file must hold at least `offset + len` bytes; if it turns out shorter, the
        /// connection fails rather than sending wrong bytes.
        pub fn body(&self, file: File, offset: u64, len: u64) -> Body {
            let file = Arc::new(file);
            let regions = self.regions.clone();
            let chunks = stream::unfold((offset, len), move |(offset, remaining)| {
                let regions = regions.clone();
                let file = file.clone();
                async move {
                    if remaining == 0 {
                        return None;
                    }
                    let n = remaining.min(PLACEHOLDER_LEN as u64);
                    lock(&regions).push_back(Region {
                        file,
                        offset,
                        remaining: n,
                    });
                    let chunk = Bytes::from_static(&PLACEHOLDER[..n as usize]);
                    Some((Ok::<_, io::Error>(chunk), (offset + n, remaining - n)))
                }
            });
            Body::from_stream(chunks)
        }
    }

    /// A TCP connection that sends registered file regions in place of placeholder bytes.
    #[derive(Debug)]
    pub struct SendfileStream {
        tcp: TcpStream,
        regions: Regions,
        /// The facility profile's connection set-up time still to wait before the first read.
        setup: Option<Pin<Box<tokio::time::Sleep>>>,
    }

    impl SendfileStream {
        /// Wrap an accepted connection.
        pub fn new(tcp: TcpStream) -> SendfileStream {
            SendfileStream {
                tcp,
                regions: Arc::default(),
                setup: None,
            }
        }

        /// The sender handle of this connection.
        pub fn sender(&self) -> FileSender {
            FileSender {
                regions: self.regions.clone(),
            }
        }

        /// Send up to `max` bytes of the front region in place of `max` placeholder bytes.
        fn poll_send_region(&self, cx: &mut Context<'_>, max: usize) -> Poll<io::Result<usize>> {
            loop {
                ready!(self.tcp.poll_write_ready(cx))?;
                let mut regions = lock(&self.regions);
                let Some(region) = regions.front_mut() else {
                    return Poll::Ready(Err(io::Error::other(
                        "placeholder bytes without a registered file region",
                    )));
                };
                let count = usize::try_from(region.remaining).map_or(max, |r| r.min(max));
                let sent = self.tcp.try_io(Interest::WRITABLE, || {
                    rustix::fs::sendfile(&self.tcp, &*region.file, Some(&mut region.offset), count)
                        .map_err(io::Error::from)
                });
                match sent {
                    Ok(0) => {
                        return Poll::Ready(Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "the stored file is shorter than the response announced",
                        )));
                    }
                    Ok(n) => {
                        region.remaining -= n as u64;
                        if region.remaining == 0 {
                            regions.pop_front();
                        }
                        return Poll::Ready(Ok(n));
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                    Err(e) => return Poll::Ready(Err(e)),
                }
            }
        }
    }

    impl AsyncRead for SendfileStream {
        fn poll_read(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            let this = self.get_mut();
            if let Some(setup) = &mut this.setup {
                ready!(setup.as_mut().poll(cx));
                this.setup = None;
            }
            Pin::new(&mut this.tcp).poll_read(cx, buf)
        }
    }

    impl AsyncWrite for SendfileStream {
        fn poll_write(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            let this = self.get_mut();
            if is_placeholder(buf) {
                this.poll_send_region(cx, buf.len())
            } else {
                Pin::new(&mut this.tcp).poll_write(cx, buf)
            }
        }

        fn poll_write_vectored(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            let this = self.get_mut();
            match bufs.iter().position(|b| is_placeholder(b)) {
                Some(0) => this.poll_send_region(cx, bufs[0].len()),
                Some(first) => Pin::new(&mut this.tcp).poll_write_vectored(cx, &bufs[..first]),
                None => Pin::new(&mut this.tcp).poll_write_vectored(cx, bufs),
            }
        }

        fn is_write_vectored(&self) -> bool {
            // hyper then queues body chunks instead of copying them into its own buffer, which
            // keeps placeholder slices recognisable.
            true
        }

        fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
        }

        fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
        }
    }

    /// A TCP listener whose connections are [`SendfileStream`]s.
    #[derive(Debug)]
    pub struct SendfileListener {
        tcp: TcpListener,
        network: Option<crate::network::Network>,
    }

    impl SendfileListener {
        /// Wrap a bound listener.
        pub fn new(tcp: TcpListener) -> SendfileListener {
            SendfileListener { tcp, network: None }
        }

        /// Charge every new connection the set-up time of this facility profile.
        pub fn with_network(mut self, network: Option<crate::network::Network>) -> Self {
            self.network = network;
            self
        }
    }

    impl Listener for SendfileListener {
        type Io = SendfileStream;
        type Addr = SocketAddr;

        async fn accept(&mut self) -> (SendfileStream, SocketAddr) {
            loop {
                match self.tcp.accept().await {
                    Ok((tcp, addr)) => {
                        let mut stream = SendfileStream::new(tcp);
                        if let Some(setup) =
                            self.network.as_ref().and_then(|n| n.connection_setup())
                        {
                            stream.setup = Some(Box::pin(tokio::time::sleep(setup)));
                        }
                        return (stream, addr);
                    }
                    Err(e) => {
                        // Out of descriptors and the like: wait a little rather than spin.
                        tracing::warn!(error = %e, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        }

        fn local_addr(&self) -> io::Result<SocketAddr> {
            self.tcp.local_addr()
        }
    }

    impl Connected<IncomingStream<'_, SendfileListener>> for FileSender {
        fn connect_info(stream: IncomingStream<'_, SendfileListener>) -> Self {
            stream.io().sender()
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn only_slices_of_the_placeholder_buffer_are_placeholders() {
            assert!(is_placeholder(&PLACEHOLDER[..10]));
            assert!(is_placeholder(&PLACEHOLDER[PLACEHOLDER_LEN - 1..]));
            assert!(!is_placeholder(&PLACEHOLDER[..0]));
            let zeros = vec![0u8; 10];
            assert!(!is_placeholder(&zeros));
        }
    }
}
