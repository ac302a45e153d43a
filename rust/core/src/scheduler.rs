//! The per-function concurrency scheduler (SPEC 4): reuse a warm environment (an idle
//! provisioned one first, then the most recently used), start a new one while under the
//! function's and the emulator's limits, else throttle with AWS's 429 or wait; reap idle
//! environments; keep provisioned ones initialised.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::{watch, Notify};

use crate::aws::ServiceError;
use crate::config::ThrottlePolicy;
use crate::environment::{ExecutionEnvironment, FunctionContext, InitializationType};
use crate::invocation::{Invocation, Outcome};
use crate::logs;
use crate::metrics::{EnvironmentCounts, FunctionMetrics};
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

/// One environment as the pool sees it.
struct Slot {
    env: Arc<ExecutionEnvironment>,
    /// Invocations in flight in it.
    busy: u32,
    /// Being initialised ahead of invokes.
    starting: bool,
    /// When it last finished an invocation (or was created).
    last_used: Instant,
    /// Whether it holds the fixed Runtime API address.
    fixed_address: bool,
    /// The code generation it runs (`--watch`); an older one is replaced.
    generation: u64,
}

#[derive(Default)]
struct Pool {
    slots: Vec<Slot>,
    /// Environments being created (counted against the limits).
    creating: u32,
    /// Whether the fixed Runtime API address is taken.
    fixed_address_taken: bool,
    shutting_down: bool,
    /// Environments being created that have seats left.
    pending: Vec<Pending>,
    next_token: u64,
}

impl Pool {
    fn count(&self) -> u32 {
        self.slots.len() as u32 + self.creating
    }

    fn in_flight(&self) -> u64 {
        self.slots.iter().map(|s| u64::from(s.busy)).sum()
    }
}

/// Why no environment was handed out.
enum Refused {
    Throttled { reserved: bool },
    ShuttingDown,
}

/// What `acquire` hands out: a place in an environment, or the right to create one.
enum Lease {
    Warm(Arc<ExecutionEnvironment>),
    Cold {
        fixed_address: bool,
        token: u64,
    },
    /// A seat in a multi-concurrency environment that another invocation is creating.
    Joining(watch::Receiver<Option<Arc<ExecutionEnvironment>>>),
}

/// An environment being created whose spare seats (multi-concurrency) others may take.
struct Pending {
    token: u64,
    seats: u32,
    joined: u32,
    ready: watch::Sender<Option<Arc<ExecutionEnvironment>>>,
}

