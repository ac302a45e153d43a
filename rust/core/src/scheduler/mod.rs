//! The per-function concurrency scheduler: reuse a warm environment (an idle provisioned one
//! first, then the most recently used), start a new one while under the function's reserved
//! concurrency and the emulator's environment cap, else throttle with AWS's 429 or wait; reap
//! idle environments; keep provisioned ones initialised.
//!
//! Every invocation holds a [`lease::Lease`] on its place in the pool and runs on a task of
//! its own, to its end, whether or not its caller is still waiting (as on AWS, an abandoned
//! invocation is still run, billed and logged; only its answer goes nowhere).

mod function_wide;
mod launcher;
mod lease;
mod pool;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use tokio::sync::watch;

use crate::aws::ServiceError;
use crate::config::ThrottlePolicy;
use crate::environment::{FunctionContext, InitializationType};
use crate::invocation::{Invocation, Outcome};
use crate::logs;
use crate::metrics::{EnvironmentCounts, FunctionMetrics};
use crate::CoreError;
pub use function_wide::FunctionWide;
pub use launcher::{Environment, ExecutionEnvironments, Launch, Launcher};
use lease::{Held, Lease};
pub use pool::EnvironmentCap;
use pool::{Pending, Pool, Reclaim, Slot};

/// Why no place was granted.
enum Refused {
    Throttled { reserved: bool },
    ShuttingDown,
}

/// One function's pool of execution environments.
pub struct Scheduler<L: Launcher = ExecutionEnvironments> {
    function: Arc<FunctionContext>,
    cap: Arc<EnvironmentCap>,
    policy: ThrottlePolicy,
    launcher: L,
    pool: Mutex<Pool<L::Env>>,
    wide: Arc<FunctionWide>,
    /// Whether it has joined the cap's schedulers (on its first invocation).
    joined_cap: AtomicBool,
    /// The fixed Runtime API address, bound at start-up until its environment exists.
    fixed_listener: Mutex<Option<std::net::TcpListener>>,
    /// Bumped when the code changes (`--watch`).
    code_generation: AtomicU64,
    /// Replaced by a newer scheduler of the function: environments go as they become idle.
    retired: AtomicBool,
    /// The error type of the first provisioned environment whose init failed.
    provision_failure: Mutex<Option<String>>,
    /// Environments out of the pool whose stop is not over (they still hold their process,
    /// sandbox and descriptors).
    stopping: Arc<AtomicU64>,
}

/// One environment counted as stopping until dropped (after its stop).
struct Stopping(Arc<AtomicU64>);

