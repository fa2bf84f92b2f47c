//! `apero`: the command line for apero. A thin client: everything it knows
//! comes from the daemon over the control socket (see `apero-control`).

mod commands;
mod output;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use commands::{amend, call, channel, chat, daemon, files, invite, room, service, share, soundcheck};

/// Group calls, chat and files with friends, with no server in between.
///
/// `apero up` starts the background daemon; `apero room create NAME` makes a
/// room and `apero invite NAME` a code to give a friend, who runs
/// `apero join CODE`. Every command that prints data takes `--json`.
#[derive(Parser, Debug)]
#[command(name = "apero", version, propagate_version = true, after_help = EXIT_CODES)]
pub struct Cli {
    /// Talk to the daemon that keeps its state in DIR (as `aperod --home DIR`).
    #[arg(long, global = true, value_name = "DIR", env = "APERO_HOME")]
    home: Option<PathBuf>,
    /// Print one JSON document instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Start the daemon in the background (if it is not running) and wait until it answers.
    Up(daemon::UpArgs),
    /// Stop the daemon.
    Down,
    /// Show who you are, your addresses and the peers you are connected to.
    Status,
    /// Show your display name, or change it: friends see the new one on
    /// your messages, old and new, and in calls. Kept for next time.
    Name(daemon::NameArgs),
    /// Create, list, leave rooms and see their members.
    #[command(subcommand)]
    Room(room::RoomCommand),
    /// Make an invite code for a room (or list and revoke codes).
    Invite(invite::InviteArgs),
    /// Join a room with an invite code a friend gave you.
    Join(invite::JoinArgs),
    /// Send a message to a room (`--reply-to ID` answers one).
    Say(chat::SayArgs),
    /// Change the text of one of your messages.
    Edit(amend::EditArgs),
    /// Delete one of your messages: it goes from every member's history
    /// and from their disks, not only from view.
    Delete(amend::DeleteArgs),
    /// React to a message with an emoji (`--off` takes it back).
    React(amend::ReactArgs),
    /// Show a room's messages, oldest first, each with the id that `say
    /// --reply-to`, `edit`, `delete` and `react` take.
    History(chat::HistoryArgs),
    /// Chat interactively: shows recent messages, then new ones live; each line you type is sent.
    Chat(chat::ChatArgs),
    /// Join, leave and inspect voice calls; move between channels.
    #[command(subcommand)]
    Call(call::CallCommand),
    /// A room's channels: each has its own chat and its own call. Hosts
    /// create, rename and delete them.
    #[command(subcommand)]
    Channel(channel::ChannelCommand),
    /// Split the call into breakout groups for a while and bring everyone
    /// back (hosts); ask the hosts for help from a group (`apero breakout
    /// help ROOM`; `apero breakout --help` for this text).
    #[command(subcommand, disable_help_subcommand = true)]
    Breakout(channel::BreakoutCommand),
    /// Mute your microphone in the current call (`--toggle`: mute or unmute,
    /// whichever it is not; bind `apero mute --toggle` to a key in your
    /// desktop's keyboard settings for a mute shortcut that works anywhere).
    Mute(call::MuteArgs),
    /// Unmute your microphone.
    Unmute,
    /// List or switch audio devices.
    #[command(subcommand)]
    Audio(call::AudioCommand),
    /// List your microphones and speakers (`apero call settings` picks one).
    Devices,
    /// Test your microphone (and speaker) before a call: a live level meter,
    /// and with `--echo` your own voice played back a second later, as your
    /// friends will hear it. Not during a call (`apero call status` shows
    /// your level there).
    SoundCheck(soundcheck::SoundCheckArgs),
    /// Share your screen, a window or your camera in a call, see who shares,
    /// save a shared slide (`apero share snapshot slide.png`).
    #[command(subcommand)]
    Share(share::ShareCommand),
    /// Offer files to a room (they stay on your disk; members fetch them from you).
    Send(files::SendArgs),
    /// List the files offered in a room.
    Files(files::FilesArgs),
    /// Download an offered file, with a progress bar; resumes where it stopped.
    Get(files::GetArgs),
    /// List running, paused and finished downloads.
    Transfers,
    /// Stop a download and delete its partial file.
    Cancel(files::CancelArgs),
    /// Start apero at login (install), stop doing so (uninstall), or see what is set up (status).
    #[command(subcommand)]
    Service(service::ServiceCommand),
    /// Print a shell completion script (e.g. `apero completions bash > ~/.local/share/bash-completion/completions/apero`).
    Completions { shell: clap_complete::Shell },
}

/// Kept in step with `ErrorKind::exit_code` (a test checks).
const EXIT_CODES: &str = "\
Exit codes:
  0  done
  1  the daemon could not be reached (not running: `apero up`), or apero itself failed
  2  the request was wrong: bad arguments (to apero or to the daemon), an ambiguous name, another protocol version
  3  not found, or no longer valid: unknown room or file, bad, expired, revoked or used invite code, a short code
     nobody announces (mistyped?), already a member
  4  a peer refused, or none could be reached in time
  5  the daemon failed locally: disk, audio device, screen or camera capture, or a bug (its log says more)
