// c[m×n] = a[m×k]·b[k×n] (+ c when accumulate), row-major; row r's bits do not depend on m.
void rows_gemm(int m, int n, int k, const float *a, const float *b, float *c, int accumulate);
