//! What the scheduler needs of an execution environment, and where new ones come from: a
//! trait pair, so that the scheduler's rules are tested with fake environments in
//! milliseconds, and served by real ones ([`ExecutionEnvironment`]) in the emulator.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::environment::{
    ExecutionEnvironment, FunctionContext, InitializationType, Invoked, PostInvoke,
};
use crate::invocation::Invocation;
use crate::CoreError;

/// An execution environment as the scheduler drives it.
pub trait Environment: Send + Sync + 'static {
    /// The environment's number within the emulator.
    fn id(&self) -> u64;
    /// How it was initialised (provisioned environments are preferred and never reaped).
    fn initialization_type(&self) -> InitializationType;
    /// Whether it is frozen between invocations.
    fn is_frozen(&self) -> bool;
    /// Run one invocation to its outcome; every invocation gets one.
    fn invoke(&self, invocation: Arc<Invocation>) -> impl Future<Output = Invoked> + Send;
    /// Wait (up to its deadline) until the extensions are done with the last invocation, or
    /// shut them down.
    fn settle(&self, post: PostInvoke) -> impl Future<Output = ()> + Send;
    /// Initialise ahead of any invoke: the init duration, or the init error type.
    fn prewarm(&self) -> impl Future<Output = Result<f64, String>> + Send;
    /// Stop the environment's processes.
    fn stop(&self) -> impl Future<Output = ()> + Send;
}

/// Everything a new environment is made from.
pub struct Launch {
    /// Its number within the emulator.
    pub id: u64,
    /// The function it runs.
    pub function: Arc<FunctionContext>,
    /// Where its Runtime API listens (port 0: any).
    pub runtime_api: SocketAddr,
    /// A listener bound to that address earlier (the fixed address of the command line).
    pub listener: Option<std::net::TcpListener>,
    /// Why it is created.
    pub initialization_type: InitializationType,
}

/// Where the scheduler's new environments come from.
pub trait Launcher: Send + Sync + 'static {
    /// The environments it makes.
    type Env: Environment;
    /// Create an environment (no runtime process yet: it starts on the first invoke or
    /// [`Environment::prewarm`]).
    fn launch(&self, launch: Launch) -> impl Future<Output = Result<Self::Env, CoreError>> + Send;
}

/// Real execution environments: runtime processes in their sandboxes.
#[derive(Debug, Default, Clone, Copy)]
pub struct ExecutionEnvironments;

impl Launcher for ExecutionEnvironments {
    type Env = ExecutionEnvironment;

    async fn launch(&self, launch: Launch) -> Result<ExecutionEnvironment, CoreError> {
        ExecutionEnvironment::create(
            launch.id,
            launch.function,
            launch.runtime_api,
            launch.listener,
            launch.initialization_type,
        )
        .await
    }
}

impl Environment for ExecutionEnvironment {
    fn id(&self) -> u64 {
        ExecutionEnvironment::id(self)
    }

    fn initialization_type(&self) -> InitializationType {
        ExecutionEnvironment::initialization_type(self)
    }

    fn is_frozen(&self) -> bool {
        ExecutionEnvironment::is_frozen(self)
    }

    async fn invoke(&self, invocation: Arc<Invocation>) -> Invoked {
        ExecutionEnvironment::invoke(self, invocation).await
    }

    async fn settle(&self, post: PostInvoke) {
        ExecutionEnvironment::settle(self, post).await;
    }

    async fn prewarm(&self) -> Result<f64, String> {
        ExecutionEnvironment::prewarm(self).await
    }

    async fn stop(&self) {
        ExecutionEnvironment::stop(self).await;
    }
}
