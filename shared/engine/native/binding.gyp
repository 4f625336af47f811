# One portable build: rows.c, cell.c and gates.c are compiled once per kernel variant (simd.h), each
# a static library with its own instruction-set flags; blas.c and seq.c (baseline flags)
# pick one at load time.
# -ffp-contract=off everywhere: the kernels' bits must not depend on the compiler fusing a*b+c.
{
  "target_defaults": {
    "cflags": ["-ffp-contract=off"]
  },
  "targets": [
    {
      "target_name": "charrnn_blas",
      "sources": ["blas.c", "seq.c"],
      "libraries": ["-lopenblas", "-lpthread", "-lm"],
      "dependencies": ["kernels_baseline"],
      "conditions": [
        ["target_arch=='x64'", { "dependencies": ["kernels_avx512", "kernels_avx2"] }]
      ]
    },
    {
      "target_name": "kernels_baseline",
      "type": "static_library",
      "sources": ["rows.c", "cell.c", "gates.c"],
      "defines": ["KERNELS_BASELINE"]
    }
  ],
  "conditions": [
    ["target_arch=='x64'", {
      "targets": [
        {
          "target_name": "kernels_avx512",
          "type": "static_library",
          "sources": ["rows.c", "cell.c", "gates.c"],
          "defines": ["KERNELS_AVX512"],
          "cflags": ["-mavx512f", "-mavx2", "-mfma"]
        },
        {
          "target_name": "kernels_avx2",
          "type": "static_library",
          "sources": ["rows.c", "cell.c", "gates.c"],
          "defines": ["KERNELS_AVX2"],
          "cflags": ["-mavx2", "-mfma"]
        }
      ]
    }]
  ]
}
