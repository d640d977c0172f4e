//! Running the IDS on its own (without the ICAT side), for tests of the IDS and its clients.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::catalog::IdsCatalog;
use super::settings::IdsSettings;
use super::state::IdsState;

/// An IDS serving on 127.0.0.1; stops when dropped or on [`IdsServer::shutdown`].
#[derive(Debug)]
pub struct IdsServer {
    url: String,
    state: IdsState,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl IdsServer {
    /// Serve `state` at `http://127.0.0.1:<free port>/ids`.
    pub async fn start(state: IdsState) -> std::io::Result<IdsServer> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let app = axum::Router::new().nest("/ids", super::router(state.clone()));
        let (stop, stopped) = oneshot::channel::<()>();
        let sweeper = state.clone().sweep_links();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            // The link sweeper never finishes; it is dropped when the server stops.
            tokio::select! {
                served = serve => {
                    if let Err(e) = served {
                        tracing::warn!(error = %e, "IDS test server failed");
                    }
                }
                () = sweeper => {}
            }
        });
        Ok(IdsServer {
            url: format!("http://{addr}/ids"),
            state,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The base URL, `http://127.0.0.1:PORT/ids` (no trailing slash).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The server's state: fault knobs, storage, two-level state.
    pub fn state(&self) -> &IdsState {
        &self.state
    }

    /// Stop accepting requests and wait until open connections have finished.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for IdsServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Start an IDS over `catalog` with files under `storage_dir` (see [`IdsServer::start`]).
pub async fn serve_for_tests(
    catalog: Arc<dyn IdsCatalog>,
    storage_dir: impl Into<PathBuf>,
    settings: IdsSettings,
) -> Result<IdsServer, Box<dyn std::error::Error + Send + Sync>> {
    let state = IdsState::new(catalog, storage_dir, settings)?;
    Ok(IdsServer::start(state).await?)
}
