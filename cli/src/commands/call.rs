//! `apero call ...`, `apero mute`, `apero unmute`, `apero audio ...`.

use apero_control::{AudioDevicesInfo, CallStatus};
use clap::Subcommand;

use crate::output::{self, outln, short_id};
use crate::Ctx;

#[derive(Subcommand, Debug)]
pub enum CallCommand {
    /// Join a room's call (starting it if nobody is in it yet), in its
    /// general channel, or your breakout group while one runs.
    Join {
        room: String,
        /// Join in this channel instead (`apero channel list ROOM` shows them).
        #[arg(long, value_name = "NAME")]
        channel: Option<String>,
    },
    /// Move someone (or yourself: your own name) to another channel of the
    /// call. Moving others takes a host; you hear only your channel.
    Move {
        room: String,
        /// A name or peer id from `apero room members`.
        member: String,
        channel: String,
    },
    /// Mute someone in the call (hosts only). They are told and can unmute.
    Mute { room: String, member: String },
    /// Leave the call you are in.
    Leave,
    /// Who is in your call, who is speaking, how each link is doing, and
    /// whether your microphone and speaker work.
    Status,
    /// Switch devices (also mid-call) and turn the processing of your
    /// microphone on or off. Echo cancellation, noise suppression and gain
    /// control are all on by default, for a laptop without headset; with a
    /// headset, `--echo-cancel off`. Prints the devices and settings.
    Settings(SettingsArgs),
    /// Set how loud one participant plays for you, in percent (100 is as
    /// they come; 0 silences them for you only).
    Volume {
        /// Their peer id (or its start), as `apero call status` shows it.
        peer: String,
        /// 0 to 400.
        percent: u32,
    },
}

#[derive(clap::Args, Debug)]
pub struct SettingsArgs {
    /// Input device (a name from `apero devices`).
    #[arg(long, value_name = "NAME")]
    input: Option<String>,
    /// Output device (a name from `apero devices`).
    #[arg(long, value_name = "NAME")]
    output: Option<String>,
    /// Cancel the echo of your speaker in your microphone.
    #[arg(long, value_name = "on|off", value_parser = on_off)]
    echo_cancel: Option<bool>,
    /// Take steady background noise (fans, traffic) out of your microphone.
    #[arg(long, value_name = "on|off", value_parser = on_off)]
    noise_suppression: Option<bool>,
    /// Even out your level (quiet microphones, people far from it).
    #[arg(long, value_name = "on|off", value_parser = on_off)]
    gain_control: Option<bool>,
}

fn on_off(v: &str) -> Result<bool, String> {
    match v {
        "on" | "true" | "yes" => Ok(true),
        "off" | "false" | "no" => Ok(false),
        _ => Err(format!("{v:?}: say on or off")),
    }
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
        CallCommand::Join { room, channel } => {
            let st = c.call_join_in(&room, channel.as_deref()).await?;
            if ctx.json {
                output::json(&st);
            } else {
                let here = st.participants.iter().filter(|p| !p.is_self && p.channel == st.channel).count();
                outln!(
                    "You are in the call of {:?}, channel {}, with {here} other(s). Mute with `apero mute`, leave with `apero call leave`.",
                    st.room_name.as_deref().unwrap_or(&room),
                    st.channel.as_deref().unwrap_or("general"),
                );
            }
        }
        CallCommand::Move { room, member, channel } => {
            let info = c.call_move(&room, &member, &channel).await?;
            super::channel::print(ctx, &info, &format!("Moved {member} to {channel}."));
        }
        CallCommand::Mute { room, member } => {
            let info = c.channels(apero_control::Request::CallMuteMember { room, member: member.clone() }).await?;
            super::channel::print(ctx, &info, &format!("{member} is muted (they can unmute)."));
        }
        CallCommand::Leave => {
            c.call_leave().await?;
            if ctx.json {
                output::json(&serde_json::json!({"left": true}));
            } else {
                outln!("You left the call.");
            }
        }
        CallCommand::Status => print_status(ctx, &c.call_status().await?),
        CallCommand::Settings(a) => {
            let req = apero_control::Request::CallSettings {
                input: a.input,
                output: a.output,
                echo_cancel: a.echo_cancel,
                noise_suppression: a.noise_suppression,
                gain_control: a.gain_control,
            };
            print_devices(ctx, &c.call_settings(req).await?);
        }
        CallCommand::Volume { peer, percent } => {
            // A prefix is enough, as status shows short ids.
            let st = c.call_status().await?;
            let full = st
                .participants
                .iter()
                .filter(|p| !p.is_self && p.peer_id.starts_with(&peer))
                .map(|p| p.peer_id.clone())
                .collect::<Vec<_>>();
            let id = match full.as_slice() {
                [one] => one.clone(),
                [] => peer.clone(),
                _ => anyhow::bail!("{peer:?} matches {} participants; give more of the id", full.len()),
            };
            let st = c.call_volume(&id, percent).await?;
            if ctx.json {
                output::json(&st);
            } else {
                outln!("{} now plays at {percent}% for you.", short_id(&id));
            }
        }
    }
    Ok(())
}

