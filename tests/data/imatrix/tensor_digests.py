#!/usr/bin/env python3
# Prints {"tensors": [[name, ggml type id, FNV-1a 64 of its bytes (hex)], ...]} for a GGUF file,
# in file order (standard library only; used by make_refs.sh).
import json, struct, sys

SIZES = {0: (4, 1), 1: (2, 1), 2: (18, 32), 3: (20, 32), 6: (22, 32), 7: (24, 32), 8: (34, 32), 10: (84, 256),
         11: (110, 256), 12: (144, 256), 13: (176, 256), 14: (210, 256), 16: (66, 256), 17: (74, 256),
         18: (98, 256), 19: (50, 256), 20: (18, 32), 21: (110, 256), 22: (82, 256), 23: (136, 256), 29: (56, 256),
         30: (2, 1), 34: (54, 256), 35: (66, 256)}
SCALAR = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}

def fnv1a64(data):
    h = 0xcbf29ce484222325
    for byte in data:
        h = ((h ^ byte) * 0x100000001b3) & 0xffffffffffffffff
    return '%016x' % h

def main(path):
    b = open(path, 'rb').read()
    pos = 4
    version, n_tensors, n_kv = struct.unpack_from('<IQQ', b, pos); pos += 20
    def read_str():
        nonlocal pos
        n, = struct.unpack_from('<Q', b, pos); pos += 8
        s = b[pos:pos + n]; pos += n
        return s.decode()
    def skip_value(t):
        nonlocal pos
        if t == 8: read_str()
        elif t == 9:
            et, n = struct.unpack_from('<IQ', b, pos); pos += 12
            for _ in range(n): skip_value(et)
        else: pos += SCALAR[t]
    alignment = 32
    for _ in range(n_kv):
        key = read_str()
        t, = struct.unpack_from('<I', b, pos); pos += 4
        if key == 'general.alignment': alignment = struct.unpack_from('<I', b, pos)[0]
        skip_value(t)
    infos = []
    for _ in range(n_tensors):
        name = read_str()
        nd, = struct.unpack_from('<I', b, pos); pos += 4
        ne = struct.unpack_from('<%dQ' % nd, b, pos); pos += 8 * nd
        typ, off = struct.unpack_from('<IQ', b, pos); pos += 12
        n = 1
        for d in ne: n *= d
        size, block = SIZES[typ]
        infos.append((name, typ, off, n // block * size))
    data = (pos + alignment - 1) // alignment * alignment
    out = [[name, typ, fnv1a64(b[data + off:data + off + nb])] for name, typ, off, nb in infos]
    print(json.dumps({"tensors": out}))

main(sys.argv[1])
