// NnKernels.cu - the cuda device's conv2d / pool2d library steps.
// Contract: runtime/cuda/NnKernels.h. The build embeds this file as a
// string (NnKernelsSource.cpp); NVRTC compiles it at prepare. Tests also
// compile it on the CPU (no barriers, shuffles or shared memory). No
// preprocessor directives, no headers.
struct KilnConvParams { long long v[18]; };
struct KilnPoolParams { long long v[16]; };

template <typename T> __device__ __forceinline__ bool kiln_isnan(T x) { return x != x; }

// y[n,o,oh,ow] = sum over (c, kh, kw) of x[n, g*Cg+c, ih, iw] * w[o, c, kh, kw].
template <typename T>
__device__ __forceinline__ void conv2d(const T *x, const T *w, T *y, const KilnConvParams &p) {
  const long long N = p.v[0], C = p.v[1], H = p.v[2], W = p.v[3], O = p.v[4], KH = p.v[5],
                  KW = p.v[6], OH = p.v[7], OW = p.v[8], sh = p.v[9], sw = p.v[10],
                  top = p.v[11], left = p.v[12], dh = p.v[15], dw = p.v[16], G = p.v[17];
  const long long Cg = C / G, Og = O / G, total = N * O * OH * OW;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
       i += (long long)gridDim.x * blockDim.x) {
    const long long ow = i % OW, oh = (i / OW) % OH, o = (i / (OW * OH)) % O,
                    n = i / (OW * OH * O), g = o / Og;
    T acc = T(0);
    for (long long c = 0; c < Cg; ++c)
      for (long long kh = 0; kh < KH; ++kh) {
        const long long ih = oh * sh - top + kh * dh;
        if (ih < 0 || ih >= H) continue;
        for (long long kw = 0; kw < KW; ++kw) {
          const long long iw = ow * sw - left + kw * dw;
          if (iw < 0 || iw >= W) continue;
          acc += x[((n * C + g * Cg + c) * H + ih) * W + iw] * w[((o * Cg + c) * KH + kh) * KW + kw];
        }
      }
    y[i] = acc;
  }
}

// dx[n, ci, ih, iw] = sum over the (o, kh, kw) whose output (oh, ow) reads it.
template <typename T>
__device__ __forceinline__ void conv2d_grad_input(const T *dy, const T *w, T *dx,
                                                  const KilnConvParams &p) {
  const long long N = p.v[0], C = p.v[1], H = p.v[2], W = p.v[3], O = p.v[4], KH = p.v[5],
                  KW = p.v[6], OH = p.v[7], OW = p.v[8], sh = p.v[9], sw = p.v[10],
                  top = p.v[11], left = p.v[12], dh = p.v[15], dw = p.v[16], G = p.v[17];
  const long long Cg = C / G, Og = O / G, total = N * C * H * W;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
       i += (long long)gridDim.x * blockDim.x) {
    const long long iw = i % W, ih = (i / W) % H, ci = (i / (W * H)) % C, n = i / (W * H * C),
                    g = ci / Cg, c = ci % Cg;
    T acc = T(0);
    for (long long o = g * Og; o < (g + 1) * Og; ++o)
      for (long long kh = 0; kh < KH; ++kh) {
        const long long th = ih + top - kh * dh;
        if (th < 0 || th % sh != 0 || th / sh >= OH) continue;
        for (long long kw = 0; kw < KW; ++kw) {
          const long long tw = iw + left - kw * dw;
          if (tw < 0 || tw % sw != 0 || tw / sw >= OW) continue;
          acc += w[((o * Cg + c) * KH + kh) * KW + kw] *
                 dy[((n * O + o) * OH + th / sh) * OW + tw / sw];
        }
      }
    dx[i] = acc;
  }
}

