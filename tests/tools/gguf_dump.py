#!/usr/bin/env python3
"""An independent GGUF reader (Python stdlib only), written from the GGUF
spec without reference to hearth's C++ reader. Prints one JSON object with
architecture, tensor count, parameter count and each tensor's type and shape,
for tests to compare with `hearth show --json`."""
import json
import struct
import sys

# ggml type id -> (name, block size); from the ggml type table in the spec.
GGML_TYPES = {
    0: ("f32", 1), 1: ("f16", 1), 2: ("q4_0", 32), 3: ("q4_1", 32), 6: ("q5_0", 32),
    7: ("q5_1", 32), 8: ("q8_0", 32), 9: ("q8_1", 32), 10: ("q2_K", 256), 11: ("q3_K", 256),
    12: ("q4_K", 256), 13: ("q5_K", 256), 14: ("q6_K", 256), 15: ("q8_K", 256),
    16: ("iq2_xxs", 256), 17: ("iq2_xs", 256), 18: ("iq3_xxs", 256), 19: ("iq1_s", 256),
    20: ("iq4_nl", 32), 21: ("iq3_s", 256), 22: ("iq2_s", 256), 23: ("iq4_xs", 256),
    24: ("i8", 1), 25: ("i16", 1), 26: ("i32", 1), 27: ("i64", 1), 28: ("f64", 1),
    29: ("iq1_m", 256), 30: ("bf16", 1), 34: ("tq1_0", 256), 35: ("tq2_0", 256), 39: ("mxfp4", 32),
}
SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}


class Reader:
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def unpack(self, fmt):
        (value,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return value

    def string(self):
        n = self.unpack("<Q")
        s = self.data[self.pos:self.pos + n]
        self.pos += n
        return s.decode("utf-8", errors="replace")

    def value(self, vtype):
        if vtype == 8:
            return self.string()
        if vtype == 9:
            etype = self.unpack("<I")
            n = self.unpack("<Q")
            return [self.value(etype) for _ in range(n)]
        return self.unpack(SCALARS[vtype])


def dump(path):
    with open(path, "rb") as f:
        r = Reader(f.read())
    assert r.unpack("<4s") == b"GGUF", "bad magic"
    version = r.unpack("<I")
    n_tensors = r.unpack("<Q")
    n_kv = r.unpack("<Q")
    kv = {}
    for _ in range(n_kv):
        key = r.string()
        kv[key] = r.value(r.unpack("<I"))
    tensors = []
    n_params = 0
    for _ in range(n_tensors):
        name = r.string()
        n_dims = r.unpack("<I")
        shape = [r.unpack("<Q") for _ in range(n_dims)]
        type_id = r.unpack("<I")
        r.unpack("<Q")  # offset
        count = 1
        for d in shape:
            count *= d
        n_params += count
        tensors.append({"name": name, "type": GGML_TYPES[type_id][0], "shape": shape})
    return {
        "version": version,
        "architecture": kv.get("general.architecture", ""),
        "n_tensors": n_tensors,
        "n_params": n_params,
        "tensors": tensors,
    }


if __name__ == "__main__":
    print(json.dumps(dump(sys.argv[1])))
