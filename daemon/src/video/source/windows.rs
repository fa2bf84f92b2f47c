//! Screens and windows on Windows. NOT BUILT: written against the `windows`
//! crate 0.62 on a Linux machine that cannot compile it (no Windows target
//! or SDK), so expect small fixes to names and signatures on the first
//! Windows build. The shape is the tested X11 source's.
//!
//! Screens come through DXGI desktop duplication (Windows 8 and later): the
//! compositor hands over a GPU texture only when something changed, which
//! is copied to a CPU-readable one and read as BGRA. Windows come through
//! `PrintWindow` with `PW_RENDERFULLCONTENT` (Windows 8.1 and later), which
//! asks the window itself to draw into our bitmap, so it works when the
//! window is covered (Windows.Graphics.Capture would too, at the price of
//! WinRT and a frame pool).

#![cfg(target_os = "windows")]

use std::time::Instant;

use ::windows::core::Interface;
use ::windows::Win32::Foundation::{HMODULE, HWND, LPARAM, RECT};
use ::windows::Win32::Graphics::Direct3D::D3D_DRIVER_TYPE_UNKNOWN;
use ::windows::Win32::Graphics::Direct3D11::{
    D3D11CreateDevice, ID3D11Device, ID3D11DeviceContext, ID3D11Texture2D, D3D11_CPU_ACCESS_READ, D3D11_CREATE_DEVICE_BGRA_SUPPORT,
    D3D11_MAPPED_SUBRESOURCE, D3D11_MAP_READ, D3D11_SDK_VERSION, D3D11_TEXTURE2D_DESC, D3D11_USAGE_STAGING,
};
use ::windows::Win32::Graphics::Dxgi::{
    CreateDXGIFactory1, IDXGIAdapter1, IDXGIFactory1, IDXGIOutput, IDXGIOutput1, IDXGIOutputDuplication, IDXGIResource,
    DXGI_ERROR_ACCESS_LOST, DXGI_ERROR_WAIT_TIMEOUT, DXGI_OUTDUPL_FRAME_INFO,
};
use ::windows::Win32::Graphics::Gdi::{
    CreateCompatibleBitmap, CreateCompatibleDC, DeleteDC, DeleteObject, GetDC, GetDIBits, ReleaseDC, SelectObject, BITMAPINFO,
    BITMAPINFOHEADER, BI_RGB, DIB_RGB_COLORS,
};
use ::windows::Win32::Storage::Xps::{PrintWindow, PRINT_WINDOW_FLAGS};
use ::windows::Win32::UI::WindowsAndMessaging::{EnumWindows, GetClientRect, GetWindowTextW, IsIconic, IsWindow, IsWindowVisible};

use super::{Available, Kind, Pick, Picture, Source, SourceError};

const FPS: u32 = 15;
const MIN_WINDOW: i32 = 64;
/// `PW_RENDERFULLCONTENT`: draw DirectComposition content (browsers, modern
/// apps) too, which a plain PrintWindow leaves black.
const PW_RENDERFULLCONTENT: PRINT_WINDOW_FLAGS = PRINT_WINDOW_FLAGS(2);

fn failed(what: &str, e: ::windows::core::Error) -> SourceError {
    SourceError::Capture(format!("{what}: {e}"))
}

/// Every output of every adapter, in the order DXGI gives them.
fn outputs() -> Vec<(IDXGIAdapter1, IDXGIOutput, RECT)> {
    let mut all = Vec::new();
    // SAFETY: COM calls on objects the windows crate owns and releases; the
    // descriptions are plain structures it fills.
    #[allow(unsafe_code)]
    unsafe {
        let Ok(factory) = CreateDXGIFactory1::<IDXGIFactory1>() else { return all };
        for a in 0.. {
            let Ok(adapter) = factory.EnumAdapters1(a) else { break };
            for o in 0.. {
                let Ok(output) = adapter.EnumOutputs(o) else { break };
                if let Ok(desc) = output.GetDesc() {
                    if desc.AttachedToDesktop.as_bool() {
                        all.push((adapter.clone(), output, desc.DesktopCoordinates));
                    }
                }
            }
        }
    }
    all
}

