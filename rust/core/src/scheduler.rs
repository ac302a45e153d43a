//! The per-function concurrency scheduler: reuse a warm environment (idle provisioned first,
//! then the most recently used), start a new one while under the function's and the
//! emulator's limits, else throttle with AWS's 429 (SPEC 4).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

use crate::aws::ServiceError;
use crate::config::ThrottlePolicy;
use crate::environment::{ExecutionEnvironment, FunctionContext, InitializationType};
use crate::invocation::{Invocation, Outcome};
use crate::CoreError;

/// The emulator-wide cap on execution environments, shared by every function.
#[derive(Debug)]
pub struct EnvironmentCap {
    max: u32,
    used: AtomicU32,
    next_id: AtomicU64,
}

impl EnvironmentCap {
    /// A cap of `max` environments.
    pub fn new(max: u32) -> Self {
        Self {
            max,
            used: AtomicU32::new(0),
            next_id: AtomicU64::new(1),
        }
    }

    fn try_take(&self) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            })
            .is_ok()
    }

    fn give_back(&self) {
        self.used.fetch_sub(1, Ordering::AcqRel);
    }
}

#[derive(Default)]
struct Pool {
    /// Idle environments; the most recently used is last.
    idle: Vec<Arc<ExecutionEnvironment>>,
    /// Every environment of the function, busy or idle.
    all: Vec<Arc<ExecutionEnvironment>>,
    /// Environments being created (counted against the limits).
    creating: u32,
    /// Whether the fixed Runtime API address is taken by a live environment.
    fixed_address_taken: bool,
    shutting_down: bool,
}

/// Why no environment was handed out.
enum Refused {
    Throttled { reserved: bool },
    ShuttingDown,
}

/// One function's pool of execution environments.
pub struct Scheduler {
    function: Arc<FunctionContext>,
    cap: Arc<EnvironmentCap>,
    policy: ThrottlePolicy,
    pool: Mutex<Pool>,
    freed: Notify,
}

/// What `acquire` hands out: a warm environment, or the right to create one.
enum Lease {
    Warm(Arc<ExecutionEnvironment>),
    Cold { fixed_address: bool },
}

impl Scheduler {
    /// A scheduler for `function`, drawing on the emulator-wide `cap`.
    pub fn new(
        function: Arc<FunctionContext>,
        cap: Arc<EnvironmentCap>,
        policy: ThrottlePolicy,
    ) -> Self {
        Self {
            function,
            cap,
            policy,
            pool: Mutex::new(Pool::default()),
            freed: Notify::new(),
        }
    }

    /// The function this scheduler runs.
    pub fn function(&self) -> &Arc<FunctionContext> {
        &self.function
    }

    fn pool(&self) -> MutexGuard<'_, Pool> {
        self.pool.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Create an idle environment now (binds its Runtime API; starts no runtime). The CLI
    /// does this at start-up so that a taken Runtime API port fails at once.
    pub async fn add_idle_environment(&self) -> Result<(), CoreError> {
        let fixed = {
            let mut pool = self.pool();
            if !self.cap.try_take() {
                return Err(CoreError::Config("--max-environments is 0".to_owned()));
            }
            pool.creating += 1;
            let fixed =
                self.function.config.runtime_api_address.is_some() && !pool.fixed_address_taken;
            pool.fixed_address_taken |= fixed;
            fixed
        };
        let env = self.create(fixed, InitializationType::OnDemand).await?;
        let mut pool = self.pool();
        pool.creating -= 1;
        pool.all.push(Arc::clone(&env));
        pool.idle.push(env);
        Ok(())
    }

