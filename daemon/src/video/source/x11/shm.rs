//! The MIT-SHM segment the X server writes pictures into: all of the X11
//! capture's unsafe code, kept in one small place so it can be checked on
//! its own (the segment is mapped memory that Rust cannot see the bounds of).

use x11rb::connection::Connection;
use x11rb::protocol::shm::{self, ConnectionExt as _};
use x11rb::rust_connection::RustConnection;

/// A System V shared-memory segment the X server writes pictures into.
pub(super) struct Shm {
    pub(super) seg: shm::Seg,
    addr: *mut libc::c_void,
    pub(super) size: usize,
}

// SAFETY: the mapping is private to this struct (no other Rust value points
// into it) and has no tie to the thread that made it.
#[allow(unsafe_code)]
unsafe impl Send for Shm {}

impl Shm {
    /// A segment of `size` bytes attached to us and to the server, or `None`
    /// when either cannot (a server across the network, a limit on segments).
    pub(super) fn new(conn: &RustConnection, size: usize) -> Option<Shm> {
        // SAFETY: plain system call; a new private segment, no memory of ours.
        #[allow(unsafe_code)]
        let id = unsafe { libc::shmget(libc::IPC_PRIVATE, size, libc::IPC_CREAT | 0o600) };
        if id < 0 {
            return None;
        }
        // SAFETY: `id` is the segment just made; a null address lets the
        // kernel choose where it goes.
        #[allow(unsafe_code)]
        let addr = unsafe { libc::shmat(id, std::ptr::null(), 0) };
        let attached = addr as isize != -1;
        let seg = if attached { conn.generate_id().ok() } else { None };
        let shared = seg.is_some_and(|seg| conn.shm_attach(seg, id as u32, false).ok().and_then(|c| c.check().ok()).is_some());
        // Marked for removal now: it goes when the last of us and the server
        // lets go, even if we crash (Linux still lets the attached use it).
        // SAFETY: plain system call on our segment; no buffer is passed.
        #[allow(unsafe_code)]
        let _ = unsafe { libc::shmctl(id, libc::IPC_RMID, std::ptr::null_mut()) };
        match seg {
            Some(seg) if shared => Some(Shm { seg, addr, size }),
            _ => {
                if attached {
                    // SAFETY: `addr` came from shmat above and nothing uses it.
                    #[allow(unsafe_code)]
                    let _ = unsafe { libc::shmdt(addr) };
                }
                None
            }
        }
    }

    /// The first `len` bytes, as the server left them.
    pub(super) fn pixels(&self, len: usize) -> &[u8] {
        assert!(len <= self.size);
        // SAFETY: `addr` maps `size` bytes for as long as `self` lives. The
        // server writes them only while answering a ShmGetImage, and the
        // caller reads after that answer came, before asking again.
        #[allow(unsafe_code)]
        unsafe {
            std::slice::from_raw_parts(self.addr.cast::<u8>(), len)
        }
    }
}

impl Drop for Shm {
    fn drop(&mut self) {
        // SAFETY: `addr` came from shmat, and nothing borrows it (`pixels`
        // borrows `self`).
        #[allow(unsafe_code)]
        let _ = unsafe { libc::shmdt(self.addr) };
    }
}
