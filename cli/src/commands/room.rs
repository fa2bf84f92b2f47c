//! `apero room ...`.

use clap::Subcommand;

use crate::output::{self, ago, outln, short_id};
use crate::Ctx;

#[derive(Subcommand, Debug)]
pub enum RoomCommand {
    /// Create a room; you are its first member.
    Create { name: String },
    /// List your rooms with their member counts.
    List,
    /// Leave a room: members are told, and it disappears from your list.
    Leave { room: String },
    /// Show a room's members: name, peer id, online or last seen.
    Members { room: String },
    /// Make a member a host (hosts only): hosts manage channels, move,
    /// mute and remove people, and run breakout groups.
    Host { room: String, member: String },
    /// Take a member's host role back (hosts only; a room keeps one host).
    Unhost { room: String, member: String },
    /// Remove a member from the room (hosts only): they are told, nobody
    /// syncs with them any more, and their invite codes stop working.
    Remove { room: String, member: String },
}

pub async fn run(ctx: &Ctx, cmd: RoomCommand) -> anyhow::Result<()> {
    let mut c = ctx.client().await?;
    match cmd {
        RoomCommand::Create { name } => {
            let r = c.room_create(&name).await?;
            if ctx.json {
                output::json(&r);
            } else {
                outln!("Created room {:?} ({}).", r.name, r.id);
                outln!("Invite a friend with: apero invite {:?}", r.name);
            }
        }
        RoomCommand::List => {
            let rooms = c.room_list().await?;
            if ctx.json {
                output::json(&rooms);
            } else if rooms.is_empty() {
                outln!("You are in no room yet. Create one with `apero room create NAME` or join with `apero join CODE`.");
            } else {
                outln!("{:<32}  {:<24} {:<17} CALL", "ID", "NAME", "MEMBERS (ONLINE)");
                for r in rooms {
                    let call = match (r.call, r.in_call) {
                        (0, _) => String::new(),
                        (n, true) => format!("you + {} in the call", n - 1),
                        (n, false) => format!("{n} in a call: apero call join {:?}", r.name),
                    };
                    outln!("{:<32}  {:<24} {:<17} {call}", r.id, r.name, format!("{} ({})", r.members, r.online));
                }
            }
        }
        RoomCommand::Leave { room } => {
            c.room_leave(&room).await?;
            if ctx.json {
                output::json(&serde_json::json!({"left": room}));
            } else {
                outln!("You left {room:?}.");
            }
        }
        RoomCommand::Host { room, member } => {
            let info = c.channels(apero_control::Request::RoomHost { room, member: member.clone(), host: true }).await?;
            super::channel::print(ctx, &info, &format!("{member} is a host now."));
        }
        RoomCommand::Unhost { room, member } => {
            let info = c.channels(apero_control::Request::RoomHost { room, member: member.clone(), host: false }).await?;
            super::channel::print(ctx, &info, &format!("{member} is no longer a host."));
        }
        RoomCommand::Remove { room, member } => {
            let info = c.channels(apero_control::Request::RoomRemove { room, member: member.clone() }).await?;
            super::channel::print(ctx, &info, &format!("{member} was removed from the room."));
        }
        RoomCommand::Members { room } => {
            let members = c.room_members(&room).await?;
            if ctx.json {
                output::json(&members);
            } else {
                for m in members {
                    let seen = if m.is_self {
                        "you".to_string()
                    } else if m.online {
                        "online".to_string()
                    } else {
                        m.last_seen.map(|t| format!("last seen {}", ago(t))).unwrap_or_else(|| "never seen".into())
                    };
                    outln!("{:<20} {:<12} {}", m.name, short_id(&m.peer_id), seen);
                }
            }
        }
    }
    Ok(())
}