    fn acquire(&self) -> Result<Lease, Refused> {
        let mut pool = self.pool();
        if pool.shutting_down {
            return Err(Refused::ShuttingDown);
        }
        // Provisioned environments first, then the most recently used.
        let pick = pool
            .idle
            .iter()
            .rposition(|e| e.initialization_type() == InitializationType::ProvisionedConcurrency)
            .or_else(|| pool.idle.len().checked_sub(1));
        if let Some(i) = pick {
            return Ok(Lease::Warm(pool.idle.remove(i)));
        }
        let count = pool.all.len() as u32 + pool.creating;
        if let Some(reserved) = self.function.config.reserved_concurrency {
            if count >= reserved {
                return Err(Refused::Throttled { reserved: true });
            }
        }
        if !self.cap.try_take() {
            return Err(Refused::Throttled { reserved: false });
        }
        pool.creating += 1;
        let fixed = self.function.config.runtime_api_address.is_some() && !pool.fixed_address_taken;
        pool.fixed_address_taken |= fixed;
        Ok(Lease::Cold {
            fixed_address: fixed,
        })
    }

    async fn create(
        &self,
        fixed_address: bool,
        init: InitializationType,
    ) -> Result<Arc<ExecutionEnvironment>, CoreError> {
        let addr = match (fixed_address, self.function.config.runtime_api_address) {
            (true, Some(a)) => a,
            _ => SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        let id = self.cap.next_id.fetch_add(1, Ordering::Relaxed);
        match ExecutionEnvironment::create(id, Arc::clone(&self.function), addr, init).await {
            Ok(env) => Ok(Arc::new(env)),
            Err(e) => {
                let mut pool = self.pool();
                pool.creating -= 1;
                if fixed_address {
                    pool.fixed_address_taken = false;
                }
                self.cap.give_back();
                Err(e)
            }
        }
    }

    /// Run `invocation` in an environment of this function, or refuse it with AWS's error.
    pub async fn invoke(&self, invocation: Invocation) -> Result<Outcome, ServiceError> {
        let lease = loop {
            match self.acquire() {
                Ok(lease) => break lease,
                Err(Refused::ShuttingDown) => return Err(ServiceError::shutting_down()),
                Err(Refused::Throttled { reserved }) if self.policy == ThrottlePolicy::Reject => {
                    return Err(ServiceError::throttled(reserved));
                }
                Err(Refused::Throttled { .. }) => {
                    let freed = self.freed.notified();
                    tokio::pin!(freed);
                    // NOTE: registered before the second look, so a release in between is seen.
                    freed.as_mut().enable();
                    match self.acquire() {
                        Ok(lease) => break lease,
                        Err(_) => freed.await,
                    }
                }
            }
        };
        let env = match lease {
            Lease::Warm(env) => env,
            Lease::Cold { fixed_address } => {
                let env = self
                    .create(fixed_address, InitializationType::OnDemand)
                    .await
                    .map_err(|e| ServiceError::service(&e.to_string()))?;
                let mut pool = self.pool();
                pool.creating -= 1;
                pool.all.push(Arc::clone(&env));
                env
            }
        };
        let outcome = env.invoke(Arc::new(invocation)).await;
        self.release(env);
        Ok(outcome)
    }

    fn release(&self, env: Arc<ExecutionEnvironment>) {
        let mut pool = self.pool();
        if pool.shutting_down {
            return;
        }
        pool.idle.push(env);
        drop(pool);
        self.freed.notify_one();
    }

    /// Environments that exist now, busy or idle.
    pub fn environments(&self) -> Vec<Arc<ExecutionEnvironment>> {
        self.pool().all.clone()
    }

    /// Refuse new invocations and stop every environment's runtime (SIGTERM, then SIGKILL).
    pub async fn shutdown(&self) {
        let all = {
            let mut pool = self.pool();
            pool.shutting_down = true;
            pool.idle.clear();
            std::mem::take(&mut pool.all)
        };
        let mut stops = tokio::task::JoinSet::new();
        for env in &all {
            let env = Arc::clone(env);
            stops.spawn(async move { env.stop().await });
        }
        while stops.join_next().await.is_some() {}
        for _ in &all {
            self.cap.give_back();
        }
    }
}
