//! The spawner: one thread, as long-lived as the process, that forks whatever must live in an
//! environment's PID namespace (the namespace's holder, runtimes and extensions).
//!
//! NOTE: two kernel rules make it one dedicated thread. `setns(CLONE_NEWPID)` changes the PID
//! namespace of the calling thread's future children only, so the thread that forks is the
//! one that enters; and `PR_SET_PDEATHSIG` fires when the parent *thread* exits, so a child
//! forked by a short-lived thread (tokio's blocking pool retires idle ones after 10 s) would
//! be killed with it.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock, PoisonError};

type Job = Box<dyn FnOnce(&Spawner) + Send>;

/// What jobs get: the spawner thread's own PID namespace, to come back to after a fork.
pub struct Spawner {
    own_pid_ns: OwnedFd,
}

impl Spawner {
    /// Run `fork` with this thread's children going to the PID namespace `pid_ns`, then come
    /// back to the thread's own namespace whatever `fork` did.
    pub fn in_pid_namespace<R>(&self, pid_ns: RawFd, fork: impl FnOnce() -> R) -> io::Result<R> {
        // SAFETY: setns on descriptors we own; it only affects this thread's future children.
        if unsafe { libc::setns(pid_ns, libc::CLONE_NEWPID) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let result = fork();
        // SAFETY: as above; the thread's own (active) namespace may always be re-entered.
        if unsafe { libc::setns(self.own_pid_ns.as_raw_fd(), libc::CLONE_NEWPID) } != 0 {
            // NOTE: cannot happen (the active namespace is always allowed); if it did, every
            // later namespace created from this thread would nest inside an environment's.
            return Err(io::Error::last_os_error());
        }
        Ok(result)
    }
}

fn queue() -> Option<&'static Mutex<mpsc::Sender<Job>>> {
    static QUEUE: OnceLock<Option<Mutex<mpsc::Sender<Job>>>> = OnceLock::new();
    QUEUE
        .get_or_init(|| {
            let own_pid_ns = open_own_pid_namespace().ok()?;
            let (tx, rx) = mpsc::channel::<Job>();
            std::thread::Builder::new()
                .name("lambda-rie spawner".into())
                .spawn(move || {
                    let spawner = Spawner { own_pid_ns };
                    for job in rx {
                        job(&spawner);
                    }
                })
                .ok()?;
            Some(Mutex::new(tx))
        })
        .as_ref()
}

/// Run `job` on the spawner thread and wait for its result.
pub fn run<R: Send + 'static>(job: impl FnOnce(&Spawner) -> R + Send + 'static) -> io::Result<R> {
    let queue = queue().ok_or_else(|| io::Error::other("the spawner thread could not start"))?;
    let (tx, rx) = mpsc::sync_channel(1);
    let boxed: Job = Box::new(move |spawner| {
        let _ = tx.send(job(spawner));
    });
    queue
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .send(boxed)
        .map_err(|_| io::Error::other("the spawner thread is gone"))?;
    rx.recv()
        .map_err(|_| io::Error::other("the spawner thread dropped a job"))
}

fn open_own_pid_namespace() -> io::Result<OwnedFd> {
    // SAFETY: open(2) with a constant path.
    let fd = unsafe {
        libc::open(
            c"/proc/self/ns/pid".as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}
