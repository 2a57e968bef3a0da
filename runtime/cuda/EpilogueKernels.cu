// EpilogueKernels.cu - the cuda device's fallback matmul epilogues.
// Contract: runtime/cuda/EpilogueKernels.h. The build embeds this file as
// a string (EpilogueKernelsSource.cpp); NVRTC compiles it at prepare. Tests
// also compile it on the CPU (it uses no barriers, shuffles or shared
// memory). No preprocessor directives, no headers.
template <typename T> __device__ __forceinline__ T kiln_tanh(T x);
template <> __device__ __forceinline__ float kiln_tanh(float x) { return tanhf(x); }
template <> __device__ __forceinline__ double kiln_tanh(double x) { return tanh(x); }

template <typename T>
__device__ __forceinline__ void epilogue(T *d, const T *bias, const T *aux, long long m,
                                         long long n, int mode) {
  const T k = T(0.79788456080286535588), c3 = T(0.044715);
  long long total = m * n;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
       i += (long long)gridDim.x * blockDim.x) {
    T v = d[i];
    if (bias) v = v + bias[i % n];
    if (mode == 1) {
      v = (v != v) ? v : (v > T(0) ? v : T(0));
    } else if (mode == 2) {
      v = T(0.5) * v * (T(1) + kiln_tanh(k * (v + c3 * v * v * v)));
    } else if (mode == 3) {
      v = aux[i] > T(0) ? v : T(0) * v;
    } else if (mode == 4) {
      T x = aux[i];
      T t = kiln_tanh(k * (x + c3 * x * x * x));
      v = v * (T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * k * (T(1) + T(3) * c3 * x * x));
    }
    d[i] = v;
  }
}

template <typename T>
__device__ __forceinline__ void colsum(const T *x, T *out, long long rows, long long n) {
  long long c = blockIdx.x * (long long)blockDim.x + threadIdx.x;
  if (c >= n) return;
  T s = T(0);
  for (long long r = 0; r < rows; ++r) s += x[r * n + c];
  out[c] = s;
}

extern "C" __global__ void kiln_cuda_epilogue_f32(float *d, const float *bias, const float *aux,
                                                  long long m, long long n, int mode) {
  epilogue(d, bias, aux, m, n, mode);
}
extern "C" __global__ void kiln_cuda_epilogue_f64(double *d, const double *bias,
                                                  const double *aux, long long m, long long n,
                                                  int mode) {
  epilogue(d, bias, aux, m, n, mode);
}
extern "C" __global__ void kiln_cuda_colsum_f32(const float *x, float *out, long long rows,
                                                long long n) {
  colsum(x, out, rows, n);
}
extern "C" __global__ void kiln_cuda_colsum_f64(const double *x, double *out, long long rows,
                                                long long n) {
  colsum(x, out, rows, n);
}
