//! The core's error type: configuration and start-up failures (invocation failures are
//! [`crate::invocation::Outcome`]s, never errors).

use thiserror::Error;

/// Everything that can stop the emulator from starting or a configuration from loading.
#[derive(Debug, Error)]
pub enum CoreError {
    /// A configuration value is outside its range or malformed; the text names the option.
    #[error("{0}")]
    Config(String),
    /// A listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address that was asked for.
        addr: String,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The runtime command could not be started.
    #[error("cannot start runtime {command:?}: {source}")]
    Spawn {
        /// The command line.
        command: String,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The control plane's state directory cannot be used (in use, unreadable, damaged).
    #[error("{0}")]
    State(String),
    /// Any other I/O failure of the emulator itself.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}