#[derive(clap::Args, Debug)]
pub struct MuteArgs {
    /// Mute if you are heard, unmute if you are muted.
    #[arg(long)]
    pub toggle: bool,
}

pub async fn mute_cmd(ctx: &Ctx, a: MuteArgs) -> anyhow::Result<()> {
    let muted = if a.toggle { !ctx.client().await?.call_status().await?.muted } else { true };
    mute(ctx, muted).await
}

pub async fn mute(ctx: &Ctx, muted: bool) -> anyhow::Result<()> {
    let st = ctx.client().await?.mute(muted).await?;
    if ctx.json {
        output::json(&st);
    } else {
        outln!("{}", if muted { "Muted: nobody hears you." } else { "Unmuted: you can be heard." });
    }
    Ok(())
}

fn print_status(ctx: &Ctx, st: &CallStatus) {
    if ctx.json {
        return output::json(st);
    }
    let Some(room) = &st.room else {
        outln!("You are in no call. Join one with `apero call join ROOM`.");
        return;
    };
    outln!(
        "Call in {:?}, channel {} ({}){}",
        st.room_name.as_deref().unwrap_or(room),
        st.channel.as_deref().unwrap_or("general"),
        st.backend,
        if st.muted { ", you are muted" } else { "" }
    );
    if let Some(a) = &st.audio {
        if let Some(e) = &a.input_error {
            outln!("  Microphone: {e}");
        }
        if let Some(e) = &a.output_error {
            outln!("  Speaker: {e}");
        }
        let p = a.processing;
        let on = |b: bool| if b { "on" } else { "off" };
        let erle = a.erle_db.map(|e| format!(", removing {e:.0} dB of echo")).unwrap_or_default();
        outln!(
            "  Your level {:.0} dBFS. Echo cancellation {}{erle}, noise suppression {}, gain control {}.",
            a.input_level_db,
            on(p.echo_cancel),
            on(p.noise_suppression),
            on(p.gain_control)
        );
    }
    if st.underruns > 0 {
        outln!("  The speaker ran dry {} times: this computer was too busy to keep up (a gap in what you hear).", st.underruns);
    }
    for p in &st.participants {
        let state = match (p.muted, p.speaking) {
            (true, _) => "muted",
            (false, true) => "speaking",
            _ => "",
        };
        if p.is_self {
            outln!("  {:<16} {:<10} (you) {state}", p.name, short_id(&p.peer_id));
        } else if p.channel != st.channel {
            outln!("  {:<16} {:<10} in {}", p.name, short_id(&p.peer_id), p.channel.as_deref().unwrap_or("general"));
        } else {
            // Lost frames rebuilt from copies or FEC, and those that had to be invented.
            let count = |k: &str| p.stats.as_ref().and_then(|s| s[k].as_u64()).unwrap_or(0);
            let repair = match (count("red_recovered") + count("fec_recovered"), count("concealed")) {
                (0, 0) => String::new(),
                (r, c) => format!("repaired {r} concealed {c} "),
            };
            outln!(
                "  {:<16} {:<10} {:<8} {:<9} rtt {} loss {:.1}% jitter {:.1} ms latency ~{} {repair}{}{state}",
                p.name,
                short_id(&p.peer_id),
                p.path.as_str(),
                p.voice_path.map(|v| v.as_str()).unwrap_or(""),
                p.rtt_ms.map(|r| format!("{r:.0} ms")).unwrap_or_else(|| "?".into()),
                p.loss_pct,
                p.jitter_ms,
                p.latency_ms.map(|r| format!("{r:.0} ms")).unwrap_or_else(|| "?".into()),
                if p.volume != 100 { format!("volume {}% ", p.volume) } else { String::new() },
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
    outln!("Audio backend: {}", d.backend);
    let mark = |name: &String, chosen: &Option<String>, default: &Option<String>| {
        if chosen.as_ref() == Some(name) || (chosen.is_none() && default.as_ref() == Some(name)) {
            "*"
        } else {
            " "
        }
    };
    outln!("Inputs:");
    for i in &d.inputs {
        outln!("  {} {i}", mark(i, &d.input, &d.default_input));
    }
    outln!("Outputs:");
    for o in &d.outputs {
        outln!("  {} {o}", mark(o, &d.output, &d.default_output));
    }
    let p = d.processing;
    let on = |b: bool| if b { "on" } else { "off" };
    outln!(
        "Processing: echo cancellation {}, noise suppression {}, gain control {} (change with `apero call settings`).",
        on(p.echo_cancel),
        on(p.noise_suppression),
        on(p.gain_control)
    );
}
