//! `apero say`, `apero history`, `apero chat`: messages as they read now,
//! with replies quoted, edits marked, reactions counted and an id to
//! answer, edit, delete or react to them by (`amend`).

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
    /// The message (several words are joined with spaces). `@name`
    /// mentions a member: they get a notification.
    #[arg(required = true, num_args = 1..)]
    text: Vec<String>,
    /// Answer this message (its id, or the first characters of it that
    /// `apero history` shows after `#`): it is shown quoted above yours.
    #[arg(long, value_name = "ID")]
    reply_to: Option<String>,
    /// Say it in this channel of the room (a name from `apero channel list`; general when left out).
    #[arg(long, value_name = "NAME")]
    channel: Option<String>,
}

#[derive(Args, Debug)]
pub struct HistoryArgs {
    /// Room name or id.
    room: String,
    /// Show only the last N messages.
    #[arg(long)]
    limit: Option<u32>,
    /// Only this channel's messages (and the hosts' broadcasts); every channel when left out.
    #[arg(long, value_name = "NAME")]
    channel: Option<String>,
}

#[derive(Args, Debug)]
pub struct ChatArgs {
    /// Room name or id.
    room: String,
    /// How many recent messages to show first.
    #[arg(long, default_value_t = 20)]
    recent: u32,
}

/// Characters of a message id shown (and enough to name it back).
const SHOWN_ID: usize = 8;

fn who(m: &MessageInfo) -> String {
    if m.author_name.is_empty() {
        output::short_id(&m.author)
    } else {
        m.author_name.clone()
    }
}

/// A message as text: the one it answers quoted above it (when `context`
/// holds it), then `[time] who: text (edited)  👍 2  #id`.
fn line(m: &MessageInfo, context: &[MessageInfo]) -> String {
    let mut out = String::new();
    if let Some(id) = &m.reply_to {
        match context.iter().find(|q| &q.id == id) {
            Some(q) => out.push_str(&format!("  ╭ {}: {}\n", who(q), quote(&q.text))),
            None => out.push_str("  ╭ (an earlier or deleted message)\n"),
        }
    }
    let place = match (&m.channel_name, m.broadcast) {
        (_, true) => "[to every group] ".to_string(),
        (Some(c), _) => format!("#{c} "),
        _ => String::new(),
    };
    out.push_str(&format!("[{}] {place}{}: {}", output::local_time(m.time), who(m), m.text));
    if m.edited {
        out.push_str(" (edited)");
    }
    if !m.reactions.is_empty() {
        let counts: Vec<String> = m.reactions.iter().map(|r| format!("{} {}", r.emoji, r.members.len())).collect();
        out.push_str(&format!("  {}", counts.join(" ")));
    }
    let short: String = m.id.chars().take(SHOWN_ID).collect();
    out.push_str(&format!("  #{short}"));
    out
}

/// The start of a quoted message, on one line.
fn quote(text: &str) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(60) {
        Some((cut, _)) => format!("{}…", &flat[..cut]),
        None => flat,
    }
}

pub async fn say(ctx: &Ctx, args: SayArgs) -> anyhow::Result<()> {
    let req = apero_control::Request::Say { room: args.room, text: args.text.join(" "), reply_to: args.reply_to, channel: args.channel };
    let reply = ctx.client().await?.request(&req).await?;
    if ctx.json {
        if let apero_control::Reply::Message(m) = reply {
            output::json(&m);
        }
    }
    Ok(())
}

pub async fn history(ctx: &Ctx, args: HistoryArgs) -> anyhow::Result<()> {
    let h = ctx.client().await?.history_in(&args.room, args.channel.as_deref(), args.limit).await?;
    if ctx.json {
        output::json(&h);
    } else {
        for m in &h {
            outln!("{}", line(m, &h));
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
    let mut recent = sender.history(&room.id, Some(args.recent)).await?;
    let mut shown: HashSet<String> = HashSet::new();
    if !ctx.json {
        outln!("— {} ({} members). Type a message and press Enter; Ctrl-D or /quit to leave. —", room.name, room.members);
    }
    for m in &recent {
        shown.insert(m.id.clone());
        print_message(ctx, m, &recent);
    }
    let mut stdin = BufReader::new(tokio::io::stdin()).lines();
    loop {
        tokio::select! {
            ev = events.next() => match ev? {
                Some(Event::Message { room: r, message }) if r == room.id => {
                    if shown.insert(message.id.clone()) {
                        print_message(ctx, &message, &recent);
                        recent.push(message);
                    }
                }
                Some(Event::MessageChanged { room: r, message }) if r == room.id && !ctx.json => {
                    outln!("* changed: {}", line(&message, &recent));
                }
                Some(Event::MessageDeleted { room: r, id }) if r == room.id && !ctx.json => {
                    outln!("* a message was deleted (#{})", id.chars().take(SHOWN_ID).collect::<String>());
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

fn print_message(ctx: &Ctx, m: &MessageInfo, context: &[MessageInfo]) {
    if ctx.json {
        // One JSON object per line: a stream, not a document.
        outln!("{}", serde_json::to_string(m).unwrap_or_default());
    } else {
        outln!("{}", line(m, context));
    }
}
