//! `apero share ...`: screen sharing and cameras in a call.

use apero_control::{ShareKind, ShareSource, ShareStatus};
use clap::Subcommand;

use crate::output::{self, outln, short_id};
use crate::Ctx;

#[derive(Subcommand, Debug)]
pub enum ShareCommand {
    /// List the screens (numbered from 0), windows and cameras you could
    /// share. Nothing is captured until you start a share.
    List {
        /// Also make a small PNG of each screen and window (as the window's
        /// picker shows them) and print where it is; nothing is sent.
        #[arg(long)]
        thumbnails: bool,
    },
    /// Share a screen, a window or your camera with the call you are in.
    /// With no choice, your first screen. Everyone in the call sees it, and
    /// nobody else; stop with `apero share stop`.
    Start(StartArgs),
    /// Stop sharing (both screen and camera unless you say which).
    Stop(StopArgs),
    /// Send to the call what you started with `share start --preview`.
    Show {
        /// The camera (else the screen share).
        #[arg(long)]
        camera: bool,
    },
    /// What you share (size, frame rate, bitrate, who watches) and what you
    /// watch (who, frames, latency).
    Status,
    /// Save the latest picture of a share you watch as PNG (a slide, say).
    Snapshot(SnapshotArgs),
}

#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("what").multiple(false)))]
pub struct StartArgs {
    /// The room whose call you are in.
    room: String,
    /// A whole screen, by its number in `apero share list`.
    #[arg(long, value_name = "N", group = "what")]
    screen: Option<usize>,
    /// One window, by (part of) its title.
    #[arg(long, value_name = "TITLE", group = "what")]
    window: Option<String>,
    /// Your camera (the first one, or the one whose name contains NAME).
    #[arg(long, value_name = "NAME", num_args = 0..=1, default_missing_value = "", group = "what")]
    camera: Option<String>,
    /// A moving test pattern instead of your screen: check that friends
    /// receive a share without showing them anything.
    #[arg(long, group = "what")]
    test_pattern: bool,
    /// A moving test pattern as a camera (640×360).
    #[arg(long, group = "what")]
    test_camera: bool,
    /// Capture, but send nothing until `apero share show` (the window
    /// shows you the picture meanwhile).
    #[arg(long)]
    preview: bool,
}

#[derive(clap::Args, Debug)]
pub struct StopArgs {
    /// Stop only the screen share.
    #[arg(long, conflicts_with = "camera")]
    screen: bool,
    /// Stop only the camera.
    #[arg(long)]
    camera: bool,
}

#[derive(clap::Args, Debug)]
pub struct SnapshotArgs {
    /// Where to write the PNG.
    file: std::path::PathBuf,
    /// Whose share (name or peer id) when several people share.
    #[arg(long, value_name = "MEMBER")]
    from: Option<String>,
}

pub async fn run(ctx: &Ctx, cmd: ShareCommand) -> anyhow::Result<()> {
    let mut c = ctx.client().await?;
    match cmd {
        ShareCommand::List { thumbnails } => {
            let all = c.share_list(thumbnails).await?;
            if ctx.json {
                output::json(&all);
                return Ok(());
            }
            if all.iter().all(|a| a.kind == "test") {
                outln!("No screen, window or camera found (is a display running? is $DISPLAY set for the daemon?).");
            }
            for a in &all {
                outln!("{:<7} {:<32} {}×{}   {}", a.kind, a.name, a.width, a.height, a.pick);
                if let Some(t) = &a.thumbnail {
                    outln!("        thumbnail: {t}");
                }
            }
        }
        ShareCommand::Start(a) => {
            let what = if let Some(index) = a.screen {
                ShareSource::Screen { index }
            } else if let Some(title) = a.window {
                ShareSource::Window { title }
            } else if let Some(name) = a.camera {
                ShareSource::Camera { name: (!name.is_empty()).then_some(name) }
            } else if a.test_pattern {
                ShareSource::TestPattern
            } else if a.test_camera {
                ShareSource::TestCamera
            } else {
                ShareSource::Screen { index: 0 }
            };
            let kind = what.kind();
            let st = c.share_start(&a.room, what, a.preview).await?;
            if ctx.json {
                output::json(&st);
                return Ok(());
            }
            let source = st.sending.iter().find(|s| s.kind == kind).map(|s| s.source.clone()).unwrap_or_default();
            if a.preview {
                outln!("Capturing {source} for you only; send it to the call with `apero share show`.");
            } else {
                outln!("You are sharing {source} with the call. Stop with `apero share stop`.");
            }
        }
        ShareCommand::Stop(a) => {
            let kind = match (a.screen, a.camera) {
                (true, _) => Some(ShareKind::Screen),
                (_, true) => Some(ShareKind::Camera),
                _ => None,
            };
            let st = c.share_stop(kind).await?;
            if ctx.json {
                output::json(&st);
                return Ok(());
            }
            outln!("{}", if st.sending.is_empty() { "You share nothing now." } else { "Stopped; your other share goes on." });
        }
        ShareCommand::Show { camera } => {
            let st = c.share_show(if camera { ShareKind::Camera } else { ShareKind::Screen }).await?;
            if ctx.json {
                output::json(&st);
                return Ok(());
            }
            outln!("The call sees it now. Stop with `apero share stop`.");
        }
        ShareCommand::Status => print_status(ctx, &c.share_status().await?),
        ShareCommand::Snapshot(a) => {
            let path = std::path::absolute(&a.file)?;
            let s = c.share_snapshot(&path.to_string_lossy(), a.from).await?;
            if ctx.json {
                output::json(&s);
                return Ok(());
            }
            outln!("Saved {}×{} from {}'s {} to {}", s.width, s.height, short_id(&s.peer_id), s.kind, s.path);
        }
    }
    Ok(())
}

fn print_status(ctx: &Ctx, st: &ShareStatus) {
    if ctx.json {
        return output::json(st);
    }
    if st.sending.is_empty() && st.watching.is_empty() {
        return outln!("Nobody shares in your call, and you share nothing.");
    }
    for s in &st.sending {
        outln!(
            "You share {} ({}): {}×{} {} at {:.0} fps, {:.0} kbit/s, {} frame(s) ({} keyframes)",
            s.source,
            s.kind,
            s.width,
            s.height,
            s.codec,
            s.fps,
            s.kbps,
            s.frames,
            s.keyframes
        );
        if s.viewers.is_empty() {
            outln!("  nobody watches yet");
        }
        for v in &s.viewers {
            let who = v.name.clone().unwrap_or_else(|| short_id(&v.peer_id));
            outln!("  watched by {who}: {} frame(s) decoded, {} skipped for their link", v.frames_decoded, v.skipped);
        }
    }
    for w in &st.watching {
        let who = w.name.clone().unwrap_or_else(|| short_id(&w.peer_id));
        let latency = w.latency_ms.map(|l| format!(", {l:.0} ms behind")).unwrap_or_default();
        outln!(
            "{who} shares a {}: {}×{} at {:.0} fps, {:.0} kbit/s, {} frame(s) decoded{latency}{}",
            w.kind,
            w.width,
            w.height,
            w.fps,
            w.kbps,
            w.frames_decoded,
            if w.errors > 0 { format!(", {} damaged", w.errors) } else { String::new() }
        );
    }
}
