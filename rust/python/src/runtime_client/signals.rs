//! SIGTERM in the runtime process: noted by a handler, acted on by the wait for `/next`.

use std::sync::atomic::{AtomicBool, Ordering};

use pyo3::exceptions::PySystemExit;
use pyo3::prelude::*;

/// Set by the SIGTERM handler; the next wait on `/next` ends the process with status 0.
static TERMINATED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigterm(_signal: libc::c_int) {
    TERMINATED.store(true, Ordering::SeqCst);
}

/// Install the SIGTERM handler unless someone installed one already.
pub fn install_sigterm_handler() {
    // SAFETY: plain sigaction calls on a zeroed struct; the handler only stores an atomic,
    // which is async-signal-safe.
    unsafe {
        let mut current: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(
            libc::SIGTERM,
            std::ptr::null(),
            std::ptr::addr_of_mut!(current),
        ) != 0
            || current.sa_sigaction != libc::SIG_DFL
        {
            return;
        }
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigterm as extern "C" fn(libc::c_int) as libc::sighandler_t;
        // NOTE: no SA_RESTART, so a blocked read returns EINTR at once (CPython does the same).
        action.sa_flags = 0;
        libc::sigemptyset(std::ptr::addr_of_mut!(action.sa_mask));
        libc::sigaction(
            libc::SIGTERM,
            std::ptr::addr_of!(action),
            std::ptr::null_mut(),
        );
    }
}

/// `SystemExit(0)` once SIGTERM has been received.
pub fn terminated() -> PyResult<()> {
    if TERMINATED.load(Ordering::SeqCst) {
        return Err(PySystemExit::new_err(0));
    }
    Ok(())
}
