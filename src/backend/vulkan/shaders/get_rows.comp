#version 450
// out[i] = row ids[i] of a table of any weight type, as f32: one invocation
// per output element. Ids outside the table give zeros (the host checks ids
// before it writes them).
#include "common.glsl"
layout(local_size_x = 256) in;
layout(binding = 0) readonly buffer Wb { uint W[]; };
layout(binding = 1) readonly buffer Ids { int ids[]; };
layout(binding = 2) buffer O { uint o[]; };
layout(push_constant) uniform Params {
  uint n, count, table_rows;
  uint t_off, t_row_bytes;  // bytes
  uint ids_off, o_off, o_stride;  // elements
} p;
#define GRID_BINDING 3  // the lattice grids (types_lattice.glsl)
#include "types.glsl"

void main() {
  uint e = group_index() * 256u + gl_LocalInvocationID.x;
  if (e >= p.n * p.count) return;
  uint i = e / p.n, j = e % p.n;
  int id = ids[p.ids_off + i];
  float v = 0.0;
  if (id >= 0 && uint(id) < p.table_rows)
    v = dequant(p.t_off + uint(id) * p.t_row_bytes + (j / QK) * BLOCK_BYTES, j % QK);
  o[p.o_off + i * p.o_stride + j] = floatBitsToUint(v);
}
