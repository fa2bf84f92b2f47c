//! `apero call ...`, `apero mute`, `apero unmute`, `apero audio ...`.

use apero_control::{AudioDevicesInfo, CallStatus};
use clap::Subcommand;

use crate::output::{self, short_id};
use crate::Ctx;

#[derive(Subcommand, Debug)]
pub enum CallCommand {
    /// Join a room's call (starting it if nobody is in it yet).
    Join { room: String },
    /// Leave the call you are in.
    Leave,
    /// Who is in your call, who is speaking, and how each link is doing.
    Status,
}

#[derive(Subcommand, Debug)]
pub enum AudioCommand {
    /// List the input and output devices of the daemon's audio backend.
    Devices,
    /// Switch the input and/or output device (also during a call).
    Use {
        #[arg(long)]
        input: Option<String>,
        #[arg(long)]
        output: Option<String>,
    },
}

pub async fn call(ctx: &Ctx, cmd: CallCommand) -> anyhow::Result<()> {
    let mut c = ctx.client().await?;
    match cmd {
        CallCommand::Join { room } => {
            let st = c.call_join(&room).await?;
            if ctx.json {
                output::json(&st);
            } else {
                println!(
                    "You are in the call of {:?} with {} other(s). Mute with `apero mute`, leave with `apero call leave`.",
                    st.room_name.as_deref().unwrap_or(&room),
                    st.participants.len().saturating_sub(1)
                );
            }
        }
        CallCommand::Leave => {
            c.call_leave().await?;
            if ctx.json {
                output::json(&serde_json::json!({"left": true}));
            } else {
                println!("You left the call.");
            }
        }
        CallCommand::Status => print_status(ctx, &c.call_status().await?),
    }
    Ok(())
}

pub async fn mute(ctx: &Ctx, muted: bool) -> anyhow::Result<()> {
    let st = ctx.client().await?.mute(muted).await?;
    if ctx.json {
        output::json(&st);
    } else {
        println!("{}", if muted { "Muted: nobody hears you." } else { "Unmuted: you can be heard." });
    }
    Ok(())
}

fn print_status(ctx: &Ctx, st: &CallStatus) {
    if ctx.json {
        return output::json(st);
    }
    let Some(room) = &st.room else {
        println!("You are in no call. Join one with `apero call join ROOM`.");
        return;
    };
    println!("Call in {:?} ({}){}", st.room_name.as_deref().unwrap_or(room), st.backend, if st.muted { ", you are muted" } else { "" });
    if st.underruns > 0 {
        println!("  The speaker ran dry {} times: this computer was too busy to keep up (a gap in what you hear).", st.underruns);
    }
    for p in &st.participants {
        let state = match (p.muted, p.speaking) {
            (true, _) => "muted",
            (false, true) => "speaking",
            _ => "",
        };
        if p.is_self {
            println!("  {:<16} {:<10} (you) {state}", p.name, short_id(&p.peer_id));
        } else {
            // Lost frames rebuilt from copies or FEC, and those that had to be invented.
            let count = |k: &str| p.stats.as_ref().and_then(|s| s[k].as_u64()).unwrap_or(0);
            let repair = match (count("red_recovered") + count("fec_recovered"), count("concealed")) {
                (0, 0) => String::new(),
                (r, c) => format!("repaired {r} concealed {c} "),
            };
            println!(
                "  {:<16} {:<10} {:<8} {:<9} rtt {} loss {:.1}% jitter {:.1} ms latency ~{} {repair}{state}",
                p.name,
                short_id(&p.peer_id),
                p.path.as_str(),
                p.voice_path.map(|v| v.as_str()).unwrap_or(""),
                p.rtt_ms.map(|r| format!("{r:.0} ms")).unwrap_or_else(|| "?".into()),
                p.loss_pct,
                p.jitter_ms,
                p.latency_ms.map(|r| format!("{r:.0} ms")).unwrap_or_else(|| "?".into()),
            );
        }
    }
}

pub async fn audio(ctx: &Ctx, cmd: AudioCommand) -> anyhow::Result<()> {
    let mut c = ctx.client().await?;
    let info = match cmd {
        AudioCommand::Devices => c.audio_devices().await?,
        AudioCommand::Use { input, output } => c.audio_use(input, output).await?,
    };
    print_devices(ctx, &info);
    Ok(())
}

fn print_devices(ctx: &Ctx, d: &AudioDevicesInfo) {
    if ctx.json {
        return output::json(d);
    }
    println!("Audio backend: {}", d.backend);
    let mark = |name: &String, chosen: &Option<String>, default: &Option<String>| {
        if chosen.as_ref() == Some(name) || (chosen.is_none() && default.as_ref() == Some(name)) {
            "*"
        } else {
            " "
        }
    };
    println!("Inputs:");
    for i in &d.inputs {
        println!("  {} {i}", mark(i, &d.input, &d.default_input));
    }
    println!("Outputs:");
    for o in &d.outputs {
        println!("  {} {o}", mark(o, &d.output, &d.default_output));
    }
}
