//! Cameras through Video4Linux2, with the few ioctls it takes written here
//! (the `v4l` crate generates its bindings with bindgen, which needs
//! libclang on every machine that builds us).
//!
//! A camera is asked for 640×360 at 30 frames a second (the driver gives
//! the nearest size it has), in YUYV, else MJPEG: YUYV costs no decoding,
//! but some cameras only reach 30 fps in MJPEG, which is then taken
//! instead. Four buffers are mapped from the driver; a grab takes the
//! newest filled one, converts it to BGRX and gives it back.
//!
//! The structures follow `<linux/videodev2.h>` for 64- and 32-bit Linux
//! (the tests check sizes and request numbers against the header's on
//! x86-64); the request numbers use the common encoding (x86, ARM, RISC-V),
//! not that of PowerPC, MIPS or SPARC.

use std::fs::{File, OpenOptions};
use std::io;
use std::marker::PhantomData;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use image::ImageDecoder;

use super::{Available, Kind, Picture, Source, SourceError};

const WIDTH: u32 = 640;
const HEIGHT: u32 = 360;
const FPS: u32 = 30;
const BUFFERS: u32 = 4;

const fn fourcc(c: &[u8; 4]) -> u32 {
    u32::from_le_bytes(*c)
}
const YUYV: u32 = fourcc(b"YUYV");
const MJPEG: u32 = fourcc(b"MJPG");

const BUF_TYPE_VIDEO_CAPTURE: u32 = 1;
const MEMORY_MMAP: u32 = 1;
const FIELD_NONE: u32 = 1;
const CAP_VIDEO_CAPTURE: u32 = 0x1;
const CAP_STREAMING: u32 = 0x0400_0000;
const CAP_DEVICE_CAPS: u32 = 0x8000_0000;
const CAP_TIMEPERFRAME: u32 = 0x1000;
const BUF_FLAG_ERROR: u32 = 0x40;

#[repr(C)]
#[derive(Default)]
struct Capability {
    driver: [u8; 16],
    card: [u8; 32],
    bus_info: [u8; 32],
    version: u32,
    capabilities: u32,
    device_caps: u32,
    reserved: [u32; 3],
}

#[repr(C)]
#[derive(Default)]
struct FmtDesc {
    index: u32,
    kind: u32,
    flags: u32,
    description: [u8; 32],
    pixelformat: u32,
    mbus_code: u32,
    reserved: [u32; 3],
}

#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
struct PixFormat {
    width: u32,
    height: u32,
    pixelformat: u32,
    field: u32,
    bytesperline: u32,
    sizeimage: u32,
    colorspace: u32,
    private: u32,
    flags: u32,
    ycbcr_enc: u32,
    quantization: u32,
    xfer_func: u32,
}

/// `struct v4l2_format` with its union read as the capture member: the
/// union holds pointers, hence the alignment after `kind`.
#[repr(C)]
struct Format {
    kind: u32,
    align: [usize; 0],
    pix: PixFormat,
    rest: [u8; 200 - size_of::<PixFormat>()],
}

impl Format {
    fn capture(pix: PixFormat) -> Format {
        Format { kind: BUF_TYPE_VIDEO_CAPTURE, align: [], pix, rest: [0; 200 - size_of::<PixFormat>()] }
    }
}

#[repr(C)]
#[derive(Default)]
struct RequestBuffers {
    count: u32,
    kind: u32,
    memory: u32,
    capabilities: u32,
    flags: u32,
}

#[repr(C)]
#[derive(Clone, Copy)]
union BufferM {
    offset: u32,
    userptr: libc::c_ulong,
}

#[repr(C)]
struct Buffer {
    index: u32,
    kind: u32,
    bytesused: u32,
    flags: u32,
    field: u32,
    timestamp: libc::timeval,
    timecode: [u32; 4],
    sequence: u32,
    memory: u32,
    m: BufferM,
    length: u32,
    reserved2: u32,
    request_fd: u32,
}

