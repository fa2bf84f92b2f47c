//! Shows the benchmark deck (bench/video_deck.sh's PNGs) on an X display's
//! root window, for bench/video.py: each slide for a while, then the long
//! page scrolling 12 px a frame at 15 fps. Every picture it draws carries
//! the frame counter (aperod::video::source::pattern::write_counter, one
//! more each draw), and each draw is logged as
//! `counter unix_us_after_draw what` (what: `slideN` or `page:OFFSET`), so
//! a viewer's decode trace (APERO_VIDEO_TRACE) gives glass-to-glass latency.
//!
//!     cargo run --release -p aperod --example deck_player -- target/video-deck \
//!         --display :99 --log /tmp/deck.log [--scenario all|slides|scroll] \
//!         [--slides 0,1,2,3] [--slide-secs 4] [--scroll-secs 15] [--fps 15] [--step 12] [--start-counter 1]
//!
//! The X server must run with -noreset (what was drawn stays when the
//! player's connection closes). Also, for the bench's sharpness figure:
//!
//!     deck_player psnr REF.png GOT.png
//!
//! prints `{"psnr_db": .., "counter": ..}`: the luma PSNR (the daemon's own
//! `psnr`) of GOT against REF with GOT's counter written into REF, as the
//! player would have shown it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aperod::video::codec::{psnr, Rgba};
use aperod::video::source::pattern::{read_counter, write_counter};
use aperod::video::source::Picture;
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{ConnectionExt, CreateGCAux, ImageFormat};

const W: u32 = 1920;
const H: u32 = 1080;

fn die(msg: &str) -> ! {
    eprintln!("deck_player: {msg}");
    std::process::exit(2)
}

/// A PNG as BGRX rows (what X11 and `Picture` hold).
fn load_bgrx(path: &Path) -> Picture {
    let img = image::open(path).unwrap_or_else(|e| die(&format!("{}: {e}", path.display()))).to_rgba8();
    let mut p = Picture::new(img.width(), img.height());
    for (dst, src) in p.data.chunks_exact_mut(4).zip(img.as_raw().chunks_exact(4)) {
        dst.copy_from_slice(&[src[2], src[1], src[0], 255]);
    }
    p
}

fn unix_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_micros() as u64
}

struct Screen {
    conn: x11rb::rust_connection::RustConnection,
    root: u32,
    gc: u32,
}

impl Screen {
    fn open(display: &str) -> Screen {
        let (conn, screen) = x11rb::connect(Some(display)).unwrap_or_else(|e| die(&format!("cannot reach {display}: {e}")));
        let root = conn.setup().roots[screen].root;
        let gc = conn.generate_id().unwrap();
        conn.create_gc(gc, root, &CreateGCAux::new()).unwrap();
        Screen { conn, root, gc }
    }

    /// Puts `p` on the root window, in strips (a request has a size limit),
    /// and waits until the server has it.
    fn show(&self, p: &Picture) {
        for top in (0..p.height).step_by(64) {
            let rows = 64.min(p.height - top);
            let start = top as usize * p.stride;
            let data = &p.data[start..start + rows as usize * p.stride];
            self.conn
                .put_image(ImageFormat::Z_PIXMAP, self.root, self.gc, p.width as u16, rows as u16, 0, top as i16, 0, 24, data)
                .unwrap();
        }
        x11rb::wrapper::ConnectionExt::sync(&self.conn).unwrap();
    }
}

struct Player {
    screen: Screen,
    log: std::fs::File,
    counter: u64,
    frame: Picture,
}

impl Player {
    /// Shows `src` rows `top..top+H` with the next counter, and logs it.
    fn draw(&mut self, src: &Picture, top: usize, what: &str) {
        let n = self.counter;
        self.frame.resize(W, H);
        let bytes = H as usize * self.frame.stride;
        self.frame.data.copy_from_slice(&src.data[top * src.stride..top * src.stride + bytes]);
        write_counter(&mut self.frame, n & 0xffff);
        self.screen.show(&self.frame);
        writeln!(self.log, "{} {} {what}", n & 0xffff, unix_us()).unwrap();
        self.log.flush().unwrap();
        self.counter += 1;
    }
}

fn sleep_until(t: Instant) {
    let now = Instant::now();
    if t > now {
        std::thread::sleep(t - now);
    }
}

