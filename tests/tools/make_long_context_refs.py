#!/usr/bin/env python3
"""Makes tests/data/long_context: tiny synthetic models and llama.cpp's logits
for them at long contexts (the generator of that folder; see its README).

  make_long_context_refs.py --tools /work/shared/tools/reference \
      --refdump /work/refbin/refdump --out tests/data/long_context

Models come from the fixtures' synth_gguf.py (stdlib Python, seeded), with a
few metadata keys added that its presets do not write (rope scaling, the gemma3
window pattern), written with F16 matrices. Each case runs refdump (all
logits, the whole sequence in one batch) and keeps only the rows the test
compares: every 1024th position and the last four.
"""
import argparse
import hashlib
import json
import os
import struct
import subprocess
import sys


def tokens_for(n, seed):
    """BOS, then an LCG's tokens in [3, 503): the same rule as the C++ test."""
    out = [1]
    x = seed
    while len(out) < n:
        x = (x * 1103515245 + 12345) % (1 << 31)
        out.append(3 + (x >> 8) % 500)
    return out


MODELS = {
    # gemma3, a long trained context: layer 0 local (window 64), layer 1 global
    # (period 2), linear rope scaling x8 on the global layer (as gemma-3-4b/27b).
    "long-gemma3": {
        "preset": "gemma3",
        "set": {"n_layer": 2, "n_embd": 64, "n_head": 1, "n_head_kv": 1, "head_dim": 64, "n_ff": 128,
                "n_ctx_train": 32768, "sliding_window": 64, "name": "synthetic long gemma3"},
        "extra": [("u32", "gemma3.attention.sliding_window_pattern", 2),
                  ("str", "gemma3.rope.scaling.type", "linear"),
                  ("f32", "gemma3.rope.scaling.factor", 8.0)],
    },
    # llama3 rope scaling (rope_freqs), original context 256, trained 2048.
    "long-llama3": {
        "preset": "llama-tied",
        "set": {"n_layer": 2, "n_embd": 64, "n_head": 1, "n_head_kv": 1, "head_dim": 64, "n_ff": 128,
                "n_ctx_train": 2048, "name": "synthetic long llama3",
                "llama3_rope": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                "original_max_position_embeddings": 256}},
        "extra": [],
    },
    # YaRN x8 from an original context of 256, trained 2048.
    "long-yarn": {
        "preset": "llama-tied",
        "set": {"n_layer": 2, "n_embd": 64, "n_head": 1, "n_head_kv": 1, "head_dim": 64, "n_ff": 128,
                "n_ctx_train": 2048, "name": "synthetic long yarn", "llama3_rope": None},
        "extra": [("str", "llama.rope.scaling.type", "yarn"),
                  ("f32", "llama.rope.scaling.factor", 8.0),
                  ("u32", "llama.rope.scaling.original_context_length", 256)],
    },
}

# (model, case name, tokens, seed, ctk, ctv, flash attention)
CASES = [
    ("long-gemma3", "t16384-kvq8_0-fa", 16384, 7, "q8_0", "q8_0", 1),
    ("long-gemma3", "t16384-kvq4_0-fa", 16384, 7, "q4_0", "q4_0", 1),
    ("long-llama3", "t3072-f16", 3072, 11, "f16", "f16", 0),
    ("long-yarn", "t3072-f16", 3072, 13, "f16", "f16", 0),
]


def make_model(tools, name, m, out_dir, work):
    sys.path.insert(0, tools)
    import gguflib as G
    import synth_gguf as S
    # Effective spec: the preset's, with our changes.
    spec = json.loads(subprocess.check_output([sys.executable, os.path.join(tools, "synth_gguf.py"),
                                               "--preset", m["preset"], "--dump-spec"]))
    spec.update(m["set"])
    original_write = G.GGUFWriter.write

    def write_f16_with_extra(self, path):
        for kind, key, value in m["extra"]:
            getattr(self, kind)(key, value)
        # Matrices to F16 (round to nearest even, as ggml_fp32_to_fp16 and
        # llama-quantize F16), 1-D tensors stay F32; file type MOSTLY_F16.
        i = self.kv_keys.index("general.file_type")
        self.kv_entries[i] = G.enc_kv("general.file_type", G.T_UINT32, 1)
        for t, (tname, dims, tt, raw) in enumerate(self.tensors):
            if len(dims) >= 2 and tt == G.GGML_TYPE_F32:
                n = len(raw) // 4
                half = struct.pack("<%de" % n, *struct.unpack("<%df" % n, raw))
                self.tensors[t] = (tname, dims, 1, half)  # GGML_TYPE_F16 = 1
        return original_write(self, path)

    G.GGUFWriter.write = write_f16_with_extra
    f16 = os.path.join(out_dir, name + "-F16.gguf")
    vocab = os.path.join(tools, "..", "..", "fixtures", "models", "stories260K.gguf")
    S.build(spec, vocab, f16)
    G.GGUFWriter.write = original_write
    return f16, spec


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tools", required=True)
    ap.add_argument("--refdump", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--work", default="/tmp/long_context_work")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    os.makedirs(args.work, exist_ok=True)
    models = {}
    for name, m in MODELS.items():
        models[name] = make_model(args.tools, name, m, args.out, args.work)
    index = []
    for model, case, n, seed, ctk, ctv, fa in CASES:
        tokens = tokens_for(n, seed)
        tok_file = os.path.join(args.work, "%s-%s.tokens" % (model, case))
        with open(tok_file, "w") as f:
            f.write(",".join(map(str, tokens)))
        prefix = os.path.join(args.work, "%s-%s" % (model, case))
        cmd = [args.refdump, "-m", models[model][0], "-T", tok_file, "-o", prefix, "--n-ctx", str(n),
               "--ctk", ctk, "--ctv", ctv, "--fa", str(fa), "--threads", "2", "--case", case]
        print(" ".join(cmd), flush=True)
        subprocess.check_call(cmd)
        side = json.load(open(prefix + ".json"))
        n_vocab = side["n_vocab"]
        raw = open(prefix + ".bin", "rb").read()
        rows = sorted(set(list(range(1023, n, 1024)) + list(range(n - 4, n))))
        keep = b"".join(raw[r * n_vocab * 4:(r + 1) * n_vocab * 4] for r in rows)
        stem = "%s-%s" % (model, case)
        with open(os.path.join(args.out, stem + ".bin"), "wb") as f:
            f.write(keep)
        out = {
            "model_file": os.path.basename(models[model][0]),
            "model_sha256": side["model_sha256"],
            "n_tokens": n, "tokens_seed": seed,
            "tokens_rule": "BOS (1), then x = (x * 1103515245 + 12345) mod 2^31 from x = seed, token = 3 + (x >> 8) mod 500",
            "tokens_sha256": hashlib.sha256(struct.pack("<%di" % n, *tokens)).hexdigest(),
            "options": side["options"], "llama_cpp_commit": side["llama_cpp_commit"],
            "system_info": side["system_info"],
            "rows": rows, "n_vocab": n_vocab,
            "argmax": [side["argmax"][r] for r in rows],
            "top2_margin": [side["top2_margin"][r] for r in rows],
            "logits_file": stem + ".bin",
            "refdump_command": " ".join(os.path.basename(c) if i == 0 else c for i, c in enumerate(cmd)),
        }
        json.dump(out, open(os.path.join(args.out, stem + ".json"), "w"), indent=1)
        index.append(stem)
    print("cases:", index)


if __name__ == "__main__":
    main()