impl Buffer {
    fn mmap(index: u32) -> Buffer {
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
struct StreamParm {
    kind: u32,
    capability: u32,
    capturemode: u32,
    numerator: u32,
    denominator: u32,
    extendedmode: u32,
    readbuffers: u32,
    reserved: [u32; 4],
    rest: [u8; 160],
}

/// An ioctl request number and the one type it reads or writes, so a call
/// cannot pass the wrong structure.
struct Request<T>(u32, PhantomData<T>);

const fn request<T>(dir: u32, nr: u32) -> Request<T> {
    Request(dir << 30 | (size_of::<T>() as u32) << 16 | (b'V' as u32) << 8 | nr, PhantomData)
}
const WRITE: u32 = 1;
const READ: u32 = 2;

const QUERYCAP: Request<Capability> = request(READ, 0);
const ENUM_FMT: Request<FmtDesc> = request(READ | WRITE, 2);
const S_FMT: Request<Format> = request(READ | WRITE, 5);
const REQBUFS: Request<RequestBuffers> = request(READ | WRITE, 8);
const QUERYBUF: Request<Buffer> = request(READ | WRITE, 9);
const QBUF: Request<Buffer> = request(READ | WRITE, 15);
const DQBUF: Request<Buffer> = request(READ | WRITE, 17);
const STREAMON: Request<libc::c_int> = request(WRITE, 18);
const STREAMOFF: Request<libc::c_int> = request(WRITE, 19);
const S_PARM: Request<StreamParm> = request(READ | WRITE, 22);
const TRY_FMT: Request<Format> = request(READ | WRITE, 64);

fn ioctl<T>(file: &File, req: &Request<T>, arg: &mut T) -> io::Result<()> {
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

fn text(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).trim().to_string()
}

fn fourcc_name(f: u32) -> String {
    f.to_le_bytes().iter().map(|&b| if b.is_ascii_graphic() { char::from(b) } else { '?' }).collect::<String>().trim().to_string()
}

/// A camera found in /dev.
#[derive(Debug, Clone)]
struct Device {
    path: PathBuf,
    name: String,
}

fn open_file(path: &Path) -> io::Result<File> {
    OpenOptions::new().read(true).write(true).custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC).open(path)
}

/// The video capture devices in `dir` (`/dev`), in number order, named by
/// their card name (" (2)" and on when two cameras share one). Metadata
/// nodes, encoders and output devices are left out.
fn devices_in(dir: &Path) -> Vec<Device> {
    let mut nodes: Vec<(u32, PathBuf)> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    let name = e.file_name().into_string().ok()?;
                    let n = name.strip_prefix("video")?.parse().ok()?;
                    Some((n, e.path()))
                })
                .collect()
        })
        .unwrap_or_default();
    nodes.sort();
    let mut found: Vec<Device> = Vec::new();
    for (_, path) in nodes {
        let Ok(file) = open_file(&path) else { continue };
        let mut cap = Capability::default();
        if ioctl(&file, &QUERYCAP, &mut cap).is_err() {
            continue;
        }
        let caps = if cap.capabilities & CAP_DEVICE_CAPS != 0 { cap.device_caps } else { cap.capabilities };
        if caps & CAP_VIDEO_CAPTURE == 0 || caps & CAP_STREAMING == 0 {
            continue;
        }
        let card = Some(text(&cap.card)).filter(|c| !c.is_empty()).unwrap_or_else(|| path.display().to_string());
        let mut name = card.clone();
        let mut k = 2;
        while found.iter().any(|d| d.name == name) {
            name = format!("{card} ({k})");
            k += 1;
        }
        found.push(Device { path, name });
    }
    found
}

/// The formats a camera offers.
fn formats(file: &File) -> Vec<u32> {
    let mut all = Vec::new();
    for index in 0..64 {
        let mut d = FmtDesc { index, kind: BUF_TYPE_VIDEO_CAPTURE, ..FmtDesc::default() };
        if ioctl(file, &ENUM_FMT, &mut d).is_err() {
            break;
        }
        all.push(d.pixelformat);
    }
    all
}

fn wanted(pixelformat: u32) -> PixFormat {
    PixFormat { width: WIDTH, height: HEIGHT, pixelformat, field: FIELD_NONE, ..PixFormat::default() }
}

