//! `apero edit`, `apero delete`, `apero react`: changing a message after it
//! was said. Messages are named by the id `apero history` shows after `#`
//! (or any longer part of it).

use apero_control::{MessageInfo, REACTIONS};
use clap::Args;

use crate::output::{self, outln};
use crate::Ctx;

#[derive(Args, Debug)]
pub struct EditArgs {
    /// Room name or id.
    room: String,
    /// The message to change: one of yours, by the id `apero history` shows.
    id: String,
    /// Its new text (several words are joined with spaces). Everyone sees
    /// it marked "(edited)".
    #[arg(required = true, num_args = 1..)]
    text: Vec<String>,
}

#[derive(Args, Debug)]
pub struct DeleteArgs {
    /// Room name or id.
    room: String,
    /// The message to delete: one of yours, by the id `apero history` shows.
    id: String,
}

#[derive(Args, Debug)]
#[command(after_help = format!("Reactions: {}", REACTIONS.join(" ")))]
pub struct ReactArgs {
    /// Room name or id.
    room: String,
    /// The message, by the id `apero history` shows.
    id: String,
    /// One of the reactions listed below.
    emoji: String,
    /// Take your reaction back instead.
    #[arg(long)]
    off: bool,
}

pub async fn edit(ctx: &Ctx, args: EditArgs) -> anyhow::Result<()> {
    let m = ctx.client().await?.edit(&args.room, &args.id, &args.text.join(" ")).await?;
    show(ctx, &m, "Edited");
    Ok(())
}

pub async fn delete(ctx: &Ctx, args: DeleteArgs) -> anyhow::Result<()> {
    ctx.client().await?.delete(&args.room, &args.id).await?;
    if ctx.json {
        output::json(&serde_json::json!({"deleted": args.id}));
    } else {
        outln!("Deleted: members remove it from their history as they hear of it (those away, when they come back).");
    }
    Ok(())
}

pub async fn react(ctx: &Ctx, args: ReactArgs) -> anyhow::Result<()> {
    let m = ctx.client().await?.react(&args.room, &args.id, &args.emoji, !args.off).await?;
    show(ctx, &m, if args.off { "Reaction taken back" } else { "Reacted" });
    Ok(())
}

fn show(ctx: &Ctx, m: &MessageInfo, what: &str) {
    if ctx.json {
        output::json(m);
    } else {
        let counts: Vec<String> = m.reactions.iter().map(|r| format!("{} {}", r.emoji, r.members.len())).collect();
        outln!("{what}: {}  {}", m.text, counts.join(" "));
    }
}
