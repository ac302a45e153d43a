//! Writing log lines to stdout or stderr straight from the event loop, when that can never wait
//! for a reader: the common case costs one `write`, as it did before the writer thread.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// How fd 1 or fd 2 can be written without waiting.
#[derive(Debug)]
pub(super) enum DirectWrite {
    /// A regular file: a write waits for no reader (only for the page cache, as before).
    File(RawFd),
    /// A second, non-blocking open of the same pipe or terminal (`O_NONBLOCK` on the inherited
    /// descriptor would change it for every process sharing it).
    Reopened(OwnedFd),
    /// A socket or anything else: only the writer thread writes it.
    Never,
}

impl DirectWrite {
    /// The way to write `fd` without waiting, if there is one.
    pub(super) fn for_fd(fd: RawFd) -> Self {
        // SAFETY: fstat writes into the zeroed struct; fd is only inspected.
        let mut stat: libc::stat = unsafe { std::mem::zeroed() };
        if unsafe { libc::fstat(fd, &raw mut stat) } != 0 {
            return Self::Never;
        }
        match stat.st_mode & libc::S_IFMT {
            libc::S_IFREG => Self::File(fd),
            libc::S_IFIFO | libc::S_IFCHR => {
                let Ok(path) = CString::new(format!("/proc/self/fd/{fd}")) else {
                    return Self::Never;
                };
                let flags = libc::O_WRONLY | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC;
                // SAFETY: a plain open of a NUL-terminated path.
                let reopened = unsafe { libc::open(path.as_ptr(), flags) };
                if reopened < 0 {
                    return Self::Never;
                }
                // SAFETY: the descriptor was just opened and is owned by nobody else.
                Self::Reopened(unsafe { OwnedFd::from_raw_fd(reopened) })
            }
            _ => Self::Never,
        }
    }

    /// Write as much of `bytes` as goes without waiting; how much went.
    pub(super) fn write(&self, bytes: &[u8]) -> usize {
        let fd = match self {
            Self::File(fd) => *fd,
            Self::Reopened(owned) => owned.as_raw_fd(),
            Self::Never => return 0,
        };
        let mut done = 0;
        while done < bytes.len() {
            let rest = &bytes[done..];
            // SAFETY: writes from a live slice of `rest.len()` bytes.
            let n = unsafe { libc::write(fd, rest.as_ptr().cast(), rest.len()) };
            if n > 0 {
                done += n as usize;
            } else if n == 0 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                break; // full (EAGAIN), or an error the writer thread will meet in turn
            }
        }
        done
    }
}
