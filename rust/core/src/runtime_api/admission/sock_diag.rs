//! One exact `NETLINK_SOCK_DIAG` query: the inode of the TCP socket with a given local and
//! remote address (`inet_diag_req_v2` in, `inet_diag_msg` out), as `ss` asks the kernel.

use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// `NETLINK_SOCK_DIAG` (linux/netlink.h).
const NETLINK_SOCK_DIAG: i32 = 4;
/// `SOCK_DIAG_BY_FAMILY` (linux/sock_diag.h).
const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// `nlmsghdr` + `inet_diag_req_v2`.
const REQUEST_LEN: usize = 16 + 56;
/// Where `idiag_inode` sits in the answer: after `nlmsghdr` (16), the family, state, timer and
/// retransmits (4), the socket id (48), expires, queues and uid (16).
const INODE_AT: usize = 16 + 4 + 48 + 16;

/// The inode of the socket whose local address is `local` and remote address `remote`.
pub fn inode(local: SocketAddr, remote: SocketAddr) -> Option<u64> {
    // SAFETY: socket(2) with constant arguments.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            NETLINK_SOCK_DIAG,
        )
    };
    if fd < 0 {
        return None;
    }
    // SAFETY: a fresh descriptor nobody else owns.
    let socket = unsafe { OwnedFd::from_raw_fd(fd) };
    let request = request(local, remote)?;
    // SAFETY: sending our own buffer on our own socket (to the kernel: no address needed).
    let sent = unsafe {
        libc::send(
            socket.as_raw_fd(),
            request.as_ptr().cast(),
            request.len(),
            0,
        )
    };
    if usize::try_from(sent).ok()? != request.len() {
        return None;
    }
    let mut answer = [0u8; 512];
    // SAFETY: receiving into our own buffer.
    let n = unsafe {
        libc::recv(
            socket.as_raw_fd(),
            answer.as_mut_ptr().cast(),
            answer.len(),
            0,
        )
    };
    let n = usize::try_from(n).ok()?;
    let kind = u16::from_ne_bytes([answer[4], answer[5]]);
    if n < INODE_AT + 4 || kind != SOCK_DIAG_BY_FAMILY {
        return None;
    }
    let inode = &answer[INODE_AT..INODE_AT + 4];
    Some(u64::from(u32::from_ne_bytes([
        inode[0], inode[1], inode[2], inode[3],
    ])))
}

/// The request for the socket `local` -> `remote` (both of one family), in any TCP state.
fn request(local: SocketAddr, remote: SocketAddr) -> Option<Vec<u8>> {
    let (family, source, destination) = match (local, remote) {
        (SocketAddr::V4(l), SocketAddr::V4(r)) => {
            let mut s = [0u8; 16];
            let mut d = [0u8; 16];
            s[..4].copy_from_slice(&l.ip().octets());
            d[..4].copy_from_slice(&r.ip().octets());
            (libc::AF_INET as u8, s, d)
        }
        (SocketAddr::V6(l), SocketAddr::V6(r)) => {
            (libc::AF_INET6 as u8, l.ip().octets(), r.ip().octets())
        }
        _ => return None,
    };
    let mut req = Vec::with_capacity(REQUEST_LEN);
    req.extend_from_slice(&(REQUEST_LEN as u32).to_ne_bytes());
    req.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    req.extend_from_slice(&(libc::NLM_F_REQUEST as u16).to_ne_bytes());
    req.extend_from_slice(&[0u8; 8]); // sequence number, port id
    req.extend_from_slice(&[family, libc::IPPROTO_TCP as u8, 0, 0]);
    req.extend_from_slice(&u32::MAX.to_ne_bytes()); // every state
    req.extend_from_slice(&local.port().to_be_bytes());
    req.extend_from_slice(&remote.port().to_be_bytes());
    req.extend_from_slice(&source);
    req.extend_from_slice(&destination);
    req.extend_from_slice(&0u32.to_ne_bytes()); // any interface
    req.extend_from_slice(&[0xff; 8]); // INET_DIAG_NOCOOKIE
    Some(req)
}
