//! Starting a runtime or an extension inside its environment's PID namespace: forked by the
//! spawner thread with `clone3`, with the same pid in the environment as on the host, then
//! into the rest of the sandbox and exec'd, without std's `Command` (which cannot choose pids).

use std::ffi::{c_char, CString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use super::clone;
use super::spawner::Spawner;
use super::JoinSpec;

/// How many taken pids a launch skips before it lets the kernel choose.
const PID_ATTEMPTS: usize = 16;

/// Whether `clone3` may choose pids here (Linux 5.5 and `CAP_SYS_ADMIN`); cleared on refusal.
static CHOOSE_PIDS: AtomicBool = AtomicBool::new(true);

/// Everything the child needs, prepared before the fork (the child may not allocate).
pub struct Launch {
    /// Paths to try, in `PATH` order (one when argv[0] has a slash).
    candidates: Vec<CString>,
    /// For a candidate that is a script without `#!`: `/bin/sh CANDIDATE ARGS...`.
    sh_argvs: Vec<Vec<*const c_char>>,
    argv: Vec<*const c_char>,
    envp: Vec<*const c_char>,
    /// Owners of the strings the pointers above point into.
    _strings: Vec<CString>,
    cwd: CString,
    stdin: OwnedFd,
    log: OwnedFd,
    join: JoinSpec,
}

// SAFETY: the raw pointers point into the heap buffers of `_strings` and `candidates`, which
// move with the `Launch` and are never mutated.
unsafe impl Send for Launch {}

fn c_string(s: impl AsRef<[u8]>) -> io::Result<CString> {
    CString::new(s.as_ref()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

impl Launch {
    /// Prepare `argv` in `cwd` (absolute) with exactly `env`, writing to `log`.
    pub fn new(
        argv: &[String],
        cwd: &Path,
        env: &[(String, String)],
        log: &OwnedFd,
        join: JoinSpec,
    ) -> io::Result<Self> {
        let program = argv
            .first()
            .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
        let path = env
            .iter()
            .find(|(k, _)| k == "PATH")
            .map_or("/usr/local/bin:/usr/bin:/bin", |(_, v)| v.as_str());
        let candidates: Vec<CString> = if program.contains('/') {
            vec![c_string(program)?]
        } else {
            std::env::split_paths(path)
                .map(|dir| c_string(dir.join(program).as_os_str().as_encoded_bytes()))
                .collect::<io::Result<_>>()?
        };
        let mut strings = vec![c_string("/bin/sh")?];
        for arg in argv {
            strings.push(c_string(arg)?);
        }
        for (k, v) in env {
            strings.push(c_string(format!("{k}={v}"))?);
        }
        let args = &strings[1..=argv.len()];
        let argv_ptrs = pointers(args.iter());
        let envp = pointers(strings[argv.len() + 1..].iter());
        let sh_argvs = candidates
            .iter()
            .map(|c| pointers([&strings[0], c].into_iter().chain(&args[1..])))
            .collect();
        // SAFETY: open(2) with a constant path.
        let null = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
        if null < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Self {
            candidates,
            sh_argvs,
            argv: argv_ptrs,
            envp,
            _strings: strings,
            cwd: c_string(cwd.as_os_str().as_encoded_bytes())?,
            // SAFETY: a fresh descriptor nobody else owns.
            stdin: unsafe { OwnedFd::from_raw_fd(null) },
            log: log.try_clone()?,
            join,
        })
    }

    /// Fork into the PID namespace `pid_ns` and exec (on the spawner thread); the pid.
    pub fn start(&self, spawner: &Spawner, pid_ns: RawFd) -> io::Result<i32> {
        let (errors, errors_w) = crate::environment::process::log_pipe()?;
        // SAFETY: the child only makes raw system calls (see `exec`) and never returns.
        let pid = spawner.in_pid_namespace(pid_ns, || unsafe {
            let pid = fork_with_host_pid()?;
            if pid == 0 {
                self.exec(errors_w.as_raw_fd());
            }
            Ok::<i32, io::Error>(pid)
        })??;
        drop(errors_w);
        let mut errno = [0u8; 4];
        // SAFETY: reading into a local buffer from our own pipe; it closes on a successful exec.
        let n = unsafe { libc::read(errors.as_raw_fd(), errno.as_mut_ptr().cast(), 4) };
        if n == 4 {
            let mut status = 0;
            // SAFETY: reaping our own child, which exits right after reporting.
            unsafe { libc::waitpid(pid, &raw mut status, 0) };
            return Err(io::Error::from_raw_os_error(i32::from_ne_bytes(errno)));
        }
        Ok(pid)
    }

    /// Child side: standard streams, process group, the sandbox, then exec; on failure the
    /// errno goes to `errors` and the child exits 127.
    unsafe fn exec(&self, errors: RawFd) -> ! {
        // SAFETY: raw system calls on our own descriptors and pointers prepared in `new`.
        unsafe {
            let mut none: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&raw mut none);
            libc::sigprocmask(libc::SIG_SETMASK, &raw const none, std::ptr::null_mut());
            // NOTE: the emulator ignores SIGPIPE; a runtime starts with the default, as std's
            // `Command` gives it.
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
            libc::dup2(self.stdin.as_raw_fd(), 0);
            libc::dup2(self.log.as_raw_fd(), 1);
            libc::dup2(self.log.as_raw_fd(), 2);
            libc::setpgid(0, 0);
            let mut error = match self.join.enter(&self.cwd) {
                Ok(()) => libc::ENOENT,
                Err(e) => e.raw_os_error().unwrap_or(libc::EPERM),
            };
            if error == libc::ENOENT {
                error = self.try_candidates();
            }
            let bytes = error.to_ne_bytes();
            libc::write(errors, bytes.as_ptr().cast(), 4);
            libc::_exit(127)
        }
    }

    /// execve each candidate as `execvp` does (a script without `#!` runs with `/bin/sh`);
    /// the errno to report when none could run.
    unsafe fn try_candidates(&self) -> i32 {
        let mut error = libc::ENOENT;
        for (candidate, sh_argv) in self.candidates.iter().zip(&self.sh_argvs) {
            // SAFETY: NUL-terminated strings and NULL-terminated pointer arrays.
            unsafe {
                libc::execve(candidate.as_ptr(), self.argv.as_ptr(), self.envp.as_ptr());
                let e = *libc::__errno_location();
                if e == libc::ENOEXEC {
                    libc::execve(c"/bin/sh".as_ptr(), sh_argv.as_ptr(), self.envp.as_ptr());
                }
                if e != libc::ENOENT && e != libc::ENOTDIR && error == libc::ENOENT {
                    error = e;
                }
            }
        }
        error
    }
}

/// A NULL-terminated array of pointers to `strings`.
fn pointers<'a>(strings: impl Iterator<Item = &'a CString>) -> Vec<*const c_char> {
    strings
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

/// Fork (into the thread's PID namespace for children) with the child's pid there equal to
/// its pid in the emulator's namespace, so that pids in a function's logs are the ones `ps`
/// shows; the kernel's choice where that is refused.
///
/// # Safety
/// As [`clone::clone3`]: the child may only make raw system calls.
unsafe fn fork_with_host_pid() -> io::Result<i32> {
    if CHOOSE_PIDS.load(Ordering::Relaxed) {
        for attempt in 0..PID_ATTEMPTS {
            let Some(next) = next_free_pid(attempt) else {
                break;
            };
            // SAFETY: as this function's contract.
            match unsafe { clone::clone3(0, &[next, next]) } {
                Ok(0) => return Ok(0),
                Ok(pid) => {
                    if let Err(e) = advance_pid_counter(pid) {
                        refuse_chosen_pids(&e);
                    }
                    return Ok(pid);
                }
                // NOTE: taken meanwhile, in the emulator's namespace or the environment's.
                Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
                Err(e) => {
                    refuse_chosen_pids(&e);
                    break;
                }
            }
        }
    }
    // SAFETY: as this function's contract.
    unsafe { clone::clone3(0, &[]) }
}

fn refuse_chosen_pids(e: &io::Error) {
    CHOOSE_PIDS.store(false, Ordering::Relaxed);
    crate::logs::message(
        crate::config::LogLevel::Warn,
        &format!("runtimes get pids of their own in their environments: pids cannot be chosen here ({e})"),
    );
}

fn read_number(path: &str) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The pid after the kernel's last one in the emulator's namespace, `skip` further on.
fn next_free_pid(skip: usize) -> Option<i32> {
    let max = read_number("/proc/sys/kernel/pid_max")?;
    let last = read_number("/proc/sys/kernel/ns_last_pid")?;
    let next = last + 1 + i32::try_from(skip).ok()?;
    // NOTE: the kernel wraps to 300 (RESERVED_PIDS) past pid_max.
    Some(if next >= max { 300 + next - max } else { next })
}

/// Move the kernel's pid counter past `chosen`, unless it is already past it.
///
/// NOTE: a pid chosen through `clone3` does not move the counter, so once that process is
/// gone its pid would be the very next one the kernel hands out (to a thread of the emulator,
/// say), where pids are otherwise reused only after the counter wraps (4 million here):
/// anything still holding the old pid (a cgroup move, a kill) would then hit the newcomer.
fn advance_pid_counter(chosen: i32) -> io::Result<()> {
    const COUNTER: &str = "/proc/sys/kernel/ns_last_pid";
    let max = read_number("/proc/sys/kernel/pid_max").unwrap_or(i32::MAX);
    let last = read_number(COUNTER).ok_or_else(|| io::Error::other("no ns_last_pid"))?;
    let behind = (chosen > last && chosen - last < max / 2) || (last - chosen > max / 2);
    if behind {
        std::fs::write(COUNTER, chosen.to_string())?;
    }
    Ok(())
}
