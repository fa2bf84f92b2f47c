//! The little of `<linux/videodev2.h>` a camera takes, written out by hand
//! (the `v4l` crate generates its bindings with bindgen, which needs
//! libclang on every machine that builds us), and the one ioctl wrapper, so
//! the kernel's layouts sit in one place with the test that checks them.
//!
//! The structures follow `<linux/videodev2.h>` for 64- and 32-bit Linux
//! (the tests check sizes and request numbers against the header's on
//! x86-64); the request numbers use the common encoding (x86, ARM, RISC-V),
//! not that of PowerPC, MIPS or SPARC.

use std::fs::File;
use std::io;
use std::marker::PhantomData;
use std::os::fd::AsRawFd;

const fn fourcc(c: &[u8; 4]) -> u32 {
    u32::from_le_bytes(*c)
}
pub(super) const YUYV: u32 = fourcc(b"YUYV");
pub(super) const MJPEG: u32 = fourcc(b"MJPG");

pub(super) const BUF_TYPE_VIDEO_CAPTURE: u32 = 1;
pub(super) const MEMORY_MMAP: u32 = 1;
pub(super) const FIELD_NONE: u32 = 1;
pub(super) const CAP_VIDEO_CAPTURE: u32 = 0x1;
pub(super) const CAP_STREAMING: u32 = 0x0400_0000;
pub(super) const CAP_DEVICE_CAPS: u32 = 0x8000_0000;
pub(super) const CAP_TIMEPERFRAME: u32 = 0x1000;
pub(super) const BUF_FLAG_ERROR: u32 = 0x40;

#[repr(C)]
#[derive(Default)]
pub(super) struct Capability {
    pub(super) driver: [u8; 16],
    pub(super) card: [u8; 32],
    pub(super) bus_info: [u8; 32],
    pub(super) version: u32,
    pub(super) capabilities: u32,
    pub(super) device_caps: u32,
    pub(super) reserved: [u32; 3],
}

#[repr(C)]
#[derive(Default)]
pub(super) struct FmtDesc {
    pub(super) index: u32,
    pub(super) kind: u32,
    pub(super) flags: u32,
    pub(super) description: [u8; 32],
    pub(super) pixelformat: u32,
    pub(super) mbus_code: u32,
    pub(super) reserved: [u32; 3],
}

#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct PixFormat {
    pub(super) width: u32,
    pub(super) height: u32,
    pub(super) pixelformat: u32,
    pub(super) field: u32,
    pub(super) bytesperline: u32,
    pub(super) sizeimage: u32,
    pub(super) colorspace: u32,
    pub(super) private: u32,
    pub(super) flags: u32,
    pub(super) ycbcr_enc: u32,
    pub(super) quantization: u32,
    pub(super) xfer_func: u32,
}

/// `struct v4l2_format` with its union read as the capture member: the
/// union holds pointers, hence the alignment after `kind`.
#[repr(C)]
pub(super) struct Format {
    pub(super) kind: u32,
    pub(super) align: [usize; 0],
    pub(super) pix: PixFormat,
    pub(super) rest: [u8; 200 - size_of::<PixFormat>()],
}

impl Format {
    pub(super) fn capture(pix: PixFormat) -> Format {
        Format { kind: BUF_TYPE_VIDEO_CAPTURE, align: [], pix, rest: [0; 200 - size_of::<PixFormat>()] }
    }
}

