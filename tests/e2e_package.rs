//! The .deb: scripts/package-deb.sh packs the binaries this build made,
//! `dpkg -i` installs it, the programs run from /usr/bin, the desktop entry
//! passes `desktop-file-validate`, and `dpkg -r` takes it all away again.
//! Needs root (CI is root); skipped loudly elsewhere.

// A test crate: a failed unwrap is the test failing.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{apero_bin, aperod_bin, app_bin, skip, tray_bin, which};

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program).args(args).output().unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
}

fn ok(what: &str, out: &Output) -> String {
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{what} failed ({}):\n{text}", out.status);
    text
}

#[test]
fn the_deb_installs_runs_and_removes_cleanly() {
    // SAFETY: geteuid takes no arguments and cannot fail.
    #[allow(unsafe_code)]
    let euid = unsafe { libc::geteuid() };
    if euid != 0 {
        return skip("root", "dpkg -i installs into /usr (CI runs as root)");
    }
    let missing: Vec<&str> = ["dpkg", "dpkg-deb", "desktop-file-validate", "strip"].into_iter().filter(|t| which(t).is_none()).collect();
    if !missing.is_empty() {
        return skip(
            &missing.join(", "),
            "the package is built with dpkg-deb and its entry checked with desktop-file-validate (scripts/test.sh installs them)",
        );
    }
    let installed = run("dpkg-query", &["-W", "-f=${Status}", "apero"]);
    if String::from_utf8_lossy(&installed.stdout).contains("install ok installed") {
        return skip("a machine without apero installed", "this test installs and removes the apero package");
    }
    for b in [aperod_bin(), apero_bin(), tray_bin(), app_bin()] {
        assert!(b.exists(), "{} was not built", b.display());
    }
    let bin_dir = aperod_bin().parent().unwrap().to_path_buf();
    let out_dir = tempfile::tempdir().unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/package-deb.sh");
    let built = run("bash", &[script, "--no-build", "--bin-dir", bin_dir.to_str().unwrap(), "--out", out_dir.path().to_str().unwrap()]);
    let text = ok("scripts/package-deb.sh", &built);
    let deb = String::from_utf8_lossy(&built.stdout).lines().last().unwrap_or("").to_string();
    assert!(deb.ends_with(".deb") && Path::new(&deb).exists(), "no package made:\n{text}");

    let listing = ok("dpkg-deb -c", &run("dpkg-deb", &["-c", &deb]));
    for path in [
        "./usr/bin/aperod",
        "./usr/bin/apero",
        "./usr/bin/apero-tray",
        "./usr/bin/apero-app",
        "./usr/share/applications/apero.desktop",
        "./usr/share/icons/hicolor/scalable/apps/apero.svg",
        "./usr/share/icons/hicolor/16x16/apps/apero.png",
        "./usr/share/icons/hicolor/48x48/apps/apero.png",
        "./usr/share/icons/hicolor/256x256/apps/apero.png",
        "./usr/lib/systemd/user/aperod.service",
        "./usr/share/apero/apero-tray.desktop",
    ] {
        assert!(listing.lines().any(|l| l.ends_with(path)), "{path} is not in the package:\n{listing}");
    }
    // A native package's changelog and copyright (lintian's errors), and a
    // manual page for each program where help2man is installed (CI has it).
    assert!(listing.contains("./usr/share/doc/apero/changelog.gz"), "no changelog:\n{listing}");
    if common::which("help2man").is_some() {
        for b in ["aperod", "apero", "apero-tray", "apero-app"] {
            assert!(listing.contains(&format!("./usr/share/man/man1/{b}.1.gz")), "no manual page for {b}:\n{listing}");
        }
    } else {
        common::skip("help2man", "the manual pages were not checked");
    }
    assert!(!listing.contains("etc/xdg/autostart"), "the package must not start the tray for every user");
    assert!(listing.lines().all(|l| l.contains("root/root")), "files must belong to root:\n{listing}");

    // Whatever happens next, the machine is left without the package.
    struct Remove;
    impl Drop for Remove {
        fn drop(&mut self) {
            let _ = Command::new("dpkg").args(["-r", "apero"]).output();
        }
    }
    let _remove = Remove;
    ok("dpkg -i", &run("dpkg", &["-i", &deb]));
    let v = ok("apero --version", &run("/usr/bin/apero", &["--version"]));
    assert!(v.contains(env!("CARGO_PKG_VERSION")), "{v}");
    ok("aperod --version", &run("/usr/bin/aperod", &["--version"]));
    let help = ok("apero-app --help", &run("/usr/bin/apero-app", &["--help"]));
    assert!(help.contains("--join"), "{help}");
    ok("apero-tray --help", &run("/usr/bin/apero-tray", &["--help"]));
    let check = ok("desktop-file-validate", &run("desktop-file-validate", &["/usr/share/applications/apero.desktop"]));
    assert!(check.trim().is_empty(), "desktop-file-validate has remarks:\n{check}");
    ok("desktop-file-validate (tray)", &run("desktop-file-validate", &["/usr/share/apero/apero-tray.desktop"]));

    ok("dpkg -r", &run("dpkg", &["-r", "apero"]));
    for gone in ["/usr/bin/apero-app", "/usr/bin/aperod", "/usr/share/applications/apero.desktop"] {
        assert!(!Path::new(gone).exists(), "{gone} is still there after dpkg -r");
    }
}
