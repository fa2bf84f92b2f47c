//! Every type that crosses the control socket, one file per subject. Peer
//! ids travel as strings so that clients need no libp2p.

mod call;
mod channels;
mod event;
mod files;
mod reply;
mod request;
mod rooms;
mod share;
mod states;
mod status;

pub use call::*;
pub use channels::*;
pub use event::*;
pub use files::*;
pub use reply::*;
pub use request::*;
pub use rooms::*;
pub use share::*;
pub use states::*;
pub use status::*;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::Serialize;

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
        let r = Request::Say { room: "r".into(), text: "hi".into(), reply_to: None, channel: None };
        assert_eq!(serde_json::to_string(&r).unwrap(), r#"{"cmd":"say","room":"r","text":"hi"}"#);
        let e: Result<Request, _> = serde_json::from_str(r#"{"cmd":"say","room":"r","text":"t","extra":1}"#);
        assert!(e.is_err(), "unknown fields are refused");
    }

    #[test]
    fn a_message_from_an_older_daemon_still_reads() {
        let old = r#"{"id":"i","room":"r","author":"a","author_name":"n","text":"t","time":1,"lamport":2}"#;
        let m: MessageInfo = serde_json::from_str(old).unwrap();
        assert_eq!((m.reply_to, m.edited, m.reactions.len(), m.mentions_me), (None, false, 0, false));
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
        assert_eq!(serde_json::to_string(&ErrorKind::NoSuchCode).unwrap(), "\"no_such_code\"");
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
            (".*", ".*", proptest::option::of("[0-9a-f]{32}")).prop_map(|(room, text, reply_to)| Request::Say {
                room,
                text,
                reply_to,
                channel: None
            }),
            (".*", ".*", ".*").prop_map(|(room, message, text)| Request::Edit { room, message, text }),
            (".*", ".*").prop_map(|(room, message)| Request::Delete { room, message }),
            (".*", ".*", ".*", any::<bool>()).prop_map(|(room, message, emoji, on)| Request::React { room, message, emoji, on }),
            (".*", proptest::option::of(any::<u32>())).prop_map(|(room, limit)| Request::History { room, limit, channel: None }),
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