/// The cameras, as `apero share list` shows them, with the size each would
/// give (asked of the driver without changing its state).
pub fn list() -> Vec<Available> {
    list_in(Path::new("/dev"))
}

fn list_in(dir: &Path) -> Vec<Available> {
    devices_in(dir)
        .into_iter()
        .map(|d| {
            let size = open_file(&d.path).ok().and_then(|f| {
                let offered = formats(&f);
                let pf = [YUYV, MJPEG].into_iter().find(|p| offered.contains(p))?;
                let mut fmt = Format::capture(wanted(pf));
                ioctl(&f, &TRY_FMT, &mut fmt).ok().map(|()| (fmt.pix.width, fmt.pix.height))
            });
            let (width, height) = size.unwrap_or((WIDTH, HEIGHT));
            Available { kind: "camera", id: format!("--camera {}", d.name), name: d.name, width, height }
        })
        .collect()
}

/// Opens the camera whose name (or device path) is or contains `name`
/// (case-insensitive), or the first one.
pub fn open(name: Option<&str>) -> Result<Box<dyn Source>, SourceError> {
    Ok(Box::new(open_in(Path::new("/dev"), name)?))
}

fn open_in(dir: &Path, name: Option<&str>) -> Result<Camera, SourceError> {
    let devices = devices_in(dir);
    let device = match name {
        None => devices.first(),
        Some(n) => {
            let lc = n.to_lowercase();
            devices
                .iter()
                .find(|d| d.name.to_lowercase() == lc || d.path.as_os_str() == n)
                .or_else(|| devices.iter().find(|d| d.name.to_lowercase().contains(&lc)))
        }
    };
    let Some(device) = device else {
        return Err(SourceError::NotFound(match (name, devices.len()) {
            (_, 0) => "no camera found (no video capture device in /dev)".into(),
            (Some(n), _) => {
                let names: Vec<_> = devices.iter().map(|d| format!("“{}”", d.name)).collect();
                format!("no camera called “{n}”: there is {}", names.join(", "))
            }
            (None, _) => "no camera found".into(),
        }));
    };
    Camera::open(device)
}

/// One buffer the driver shares with us.
struct Mapping {
    ptr: *mut libc::c_void,
    len: usize,
}

// SAFETY: the mapping belongs to this value alone and has no tie to the
// thread that made it.
#[allow(unsafe_code)]
unsafe impl Send for Mapping {}

impl Mapping {
    fn new(file: &File, offset: u32, len: usize) -> io::Result<Mapping> {
        // SAFETY: a fresh shared mapping of the driver's buffer (offset and
        // length as QUERYBUF gave them); no memory of ours is touched.
        #[allow(unsafe_code)]
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                offset as libc::off_t,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Mapping { ptr, len })
    }

    /// The first `len` bytes; read between DQBUF and QBUF, while the driver
    /// leaves the buffer to us.
    fn bytes(&self, len: usize) -> &[u8] {
        // SAFETY: `ptr` maps `self.len` bytes for as long as `self` lives,
        // and `len` is clamped to it.
        #[allow(unsafe_code)]
        unsafe {
            std::slice::from_raw_parts(self.ptr.cast::<u8>(), len.min(self.len))
        }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `ptr` and `len` are the mapping made in `new`, and nothing
        // borrows it any more (`bytes` borrows `self`).
        #[allow(unsafe_code)]
        let _ = unsafe { libc::munmap(self.ptr, self.len) };
    }
}

pub struct Camera {
    name: String,
    pix: PixFormat,
    fps: u32,
    buffers: Vec<Mapping>,
    /// Decoded MJPEG pixels (RGB), kept between frames.
    rgb: Vec<u8>,
    // Last, so the buffers are unmapped before the device closes.
    file: File,
}

fn failed(device: &Device, what: &str, e: io::Error) -> SourceError {
    match e.raw_os_error() {
        Some(libc::EBUSY) => SourceError::Capture(format!("the camera “{}” is in use by another program", device.name)),
        Some(libc::ENODEV) => SourceError::NotFound(format!("the camera “{}” was disconnected", device.name)),
        _ => SourceError::Capture(format!("the camera “{}” ({}) refused {what}: {e}", device.name, device.path.display())),
    }
}

