//! `call status`: everything is copied out under the locks first, and the
//! database asked for names only after they are released.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use apero_control::{AudioState, CallPath, CallStatus, Participant};
use libp2p::PeerId;

use super::Calls;
use crate::error::ServiceResult;
use crate::voice::engine::{lock, processing_of, PeerVoice};
use crate::voice::RATE;

/// A participant's numbers, taken under the peers lock and turned into a
/// [`Participant`] after it is released (names come from the database).
struct Snapshot {
    peer: PeerId,
    speaking: bool,
    muted: bool,
    loss_pct: f64,
    jitter_ms: f64,
    target_ms: f64,
    heard_by: Option<apero_control::VoicePath>,
    volume: u32,
    stats: Option<serde_json::Value>,
}

impl Calls {
    pub async fn status(&self) -> ServiceResult<CallStatus> {
        let links: HashMap<PeerId, (bool, Option<f64>)> = self
            .deps
            .node
            .info()
            .await
            .map(|i| i.peers.into_iter().map(|p| (p.peer, (p.relayed, p.rtt.map(|d| d.as_secs_f64() * 1000.0)))).collect())
            .unwrap_or_default();
        let backend = lock(&self.config).backend.clone();
        // Everything is copied out under the locks; the database is asked
        // only after they are released.
        let taken = lock(&self.local).as_ref().map(|call| {
            let peers: Vec<Snapshot> = lock(&call.shared.peers)
                .iter()
                .map(|(peer, p)| Snapshot {
                    peer: *peer,
                    speaking: p.jitter.speaking(),
                    muted: p.jitter.muted(),
                    loss_pct: p.jitter.loss_pct,
                    jitter_ms: p.jitter.jitter_ms(),
                    target_ms: p.jitter.target_ms(),
                    heard_by: p.heard_by,
                    volume: p.volume,
                    stats: stats_of(p),
                })
                .collect();
            let s = &call.shared;
            let me = (
                s.speaking.load(Ordering::Relaxed),
                s.muted.load(Ordering::Relaxed),
                s.sent_bytes.load(Ordering::Relaxed),
                s.packet_ms.load(Ordering::Relaxed),
            );
            let timing = serde_json::to_value(call.engine.timing()).ok();
            let (input_error, output_error, reopened) = match call.engine.health() {
                Some(h) => {
                    let (i, o) = h.errors();
                    (i, o, h.reopened.load(Ordering::Relaxed))
                }
                None => (None, None, 0),
            };
            let echo = s.echo();
            let audio = AudioState {
                input_error,
                output_error,
                processing: processing_of(s.processing.load(Ordering::Relaxed)),
                erle_db: echo.erle_db.map(|v| (v * 10.0).round() / 10.0),
                echo_delay_ms: echo.delay_ms,
                input_level_db: s.input_level_db().round().max(-100.0) as f64,
                reopened,
                playback_buffer_ms: s.ring_target.load(Ordering::Relaxed) as f64 * 1000.0 / RATE as f64,
            };
            (call.room.clone(), peers, me, timing, call.engine.underruns(), audio)
        });
        let Some((room, peers, (speaking, muted, sent_bytes, packet_ms), timing, underruns, audio)) = taken else {
            return Ok(CallStatus {
                room: None,
                room_name: None,
                channel: None,
                muted: false,
                backend,
                participants: vec![],
                timing: None,
                sent_bytes: 0,
                underruns: 0,
                packet_ms: 0,
                audio: None,
            });
        };
        let store = &self.deps.store;
        let authority = store.authority(&room)?;
        let map: std::collections::HashMap<String, String> = self.channel_map(&room).into_iter().map(|(p, c)| (p.to_string(), c)).collect();
        let name_of = |peer: &str| map.get(peer).map(|c| authority.channel_name(c).unwrap_or(c).to_string());
        let ours = name_of(&self.peer_id.to_string());
        let heard: std::collections::HashSet<String> = peers.iter().map(|p| p.peer.to_string()).collect();
        let mut participants = vec![Participant {
            is_self: true,
            speaking,
            muted,
            path: CallPath::Local,
            ..unheard(self.peer_id.to_string(), self.deps.name.get(), ours.clone())
        }];
        for p in peers {
            let link = links.get(&p.peer);
            let rtt = link.and_then(|l| l.1);
            participants.push(Participant {
                peer_id: p.peer.to_string(),
                name: store.author_name(&room, &p.peer.to_string()).unwrap_or_default(),
                is_self: false,
                speaking: p.speaking,
                muted: p.muted,
                path: match link {
                    Some((true, _)) => CallPath::Relayed,
                    Some((false, _)) => CallPath::Direct,
                    None => CallPath::Unknown,
                },
                voice_path: p.heard_by,
                rtt_ms: rtt,
                loss_pct: (p.loss_pct * 10.0).round() / 10.0,
                jitter_ms: (p.jitter_ms * 10.0).round() / 10.0,
                // One-way network time, the jitter buffer, one frame to fill,
                // one in the playback ring, and Opus' look-ahead.
                latency_ms: rtt.map(|r| (r / 2.0 + p.target_ms + 10.0 + 10.0 + 6.5).round()),
                volume: p.volume,
                stats: p.stats,
                channel: name_of(&p.peer.to_string()),
            });
        }
        // Those in the call's other channels: listed, not heard.
        let mut elsewhere: Vec<(&String, &String)> =
            map.iter().filter(|(p, _)| **p != self.peer_id.to_string() && !heard.contains(*p)).collect();
        elsewhere.sort();
        for (peer, _) in elsewhere {
            participants.push(unheard(peer.clone(), store.author_name(&room, peer).unwrap_or_default(), name_of(peer)));
        }
        let room_name = store.room(&room)?.map(|r| r.name);
        Ok(CallStatus {
            room: Some(room),
            room_name,
            channel: ours,
            muted,
            backend,
            participants,
            timing,
            sent_bytes,
            underruns,
            packet_ms,
            audio: Some(audio),
        })
    }
}

/// A participant as listed without any of their audio (ourselves, or one
/// in another channel): no link figures.
fn unheard(peer_id: String, name: String, channel: Option<String>) -> Participant {
    Participant {
        peer_id,
        name,
        is_self: false,
        speaking: false,
        muted: false,
        path: CallPath::Unknown,
        voice_path: None,
        rtt_ms: None,
        loss_pct: 0.0,
        jitter_ms: 0.0,
        latency_ms: None,
        volume: 100,
        stats: None,
        channel,
    }
}

/// A participant's playout counters, with the playout's target and level and
/// what they last reported of our packets.
fn stats_of(p: &PeerVoice) -> Option<serde_json::Value> {
    let mut v = serde_json::to_value(p.jitter.stats).ok()?;
    let o = v.as_object_mut()?;
    o.insert("target_ms".into(), serde_json::json!((p.jitter.target_ms() * 10.0).round() / 10.0));
    o.insert("level_ms".into(), serde_json::json!((p.jitter.level_ms() * 10.0).round() / 10.0));
    o.insert("burst".into(), serde_json::json!((p.jitter.burst * 100.0).round() / 100.0));
    o.insert("their_report".into(), serde_json::to_value(p.reported).ok()?);
    Some(v)
}
