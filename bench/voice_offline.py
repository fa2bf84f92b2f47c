#!/usr/bin/env python3
"""Which stage of the microphone's processing costs speech quality, offline:
the real processor and gate (daemon/examples/voice_offline.rs) on a clean
phrase said three times in a row, each repetition scored with PESQ-WB
against the input. No network and no codec: only what processing and the
gate do (the network's part is bench/voice.py's).

    bench/voice.sh --offline      # or: python3 bench/voice_offline.py (numpy, scipy, pesq)
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from lib import PHRASE, RATE, load16, read_wav, speech, write_wav

VARIANTS = ["off", "on", "echo", "noise", "gain", "echo,noise", "noise,gain"]
LEVEL = float(sys.argv[sys.argv.index("--level") + 1]) if "--level" in sys.argv else None
REPEATS = 3


def scores(ref16, out16, n):
    from pesq import pesq
    step = len(ref16)
    return [pesq(16000, ref16, out16[i * step:(i + 1) * step], "wb") for i in range(n)]


def main():
    root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        one = d / "one.wav"
        speech(one, PHRASE)
        x = read_wav(one)
        # The phrase's level, dBFS RMS over its speech (`--level`; espeak-ng's
        # own is about -17, the PulseAudio rig's -20).
        if LEVEL is not None:
            active = x[np.abs(x) > 1e-3]
            x = x * 10 ** ((LEVEL - 20 * np.log10(np.sqrt(np.mean(active ** 2)))) / 20)
        # A gap between repetitions, as a person pauses between sentences.
        gap = np.zeros(int(0.5 * RATE))
        phrase = np.concatenate([x, gap])
        write_wav(d / "in.wav", np.tile(phrase, REPEATS))
        subprocess.run([str(root / "target" / os.environ.get("PROFILE", "release") / "examples/voice_offline"), str(d / "in.wav"), str(d / "out"), *VARIANTS], check=True)
        ref16 = load16(phrase)
        print(f"{'settings':<12} {'processed (1st, 2nd, 3rd)':<28} {'heard (1st, 2nd, 3rd)':<28} {'decoded (Opus)':<28}")
        for v in VARIANTS:
            cols = [scores(ref16, load16(read_wav(d / "out" / f"{v}-{k}.wav")), REPEATS) for k in ("processed", "heard", "decoded")]
            print(f"{v:<12} " + " ".join(f"{' '.join(f'{s:.2f}' for s in c):<28}" for c in cols))


if __name__ == "__main__":
    sys.exit(main())