fn size(r: &RECT) -> (u32, u32) {
    ((r.right - r.left).max(0) as u32, (r.bottom - r.top).max(0) as u32)
}

/// Visible, titled top-level windows at least 64×64, not minimised.
fn windows() -> Vec<(HWND, String, u32, u32)> {
    extern "system" fn each(hwnd: HWND, found: LPARAM) -> ::windows::core::BOOL {
        // SAFETY: `found` is the Vec passed to EnumWindows below, alive and
        // not otherwise borrowed while it runs; the calls only read `hwnd`.
        #[allow(unsafe_code)]
        unsafe {
            let found = &mut *(found.0 as *mut Vec<(HWND, String, u32, u32)>);
            if IsWindowVisible(hwnd).as_bool() && !IsIconic(hwnd).as_bool() {
                let mut title = [0u16; 512];
                let n = GetWindowTextW(hwnd, &mut title);
                let mut r = RECT::default();
                if n > 0 && GetClientRect(hwnd, &mut r).is_ok() && r.right >= MIN_WINDOW && r.bottom >= MIN_WINDOW {
                    found.push((hwnd, String::from_utf16_lossy(&title[..n as usize]), r.right as u32, r.bottom as u32));
                }
            }
        }
        true.into()
    }
    let mut found: Vec<(HWND, String, u32, u32)> = Vec::new();
    // SAFETY: `each` gets a pointer to `found`, which outlives the call.
    #[allow(unsafe_code)]
    let _ = unsafe { EnumWindows(Some(each), LPARAM(&mut found as *mut _ as isize)) };
    found
}

pub fn list() -> Vec<Available> {
    let mut all: Vec<Available> = outputs()
        .iter()
        .enumerate()
        .map(|(n, (_, _, r))| {
            let (width, height) = size(r);
            Available { kind: "screen", id: format!("--screen {n}"), name: format!("Screen {n} ({width}×{height})"), width, height }
        })
        .collect();
    for (_, title, width, height) in windows() {
        all.push(Available { kind: "window", id: format!("--window {title}"), name: title, width, height });
    }
    all
}

pub fn open(pick: &Pick) -> Result<Box<dyn Source>, SourceError> {
    match pick {
        Pick::Screen(n) => {
            let mut all = outputs();
            let count = all.len();
            if *n >= count {
                return Err(SourceError::NotFound(format!("there is no screen {n}: this computer has {count}")));
            }
            let (adapter, output, _) = all.swap_remove(*n);
            Ok(Box::new(Screen::new(*n, adapter, output)?))
        }
        Pick::Window(wanted) => {
            let lc = wanted.to_lowercase();
            let all = windows();
            let hit = all.iter().find(|w| w.1.to_lowercase() == lc).or_else(|| all.iter().find(|w| w.1.to_lowercase().contains(&lc)));
            let Some((hwnd, title, _, _)) = hit else {
                return Err(SourceError::NotFound(format!("no window titled “{wanted}” is open (`apero share list` lists them)")));
            };
            Ok(Box::new(Window { hwnd: *hwnd, title: title.clone(), previous: Vec::new(), next: super::Pacer::default() }))
        }
        _ => Err(SourceError::Unsupported("this kind of capture on Windows")),
    }
}

/// A screen through desktop duplication.
struct Screen {
    n: usize,
    output: IDXGIOutput1,
    device: ID3D11Device,
    context: ID3D11DeviceContext,
    dup: Option<IDXGIOutputDuplication>,
    staging: Option<ID3D11Texture2D>,
    next: super::Pacer,
}

// SAFETY: D3D11 devices and DXGI objects are free-threaded; the immediate
// context is not, but only `grab` (`&mut self`) touches it, one thread at a
// time.
#[allow(unsafe_code)]
unsafe impl Send for Screen {}

