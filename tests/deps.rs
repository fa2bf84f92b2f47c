//! The thin clients must never pull in the daemon's engine: the CLI, the
//! tray and the window (both in the apero-tray package) and the control
//! crate they share depend on neither libp2p, nor cpal, nor opus, nor SQLite.

// A test crate: a failed unwrap is the test failing (clippy.toml allows it in
// #[test] functions; this covers the shared helpers too).
#![allow(clippy::unwrap_used)]

use std::process::Command;

#[test]
fn clients_do_not_depend_on_the_engine() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    for package in ["apero", "apero-tray", "apero-control"] {
        let out = Command::new(&cargo)
            .current_dir(root)
            .args(["tree", "--offline", "-p", package, "-e", "normal", "--prefix", "none"])
            .output()
            .expect("cargo tree");
        assert!(out.status.success(), "cargo tree failed: {}", String::from_utf8_lossy(&out.stderr));
        let tree = String::from_utf8_lossy(&out.stdout);
        assert!(tree.lines().count() > 3, "cargo tree printed too little:\n{tree}");
        for forbidden in ["libp2p", "cpal", "opus", "rusqlite"] {
            let hit = tree.lines().find(|l| l.starts_with(forbidden));
            assert!(hit.is_none(), "{package} depends on {forbidden}: {hit:?}");
        }
    }
    // The window is in the tree checked above.
    let out = Command::new(&cargo)
        .current_dir(root)
        .args(["tree", "--offline", "-p", "apero-tray", "-e", "normal", "--prefix", "none"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).lines().any(|l| l.starts_with("eframe ")), "apero-app's toolkit is not in the tree");
    // The daemon does use libp2p, so the check above can fail.
    let out = Command::new(&cargo)
        .current_dir(root)
        .args(["tree", "--offline", "-p", "aperod", "-e", "normal", "--prefix", "none"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).lines().any(|l| l.starts_with("libp2p ")));
}
