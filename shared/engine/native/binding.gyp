{
  "targets": [
    {
      "target_name": "charrnn_blas",
      "sources": ["blas.c", "rows.c", "cell.c"],
      "libraries": ["-lopenblas", "-lm"],
      "cflags": ["-O2", "-march=native", "-ffp-contract=off"]
    }
  ]
}
