//! The scheduler's rules with fake environments: warm reuse order, provisioned first,
//! joiners, reserved and emulator-wide caps, queueing, reaping, and a place given back on
//! every path (an answer, a failed creation, a caller that went away, the post-invoke phase).

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::Semaphore;

use super::*;
use crate::aws::ThrottleReason;
use crate::config::{Defaults, FunctionConfig};
use crate::environment::{Invoked, PostInvoke};
use crate::invocation::OutcomeKind;

/// What the fake environments of one test share: gates the test opens, and a journal.
struct World {
    /// Invocations with payload `wait` finish once a permit is added here.
    invocations: Semaphore,
    /// Environment creation finishes once a permit is added here (when `gate_creation`).
    creations: Semaphore,
    gate_creation: AtomicBool,
    /// The post-invoke phase (when `extensions`) ends once a permit is added here.
    settles: Semaphore,
    extensions: AtomicBool,
    /// The next creation fails.
    fail_next: AtomicBool,
    launched: AtomicU32,
    /// (environment id, payload) of every finished invocation, in order.
    journal: Mutex<Vec<(u64, String)>>,
    stopped: Mutex<Vec<u64>>,
    /// A stop finishes once a permit is added here (when `gate_stops`).
    stops: Semaphore,
    gate_stops: AtomicBool,
}

impl Default for World {
    fn default() -> Self {
        Self {
            invocations: Semaphore::new(0),
            creations: Semaphore::new(0),
            gate_creation: AtomicBool::new(false),
            settles: Semaphore::new(0),
            extensions: AtomicBool::new(false),
            fail_next: AtomicBool::new(false),
            launched: AtomicU32::new(0),
            journal: Mutex::new(Vec::new()),
            stopped: Mutex::new(Vec::new()),
            stops: Semaphore::new(0),
            gate_stops: AtomicBool::new(false),
        }
    }
}

struct FakeEnv {
    id: u64,
    init: InitializationType,
    world: Arc<World>,
    invoked: AtomicU32,
}

impl Environment for FakeEnv {
    fn id(&self) -> u64 {
        self.id
    }

    fn initialization_type(&self) -> InitializationType {
        self.init
    }

    fn is_frozen(&self) -> bool {
        false
    }

    async fn invoke(&self, invocation: Arc<Invocation>) -> Invoked {
        let payload = String::from_utf8_lossy(&invocation.payload).into_owned();
        if payload == "wait" {
            if let Ok(permit) = self.world.invocations.acquire().await {
                permit.forget();
            }
        }
        let first = self.invoked.fetch_add(1, Ordering::SeqCst) == 0;
        self.world.journal.lock().unwrap().push((self.id, payload));
        let outcome = Outcome {
            kind: OutcomeKind::Success,
            payload: Bytes::from(self.id.to_string()),
            content_type: "application/json".into(),
            request_id: invocation.request_id.clone(),
            cold_start: first && self.init == InitializationType::OnDemand,
            init_duration_ms: None,
            duration_ms: 1.0,
            max_memory_used_mb: 0,
            log_tail: Bytes::new(),
            error_type: None,
            refusal: None,
        };
        let settle = self
            .world
            .extensions
            .load(Ordering::SeqCst)
            .then(|| PostInvoke {
                deadline: Instant::now() + Duration::from_secs(60),
                shutdown: None,
            });
        Invoked { outcome, settle }
    }

    async fn settle(&self, _post: PostInvoke) {
        if let Ok(permit) = self.world.settles.acquire().await {
            permit.forget();
        }
    }

    async fn prewarm(&self) -> Result<f64, String> {
        Ok(1.0)
    }

    async fn stop(&self) {
        if self.world.gate_stops.load(Ordering::SeqCst) {
            if let Ok(permit) = self.world.stops.acquire().await {
                permit.forget();
            }
        }
        self.world.stopped.lock().unwrap().push(self.id);
    }
}

struct FakeLauncher(Arc<World>);

impl Launcher for FakeLauncher {
    type Env = FakeEnv;

    async fn launch(&self, launch: Launch) -> Result<FakeEnv, CoreError> {
        if self.0.gate_creation.load(Ordering::SeqCst) {
            if let Ok(permit) = self.0.creations.acquire().await {
                permit.forget();
            }
        }
        if self.0.fail_next.swap(false, Ordering::SeqCst) {
            return Err(CoreError::Config("no room".into()));
        }
        self.0.launched.fetch_add(1, Ordering::SeqCst);
        Ok(FakeEnv {
            id: launch.id,
            init: launch.initialization_type,
            world: Arc::clone(&self.0),
            invoked: AtomicU32::new(0),
        })
    }
}