impl Screen {
    fn new(n: usize, adapter: IDXGIAdapter1, output: IDXGIOutput) -> Result<Screen, SourceError> {
        let (mut device, mut context) = (None, None);
        // SAFETY: out-parameters are locals that outlive the call.
        #[allow(unsafe_code)]
        unsafe {
            D3D11CreateDevice(
                &adapter,
                D3D_DRIVER_TYPE_UNKNOWN,
                HMODULE::default(),
                D3D11_CREATE_DEVICE_BGRA_SUPPORT,
                None,
                D3D11_SDK_VERSION,
                Some(&mut device),
                None,
                Some(&mut context),
            )
        }
        .map_err(|e| failed("no Direct3D device", e))?;
        let (Some(device), Some(context)) = (device, context) else {
            return Err(SourceError::Capture("no Direct3D device".into()));
        };
        let output: IDXGIOutput1 = output.cast().map_err(|e| failed("desktop duplication needs Windows 8", e))?;
        let mut s = Screen { n, output, device, context, dup: None, staging: None, next: super::Pacer::default() };
        s.duplicate()?;
        Ok(s)
    }

    fn duplicate(&mut self) -> Result<(), SourceError> {
        // SAFETY: a COM call on live objects.
        #[allow(unsafe_code)]
        let dup = unsafe { self.output.DuplicateOutput(&self.device) };
        // E_ACCESSDENIED on the secure desktop (UAC, lock screen): try again
        // at the next grab.
        self.dup = dup.ok();
        Ok(())
    }
}

impl Source for Screen {
    fn kind(&self) -> Kind {
        Kind::Screen
    }
    fn describe(&self) -> String {
        format!("screen {}", self.n)
    }
    fn max_fps(&self) -> u32 {
        FPS
    }

    fn grab(&mut self, into: &mut Picture) -> Result<bool, SourceError> {
        self.next.wait(FPS);
        if self.dup.is_none() {
            self.duplicate()?;
        }
        let Some(dup) = self.dup.clone() else { return Ok(false) };
        let mut info = DXGI_OUTDUPL_FRAME_INFO::default();
        let mut resource: Option<IDXGIResource> = None;
        // SAFETY: COM calls on live objects; `info`, `resource`, `desc` and
        // `mapped` are locals they fill; the mapped rows are read only
        // between Map and Unmap, within RowPitch × Height bytes.
        #[allow(unsafe_code)]
        unsafe {
            match dup.AcquireNextFrame(0, &mut info, &mut resource) {
                Ok(()) => {}
                // Nothing new since the last frame.
                Err(e) if e.code() == DXGI_ERROR_WAIT_TIMEOUT => return Ok(false),
                // A mode change, a full-screen game, the secure desktop.
                Err(e) if e.code() == DXGI_ERROR_ACCESS_LOST => {
                    self.dup = None;
                    return Ok(false);
                }
                Err(e) => return Err(failed("desktop duplication failed", e)),
            }
            // Only the mouse moved: no new picture.
            if info.LastPresentTime == 0 {
                let _ = dup.ReleaseFrame();
                return Ok(false);
            }
            let texture: ID3D11Texture2D =
                resource.ok_or_else(|| SourceError::Capture("no frame".into()))?.cast().map_err(|e| failed("frame", e))?;
            let mut desc = D3D11_TEXTURE2D_DESC::default();
            texture.GetDesc(&mut desc);
            let fits = self.staging.as_ref().is_some_and(|s| {
                let mut d = D3D11_TEXTURE2D_DESC::default();
                s.GetDesc(&mut d);
                (d.Width, d.Height) == (desc.Width, desc.Height)
            });
            if !fits {
                let mut sd = desc;
                sd.Usage = D3D11_USAGE_STAGING;
                sd.CPUAccessFlags = D3D11_CPU_ACCESS_READ.0 as u32;
                sd.BindFlags = 0;
                sd.MiscFlags = 0;
                sd.MipLevels = 1;
                sd.ArraySize = 1;
                let mut staging = None;
                self.device.CreateTexture2D(&sd, None, Some(&mut staging)).map_err(|e| failed("staging texture", e))?;
                self.staging = staging;
            }
            let Some(staging) = &self.staging else { return Ok(false) };
            self.context.CopyResource(staging, &texture);
            let _ = dup.ReleaseFrame();
            let mut mapped = D3D11_MAPPED_SUBRESOURCE::default();
            self.context.Map(staging, 0, D3D11_MAP_READ, 0, Some(&mut mapped)).map_err(|e| failed("reading the frame", e))?;
            into.resize(desc.Width, desc.Height);
            let row = desc.Width as usize * 4;
            let src = std::slice::from_raw_parts(mapped.pData as *const u8, mapped.RowPitch as usize * desc.Height as usize);
            for (y, out) in into.data.chunks_exact_mut(into.stride).enumerate() {
                let o = y * mapped.RowPitch as usize;
                out[..row].copy_from_slice(&src[o..o + row]);
            }
            self.context.Unmap(staging, 0);
        }
        into.captured = Instant::now();
        Ok(true)
    }
}

