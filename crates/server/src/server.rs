//! Wires the parts together for `diemcau serve`.
//!
//! Start-up order matters: the config and the secret first (nothing runs
//! without them), then the store is opened and every session replayed, so
//! the first request already sees the state as it was before a restart.
//! Only then is the listener bound and its address printed: a script (or a
//! test) that reads `diemcau listening on …` can use the server at once.

mod front_door;
mod logging;
mod media;
mod timer;

use crate::service::{clock, monitoring, Core};

use crate::auth::{self, Claims, Keys, Role};
use crate::config::{self, Config};
use crate::http::{self, AppState};
use crate::store::Store;
use anyhow::Context as _;
use monitoring::Monitoring;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Lifetime of the console tokens printed at start.
const CONSOLE_TOKEN_TTL: Duration = Duration::from_secs(8 * 3600);

/// How long open connections get to finish after a stop signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// What `diemcau serve` was asked for on its command line; each `Some`
/// overrides the config file.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// Config file; `config/diemcau.toml` when it exists, else the embedded defaults.
    pub config: Option<PathBuf>,
    /// Data dir (SQLite file, generated secret).
    pub data: Option<PathBuf>,
    /// HTTP listen address.
    pub listen: Option<SocketAddr>,
    /// Media UDP port.
    pub media_port: Option<u16>,
    /// Public IP written into ICE candidates.
    pub public_ip: Option<IpAddr>,
    /// Print the consoles' links with fresh tokens, as on a first run.
    pub print_links: bool,
}

fn apply_overrides(config: &mut Config, opts: &ServeOptions) {
    if let Some(data) = &opts.data {
        config.data_dir = data.clone();
    }
    if let Some(listen) = opts.listen {
        config.listen = listen;
    }
    if let Some(port) = opts.media_port {
        config.media.udp_port = port;
    }
    if let Some(ip) = opts.public_ip {
        config.media.public_ip = Some(ip);
    }
}

/// Runs the server until SIGINT or SIGTERM.
pub async fn run(opts: ServeOptions) -> anyhow::Result<()> {
    let (mut config, registry) =
        config::load_effective(opts.config.as_deref()).context("loading the configuration")?;
    apply_overrides(&mut config, &opts);
    logging::init(config.log.format);
    for warning in config::warnings(&config) {
        tracing::warn!("{warning}");
    }

    let secret = auth::load_or_create_secret(config.secret_file.as_deref(), &config.data_dir)
        .context("loading the signing secret")?;
    let keys = Arc::new(Keys::new(secret.as_bytes()));
    let print_links = opts.print_links || secret.generated();
    // Before the core, so the gauges it sets from the replayed sessions land.
    let metrics =
        crate::telemetry::install_recorder().context("installing the metrics recorder")?;
    let store = Store::open_in(&config.data_dir)
        .with_context(|| format!("opening the store in {}", config.data_dir.display()))?;
    let sessions = store.load_sessions().context("replaying the event log")?;
    tracing::info!(sessions = sessions.len(), "event log replayed");
    let core = Core::new(store, sessions);

    let (stop_tx, stop_rx) = watch::channel(false);
    let timer = tokio::spawn(timer::run(core.clone(), stop_rx.clone()));
    let media = media::start(
        &config.media,
        config.data_dir.join("recordings"),
        core.clone(),
        stop_rx.clone(),
    )
    .await
    .context("starting the media plane")?;
    let monitoring = Monitoring::new(config.health.clone(), Some(metrics));
    let sampler = tokio::spawn(monitoring::run(
        monitoring.clone(),
        core.clone(),
        media.clone(),
        stop_rx.clone(),
    ));

    let state = AppState {
        core: core.clone(),
        keys: keys.clone(),
        registry: Arc::new(registry.clone()),
        rules: config.session.clone(),
        limits: config.limits.clone(),
        shutdown: stop_rx.clone(),
        media: media.clone(),
        ice_servers: Arc::new(auth::IceServers::new(
            config.media.ice_servers.clone(),
            config.media.turn.clone(),
        )),
        monitoring,
        command_rate: Arc::new(http::rate::CommandRate::new(
            config.limits.commands_per_sec,
            config.limits.command_burst,
        )),
        recordings: Arc::new(config.data_dir.join("recordings")),
        data_dir: Arc::new(config.data_dir.clone()),
    };
    let tls = front_door::tls_acceptor(&config.tls).context("setting up HTTPS")?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    announce(
        &config,
        print_links.then_some(&*keys),
        addr,
        media.candidates(),
    )?;

    let server = tokio::spawn(front_door::serve(
        listener,
        http::app(state),
        tls,
        config.limits.clone(),
        stop_rx.clone(),
    ));

    stop_signal().await;
    tracing::info!("stopping");
    let _ = stop_tx.send(true);
    match tokio::time::timeout(SHUTDOWN_GRACE, server).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "the HTTP server task failed"),
        Err(_) => tracing::warn!("connections still open after the grace period; stopping anyway"),
    }
    let _ = timer.await;
    let _ = sampler.await;
    tracing::info!("stopped");
    Ok(())
}

/// Prints the bound address and the consoles' URLs on stdout. Under a
/// service manager stdout is logged too, so the URLs carry tokens (an
/// unbound chair token and a technician's, good for 8 hours) only when
/// `keys` is given: on the first run, or with `serve --print-links`.
/// Otherwise a line says how to get them. `endpoint links:` stays last:
/// scripts wait for it.
fn announce(
    config: &Config,
    keys: Option<&Keys>,
    addr: SocketAddr,
    media: &[SocketAddr],
) -> anyhow::Result<()> {
    let scheme = if config.tls.enabled() {
        "https"
    } else {
        "http"
    };
    // The default public URL only names the default listen address: when
    // the listener was moved (or given port 0), point at where it really is.
    let base = if config.public_url.trim().is_empty()
        || config.public_url == Config::default().public_url
    {
        let mut local = addr;
        if local.ip().is_unspecified() {
            local.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        format!("{scheme}://{local}")
    } else {
        config.public_url.trim_end_matches('/').to_string()
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "diemcau listening on {scheme}://{addr}")?;
    let media: Vec<String> = media.iter().map(|a| a.to_string()).collect();
    writeln!(out, "media (UDP):     {}", media.join(", "))?;
    match keys {
        Some(keys) => {
            let now = clock::now_secs();
            let mint = |role| keys.mint(&Claims::new(role, None, None, CONSOLE_TOKEN_TTL, now));
            let chair = mint(Role::Chair)?;
            let monitor = mint(Role::Technician)?;
            writeln!(out, "chair console:   {base}/chair#token={chair}")?;
            writeln!(out, "monitor console: {base}/monitor#token={monitor}")?;
        }
        None => {
            writeln!(out, "consoles:        {base}/chair, {base}/monitor")?;
            writeln!(
                out,
                "console tokens:  diemcau token --role chair (or technician) with the same --data, or serve --print-links"
            )?;
        }
    }
    writeln!(out, "endpoint links:  diemcau invite --session ID")?;
    out.flush()?;
    Ok(())
}

async fn stop_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
