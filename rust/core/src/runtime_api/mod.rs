//! The Lambda Runtime API of one execution environment (docs/reference.md §3), on its own loopback
//! listener.

mod admission;
mod extension_routes;
pub mod extensions;
mod routes;
pub mod state;
mod streaming;
pub mod telemetry;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use admission::{client_socket_inode, Membership};
pub use state::{FunctionMeta, InitSignal, RuntimeApiState};

use crate::CoreError;

/// A running Runtime API listener; dropping it closes the listener and its connections.
pub struct RuntimeApi {
    addr: SocketAddr,
    state: Arc<RuntimeApiState>,
    gate: admission::Gate,
    task: JoinHandle<()>,
    _shutdown: watch::Sender<bool>,
}

impl RuntimeApi {
    /// Serve on `listener`, or bind `addr` (port 0 for an ephemeral port) first.
    pub async fn bind(
        addr: SocketAddr,
        listener: Option<std::net::TcpListener>,
    ) -> Result<Self, CoreError> {
        let bind_error = |source| CoreError::Bind {
            addr: addr.to_string(),
            source,
        };
        let listener = match listener {
            Some(l) => {
                l.set_nonblocking(true)?;
                TcpListener::from_std(l)?
            }
            None => TcpListener::bind(addr).await.map_err(bind_error)?,
        };
        let addr = listener.local_addr()?;
        let state = Arc::new(RuntimeApiState::new());
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let service_state = Arc::clone(&state);
        let service = Arc::new(move |req| routes::route(Arc::clone(&service_state), req));
        let gate = admission::Gate::default();
        let task = tokio::spawn(crate::http::serve_admitted(
            listener,
            service,
            shutdown_rx,
            Some(state.generation()),
            crate::http::ConnectionOptions::runtime_api(),
            Some(Arc::new(admission::Admitted(Arc::clone(&gate)))),
        ));
        Ok(Self {
            addr,
            state,
            gate,
            task,
            _shutdown: shutdown_tx,
        })
    }

    /// The bound address (what `AWS_LAMBDA_RUNTIME_API` says).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// From now on, accept only connections from processes `members` admits (once; later
    /// calls change nothing).
    pub fn admit_only(&self, members: Arc<dyn Membership>) {
        let _ = self.gate.set(members);
    }

    /// The state the environment delivers through.
    pub fn state(&self) -> &Arc<RuntimeApiState> {
        &self.state
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}
