//! Bigger receive buffers for our UDP (QUIC) sockets.
//!
//! The kernel's default (`net.core.rmem_default`, about 200 KiB) holds some
//! 8 ms of a file transfer at 25 MiB/s. A daemon that is not scheduled for
//! longer than that (two cores, two daemons, a link in user space: common)
//! loses packets at its own socket, and QUIC takes every such loss for
//! congestion: measured on the 10 ms bench link, 0.8 % of datagrams dropped
//! this way held a transfer to half the speed of TCP. libp2p-quic makes its
//! sockets itself and offers no option, so we find them among our own file
//! descriptors. The kernel caps the size at `net.core.rmem_max`.

/// What we ask for: 4 MiB, a few hundred ms of a fast transfer.
pub const RECV_BUFFER: libc::c_int = 4 << 20;

/// Raises the receive buffer of every UDP socket of this process to at
/// least `bytes`; returns how many sockets it raised, and the smallest size
/// one of them ended up with when the kernel's cap kept it below `bytes`.
#[cfg(target_os = "linux")]
pub fn raise_udp_buffers(bytes: libc::c_int) -> (usize, Option<libc::c_int>) {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else { return (0, None) };
    let mut raised = 0;
    let mut capped: Option<libc::c_int> = None;
    for entry in dir.flatten() {
        let Some(fd) = entry.file_name().to_str().and_then(|n| n.parse::<libc::c_int>().ok()) else { continue };
        if !is_udp(fd) {
            continue;
        }
        if sockopt(fd, libc::SO_RCVBUF).is_some_and(|now| now < bytes) {
            let v = bytes;
            // SAFETY: `fd` is one of ours, `v` outlives the call and its size is passed.
            #[allow(unsafe_code)]
            let rc = unsafe {
                libc::setsockopt(
                    fd,
                    libc::SOL_SOCKET,
                    libc::SO_RCVBUF,
                    (&v as *const libc::c_int).cast(),
                    size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
            if rc == 0 {
                raised += 1;
            }
            // Linux reports twice what it grants (its own bookkeeping).
            if let Some(got) = sockopt(fd, libc::SO_RCVBUF).map(|g| g / 2).filter(|g| *g < bytes) {
                capped = Some(capped.map_or(got, |c| c.min(got)));
            }
        }
    }
    (raised, capped)
}

#[cfg(not(target_os = "linux"))]
pub fn raise_udp_buffers(_bytes: libc::c_int) -> (usize, Option<libc::c_int>) {
    (0, None)
}

#[cfg(target_os = "linux")]
fn is_udp(fd: libc::c_int) -> bool {
    let inet = matches!(sockopt(fd, libc::SO_DOMAIN), Some(libc::AF_INET | libc::AF_INET6));
    inet && sockopt(fd, libc::SO_TYPE) == Some(libc::SOCK_DGRAM) && sockopt(fd, libc::SO_PROTOCOL) == Some(libc::IPPROTO_UDP)
}

/// An integer socket option, or None when `fd` is not a socket.
#[cfg(target_os = "linux")]
fn sockopt(fd: libc::c_int, name: libc::c_int) -> Option<libc::c_int> {
    let mut v: libc::c_int = 0;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `v` and `len` are valid for writes of the sizes given.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::getsockopt(fd, libc::SOL_SOCKET, name, (&mut v as *mut libc::c_int).cast(), &mut len) };
    (rc == 0).then_some(v)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn raises_udp_sockets_and_leaves_others_alone() {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let tcp_before = sockopt(tcp.as_raw_fd(), libc::SO_RCVBUF).unwrap();
        let want = 1 << 20;
        let (raised, capped) = raise_udp_buffers(want);
        assert!(raised >= 1);
        // Linux reports twice what was set (bookkeeping), capped by rmem_max.
        let got = sockopt(udp.as_raw_fd(), libc::SO_RCVBUF).unwrap();
        let max: i32 = std::fs::read_to_string("/proc/sys/net/core/rmem_max").unwrap().trim().parse().unwrap();
        assert!(got >= want.min(max), "{got}");
        assert_eq!(capped.is_some(), max < want, "{capped:?} with rmem_max {max}");
        assert_eq!(sockopt(tcp.as_raw_fd(), libc::SO_RCVBUF).unwrap(), tcp_before);
        assert!(!is_udp(tcp.as_raw_fd()));
    }
}
