//! One runtime process tree: spawn in its own process group, watch for its exit through a
//! pidfd (never `waitpid(-1)`, so an embedding host keeps its own children), kill the group.

use std::collections::HashSet;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::sync::watch;

use super::sandbox::launch::Launch;
use super::sandbox::spawner;

mod status;

/// Runtime processes whose exit their owner collects; an orphan reaper must leave them alone.
static OWNED: Mutex<Option<HashSet<i32>>> = Mutex::new(None);

fn owned() -> std::sync::MutexGuard<'static, Option<HashSet<i32>>> {
    OWNED.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Start a child with `start` (a fork, a spawn) and count it as owned before the orphan reaper
/// can see it exit: the lock is held across the fork. Its owner reaps it, then [`disown`]s it.
pub fn start_owned(start: impl FnOnce() -> io::Result<i32>) -> io::Result<i32> {
    let mut owned = owned();
    let pid = start()?;
    owned.get_or_insert_with(HashSet::new).insert(pid);
    Ok(pid)
}

/// Forget `pid`, an owned child its owner has reaped.
pub fn disown(pid: i32) {
    if let Some(set) = owned().as_mut() {
        set.remove(&pid);
    }
}

/// Reap `pid` unless it is a runtime process (whose owner reaps it, to learn its exit status).
pub fn reap_if_foreign(pid: i32) {
    let owned = owned();
    if owned.as_ref().is_some_and(|set| set.contains(&pid)) {
        return;
    }
    let mut status = 0;
    // SAFETY: waitpid on a specific pid with WNOHANG.
    unsafe {
        libc::waitpid(pid, &raw mut status, libc::WNOHANG);
    }
}

/// How a runtime process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Termination {
    /// `exit(code)`.
    Exited(i32),
    /// Killed by a signal.
    Signaled(i32),
}

impl Termination {
    /// Go's wording, as the RIE and AWS print it: `exit status 1`, `signal: killed`.
    pub fn describe(self) -> String {
        match self {
            Self::Exited(code) => format!("exit status {code}"),
            Self::Signaled(sig) => format!("signal: {}", signal_name(sig)),
        }
    }

    fn from_wait_status(status: i32) -> Self {
        if libc::WIFSIGNALED(status) {
            Self::Signaled(libc::WTERMSIG(status))
        } else {
            Self::Exited(libc::WEXITSTATUS(status))
        }
    }
}

/// Go's `syscall.Signal.String()` names for the signals a runtime may die of.
fn signal_name(sig: i32) -> String {
    let name = match sig {
        libc::SIGHUP => "hangup",
        libc::SIGINT => "interrupt",
        libc::SIGQUIT => "quit",
        libc::SIGILL => "illegal instruction",
        libc::SIGTRAP => "trace/breakpoint trap",
        libc::SIGABRT => "aborted",
        libc::SIGBUS => "bus error",
        libc::SIGFPE => "floating point exception",
        libc::SIGKILL => "killed",
        libc::SIGUSR1 => "user defined signal 1",
        libc::SIGSEGV => "segmentation fault",
        libc::SIGUSR2 => "user defined signal 2",
        libc::SIGPIPE => "broken pipe",
        libc::SIGALRM => "alarm clock",
        libc::SIGTERM => "terminated",
        libc::SIGXCPU => "CPU time limit exceeded",
        libc::SIGXFSZ => "file size limit exceeded",
        libc::SIGSYS => "bad system call",
        other => return format!("signal {other}"),
    };
    name.to_owned()
}

/// What the kernel told about an exited runtime process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitInfo {
    /// Exit code or signal.
    pub termination: Termination,
    /// Peak resident set size of the process, KiB (`ru_maxrss`).
    pub max_rss_kb: u64,
}

/// What to run: argv, working directory, full environment, and where output goes.
pub struct SpawnSpec<'a> {
    /// argv; the first element is looked up on `PATH`.
    pub argv: &'a [String],
    /// Working directory.
    pub cwd: &'a std::path::Path,
    /// The complete environment of the process.
    pub env: &'a [(String, String)],
    /// Write end of the environment's log pipe (stdout and stderr both go there).
    pub log_pipe: &'a OwnedFd,
    /// How to enter the environment's sandbox before exec.
    pub join: super::sandbox::JoinSpec,
}

/// A running (or exited, not yet replaced) runtime process, leader of its own process group.
/// Dropping the last handle kills the whole group.
#[derive(Debug)]
pub struct RuntimeProcess {
    pid: i32,
    started: Instant,
    exit: watch::Receiver<Option<ExitInfo>>,
    /// Where the leader's peak memory is read while it runs.
    status: status::StatusFile,
}

impl RuntimeProcess {
    /// Start `spec` in a new process group. Must be called inside a tokio runtime.
    pub fn spawn(spec: &SpawnSpec<'_>) -> io::Result<Arc<Self>> {
        // NOTE: absolute, because entering a mount namespace resets the working directory.
        let absolute = std::fs::canonicalize(spec.cwd)?;
        let started = Instant::now();
        let pid = match spec.join.pid_ns {
            Some(namespace) => Self::launch(spec, &absolute, namespace)?,
            None => Self::command(spec, &absolute)?,
        }; // the exit status is collected by `watch_exit`, through a pidfd
        let (tx, rx) = watch::channel(None);
        tokio::spawn(watch_exit(pid, tx));
        Ok(Arc::new(Self {
            pid,
            started,
            exit: rx,
            status: status::StatusFile::new(pid),
        }))
    }

