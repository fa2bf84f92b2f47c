#!/usr/bin/env python3
"""Traces one call over a delaylink link: alice speaks the bench phrase to bob
for 40 s, and bob's view of alice's playout (target, level, stretches, held,
copies, FEC, PLC, loss, burst) is printed every second, then the PESQ-WB.
For looking into the playout's behaviour; root (namespaces).

    sudo /opt/apero-bench-venv/bin/python bench/voice_trace.py LOSS_PCT BURST
"""
import sys
import time
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from pathlib import Path
import tempfile
from lib import Daemon, Link, speech, silence, wait_participants, pesq_of
PHRASE = ("Bonsoir tout le monde. This is apero, a group call with no server in between. "
          "The quick brown fox jumps over the lazy dog. Can you hear me clearly?")
work = Path(tempfile.mkdtemp())
speech(work / "speech.wav", PHRASE); silence(work / "silence.wav")
loss, burst = float(sys.argv[1]), float(sys.argv[2])
link = Link("v", delay=40, jitter=10, loss=loss, burst=burst, seed=11)
common = ["--audio", "wav", "--audio-processing", "off", "--voice-transport", "datagram"]
a = Daemon("alice", work, ns=link.a, listen=[f"/ip4/{link.addr_a}/udp/0/quic-v1"], args=common + ["--wav-in", str(work/"speech.wav"), "--wav-out", str(work/"a.wav")])
b = Daemon("bob", work, ns=link.b, listen=[f"/ip4/{link.addr_b}/udp/0/quic-v1"], args=common + ["--wav-in", str(work/"silence.wav"), "--wav-out", str(work/"b.wav")])
try:
    room = a.cli("room", "create", "bench")["id"]
    b.cli("join", a.cli("invite", room)["code"])
    a.cli("call", "join", room); b.cli("call", "join", room)
    wait_participants(b, 2)
    for i in range(40):
        st = b.cli("call", "status")
        p = next(p for p in st["participants"] if p["name"] == "alice")
        s = p["stats"]
        print(f"{i:2d} tgt={s['target_ms']:5.1f} lvl={s['level_ms']:5.1f} acc={s['accelerated']:3d}/{s['accelerated_ms']:6.1f} exp={s['expanded']:3d}/{s['expanded_ms']:6.1f} held={s['held']} red={s['red_recovered']} fec={s['fec_recovered']} plc={s['concealed']} loss={p['loss_pct']} burst={s['burst']}", flush=True)
        time.sleep(1)
    a.cli("call", "leave"); b.cli("call", "leave")
finally:
    a.stop(); b.stop(); link.close()
print(pesq_of(work / "speech.wav", work / "b.wav"))