impl Camera {
    fn open(device: &Device) -> Result<Camera, SourceError> {
        let file = open_file(&device.path).map_err(|e| {
            if e.kind() == io::ErrorKind::PermissionDenied {
                SourceError::Capture(format!(
                    "cannot open {}: permission denied (is your user in the “video” group?)",
                    device.path.display()
                ))
            } else {
                SourceError::Capture(format!("cannot open {}: {e}", device.path.display()))
            }
        })?;
        let mut cap = Capability::default();
        ioctl(&file, &QUERYCAP, &mut cap).map_err(|e| failed(device, "to say what it is", e))?;
        let offered = formats(&file);
        let usable: Vec<u32> = [YUYV, MJPEG].into_iter().filter(|p| offered.contains(p)).collect();
        if usable.is_empty() {
            let names: Vec<_> = offered.iter().map(|&f| fourcc_name(f)).collect();
            return Err(SourceError::Capture(format!(
                "the camera “{}” offers no picture format apero reads (YUYV or MJPEG), only {}",
                device.name,
                if names.is_empty() { "none".into() } else { names.join(", ") }
            )));
        }
        let mut chosen = None;
        for &pf in &usable {
            let mut fmt = Format::capture(wanted(pf));
            ioctl(&file, &S_FMT, &mut fmt).map_err(|e| failed(device, "the picture format", e))?;
            let fps = if cap.capabilities & CAP_TIMEPERFRAME != 0 || cap.device_caps & CAP_TIMEPERFRAME != 0 {
                set_rate(&file, FPS)
            } else {
                FPS
            };
            chosen = Some((fmt.pix, fps));
            // YUYV is what the camera gives as it is, unless it cannot keep
            // up in it (then MJPEG, if there is, usually can).
            if fps * 5 >= FPS * 4 {
                break;
            }
        }
        let Some((pix, fps)) = chosen.filter(|(p, _)| usable.contains(&p.pixelformat)) else {
            return Err(SourceError::Capture(format!("the camera “{}” would not give YUYV or MJPEG", device.name)));
        };
        if pix.width == 0 || pix.height == 0 {
            return Err(SourceError::Capture(format!("the camera “{}” gave a picture of no size", device.name)));
        }
        let mut req = RequestBuffers { count: BUFFERS, kind: BUF_TYPE_VIDEO_CAPTURE, memory: MEMORY_MMAP, ..RequestBuffers::default() };
        ioctl(&file, &REQBUFS, &mut req).map_err(|e| failed(device, "its buffers", e))?;
        if req.count == 0 {
            return Err(SourceError::Capture(format!("the camera “{}” gave no buffers", device.name)));
        }
        let mut buffers = Vec::new();
        for i in 0..req.count {
            let mut b = Buffer::mmap(i);
            ioctl(&file, &QUERYBUF, &mut b).map_err(|e| failed(device, "its buffers", e))?;
            // SAFETY: for MMAP buffers the driver fills `offset`.
            #[allow(unsafe_code)]
            let offset = unsafe { b.m.offset };
            buffers.push(Mapping::new(&file, offset, b.length as usize).map_err(|e| failed(device, "its buffers", e))?);
            ioctl(&file, &QBUF, &mut b).map_err(|e| failed(device, "its buffers", e))?;
        }
        let mut kind = BUF_TYPE_VIDEO_CAPTURE as libc::c_int;
        ioctl(&file, &STREAMON, &mut kind).map_err(|e| failed(device, "to start", e))?;
        Ok(Camera { name: device.name.clone(), pix, fps, buffers, rgb: Vec::new(), file })
    }

    fn closed(&self) -> SourceError {
        SourceError::NotFound(format!("the camera “{}” was disconnected", self.name))
    }

