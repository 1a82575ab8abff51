//! The HTTP(S) front door: accepts connections, speaks TLS when
//! configured, and holds every connection to the `[limits]`.
//!
//! `axum::serve` gives hyper no timer, so hyper's header timeout never
//! runs, and it has no connection cap and no idle timeout: a client that
//! sends half a header, or nothing at all, keeps a connection (and a file
//! descriptor) for as long as it likes, and enough of them starve the
//! consoles. Here every connection
//!
//! - waits for a permit first (`max_connections`; the rest stay in the
//!   kernel's accept queue),
//! - has `header_timeout_secs` to finish its TLS handshake and to send each
//!   request's headers (hyper's own timer),
//! - is closed once nothing has moved either way for `idle_timeout_secs`
//!   (WebSockets included: the consoles report every few seconds),
//! - and each request has `request_timeout_secs` to be answered, its body
//!   included (a slow body is a slow-loris too).
//!
//! On shutdown every connection is asked to finish what it is doing.

use crate::config::{Limits, TlsConfig};
use anyhow::Context as _;
use axum::body::Body;
use axum::http::Request;
use axum::Router;
use futures::task::AtomicWaker;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio_rustls::TlsAcceptor;
use tower::Service as _;

/// The limits one connection is held to.
#[derive(Debug, Clone, Copy)]
struct Timeouts {
    header: Duration,
    idle: Duration,
}

impl Timeouts {
    /// How long a connection may stay quiet: the idle timeout while a
    /// request is being answered, half the header timeout while it waits
    /// for one (see `drive`).
    fn quiet_limit(&self, in_flight: &AtomicUsize) -> Duration {
        if in_flight.load(Ordering::Relaxed) == 0 {
            self.header / 2
        } else {
            self.idle
        }
    }
}

/// Reads the `[tls]` files into an acceptor; `None` when TLS is off.
pub(crate) fn tls_acceptor(tls: &TlsConfig) -> anyhow::Result<Option<TlsAcceptor>> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let (Some(cert_file), Some(key_file)) = (&tls.cert_file, &tls.key_file) else {
        return Ok(None);
    };
    let certs = CertificateDer::pem_file_iter(cert_file)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("reading the certificate {}", cert_file.display()))?;
    if certs.is_empty() {
        anyhow::bail!("no certificate in {}", cert_file.display());
    }
    let key = PrivateKeyDer::from_pem_file(key_file)
        .with_context(|| format!("reading the private key {}", key_file.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("choosing TLS versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("the certificate and key do not make a pair")?;
    // HTTP/1.1 only: the consoles' WebSocket upgrades over it, and
    // browsers that negotiated h2 would need extended CONNECT for it.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some(TlsAcceptor::from(Arc::new(config))))
}

/// Serves `app` on `listener` until `stop` turns true, then lets open
/// connections finish.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<TlsAcceptor>,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) {
    let request_timeout = secs(limits.request_timeout_secs);
    let app = app.layer(
        tower::ServiceBuilder::new()
            .layer(axum::error_handling::HandleErrorLayer::new(
                move |_: tower::BoxError| async move { timed_out(request_timeout) },
            ))
            .layer(tower::timeout::TimeoutLayer::new(request_timeout)),
    );
    let timeouts = Timeouts {
        header: secs(limits.header_timeout_secs),
        idle: secs(limits.idle_timeout_secs),
    };
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            _ = stop.changed() => break,
        };
        let (tcp, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of descriptors, most likely: wait rather than spin.
                    tracing::warn!(%err, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = stop.changed() => break,
        };
        let _ = tcp.set_nodelay(true);
        let (app, tls, stop) = (app.clone(), tls.clone(), stop.clone());
        connections.spawn(async move {
            let clock = Arc::new(Activity::new());
            let io = Watched {
                inner: tcp,
                activity: clock.clone(),
            };
            match tls {
                Some(acceptor) => {
                    match tokio::time::timeout(timeouts.header, acceptor.accept(io)).await {
                        Ok(Ok(stream)) => drive(stream, app, timeouts, clock, stop).await,
                        Ok(Err(err)) => tracing::debug!(%err, "TLS handshake failed"),
                        Err(_) => tracing::debug!("TLS handshake timed out"),
                    }
                }
                None => drive(io, app, timeouts, clock, stop).await,
            }
            drop(permit);
        });
        // Reap finished connections so the set does not grow.
        while connections.try_join_next().is_some() {}
    }
    while connections.join_next().await.is_some() {}
}