impl Drop for Stopping {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Scheduler {
    /// A scheduler of real execution environments for `function`, drawing on the
    /// emulator-wide `cap`, with counters and reserved concurrency of its own.
    pub fn new(
        function: Arc<FunctionContext>,
        cap: Arc<EnvironmentCap>,
        policy: ThrottlePolicy,
    ) -> Self {
        let wide = Arc::new(FunctionWide::new(function.config.reserved_concurrency));
        Self::with_launcher(function, cap, policy, ExecutionEnvironments, wide)
    }
}

impl<L: Launcher> Scheduler<L> {
    /// A scheduler whose environments come from `launcher`, sharing `wide` with the other
    /// schedulers (versions) of the same function.
    pub fn with_launcher(
        function: Arc<FunctionContext>,
        cap: Arc<EnvironmentCap>,
        policy: ThrottlePolicy,
        launcher: L,
        wide: Arc<FunctionWide>,
    ) -> Self {
        Self {
            function,
            cap,
            policy,
            launcher,
            pool: Mutex::new(Pool::default()),
            wide,
            joined_cap: AtomicBool::new(false),
            fixed_listener: Mutex::new(None),
            code_generation: AtomicU64::new(0),
            retired: AtomicBool::new(false),
            provision_failure: Mutex::new(None),
            stopping: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The function this scheduler runs.
    pub fn function(&self) -> &Arc<FunctionContext> {
        &self.function
    }

    /// The function's counters (shared by its versions).
    pub fn metrics(&self) -> &FunctionMetrics {
        self.wide.metrics()
    }

    /// What the schedulers of the function's versions share.
    pub fn function_wide(&self) -> &Arc<FunctionWide> {
        &self.wide
    }

    fn pool(&self) -> MutexGuard<'_, Pool<L::Env>> {
        self.pool.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reserve room for a new environment, or say which limit binds.
    fn reserve(&self, pool: &mut Pool<L::Env>) -> Result<bool, Refused> {
        if !self.wide.try_take() {
            return Err(Refused::Throttled { reserved: true });
        }
        if !self.cap.try_take() {
            self.wide.give_back();
            return Err(Refused::Throttled { reserved: false });
        }
        pool.creating += 1;
        let fixed = self.function.config.runtime_api_address.is_some() && !pool.fixed_address_taken;
        pool.fixed_address_taken |= fixed;
        Ok(fixed)
    }

    /// Give back room reserved for an environment that was not created.
    fn unreserve(&self, fixed_address: bool) {
        let mut pool = self.pool();
        pool.creating -= 1;
        if fixed_address {
            pool.fixed_address_taken = false;
        }
        drop(pool);
        self.give_back_room();
    }

    /// An environment of this function is gone (or was never made): its room is free.
    fn give_back_room(&self) {
        self.wide.give_back();
        self.cap.give_back();
        self.cap.freed.notify_waiters();
    }

    /// Create an environment in reserved room, with `seated` invocations (plus those that
    /// joined it meanwhile) in it; on failure the room is given back.
    async fn create(
        &self,
        fixed_address: bool,
        init: InitializationType,
        seated: u32,
        token: u64,
    ) -> Result<Arc<L::Env>, CoreError> {
        let runtime_api = match (fixed_address, self.function.config.runtime_api_address) {
            (true, Some(a)) => a,
            _ => SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        let listener = if fixed_address {
            self.fixed_listener
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take()
        } else {
            None
        };
        let launch = Launch {
            id: self.cap.next_id(),
            function: Arc::clone(&self.function),
            runtime_api,
            listener,
            initialization_type: init,
        };
        match self.launcher.launch(launch).await {
            Ok(env) => {
                let env = Arc::new(env);
                let mut pool = self.pool();
                pool.creating -= 1;
                let pending = pool.take_pending(token);
                let joined = pending.as_ref().map_or(0, |p| p.joined);
                pool.slots.push(Slot {
                    env: Arc::clone(&env),
                    busy: seated + joined,
                    starting: init == InitializationType::ProvisionedConcurrency,
                    last_used: Instant::now(),
                    fixed_address,
                    generation: self.code_generation.load(Ordering::Acquire),
                    provisioned: init == InitializationType::ProvisionedConcurrency,
                });
                // NOTE: published under the lock, so that a joiner that gives up sees either
                // its pending record or the environment it was counted in.
                if let Some(p) = pending {
                    p.ready.send_replace(Some(Arc::clone(&env)));
                }
                Ok(env)
            }
            Err(e) => {
                // Joiners see the sender dropped and fail too.
                drop(self.pool().take_pending(token));
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

    /// The error type of the first provisioned environment whose init failed, if any did.
    pub fn provision_failure(&self) -> Option<String> {
        self.provision_failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Create and initialise the provisioned environments; they are never reaped.
    pub async fn provision(&self) -> Result<(), CoreError> {
        let n = self.function.config.provisioned_concurrency;
        let mut envs = Vec::new();
        for _ in 0..n {
            // NOTE: idle on-demand environments (of any function) give way, as for a cold
            // start.
            let reserved = loop {
                let reserved = {
                    let mut pool = self.pool();
                    self.reserve(&mut pool)
                };
                match reserved {
                    Err(Refused::Throttled { reserved }) if self.make_room(reserved) => {}
                    reserved => break reserved,
                }
            };
            let made = match reserved {
                Ok(fixed) => {
                    self.create(fixed, InitializationType::ProvisionedConcurrency, 0, 0)
                        .await
                }
                Err(_) => Err(CoreError::Config(format!(
                    "provisioned concurrency {n} of {} exceeds the environment limits",
                    self.function.config.name
                ))),
            };
            match made {
                Ok(env) => envs.push(env),
                Err(e) => {
                    // NOTE: all or nothing: the environments made so far go, and their room
                    // with them (else they would hold it for good, never started nor used).
                    self.abandon(&envs);
                    return Err(e);
                }
            }
        }
        let mut inits = tokio::task::JoinSet::new();
        for env in envs {
            inits.spawn(async move { (env.id(), env.prewarm().await) });
        }
        while let Some(Ok((id, result))) = inits.join_next().await {
            match result {
                Ok(init_ms) => self.metrics().init(init_ms),
                Err(error_type) => {
                    logs::message(
                        crate::config::LogLevel::Warn,
                        &format!("provisioned environment {id} failed init: {error_type}"),
                    );
                    self.provision_failure
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .get_or_insert(error_type);
                }
            }
            let mut pool = self.pool();
            if let Some(slot) = pool.slots.iter_mut().find(|s| s.env.id() == id) {
                slot.starting = false;
            }
            // Retired or replaced while it started: it goes now.
            let stale = self.take_stale(&mut pool);
            drop(pool);
            self.stop_slots(stale);
        }
        Ok(())
    }

    /// Stop `envs`, made for a provisioning that failed, and free their room.
    fn abandon(&self, envs: &[Arc<L::Env>]) {
        let made = self
            .pool()
            .remove_where(|s| envs.iter().any(|e| Arc::ptr_eq(&s.env, e)));
        self.count_stopping(made.len());
        self.stop_slots(made);
    }

    /// A place for one invocation now: a seat in a warm environment (an idle provisioned
    /// one first, then the most recently used one with room), a seat in an environment being
    /// created, or room for a new one.
    fn grant(&self) -> Result<Held<L::Env>, Refused> {
        let mut pool = self.pool();
        if pool.shutting_down {
            return Err(Refused::ShuttingDown);
        }
        // NOTE: after the reserved concurrency was lowered, idle environments over it go
        // rather than take this invocation, so that the new limit binds at once.
        let excess = pool.take_idle(self.wide.excess());
        self.count_stopping(excess.len());
        self.stop_slots(excess);
        let room = self.function.config.max_concurrency;
        let generation = self.code_generation.load(Ordering::Acquire);
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
        let held = if let Some(i) = pick {
            pool.slots[i].busy += 1;
            Held::Seat(Arc::clone(&pool.slots[i].env))
        } else if let Some(p) = pool.pending.iter_mut().find(|p| p.seats > 0) {
            p.seats -= 1;
            p.joined += 1;
            Held::Joining {
                token: p.token,
                ready: p.ready.subscribe(),
            }
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
            Held::Room {
                fixed_address,
                token,
            }
        };
        self.metrics().concurrency(pool.in_flight());
        Ok(held)
    }

    /// A lease for one invocation, waiting for a free place (`Queue`) or not (`Reject`).
    async fn lease(self: &Arc<Self>, policy: ThrottlePolicy) -> Result<Lease<L>, ServiceError> {
        if !self.joined_cap.swap(true, Ordering::AcqRel) {
            let me: Arc<dyn Reclaim> = Arc::clone(self) as Arc<dyn Reclaim>;
            self.cap.join(Arc::downgrade(&me));
        }
        loop {
            let reserved = match self.grant() {
                Ok(held) => return Ok(Lease::new(Arc::clone(self), held)),
                Err(Refused::ShuttingDown) => return Err(ServiceError::shutting_down()),
                Err(Refused::Throttled { reserved }) => reserved,
            };
            if self.make_room(reserved) {
                continue;
            }
            // NOTE: with reserved concurrency 0 nothing will ever free up: throttle at once.
            if policy == ThrottlePolicy::Reject || self.wide.reserved_concurrency() == Some(0) {
                self.metrics().throttled();
                return Err(ServiceError::throttled(reserved));
            }
            let freed = self.cap.freed.notified();
            tokio::pin!(freed);
            // NOTE: registered before the second look, so a release in between is seen.
            freed.as_mut().enable();
            match self.grant() {
                Ok(held) => return Ok(Lease::new(Arc::clone(self), held)),
                Err(Refused::ShuttingDown) => return Err(ServiceError::shutting_down()),
                Err(Refused::Throttled { reserved }) if self.make_room(reserved) => {}
                Err(Refused::Throttled { .. }) => freed.await,
            }
        }
    }

    /// Stop an idle environment whose room the refused invocation can take: of this function
    /// when its reserved concurrency binds, of any function when the emulator's cap does.
    fn make_room(&self, reserved: bool) -> bool {
        self.cap.reclaim(reserved.then_some(&self.wide))
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
        let lease = self.lease(policy).await?;
        let scheduler = Arc::clone(self);
        // NOTE: from here the invocation runs on its own task, to its end, even if the caller
        // stops waiting (a client that hangs up): the lease goes back when it is over.
        tokio::spawn(async move { scheduler.run(lease, invocation).await })
            .await
            .unwrap_or_else(|e| Err(ServiceError::service(&format!("invocation failed: {e}"))))
    }

    /// Run one invocation under its lease; the lease goes back when the environment is done
    /// with it (after its extensions' post-invoke phase, when it has extensions).
    async fn run(
        &self,
        mut lease: Lease<L>,
        invocation: Invocation,
    ) -> Result<Outcome, ServiceError> {
        let env = lease.seat().await?;
        let invoked = env.invoke(Arc::new(invocation)).await;
        let mut outcome = invoked.outcome;
        self.metrics().invocation(
            outcome.kind,
            outcome.duration_ms,
            outcome.init_duration_ms,
            outcome.cold_start,
        );
        if let Some(post) = invoked.settle {
            // NOTE: the answer goes out now; the environment takes no other invocation until
            // its extensions are done with this one (AWS's post-invoke phase).
            tokio::spawn(async move {
                env.settle(post).await;
                drop(lease);
            });
        }
        match outcome.refusal.take() {
            Some(refusal) => Err(*refusal),
            None => Ok(outcome),
        }
    }

    /// An invocation is over: its seat is free again; stale environments go.
    fn release(&self, env: &Arc<L::Env>) {
        let mut pool = self.pool();
        if let Some(slot) = pool.slots.iter_mut().find(|s| Arc::ptr_eq(&s.env, env)) {
            slot.busy -= 1;
            slot.last_used = Instant::now();
        }
        let mut stale = self.take_stale(&mut pool);
        let excess = pool.take_idle(self.wide.excess());
        self.count_stopping(excess.len());
        stale.extend(excess);
        drop(pool);
        self.stop_slots(stale);
        self.cap.freed.notify_waiters();
    }

    /// A newer scheduler serves the function now (its code or configuration changed): idle
    /// environments go now, busy ones once their invocations are over.
    pub fn retire(&self) {
        self.retired.store(true, Ordering::Release);
        self.code_changed();
    }

    /// The code changed: idle environments go now, busy ones after their invocations.
    pub fn code_changed(&self) {
        self.code_generation.fetch_add(1, Ordering::AcqRel);
        let stale = self.take_stale(&mut self.pool());
        self.stop_slots(stale);
        self.cap.freed.notify_waiters();
    }

    /// Remove idle slots running older code.
    fn take_stale(&self, pool: &mut Pool<L::Env>) -> Vec<Slot<L::Env>> {
        let generation = self.code_generation.load(Ordering::Acquire);
        let retired = self.retired.load(Ordering::Acquire);
        let stale = pool.remove_where(|s| {
            (retired || s.generation != generation) && s.busy == 0 && !s.starting
        });
        self.count_stopping(stale.len());
        stale
    }

    /// Count `n` environments just taken out of the pool as stopping (done under the pool's
    /// lock, so that a scrape sees each of them in one state or the other).
    fn count_stopping(&self, n: usize) {
        // NOTE: called on every grant and release, where it is almost always 0.
        if n > 0 {
            self.stopping.fetch_add(n as u64, Ordering::AcqRel);
        }
    }

    /// The guard that counts one stopping environment off when its stop is over.
    fn stopped_later(&self) -> Stopping {
        Stopping(Arc::clone(&self.stopping))
    }

    /// Stop environments already taken out of the pool and counted as stopping.
    fn stop_slots(&self, slots: Vec<Slot<L::Env>>) {
        for slot in slots {
            self.give_back_room();
            let counted = self.stopped_later();
            tokio::spawn(async move {
                slot.env.stop().await;
                drop(counted);
            });
        }
    }

    /// Environments that exist now, busy or idle.
    pub fn environments(&self) -> Vec<Arc<L::Env>> {
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
            stopping: self.stopping.load(Ordering::Acquire),
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
        let reaped = {
            let now = Instant::now();
            let mut pool = self.pool();
            let reaped = pool.remove_where(|s| {
                s.busy == 0
                    && !s.starting
                    && !s.provisioned
                    && now.duration_since(s.last_used) >= idle_timeout
            });
            self.count_stopping(reaped.len());
            reaped
        };
        for slot in reaped {
            let counted = self.stopped_later();
            logs::message(
                crate::config::LogLevel::Debug,
                &format!("reaping idle environment {}", slot.env.id()),
            );
            slot.env.stop().await;
            drop(counted);
            self.give_back_room();
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
            let all = std::mem::take(&mut pool.slots);
            self.count_stopping(all.len());
            all
        };
        let mut stops = tokio::task::JoinSet::new();
        for slot in &all {
            let env = Arc::clone(&slot.env);
            let counted = self.stopped_later();
            stops.spawn(async move {
                env.stop().await;
                drop(counted);
            });
        }
        while stops.join_next().await.is_some() {}
        for _ in &all {
            self.give_back_room();
        }
    }
}

impl<L: Launcher> Reclaim for Scheduler<L> {
    fn oldest_idle(&self) -> Option<Instant> {
        self.pool().oldest_idle().map(|(_, at)| at)
    }

    fn reclaim_oldest_idle(&self) -> bool {
        let slot = {
            let mut pool = self.pool();
            let Some((i, _)) = pool.oldest_idle() else {
                return false;
            };
            let slot = pool.slots.swap_remove(i);
            if slot.fixed_address {
                pool.fixed_address_taken = false;
            }
            self.count_stopping(1);
            slot
        };
        logs::message(
            crate::config::LogLevel::Debug,
            &format!(
                "idle environment {} of {} gives way to an invocation that needs room",
                slot.env.id(),
                self.function.config.name
            ),
        );
        self.stop_slots(vec![slot]);
        true
    }

    fn function_wide(&self) -> &Arc<FunctionWide> {
        &self.wide
    }
}