// dw[o, c, kh, kw] = sum over (n, oh, ow) of x[n, g*Cg+c, ih, iw] * dy[n, o, oh, ow].
template <typename T>
__device__ __forceinline__ void conv2d_grad_filter(const T *x, const T *dy, T *dwt,
                                                   const KilnConvParams &p) {
  const long long N = p.v[0], C = p.v[1], H = p.v[2], W = p.v[3], O = p.v[4], KH = p.v[5],
                  KW = p.v[6], OH = p.v[7], OW = p.v[8], sh = p.v[9], sw = p.v[10],
                  top = p.v[11], left = p.v[12], dh = p.v[15], dw = p.v[16], G = p.v[17];
  const long long Cg = C / G, Og = O / G, total = O * Cg * KH * KW;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
       i += (long long)gridDim.x * blockDim.x) {
    const long long kw = i % KW, kh = (i / KW) % KH, c = (i / (KW * KH)) % Cg,
                    o = i / (KW * KH * Cg), g = o / Og;
    T acc = T(0);
    for (long long n = 0; n < N; ++n)
      for (long long oh = 0; oh < OH; ++oh) {
        const long long ih = oh * sh - top + kh * dh;
        if (ih < 0 || ih >= H) continue;
        for (long long ow = 0; ow < OW; ++ow) {
          const long long iw = ow * sw - left + kw * dw;
          if (iw < 0 || iw >= W) continue;
          acc += x[((n * C + g * Cg + c) * H + ih) * W + iw] * dy[((n * O + o) * OH + oh) * OW + ow];
        }
      }
    dwt[i] = acc;
  }
}

// The index of the maximum of window (oh, ow) of plane nc: the first NaN,
// else the first largest value; -1 for an empty window.
template <typename T>
__device__ __forceinline__ long long pool_argmax(const T *x, long long nc, long long oh,
                                                 long long ow, const KilnPoolParams &p) {
  const long long H = p.v[2], W = p.v[3], KH = p.v[6], KW = p.v[7], sh = p.v[8], sw = p.v[9],
                  top = p.v[10], left = p.v[11];
  long long best = -1;
  T max = T(0);
  for (long long kh = 0; kh < KH; ++kh) {
    const long long ih = oh * sh - top + kh;
    if (ih < 0 || ih >= H) continue;
    for (long long kw = 0; kw < KW; ++kw) {
      const long long iw = ow * sw - left + kw;
      if (iw < 0 || iw >= W) continue;
      const long long i = (nc * H + ih) * W + iw;
      if (best >= 0 && kiln_isnan(max)) return best;
      if (best < 0 || kiln_isnan(x[i]) || x[i] > max) { best = i; max = x[i]; }
    }
  }
  return best;
}

template <typename T>
__device__ __forceinline__ long long pool_count(long long oh, long long ow, const KilnPoolParams &p) {
  const long long H = p.v[2], W = p.v[3], KH = p.v[6], KW = p.v[7], sh = p.v[8], sw = p.v[9],
                  top = p.v[10], left = p.v[11];
  if (p.v[15]) return KH * KW;
  long long h0 = oh * sh - top, w0 = ow * sw - left;
  long long h1 = h0 + KH < H ? h0 + KH : H, w1 = w0 + KW < W ? w0 + KW : W;
  h0 = h0 > 0 ? h0 : 0;
  w0 = w0 > 0 ? w0 : 0;
  return (h1 > h0 ? h1 - h0 : 0) * (w1 > w0 ? w1 - w0 : 0);
}

template <typename T>
__device__ __forceinline__ void pool2d(const T *x, T *y, const KilnPoolParams &p) {
  const long long N = p.v[0], C = p.v[1], H = p.v[2], W = p.v[3], OH = p.v[4], OW = p.v[5],
                  KH = p.v[6], KW = p.v[7], sh = p.v[8], sw = p.v[9], top = p.v[10],
                  left = p.v[11], isMax = p.v[14];
  const long long total = N * C * OH * OW;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
       i += (long long)gridDim.x * blockDim.x) {
    const long long ow = i % OW, oh = (i / OW) % OH, nc = i / (OW * OH);
    if (isMax) {
      long long best = pool_argmax(x, nc, oh, ow, p);
      y[i] = best >= 0 ? x[best] : -T(1) / T(0);
      continue;
    }
    T acc = T(0);
    for (long long kh = 0; kh < KH; ++kh) {
      const long long ih = oh * sh - top + kh;
      if (ih < 0 || ih >= H) continue;
      for (long long kw = 0; kw < KW; ++kw) {
        const long long iw = ow * sw - left + kw;
        if (iw < 0 || iw >= W) continue;
        acc += x[(nc * H + ih) * W + iw];
      }
    }
    y[i] = acc / T(pool_count<T>(oh, ow, p));
  }
}

