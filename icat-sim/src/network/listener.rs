//! The listener of a shaped simulator: every new connection waits the profile's connection set-up
//! time (TCP and TLS handshakes) before its first request is read.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::serve::Listener;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use super::shaper::Network;

/// A TCP listener whose connections first wait the set-up time of a facility profile (none
/// without a profile).
#[derive(Debug)]
pub struct ShapedListener {
    tcp: TcpListener,
    network: Option<Network>,
}

impl ShapedListener {
    /// Wrap a bound listener; `network` charges each new connection its set-up time.
    pub fn new(tcp: TcpListener, network: Option<Network>) -> ShapedListener {
        ShapedListener { tcp, network }
    }
}

impl Listener for ShapedListener {
    type Io = ShapedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (ShapedStream, SocketAddr) {
        loop {
            match self.tcp.accept().await {
                Ok((tcp, addr)) => {
                    let setup = self
                        .network
                        .as_ref()
                        .and_then(Network::connection_setup)
                        .map(|d| Box::pin(tokio::time::sleep(d)));
                    return (ShapedStream { tcp, setup }, addr);
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

/// An accepted connection that reads nothing before its set-up time has passed.
#[derive(Debug)]
pub struct ShapedStream {
    tcp: TcpStream,
    /// The set-up time still to wait before the first read.
    setup: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl AsyncRead for ShapedStream {
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

impl AsyncWrite for ShapedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }
}