type Fake = Scheduler<FakeLauncher>;

fn function(configure: impl FnOnce(&mut FunctionConfig)) -> Arc<FunctionContext> {
    let mut config = FunctionConfig::new("f", vec!["runtime".into()], Defaults::FUNCTION);
    configure(&mut config);
    FunctionContext::for_test(config)
}

fn scheduler(
    world: &Arc<World>,
    cap: &Arc<EnvironmentCap>,
    policy: ThrottlePolicy,
    configure: impl FnOnce(&mut FunctionConfig),
) -> Arc<Fake> {
    let function = function(configure);
    let wide = Arc::new(FunctionWide::new(function.config.reserved_concurrency));
    Arc::new(Scheduler::with_launcher(
        function,
        Arc::clone(cap),
        policy,
        FakeLauncher(Arc::clone(world)),
        wide,
    ))
}

fn invocation(payload: &'static str) -> Invocation {
    Invocation::new(Bytes::from_static(payload.as_bytes()), "arn".into())
}

/// Start an invocation on its own task.
fn start(
    s: &Arc<Fake>,
    payload: &'static str,
) -> tokio::task::JoinHandle<Result<Outcome, ServiceError>> {
    let s = Arc::clone(s);
    tokio::spawn(async move { s.invoke(invocation(payload)).await })
}

/// The environment id an outcome came from.
fn env_of(outcome: &Outcome) -> u64 {
    String::from_utf8_lossy(&outcome.payload).parse().unwrap()
}

/// Let every task run until it waits.
async fn settle_tasks() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
}

fn big_cap() -> Arc<EnvironmentCap> {
    Arc::new(EnvironmentCap::new(100))
}

