//! SnapStart (`--snapstart`, RIE's `--enable-init-caching`): one template process per function
//! runs init once, and every execution environment's runtime is a fork of it, placed in the
//! environment's sandbox with its own log pipe and variables (`lambda_rie.runtime.template`).
//! The template and the emulator talk over a `SOCK_SEQPACKET` pair: JSON messages, descriptors
//! passed with `SCM_RIGHTS`. The next environment's runtime is forked ahead of time ([`spare`]).

mod spare;

use std::collections::{HashMap, VecDeque};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::{oneshot, Notify};

use crate::config::FunctionConfig;
use crate::environment::sandbox::{seqpacket_pair, JoinSpec};
pub use spare::SpareRuntime;

/// The template's module, run like the built-in runtime (`python -c`, skipping runpy).
pub const TEMPLATE_LAUNCH: &str =
    "import sys; from lambda_rie.runtime.template import main; main(sys.argv)";
/// Where the template finds its end of the control socket.
const CONTROL_FD: RawFd = 3;
/// Longest the template may take for init (AWS allows 10 s for a snapshot's init too).
const TEMPLATE_INIT_TIMEOUT: Duration = Duration::from_secs(130);
/// Longest a fork may take to be reported.
const FORK_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_MESSAGE: usize = 1 << 20;

#[derive(Default)]
struct Shared {
    /// Fork requests waiting for their `{"pid": N}`, in order.
    forks: VecDeque<oneshot::Sender<Result<i32, String>>>,
    /// Exit statuses the template reported, by pid.
    exits: HashMap<i32, i32>,
    /// The template's first message.
    ready: Option<oneshot::Sender<Result<(), Value>>>,
    /// The template has exited: nobody will report exits any more.
    gone: bool,
}

/// A running template: init done, ready to fork environments.
pub struct SnapStartTemplate {
    pid: u32,
    /// The template process; killed (and its forks with it) when the function goes away.
    child: Mutex<Option<std::process::Child>>,
    control: OwnedFd,
    /// Serialises fork requests so that replies match them.
    send: Mutex<()>,
    shared: Arc<Mutex<Shared>>,
    exited: Arc<Notify>,
    /// The next environment's runtime, forked ahead of time.
    spare: Mutex<Option<SpareRuntime>>,
    /// A spare is being forked.
    preparing: AtomicBool,
}

impl std::fmt::Debug for SnapStartTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapStartTemplate")
            .field("pid", &self.pid)
            .finish_non_exhaustive()
    }
}

fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

impl SnapStartTemplate {
    /// Start `python -c TEMPLATE_LAUNCH HANDLER` with `env` in `cwd` and wait for its init; the
    /// error is the init error JSON (or what went wrong) to log.
    pub async fn start(
        python: &str,
        handler: &str,
        cwd: &std::path::Path,
        env: &[(String, String)],
    ) -> Result<Arc<Self>, String> {
        let (ours, theirs) = seqpacket_pair().map_err(|e| e.to_string())?;
        let child_end = theirs.as_raw_fd();
        let mut cmd = Command::new(python);
        cmd.args(["-c", TEMPLATE_LAUNCH, handler])
            .current_dir(cwd)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            // NOTE: a process group of its own, as every runtime's: a terminal's Ctrl-C goes to
            // lambda-rie's group, and lambda-rie decides how its runtimes stop (the template's
            // death would end every environment forked from it at once).
            .process_group(0);
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                if libc::dup2(child_end, CONTROL_FD) < 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().map_err(|e| format!("{python}: {e}"))?;
        drop(theirs);
        let (ready_tx, ready_rx) = oneshot::channel();
        let shared = Arc::new(Mutex::new(Shared {
            ready: Some(ready_tx),
            ..Shared::default()
        }));
        let exited = Arc::new(Notify::new());
        let reader = ours.try_clone().map_err(|e| e.to_string())?;
        let (reader_shared, reader_exited) = (Arc::clone(&shared), Arc::clone(&exited));
        std::thread::Builder::new()
            .name("lambda-rie snapstart".into())
            .spawn(move || read_messages(&reader, &reader_shared, &reader_exited))
            .map_err(|e| e.to_string())?;
        let pid = child.id();
        let template = Arc::new(Self {
            pid,
            child: Mutex::new(Some(child)),
            control: ours,
            send: Mutex::new(()),
            shared,
            exited,
            spare: Mutex::new(None),
            preparing: AtomicBool::new(false),
        });
        match tokio::time::timeout(TEMPLATE_INIT_TIMEOUT, ready_rx).await {
            Ok(Ok(Ok(()))) => Ok(template),
            Ok(Ok(Err(error))) => Err(error.to_string()),
            Ok(Err(_)) => Err("the template exited during init".to_owned()),
            Err(_) => Err("the template's init timed out".to_owned()),
        }
    }