    /// Waits up to `ms` for a filled buffer; takes the newest when several
    /// are, giving the older ones back.
    fn dequeue(&mut self, ms: i32) -> Result<Option<Buffer>, SourceError> {
        let mut poll = libc::pollfd { fd: self.file.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: one pollfd, ours, for the length of the call.
        #[allow(unsafe_code)]
        let n = unsafe { libc::poll(&mut poll, 1, ms) };
        if n < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::Interrupted {
                Ok(None)
            } else {
                Err(SourceError::Capture(format!("waiting for the camera: {e}")))
            };
        }
        let mut newest: Option<Buffer> = None;
        loop {
            let mut b = Buffer::mmap(0);
            match ioctl(&self.file, &DQBUF, &mut b) {
                Ok(()) => {
                    if let Some(mut old) = newest.replace(b) {
                        ioctl(&self.file, &QBUF, &mut old).map_err(|e| self.requeue_failed(e))?;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(newest),
                Err(e) if e.raw_os_error() == Some(libc::ENODEV) => return Err(self.closed()),
                Err(e) => {
                    // EIO and the like: a bad frame; the next one may be good.
                    return if newest.is_some() { Ok(newest) } else { Err(SourceError::Capture(format!("the camera failed: {e}"))) };
                }
            }
        }
    }

    fn requeue_failed(&self, e: io::Error) -> SourceError {
        if e.raw_os_error() == Some(libc::ENODEV) {
            self.closed()
        } else {
            SourceError::Capture(format!("giving a buffer back to the camera: {e}"))
        }
    }

    fn convert(&mut self, b: &Buffer, into: &mut Picture) -> bool {
        let Some(map) = self.buffers.get(b.index as usize) else { return false };
        let data = map.bytes(b.bytesused as usize);
        match self.pix.pixelformat {
            YUYV => yuyv_to_bgrx(data, self.pix.width, self.pix.height, self.pix.bytesperline as usize, into),
            _ => mjpeg_to_bgrx(data, &mut self.rgb, into).is_ok(),
        }
    }
}

/// Asks for `fps` frames a second; what the driver settled on.
fn set_rate(file: &File, fps: u32) -> u32 {
    let mut p = StreamParm {
        kind: BUF_TYPE_VIDEO_CAPTURE,
        capability: 0,
        capturemode: 0,
        numerator: 1,
        denominator: fps,
        extendedmode: 0,
        readbuffers: 0,
        reserved: [0; 4],
        rest: [0; 160],
    };
    match ioctl(file, &S_PARM, &mut p) {
        Ok(()) if p.numerator > 0 && p.denominator > 0 => (p.denominator / p.numerator).max(1),
        _ => fps,
    }
}

impl Source for Camera {
    fn kind(&self) -> Kind {
        Kind::Camera
    }

    fn describe(&self) -> String {
        format!("camera “{}”", self.name)
    }

    fn max_fps(&self) -> u32 {
        self.fps
    }

    fn grab(&mut self, into: &mut Picture) -> Result<bool, SourceError> {
        // About one frame's time, and a little more.
        let wait = (1500 / self.fps.max(1)) as i32;
        let Some(mut b) = self.dequeue(wait)? else { return Ok(false) };
        let good = b.flags & BUF_FLAG_ERROR == 0 && b.bytesused > 0 && self.convert(&b, into);
        ioctl(&self.file, &QBUF, &mut b).map_err(|e| self.requeue_failed(e))?;
        if good {
            into.captured = Instant::now();
        }
        Ok(good)
    }
}

impl Drop for Camera {
    fn drop(&mut self) {
        let mut kind = BUF_TYPE_VIDEO_CAPTURE as libc::c_int;
        let _ = ioctl(&self.file, &STREAMOFF, &mut kind);
    }
}

/// YUYV (4:2:2, BT.601 video range, as webcams send it) to BGRX; `false`
/// for a short frame.
fn yuyv_to_bgrx(src: &[u8], width: u32, height: u32, stride: usize, into: &mut Picture) -> bool {
    let (w, h) = (width as usize, height as usize);
    let stride = stride.max(w * 2);
    if h == 0 || src.len() < stride * (h - 1) + w * 2 {
        return false;
    }
    into.resize(width, height);
    for y in 0..h {
        let line = &src[y * stride..y * stride + w * 2];
        let out = &mut into.data[y * into.stride..y * into.stride + w * 4];
        for (yuyv, px) in line.chunks_exact(4).zip(out.chunks_exact_mut(8)) {
            let (u, v) = (i32::from(yuyv[1]) - 128, i32::from(yuyv[3]) - 128);
            for (i, luma) in [yuyv[0], yuyv[2]].into_iter().enumerate() {
                let c = 298 * (i32::from(luma) - 16);
                let clip = |x: i32| ((x + 128) >> 8).clamp(0, 255) as u8;
                px[i * 4..i * 4 + 4].copy_from_slice(&[clip(c + 516 * u), clip(c - 100 * u - 208 * v), clip(c + 409 * v), 255]);
            }
        }
        if w % 2 == 1 && w > 1 {
            // An odd width: the last pixel from the last pair's first luma.
            let last = &out[(w - 1) * 4 - 4..(w - 1) * 4];
            let copy: [u8; 4] = [last[0], last[1], last[2], last[3]];
            out[(w - 1) * 4..].copy_from_slice(&copy);
        }
    }
    true
}

/// The Huffman tables of the JPEG standard (Annex K), which many cameras
/// leave out of their MJPEG frames: bits (codes of each length 1–16), then
/// the symbols of the shorter codes; the 16-bit codes take the remaining
/// symbols in order.
const DC_BITS: [[u8; 16]; 2] = [[0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0], [0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0]];
const AC_BITS: [[u8; 16]; 2] = [[0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d], [0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77]];
const AC_SHORT: [&[u8]; 2] = [
    &[
        0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07, 0x22, 0x71, 0x14, 0x32, 0x81, 0x91,
        0xa1, 0x08, 0x23, 0x42, 0xb1, 0xc1, 0x15, 0x52, 0xd1, 0xf0, 0x24, 0x33, 0x62, 0x72, 0x82,
    ],
    &[
        0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61, 0x71, 0x13, 0x22, 0x32, 0x81, 0x08, 0x14,
        0x42, 0x91, 0xa1, 0xb1, 0xc1, 0x09, 0x23, 0x33, 0x52, 0xf0, 0x15, 0x62, 0x72, 0xd1, 0x0a, 0x16, 0x24, 0x34, 0xe1, 0x25, 0xf1,
    ],
];

/// A DHT segment with the standard tables.
fn standard_dht() -> Vec<u8> {
    let mut body = Vec::new();
    for t in 0..2u8 {
        body.push(t);
        body.extend_from_slice(&DC_BITS[t as usize]);
        body.extend(0..12u8);
        body.push(0x10 | t);
        body.extend_from_slice(&AC_BITS[t as usize]);
        body.extend_from_slice(AC_SHORT[t as usize]);
        // Every AC symbol: end of block, sixteen zeros, a run of 0–15
        // zeros then a coefficient of 1–10 bits.
        let all = [0x00, 0xf0].into_iter().chain((0..16u8).flat_map(|run| (1..=10u8).map(move |size| run << 4 | size)));
        let mut rest: Vec<u8> = all.filter(|s| !AC_SHORT[t as usize].contains(s)).collect();
        rest.sort_unstable();
        body.extend(rest);
    }
    let mut dht = vec![0xff, 0xc4];
    dht.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
    dht.extend(body);
    dht
}

/// Whether a JPEG carries its own Huffman tables (before its first scan).
fn has_dht(jpeg: &[u8]) -> bool {
    let mut i = 2;
    while i + 4 <= jpeg.len() && jpeg[i] == 0xff {
        match jpeg[i + 1] {
            0xc4 => return true,
            0xda => return false,
            0xff => i += 1,
            _ => i += 2 + usize::from(u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]])),
        }
    }
    false
}

