//! `apero say`, `apero history`, `apero chat`.

use std::collections::HashSet;

use anyhow::Context;
use apero_control::{Event, MessageInfo};
use clap::Args;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::output::{self, outln};
use crate::Ctx;

#[derive(Args, Debug)]
pub struct SayArgs {
    /// Room name or id.
    room: String,
    /// The message (several words are joined with spaces).
    #[arg(required = true, num_args = 1..)]
    text: Vec<String>,
}

#[derive(Args, Debug)]
pub struct HistoryArgs {
    /// Room name or id.
    room: String,
    /// Show only the last N messages.
    #[arg(long)]
    limit: Option<u32>,
}

#[derive(Args, Debug)]
pub struct ChatArgs {
    /// Room name or id.
    room: String,
    /// How many recent messages to show first.
    #[arg(long, default_value_t = 20)]
    recent: u32,
}

fn line(m: &MessageInfo) -> String {
    let who = if m.author_name.is_empty() { output::short_id(&m.author) } else { m.author_name.clone() };
    format!("[{}] {}: {}", output::local_time(m.time), who, m.text)
}

pub async fn say(ctx: &Ctx, args: SayArgs) -> anyhow::Result<()> {
    let m = ctx.client().await?.say(&args.room, &args.text.join(" ")).await?;
    if ctx.json {
        output::json(&m);
    }
    Ok(())
}

pub async fn history(ctx: &Ctx, args: HistoryArgs) -> anyhow::Result<()> {
    let h = ctx.client().await?.history(&args.room, args.limit).await?;
    if ctx.json {
        output::json(&h);
    } else {
        for m in &h {
            outln!("{}", line(m));
        }
    }
    Ok(())
}

pub async fn chat(ctx: &Ctx, args: ChatArgs) -> anyhow::Result<()> {
    let mut sender = ctx.client().await?;
    let room = sender
        .room_list()
        .await?
        .into_iter()
        .find(|r| r.id == args.room || r.name == args.room || (args.room.len() >= 4 && r.id.starts_with(&args.room)))
        .with_context(|| format!("you are in no room called {:?}; `apero room list` shows your rooms", args.room))?;
    // Subscribe before reading history so nothing falls between the two.
    let mut events = ctx.client().await?.subscribe().await?;
    let recent = sender.history(&room.id, Some(args.recent)).await?;
    let mut shown: HashSet<String> = HashSet::new();
    if !ctx.json {
        outln!("— {} ({} members). Type a message and press Enter; Ctrl-D or /quit to leave. —", room.name, room.members);
    }
    for m in &recent {
        shown.insert(m.id.clone());
        print_message(ctx, m);
    }
    let mut stdin = BufReader::new(tokio::io::stdin()).lines();
    loop {
        tokio::select! {
            ev = events.next() => match ev? {
                Some(Event::Message { room: r, message }) if r == room.id => {
                    if shown.insert(message.id.clone()) {
                        print_message(ctx, &message);
                    }
                }
                Some(Event::MemberJoined { room: r, name, .. }) if r == room.id && !ctx.json => outln!("* {name} joined"),
                Some(Event::MemberLeft { room: r, name, .. }) if r == room.id && !ctx.json => outln!("* {name} left"),
                Some(_) => {}
                None => anyhow::bail!("the daemon went away"),
            },
            typed = stdin.next_line() => match typed? {
                None => break,
                Some(t) if t.trim() == "/quit" => break,
                Some(t) if t.trim().is_empty() => {}
                Some(t) => {
                    if let Err(e) = sender.say(&room.id, &t).await {
                        eprintln!("not sent: {e}");
                    }
                }
            },
        }
    }
    Ok(())
}

fn print_message(ctx: &Ctx, m: &MessageInfo) {
    if ctx.json {
        // One JSON object per line: a stream, not a document.
        outln!("{}", serde_json::to_string(m).unwrap_or_default());
    } else {
        outln!("{}", line(m));
    }
}
