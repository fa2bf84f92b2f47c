//! A moving test pattern: for tests, benchmarks and people checking that a
//! share reaches their friends. Bars of colour, a block of "text" (fine
//! black-on-white stripes, which blur first when a codec starves), a square
//! that crosses the picture, and the frame number written as 16 black or
//! white cells along the top left (`read_counter` reads it back from a
//! decoded picture, for glass-to-glass latency).

use std::time::Instant;

use super::{Kind, Picture, Source, SourceError};

pub struct Pattern {
    width: u32,
    height: u32,
    fps: u32,
    kind: Kind,
    frame: u64,
    next: super::Pacer,
}

/// Side of one counter cell, in pixels.
pub const CELL: u32 = 16;
pub const COUNTER_BITS: u32 = 16;

impl Pattern {
    pub fn screen() -> Pattern {
        Pattern::new(1920, 1080, 15, Kind::Screen)
    }

    pub fn camera() -> Pattern {
        Pattern::new(640, 360, 30, Kind::Camera)
    }

    pub fn new(width: u32, height: u32, fps: u32, kind: Kind) -> Pattern {
        Pattern { width, height, fps, kind, frame: 0, next: super::Pacer::default() }
    }

    /// Draws frame number `n` into `p`.
    pub fn draw(&self, n: u64, p: &mut Picture) {
        p.resize(self.width, self.height);
        let (w, h) = (self.width as usize, self.height as usize);
        let bars: [[u8; 3]; 6] = [[40, 40, 200], [40, 200, 40], [200, 40, 40], [40, 200, 200], [200, 40, 200], [200, 200, 40]];
        let square = (h / 5).max(8);
        let sx = (n as usize * 8) % w.saturating_sub(square).max(1);
        let sy = h / 2;
        for y in 0..h {
            let row = &mut p.data[y * p.stride..y * p.stride + w * 4];
            for x in 0..w {
                let px = if y < h / 3 {
                    let b = bars[x * bars.len() / w];
                    [b[0], b[1], b[2], 255]
                } else if (sy..sy + square).contains(&y) && (sx..sx + square).contains(&x) {
                    [255, 255, 255, 255]
                } else if y > h * 3 / 4 && x > w / 10 && x < w * 9 / 10 {
                    // "Text": one-pixel strokes in word-like runs.
                    let ink = (x / 2 + y / 3) % 7 == 0 && (x / 40 + y / 12) % 3 != 0;
                    if ink {
                        [20, 20, 20, 255]
                    } else {
                        [250, 250, 250, 255]
                    }
                } else {
                    [90, 90, 90, 255]
                };
                row[x * 4..x * 4 + 4].copy_from_slice(&px);
            }
        }
        write_counter(p, n);
    }
}

/// Writes `n` as `COUNTER_BITS` cells at the top left.
pub fn write_counter(p: &mut Picture, n: u64) {
    for bit in 0..COUNTER_BITS {
        let v = if n >> bit & 1 == 1 { 255 } else { 0 };
        for y in 0..CELL as usize {
            for x in 0..CELL as usize {
                let (x, y) = ((bit * CELL) as usize + x, y);
                if x < p.width as usize && y < p.height as usize {
                    let o = y * p.stride + x * 4;
                    p.data[o..o + 3].fill(v);
                }
            }
        }
    }
}

/// Reads the counter back from RGBA or BGRX pixels (the centre of each cell).
pub fn read_counter(data: &[u8], stride: usize) -> Option<u64> {
    let mut n = 0u64;
    for bit in 0..COUNTER_BITS {
        let (x, y) = ((bit * CELL + CELL / 2) as usize, (CELL / 2) as usize);
        let o = y * stride + x * 4;
        let px = data.get(o..o + 3)?;
        let luma = (px[0] as u32 + px[1] as u32 + px[2] as u32) / 3;
        if luma > 128 {
            n |= 1 << bit;
        }
    }
    Some(n)
}

/// Reads the counter from a picture's luma plane (a decoder's output).
pub fn read_counter_luma(y: &[u8], stride: usize) -> Option<u64> {
    let mut n = 0u64;
    for bit in 0..COUNTER_BITS {
        let (x, row) = ((bit * CELL + CELL / 2) as usize, (CELL / 2) as usize);
        if *y.get(row * stride + x)? > 128 {
            n |= 1 << bit;
        }
    }
    Some(n)
}

impl Source for Pattern {
    fn kind(&self) -> Kind {
        self.kind
    }

    fn describe(&self) -> String {
        match self.kind {
            Kind::Screen => "the test pattern".into(),
            Kind::Camera => "the test camera".into(),
        }
    }

    fn max_fps(&self) -> u32 {
        self.fps
    }

    fn grab(&mut self, into: &mut Picture) -> Result<bool, SourceError> {
        self.next.wait(self.fps);
        self.draw(self.frame, into);
        into.captured = Instant::now();
        self.frame += 1;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_counter_reads_back() {
        let pat = Pattern::camera();
        let mut p = Picture::new(1, 1);
        for n in [0u64, 1, 2, 255, 12345, 65535] {
            pat.draw(n, &mut p);
            assert_eq!(read_counter(&p.data, p.stride), Some(n));
        }
    }
}