fn mjpeg_to_bgrx(jpeg: &[u8], rgb: &mut Vec<u8>, into: &mut Picture) -> Result<(), image::ImageError> {
    let patched;
    let jpeg = if jpeg.starts_with(&[0xff, 0xd8]) && !has_dht(jpeg) {
        patched = [&jpeg[..2], &standard_dht(), &jpeg[2..]].concat();
        &patched[..]
    } else {
        jpeg
    };
    let decoder = image::codecs::jpeg::JpegDecoder::new(io::Cursor::new(jpeg))?;
    let (w, h) = decoder.dimensions();
    let channels = usize::from(decoder.color_type().bytes_per_pixel());
    rgb.resize(decoder.total_bytes() as usize, 0);
    decoder.read_image(rgb)?;
    into.resize(w, h);
    for (src, px) in rgb.chunks_exact(channels).zip(into.data.chunks_exact_mut(4)) {
        let (r, g, b) = if channels >= 3 { (src[0], src[1], src[2]) } else { (src[0], src[0], src[0]) };
        px.copy_from_slice(&[b, g, r, 255]);
    }
    Ok(())
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

    #[test]
    fn no_devices_list_nothing_and_open_says_so() {
        let dir = tempfile::tempdir().unwrap();
        // Not cameras: a character device that is no V4L2 device, and a file.
        std::os::unix::fs::symlink("/dev/null", dir.path().join("video0")).unwrap();
        std::fs::write(dir.path().join("video1"), b"").unwrap();
        assert!(list_in(dir.path()).is_empty());
        let e = open_in(dir.path(), None).err().unwrap();
        assert_eq!(e.to_string(), "no camera found (no video capture device in /dev)");
        assert!(open_in(dir.path(), Some("Logitech")).is_err());
        // This machine's own /dev (no camera in CI): listing must not fail.
        let _ = list();
    }

    #[test]
    fn yuyv_becomes_bgrx() {
        // Two pixel pairs: black and white (grey chroma), then pure red.
        let src = [16, 128, 235, 128, 81, 90, 81, 240];
        let mut p = Picture::new(1, 1);
        assert!(yuyv_to_bgrx(&src, 4, 1, 8, &mut p));
        assert_eq!((p.width, p.height), (4, 1));
        assert_eq!(&p.data[0..4], &[0, 0, 0, 255]);
        assert_eq!(&p.data[4..8], &[255, 255, 255, 255]);
        let red = &p.data[8..12];
        assert!(red[2] > 240 && red[1] < 10 && red[0] < 10, "{red:?}");
        assert!(!yuyv_to_bgrx(&src[..6], 4, 1, 8, &mut p), "a short frame is refused");
    }

    #[test]
    fn mjpeg_without_huffman_tables_decodes() {
        let (w, h) = (64u32, 48u32);
        let rgb: Vec<u8> = (0..w * h).flat_map(|i| [(i % w * 4) as u8, (i / w * 5) as u8, 200]).collect();
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90).encode(&rgb, w, h, image::ExtendedColorType::Rgb8).unwrap();
        let mut full = Picture::new(1, 1);
        mjpeg_to_bgrx(&jpeg, &mut Vec::new(), &mut full).unwrap();
        assert_eq!((full.width, full.height), (w, h));
        let px = &full.data[(10 * w as usize + 20) * 4..][..4];
        assert!(px[0].abs_diff(200) < 8 && px[1].abs_diff(50) < 8 && px[2].abs_diff(80) < 8, "{px:?}");
        // The same frame as a camera sends it: its DHT segments cut out.
        assert!(has_dht(&jpeg));
        let mut stripped = jpeg[..2].to_vec();
        let mut i = 2;
        while jpeg[i + 1] != 0xda {
            let len = 2 + usize::from(u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]));
            if jpeg[i + 1] != 0xc4 {
                stripped.extend_from_slice(&jpeg[i..i + len]);
            }
            i += len;
        }
        stripped.extend_from_slice(&jpeg[i..]);
        assert!(!has_dht(&stripped));
        let mut bare = Picture::new(1, 1);
        mjpeg_to_bgrx(&stripped, &mut Vec::new(), &mut bare).unwrap();
        assert_eq!(bare.data, full.data);
        assert!(mjpeg_to_bgrx(&[0xff, 0xd8, 0xff], &mut Vec::new(), &mut bare).is_err());
    }
}
