#!/usr/bin/env python3
"""Converts an X window dump (xwd, 24/32-bit TrueColor, ZPixmap) to PNG.

Standard library only, so the screenshot script needs no ImageMagick.
Usage: xwd -name apero | python3 scripts/xwd2png.py OUT.png
"""
import struct
import sys
import zlib


def read_xwd(data):
    fields = struct.unpack(">25I", data[:100])
    (header_size, _version, fmt, _depth, width, height, _xoff, byte_order, _unit, _bit_order, _pad,
     bpp, bytes_per_line, _vclass, rmask, gmask, bmask, _bits_rgb, _cmap_entries, ncolors) = fields[:20]
    if fmt != 2 or bpp not in (24, 32):
        sys.exit(f"xwd2png: unsupported dump (format {fmt}, {bpp} bits per pixel)")
    start = header_size + 12 * ncolors
    step = bpp // 8
    endian = "<" if byte_order == 0 else ">"

    def shift(mask):
        return (mask & -mask).bit_length() - 1

    rs, gs, bs = shift(rmask), shift(gmask), shift(bmask)
    rows = []
    for y in range(height):
        line = data[start + y * bytes_per_line: start + y * bytes_per_line + width * step]
        if step == 4:
            pixels = struct.unpack(f"{endian}{width}I", line)
        else:
            pixels = [int.from_bytes(line[i:i + 3], "little" if endian == "<" else "big") for i in range(0, len(line), 3)]
        row = bytearray()
        for p in pixels:
            row += bytes(((p & rmask) >> rs, (p & gmask) >> gs, (p & bmask) >> bs))
        rows.append(bytes(row))
    return width, height, rows


def write_png(path, width, height, rows):
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + r for r in rows)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    data = sys.stdin.buffer.read()
    if len(data) < 100:
        sys.exit("xwd2png: no dump on stdin")
    write_png(sys.argv[1], *read_xwd(data))


if __name__ == "__main__":
    main()