/// A request that took too long, answered like every other error.
fn timed_out(limit: Duration) -> axum::response::Response {
    use axum::response::IntoResponse;
    let body = serde_json::json!({
        "error": "request_timeout",
        "message": format!("the request was not complete within {} s", limit.as_secs()),
    });
    (axum::http::StatusCode::REQUEST_TIMEOUT, axum::Json(body)).into_response()
}

fn secs(n: u32) -> Duration {
    Duration::from_secs(u64::from(n.max(1)))
}

/// Runs one connection until it ends, idles out, or the server stops.
async fn drive<I>(
    io: I,
    app: Router,
    timeouts: Timeouts,
    activity: Arc<Activity>,
    mut stop: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(timeouts.header)
        .max_buf_size(READ_BUFFER_BYTES);
    // Requests being answered on this connection: while one is, the request
    // timeout governs; while none is, the connection waits for a head.
    let in_flight = Arc::new(AtomicUsize::new(0));
    let counted = in_flight.clone();
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let mut app = app.clone();
        let guard = InFlight::enter(&counted);
        async move {
            let response = app.call(req.map(Body::new)).await;
            drop(guard);
            response
        }
    });
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
    tokio::pin!(conn);
    let mut stopping = false;
    loop {
        // hyper's header timer also runs while a kept-alive connection
        // waits for its next request, and when it fires there the
        // connection is neither answered nor closed (seen with hyper 1.12:
        // a reused connection hung). So a connection with no request in
        // flight is closed here first, after half the header timeout with
        // nothing moving; clients open a new one for their next request.
        let idle_at = activity.last() + timeouts.quiet_limit(&in_flight);
        tokio::select! {
            res = conn.as_mut() => {
                if let Err(err) = res {
                    tracing::debug!(%err, "connection ended with an error");
                }
                break;
            }
            _ = stop.changed(), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
            _ = tokio::time::sleep_until(idle_at.into()) => {
                if activity.last() + timeouts.quiet_limit(&in_flight) <= Instant::now() {
                    tracing::debug!("connection idle; closed");
                    return;
                }
            }
        }
    }
    // An upgraded connection (a WebSocket) lives on in its handler's task
    // with the same IO: it keeps its permit and its idle timeout until the
    // IO is dropped.
    while !activity.gone.load(Ordering::Relaxed) {
        let idle_at = activity.last() + timeouts.idle;
        let now = Instant::now();
        if idle_at <= now {
            tracing::debug!("upgraded connection idle; closed");
            activity.close();
            return;
        }
        tokio::time::sleep(idle_at.duration_since(now).min(GONE_POLL)).await;
    }
}

/// What one connection may buffer while reading: a request's headers must
/// fit (a console's are well under 4 KiB, a token included). hyper's own
/// default, about 400 KiB, let 40 half-sent headers hold 17 MiB.
const READ_BUFFER_BYTES: usize = 32 * 1024;

/// How often the watch over an upgraded connection looks whether its IO
/// was dropped.
const GONE_POLL: Duration = Duration::from_secs(1);

/// Counts a request in flight until dropped (a cancelled request too).
struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    fn enter(count: &Arc<AtomicUsize>) -> InFlight {
        count.fetch_add(1, Ordering::Relaxed);
        InFlight(count.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// When a connection last moved a byte either way; and the means to close
/// it from outside once hyper has handed its IO to an upgrade.
struct Activity {
    start: Instant,
    /// Milliseconds after `start`.
    last_ms: AtomicU64,
    /// Set by the watch: every later read or write fails.
    closed: AtomicBool,
    /// Set when the IO is dropped.
    gone: AtomicBool,
    /// Wakes a reader parked on the IO when it is closed.
    reader: AtomicWaker,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            gone: AtomicBool::new(false),
            reader: AtomicWaker::new(),
        }
    }

    fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
        self.reader.wake();
    }

    fn check_open(&self) -> std::io::Result<()> {
        if self.closed.load(Ordering::Relaxed) {
            Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "connection idle",
            ))
        } else {
            Ok(())
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.start + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }
}

/// An IO that records its activity.
struct Watched<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T> Drop for Watched<T> {
    fn drop(&mut self) {
        self.activity.gone.store(true, Ordering::Relaxed);
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        self.activity.reader.register(cx.waker());
        self.activity.check_open()?;
        let before = buf.filled().len();
        let res = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        res
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.activity.check_open()?;
        let res = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(res, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        res
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
