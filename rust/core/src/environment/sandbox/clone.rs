//! Process creation below std's `Command`: `clone3(2)` with namespace flags or chosen pids,
//! and handing descriptors from a freshly forked child back to the emulator (`SCM_RIGHTS`
//! over a `SOCK_SEQPACKET` pair), with only async-signal-safe calls on the child's side.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// `struct clone_args` of `clone3(2)`, up to `cgroup` (`CLONE_ARGS_SIZE_VER2`).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// Fork with `flags` (`CLONE_NEW*`) and, when `set_tid` is not empty, these pids for the child
/// in its PID namespaces, innermost first. The child's pid in the parent, 0 in the child.
///
/// # Safety
/// The child runs on a copy of the calling thread's stack, and libc's own view of the process
/// (thread list, locks) is not updated: it may only make raw system calls until it execs or
/// exits (no allocation, no libc function that takes a lock or walks threads, such as
/// `setuid`: use `libc::syscall` for those).
pub unsafe fn clone3(flags: u64, set_tid: &[i32]) -> io::Result<i32> {
    let args = CloneArgs {
        flags,
        exit_signal: libc::SIGCHLD as u64,
        set_tid: if set_tid.is_empty() {
            0
        } else {
            set_tid.as_ptr() as u64
        },
        set_tid_size: set_tid.len() as u64,
        ..CloneArgs::default()
    };
    // SAFETY: `args` is a valid clone_args of the size passed; no stack is given, so the child
    // continues on a copy of ours, as after fork(2).
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &raw const args,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(pid as i32)
}

/// A `SOCK_SEQPACKET` pair: the emulator's end and the child's end (both close-on-exec).
pub fn seqpacket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: socketpair writes two descriptors into the array.
    let r = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and belong to nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Most descriptors one report carries.
const MAX_FDS: usize = 4;

/// Child side: send one byte with `fds` attached (async-signal-safe: stack buffers only).
///
/// # Safety
/// `socket` and every descriptor of `fds` must be open.
pub unsafe fn send_report(socket: RawFd, byte: u8, fds: &[RawFd]) {
    let count = fds.len().min(MAX_FDS);
    let mut control = [0u64; 8];
    let mut data = byte;
    let mut iov = libc::iovec {
        iov_base: (&raw mut data).cast(),
        iov_len: 1,
    };
    // SAFETY: plain data, then every pointer set points at a local that outlives sendmsg; the
    // control buffer (64 bytes) holds one header and MAX_FDS descriptors.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &raw mut iov;
        msg.msg_iovlen = 1;
        if count > 0 {
            let fd_bytes = (count * std::mem::size_of::<RawFd>()) as u32;
            msg.msg_control = control.as_mut_ptr().cast();
            msg.msg_controllen = libc::CMSG_SPACE(fd_bytes) as _;
            let header = libc::CMSG_FIRSTHDR(&raw const msg);
            (*header).cmsg_level = libc::SOL_SOCKET;
            (*header).cmsg_type = libc::SCM_RIGHTS;
            (*header).cmsg_len = libc::CMSG_LEN(fd_bytes) as _;
            std::ptr::copy_nonoverlapping(
                fds.as_ptr().cast::<u8>(),
                libc::CMSG_DATA(header),
                fd_bytes as usize,
            );
        }
        libc::sendmsg(socket, &raw const msg, 0);
    }
}

/// Emulator side: the child's byte and descriptors; an error when it exited without a report.
pub fn receive_report(socket: &OwnedFd) -> io::Result<(u8, Vec<OwnedFd>)> {
    let mut control = [0u64; 8];
    let mut data = 0u8;
    let mut iov = libc::iovec {
        iov_base: (&raw mut data).cast(),
        iov_len: 1,
    };
    // SAFETY: msghdr is plain data; its pointers refer to locals that outlive recvmsg, and the
    // control messages read back are the kernel's, within the buffer it filled.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &raw mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control) as _;
        let n = loop {
            let n = libc::recvmsg(socket.as_raw_fd(), &raw mut msg, libc::MSG_CMSG_CLOEXEC);
            if n >= 0 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                break n;
            }
        };
        if n != 1 {
            return Err(io::Error::other("the namespace helper exited early"));
        }
        let mut fds = Vec::new();
        let mut header = libc::CMSG_FIRSTHDR(&raw const msg);
        while !header.is_null() {
            if (*header).cmsg_level == libc::SOL_SOCKET && (*header).cmsg_type == libc::SCM_RIGHTS {
                let bytes = (*header).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                let data = libc::CMSG_DATA(header);
                let size = std::mem::size_of::<RawFd>();
                for i in 0..bytes / size {
                    let mut raw = [0u8; 4];
                    std::ptr::copy_nonoverlapping(data.add(i * size), raw.as_mut_ptr(), size);
                    fds.push(OwnedFd::from_raw_fd(RawFd::from_ne_bytes(raw)));
                }
            }
            header = libc::CMSG_NXTHDR(&raw const msg, header);
        }
        Ok((data, fds))
    }
}

/// Child side: keep only `fd` (as descriptor 3) and close everything else above 2, so that
/// helpers forked at the same moment do not hold each other's sockets open. The new number.
///
/// # Safety
/// Only in a freshly forked child.
pub unsafe fn keep_only(fd: RawFd) -> RawFd {
    // SAFETY: dup2 and close_range on our own descriptor table.
    unsafe {
        let kept = if libc::dup2(fd, 3) == 3 { 3 } else { fd };
        libc::syscall(libc::SYS_close_range, kept as u32 + 1, u32::MAX, 0u32);
        kept
    }
}