/// A window through PrintWindow.
struct Window {
    hwnd: HWND,
    title: String,
    previous: Vec<u8>,
    next: super::Pacer,
}

// SAFETY: a window handle is a plain identifier, valid from any thread.
#[allow(unsafe_code)]
unsafe impl Send for Window {}

impl Source for Window {
    fn kind(&self) -> Kind {
        Kind::Screen
    }
    fn describe(&self) -> String {
        format!("window “{}”", self.title)
    }
    fn max_fps(&self) -> u32 {
        FPS
    }

    fn grab(&mut self, into: &mut Picture) -> Result<bool, SourceError> {
        self.next.wait(FPS);
        // SAFETY: GDI calls on a DC and bitmap made and freed here; GetDIBits
        // writes at most width × height × 4 bytes, the size of `into.data`.
        #[allow(unsafe_code)]
        unsafe {
            if !IsWindow(Some(self.hwnd)).as_bool() {
                return Err(SourceError::NotFound("the shared window was closed".into()));
            }
            let mut r = RECT::default();
            if IsIconic(self.hwnd).as_bool() || GetClientRect(self.hwnd, &mut r).is_err() || r.right <= 0 || r.bottom <= 0 {
                return Ok(false);
            }
            let (w, h) = (r.right, r.bottom);
            let screen = GetDC(None);
            let dc = CreateCompatibleDC(Some(screen));
            let bitmap = CreateCompatibleBitmap(screen, w, h);
            let old = SelectObject(dc, bitmap.into());
            // 1 = PW_CLIENTONLY: the client area, as GetClientRect measured.
            let drawn = PrintWindow(self.hwnd, dc, PRINT_WINDOW_FLAGS(1) | PW_RENDERFULLCONTENT).as_bool();
            SelectObject(dc, old);
            into.resize(w as u32, h as u32);
            let mut info = BITMAPINFO::default();
            info.bmiHeader = BITMAPINFOHEADER {
                biSize: size_of::<BITMAPINFOHEADER>() as u32,
                biWidth: w,
                biHeight: -h, // top-down rows
                biPlanes: 1,
                biBitCount: 32,
                biCompression: BI_RGB.0,
                ..Default::default()
            };
            let lines =
                if drawn { GetDIBits(dc, bitmap, 0, h as u32, Some(into.data.as_mut_ptr().cast()), &mut info, DIB_RGB_COLORS) } else { 0 };
            let _ = DeleteObject(bitmap.into());
            let _ = DeleteDC(dc);
            ReleaseDC(None, screen);
            if lines != h {
                return Ok(false);
            }
        }
        into.captured = Instant::now();
        if into.data == self.previous {
            return Ok(false);
        }
        self.previous.clone_from(&into.data);
        Ok(true)
    }
}
