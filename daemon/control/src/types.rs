//! Every type that crosses the control socket. Peer ids travel as strings so
//! that clients need no libp2p.

use serde::{Deserialize, Serialize};

/// One line from a client to the daemon.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// Must be the first request on every connection.
    Hello {
        version: u32,
        client: String,
    },
    Status,
    /// Stop the daemon cleanly.
    Shutdown,
    RoomCreate {
        name: String,
    },
    RoomList,
    RoomLeave {
        room: String,
    },
    RoomMembers {
        room: String,
    },
    /// `short`: a spoken code like `7-guitar-orbit` (single use, found
    /// through the DHT or the LAN) instead of a long pasted one.
    InviteCreate {
        room: String,
        ttl_secs: u64,
        once: bool,
        #[serde(default)]
        short: bool,
    },
    InviteList {
        room: String,
    },
    InviteRevoke {
        code_or_id: String,
    },
    /// Join a room with a long invite code; answers once the room's members
    /// and history have arrived, or with an error after `timeout_secs`.
    Join {
        code: String,
        timeout_secs: u64,
        /// Ask this member (peer id) first: someone known to be online.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        via: Option<String>,
    },
    Say {
        room: String,
        text: String,
    },
    History {
        room: String,
        limit: Option<u32>,
    },
    /// Turn this connection into a stream of [`Event`] lines.
    Subscribe,
    /// Join (or start) the call of a room; leaves any other call first.
    CallJoin {
        room: String,
    },
    CallLeave,
    CallStatus,
    Mute {
        muted: bool,
    },
    AudioDevices,
    /// Switch input and/or output device, also during a call.
    AudioUse {
        input: Option<String>,
        output: Option<String>,
    },
    /// Change devices and/or turn processing stages on or off, also during
    /// a call; every field left out stays as it is.
    CallSettings {
        #[serde(default)]
        input: Option<String>,
        #[serde(default)]
        output: Option<String>,
        #[serde(default)]
        echo_cancel: Option<bool>,
        #[serde(default)]
        noise_suppression: Option<bool>,
        #[serde(default)]
        gain_control: Option<bool>,
    },
    /// Start (or change) a sound check outside any call: the microphone runs
    /// through the call's processing, its level comes as
    /// [`Event::SoundCheck`], and with `echo` our own voice is played back
    /// after a second, as a friend would hear it ("test my microphone").
    /// Stops by itself after `seconds` (default 30, at most 300), on
    /// `SoundCheckStop`, or when a call is joined.
    SoundCheck {
        #[serde(default)]
        echo: bool,
        #[serde(default)]
        seconds: Option<u32>,
    },
    SoundCheckStop,
    /// Playback volume of one participant of our call, in percent (0–400).
    CallVolume {
        peer_id: String,
        percent: u32,
    },
    /// Offer files to a room: hash them and announce signed offers. Paths
    /// must be absolute. `name` overrides the offered name (one path only).
    Send {
        room: String,
        paths: Vec<String>,
        name: Option<String>,
    },
    /// The files offered in a room.
    Files {
        room: String,
    },
    /// Download an offered file into `dir` (absolute; default: the
    /// downloads directory). Answers once the transfer started; progress
    /// comes as [`Event::Transfer`].
    Get {
        file: String,
        dir: Option<String>,
    },
    /// Running, paused and recently finished downloads.
    Transfers,
    /// Stop a download and delete its partial file.
    Cancel {
        file: String,
    },
}

/// One line from the daemon to a client: `{"ok": ...}` or `{"error": ...}`.
// A response lives from its making to its serialization, one at a time:
// boxing the large variant would buy nothing but an allocation per line.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Response {
    Ok(Reply),
    Error(ErrorBody),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    Hello(HelloReply),
    Status(Status),
    RoomCreated(RoomCreated),
    Rooms(Vec<RoomInfo>),
    Members(Vec<MemberInfo>),
    Invite(InviteInfo),
    Invites(Vec<InviteInfo>),
    Joined(Joined),
    Message(MessageInfo),
    History(Vec<MessageInfo>),
    Done,
    Subscribed,
    Call(CallStatus),
    AudioDevices(AudioDevicesInfo),
    SoundCheck(SoundCheckState),
    Offered(Vec<OfferInfo>),
    Files(Vec<FileInfo>),
    Transfer(TransferInfo),
    Transfers(Vec<TransferInfo>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub kind: ErrorKind,
    pub message: String,
}

