//! The screen codec's measurement (docs/video.md, "Choosing the codec"):
//! each candidate setting encodes the benchmark deck (bench/video_deck.sh)
//! as a share sends it — a slide change, a pause, then a page scrolling at
//! 15 fps — and prints encode and decode time per 1080p frame, the bitrate
//! of a slide that stays and of scrolling text, and the text's PSNR.
//!
//! cargo run --release -p aperod --example codecs -- target/video-deck [--runs 3]

use std::time::Instant;

use aperod::video::codec::{psnr, Codec, Decoder, Encoder, Rgba, Settings};
use aperod::video::source::Picture;

fn load(path: &std::path::Path) -> anyhow::Result<Picture> {
    let img = image::open(path)?.to_rgba8();
    let (w, h) = img.dimensions();
    let mut p = Picture::new(w, h);
    for (i, px) in img.pixels().enumerate() {
        p.data[i * 4..i * 4 + 4].copy_from_slice(&[px[2], px[1], px[0], 255]);
    }
    Ok(p)
}

fn crop(page: &Picture, top: u32, h: u32) -> Picture {
    let mut p = Picture::new(page.width, h);
    let (start, len) = (top as usize * page.stride, p.data.len());
    p.data.copy_from_slice(&page.data[start..start + len]);
    p
}

fn pct(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() - 1) as f64 * q).round() as usize]
}

struct Row {
    name: String,
    enc_ms: Vec<f64>,
    dec_ms: Vec<f64>,
    slide_bytes: Vec<usize>,
    slide_psnr: Vec<f64>,
    scroll_bytes: usize,
    scroll_frames: usize,
    scroll_psnr: Vec<f64>,
}

fn run(name: &str, s: Settings, slides: &[Picture], page: &Picture) -> anyhow::Result<Row> {
    let mut enc = Encoder::new(1920, 1080, s)?;
    let mut dec = Decoder::new(s.codec, 1)?;
    let mut out = Rgba::default();
    let mut row = Row {
        name: name.into(),
        enc_ms: vec![],
        dec_ms: vec![],
        slide_bytes: vec![],
        slide_psnr: vec![],
        scroll_bytes: 0,
        scroll_frames: 0,
        scroll_psnr: vec![],
    };
    let mut pts = 0i64;
    // As a share does: a change while things move keeps to the rate, the
    // frames after it (and keyframes) are sharp.
    let mut step = |p: &Picture, key: bool, moving: bool, row: &mut Row, out: &mut Rgba| -> anyhow::Result<usize> {
        enc.set_max_q(if moving { s.moving_max_q } else { s.max_q });
        let t = Instant::now();
        let f = enc.encode(p, pts, 66, key, false)?;
        row.enc_ms.push(t.elapsed().as_secs_f64() * 1e3);
        pts += 66;
        let Some(f) = f else { return Ok(0) };
        let t = Instant::now();
        dec.decode(&f.data, out)?;
        row.dec_ms.push(t.elapsed().as_secs_f64() * 1e3);
        Ok(f.data.len())
    };
    // Each slide: the change, then the two refinement frames a share sends
    // of the same picture before it goes quiet.
    for (i, slide) in slides.iter().enumerate() {
        let mut bytes = step(slide, i == 0, true, &mut row, &mut out)?;
        for _ in 0..2 {
            bytes += step(slide, false, false, &mut row, &mut out)?;
        }
        if i > 0 {
            row.slide_bytes.push(bytes);
        }
        row.slide_psnr.push(psnr(slide, &out));
    }
    // Scrolling: 12 px a frame at 15 fps (180 px/s, a reader's pace), 4 s.
    for n in 0..60u32 {
        let p = crop(page, n * 12, 1080);
        row.scroll_bytes += step(&p, false, true, &mut row, &mut out)?;
        row.scroll_frames += 1;
        if n % 10 == 9 {
            row.scroll_psnr.push(psnr(&p, &out));
        }
    }
    Ok(row)
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let dir = std::path::PathBuf::from(args.get(1).map(String::as_str).unwrap_or("target/video-deck"));
    let runs: usize = args.iter().position(|a| a == "--runs").and_then(|i| args.get(i + 1)?.parse().ok()).unwrap_or(3);
    let slides: Vec<Picture> = (0..4).map(|n| load(&dir.join(format!("slide{n}.png")))).collect::<Result<_, _>>()?;
    let page = load(&dir.join("page.png"))?;
    let base = Settings::screen();
    let candidates = [
        ("VP9 screen, speed 9, max q 24, 48 while moving (the default)", base),
        ("VP9 screen, speed 9, max q 24 also while moving", Settings { moving_max_q: 24, ..base }),
        ("VP9 screen, speed 8, max q 24", Settings { speed: 8, ..base }),
        ("VP9 screen, speed 9, max q 48", Settings { max_q: 48, ..base }),
        ("VP9 screen, speed 8, max q 48", Settings { max_q: 48, speed: 8, ..base }),
        ("VP9 not tuned for screens, speed 9, max q 24", Settings { screen: false, ..base }),
        ("VP8 screen, speed 10, max q 24", Settings { codec: Codec::Vp8, speed: 10, ..base }),
        ("VP8 screen, speed 12, max q 48", Settings { codec: Codec::Vp8, speed: 12, max_q: 48, ..base }),
    ];
    println!("| setting | encode ms p50 / p99 | decode ms p50 | slide change KB (median) | static slide kbit/s over 5 s | scrolling kbit/s | PSNR slides dB (min) | PSNR scrolling dB (median) |");
    println!("|---|---|---|---|---|---|---|---|");
    for (name, s) in candidates {
        let mut rows = Vec::new();
        for _ in 0..runs {
            rows.push(run(name, s, &slides, &page)?);
        }
        let mut enc: Vec<f64> = rows.iter().flat_map(|r| r.enc_ms.clone()).collect();
        let mut dec: Vec<f64> = rows.iter().flat_map(|r| r.dec_ms.clone()).collect();
        let mut slide: Vec<f64> = rows.iter().flat_map(|r| r.slide_bytes.iter().map(|&b| b as f64)).collect();
        let r = &rows[0];
        let scroll_kbps = r.scroll_bytes as f64 * 8.0 / (r.scroll_frames as f64 / 15.0) / 1e3;
        let slide_min = r.slide_psnr.iter().cloned().fold(f64::MAX, f64::min);
        let mut sp = r.scroll_psnr.clone();
        let slide_kb = pct(&mut slide, 0.5) / 1e3;
        println!(
            "| {} | {:.1} / {:.1} | {:.1} | {:.0} | {:.0} | {:.0} | {:.1} | {:.1} |",
            r.name,
            pct(&mut enc, 0.5),
            pct(&mut enc, 0.99),
            pct(&mut dec, 0.5),
            slide_kb,
            slide_kb * 8.0 / 5.0,
            scroll_kbps,
            slide_min,
            pct(&mut sp, 0.5)
        );
    }
    Ok(())
}