    /// Fork a runtime for one environment: it enters `join`, writes to `log_pipe`, runs in
    /// `cwd` with `env`. The new process's pid.
    pub async fn fork(
        &self,
        env: &[(String, String)],
        cwd: &std::path::Path,
        join: &JoinSpec,
        log_pipe: &OwnedFd,
    ) -> io::Result<i32> {
        let (request, fds) = restore_request(env, cwd, join, log_pipe)?;
        self.request_fork(&request, &fds).await
    }

    /// Send a fork request (or a spare request) and wait for the new child's pid.
    async fn request_fork(&self, request: &Value, fds: &[RawFd]) -> io::Result<i32> {
        let (tx, rx) = oneshot::channel();
        {
            let _guard = self.send.lock().unwrap_or_else(PoisonError::into_inner);
            lock(&self.shared).forks.push_back(tx);
            send_with_fds(&self.control, request.to_string().as_bytes(), fds)?;
        }
        match tokio::time::timeout(FORK_TIMEOUT, rx).await {
            Ok(Ok(Ok(pid))) => Ok(pid),
            Ok(Ok(Err(e))) => Err(io::Error::other(e)),
            _ => Err(io::Error::other("the SnapStart template did not fork")),
        }
    }

    /// The spare runtime, when one is ready for the next environment.
    pub fn take_spare(&self) -> Option<SpareRuntime> {
        // NOTE: a spare outlives its template only briefly (it asked for SIGKILL at its end).
        if lock(&self.shared).gone {
            return None;
        }
        self.spare
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// Fork the next environment's runtime and move it into a new cgroup of `function`, in the
    /// background (no-op while one is ready or on its way).
    pub fn prepare_spare(self: &Arc<Self>, function: FunctionConfig) {
        let held = self
            .spare
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some();
        if !held {
            let template = Arc::clone(self);
            tokio::spawn(async move { template.ready_spare(function, false).await });
        }
    }

    /// Fork a spare runtime into a new cgroup of `function` and keep it for the next environment;
    /// with `moved`, return once it is in that cgroup (start-up: the first restore then waits for
    /// nothing), else as soon as it is forked (the restore waits for what is left of the move).
    pub async fn ready_spare(&self, function: FunctionConfig, moved: bool) {
        if self.preparing.swap(true, Ordering::AcqRel) {
            return;
        }
        match spare::fork(self, function).await {
            Ok(mut spare) => {
                if moved {
                    if let Some(moving) = spare.take_move() {
                        let _ = moving.await;
                    }
                }
                *self.spare.lock().unwrap_or_else(PoisonError::into_inner) = Some(spare);
            }
            Err(e) => crate::logs::message(
                crate::config::LogLevel::Debug,
                &format!("SnapStart: no spare runtime ({e}); the next restore forks one"),
            ),
        }
        self.preparing.store(false, Ordering::Release);
    }

    /// The wait status of `pid` once the template reports it (`None` if the template is gone).
    pub fn exit_status(
        self: &Arc<Self>,
        pid: i32,
    ) -> impl std::future::Future<Output = Option<i32>> {
        let shared = Arc::clone(&self.shared);
        let exited = Arc::clone(&self.exited);
        async move {
            loop {
                let notified = exited.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                {
                    let mut s = lock(&shared);
                    if let Some(status) = s.exits.remove(&pid) {
                        return Some(status);
                    }
                    if s.gone {
                        return None;
                    }
                }
                notified.await;
            }
        }
    }
}

impl Drop for SnapStartTemplate {
    fn drop(&mut self) {
        let child = self
            .child
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(mut child) = child {
            // NOTE: its forks die with it (they asked for PR_SET_PDEATHSIG).
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// What a restored child is told of its environment (variables, working directory, sandbox),
/// and the descriptors sent with it (its log pipe, then its mount namespace).
fn restore_request(
    env: &[(String, String)],
    cwd: &std::path::Path,
    join: &JoinSpec,
    log_pipe: &OwnedFd,
) -> io::Result<(Value, Vec<RawFd>)> {
    let request = json!({
        "env": env,
        "cwd": std::fs::canonicalize(cwd)?,
        "ns": join.mount_ns.is_some(),
        "nofile": crate::environment::sandbox::NOFILE_LIMIT,
        "address_space": join.address_space,
        "user": join.user,
    });
    let mut fds = vec![log_pipe.as_raw_fd()];
    fds.extend(join.mount_ns);
    Ok((request, fds))
}

/// The reader thread: route each message of the template.
fn read_messages(control: &OwnedFd, shared: &Mutex<Shared>, exited: &Notify) {
    let mut buf = vec![0u8; MAX_MESSAGE];
    loop {
        // SAFETY: reading into our own buffer from a descriptor we own.
        let n = unsafe { libc::recv(control.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
            continue;
        }
        let Ok(n) = usize::try_from(n) else { break };
        if n == 0 {
            break;
        }
        let Ok(message) = serde_json::from_slice::<Value>(&buf[..n]) else {
            continue;
        };
        let mut s = lock(shared);
        if let Some(pid) = message.get("exit").and_then(Value::as_i64) {
            let status = message.get("status").and_then(Value::as_i64).unwrap_or(0);
            s.exits.insert(pid as i32, status as i32);
            drop(s);
            exited.notify_waiters();
        } else if let Some(pid) = message.get("pid").and_then(Value::as_i64) {
            if let Some(tx) = s.forks.pop_front() {
                let _ = tx.send(Ok(pid as i32));
            }
        } else if message.get("ready").is_some() {
            if let Some(tx) = s.ready.take() {
                let _ = tx.send(Ok(()));
            }
        } else if let Some(error) = message.get("error") {
            if let Some(tx) = s.ready.take() {
                let _ = tx.send(Err(error.clone()));
            }
        }
    }
    // The template is gone: nobody will answer pending forks or report exits.
    let mut s = lock(shared);
    s.ready = None;
    s.gone = true;
    for tx in s.forks.drain(..) {
        let _ = tx.send(Err("the SnapStart template exited".to_owned()));
    }
    drop(s);
    exited.notify_waiters();
}

/// One packet with `fds` attached (`SCM_RIGHTS`).
fn send_with_fds(socket: &OwnedFd, data: &[u8], fds: &[RawFd]) -> io::Result<()> {
    let fd_bytes = std::mem::size_of_val(fds) as u32;
    // SAFETY: CMSG_SPACE is a pure size computation.
    let space = unsafe { libc::CMSG_SPACE(fd_bytes) } as usize;
    let mut control = vec![0u8; space];
    let mut iov = libc::iovec {
        iov_base: data.as_ptr().cast_mut().cast(),
        iov_len: data.len(),
    };
    // SAFETY: msghdr is plain data; every pointer set below outlives the sendmsg call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &raw mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    // SAFETY: the control buffer is CMSG_SPACE(fd_bytes) long, so the first header and its
    // data fit; the descriptors are copied into it.
    unsafe {
        let header = libc::CMSG_FIRSTHDR(&raw const msg);
        (*header).cmsg_level = libc::SOL_SOCKET;
        (*header).cmsg_type = libc::SCM_RIGHTS;
        (*header).cmsg_len = libc::CMSG_LEN(fd_bytes) as _;
        std::ptr::copy_nonoverlapping(
            fds.as_ptr().cast::<u8>(),
            libc::CMSG_DATA(header),
            fd_bytes as usize,
        );
        if libc::sendmsg(socket.as_raw_fd(), &raw const msg, 0) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}
