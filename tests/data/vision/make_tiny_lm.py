# A two-layer cut of synth-gemma3-vision-F16.gguf small enough for hearth's
# tests/data: its token embedding, layers 0 and 1 (the first n_ff=32 rows of
# ffn_gate/ffn_up, the matching columns of ffn_down) and output norm, 2-D
# tensors as F16, every metadata key copied (block_count 2,
# feed_forward_length 32, file_type 1) and sliding_window_pattern 2 added
# (layer 0 local, layer 1 global). python3 stdlib only.
import struct, sys
src, dst = sys.argv[1], sys.argv[2]
N_FF = 32
N_LAYER = 2
T = {0:'B',1:'b',2:'H',3:'h',4:'I',5:'i',6:'f',7:'?',10:'Q',11:'q',12:'d'}
f = open(src, 'rb'); buf = f.read(); pos = 0
def rd(fmt):
    global pos
    v = struct.unpack_from('<' + fmt, buf, pos); pos += struct.calcsize('<' + fmt); return v[0]
def rs():
    global pos
    n = rd('Q'); s = buf[pos:pos + n]; pos += n; return s
def rv(t):
    if t == 8: return rs()
    if t == 9:
        et = rd('I'); n = rd('Q'); return (et, [rv(et) for _ in range(n)])
    return rd(T[t])
assert buf[:4] == b'GGUF'; pos = 4
ver = rd('I'); nt = rd('Q'); nk = rd('Q')
kvs = []
for _ in range(nk):
    k = rs(); t = rd('I'); kvs.append([k, t, rv(t)])
tensors = []
for _ in range(nt):
    n = rs(); nd = rd('I'); dims = [rd('Q') for _ in range(nd)]; ty = rd('I'); off = rd('Q'); tensors.append((n.decode(), dims, ty, off))
align = 32
for k, t, v in kvs:
    if k == b'general.alignment': align = v
data0 = (pos + align - 1) // align * align
def tensor_f32(name):
    for n, dims, ty, off in tensors:
        if n == name:
            assert ty == 0
            cnt = 1
            for d in dims: cnt *= d
            return dims, list(struct.unpack_from('<%df' % cnt, buf, data0 + off))
    raise KeyError(name)
out_t = []
def add(name, dims, vals, f16):
    if f16: out_t.append((name, dims, 1, struct.pack('<%de' % len(vals), *vals)))
    else: out_t.append((name, dims, 0, struct.pack('<%df' % len(vals), *vals)))
d, v = tensor_f32('token_embd.weight'); add('token_embd.weight', d, v, True)
for n, dims, ty, off in tensors:
    if int(n.split('.')[1]) >= N_LAYER if n.startswith('blk.') else True: continue
    d, v = tensor_f32(n)
    if n.endswith(('ffn_gate.weight', 'ffn_up.weight')):   # [128 in, 256 out] -> first 128 rows
        v = v[:d[0] * N_FF]; d = [d[0], N_FF]
    elif n.endswith('ffn_down.weight'):                      # [256 in, 128 out] -> first 128 of each row
        rows = d[1]; v = [x for r in range(rows) for x in v[r * d[0]:r * d[0] + N_FF]]; d = [N_FF, rows]
    add(n, d, v, len(d) == 2)
d, v = tensor_f32('output_norm.weight'); add('output_norm.weight', d, v, False)
def wv(t, v):
    if t == 8: return struct.pack('<Q', len(v)) + v
    if t == 9:
        et, items = v; return struct.pack('<IQ', et, len(items)) + b''.join(wv(et, x) for x in items)
    return struct.pack('<' + T[t], v)
for kv in kvs:
    if kv[0] == b'gemma3.block_count': kv[2] = N_LAYER
    if kv[0] == b'gemma3.feed_forward_length': kv[2] = N_FF
    if kv[0] == b'general.file_type': kv[2] = 1
    if kv[0] == b'general.name': kv[2] = b'synthetic gemma3 vision test model, two layers'
# Layer 1 global (llama.cpp's gemma3.attention.sliding_window_pattern: layer l
# is local when l % 2 < 1), so text after an image sees all of it.
kvs.insert([k for k, t, v in kvs].index(b'gemma3.attention.sliding_window') + 1,
           [b'gemma3.attention.sliding_window_pattern', 4, 2])
head = b'GGUF' + struct.pack('<IQQ', 3, len(out_t), len(kvs))
for k, t, v in kvs: head += struct.pack('<Q', len(k)) + k + struct.pack('<I', t) + wv(t, v)
off = 0; infos = b''; blobs = []
for name, dims, ty, raw in out_t:
    nb = name.encode()
    infos += struct.pack('<Q', len(nb)) + nb + struct.pack('<I', len(dims)) + b''.join(struct.pack('<Q', x) for x in dims) + struct.pack('<IQ', ty, off)
    pad = (len(raw) + align - 1) // align * align
    blobs.append(raw + b'\0' * (pad - len(raw))); off += pad
body = head + infos
body += b'\0' * ((len(body) + align - 1) // align * align - len(body))
open(dst, 'wb').write(body + b''.join(blobs))
print(dst, len(body) + off, 'bytes')
