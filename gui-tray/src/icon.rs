//! The icon, drawn here rather than taken from a theme so that every
//! platform shows the same thing: a disc whose colour is the state, struck
//! through when muted, ringed while someone speaks.

use crate::state::IconState;

pub const SIZE: u32 = 32;

fn colour(state: IconState) -> [u8; 3] {
    match state {
        IconState::Offline => [0x90, 0x90, 0x90],
        IconState::Online => [0x2e, 0x9d, 0x4f],
        IconState::InCall | IconState::Speaking => [0x1f, 0x6f, 0xd1],
        IconState::Muted => [0xc6, 0x28, 0x28],
    }
}

/// `SIZE`×`SIZE` pixels, RGBA, rows top to bottom.
pub fn rgba(state: IconState) -> Vec<u8> {
    let [r, g, b] = colour(state);
    let c = (SIZE as f32 - 1.0) / 2.0;
    let mut px = Vec::with_capacity((SIZE * SIZE * 4) as usize);
    for y in 0..SIZE {
        for x in 0..SIZE {
            let (dx, dy) = (x as f32 - c, y as f32 - c);
            let d = (dx * dx + dy * dy).sqrt();
            let inner = if state == IconState::Speaking { c - 5.0 } else { c - 1.0 };
            let ring = state == IconState::Speaking && d > c - 2.5 && d <= c;
            let slash = state == IconState::Muted && (dx + dy).abs() < 2.5 && d < c - 4.0;
            let pixel = if slash {
                [0xff, 0xff, 0xff, 0xff]
            } else if d <= inner || ring {
                [r, g, b, 0xff]
            } else {
                [0, 0, 0, 0]
            };
            px.extend_from_slice(&pixel);
        }
    }
    px
}

/// The StatusNotifierItem wants ARGB in network byte order.
pub fn argb(state: IconState) -> Vec<u8> {
    rgba(state).chunks_exact(4).flat_map(|p| [p[3], p[0], p[1], p[2]]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_look_different() {
        let all = [IconState::Offline, IconState::Online, IconState::InCall, IconState::Muted, IconState::Speaking];
        for (i, a) in all.iter().enumerate() {
            assert_eq!(rgba(*a).len(), (SIZE * SIZE * 4) as usize);
            for b in &all[i + 1..] {
                assert_ne!(rgba(*a), rgba(*b), "{a:?} and {b:?} draw the same icon");
            }
        }
        // Centre pixel of the online disc, converted to ARGB.
        let centre = ((SIZE / 2 * SIZE + SIZE / 2) * 4) as usize;
        assert_eq!(&argb(IconState::Online)[centre..centre + 4], &[0xff, 0x2e, 0x9d, 0x4f]);
    }
}
