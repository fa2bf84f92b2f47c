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
//! `ioctl` holds the kernel's structures and requests, `convert` turns
//! frames into BGRX; finding, opening and reading cameras is here.

mod convert;
mod ioctl;

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use self::convert::{mjpeg_to_bgrx, yuyv_to_bgrx};
use self::ioctl::{
    ioctl, Buffer, Capability, FmtDesc, Format, PixFormat, RequestBuffers, StreamParm, BUF_FLAG_ERROR, BUF_TYPE_VIDEO_CAPTURE,
    CAP_DEVICE_CAPS, CAP_STREAMING, CAP_TIMEPERFRAME, CAP_VIDEO_CAPTURE, DQBUF, ENUM_FMT, FIELD_NONE, MEMORY_MMAP, MJPEG, QBUF, QUERYBUF,
    QUERYCAP, REQBUFS, STREAMOFF, STREAMON, S_FMT, S_PARM, TRY_FMT, YUYV,
};
use super::{Available, Kind, Picture, Source, SourceError};

const WIDTH: u32 = 640;
const HEIGHT: u32 = 360;
const FPS: u32 = 30;
const BUFFERS: u32 = 4;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