    /// Into the environment's PID namespace, forked by the spawner thread.
    fn launch(spec: &SpawnSpec<'_>, cwd: &std::path::Path, namespace: i32) -> io::Result<i32> {
        let launch = Launch::new(spec.argv, cwd, spec.env, spec.log_pipe, spec.join.clone())?;
        spawner::run(move |spawner| start_owned(|| launch.start(spawner, namespace)))?
    }

    /// With std's `Command` (no PID namespace to enter).
    fn command(spec: &SpawnSpec<'_>, cwd: &std::path::Path) -> io::Result<i32> {
        let mut cmd = Command::new(&spec.argv[0]);
        cmd.args(&spec.argv[1..])
            .current_dir(spec.cwd)
            .env_clear()
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::from(spec.log_pipe.try_clone()?))
            .stderr(Stdio::from(spec.log_pipe.try_clone()?))
            .process_group(0);
        let join = spec.join.clone();
        let cwd =
            std::ffi::CString::new(cwd.as_os_str().as_encoded_bytes()).map_err(io::Error::other)?;
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(move || join.enter(&cwd));
        }
        start_owned(|| Ok(cmd.spawn()?.id() as i32))
    }

    /// Watch `pid`, a runtime forked by someone else (the SnapStart template, which reaps it):
    /// its exit is seen through a pidfd and its status comes from `status`.
    pub fn adopt(
        pid: i32,
        status: impl std::future::Future<Output = Option<i32>> + Send + 'static,
    ) -> Arc<Self> {
        let (tx, rx) = watch::channel(None);
        tokio::spawn(async move {
            if let Ok(fd) = pidfd_open(pid) {
                // SAFETY: `fd` is an open pidfd owned by the AsyncFd for its whole life.
                if let Ok(async_fd) =
                    unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }
                {
                    let _ = async_fd.readable().await;
                }
            }
            let termination = tokio::time::timeout(Duration::from_secs(2), status)
                .await
                .ok()
                .flatten()
                .map_or(
                    Termination::Signaled(libc::SIGKILL),
                    Termination::from_wait_status,
                );
            let _ = tx.send(Some(ExitInfo {
                termination,
                max_rss_kb: 0,
            }));
        });
        Arc::new(Self {
            pid,
            started: Instant::now(),
            exit: rx,
            status: status::StatusFile::new(pid),
        })
    }

    /// Process id (and process group id).
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// When the process was started.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// The exit, if it happened.
    pub fn exited(&self) -> Option<ExitInfo> {
        *self.exit.borrow()
    }

    /// Wait for the process to exit.
    pub async fn wait(&self) -> ExitInfo {
        let mut rx = self.exit.clone();
        loop {
            if let Some(info) = *rx.borrow_and_update() {
                return info;
            }
            if rx.changed().await.is_err() {
                // NOTE: the watcher only goes away with the tokio runtime; report a kill.
                return ExitInfo {
                    termination: Termination::Signaled(libc::SIGKILL),
                    max_rss_kb: 0,
                };
            }
        }
    }

    /// Send `signal` to every process of the group.
    pub fn signal_group(&self, signal: i32) {
        // SAFETY: kill(2) with a negative pid addresses the group; no memory is touched.
        unsafe {
            libc::kill(-self.pid, signal);
        }
    }

    /// SIGKILL the group and wait (bounded) for the leader to be reaped.
    pub async fn kill(&self) -> Option<ExitInfo> {
        self.signal_group(libc::SIGKILL);
        tokio::time::timeout(Duration::from_secs(5), self.wait())
            .await
            .ok()
    }

    /// SIGTERM the group, wait up to `grace`, then SIGKILL it.
    pub async fn stop(&self, grace: Duration) {
        self.signal_group(libc::SIGTERM);
        if tokio::time::timeout(grace, self.wait()).await.is_err() {
            self.kill().await;
        }
        // Members that outlived the leader go too.
        self.signal_group(libc::SIGKILL);
    }

    /// Peak resident memory of the leader so far, KiB (`VmHWM`), or its `ru_maxrss` once exited.
    pub fn peak_memory_kb(&self) -> u64 {
        if let Some(info) = self.exited() {
            return info.max_rss_kb;
        }
        self.status.peak_memory_kb()
    }
}

impl Drop for RuntimeProcess {
    fn drop(&mut self) {
        if self.exited().is_none() {
            self.signal_group(libc::SIGKILL);
        }
    }
}

/// Reap `pid` when it exits and publish how it ended.
async fn watch_exit(pid: i32, tx: watch::Sender<Option<ExitInfo>>) {
    let info = wait_exit(pid).await;
    disown(pid);
    let _ = tx.send(Some(info));
}