#[repr(C)]
#[derive(Default)]
pub(super) struct RequestBuffers {
    pub(super) count: u32,
    pub(super) kind: u32,
    pub(super) memory: u32,
    pub(super) capabilities: u32,
    pub(super) flags: u32,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub(super) union BufferM {
    pub(super) offset: u32,
    pub(super) userptr: libc::c_ulong,
}

#[repr(C)]
pub(super) struct Buffer {
    pub(super) index: u32,
    pub(super) kind: u32,
    pub(super) bytesused: u32,
    pub(super) flags: u32,
    pub(super) field: u32,
    pub(super) timestamp: libc::timeval,
    pub(super) timecode: [u32; 4],
    pub(super) sequence: u32,
    pub(super) memory: u32,
    pub(super) m: BufferM,
    pub(super) length: u32,
    pub(super) reserved2: u32,
    pub(super) request_fd: u32,
}

impl Buffer {
    pub(super) fn mmap(index: u32) -> Buffer {
        Buffer {
            index,
            kind: BUF_TYPE_VIDEO_CAPTURE,
            bytesused: 0,
            flags: 0,
            field: 0,
            timestamp: libc::timeval { tv_sec: 0, tv_usec: 0 },
            timecode: [0; 4],
            sequence: 0,
            memory: MEMORY_MMAP,
            m: BufferM { userptr: 0 },
            length: 0,
            reserved2: 0,
            request_fd: 0,
        }
    }
}

/// `struct v4l2_streamparm` with its union read as the capture member.
#[repr(C)]
pub(super) struct StreamParm {
    pub(super) kind: u32,
    pub(super) capability: u32,
    pub(super) capturemode: u32,
    pub(super) numerator: u32,
    pub(super) denominator: u32,
    pub(super) extendedmode: u32,
    pub(super) readbuffers: u32,
    pub(super) reserved: [u32; 4],
    pub(super) rest: [u8; 160],
}

/// An ioctl request number and the one type it reads or writes, so a call
/// cannot pass the wrong structure.
pub(super) struct Request<T>(u32, PhantomData<T>);

const fn request<T>(dir: u32, nr: u32) -> Request<T> {
    Request(dir << 30 | (size_of::<T>() as u32) << 16 | (b'V' as u32) << 8 | nr, PhantomData)
}
const WRITE: u32 = 1;
const READ: u32 = 2;

pub(super) const QUERYCAP: Request<Capability> = request(READ, 0);
pub(super) const ENUM_FMT: Request<FmtDesc> = request(READ | WRITE, 2);
pub(super) const S_FMT: Request<Format> = request(READ | WRITE, 5);
pub(super) const REQBUFS: Request<RequestBuffers> = request(READ | WRITE, 8);
pub(super) const QUERYBUF: Request<Buffer> = request(READ | WRITE, 9);
pub(super) const QBUF: Request<Buffer> = request(READ | WRITE, 15);
pub(super) const DQBUF: Request<Buffer> = request(READ | WRITE, 17);
pub(super) const STREAMON: Request<libc::c_int> = request(WRITE, 18);
pub(super) const STREAMOFF: Request<libc::c_int> = request(WRITE, 19);
pub(super) const S_PARM: Request<StreamParm> = request(READ | WRITE, 22);
pub(super) const TRY_FMT: Request<Format> = request(READ | WRITE, 64);

pub(super) fn ioctl<T>(file: &File, req: &Request<T>, arg: &mut T) -> io::Result<()> {
    loop {
        // SAFETY: `arg` is a live, exclusively borrowed `T`, and `req` is the
        // request whose number encodes `T`'s size and direction (the tests
        // check them against the kernel's header), so the driver reads and
        // writes only within it. The descriptor is `file`'s, open for the call.
        #[allow(unsafe_code)]
        let rc = unsafe { libc::ioctl(file.as_raw_fd(), req.0 as _, arg as *mut T) };
        if rc != -1 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn structures_and_requests_match_the_kernel_header() {
        // From <linux/videodev2.h> on x86-64 (sizeof and the VIDIOC_* values).
        assert_eq!(size_of::<Capability>(), 104);
        assert_eq!(size_of::<FmtDesc>(), 64);
        assert_eq!(size_of::<Format>(), 208);
        assert_eq!(std::mem::offset_of!(Format, pix), 8);
        assert_eq!(size_of::<RequestBuffers>(), 20);
        assert_eq!(size_of::<Buffer>(), 88);
        assert_eq!(std::mem::offset_of!(Buffer, sequence), 56);
        assert_eq!(std::mem::offset_of!(Buffer, m), 64);
        assert_eq!(std::mem::offset_of!(Buffer, length), 72);
        assert_eq!(size_of::<StreamParm>(), 204);
        assert_eq!(QUERYCAP.0, 0x80685600);
        assert_eq!(ENUM_FMT.0, 0xc0405602);
        assert_eq!(S_FMT.0, 0xc0d05605);
        assert_eq!(TRY_FMT.0, 0xc0d05640);
        assert_eq!(REQBUFS.0, 0xc0145608);
        assert_eq!(QUERYBUF.0, 0xc0585609);
        assert_eq!(QBUF.0, 0xc058560f);
        assert_eq!(DQBUF.0, 0xc0585611);
        assert_eq!(STREAMON.0, 0x40045612);
        assert_eq!(STREAMOFF.0, 0x40045613);
        assert_eq!(S_PARM.0, 0xc0cc5616);
        assert_eq!((YUYV, MJPEG), (0x56595559, 0x47504a4d));
    }
}
