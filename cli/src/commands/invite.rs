//! `apero invite ...` and `apero join`.

use std::io::IsTerminal;

use clap::{Args, Subcommand};

use super::duration;
use crate::output::{self, outln};
use crate::Ctx;

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct InviteArgs {
    #[command(subcommand)]
    action: Option<InviteAction>,
    /// The room (name or id) to invite someone to.
    #[arg(required = true)]
    room: Option<String>,
    /// How long the code works: 30s, 10m, 24h, 7d (default: 24h, or 10m
    /// with --short).
    #[arg(long, value_parser = duration::parse)]
    ttl: Option<u64>,
    /// The code admits one person only.
    #[arg(long)]
    once: bool,
    /// A short code to read out over the phone, like `7-guitar-orbit`:
    /// single use, valid 10 minutes, found through the DHT or on your LAN.
    /// One wrong guess burns it.
    #[arg(long)]
    short: bool,
}

#[derive(Subcommand, Debug)]
enum InviteAction {
    /// List the codes you made for a room.
    List { room: String },
    /// Revoke a code (give the code itself or its id from `invite list`).
    Revoke { code_or_id: String },
}

#[derive(Args, Debug)]
pub struct JoinArgs {
    /// The invite code a friend gave you: a long pasted one, or a short
    /// spoken one like `7-guitar-orbit`.
    code: String,
    /// Give up when no member of the room can be reached within this time.
    /// A short code that nobody announces (mistyped, or expired) fails
    /// sooner, after 12 s at most.
    #[arg(long, default_value = "30s", value_parser = duration::parse)]
    timeout: u64,
    /// Ask this member first (a peer id, as `apero room members` shows it),
    /// for instance the friend you know is online right now. Without it the
    /// person who made the code is asked first, then the other members.
    #[arg(long, value_name = "PEER_ID")]
    via: Option<String>,
}

fn expires_text(expires: u64) -> String {
    output::local_time(expires.saturating_mul(1000))
}

pub async fn invite(ctx: &Ctx, args: InviteArgs) -> anyhow::Result<()> {
    let mut c = ctx.client().await?;
    match args.action {
        Some(InviteAction::List { room }) => {
            let list = c.invite_list(&room).await?;
            if ctx.json {
                output::json(&list);
            } else if list.is_empty() {
                outln!("No invites for {room:?} yet.");
            } else {
                let now = chrono::Utc::now().timestamp().max(0) as u64;
                for i in list {
                    let state = if i.revoked {
                        "revoked".to_string()
                    } else if i.expires < now {
                        "expired".to_string()
                    } else if i.once && i.uses > 0 {
                        "used".to_string()
                    } else {
                        format!("valid until {}", expires_text(i.expires))
                    };
                    outln!("{}  {:<22} {} use(s){}", i.id, state, i.uses, if i.once { ", single use" } else { "" });
                }
            }
        }
        Some(InviteAction::Revoke { code_or_id }) => {
            c.invite_revoke(&code_or_id).await?;
            if ctx.json {
                output::json(&serde_json::json!({"revoked": code_or_id}));
            } else {
                outln!("Revoked: nobody can join with that code any more.");
            }
        }
        None => {
            let room = args.room.unwrap_or_default();
            let ttl = args.ttl.unwrap_or(if args.short { 600 } else { 24 * 3600 });
            let inv = c.invite_create(&room, ttl, args.once || args.short, args.short).await?;
            if ctx.json {
                output::json(&inv);
            } else if args.short {
                outln!("{}", inv.code);
                eprintln!(
                    "Read this code to a friend; they run `apero join {}`. It works once, until {}. Your apero must stay running.",
                    inv.code,
                    expires_text(inv.expires)
                );
            } else {
                outln!("{}", inv.code);
                eprintln!(
                    "Give this code to a friend; they run `apero join CODE`. It works until {}{}, \
                     and any member of the room who is online can let them in.",
                    expires_text(inv.expires),
                    if inv.once { " for one person" } else { "" }
                );
            }
        }
    }
    Ok(())
}

pub async fn join(ctx: &Ctx, args: JoinArgs) -> anyhow::Result<()> {
    let mut c = ctx.client().await?;
    if !ctx.json && std::io::stderr().is_terminal() {
        eprintln!("Contacting the room's members (up to {} s)…", args.timeout);
    }
    let joined = c.join_via(&args.code, args.timeout, args.via.as_deref()).await?;
    if ctx.json {
        output::json(&joined);
    } else {
        outln!("Joined {:?} ({}). Say hello with: apero chat {:?}", joined.name, joined.room, joined.name);
    }
    Ok(())
}
