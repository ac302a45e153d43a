//! A lease: the place one invocation holds in its function's pool, from the moment the
//! scheduler grants it until the invocation (and its extensions' post-invoke phase) is over.
//! Dropping the lease gives the place back, on every path: an answer, a failed environment
//! creation, a caller that went away, a task cut short at shutdown.

use std::sync::Arc;

use tokio::sync::watch;

use super::launcher::Launcher;
use super::Scheduler;
use crate::aws::ServiceError;
use crate::environment::InitializationType;

/// What a lease holds.
pub(super) enum Held<E> {
    /// A seat in this environment.
    Seat(Arc<E>),
    /// Room, reserved against the limits, for a new environment this invocation creates.
    Room {
        /// Whether the new environment takes the fixed Runtime API address.
        fixed_address: bool,
        /// The pending record others join (multi-concurrency).
        token: u64,
    },
    /// A seat in an environment that another invocation is creating.
    Joining {
        /// The pending record joined.
        token: u64,
        /// Where the environment appears once created (`None` until then, or for good if its
        /// creation failed).
        ready: watch::Receiver<Option<Arc<E>>>,
    },
    /// Nothing any more.
    Released,
}

/// One invocation's place in a pool; see the module documentation.
pub(crate) struct Lease<L: Launcher> {
    scheduler: Arc<Scheduler<L>>,
    held: Held<L::Env>,
}

impl<L: Launcher> Lease<L> {
    pub(super) fn new(scheduler: Arc<Scheduler<L>>, held: Held<L::Env>) -> Self {
        Self { scheduler, held }
    }

    /// The environment to run in: the seat held, or the environment created (or joined) now.
    pub(super) async fn seat(&mut self) -> Result<Arc<L::Env>, ServiceError> {
        let env = match &mut self.held {
            Held::Seat(env) => return Ok(Arc::clone(env)),
            Held::Released => return Err(ServiceError::service("the lease was given back")),
            Held::Room {
                fixed_address,
                token,
            } => {
                let (fixed_address, token) = (*fixed_address, *token);
                // NOTE: while this awaits, the lease still holds the room: if the task is cut
                // short, dropping the lease gives it back.
                let created = self
                    .scheduler
                    .create(fixed_address, InitializationType::OnDemand, 1, token)
                    .await;
                match created {
                    Ok(env) => env,
                    Err(e) => {
                        // `create` gave the room back already.
                        self.held = Held::Released;
                        return Err(ServiceError::service(&e.to_string()));
                    }
                }
            }
            Held::Joining { ready, .. } => {
                let env = ready
                    .wait_for(Option::is_some)
                    .await
                    .ok()
                    .and_then(|e| e.clone());
                let Some(env) = env else {
                    self.held = Held::Released;
                    return Err(ServiceError::service(
                        "the execution environment could not be created",
                    ));
                };
                env
            }
        };
        self.held = Held::Seat(Arc::clone(&env));
        Ok(env)
    }
}

impl<L: Launcher> Drop for Lease<L> {
    fn drop(&mut self) {
        match std::mem::replace(&mut self.held, Held::Released) {
            Held::Seat(env) => self.scheduler.release(&env),
            Held::Room {
                fixed_address,
                token,
            } => {
                // Joiners see the pending record go and fail.
                drop(self.scheduler.pool().take_pending(token));
                self.scheduler.unreserve(fixed_address);
            }
            Held::Joining { token, ready } => {
                let mut pool = self.scheduler.pool();
                if let Some(p) = pool.pending.iter_mut().find(|p| p.token == token) {
                    p.joined -= 1;
                    p.seats += 1;
                    return;
                }
                drop(pool);
                // The environment was created with this seat counted in it: give it back.
                let created = ready.borrow().clone();
                if let Some(env) = created {
                    self.scheduler.release(&env);
                }
            }
            Held::Released => {}
        }
    }
}
