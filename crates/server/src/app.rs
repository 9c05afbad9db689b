//! The assembled application: how the route groups, auth, limits, panic catching, metrics and
//! tracing are layered into one `Router`, and the TCP server with graceful shutdown.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;
use vitrine_engine::Engine;

use crate::error::{method_not_allowed, not_found, panic_response};
use crate::{AppState, Error, Result, auth, metrics, routes};

/// The default request body limit: 2 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 2 * 1024 * 1024;

/// How to run the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Address to listen on.
    pub addr: SocketAddr,
    /// The largest request body accepted, in bytes.
    pub body_limit: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            body_limit: DEFAULT_BODY_LIMIT,
        }
    }
}

/// The whole API over `state`.
pub fn router(state: AppState) -> Router {
    let (public, _) = routes::public().split_for_parts();
    let (protected, _) = routes::protected().split_for_parts();
    // The 405 fallback goes in before `authenticate` so that it too needs a key (an anonymous
    // caller cannot probe which methods exist), but after the role gates, which guard handlers only.
    let protected = protected
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ));
    public
        .merge(protected)
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(state.body_limit()))
        // Inside the metrics layer, so a panic is still counted, as the 500 it becomes.
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::record,
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Workers of a job taken up again at start.
const RESUMED_JOB_WORKERS: usize = 8;

/// Serves the API on `config.addr` until Ctrl-C or SIGTERM, then finishes in-flight requests.
pub async fn serve(engine: Engine, config: ServerConfig) -> Result<()> {
    let listener = TcpListener::bind(config.addr)
        .await
        .map_err(|source| Error::Bind {
            addr: config.addr,
            source,
        })?;
    let addr = listener.local_addr()?;
    tracing::info!("listening on http://{addr}");
    let state = AppState::new(engine, config.body_limit);
    state.resume_jobs(RESUMED_JOB_WORKERS);
    let app = router(state);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    tracing::info!("server stopped");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM. A signal that cannot be installed only loses that way to stop.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut sigterm) => {
                sigterm.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutting down: finishing requests in flight");
}