With --json an error is also printed as {\"error\": {\"kind\", \"message\"}}.";

/// Our name in the hello.
pub const CLIENT_NAME: &str = "apero-cli";

pub struct Ctx {
    pub socket: PathBuf,
    pub home: Option<PathBuf>,
    pub json: bool,
}

impl Ctx {
    pub async fn client(&self) -> Result<apero_control::Client, apero_control::ClientError> {
        apero_control::Client::connect(&self.socket, CLIENT_NAME).await
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let socket = apero_control::socket_path(cli.home.as_deref());
    let ctx = Ctx { socket, home: cli.home.clone(), json: cli.json };
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("apero: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async {
        match cli.command {
            Command::Up(a) => daemon::up(&ctx, a).await,
            Command::Down => daemon::down(&ctx).await,
            Command::Status => daemon::status(&ctx).await,
            Command::Name(a) => daemon::name(&ctx, a).await,
            Command::Room(c) => room::run(&ctx, c).await,
            Command::Invite(a) => invite::invite(&ctx, a).await,
            Command::Join(a) => invite::join(&ctx, a).await,
            Command::Say(a) => chat::say(&ctx, a).await,
            Command::Edit(a) => amend::edit(&ctx, a).await,
            Command::Delete(a) => amend::delete(&ctx, a).await,
            Command::React(a) => amend::react(&ctx, a).await,
            Command::History(a) => chat::history(&ctx, a).await,
            Command::Chat(a) => chat::chat(&ctx, a).await,
            Command::Call(c) => call::call(&ctx, c).await,
            Command::Channel(c) => channel::channel(&ctx, c).await,
            Command::Breakout(c) => channel::breakout(&ctx, c).await,
            Command::Mute(a) => call::mute_cmd(&ctx, a).await,
            Command::Unmute => call::mute(&ctx, false).await,
            Command::Audio(c) => call::audio(&ctx, c).await,
            Command::Devices => call::audio(&ctx, call::AudioCommand::Devices).await,
            Command::SoundCheck(a) => soundcheck::run(&ctx, a).await,
            Command::Share(c) => share::run(&ctx, c).await,
            Command::Send(a) => files::send(&ctx, a).await,
            Command::Files(a) => files::files(&ctx, a).await,
            Command::Get(a) => files::get(&ctx, a).await,
            Command::Transfers => files::transfers(&ctx).await,
            Command::Cancel(a) => files::cancel(&ctx, a).await,
            Command::Service(c) => service::run(&ctx, c).await,
            Command::Completions { shell } => {
                let mut cmd = <Cli as clap::CommandFactory>::command();
                clap_complete::generate(shell, &mut cmd, "apero", &mut std::io::stdout());
                Ok(())
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            output::error(&ctx, &e);
            ExitCode::from(output::exit_code(&e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use apero_control::{ClientError, ErrorBody, ErrorKind};

    fn daemon_error(kind: ErrorKind) -> anyhow::Error {
        ClientError::Daemon(ErrorBody { kind, message: "no".into() }).into()
    }

    #[test]
    fn exit_codes_follow_the_error_kind_and_are_documented() {
        let all = [
            ErrorKind::BadRequest,
            ErrorKind::TooLarge,
            ErrorKind::VersionMismatch,
            ErrorKind::HelloRequired,
            ErrorKind::NotFound,
            ErrorKind::Ambiguous,
            ErrorKind::InvalidCode,
            ErrorKind::Expired,
            ErrorKind::Revoked,
            ErrorKind::AlreadyUsed,
            ErrorKind::Refused,
            ErrorKind::Unreachable,
            ErrorKind::NoSuchCode,
            ErrorKind::AlreadyMember,
            ErrorKind::Internal,
            ErrorKind::Io,
            ErrorKind::Audio,
            ErrorKind::Capture,
            ErrorKind::Other,
        ];
        for kind in all {
            let code = output::exit_code(&daemon_error(kind));
            assert_eq!(i32::from(code), kind.exit_code(), "{kind:?}");
            assert!(EXIT_CODES.contains(&format!("\n  {code}  ")), "exit code {code} ({kind:?}) is not in --help");
        }
        let unreachable = anyhow::Error::from(ClientError::NotRunning("/x".into()));
        assert_eq!(output::exit_code(&unreachable), 1);
        assert_eq!(output::exit_code(&anyhow::anyhow!("a local failure")), 1);
        // Context on top keeps the daemon's class.
        assert_eq!(output::exit_code(&daemon_error(ErrorKind::Expired).context("joining")), 3);
    }

    #[test]
    fn the_command_line_is_consistent() {
        <Cli as clap::CommandFactory>::command().debug_assert();
    }
}
