//===- Program.h - In-memory form of a .kart artifact ------------*- C++ -*-===//
//
// Plain C++17, no MLIR/LLVM. Codegen fills a `Program` and writes it with
// `writeArtifact` (runtime/Artifact.cpp, flatbuffers schema
// runtime/schema/program.fbs); the runtime reads it back with
// `loadArtifact`, which verifies the bytes structurally and then
// semantically before anything else looks at them.
//
// Memory model: three regions, each one allocation on the device.
//   persistent  parameters, optimizer state, buffers, the step counter;
//               one layout shared by every function, initialized from
//               `Program::initialPersistent`
//   input       the batch inputs of one call; each function has its own
//               layout (`FunctionDesc::inputBytes`)
//   arena       every temporary and output of one call; the region is
//               max(FunctionDesc::arenaBytes) bytes
// A tensor is (region, byte offset, byte size) plus dtype and shape; kernels
// and library steps get raw pointers base(region) + offset.
//
// Kernel ABI: kernel `name` is `extern "C" __global__ void name(T0* a0, ...)`
// with one pointer argument per entry of `LaunchStep::args`, in that order
// (the fusion's inputs, then its results). Every shape is baked into the
// code; there are no scalar arguments. Under `KILN_HOST_SIMT` the source
// also defines `extern "C" void name_host(void **args)`, where `args[i]`
// points at the i-th pointer argument, for the host device's emulator.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_PROGRAM_H
#define KILN_RUNTIME_PROGRAM_H

#include <cstdint>
#include <string>
#include <vector>