/// One function's pool of execution environments.
pub struct Scheduler {
    function: Arc<FunctionContext>,
    cap: Arc<EnvironmentCap>,
    policy: ThrottlePolicy,
    pool: Mutex<Pool>,
    freed: Notify,
    metrics: FunctionMetrics,
    /// The fixed Runtime API address, bound at start-up until its environment exists.
    fixed_listener: Mutex<Option<std::net::TcpListener>>,
    /// Bumped when the code changes (`--watch`).
    code_generation: AtomicU64,
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
            metrics: FunctionMetrics::default(),
            fixed_listener: Mutex::new(None),
            code_generation: AtomicU64::new(0),
        }
    }

    /// The function this scheduler runs.
    pub fn function(&self) -> &Arc<FunctionContext> {
        &self.function
    }

    /// The function's counters.
    pub fn metrics(&self) -> &FunctionMetrics {
        &self.metrics
    }

    fn pool(&self) -> MutexGuard<'_, Pool> {
        self.pool.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reserve room for a new environment, or say which limit binds.
    fn reserve(&self, pool: &mut Pool) -> Result<bool, Refused> {
        if let Some(reserved) = self.function.config.reserved_concurrency {
            if pool.count() >= reserved {
                return Err(Refused::Throttled { reserved: true });
            }
        }
        if !self.cap.try_take() {
            return Err(Refused::Throttled { reserved: false });
        }
        pool.creating += 1;
        let fixed = self.function.config.runtime_api_address.is_some() && !pool.fixed_address_taken;
        pool.fixed_address_taken |= fixed;
        Ok(fixed)
    }

    fn unreserve(&self, fixed_address: bool) {
        let mut pool = self.pool();
        pool.creating -= 1;
        if fixed_address {
            pool.fixed_address_taken = false;
        }
        drop(pool);
        self.cap.give_back();
        self.freed.notify_one();
    }

    async fn create(
        &self,
        fixed_address: bool,
        init: InitializationType,
        busy: u32,
        token: u64,
    ) -> Result<Arc<ExecutionEnvironment>, CoreError> {
        let addr = match (fixed_address, self.function.config.runtime_api_address) {
            (true, Some(a)) => a,
            _ => SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        let id = self.cap.next_id.fetch_add(1, Ordering::Relaxed);
        let listener = if fixed_address {
            self.fixed_listener
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take()
        } else {
            None
        };
        let created =
            ExecutionEnvironment::create(id, Arc::clone(&self.function), addr, listener, init)
                .await;
        match created {
            Ok(env) => {
                let env = Arc::new(env);
                let mut pool = self.pool();
                pool.creating -= 1;
                let pending = take_pending(&mut pool, token);
                let joined = pending.as_ref().map_or(0, |p| p.joined);
                pool.slots.push(Slot {
                    env: Arc::clone(&env),
                    busy: busy + joined,
                    starting: init == InitializationType::ProvisionedConcurrency,
                    last_used: Instant::now(),
                    fixed_address,
                    generation: self.code_generation.load(Ordering::Acquire),
                });
                drop(pool);
                if let Some(p) = pending {
                    p.ready.send_replace(Some(Arc::clone(&env)));
                }
                Ok(env)
            }
            Err(e) => {
                // Joiners see the sender dropped and fail too.
                drop(take_pending(&mut self.pool(), token));
                self.unreserve(fixed_address);
                Err(e)
            }
        }
    }

    /// Bind the fixed Runtime API address now and keep it for the first environment, so that a
    /// taken port fails at start-up rather than at the first invoke.
    pub fn reserve_fixed_address(&self) -> Result<(), CoreError> {
        let Some(addr) = self.function.config.runtime_api_address else {
            return Ok(());
        };
        let listener = std::net::TcpListener::bind(addr).map_err(|source| CoreError::Bind {
            addr: addr.to_string(),
            source,
        })?;
        *self
            .fixed_listener
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(listener);
        Ok(())
    }

    /// Create and initialise the provisioned environments (SPEC 4); they are never reaped.
    pub async fn provision(&self) -> Result<(), CoreError> {
        let n = self.function.config.provisioned_concurrency;
        let mut envs = Vec::new();
        for _ in 0..n {
            let fixed = {
                let mut pool = self.pool();
                self.reserve(&mut pool).map_err(|_| {
                    CoreError::Config(format!(
                        "provisioned concurrency {n} of {} exceeds the environment limits",
                        self.function.config.name
                    ))
                })?
            };
            envs.push(
                self.create(fixed, InitializationType::ProvisionedConcurrency, 0, 0)
                    .await?,
            );
        }
        let mut inits = tokio::task::JoinSet::new();
        for env in envs {
            inits.spawn(async move { (env.id(), env.prewarm().await) });
        }
        while let Some(Ok((id, result))) = inits.join_next().await {
            match result {
                Ok(init_ms) => self.metrics.init(init_ms),
                Err(error_type) => logs::message(
                    crate::config::LogLevel::Warn,
                    &format!("provisioned environment {id} failed init: {error_type}"),
                ),
            }
            let mut pool = self.pool();
            if let Some(slot) = pool.slots.iter_mut().find(|s| s.env.id() == id) {
                slot.starting = false;
            }
        }
        Ok(())
    }

    fn acquire(&self) -> Result<Lease, Refused> {
        let mut pool = self.pool();
        if pool.shutting_down {
            return Err(Refused::ShuttingDown);
        }
        let room = self.function.config.max_concurrency;
        let generation = self.code_generation.load(Ordering::Acquire);
        // An idle provisioned environment first, then the most recently used one with room.
        let pick = pool
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.starting && s.busy < room && s.generation == generation)
            .max_by_key(|(_, s)| {
                let provisioned = s.env.initialization_type()
                    == InitializationType::ProvisionedConcurrency
                    && s.busy == 0;
                (provisioned, s.last_used)
            })
            .map(|(i, _)| i);
        let lease = if let Some(i) = pick {
            pool.slots[i].busy += 1;
            Lease::Warm(Arc::clone(&pool.slots[i].env))
        } else if let Some(p) = pool.pending.iter_mut().find(|p| p.seats > 0) {
            p.seats -= 1;
            p.joined += 1;
            Lease::Joining(p.ready.subscribe())
        } else {
            let fixed_address = self.reserve(&mut pool)?;
            pool.next_token += 1;
            let token = pool.next_token;
            if room > 1 {
                pool.pending.push(Pending {
                    token,
                    seats: room - 1,
                    joined: 0,
                    ready: watch::channel(None).0,
                });
            }
            Lease::Cold {
                fixed_address,
                token,
            }
        };
        // Invocations whose environment is being created are not in a slot yet.
        let joined: u32 = pool.pending.iter().map(|p| p.joined).sum();
        self.metrics
            .concurrency(pool.in_flight() + u64::from(pool.creating + joined));
        Ok(lease)
    }

    /// Run `invocation` in an environment of this function, or refuse it with AWS's error.
    pub async fn invoke(self: &Arc<Self>, invocation: Invocation) -> Result<Outcome, ServiceError> {
        self.invoke_with(invocation, self.policy).await
    }

    /// Run `invocation`, waiting for a free environment (`Queue`) or not (`Reject`).
    pub async fn invoke_with(
        self: &Arc<Self>,
        invocation: Invocation,
        policy: ThrottlePolicy,
    ) -> Result<Outcome, ServiceError> {
        let lease = loop {
            match self.acquire() {
                Ok(lease) => break lease,
                Err(Refused::ShuttingDown) => return Err(ServiceError::shutting_down()),
                // NOTE: with reserved concurrency 0 nothing will ever free up: throttle at once.
                Err(Refused::Throttled { reserved })
                    if policy == ThrottlePolicy::Reject
                        || self.function.config.reserved_concurrency == Some(0) =>
                {
                    self.metrics.throttled();
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
            Lease::Cold {
                fixed_address,
                token,
            } => self
                .create(fixed_address, InitializationType::OnDemand, 1, token)
                .await
                .map_err(|e| ServiceError::service(&e.to_string()))?,
            Lease::Joining(mut ready) => {
                let env = ready
                    .wait_for(Option::is_some)
                    .await
                    .ok()
                    .and_then(|e| e.clone());
                env.ok_or_else(|| {
                    ServiceError::service("the execution environment could not be created")
                })?
            }
        };
        let invoked = env.invoke(Arc::new(invocation)).await;
        let outcome = invoked.outcome;
        self.metrics.invocation(
            outcome.kind,
            outcome.duration_ms,
            outcome.init_duration_ms,
            outcome.cold_start,
        );
        match invoked.settle {
            // NOTE: the answer goes out now; the environment takes no other invocation until
            // its extensions are done with this one (AWS's post-invoke phase).
            Some(deadline) => {
                let scheduler = Arc::clone(self);
                let kind = outcome.kind;
                tokio::spawn(async move {
                    env.settle(kind, deadline).await;
                    scheduler.release(&env);
                });
            }
            None => self.release(&env),
        }
        Ok(outcome)
    }

    fn release(&self, env: &Arc<ExecutionEnvironment>) {
        let mut pool = self.pool();
        if let Some(slot) = pool.slots.iter_mut().find(|s| Arc::ptr_eq(&s.env, env)) {
            slot.busy -= 1;
            slot.last_used = Instant::now();
        }
        let stale = self.take_stale(&mut pool);
        drop(pool);
        self.stop_slots(stale);
        self.freed.notify_one();
    }

    /// The code changed: idle environments go now, busy ones after their invocations.
    pub fn code_changed(&self) {
        self.code_generation.fetch_add(1, Ordering::AcqRel);
        let stale = self.take_stale(&mut self.pool());
        self.stop_slots(stale);
        self.freed.notify_waiters();
    }

    /// Remove idle slots running older code.
    fn take_stale(&self, pool: &mut Pool) -> Vec<Slot> {
        let generation = self.code_generation.load(Ordering::Acquire);
        let (stale, keep): (Vec<Slot>, Vec<Slot>) = std::mem::take(&mut pool.slots)
            .into_iter()
            .partition(|s| s.generation != generation && s.busy == 0 && !s.starting);
        pool.slots = keep;
        if stale.iter().any(|s| s.fixed_address) {
            pool.fixed_address_taken = false;
        }
        stale
    }

    fn stop_slots(&self, slots: Vec<Slot>) {
        for slot in slots {
            self.cap.give_back();
            tokio::spawn(async move { slot.env.stop().await });
        }
    }

    /// Environments that exist now, busy or idle.
    pub fn environments(&self) -> Vec<Arc<ExecutionEnvironment>> {
        self.pool()
            .slots
            .iter()
            .map(|s| Arc::clone(&s.env))
            .collect()
    }

    /// Environments by state and invocations in flight, for metrics.
    pub fn environment_counts(&self) -> EnvironmentCounts {
        let pool = self.pool();
        let mut c = EnvironmentCounts {
            starting: u64::from(pool.creating),
            ..EnvironmentCounts::default()
        };
        for s in &pool.slots {
            if s.starting {
                c.starting += 1;
            } else if s.busy > 0 {
                c.busy += 1;
            } else if s.env.is_frozen() {
                c.frozen += 1;
            } else {
                c.idle += 1;
            }
            c.concurrent += u64::from(s.busy);
        }
        c
    }

    /// Stop and forget on-demand environments idle for longer than the idle timeout.
    pub async fn reap_idle(&self) {
        let idle_timeout = self.function.config.idle_timeout;
        let reaped: Vec<Slot> = {
            let mut pool = self.pool();
            let now = Instant::now();
            let (old, keep): (Vec<Slot>, Vec<Slot>) =
                std::mem::take(&mut pool.slots).into_iter().partition(|s| {
                    s.busy == 0
                        && !s.starting
                        && s.env.initialization_type() == InitializationType::OnDemand
                        && now.duration_since(s.last_used) >= idle_timeout
                });
            pool.slots = keep;
            if old.iter().any(|s| s.fixed_address) {
                pool.fixed_address_taken = false;
            }
            old
        };
        for slot in reaped {
            logs::message(
                crate::config::LogLevel::Debug,
                &format!("reaping idle environment {}", slot.env.id()),
            );
            slot.env.stop().await;
            self.cap.give_back();
        }
    }

    /// How often the reaper should look.
    pub fn reap_interval(&self) -> Duration {
        (self.function.config.idle_timeout / 4)
            .clamp(Duration::from_millis(100), Duration::from_secs(30))
    }

    /// Refuse new invocations and stop every environment's runtime (SIGTERM, then SIGKILL).
    pub async fn shutdown(&self) {
        let all = {
            let mut pool = self.pool();
            pool.shutting_down = true;
            std::mem::take(&mut pool.slots)
        };
        let mut stops = tokio::task::JoinSet::new();
        for slot in &all {
            let env = Arc::clone(&slot.env);
            stops.spawn(async move { env.stop().await });
        }
        while stops.join_next().await.is_some() {}
        for _ in &all {
            self.cap.give_back();
        }
    }
}

/// Remove and return the pending record of `token`.
fn take_pending(pool: &mut Pool, token: u64) -> Option<Pending> {
    let i = pool.pending.iter().position(|p| p.token == token)?;
    Some(pool.pending.swap_remove(i))
}
