# Packs refdump_vision's full embedding dumps into tests/data/vision/reference:
# 12 rows per image, the sum of all values, and the tolerance from
# llama.cpp's flash-attention-on vs -off spread.
import json, math, struct, sys, os
full, out = sys.argv[1], sys.argv[2]
images = ['square32.png', 'wide48x20.png', 'rgba24.png', 'tall17x40.bmp', 'small9x7.gif', 'photo40x30.jpg', 'lossless20x28.png']
n_embd, keep = 128, 6
cases, spread_max, spread_mean = [], 0.0, 0.0
def load(p):
    b = open(p, 'rb').read(); return list(struct.unpack('<%df' % (len(b) // 4), b))
for img in images:
    off = load(f'{full}/{img}.faoff.embd.bin'); on = load(f'{full}/{img}.faon.embd.bin')
    n_tok = len(off) // n_embd
    d = [abs(a - b) for a, b in zip(off, on)]
    spread_max = max(spread_max, max(d)); spread_mean = max(spread_mean, sum(d) / len(d))
    rows = sorted(set(round(i * (n_tok - 1) / (keep - 1)) for i in range(keep)))
    sel = [off[r * n_embd + i] for r in rows for i in range(n_embd)]
    open(f'{out}/{img}.rows.bin', 'wb').write(struct.pack('<%df' % len(sel), *sel))
    total = sum(off)
    cases.append({'image': img, 'n_tokens': n_tok, 'n_embd': n_embd, 'rows': rows, 'rows_file': f'{img}.rows.bin',
                  'sum_all': total, 'max_abs': max(abs(x) for x in off)})
def round_up(x):
    if x == 0: return 0.0
    e = math.floor(math.log10(x)) - 1
    return math.ceil(x / 10 ** e) * 10 ** e
bound_max, bound_mean = round_up(2 * spread_max), round_up(2 * spread_mean)
for c in cases:
    c['sum_tolerance'] = bound_mean * c['n_tokens'] * n_embd
cases.append({'image': 'lossless20x28.webp', **{k: v for k, v in cases[-1].items() if k != 'image'}})
json.dump({'source': 'llama.cpp 34af94cd libmtmd, flash attention off, 1 thread (README.md)',
           'llama_cpp_fa_spread': {'max': spread_max, 'mean': spread_mean},
           'tolerance': {'max': bound_max, 'mean': bound_mean, 'rule': '2 x the llama.cpp flash-attention on/off spread, rounded up to two significant digits'},
           'images': cases}, open(f'{out}/embeddings.json', 'w'), indent=1)
print('spread', spread_max, spread_mean, 'bounds', bound_max, bound_mean)
