//! A PID namespace per execution environment, with its own `/proc`. Its holder is PID 1 there:
//! created together with the environment's mount namespace (where it mounts that `/proc`), it
//! reaps orphans, kills everything else in the namespace on request (a reset), and lives as
//! long as the environment; killing it kills every process of the namespace. Runtimes and
//! extensions are forked into the namespace by the spawner thread ([`super::launch`]).

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::{Mutex, PoisonError};

use super::clone;
use super::spawner;
use super::tmp::MountPlan;
use crate::environment::process;

/// The command that makes the holder kill every other process of its namespace.
const KILL_ALL: u8 = b'k';
/// How many milliseconds a dropped namespace's holder is waited for before a thread takes over.
const HOLDER_EXIT_POLLS: usize = 50;
/// How long a reset waits for the holder's acknowledgement.
const HOLDER_ANSWER_MS: i32 = 1000;

/// One environment's PID namespace, held by its PID 1.
#[derive(Debug)]
pub struct PidNamespace {
    /// The holder's pid (in the emulator's namespace).
    holder: i32,
    /// Commands to the holder; its end closing makes the holder exit.
    control: Mutex<OwnedFd>,
    /// The namespace, for `setns` before forking into it.
    pid_ns: OwnedFd,
    /// The namespace's own `/proc` (mounted in the environment's mount namespace).
    proc_dir: OwnedFd,
}

impl PidNamespace {
    /// New PID and mount namespaces: the mounts of `plan` and the namespace's `/proc`. The
    /// holder, and the mount namespace's descriptor.
    pub fn create(plan: MountPlan) -> io::Result<(Self, OwnedFd)> {
        spawner::run(move |_| Self::create_here(&plan))?
    }

    /// On the spawner thread (the holder dies with the thread that forked it).
    fn create_here(plan: &MountPlan) -> io::Result<(Self, OwnedFd)> {
        let (ours, theirs) = clone::seqpacket_pair()?;
        let flags = (libc::CLONE_NEWPID | libc::CLONE_NEWNS) as u64;
        let holder = process::start_owned(|| {
            // SAFETY: the child only makes system calls and never returns.
            let holder = unsafe { clone::clone3(flags, &[])? };
            if holder == 0 {
                // SAFETY: child side.
                unsafe { hold(plan, theirs.as_raw_fd()) }
            }
            Ok(holder)
        })?;
        drop(theirs);
        let refused = || io::Error::other("the kernel refused a PID namespace");
        let fds = match clone::receive_report(&ours) {
            Ok((1, fds)) if fds.len() == 3 => Ok(fds),
            Ok(_) => Err(refused()),
            Err(e) => Err(e),
        };
        let mut fds = match fds {
            Ok(fds) => fds.into_iter(),
            Err(e) => {
                let mut status = 0;
                // SAFETY: killing and reaping our own child.
                unsafe {
                    libc::kill(holder, libc::SIGKILL);
                    libc::waitpid(holder, &raw mut status, 0);
                }
                process::disown(holder);
                return Err(e);
            }
        };
        let (Some(mount_ns), Some(pid_ns), Some(proc_dir)) = (fds.next(), fds.next(), fds.next())
        else {
            return Err(refused());
        };
        let namespace = Self {
            holder,
            control: Mutex::new(ours),
            pid_ns,
            proc_dir,
        };
        Ok((namespace, mount_ns))
    }

    /// The namespace's descriptor (for `setns(CLONE_NEWPID)`).
    pub fn descriptor(&self) -> RawFd {
        self.pid_ns.as_raw_fd()
    }

    /// The namespace itself (an `nsfs` descriptor).
    pub fn namespace(&self) -> &OwnedFd {
        &self.pid_ns
    }

    /// The namespace's `/proc`, as a directory descriptor of the emulator.
    pub fn proc_dir(&self) -> &OwnedFd {
        &self.proc_dir
    }

