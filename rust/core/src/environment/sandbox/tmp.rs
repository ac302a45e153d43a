//! A private `/tmp` per execution environment: a mount namespace holding a size-limited tmpfs
//! at `/tmp`, kept alive by an open namespace file descriptor (and the environment's PID
//! namespace holder, where there is one), not by any runtime process, so `/tmp` survives
//! timeout and crash restarts and goes away with the environment.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use super::clone;

/// How an environment's `/tmp` is provided.
#[derive(Debug)]
pub enum PrivateTmp {
    /// Runtimes join this mount namespace, where `/tmp` is the environment's own tmpfs.
    Namespace(OwnedFd),
    /// Namespaces refused: `TMPDIR` points at this directory, checked for size after each invocation.
    Directory(PathBuf),
}

/// The mounts of an environment's mount namespace, prepared before any fork (the child that
/// makes them may not allocate).
pub struct MountPlan {
    options: CString,
    keep: Vec<CString>,
    opt: Option<CString>,
}

impl MountPlan {
    /// A tmpfs of `size_mb` at `/tmp`, in which the host directories `keep` (directories
    /// directly under `/tmp` that hold the function's code or runtime, e.g. a checkout or a
    /// virtualenv there) stay visible at their own paths; with `opt`, that directory (the
    /// function's merged layers) is bound at `/opt`.
    pub fn new(size_mb: u32, keep: &[PathBuf], opt: Option<&Path>) -> io::Result<Self> {
        let options = CString::new(format!("size={size_mb}m,mode=1777"))
            .map_err(|_| io::Error::other("bad tmpfs options"))?;
        let keep = keep
            .iter()
            .filter_map(|p| CString::new(p.as_os_str().as_encoded_bytes()).ok())
            .collect();
        let opt = match opt {
            Some(dir) => Some(
                CString::new(dir.as_os_str().as_encoded_bytes())
                    .map_err(|_| io::Error::other("bad layers path"))?,
            ),
            None => None,
        };
        Ok(Self { options, keep, opt })
    }

    /// Child side, in a new mount namespace: private propagation, the tmpfs at `/tmp`, the
    /// kept directories and the layers; whether all of it worked. With `unshare`, the calling
    /// process first leaves the emulator's mount namespace.
    ///
    /// # Safety
    /// Only in a freshly forked child: system calls only.
    pub unsafe fn mount(&self, unshare: bool) -> bool {
        // SAFETY: plain system calls with valid, NUL-terminated arguments.
        unsafe {
            let mut ok = (!unshare || libc::unshare(libc::CLONE_NEWNS) == 0)
                && libc::mount(
                    c"none".as_ptr(),
                    c"/".as_ptr(),
                    std::ptr::null(),
                    libc::MS_REC | libc::MS_PRIVATE,
                    std::ptr::null(),
                ) == 0;
            // Kept directories (and the layers) are opened before the tmpfs hides them, then bound.
            let layers = self.opt.as_ref().map_or(-1, |dir| open_path(dir));
            ok = ok && (self.opt.is_none() || layers >= 0);
            let mut held = [-1i32; MAX_KEPT];
            for (slot, dir) in held.iter_mut().zip(&self.keep) {
                *slot = open_path(dir);
            }
            ok = ok
                && libc::mount(
                    c"tmpfs".as_ptr(),
                    c"/tmp".as_ptr(),
                    c"tmpfs".as_ptr(),
                    libc::MS_NOSUID | libc::MS_NODEV,
                    self.options.as_ptr().cast(),
                ) == 0;
            for (fd, dir) in held.iter().zip(&self.keep) {
                if ok && *fd >= 0 {
                    ok = libc::mkdir(dir.as_ptr(), 0o755) == 0 && bind(*fd, dir);
                }
            }
            if ok && layers >= 0 {
                // NOTE: /opt may not exist on the host; creating it is harmless (mkdir fails with
                // EEXIST otherwise), and what the environment sees there is the layers only.
                libc::mkdir(c"/opt".as_ptr(), 0o755);
                ok = bind(layers, c"/opt");
            }
            ok
        }
    }
}