// dx[nc, ih, iw] = sum over the windows that contain it: dy / count (avg)
// or dy where it is the window's maximum (max).
template <typename T>
__device__ __forceinline__ void pool2d_grad(const T *x, const T *dy, T *dx, const KilnPoolParams &p) {
  const long long N = p.v[0], C = p.v[1], H = p.v[2], W = p.v[3], OH = p.v[4], OW = p.v[5],
                  KH = p.v[6], KW = p.v[7], sh = p.v[8], sw = p.v[9], top = p.v[10],
                  left = p.v[11], isMax = p.v[14];
  const long long total = N * C * H * W;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
       i += (long long)gridDim.x * blockDim.x) {
    const long long iw = i % W, ih = (i / W) % H, nc = i / (W * H);
    T acc = T(0);
    for (long long kh = 0; kh < KH; ++kh) {
      const long long th = ih + top - kh;
      if (th < 0 || th % sh != 0 || th / sh >= OH) continue;
      for (long long kw = 0; kw < KW; ++kw) {
        const long long tw = iw + left - kw;
        if (tw < 0 || tw % sw != 0 || tw / sw >= OW) continue;
        const long long oh = th / sh, ow = tw / sw;
        const T g = dy[(nc * OH + oh) * OW + ow];
        if (isMax) {
          if (pool_argmax(x, nc, oh, ow, p) == i) acc += g;
        } else {
          acc += g / T(pool_count<T>(oh, ow, p));
        }
      }
    }
    dx[i] = acc;
  }
}

extern "C" __global__ void kiln_cuda_conv2d_f32(const float *x, const float *w, float *y, KilnConvParams p) { conv2d(x, w, y, p); }
extern "C" __global__ void kiln_cuda_conv2d_f64(const double *x, const double *w, double *y, KilnConvParams p) { conv2d(x, w, y, p); }
extern "C" __global__ void kiln_cuda_conv2d_grad_input_f32(const float *dy, const float *w, float *dx, KilnConvParams p) { conv2d_grad_input(dy, w, dx, p); }
extern "C" __global__ void kiln_cuda_conv2d_grad_input_f64(const double *dy, const double *w, double *dx, KilnConvParams p) { conv2d_grad_input(dy, w, dx, p); }
extern "C" __global__ void kiln_cuda_conv2d_grad_filter_f32(const float *x, const float *dy, float *dw, KilnConvParams p) { conv2d_grad_filter(x, dy, dw, p); }
extern "C" __global__ void kiln_cuda_conv2d_grad_filter_f64(const double *x, const double *dy, double *dw, KilnConvParams p) { conv2d_grad_filter(x, dy, dw, p); }
extern "C" __global__ void kiln_cuda_pool2d_f32(const float *x, float *y, KilnPoolParams p) { pool2d(x, y, p); }
extern "C" __global__ void kiln_cuda_pool2d_f64(const double *x, double *y, KilnPoolParams p) { pool2d(x, y, p); }
extern "C" __global__ void kiln_cuda_pool2d_grad_f32(const float *x, const float *dy, float *dx, KilnPoolParams p) { pool2d_grad(x, dy, dx, p); }
extern "C" __global__ void kiln_cuda_pool2d_grad_f64(const double *x, const double *dy, double *dx, KilnPoolParams p) { pool2d_grad(x, dy, dx, p); }