    /// SIGKILL every process of the namespace but its holder; `/tmp` stays.
    pub fn kill_all(&self) {
        let control = self.control.lock().unwrap_or_else(PoisonError::into_inner);
        let fd = control.as_raw_fd();
        let command = KILL_ALL;
        // SAFETY: one byte to and from our end of the socket pair.
        unsafe {
            if libc::write(fd, (&raw const command).cast(), 1) != 1 {
                return;
            }
            let mut ready = libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            };
            if libc::poll(&raw mut ready, 1, HOLDER_ANSWER_MS) == 1 {
                let mut answer = 0u8;
                libc::read(fd, (&raw mut answer).cast(), 1);
            }
        }
    }
}

impl Drop for PidNamespace {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child; the kernel then kills the whole namespace.
        unsafe { libc::kill(self.holder, libc::SIGKILL) };
        let holder = self.holder;
        let reap = move |flags| {
            let mut status = 0;
            // SAFETY: waiting for our own child.
            let r = unsafe { libc::waitpid(holder, &raw mut status, flags) };
            let done = r == holder || r < 0;
            if done {
                process::disown(holder);
            }
            done
        };
        // NOTE: the holder's exit completes only once every process of its namespace has been
        // reaped, a runtime the event loop reaps included: usually done (a stopped runtime
        // was waited for) and the holder is collected here within a millisecond; otherwise
        // waiting here could block that very loop, and a short-lived thread collects it.
        for _ in 0..HOLDER_EXIT_POLLS {
            if reap(libc::WNOHANG) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let _ = std::thread::Builder::new()
            .name("lambda-rie reaper".into())
            .spawn(move || reap(0));
    }
}

/// The holder (PID 1 of the new namespace, in the new mount namespace): make the mounts and
/// `/proc`, report them with the namespaces' descriptors, then serve commands until the
/// emulator's end closes.
unsafe fn hold(plan: &MountPlan, control: RawFd) -> ! {
    // SAFETY: system calls only, on our own descriptors and constant paths.
    unsafe {
        let control = clone::keep_only(control);
        for signal in 1..32 {
            libc::signal(signal, libc::SIG_DFL);
        }
        // NOTE: orphans reparented to this PID 1 are then reaped by the kernel itself.
        libc::signal(libc::SIGCHLD, libc::SIG_IGN);
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        let ok = plan.mount(false)
            && libc::mount(
                c"proc".as_ptr(),
                c"/proc".as_ptr(),
                c"proc".as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                std::ptr::null(),
            ) == 0;
        let fds = [
            libc::open(c"/proc/self/ns/mnt".as_ptr(), libc::O_RDONLY),
            libc::open(c"/proc/self/ns/pid".as_ptr(), libc::O_RDONLY),
            libc::open(c"/proc".as_ptr(), libc::O_PATH | libc::O_DIRECTORY),
        ];
        if ok && fds.iter().all(|fd| *fd >= 0) {
            clone::send_report(control, 1, &fds);
        } else {
            clone::send_report(control, 0, &[]);
        }
        for fd in fds {
            libc::close(fd);
        }
        serve_commands(control)
    }
}

/// Answer KILL_ALL until the emulator's end closes, then exit (which kills the namespace).
unsafe fn serve_commands(control: RawFd) -> ! {
    // SAFETY: reads and writes of one byte on our own socket; kill(-1) from a PID namespace's
    // init reaches every other process of that namespace, and nothing outside it.
    unsafe {
        loop {
            let mut command = 0u8;
            let n = libc::read(control, (&raw mut command).cast(), 1);
            if n < 0 && *libc::__errno_location() == libc::EINTR {
                continue;
            }
            if n <= 0 {
                libc::_exit(0);
            }
            if command == KILL_ALL {
                libc::kill(-1, libc::SIGKILL);
                libc::write(control, (&raw const command).cast(), 1);
            }
        }
    }
}
