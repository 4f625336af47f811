{
  "targets": [
    {
      "target_name": "charrnn_blas",
      "sources": ["blas.c"],
      "libraries": ["-lopenblas"],
      "cflags": ["-O2"]
    }
  ]
}
