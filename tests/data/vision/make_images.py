# Tiny test images for hearth's vision tests, python3 stdlib only (JPEG via
# cjpeg, WebP via cwebp from PPM/PNG sources written here).
import struct, zlib, subprocess, sys, os
out = sys.argv[1]
os.makedirs(out, exist_ok=True)

def pattern(w, h, seed):
    px = []
    for y in range(h):
        for x in range(w):
            r = (x * 255 // max(w - 1, 1) + seed * 40) % 256
            g = (y * 255 // max(h - 1, 1) + seed * 90) % 256
            b = ((x * 7 + y * 13 + seed * 31) * 5) % 256
            px.append((r, g, b))
    return px

def png(path, w, h, px, alpha=False):
    raw = b''
    for y in range(h):
        raw += b'\x00'
        for x in range(w):
            p = px[y * w + x]
            raw += bytes(p) + (bytes([(x * 37 + y * 11) % 256]) if alpha else b'')
    def chunk(t, d):
        c = t + d
        return struct.pack('>I', len(d)) + c + struct.pack('>I', zlib.crc32(c) & 0xffffffff)
    ihdr = struct.pack('>IIBBBBB', w, h, 8, 6 if alpha else 2, 0, 0, 0)
    open(path, 'wb').write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) + chunk(b'IDAT', zlib.compress(raw, 9)) + chunk(b'IEND', b''))

def bmp(path, w, h, px):
    row = (w * 3 + 3) & ~3
    data = b''
    for y in range(h - 1, -1, -1):
        r = b''.join(bytes((p[2], p[1], p[0])) for p in px[y * w:(y + 1) * w])
        data += r + b'\x00' * (row - len(r))
    hdr = struct.pack('<2sIHHI', b'BM', 54 + len(data), 0, 0, 54)
    info = struct.pack('<IiiHHIIiiII', 40, w, h, 1, 24, 0, len(data), 2835, 2835, 0, 0)
    open(path, 'wb').write(hdr + info + data)

def gif(path, w, h, px):
    # 6x6x6 colour cube palette (216 + padding to 256); LZW with a clear code
    # before every 254 literals so codes stay 9 bits wide.
    pal = [(r * 51, g * 51, b * 51) for r in range(6) for g in range(6) for b in range(6)] + [(0, 0, 0)] * 40
    idx = [(round(p[0] / 51) * 36 + round(p[1] / 51) * 6 + round(p[2] / 51)) for p in px]
    codes = []
    for i, c in enumerate(idx):
        if i % 254 == 0: codes.append(256)
        codes.append(c)
    codes.append(257)
    bits, nbits, outb = 0, 0, bytearray()
    for c in codes:
        bits |= c << nbits; nbits += 9
        while nbits >= 8:
            outb.append(bits & 255); bits >>= 8; nbits -= 8
    if nbits: outb.append(bits & 255)
    sub = b''.join(bytes([len(outb[i:i + 255])]) + bytes(outb[i:i + 255]) for i in range(0, len(outb), 255)) + b'\x00'
    data = b'GIF89a' + struct.pack('<HHBBB', w, h, 0xF7, 0, 0) + b''.join(bytes(p) for p in pal)
    data += b',' + struct.pack('<HHHHB', 0, 0, w, h, 0) + bytes([8]) + sub + b';'
    open(path, 'wb').write(data)

def ppm(path, w, h, px):
    open(path, 'wb').write(b'P6\n%d %d\n255\n' % (w, h) + b''.join(bytes(p) for p in px))

png(f'{out}/square32.png', 32, 32, pattern(32, 32, 0))
png(f'{out}/wide48x20.png', 48, 20, pattern(48, 20, 1))
png(f'{out}/rgba24.png', 24, 24, pattern(24, 24, 2), alpha=True)
bmp(f'{out}/tall17x40.bmp', 17, 40, pattern(17, 40, 3))
gif(f'{out}/small9x7.gif', 9, 7, pattern(9, 7, 4))
ppm('/tmp/vision-photo.ppm', 40, 30, pattern(40, 30, 5))
subprocess.check_call(['cjpeg', '-quality', '85', '-outfile', f'{out}/photo40x30.jpg', '/tmp/vision-photo.ppm'])
png('/tmp/vision-webp-src.png', 20, 28, pattern(20, 28, 6))
subprocess.check_call(['cwebp', '-quiet', '-lossless', '/tmp/vision-webp-src.png', '-o', f'{out}/lossless20x28.webp'])
# The same pixels as PNG: llama.cpp (stb_image) cannot read WebP, so the
# WebP's reference is this PNG's.
png(f'{out}/lossless20x28.png', 20, 28, pattern(20, 28, 6))