/// `open(dir, O_PATH)`, or -1.
unsafe fn open_path(dir: &std::ffi::CStr) -> i32 {
    // SAFETY: open(2) with a NUL-terminated path.
    unsafe {
        libc::open(
            dir.as_ptr(),
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    }
}

/// Bind the directory open as `fd` at `target` (recursively).
unsafe fn bind(fd: i32, target: &std::ffi::CStr) -> bool {
    let mut source = [0u8; 32];
    fd_path(fd, &mut source);
    // SAFETY: mount(2) with NUL-terminated paths.
    unsafe {
        libc::mount(
            source.as_ptr().cast(),
            target.as_ptr(),
            std::ptr::null(),
            libc::MS_BIND | libc::MS_REC,
            std::ptr::null(),
        ) == 0
    }
}

impl PrivateTmp {
    /// A mount namespace made by `plan`, held by its descriptor alone (the helper that made
    /// it is gone), for machines where PID namespaces are refused.
    pub fn namespace(plan: &MountPlan) -> io::Result<Self> {
        let (ours, theirs) = clone::seqpacket_pair()?;
        let pid = crate::environment::process::start_owned(|| {
            // SAFETY: the child only makes async-signal-safe system calls, and never returns.
            let pid = unsafe { libc::fork() };
            if pid == 0 {
                // SAFETY: child side, system calls only.
                unsafe { prepare_and_wait(plan, theirs.as_raw_fd()) }
            }
            if pid < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(pid)
        })?;
        drop(theirs);
        let result = clone::receive_report(&ours).and_then(|(ok, mut fds)| match fds.pop() {
            Some(fd) if ok == 1 => Ok(fd),
            _ => Err(io::Error::other(
                "the kernel refused a private mount namespace",
            )),
        });
        // NOTE: the namespace lives on through the fd; the helper is not needed any more.
        let mut status = 0;
        // SAFETY: signalling and reaping our own child.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            libc::waitpid(pid, &raw mut status, 0);
        }
        crate::environment::process::disown(pid);
        result.map(Self::Namespace)
    }

    /// A plain directory for `TMPDIR`, the fallback where namespaces are refused, owned by
    /// `owner` when runtimes run as another user.
    pub fn directory(env_id: u64, owner: Option<(u32, u32)>) -> io::Result<Self> {
        let dir =
            std::env::temp_dir().join(format!("lambda-rie-{}-env{env_id}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid))?;
        }
        Ok(Self::Directory(dir))
    }

    /// Empty the fallback directory (a discarded environment starts with an empty `/tmp`).
    pub fn clear(&self) {
        if let Self::Directory(dir) = self {
            let _ = std::fs::remove_dir_all(dir);
            let _ = std::fs::create_dir_all(dir);
        }
    }

    /// Bytes stored under the fallback directory (0 for a namespace: the tmpfs enforces its size).
    pub fn used_bytes(&self) -> u64 {
        match self {
            Self::Namespace(_) => 0,
            Self::Directory(dir) => dir_size(dir),
        }
    }
}

impl Drop for PrivateTmp {
    fn drop(&mut self) {
        if let Self::Directory(dir) = self {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn dir_size(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// Helper side: keep only the report socket, make the mounts in a new mount namespace, send
/// the namespace's descriptor, wait to be killed.
unsafe fn prepare_and_wait(plan: &MountPlan, report: i32) -> ! {
    // SAFETY: plain system calls with valid, NUL-terminated arguments.
    unsafe {
        let report = clone::keep_only(report);
        let ok = plan.mount(true);
        let ns = libc::open(c"/proc/self/ns/mnt".as_ptr(), libc::O_RDONLY);
        if ok && ns >= 0 {
            clone::send_report(report, 1, &[ns]);
        } else {
            clone::send_report(report, 0, &[]);
        }
        libc::close(report);
        loop {
            libc::pause();
        }
    }
}

/// Most host directories under `/tmp` kept visible in one environment.
pub const MAX_KEPT: usize = 8;

/// `/proc/self/fd/<fd>` as a NUL-terminated string, without allocating (runs after fork).
fn fd_path(fd: i32, out: &mut [u8; 32]) {
    const PREFIX: &[u8] = b"/proc/self/fd/";
    out[..PREFIX.len()].copy_from_slice(PREFIX);
    let mut digits = [0u8; 10];
    let mut n = fd.unsigned_abs();
    let mut len = 0;
    loop {
        digits[len] = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for i in 0..len {
        out[PREFIX.len() + i] = digits[len - 1 - i];
    }
    out[PREFIX.len() + len] = 0;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fd_paths_are_nul_terminated() {
        let mut out = [0u8; 32];
        fd_path(4, &mut out);
        assert_eq!(&out[..16], b"/proc/self/fd/4\0");
        fd_path(1234, &mut out);
        assert_eq!(&out[..19], b"/proc/self/fd/1234\0");
    }
}
