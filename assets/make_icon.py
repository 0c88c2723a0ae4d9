"""Renders the Greenlight icon (assets/icon.svg describes the same shape) to PNG at the
sizes packaging needs, without any imaging library: a rounded dark square, a green disc and
a white check mark, antialiased by 4x4 supersampling."""
import struct, sys, zlib

def seg_dist(px, py, ax, ay, bx, by):
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    cx, cy = ax + t * dx, ay + t * dy
    return ((px - cx) ** 2 + (py - cy) ** 2) ** 0.5

def colour(x, y):
    # Coordinates in a 0..1 square.
    r = 0.22
    qx, qy = max(abs(x - 0.5) - (0.5 - r), 0), max(abs(y - 0.5) - (0.5 - r), 0)
    if (qx * qx + qy * qy) ** 0.5 > r:
        return (0, 0, 0, 0)
    if seg_dist(x, y, 0.30, 0.52, 0.44, 0.66) < 0.055 or seg_dist(x, y, 0.44, 0.66, 0.72, 0.36) < 0.055:
        return (255, 255, 255, 255)
    if ((x - 0.5) ** 2 + (y - 0.5) ** 2) ** 0.5 < 0.36:
        return (46, 184, 92, 255)
    return (28, 33, 40, 255)

def png(size):
    rows = []
    s = 4
    for j in range(size):
        row = bytearray([0])
        for i in range(size):
            acc = [0, 0, 0, 0]
            for a in range(s):
                for b in range(s):
                    c = colour((i + (a + 0.5) / s) / size, (j + (b + 0.5) / s) / size)
                    for k in range(3):
                        acc[k] += c[k] * c[3]
                    acc[3] += c[3]
            alpha = acc[3] / (s * s)
            rgb = [int(acc[k] / acc[3]) if acc[3] else 0 for k in range(3)]
            row += bytes(rgb + [int(alpha)])
        rows.append(bytes(row))
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(b"".join(rows), 9)) + chunk(b"IEND", b"")

for size in [int(a) for a in sys.argv[1:]] or [256]:
    with open(f"icon-{size}.png", "wb") as f:
        f.write(png(size))
