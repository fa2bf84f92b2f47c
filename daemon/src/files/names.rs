//! Making names from peers safe: to show, and to save inside one directory.

use std::path::{Path, PathBuf};

const RESERVED: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8", "COM9", "LPT1", "LPT2", "LPT3", "LPT4",
    "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];
const MAX_BYTES: usize = 200;

/// A file name with no path separators, no `..`, no control characters, no
/// leading dot (hidden files), no Windows reserved device names, not empty,
/// at most 200 bytes (keeping the extension).
pub fn sanitize(name: &str) -> String {
    let mapped: String = name
        .chars()
        .filter(|c| !c.is_control())
        .map(|c| match c {
            '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' => '_',
            c => c,
        })
        .collect();
    let mut s = tidy(&truncate(&tidy(&mapped)));
    let stem = s.split('.').next().unwrap_or("").trim_end().to_ascii_uppercase();
    if RESERVED.contains(&stem.as_str()) {
        s.insert(0, '_');
    }
    if s.is_empty() {
        s = "file".into();
    }
    s
}

/// Collapses runs of dots (so no `..` survives) and trims dots and spaces at
/// both ends (no hidden files, no names Windows cannot open).
fn tidy(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c == '.' && out.ends_with('.') {
            continue;
        }
        out.push(c);
    }
    out.trim_matches(|c: char| c == '.' || c.is_whitespace()).to_string()
}

/// At most `MAX_BYTES - 1` bytes (room for the reserved-name prefix),
/// keeping a short extension.
fn truncate(s: &str) -> String {
    let max = MAX_BYTES - 1;
    if s.len() <= max {
        return s.to_string();
    }
    let (stem, ext) = split_ext(s);
    let ext = if ext.len() <= 16 { ext } else { "" };
    let mut cut = (max - ext.len()).min(stem.len());
    while !stem.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{}", &stem[..cut], ext)
}

/// `("name", ".ext")`; a name with no dot has no extension.
fn split_ext(name: &str) -> (&str, &str) {
    match name.rfind('.') {
        Some(i) if i > 0 => (&name[..i], &name[i..]),
        _ => (name, ""),
    }
}

/// `dir/name`, or `dir/name (1).ext`, `dir/name (2).ext`, ... : never an
/// existing path. `name` must already be sanitized.
pub fn unique_path(dir: &Path, name: &str) -> PathBuf {
    let first = dir.join(name);
    if !first.exists() {
        return first;
    }
    let (stem, ext) = split_ext(name);
    (1..).map(|i| dir.join(format!("{stem} ({i}){ext}"))).find(|p| !p.exists()).unwrap_or(first)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn hostile_names_become_plain_names() {
        assert_eq!(sanitize("../../.bashrc"), "_._.bashrc");
        assert_eq!(sanitize("/etc/passwd"), "_etc_passwd");
        assert_eq!(sanitize("con.txt"), "_con.txt");
        assert_eq!(sanitize("LPT1"), "_LPT1");
        assert_eq!(sanitize("a\nb\r\u{1b}[31mc.txt"), "ab[31mc.txt");
        assert_eq!(sanitize(".."), "file");
        assert_eq!(sanitize(""), "file");
        assert_eq!(sanitize("photo.JPG"), "photo.JPG");
        assert_eq!(sanitize("été à la plage.png"), "été à la plage.png");
        let long = format!("{}.pdf", "é".repeat(300));
        let s = sanitize(&long);
        assert!(s.len() <= 200 && s.ends_with(".pdf"));
    }

    #[test]
    fn unique_paths_never_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), b"x").unwrap();
        std::fs::write(dir.path().join("a (1).txt"), b"x").unwrap();
        assert_eq!(unique_path(dir.path(), "a.txt"), dir.path().join("a (2).txt"));
        assert_eq!(unique_path(dir.path(), "b"), dir.path().join("b"));
    }

    proptest! {
        #[test]
        fn sanitized_names_stay_inside_the_directory(name in ".{0,300}") {
            let s = sanitize(&name);
            prop_assert!(!s.is_empty() && s.len() <= 200);
            prop_assert!(!s.contains('/') && !s.contains('\\') && !s.contains("..") && !s.starts_with('.'));
            prop_assert!(!s.chars().any(|c| c.is_control()));
            let p = Path::new("/tmp/d").join(&s);
            prop_assert_eq!(p.parent(), Some(Path::new("/tmp/d")));
        }
    }
}
