//! `apero channel ...` and `apero breakout ...`: channels inside a room,
//! and breakout groups.

use apero_control::{Assignment, ChannelsInfo, Request};
use clap::Subcommand;

use crate::output::{self, outln, short_id};
use crate::Ctx;

#[derive(Subcommand, Debug)]
pub enum ChannelCommand {
    /// List the room's channels with who is in each one's call, its hosts,
    /// and the breakout if one runs.
    List { room: String },
    /// Create a channel (hosts only).
    Create { room: String, name: String },
    /// Rename a channel (hosts only).
    Rename { room: String, channel: String, name: String },
    /// Delete a channel (hosts only; general stays). Who was in it meets in general.
    Delete { room: String, channel: String },
}

#[derive(Subcommand, Debug)]
pub enum BreakoutCommand {
    /// Split the call into N groups (hosts only): everyone but you is moved
    /// at once, at random unless placed with --assign. With --minutes,
    /// everyone hears a chime a minute before the end and comes back by
    /// themselves when the time is up.
    Start {
        room: String,
        /// How many groups.
        #[arg(long)]
        groups: u32,
        /// How long, in minutes (no limit when left out: `apero breakout end`).
        #[arg(long)]
        minutes: Option<u32>,
        /// Put someone in a group by hand: NAME=GROUP (groups count from 1). Repeat it.
        #[arg(long, value_name = "NAME=GROUP", value_parser = assignment)]
        assign: Vec<Assignment>,
    },
    /// Bring everyone back to general (hosts only).
    End { room: String },
    /// Ask the hosts for help: they are told which group needs them.
    Help { room: String },
    /// Send a message to every group (hosts only).
    Broadcast {
        room: String,
        #[arg(required = true, num_args = 1..)]
        text: Vec<String>,
    },
    /// Show the groups, who is in each, and the time left.
    Status { room: String },
}

fn assignment(v: &str) -> Result<Assignment, String> {
    let (member, group) = v.rsplit_once('=').ok_or_else(|| format!("{v:?}: write NAME=GROUP, e.g. camille=2"))?;
    let group = group.trim().parse::<u32>().map_err(|_| format!("{v:?}: the group is a number from 1"))?;
    if member.trim().is_empty() || group == 0 {
        return Err(format!("{v:?}: write NAME=GROUP, groups count from 1"));
    }
    Ok(Assignment { member: member.trim().to_string(), group })
}

pub async fn channel(ctx: &Ctx, cmd: ChannelCommand) -> anyhow::Result<()> {
    let mut c = ctx.client().await?;
    let (req, done) = match cmd {
        ChannelCommand::List { room } => (Request::ChannelList { room }, String::new()),
        ChannelCommand::Create { room, name } => {
            (Request::ChannelCreate { room, name: name.clone() }, format!("Created channel {name:?}."))
        }
        ChannelCommand::Rename { room, channel, name } => {
            (Request::ChannelRename { room, channel: channel.clone(), name: name.clone() }, format!("{channel:?} is now {name:?}."))
        }
        ChannelCommand::Delete { room, channel } => {
            (Request::ChannelDelete { room, channel: channel.clone() }, format!("Deleted channel {channel:?}."))
        }
    };
    let info = c.channels(req).await?;
    print(ctx, &info, &done);
    Ok(())
}

pub async fn breakout(ctx: &Ctx, cmd: BreakoutCommand) -> anyhow::Result<()> {
    let mut c = ctx.client().await?;
    let (req, done) = match cmd {
        BreakoutCommand::Start { room, groups, minutes, assign } => {
            let time = minutes.map(|m| format!(" for {m} minute(s)")).unwrap_or_default();
            (Request::BreakoutStart { room, groups, minutes, assign }, format!("Breakout started in {groups} group(s){time}."))
        }
        BreakoutCommand::End { room } => (Request::BreakoutEnd { room }, "Everyone is back in general.".into()),
        BreakoutCommand::Help { room } => (Request::BreakoutHelp { room }, "The hosts were asked for help.".into()),
        BreakoutCommand::Status { room } => (Request::ChannelList { room }, String::new()),
        BreakoutCommand::Broadcast { room, text } => {
            let m = c.request(&Request::BreakoutBroadcast { room, text: text.join(" ") }).await?;
            if ctx.json {
                output::json(&m);
            } else {
                outln!("Sent to every group.");
            }
            return Ok(());
        }
    };
    let info = c.channels(req).await?;
    print(ctx, &info, &done);
    Ok(())
}

/// The channels with who is where (names from the peer ids' starts), the
/// hosts and the breakout; `done` first when set.
pub fn print(ctx: &Ctx, info: &ChannelsInfo, done: &str) {
    if ctx.json {
        return output::json(info);
    }
    if !done.is_empty() {
        outln!("{done}");
    }
    let ids = |v: &[String]| v.iter().map(|p| info.names.get(p).cloned().unwrap_or_else(|| short_id(p))).collect::<Vec<_>>().join(", ");
    for ch in &info.channels {
        let here = if info.mine.as_deref() == Some(ch.id.as_str()) { " (you are here)" } else { "" };
        let who = if ch.in_call.is_empty() { String::new() } else { format!(": {}", ids(&ch.in_call)) };
        let kind = if ch.group { "group" } else { "channel" };
        outln!("  {kind:<8} {:<24}{here}{who}", ch.name);
    }
    outln!("Hosts: {}{}", ids(&info.hosts), if info.me_host { " (you are a host)" } else { "" });
    if let Some(b) = &info.breakout {
        let left = b.seconds_left.map(|s| format!(", {}:{:02} left", s / 60, s % 60)).unwrap_or_default();
        outln!("Breakout running: {} group(s){left}.", b.groups.len());
        for g in &b.groups {
            let mine = if b.mine.as_deref() == Some(g.channel.as_str()) { " (yours)" } else { "" };
            outln!("  {}{mine}: {}", g.name, ids(&g.members));
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn assignments_read_name_equals_group() {
        let a = super::assignment("Camille Dupont=2").unwrap();
        assert_eq!((a.member.as_str(), a.group), ("Camille Dupont", 2));
        assert!(super::assignment("camille").is_err());
        assert!(super::assignment("camille=0").is_err());
        assert!(super::assignment("=2").is_err());
    }
}