/// Machine-readable error classes; `message` is the human sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The line was not valid JSON or not a known request.
    BadRequest,
    /// The request or a field in it is over its size cap.
    TooLarge,
    VersionMismatch,
    /// The first request on a connection was not `hello`.
    HelloRequired,
    NotFound,
    Ambiguous,
    /// The invite code is malformed or its signature does not verify.
    InvalidCode,
    Expired,
    Revoked,
    AlreadyUsed,
    /// The inviter refused for another reason.
    Refused,
    /// No peer that could admit us was reachable in time.
    Unreachable,
    AlreadyMember,
    /// A bug or a broken invariant in the daemon (its log says more).
    Internal,
    /// A file or directory could not be read or written.
    Io,
    /// The sound devices or the audio backend failed.
    Audio,
    /// A kind this client does not know (a newer daemon's): read as a local
    /// failure of the daemon, and the message still reaches the user.
    #[serde(other)]
    Other,
}

impl ErrorKind {
    /// The CLI's exit code for this kind: 2 for what the user asked wrongly,
    /// 3 for what does not exist or is no longer valid, 4 for peers that
    /// refused or could not be reached, 5 for local failures (disk, audio,
    /// the daemon itself). 1 stays for "could not talk to the daemon".
    pub fn exit_code(self) -> i32 {
        match self {
            ErrorKind::BadRequest | ErrorKind::TooLarge | ErrorKind::HelloRequired | ErrorKind::Ambiguous | ErrorKind::VersionMismatch => 2,
            ErrorKind::NotFound
            | ErrorKind::InvalidCode
            | ErrorKind::Expired
            | ErrorKind::Revoked
            | ErrorKind::AlreadyUsed
            | ErrorKind::AlreadyMember => 3,
            ErrorKind::Refused | ErrorKind::Unreachable => 4,
            ErrorKind::Internal | ErrorKind::Io | ErrorKind::Audio | ErrorKind::Other => 5,
        }
    }
}

/// Declares a state enum that travels as the lowercase string it always
/// did, so JSON consumers written against the string form keep working.
macro_rules! wire_state {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
        #[serde(rename_all = "lowercase")]
        pub enum $name {
            $($(#[$vmeta])* #[doc = concat!("`\"", $text, "\"`")] $variant,)+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.pad(self.as_str())
            }
        }
    };
}