#[tokio::test]
async fn a_warm_environment_is_reused_most_recently_used_first() {
    let world = Arc::new(World::default());
    let s = scheduler(&world, &big_cap(), ThrottlePolicy::Reject, |_| {});
    let first = start(&s, "wait");
    let second = start(&s, "wait");
    settle_tasks().await;
    assert_eq!(world.launched.load(Ordering::SeqCst), 2);
    // The first to finish is the least recently used.
    world.invocations.add_permits(1);
    let a = first.await.unwrap().unwrap();
    let a_or_b = env_of(&a);
    world.invocations.add_permits(1);
    let b = env_of(&second.await.unwrap().unwrap());
    assert_ne!(a_or_b, b);
    let next = s.invoke(invocation("fast")).await.unwrap();
    assert_eq!(env_of(&next), b, "the most recently used environment");
    assert!(!next.cold_start);
    assert_eq!(world.launched.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn an_idle_provisioned_environment_goes_first() {
    let world = Arc::new(World::default());
    let s = scheduler(&world, &big_cap(), ThrottlePolicy::Reject, |f| {
        f.provisioned_concurrency = 1;
    });
    s.provision().await.unwrap();
    let provisioned = s.environments()[0].id();
    let on_provisioned = start(&s, "wait");
    settle_tasks().await;
    let on_demand = start(&s, "wait");
    settle_tasks().await;
    world.invocations.add_permits(1);
    assert_eq!(env_of(&on_provisioned.await.unwrap().unwrap()), provisioned);
    world.invocations.add_permits(1);
    let other = env_of(&on_demand.await.unwrap().unwrap());
    assert_ne!(other, provisioned);
    // The on-demand one is the most recently used, yet the provisioned one is chosen.
    assert_eq!(
        env_of(&s.invoke(invocation("fast")).await.unwrap()),
        provisioned
    );
}

#[tokio::test]
async fn reserved_concurrency_throttles_with_its_reason() {
    let world = Arc::new(World::default());
    let s = scheduler(&world, &big_cap(), ThrottlePolicy::Reject, |f| {
        f.reserved_concurrency = Some(1);
    });
    let running = start(&s, "wait");
    settle_tasks().await;
    let refused = s.invoke(invocation("fast")).await.unwrap_err();
    assert_eq!(
        refused,
        ServiceError::Throttled(ThrottleReason::ReservedConcurrency)
    );
    world.invocations.add_permits(1);
    running.await.unwrap().unwrap();
    assert!(s.invoke(invocation("fast")).await.is_ok());
}

#[tokio::test]
async fn the_emulator_wide_cap_is_shared_by_functions() {
    let world = Arc::new(World::default());
    let cap = Arc::new(EnvironmentCap::new(1));
    let f = scheduler(&world, &cap, ThrottlePolicy::Reject, |_| {});
    let g = scheduler(&world, &cap, ThrottlePolicy::Reject, |_| {});
    let running = start(&f, "wait");
    settle_tasks().await;
    assert_eq!(
        g.invoke(invocation("fast")).await.unwrap_err(),
        ServiceError::Throttled(ThrottleReason::AccountConcurrency)
    );
    world.invocations.add_permits(1);
    running.await.unwrap().unwrap();
    // f's idle environment still holds the only room until it is reaped.
    assert_eq!(cap.in_use(), 1);
}

#[tokio::test]
async fn reserved_concurrency_zero_throttles_even_when_queueing() {
    let world = Arc::new(World::default());
    let s = scheduler(&world, &big_cap(), ThrottlePolicy::Queue, |f| {
        f.reserved_concurrency = Some(0);
    });
    assert!(matches!(
        s.invoke(invocation("fast")).await,
        Err(ServiceError::Throttled(ThrottleReason::ReservedConcurrency))
    ));
}

#[tokio::test]
async fn queue_mode_waits_for_the_environment_to_free_up() {
    let world = Arc::new(World::default());
    let s = scheduler(&world, &big_cap(), ThrottlePolicy::Queue, |f| {
        f.reserved_concurrency = Some(1);
    });
    let first = start(&s, "wait");
    settle_tasks().await;
    let queued = start(&s, "fast");
    settle_tasks().await;
    assert!(!queued.is_finished(), "the second invocation waits");
    world.invocations.add_permits(1);
    let a = env_of(&first.await.unwrap().unwrap());
    let b = env_of(&queued.await.unwrap().unwrap());
    assert_eq!(a, b);
    assert_eq!(world.launched.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn invocations_join_a_multi_concurrency_environment_being_created() {
    let world = Arc::new(World::default());
    world.gate_creation.store(true, Ordering::SeqCst);
    let s = scheduler(&world, &big_cap(), ThrottlePolicy::Reject, |f| {
        f.max_concurrency = 3;
        f.reserved_concurrency = Some(1);
    });
    let runs: Vec<_> = (0..3).map(|_| start(&s, "fast")).collect();
    settle_tasks().await;
    // A fourth has no seat: the only environment allowed is full.
    assert!(matches!(
        s.invoke(invocation("fast")).await,
        Err(ServiceError::Throttled(_))
    ));
    world.creations.add_permits(1);
    let mut envs = Vec::new();
    for run in runs {
        envs.push(env_of(&run.await.unwrap().unwrap()));
    }
    envs.dedup();
    assert_eq!(envs.len(), 1, "all three ran in the one environment");
    assert_eq!(world.launched.load(Ordering::SeqCst), 1);
    assert_eq!(s.environment_counts().concurrent, 0);
}

#[tokio::test]
async fn a_failed_creation_gives_its_room_back() {
    let world = Arc::new(World::default());
    let cap = Arc::new(EnvironmentCap::new(1));
    let s = scheduler(&world, &cap, ThrottlePolicy::Reject, |_| {});
    world.fail_next.store(true, Ordering::SeqCst);
    let failed = s.invoke(invocation("fast")).await.unwrap_err();
    assert_eq!(failed.code(), "ServiceException");
    assert_eq!(cap.in_use(), 0);
    assert!(s.invoke(invocation("fast")).await.is_ok());
}

#[tokio::test]
async fn joiners_fail_with_the_creation_and_give_their_seats_back() {
    let world = Arc::new(World::default());
    world.gate_creation.store(true, Ordering::SeqCst);
    world.fail_next.store(true, Ordering::SeqCst);
    let s = scheduler(&world, &big_cap(), ThrottlePolicy::Reject, |f| {
        f.max_concurrency = 2;
    });
    let creator = start(&s, "fast");
    let joiner = start(&s, "fast");
    settle_tasks().await;
    world.creations.add_permits(1);
    assert!(creator.await.unwrap().is_err());
    assert!(joiner.await.unwrap().is_err());
    assert_eq!(s.environment_counts().concurrent, 0);
    world.gate_creation.store(false, Ordering::SeqCst);
    assert!(s.invoke(invocation("fast")).await.is_ok());
}

#[tokio::test]
async fn a_caller_that_goes_away_leaves_the_invocation_running_and_the_seat_returns() {
    let world = Arc::new(World::default());
    let s = scheduler(&world, &big_cap(), ThrottlePolicy::Reject, |f| {
        f.reserved_concurrency = Some(1);
    });
    // Warm: the caller stops waiting while its invocation runs.
    s.invoke(invocation("fast")).await.unwrap();
    let gone = tokio::time::timeout(Duration::from_millis(10), s.invoke(invocation("wait"))).await;
    assert!(gone.is_err(), "the caller gave up");
    world.invocations.add_permits(1);
    settle_tasks().await;
    let journal = world.journal.lock().unwrap().clone();
    assert_eq!(
        journal.last().map(|(_, p)| p.as_str()),
        Some("wait"),
        "it ran to its end"
    );
    for _ in 0..5 {
        assert!(s.invoke(invocation("fast")).await.is_ok());
    }
}

#[tokio::test]
async fn a_caller_that_goes_away_during_a_cold_start_leaks_nothing() {
    let world = Arc::new(World::default());
    world.gate_creation.store(true, Ordering::SeqCst);
    let cap = Arc::new(EnvironmentCap::new(1));
    let s = scheduler(&world, &cap, ThrottlePolicy::Reject, |_| {});
    let gone = tokio::time::timeout(Duration::from_millis(10), s.invoke(invocation("fast"))).await;
    assert!(gone.is_err());
    world.creations.add_permits(1);
    settle_tasks().await;
    assert_eq!(
        world.journal.lock().unwrap().len(),
        1,
        "the cold start and invocation ran"
    );
    world.gate_creation.store(false, Ordering::SeqCst);
    let next = s.invoke(invocation("fast")).await.unwrap();
    assert!(!next.cold_start, "the environment it created is reused");
    assert_eq!(cap.in_use(), 1);
}

#[tokio::test]
async fn the_environment_stays_busy_until_its_extensions_are_done() {
    let world = Arc::new(World::default());
    world.extensions.store(true, Ordering::SeqCst);
    let s = scheduler(&world, &big_cap(), ThrottlePolicy::Reject, |f| {
        f.reserved_concurrency = Some(1);
    });
    assert!(
        s.invoke(invocation("fast")).await.is_ok(),
        "the answer comes at once"
    );
    assert!(matches!(
        s.invoke(invocation("fast")).await,
        Err(ServiceError::Throttled(_))
    ));
    world.settles.add_permits(1);
    settle_tasks().await;
    assert!(s.invoke(invocation("fast")).await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn idle_on_demand_environments_are_reaped_and_provisioned_ones_kept() {
    let world = Arc::new(World::default());
    let cap = big_cap();
    let s = scheduler(&world, &cap, ThrottlePolicy::Reject, |f| {
        f.provisioned_concurrency = 1;
        f.idle_timeout = Duration::from_secs(5);
    });
    s.provision().await.unwrap();
    let busy = start(&s, "wait");
    settle_tasks().await;
    let on_demand = start(&s, "fast");
    let on_demand_id = env_of(&on_demand.await.unwrap().unwrap());
    world.invocations.add_permits(1);
    busy.await.unwrap().unwrap();
    tokio::time::advance(Duration::from_secs(4)).await;
    s.reap_idle().await;
    assert_eq!(s.environments().len(), 2, "not idle long enough yet");
    tokio::time::advance(Duration::from_secs(2)).await;
    s.reap_idle().await;
    let left: Vec<u64> = s.environments().iter().map(|e| e.id()).collect();
    assert_eq!(left.len(), 1);
    assert_ne!(left[0], on_demand_id);
    assert_eq!(*world.stopped.lock().unwrap(), vec![on_demand_id]);
    assert_eq!(cap.in_use(), 1);
}

#[tokio::test]
async fn after_shutdown_invocations_are_refused() {
    let world = Arc::new(World::default());
    let s = scheduler(&world, &big_cap(), ThrottlePolicy::Reject, |_| {});
    s.invoke(invocation("fast")).await.unwrap();
    s.shutdown().await;
    assert_eq!(
        s.invoke(invocation("fast")).await.unwrap_err(),
        ServiceError::ShuttingDown
    );
    assert_eq!(world.stopped.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn reserved_concurrency_is_shared_by_the_versions_and_changes_at_once() {
    let world = Arc::new(World::default());
    let cap = big_cap();
    let wide = Arc::new(FunctionWide::new(Some(1)));
    let version = |wide: &Arc<FunctionWide>| {
        Arc::new(Scheduler::with_launcher(
            function(|_| {}),
            Arc::clone(&cap),
            ThrottlePolicy::Reject,
            FakeLauncher(Arc::clone(&world)),
            Arc::clone(wide),
        ))
    };
    let (latest, one) = (version(&wide), version(&wide));
    let running = start(&latest, "wait");
    settle_tasks().await;
    assert_eq!(
        one.invoke(invocation("fast")).await.unwrap_err(),
        ServiceError::Throttled(ThrottleReason::ReservedConcurrency)
    );
    wide.set_reserved_concurrency(None);
    assert!(one.invoke(invocation("fast")).await.is_ok());
    wide.set_reserved_concurrency(Some(0));
    assert!(matches!(
        latest.invoke(invocation("fast")).await,
        Err(ServiceError::Throttled(ThrottleReason::ReservedConcurrency))
    ));
    world.invocations.add_permits(1);
    running.await.unwrap().unwrap();
    assert_eq!(latest.metrics().cold_starts(), one.metrics().cold_starts());
}

#[tokio::test]
async fn a_retired_scheduler_stops_idle_environments_now_and_busy_ones_when_done() {
    let world = Arc::new(World::default());
    let cap = big_cap();
    let s = scheduler(&world, &cap, ThrottlePolicy::Reject, |_| {});
    let busy = start(&s, "wait");
    settle_tasks().await;
    s.invoke(invocation("fast")).await.unwrap();
    assert_eq!(s.environments().len(), 2);
    s.retire();
    settle_tasks().await;
    assert_eq!(
        world.stopped.lock().unwrap().len(),
        1,
        "the idle one went at once"
    );
    world.invocations.add_permits(1);
    busy.await.unwrap().unwrap();
    settle_tasks().await;
    assert_eq!(
        world.stopped.lock().unwrap().len(),
        2,
        "the busy one after its invocation"
    );
    assert!(s.environments().is_empty());
    assert_eq!(cap.in_use(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_queued_invocation_gets_the_room_another_function_frees() {
    let world = Arc::new(World::default());
    let cap = Arc::new(EnvironmentCap::new(1));
    let f = scheduler(&world, &cap, ThrottlePolicy::Reject, |f| {
        f.idle_timeout = Duration::from_secs(5);
    });
    let g = scheduler(&world, &cap, ThrottlePolicy::Queue, |_| {});
    let running = start(&f, "wait");
    settle_tasks().await;
    let queued = start(&g, "fast");
    settle_tasks().await;
    assert!(!queued.is_finished(), "no room: it waits");
    world.invocations.add_permits(1);
    running.await.unwrap().unwrap();
    // f's environment is idle now: the waiting invocation of g takes its room (f's idle
    // environment is reclaimed) instead of waiting for f's idle timeout, or for ever.
    let outcome = tokio::time::timeout(Duration::from_secs(1), queued)
        .await
        .expect("the queued invocation ran")
        .unwrap()
        .unwrap();
    assert!(outcome.cold_start);
    assert!(
        f.environments().is_empty(),
        "f's idle environment was reclaimed"
    );
    assert_eq!(cap.in_use(), 1);
}

#[tokio::test]
async fn an_idle_environment_of_another_function_gives_way_instead_of_a_429() {
    let world = Arc::new(World::default());
    let cap = Arc::new(EnvironmentCap::new(1));
    let f = scheduler(&world, &cap, ThrottlePolicy::Reject, |_| {});
    let g = scheduler(&world, &cap, ThrottlePolicy::Reject, |_| {});
    f.invoke(invocation("fast")).await.unwrap();
    assert_eq!(f.environments().len(), 1);
    // Nothing is busy: the cap counts concurrency, as AWS's account concurrency does.
    assert!(g.invoke(invocation("fast")).await.is_ok());
    assert!(f.environments().is_empty());
    // A busy environment is never taken away: then the cap throttles.
    let running = start(&g, "wait");
    settle_tasks().await;
    assert_eq!(
        f.invoke(invocation("fast")).await.unwrap_err(),
        ServiceError::Throttled(ThrottleReason::AccountConcurrency)
    );
    world.invocations.add_permits(1);
    running.await.unwrap().unwrap();
    assert_eq!(g.environments().len(), 1);
}

#[tokio::test]
async fn an_environment_out_of_the_pool_counts_as_stopping_until_its_stop_is_over() {
    let world = Arc::new(World::default());
    world.gate_stops.store(true, Ordering::SeqCst);
    let s = scheduler(&world, &big_cap(), ThrottlePolicy::Reject, |_| {});
    s.invoke(invocation("fast")).await.unwrap();
    s.invoke(invocation("fast")).await.unwrap();
    let counts = s.environment_counts();
    assert_eq!((counts.idle, counts.stopping), (1, 0));
    s.retire();
    settle_tasks().await;
    let counts = s.environment_counts();
    assert_eq!(
        (counts.idle, counts.stopping),
        (0, 1),
        "out of the pool, not stopped"
    );
    assert!(world.stopped.lock().unwrap().is_empty());
    world.stops.add_permits(1);
    settle_tasks().await;
    assert_eq!(world.stopped.lock().unwrap().len(), 1);
    assert_eq!(s.environment_counts().stopping, 0);
}

#[tokio::test]
async fn a_lowered_reserved_concurrency_binds_warm_environments_at_once() {
    let world = Arc::new(World::default());
    let cap = big_cap();
    let s = scheduler(&world, &cap, ThrottlePolicy::Reject, |_| {});
    let warming: Vec<_> = (0..3).map(|_| start(&s, "wait")).collect();
    settle_tasks().await;
    world.invocations.add_permits(3);
    for w in warming {
        w.await.unwrap().unwrap();
    }
    assert_eq!(s.environments().len(), 3);

    s.function_wide().set_reserved_concurrency(Some(1));
    let running = start(&s, "wait");
    settle_tasks().await;
    assert_eq!(
        s.invoke(invocation("fast")).await.unwrap_err(),
        ServiceError::Throttled(ThrottleReason::ReservedConcurrency),
        "one warm environment runs, the other two do not take invocations"
    );
    settle_tasks().await;
    assert_eq!(
        world.stopped.lock().unwrap().len(),
        2,
        "the idle ones over the limit went"
    );
    world.invocations.add_permits(1);
    running.await.unwrap().unwrap();

    s.function_wide().set_reserved_concurrency(Some(0));
    assert_eq!(
        s.invoke(invocation("fast")).await.unwrap_err(),
        ServiceError::Throttled(ThrottleReason::ReservedConcurrency)
    );
    settle_tasks().await;
    assert!(s.environments().is_empty());
    assert_eq!(cap.in_use(), 0);
}

#[tokio::test]
async fn a_provisioning_past_the_cap_gives_back_the_room_of_what_it_made() {
    let world = Arc::new(World::default());
    let cap = Arc::new(EnvironmentCap::new(2));
    let provisioned = scheduler(&world, &cap, ThrottlePolicy::Reject, |f| {
        f.provisioned_concurrency = 3;
    });
    assert!(provisioned.provision().await.is_err());
    settle_tasks().await;
    assert!(provisioned.environments().is_empty());
    assert_eq!(cap.in_use(), 0);
    // Another function gets the whole cap.
    let other = scheduler(&world, &cap, ThrottlePolicy::Reject, |_| {});
    let (first, second) = (start(&other, "wait"), start(&other, "wait"));
    settle_tasks().await;
    world.invocations.add_permits(2);
    first.await.unwrap().unwrap();
    second.await.unwrap().unwrap();
}

#[tokio::test]
async fn an_idle_environment_of_another_function_gives_way_to_a_provisioning() {
    let world = Arc::new(World::default());
    let cap = Arc::new(EnvironmentCap::new(1));
    let other = scheduler(&world, &cap, ThrottlePolicy::Reject, |_| {});
    let running = start(&other, "wait");
    settle_tasks().await;
    world.invocations.add_permits(1);
    running.await.unwrap().unwrap();
    assert_eq!(other.environments().len(), 1);
    let provisioned = scheduler(&world, &cap, ThrottlePolicy::Reject, |f| {
        f.provisioned_concurrency = 1;
    });
    provisioned.provision().await.unwrap();
    assert_eq!(provisioned.environments().len(), 1);
    assert!(other.environments().is_empty());
}