async fn wait_exit(pid: i32) -> ExitInfo {
    match pidfd_open(pid) {
        Ok(fd) => {
            // SAFETY: `fd` is an open pidfd owned by the AsyncFd for its whole life.
            if let Ok(async_fd) = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }
            {
                let _ = async_fd.readable().await;
            }
            loop {
                if let Some(info) = try_reap(pid) {
                    return info;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        Err(_) => loop {
            // NOTE: kernels before 5.3 have no pidfd; poll instead.
            if let Some(info) = try_reap(pid) {
                return info;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        },
    }
}

fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this fd to us and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// `wait4(pid, WNOHANG)`: the exit, once the process is a zombie.
fn try_reap(pid: i32) -> Option<ExitInfo> {
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it and status.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointers to locals.
    let r = unsafe { libc::wait4(pid, &raw mut status, libc::WNOHANG, &raw mut usage) };
    if r == pid {
        return Some(ExitInfo {
            termination: Termination::from_wait_status(status),
            max_rss_kb: usage.ru_maxrss as u64,
        });
    }
    if r < 0 {
        // ECHILD: somebody else reaped it; all we know is that it is gone.
        return Some(ExitInfo {
            termination: Termination::Signaled(libc::SIGKILL),
            max_rss_kb: 0,
        });
    }
    None
}

/// A pipe whose read end is non-blocking and owned by the emulator, write end shared by runtimes.
pub fn log_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two fds into the array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both fds were just created and are owned by nobody else.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    debug_assert!(read.as_raw_fd() >= 0);
    Ok((read, write))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A child of this process that exits with status 7 at once; a zombie on return.
    fn zombie(owned: bool) -> i32 {
        let fork = || {
            // SAFETY: the child only exits.
            let pid = unsafe { libc::fork() };
            if pid == 0 {
                // SAFETY: child side.
                unsafe { libc::_exit(7) }
            }
            Ok(pid)
        };
        let pid = if owned { start_owned(fork) } else { fork() }.unwrap();
        let stat = format!("/proc/{pid}/stat");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !std::fs::read_to_string(&stat).is_ok_and(|s| s.contains(") Z ")) {
            assert!(Instant::now() < deadline, "{pid} never ended");
            std::thread::sleep(Duration::from_millis(1));
        }
        pid
    }

    fn wait(pid: i32) -> Option<i32> {
        let mut status = 0;
        // SAFETY: waiting for our own child.
        let r = unsafe { libc::waitpid(pid, &raw mut status, libc::WNOHANG) };
        (r == pid).then(|| libc::WEXITSTATUS(status))
    }

    /// The orphan reaper collects a zombie nobody owns, and leaves one started through
    /// `start_owned` to its owner, whatever the moment it looks (the user check's probe lost
    /// its exit this way: it was reaped between its end and its owner's `waitpid`).
    #[test]
    fn the_orphan_reaper_leaves_owned_children_to_their_owner() {
        let foreign = zombie(false);
        reap_if_foreign(foreign);
        assert_eq!(wait(foreign), None, "the reaper left a foreign zombie");
        let owned = zombie(true);
        reap_if_foreign(owned);
        assert_eq!(
            wait(owned),
            Some(7),
            "the reaper took an owned child's exit"
        );
        disown(owned);
    }

    #[test]
    fn go_style_descriptions() {
        assert_eq!(Termination::Exited(1).describe(), "exit status 1");
        assert_eq!(
            Termination::Signaled(libc::SIGKILL).describe(),
            "signal: killed"
        );
        assert_eq!(
            Termination::Signaled(libc::SIGSEGV).describe(),
            "signal: segmentation fault"
        );
        assert_eq!(
            Termination::Signaled(libc::SIGABRT).describe(),
            "signal: aborted"
        );
    }

    #[tokio::test]
    async fn spawn_and_reap_exit_code() {
        let (_r, w) = log_pipe().unwrap();
        let argv = vec!["sh".to_owned(), "-c".to_owned(), "exit 3".to_owned()];
        let env = vec![("PATH".to_owned(), std::env::var("PATH").unwrap())];
        let spec = SpawnSpec {
            argv: &argv,
            cwd: std::path::Path::new("."),
            env: &env,
            log_pipe: &w,
            join: super::super::sandbox::JoinSpec::default(),
        };
        let p = RuntimeProcess::spawn(&spec).unwrap();
        let info = p.wait().await;
        assert_eq!(info.termination, Termination::Exited(3));
    }

    #[tokio::test]
    async fn kill_group_reports_signal() {
        let (_r, w) = log_pipe().unwrap();
        let argv = vec!["sleep".to_owned(), "30".to_owned()];
        let env = vec![("PATH".to_owned(), std::env::var("PATH").unwrap())];
        let spec = SpawnSpec {
            argv: &argv,
            cwd: std::path::Path::new("."),
            env: &env,
            log_pipe: &w,
            join: super::super::sandbox::JoinSpec::default(),
        };
        let p = RuntimeProcess::spawn(&spec).unwrap();
        let info = p.kill().await.unwrap();
        assert_eq!(info.termination, Termination::Signaled(libc::SIGKILL));
    }
}
