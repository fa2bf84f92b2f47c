use super::*;
use proptest::prelude::*;

const ROOM: &str = "00112233445566778899aabbccddeeff";

#[test]
fn signed_entry_verifies_and_tampering_is_caught() {
    let key = Keypair::generate_ed25519();
    let v = Entry::sign(&key, ROOM, 3, 1000, Body::Message { text: "salut".into(), reply_to: None, channel: None });
    let ok = v.entry.clone().verify().unwrap();
    assert_eq!(ok.id, v.id);
    assert_eq!(ok.author, key.public().to_peer_id());

    let mut changed = v.entry.clone();
    changed.body = Body::Message { text: "salud".into(), reply_to: None, channel: None };
    assert_eq!(changed.verify().unwrap_err(), EntryError::BadSignature);

    let mut relabelled = v.entry.clone();
    relabelled.author = hex::encode(Keypair::generate_ed25519().public().encode_protobuf());
    assert_eq!(relabelled.verify().unwrap_err(), EntryError::BadSignature);

    let mut reordered = v.entry;
    reordered.lamport = 4;
    assert_eq!(reordered.verify().unwrap_err(), EntryError::BadSignature);
}

#[test]
fn invite_entries_and_admissions_naming_a_code_verify_and_are_checked() {
    let key = Keypair::generate_ed25519();
    let member = key.public().to_peer_id().to_string();
    let admit =
        Entry::sign(&key, ROOM, 2, 0, Body::Admit { member: member.clone(), name: "eve".into(), invite: Some("0a1b2c3d4e5f".into()) });
    let mut changed = admit.entry.clone();
    changed.body = Body::Admit { member: member.clone(), name: "eve".into(), invite: Some("0a1b2c3d4e50".into()) };
    assert_eq!(changed.verify().unwrap_err(), EntryError::BadSignature, "the code an admission names is signed");
    assert!(admit.entry.verify().is_ok());
    let bad = Entry::sign(&key, ROOM, 2, 0, Body::Admit { member, name: "eve".into(), invite: Some("zz".into()) });
    assert!(matches!(bad.entry.verify(), Err(EntryError::Malformed(_))));
    let h = "ab".repeat(32);
    let inv = Body::Invite { id: "0a1b2c3d4e5f".into(), check: h.clone(), rendezvous: h.clone(), expires: 9, once: true };
    assert!(Entry::sign(&key, ROOM, 3, 0, inv).entry.verify().is_ok());
    let short = Body::Invite { id: "0a1b".into(), check: h.clone(), rendezvous: h, expires: 9, once: true };
    assert!(matches!(Entry::sign(&key, ROOM, 3, 0, short).entry.verify(), Err(EntryError::Malformed(_))));
    // An admission without a code keeps the old signed bytes.
    let plain = Body::Admit { member: "m".into(), name: "n".into(), invite: None };
    let json = serde_json::to_string(&plain).unwrap();
    assert!(!json.contains("invite"), "{json}");
}

#[test]
fn oversized_message_is_malformed() {
    let key = Keypair::generate_ed25519();
    let v = Entry::sign(&key, ROOM, 2, 0, Body::Message { text: "x".repeat(MAX_MESSAGE_BYTES + 1), reply_to: None, channel: None });
    assert!(matches!(v.entry.verify(), Err(EntryError::Malformed(_))));
}

#[test]
fn replies_edits_deletes_and_reactions_are_signed_and_checked() {
    let key = Keypair::generate_ed25519();
    let target = "0123456789abcdef0123456789abcdef".to_string();
    let reply = Entry::sign(&key, ROOM, 3, 0, Body::Message { text: "oui".into(), reply_to: Some(target.clone()), channel: None });
    let mut unlinked = reply.entry.clone();
    unlinked.body = Body::Message { text: "oui".into(), reply_to: None, channel: None };
    assert_eq!(unlinked.verify().unwrap_err(), EntryError::BadSignature, "what a reply answers is signed");
    assert!(reply.entry.verify().is_ok());
    let plain = serde_json::to_string(&Body::Message { text: "a".into(), reply_to: None, channel: None }).unwrap();
    assert!(!plain.contains("reply_to"), "old messages keep their old shape: {plain}");
    let old: Body = serde_json::from_str(r#"{"kind":"message","text":"a"}"#).unwrap();
    assert_eq!(old, Body::Message { text: "a".into(), reply_to: None, channel: None });

    let ok = [
        Body::Edit { message: target.clone(), text: "b".into() },
        Body::Delete { message: target.clone() },
        Body::React { message: target.clone(), emoji: "🎉".into(), on: true },
    ];
    for body in ok {
        assert!(Entry::sign(&key, ROOM, 4, 0, body.clone()).entry.verify().is_ok(), "{body:?}");
    }
    let bad = [
        Body::Message { text: "a".into(), reply_to: Some("nope".into()), channel: None },
        Body::Edit { message: "short".into(), text: "b".into() },
        Body::Edit { message: target.clone(), text: "x".repeat(MAX_MESSAGE_BYTES + 1) },
        Body::Delete { message: target.to_uppercase() },
        Body::React { message: target.clone(), emoji: "🍆".into(), on: true },
    ];
    for body in bad {
        assert!(matches!(Entry::sign(&key, ROOM, 4, 0, body.clone()).entry.verify(), Err(EntryError::Malformed(_))), "{body:?}");
    }
    let mut flipped = Entry::sign(&key, ROOM, 5, 0, Body::React { message: target.clone(), emoji: "👍".into(), on: true }).entry;
    flipped.body = Body::React { message: target, emoji: "👍".into(), on: false };
    assert_eq!(flipped.verify().unwrap_err(), EntryError::BadSignature);
}

proptest! {
    #[test]
    fn decoding_arbitrary_json_never_panics(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(e) = serde_json::from_slice::<Entry>(&data) {
            let _ = e.verify();
        }
    }

    #[test]
    fn any_text_roundtrips_through_json(text in ".{0,200}", lamport in 1u64..u64::MAX, time in any::<u64>()) {
        let key = Keypair::generate_ed25519();
        let v = Entry::sign(&key, ROOM, lamport, time, Body::Message { text, reply_to: None, channel: None });
        let json = serde_json::to_vec(&v.entry).unwrap();
        let back: Entry = serde_json::from_slice(&json).unwrap();
        prop_assert_eq!(back.verify().unwrap().id, v.id);
    }
}