wire_state! {
    /// Whether AutoNAT found us reachable from the internet.
    Nat { #[default] Unknown => "unknown", Public => "public", Private => "private" }
}

wire_state! {
    /// Whom a daemon relays for.
    Relaying {
        /// Not reachable (or not known to be): nobody could use us.
        #[default] Off => "off",
        /// AutoNAT found us public: members of our rooms may reserve and open circuits.
        Members => "members",
        /// `aperod --relay`: anyone, within the rate limits.
        Anyone => "anyone",
    }
}

wire_state! {
    /// How a connected peer is reached.
    PeerPath { #[default] Direct => "direct", Relayed => "relayed" }
}

wire_state! {
    /// The transport of a peer's best connection.
    Transport { #[default] Quic => "quic", Tcp => "tcp" }
}

wire_state! {
    /// How a call participant's voice reaches us.
    CallPath {
        /// Ourselves.
        Local => "local",
        Direct => "direct",
        Relayed => "relayed",
        /// In the call but not connected right now.
        #[default] Unknown => "unknown",
    }
}

wire_state! {
    /// What carries a participant's voice to us.
    VoicePath {
        /// QUIC datagrams: a lost packet costs only its own frame.
        Datagram => "datagram",
        /// A reliable stream (relayed and TCP connections carry no datagrams).
        #[default] Stream => "stream",
    }
}

wire_state! {
    /// Where a download stands.
    TransferState {
        #[default] Running => "running",
        /// Stopped short but resumable (`apero get` again).
        Paused => "paused",
        Done => "done",
        Failed => "failed",
        Cancelled => "cancelled",
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HelloReply {
    pub version: u32,
    pub daemon: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub peer_id: String,
    pub name: String,
    pub version: String,
    pub pid: u32,
    pub home: String,
    pub listen: Vec<String>,
    pub peers: Vec<PeerInfo>,
    pub rooms: usize,
    pub dropped: Dropped,
    /// As AutoNAT last found.
    #[serde(default)]
    pub nat: Nat,
    /// Addresses others can reach us at (confirmed or relayed).
    #[serde(default)]
    pub external: Vec<String>,
    /// Relays we hold a reservation on (their peer ids).
    #[serde(default)]
    pub relays: Vec<String>,
    /// Whom this daemon relays for.
    #[serde(default)]
    pub relaying: Relaying,
    /// Tasks alive in the daemon's runtime: a number that must come back
    /// down when calls, downloads and connections end (the chaos run
    /// compares it before and after).
    #[serde(default)]
    pub tasks: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerInfo {
    pub peer_id: String,
    pub name: Option<String>,
    pub path: PeerPath,
    pub addr: String,
    pub rtt_ms: Option<f64>,
    /// The relay's peer id when `path` is `"relayed"`.
    #[serde(default)]
    pub via: Option<String>,
    #[serde(default)]
    pub transport: Transport,
}

/// Inputs the daemon threw away instead of acting on, by reason.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Dropped {
    /// Peer frames that could not be decoded or were over the size cap.
    pub bad_frames: u64,
    /// Room entries whose signature did not verify.
    pub bad_signatures: u64,
    /// Room entries or requests from peers that are not members.
    pub not_members: u64,
    /// Join attempts that were refused (bad, expired, revoked, used codes).
    pub refused_joins: u64,
    /// Control requests that were malformed, oversized or unknown.
    pub bad_control: u64,
    /// Voice frames or streams that were malformed, over the rate limit, or
    /// from someone not in our call.
    #[serde(default)]
    pub voice: u64,
    /// File requests refused (non-members, unknown files, out of range,
    /// floods) and chunks from peers that failed verification.
    #[serde(default)]
    pub files: u64,
    /// Network events (or peer bookkeeping) the daemon was too slow to take
    /// and shed rather than make the network wait.
    #[serde(default)]
    pub shed_events: u64,
    /// Voice datagrams that could not be decoded (also in `voice`).
    #[serde(default)]
    pub bad_datagrams: u64,
    /// Voice datagrams from someone not in our call, or for another room
    /// (also in `voice`).
    #[serde(default)]
    pub refused_datagrams: u64,
    /// Inbound voice or file streams reset because that service's queue, or
    /// the peer's share of it, was full (a flood, or a machine far behind).
    #[serde(default)]
    pub refused_streams: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoomCreated {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoomInfo {
    pub id: String,
    pub name: String,
    pub members: usize,
    pub online: usize,
    /// People in the room's call right now (0: no call going on).
    #[serde(default)]
    pub call: usize,
    /// Whether we are in it.
    #[serde(default)]
    pub in_call: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallStatus {
    /// `None` when we are in no call.
    pub room: Option<String>,
    pub room_name: Option<String>,
    pub muted: bool,
    pub backend: String,
    pub participants: Vec<Participant>,
    /// Voice bytes we sent (all peers, frame headers included) since joining.
    pub sent_bytes: u64,
    /// Times the speaker found the playback ring short since joining (each is
    /// a gap we made, not the network).
    #[serde(default)]
    pub underruns: u64,
    /// Audio per packet we send: 10 ms, or 20 in a call of five or more,
    /// where it halves the packets (0 when in no call).
    #[serde(default)]
    pub packet_ms: u32,
    /// Backend clock facts (first input/output sample times), for measurements.
    pub timing: Option<serde_json::Value>,
    /// Our microphone and speaker (`None` when in no call).
    #[serde(default)]
    pub audio: Option<AudioState>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Participant {
    pub peer_id: String,
    pub name: String,
    pub is_self: bool,
    pub speaking: bool,
    pub muted: bool,
    pub path: CallPath,
    /// What their voice came by last (`None` for ourselves or before any).
    #[serde(default)]
    pub voice_path: Option<VoicePath>,
    pub rtt_ms: Option<f64>,
    pub loss_pct: f64,
    pub jitter_ms: f64,
    /// Estimated mouth-to-ear delay from this participant to us.
    pub latency_ms: Option<f64>,
    /// Our playback volume for them, percent (100 unless changed).
    #[serde(default = "hundred")]
    pub volume: u32,
    /// Playout counters (received, played, concealed, fec_recovered, red_recovered, accelerated[_ms],
    /// expanded[_ms], held, late, drained, bad), target_ms, level_ms, burst, their_report (docs/voice.md).
    pub stats: Option<serde_json::Value>,
}

fn hundred() -> u32 {
    100
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudioDevicesInfo {
    pub backend: String,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub default_input: Option<String>,
    pub default_output: Option<String>,
    /// The devices chosen with `--input`/`--output` or `audio use` (`None`: the default).
    pub input: Option<String>,
    pub output: Option<String>,
    /// What is done to our microphone before it is sent.
    #[serde(default)]
    pub processing: AudioProcessing,
}

/// The processing of our microphone before it is sent. All on by default,
/// for a laptop without headset; a headset user can turn echo cancellation
/// off, and measurements turn everything off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AudioProcessing {
    pub echo_cancel: bool,
    pub noise_suppression: bool,
    pub gain_control: bool,
}

impl Default for AudioProcessing {
    fn default() -> Self {
        AudioProcessing { echo_cancel: true, noise_suppression: true, gain_control: true }
    }
}

impl AudioProcessing {
    pub const OFF: AudioProcessing = AudioProcessing { echo_cancel: false, noise_suppression: false, gain_control: false };

    pub fn any(&self) -> bool {
        self.echo_cancel || self.noise_suppression || self.gain_control
    }
}

/// How our own sound devices are doing in the call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct AudioState {
    /// `None` while the microphone works; else why it does not, and how to
    /// pick another (the call goes on without it: listen-only).
    pub input_error: Option<String>,
    /// `None` while the speaker works; else why not (the call goes on, unheard).
    pub output_error: Option<String>,
    pub processing: AudioProcessing,
    /// Echo return loss enhancement of the echo canceller, dB (how much of
    /// the echo it removes), once it has measured it.
    pub erle_db: Option<f64>,
    /// The echo path's delay as the canceller found it, ms.
    pub echo_delay_ms: Option<i32>,
    /// Our microphone's level after processing, dBFS.
    pub input_level_db: f64,
    /// Times the device was reopened after a loss since joining.
    pub reopened: u64,
    /// What the engine keeps queued for the sound card now, ms (it adapts
    /// to the chunks the card takes; 0 for a file backend, which has none).
    #[serde(default)]
    pub playback_buffer_ms: f64,
}

/// Where a level meter starts: -60 dBFS and below (a quiet room) is empty,
/// 0 dBFS full. The command line's meter and the window's share it.
pub const METER_FLOOR_DB: f64 = -60.0;

/// How full a level meter is for `level_db`, 0 to 1.
pub fn meter_fraction(level_db: f64) -> f64 {
    ((level_db - METER_FLOOR_DB) / -METER_FLOOR_DB).clamp(0.0, 1.0)
}

/// A sound check as it runs (or `running: false` once it stopped).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SoundCheckState {
    pub running: bool,
    /// Whether our voice is played back to us.
    pub echo: bool,
    /// How long after we speak we hear ourselves, ms.
    pub echo_delay_ms: u32,
    /// Our microphone after processing, dBFS rounded to whole dB (-100: silence).
    pub level_db: f64,
    /// Whether the speech decision hears a voice (what a call would send).
    pub speaking: bool,
    /// Our echo as it plays, dBFS.
    pub playing_db: f64,
    pub seconds_left: u32,
    /// The devices in use (`None`: the system's default).
    pub input: Option<String>,
    pub output: Option<String>,
    /// Why the microphone or the speaker does not work (`None`: it does).
    pub input_error: Option<String>,
    pub output_error: Option<String>,
}

/// One participant's sound level, for meters and speaking rings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Level {
    pub peer_id: String,
    /// dBFS, rounded to whole dB (-100 for silence).
    pub level_db: f64,
    pub speaking: bool,
    /// Whether they muted their microphone (ours: whether we did), so
    /// clients follow a mute made elsewhere without asking.
    #[serde(default)]
    pub muted: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberInfo {
    pub peer_id: String,
    pub name: String,
    pub online: bool,
    pub is_self: bool,
    /// Unix time in milliseconds; `None` when never seen.
    pub last_seen: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InviteInfo {
    pub id: String,
    pub code: String,
    pub room: String,
    /// Unix time in seconds.
    pub expires: u64,
    pub once: bool,
    pub uses: u64,
    pub revoked: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Joined {
    pub room: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageInfo {
    pub id: String,
    pub room: String,
    pub author: String,
    pub author_name: String,
    pub text: String,
    /// The author's clock, Unix time in milliseconds.
    pub time: u64,
    /// Position in the room's total order (ties broken by author, then id).
    pub lamport: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OfferInfo {
    /// The file's id: its BLAKE3 root hash, in hex.
    pub id: String,
    pub name: String,
    pub size: u64,
    pub hash: String,
    pub mime: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileInfo {
    pub id: String,
    pub room: String,
    /// The name as offered, made safe to show and to save.
    pub name: String,
    pub size: u64,
    pub mime: String,
    pub image: bool,
    /// Who offered it (peer id) and their name.
    pub from: String,
    pub from_name: String,
    /// When it was offered, Unix milliseconds.
    pub time: u64,
    /// Whether a complete, verified copy is on this machine.
    pub have: bool,
    /// Members known to have it (the sender and those who fetched it).
    pub sources: usize,
    /// How many of those are online now.
    pub sources_online: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransferInfo {
    /// The file's id (one download per file).
    pub id: String,
    pub room: String,
    pub name: String,
    pub size: u64,
    pub state: TransferState,
    /// Verified bytes on disk.
    pub done_bytes: u64,
    /// Bytes received over the network by this run (resumes fetch less).
    pub fetched_bytes: u64,
    /// Bytes of chunks still arriving (not verified yet): `done_bytes` plus
    /// this is what a progress bar shows, so it moves on a slow link too.
    #[serde(default)]
    pub partial_bytes: u64,
    /// Bytes per second over the last seconds.
    pub rate_bps: f64,
    /// Peers we are pulling from right now.
    pub sources: usize,
    /// Chunks that failed verification and were fetched again.
    pub bad_chunks: u64,
    /// While a call runs (ours or a source's): the rate, bytes/s, this
    /// download asks of its sources so the call keeps the path; 0: unpaced.
    #[serde(default)]
    pub paced_bps: u64,
    /// The final file, once done.
    pub path: Option<String>,
    pub error: Option<String>,
}

/// Something that happened, streamed after [`Request::Subscribe`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Message {
        room: String,
        message: MessageInfo,
    },
    MemberJoined {
        room: String,
        peer_id: String,
        name: String,
    },
    MemberLeft {
        room: String,
        peer_id: String,
        name: String,
    },
    PeerConnected {
        peer_id: String,
    },
    PeerDisconnected {
        peer_id: String,
    },
    /// Someone joined or left a room's call; `participants` is who is in it now.
    CallChanged {
        room: String,
        participants: Vec<String>,
    },
    /// Levels in our call, ten times a second while any changes and once a
    /// second otherwise: ours (after processing) and each participant's as
    /// we play it, with who speaks and who is muted.
    CallLevels {
        room: String,
        levels: Vec<Level>,
    },
    /// A sound check's levels, ten times a second while it runs, and once
    /// with `running: false` when it ends.
    SoundCheck {
        state: SoundCheckState,
    },
    /// Our microphone or speaker was lost or came back; the call goes on.
    /// `input_error`/`output_error` are `None` for a device that works.
    AudioDevice {
        input_error: Option<String>,
        output_error: Option<String>,
    },
    /// A file was offered in a room.
    FileOffered {
        room: String,
        file: FileInfo,
    },
    /// A download made progress (a few times a second) or changed state.
    Transfer {
        transfer: TransferInfo,
    },
    /// The subscriber fell behind and `missed` events were skipped.
    Lagged {
        missed: u64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_meter_spans_a_quiet_room_to_full_scale() {
        assert_eq!(meter_fraction(-100.0), 0.0);
        assert_eq!(meter_fraction(-60.0), 0.0);
        assert_eq!(meter_fraction(-30.0), 0.5);
        assert_eq!(meter_fraction(0.0), 1.0);
        assert_eq!(meter_fraction(6.0), 1.0);
    }

    #[test]
    fn request_wire_shape_is_stable() {
        let r = Request::Say { room: "r".into(), text: "hi".into() };
        assert_eq!(serde_json::to_string(&r).unwrap(), r#"{"cmd":"say","room":"r","text":"hi"}"#);
        let e: Result<Request, _> = serde_json::from_str(r#"{"cmd":"say","room":"r","text":"t","extra":1}"#);
        assert!(e.is_err(), "unknown fields are refused");
    }

    #[test]
    fn states_travel_as_the_strings_they_always_were() {
        fn check<T: Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug + Copy + std::fmt::Display>(all: &[T]) {
            for s in all {
                let json = serde_json::to_string(s).unwrap();
                assert_eq!(json, format!("\"{s}\""));
                assert_eq!(serde_json::from_str::<T>(&json).unwrap(), *s);
            }
        }
        check(Nat::ALL);
        check(Relaying::ALL);
        check(PeerPath::ALL);
        check(Transport::ALL);
        check(CallPath::ALL);
        check(VoicePath::ALL);
        check(TransferState::ALL);
        let words: Vec<&str> = TransferState::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(words, ["running", "paused", "done", "failed", "cancelled"]);
        assert_eq!(serde_json::to_string(&ErrorKind::Io).unwrap(), "\"io\"");
        // A newer daemon's kind still reads, as a local failure.
        assert_eq!(serde_json::from_str::<ErrorKind>("\"disk_on_fire\"").unwrap(), ErrorKind::Other);
    }

    fn any_request() -> impl Strategy<Value = Request> {
        prop_oneof![
            (any::<u32>(), ".*").prop_map(|(version, client)| Request::Hello { version, client }),
            Just(Request::Status),
            Just(Request::Subscribe),
            ".*".prop_map(|name| Request::RoomCreate { name }),
            (".*", any::<u64>(), any::<bool>()).prop_map(|(room, ttl_secs, once)| Request::InviteCreate {
                room,
                ttl_secs,
                once,
                short: false
            }),
            (".*", ".*").prop_map(|(room, text)| Request::Say { room, text }),
            (".*", proptest::option::of(any::<u32>())).prop_map(|(room, limit)| Request::History { room, limit }),
            (".*", any::<u64>(), proptest::option::of(".*")).prop_map(|(code, timeout_secs, via)| Request::Join {
                code,
                timeout_secs,
                via
            }),
        ]
    }

    proptest! {
        #[test]
        fn request_roundtrips(r in any_request()) {
            let line = serde_json::to_string(&r).unwrap();
            prop_assert!(!line.contains('\n'), "a request must stay on one line");
            let back: Request = serde_json::from_str(&line).unwrap();
            prop_assert_eq!(back, r);
        }

        #[test]
        fn arbitrary_bytes_never_panic_the_decoder(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = serde_json::from_slice::<Request>(&data);
        }

        #[test]
        fn mutated_requests_never_panic(r in any_request(), pos in any::<usize>(), byte in any::<u8>()) {
            let mut line = serde_json::to_vec(&r).unwrap();
            let i = pos % line.len();
            line[i] = byte;
            let _ = serde_json::from_slice::<Request>(&line);
        }
    }
}