namespace kiln::rt {

/// Version of the artifact format. A reader accepts its own major version
/// and any minor version up to its own.
constexpr uint16_t kArtifactMajor = 1;
constexpr uint16_t kArtifactMinor = 0;

enum class DType : uint8_t { f32, f64, f16, bf16, i32, i64, i1 };
/// Bytes per element (i1: one byte, 0 or 1).
uint32_t dtypeBytes(DType t);
const char *dtypeName(DType t);

enum class Region : uint8_t { persistent, input, arena };
const char *regionName(Region r);

/// What a tensor is to the user of a function.
enum class TensorRole : uint8_t {
  param,           ///< trainable parameter (persistent)
  optimizer_state, ///< moments, velocities (persistent)
  buffer,          ///< non-trainable state, e.g. batch-norm running stats
  step,            ///< the step counter (persistent)
  input,           ///< bound by the caller before each call (input region)
  output,          ///< a result the caller may read (arena)
  temporary        ///< anything else (arena)
};
const char *roleName(TensorRole r);

struct TensorDesc {
  std::string name; ///< `kiln.name`, or "%<n>" for an unnamed temporary
  DType dtype = DType::f32;
  std::vector<int64_t> shape;
  TensorRole role = TensorRole::temporary;
  Region region = Region::arena;
  uint64_t offset = 0; ///< bytes from the region's start
  uint64_t size = 0;   ///< planned bytes (element bytes rounded up to alignment)
  /// Element count (product of shape; 1 for rank 0).
  int64_t numElements() const;
};

/// One CUDA kernel: its source and what NVRTC made of it.
struct KernelDesc {
  std::string name;   ///< stable, content-derived: kiln_<kind>_<16 hex digits>
  std::string source; ///< complete CUDA C++ translation unit (prelude included)
  /// Element type of each pointer parameter, in order (a launch of this
  /// kernel passes exactly these many tensors, of these dtypes).
  std::vector<DType> argDTypes;
  struct Binary {
    std::string arch; ///< "sm_80", "sm_90", ...
    std::string cubin;
  };
  std::vector<Binary> cubins;
  std::string ptx;          ///< for the newest requested arch (JIT on newer GPUs)
  int32_t registers = -1;   ///< per thread, from ptxas (-1: unknown)
  int32_t spillBytes = -1;  ///< spill stores + loads, bytes
  int32_t sharedBytes = -1; ///< static shared memory per block
};

enum class StepKind : uint8_t { launch, library, memset, copy };

struct LaunchStep {
  uint32_t kernel = 0; ///< index into Program::kernels
  uint32_t grid[3] = {1, 1, 1};
  uint32_t block[3] = {1, 1, 1};
  uint32_t dynamicSharedBytes = 0;
  std::vector<uint32_t> args; ///< indices into FunctionDesc::tensors
};

enum class LibraryOp : uint8_t {
  matmul,
  conv2d,
  conv2d_grad_input,
  conv2d_grad_filter,
  pool2d,
  pool2d_grad
};
const char *libraryOpName(LibraryOp op);

/// cuBLASLt-style epilogues of a matmul (the IR's kiln::Epilogue plus none).
enum class Epilogue : uint8_t {
  none,
  bias,
  relu,
  bias_relu,
  gelu,
  bias_gelu,
  drelu,
  drelu_bgrad,
  bgradb,
  dgelu,
  dgelu_bgrad
};
const char *epilogueName(Epilogue e);

/// One vendor-library call. `params` and `args` by op (all f32 or all f64):
///
/// matmul: params = [batch, m, n, k, transpose_a, transpose_b]; row-major
///   A is [batch, m, k] ([batch, k, m] if transpose_a), B [batch, k, n]
///   ([batch, n, k] if transpose_b), D [batch, m, n]. args by epilogue:
///     none, relu, gelu:   A, B, D
///     bias, bias_relu, bias_gelu:  A, B, bias[n], D
///     drelu, dgelu:       A, B, aux[m,n], D      (aux: the forward
///                         pre-activation; D = mm * act'(aux))
///     drelu_bgrad, dgelu_bgrad: A, B, aux, D, dbias[n] (column sums of D)
///     bgradb:             A, B, D, dbias[n]      (dbias = column sums of B;
///                         B is [k, n])
///   gelu is the tanh approximation; batch > 1 only with epilogue none.
/// conv2d: params = [N, C, H, W, O, KH, KW, OH, OW, stride_h, stride_w,
///   pad_top, pad_left, pad_bottom, pad_right, dil_h, dil_w, groups];
///   args = x[N,C,H,W], w[O,C/groups,KH,KW], y[N,O,OH,OW].
/// conv2d_grad_input: same params; args = dy, w, dx.
/// conv2d_grad_filter: same params; args = x, dy, dw.
/// pool2d: params = [N, C, H, W, OH, OW, win_h, win_w, stride_h, stride_w,
///   pad_top, pad_left, pad_bottom, pad_right, is_max, count_include_pad];
///   args = x, y.
/// pool2d_grad: same params; args = x, dy, dx.
struct LibraryStep {
  LibraryOp op = LibraryOp::matmul;
  Epilogue epilogue = Epilogue::none;
  DType dtype = DType::f32;
  std::vector<int64_t> params;
  std::vector<uint32_t> args;
};

struct Step {
  StepKind kind = StepKind::launch;
  std::string label; ///< e.g. "fusion#12 loop" (for messages and profiles)
  LaunchStep launch;   ///< kind == launch
  LibraryStep library; ///< kind == library
  /// memset: tensor `dst` gets bytes `value`; copy: `src` to `dst`
  /// (same size), e.g. a `kiln.updates` result back into its parameter.
  uint32_t dst = 0, src = 0;
  uint8_t value = 0;
};

struct FunctionDesc {
  std::string name; ///< "train_step", "forward", "eval"
  std::vector<TensorDesc> tensors;
  std::vector<uint32_t> args;    ///< indices into tensors, argument order
  std::vector<uint32_t> results; ///< indices into tensors, result order
  std::vector<Step> steps;
  uint64_t inputBytes = 0;
  uint64_t arenaBytes = 0;
};

/// One persistent tensor: where it lives and what it starts as.
struct StateDesc {
  TensorDesc tensor; ///< region persistent
};

struct Program {
  uint16_t major = kArtifactMajor, minor = kArtifactMinor;
  std::string compilerVersion;
  std::string model;              ///< the model's name
  std::vector<std::string> archs; ///< cubin architectures, e.g. sm_80, sm_90
  uint64_t persistentBytes = 0;
  uint64_t alignment = 64;
  std::vector<StateDesc> state;
  /// persistentBytes bytes: the initial parameters and zeroed state.
  std::vector<uint8_t> initialPersistent;
  std::vector<KernelDesc> kernels;
  std::vector<FunctionDesc> functions;

  const FunctionDesc *function(const std::string &name) const;
  /// Largest arena of any function.
  uint64_t arenaBytes() const;
};

} // namespace kiln::rt

#endif // KILN_RUNTIME_PROGRAM_H
