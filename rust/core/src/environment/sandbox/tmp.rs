//! A private `/tmp` per execution environment: a mount namespace holding a size-limited tmpfs
//! at `/tmp`, kept alive by an open namespace file descriptor (not by any runtime process), so
//! `/tmp` survives timeout and crash restarts and goes away with the environment.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// How an environment's `/tmp` is provided.
#[derive(Debug)]
pub enum PrivateTmp {
    /// Runtimes join this mount namespace, where `/tmp` is the environment's own tmpfs.
    Namespace(OwnedFd),
    /// Namespaces refused: `TMPDIR` points at this directory, checked for size after each invocation.
    Directory(PathBuf),
}

impl PrivateTmp {
    /// A mount namespace with a tmpfs of `size_mb` at `/tmp`, in which the host directories
    /// `keep` (directories directly under `/tmp` that hold the function's code or runtime, e.g.
    /// a checkout or a virtualenv there) stay visible at their own paths.
    /// With `opt`, that directory (the function's merged layers) is bound at `/opt`.
    pub fn namespace(size_mb: u32, keep: &[PathBuf], opt: Option<&Path>) -> io::Result<Self> {
        let options = CString::new(format!("size={size_mb}m,mode=1777"))
            .map_err(|_| io::Error::other("bad tmpfs options"))?;
        let keep: Vec<CString> = keep
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
        let (ready_r, ready_w) = pipe()?;
        // SAFETY: the child only makes async-signal-safe system calls, and never returns.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(io::Error::last_os_error());
        }
        if pid == 0 {
            // SAFETY: child side, system calls only.
            unsafe { prepare_and_wait(&options, &keep, opt.as_ref(), ready_w.as_raw_fd()) }
        }
        drop(ready_w);
        let result = read_byte(&ready_r).and_then(|ok| {
            if ok == 1 {
                open_namespace(pid)
            } else {
                Err(io::Error::other(
                    "the kernel refused a private mount namespace",
                ))
            }
        });
        // NOTE: the namespace lives on through the fd; the helper is not needed any more.
        let mut status = 0;
        // SAFETY: signalling and reaping our own child.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            libc::waitpid(pid, &raw mut status, 0);
        }
        result.map(Self::Namespace)
    }

    /// A plain directory for `TMPDIR`, the fallback where namespaces are refused.
    pub fn directory(env_id: u64) -> io::Result<Self> {
        let dir =
            std::env::temp_dir().join(format!("lambda-rie-{}-env{env_id}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
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

/// Child side: keep only the report pipe (other helpers forked at the same moment must not
/// hold each other's pipes open), then new mount namespace, private propagation, tmpfs at
/// /tmp; report; wait to be killed.
unsafe fn prepare_and_wait(
    options: &CString,
    keep: &[CString],
    opt: Option<&CString>,
    ready: i32,
) -> ! {
    // SAFETY: plain system calls with valid, NUL-terminated arguments.
    unsafe {
        let ready = if libc::dup2(ready, 3) == 3 { 3 } else { ready };
        libc::syscall(libc::SYS_close_range, 4u32, u32::MAX, 0u32);
        let mut ok = libc::unshare(libc::CLONE_NEWNS) == 0
            && libc::mount(
                c"none".as_ptr(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ) == 0;
        // Kept directories (and the layers) are opened before the tmpfs hides them, then bound.
        let layers = opt.map_or(-1, |dir| {
            libc::open(
                dir.as_ptr(),
                libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        });
        ok = ok && (opt.is_none() || layers >= 0);
        let mut held = [-1i32; MAX_KEPT];
        for (slot, dir) in held.iter_mut().zip(keep) {
            *slot = libc::open(
                dir.as_ptr(),
                libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            );
        }
        ok = ok
            && libc::mount(
                c"tmpfs".as_ptr(),
                c"/tmp".as_ptr(),
                c"tmpfs".as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV,
                options.as_ptr().cast(),
            ) == 0;
        for (fd, dir) in held.iter().zip(keep) {
            if !ok || *fd < 0 {
                continue;
            }
            let mut source = [0u8; 32];
            fd_path(*fd, &mut source);
            ok = libc::mkdir(dir.as_ptr(), 0o755) == 0
                && libc::mount(
                    source.as_ptr().cast(),
                    dir.as_ptr(),
                    std::ptr::null(),
                    libc::MS_BIND | libc::MS_REC,
                    std::ptr::null(),
                ) == 0;
        }
        if ok && layers >= 0 {
            let mut source = [0u8; 32];
            fd_path(layers, &mut source);
            // NOTE: /opt may not exist on the host; creating it is harmless (mkdir fails with
            // EEXIST otherwise), and what the environment sees there is the layers only.
            libc::mkdir(c"/opt".as_ptr(), 0o755);
            ok = libc::mount(
                source.as_ptr().cast(),
                c"/opt".as_ptr(),
                std::ptr::null(),
                libc::MS_BIND | libc::MS_REC,
                std::ptr::null(),
            ) == 0;
        }
        let byte = u8::from(ok);
        libc::write(ready, (&raw const byte).cast(), 1);
        libc::close(ready);
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

fn open_namespace(pid: i32) -> io::Result<OwnedFd> {
    let path = CString::new(format!("/proc/{pid}/ns/mnt")).map_err(io::Error::other)?;
    // SAFETY: open(2) with a valid path.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh fd owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    crate::environment::process::log_pipe()
}

fn read_byte(fd: &OwnedFd) -> io::Result<u8> {
    let mut b = 0u8;
    // SAFETY: reading one byte into a local.
    let n = unsafe { libc::read(fd.as_raw_fd(), (&raw mut b).cast(), 1) };
    if n == 1 {
        Ok(b)
    } else {
        Err(io::Error::other("the namespace helper exited early"))
    }
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
