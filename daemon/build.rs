//! Builds the thin C layer over libvpx (src/video/codec/vpx_shim.c) and
//! links libvpx, found with pkg-config (Debian: libvpx-dev).

fn main() {
    println!("cargo:rerun-if-changed=src/video/codec/vpx_shim.c");
    let vpx = match pkg_config::Config::new().atleast_version("1.8").probe("vpx") {
        Ok(l) => l,
        Err(e) => {
            println!("cargo:warning=libvpx was not found ({e}); install it: sudo apt-get install libvpx-dev");
            std::process::exit(1);
        }
    };
    let mut build = cc::Build::new();
    build.file("src/video/codec/vpx_shim.c").warnings(true);
    for p in &vpx.include_paths {
        build.include(p);
    }
    // The colour conversions run per pixel: optimised even in a debug build.
    build.opt_level(2).compile("apero_vpx_shim");
}
