//! lambda-rie-core: the AWS Lambda runtime interface emulator, free of any Python.
//!
//! The Invoke API front (`invoke_api`) hands each [`invocation::Invocation`] to the
//! per-function [`scheduler::Scheduler`], which picks or starts an
//! [`environment::ExecutionEnvironment`]; the runtime inside it talks to that environment's
//! Runtime API listener (`runtime_api`) exactly as on AWS Lambda.

pub mod api_gateway;
pub mod async_queue;
pub mod aws;
pub mod aws_client;
pub mod cli;
pub mod clock;
pub mod code_watch;
pub mod config;
pub mod control_plane;
pub mod destinations;
pub mod emulator;
pub mod environment;
pub mod error;
pub mod event_sources;
pub mod function_url;
mod http;
pub mod invocation;
pub mod invoke_api;
pub mod layers;
pub mod logs;
pub mod metrics;
#[cfg(test)]
mod proptest_cases;
pub mod registry;
pub mod runtime_api;
pub mod scheduler;
pub mod snapstart;
pub mod store;

pub use error::CoreError;
