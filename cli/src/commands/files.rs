//! `apero send`, `apero files`, `apero get`, `apero transfers`, `apero cancel`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use apero_control::{human_bytes, Event, TransferInfo, TransferState};
use clap::Args;

use crate::output::{self, local_time, outln};
use crate::Ctx;

#[derive(Args, Debug)]
pub struct SendArgs {
    /// The room (name or id).
    pub room: String,
    /// Files to offer. They stay where they are: members fetch them from you
    /// (and from each other) when they ask for them.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Offer the file under another name (one file only).
    #[arg(long)]
    pub name: Option<String>,
    /// Offer it in this channel of the room (general when left out).
    #[arg(long, value_name = "NAME")]
    pub channel: Option<String>,
}

#[derive(Args, Debug)]
pub struct FilesArgs {
    /// The room (name or id).
    pub room: String,
    /// Only the files offered in this channel (every channel when left out).
    #[arg(long, value_name = "NAME")]
    pub channel: Option<String>,
}

#[derive(Args, Debug)]
pub struct GetArgs {
    /// The file's id from `apero files ROOM` (the first 8 characters are enough).
    pub id: String,
    /// Where to save it (default: your Downloads folder). Existing files are
    /// never overwritten: a copy becomes `name (1).ext`.
    #[arg(long, value_name = "DIR")]
    pub to: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct CancelArgs {
    /// The file's id (or its first characters).
    pub id: String,
}

fn absolute(p: &PathBuf) -> anyhow::Result<String> {
    let p = if p.is_absolute() { p.clone() } else { std::env::current_dir()?.join(p) };
    Ok(p.to_string_lossy().into_owned())
}

pub async fn send(ctx: &Ctx, a: SendArgs) -> anyhow::Result<()> {
    let paths = a.paths.iter().map(absolute).collect::<anyhow::Result<Vec<_>>>()?;
    let mut c = ctx.client().await?;
    let offered = c.send_in(&a.room, a.channel.as_deref(), paths, a.name).await?;
    if ctx.json {
        output::json(&offered);
    } else {
        for o in &offered {
            outln!("Offered {} ({}) — id {}", o.name, human_bytes(o.size), &o.id[..12]);
        }
        outln!("Members can fetch with `apero get ID`. Keep the file where it is: it is served from there.");
    }
    Ok(())
}

pub async fn files(ctx: &Ctx, a: FilesArgs) -> anyhow::Result<()> {
    let mut c = ctx.client().await?;
    let files = c.files_in(&a.room, a.channel.as_deref()).await?;
    if ctx.json {
        output::json(&files);
        return Ok(());
    }
    if files.is_empty() {
        outln!("No files in this room yet. Share one with `apero send {} PATH`.", a.room);
    }
    for f in files {
        let mark = if f.have { "✓" } else { " " };
        let kind = if f.image { " [image]" } else { "" };
        outln!(
            "{mark} {}  {}{}  {}  from {} at {}  ({} source(s), {} online)",
            &f.id[..12],
            f.name,
            kind,
            human_bytes(f.size),
            if f.from_name.is_empty() { output::short_id(&f.from) } else { f.from_name.clone() },
            local_time(f.time),
            f.sources,
            f.sources_online
        );
    }
    Ok(())
}

pub async fn get(ctx: &Ctx, a: GetArgs) -> anyhow::Result<()> {
    let dir = a.to.as_ref().map(absolute).transpose()?;
    // Subscribe first so no progress event is missed.
    let mut events = ctx.client().await?.subscribe().await?;
    let mut c = ctx.client().await?;
    let mut info = c.get(&a.id, dir).await?;
    let bar = (!ctx.json && std::io::stderr().is_terminal()).then(|| progress_bar(&info));
    while info.state == TransferState::Running {
        let ev = tokio::time::timeout(Duration::from_secs(5), events.next()).await;
        match ev {
            Ok(Ok(Some(Event::Transfer { transfer }))) if transfer.id == info.id => info = transfer,
            Ok(Ok(Some(_))) => continue,
            Ok(Ok(None)) | Ok(Err(_)) => {
                anyhow::bail!("the daemon went away during the download; `apero get {}` again resumes", &info.id[..12])
            }
            // Quiet for a while: ask (the transfer may have ended between our two connections).
            Err(_) => {
                if let Some(t) = c.transfers().await?.into_iter().find(|t| t.id == info.id) {
                    info = t;
                }
            }
        }
        if let Some(b) = &bar {
            b.set_position((info.done_bytes + info.partial_bytes).min(info.size));
        }
    }
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    finish(ctx, &info)
}

fn finish(ctx: &Ctx, info: &TransferInfo) -> anyhow::Result<()> {
    match info.state {
        TransferState::Done => {
            if ctx.json {
                output::json(info);
            } else {
                outln!("Saved {} ({}) to {}", info.name, human_bytes(info.size), info.path.as_deref().unwrap_or("?"));
            }
            Ok(())
        }
        TransferState::Paused => anyhow::bail!("download paused: {}", info.error.as_deref().unwrap_or("no source is reachable")),
        TransferState::Cancelled => anyhow::bail!("download cancelled"),
        TransferState::Failed | TransferState::Running => {
            anyhow::bail!("download failed: {}", info.error.as_deref().unwrap_or("unknown error"))
        }
    }
}

fn progress_bar(info: &TransferInfo) -> indicatif::ProgressBar {
    let b = indicatif::ProgressBar::new(info.size);
    let style = indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}")
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> ");
    b.set_style(style);
    b.set_message(info.name.clone());
    b.set_position((info.done_bytes + info.partial_bytes).min(info.size));
    b.enable_steady_tick(Duration::from_millis(200));
    b
}

pub async fn transfers(ctx: &Ctx) -> anyhow::Result<()> {
    let mut c = ctx.client().await?;
    let list = c.transfers().await?;
    if ctx.json {
        output::json(&list);
        return Ok(());
    }
    if list.is_empty() {
        outln!("No downloads.");
    }
    for t in list {
        let pct = if t.size == 0 { 100.0 } else { 100.0 * (t.done_bytes + t.partial_bytes).min(t.size) as f64 / t.size as f64 };
        let extra = match t.state {
            TransferState::Running if t.paced_bps > 0 => format!(
                "{}/s from {} source(s), yielding to a call (at most {}/s)",
                human_bytes(t.rate_bps as u64),
                t.sources,
                human_bytes(t.paced_bps)
            ),
            TransferState::Running => format!("{}/s from {} source(s)", human_bytes(t.rate_bps as u64), t.sources),
            TransferState::Done => t.path.clone().unwrap_or_default(),
            TransferState::Paused | TransferState::Failed | TransferState::Cancelled => t.error.clone().unwrap_or_default(),
        };
        outln!("{}  {:9} {:5.1}%  {}  {}", &t.id[..12], t.state.as_str(), pct, t.name, extra);
    }
    Ok(())
}

pub async fn cancel(ctx: &Ctx, a: CancelArgs) -> anyhow::Result<()> {
    let mut c = ctx.client().await?;
    let t = c.cancel(&a.id).await?;
    if ctx.json {
        output::json(&t);
    } else {
        outln!("Cancelled the download of {}; its partial file was deleted.", t.name);
    }
    Ok(())
}