fn psnr_cmd(args: &[String]) {
    let [reference, got] = args else { die("usage: deck_player psnr REF.png GOT.png") };
    let mut want = load_bgrx(Path::new(reference));
    let img = image::open(got).unwrap_or_else(|e| die(&format!("{got}: {e}"))).to_rgba8();
    let got = Rgba { width: img.width(), height: img.height(), data: img.into_raw() };
    let counter = read_counter(&got.data, got.width as usize * 4).unwrap_or(0);
    write_counter(&mut want, counter);
    let db = if (want.width, want.height) == (got.width, got.height) { psnr(&want, &got) } else { f64::NAN };
    println!(
        "{{\"psnr_db\": {}, \"counter\": {counter}, \"width\": {}, \"height\": {}}}",
        if db.is_nan() { "null".to_string() } else { format!("{db:.2}") },
        got.width,
        got.height
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("psnr") {
        return psnr_cmd(&args[1..]);
    }
    let (mut dir, mut display, mut log) = (None::<PathBuf>, None::<String>, None::<PathBuf>);
    let (mut scenario, mut slides) = ("all".to_string(), vec![0usize, 1, 2, 3]);
    let (mut slide_secs, mut scroll_secs, mut fps, mut step, mut counter) = (4.0f64, 15.0f64, 15.0f64, 12usize, 1u64);
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().unwrap_or_else(|| die(&format!("{a} needs a value")));
        match a.as_str() {
            "--display" => display = Some(val()),
            "--log" => log = Some(val().into()),
            "--scenario" => scenario = val(),
            "--slides" => {
                slides = val().split(',').filter(|s| !s.is_empty()).map(|s| s.parse().unwrap_or_else(|_| die("--slides 0,1,2,3"))).collect()
            }
            "--slide-secs" => slide_secs = val().parse().unwrap_or_else(|_| die("--slide-secs SECONDS")),
            "--scroll-secs" => scroll_secs = val().parse().unwrap_or_else(|_| die("--scroll-secs SECONDS")),
            "--fps" => fps = val().parse().unwrap_or_else(|_| die("--fps N")),
            "--step" => step = val().parse().unwrap_or_else(|_| die("--step PIXELS")),
            "--start-counter" => counter = val().parse().unwrap_or_else(|_| die("--start-counter N")),
            "-h" | "--help" => {
                println!("deck_player DIR --display :N --log FILE [--scenario all|slides|scroll] [--slides 0,1,2,3] [--slide-secs S] [--scroll-secs T] [--fps 15] [--step 12] [--start-counter N]\ndeck_player psnr REF.png GOT.png");
                return;
            }
            _ if dir.is_none() && !a.starts_with('-') => dir = Some(a.into()),
            _ => die(&format!("unknown argument {a} (--help)")),
        }
    }
    let dir = dir.unwrap_or_else(|| die("which folder holds slide0-3.png and page.png? (bench/video_deck.sh)"));
    let display = display.or_else(|| std::env::var("DISPLAY").ok()).unwrap_or_else(|| die("--display :N"));
    let log = log.unwrap_or_else(|| die("--log FILE"));
    let (do_slides, do_scroll) = match scenario.as_str() {
        "all" => (true, true),
        "slides" => (true, false),
        "scroll" => (false, true),
        _ => die("--scenario all|slides|scroll"),
    };
    // Everything is decoded before the first draw: drawing is then a copy and a PutImage.
    let slide_pics: Vec<(usize, Picture)> =
        if do_slides { slides.iter().map(|&n| (n, load_bgrx(&dir.join(format!("slide{n}.png"))))).collect() } else { Vec::new() };
    for (n, p) in &slide_pics {
        if (p.width, p.height) != (W, H) {
            die(&format!("slide{n}.png is {}×{}, not {W}×{H}", p.width, p.height));
        }
    }
    let page = do_scroll.then(|| load_bgrx(&dir.join("page.png")));
    if let Some(p) = &page {
        if p.width != W || p.height < H {
            die(&format!("page.png is {}×{}: want {W} wide and at least {H} high", p.width, p.height));
        }
    }
    let log = std::fs::OpenOptions::new().create(true).append(true).open(&log).unwrap_or_else(|e| die(&format!("{}: {e}", log.display())));
    let mut player = Player { screen: Screen::open(&display), log, counter, frame: Picture::new(W, H) };
    println!("READY");
    let _ = std::io::stdout().flush();
    for (n, p) in &slide_pics {
        let t = Instant::now();
        player.draw(p, 0, &format!("slide{n}"));
        sleep_until(t + Duration::from_secs_f64(slide_secs));
    }
    if let Some(p) = &page {
        let span = p.height as usize - H as usize;
        let frames = (scroll_secs * fps).round() as u64;
        let t0 = Instant::now();
        let mut top = 0usize;
        for k in 0..frames {
            sleep_until(t0 + Duration::from_secs_f64(k as f64 / fps));
            player.draw(p, top, &format!("page:{top}"));
            // Down the page, then from the top again.
            top = if top + step > span { 0 } else { top + step };
        }
    }
    counter = player.counter;
    eprintln!("deck_player: {} pictures drawn", counter);
}
