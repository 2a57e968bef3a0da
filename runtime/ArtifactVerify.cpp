//===- ArtifactVerify.cpp - Semantic checks of a decoded artifact --------===//
//
// Contract: verifyProgram in kiln/Artifact.h. Checks everything the devices
// rely on without re-checking: versions; enum values in range; every
// tensor's shape (non-negative, product overflow-checked), size (at least
// numElements * dtypeBytes), offset (aligned) and offset + size inside its
// region; indices of args, results and step operands; the kernel ABI of
// every launch (arg count and dtypes, grid/block limits); library-step
// arities by op and epilogue; memset/copy sizes; the persistent state and
// its initial bytes; unique kernel and function names. The first failure
// is returned, naming the field and the values.
//
//===----------------------------------------------------------------------===//
#include "kiln/Artifact.h"

#include <map>
#include <set>
#include <string>

namespace kiln::rt {
namespace {

using std::to_string;

struct Failure {
  std::string message;
};

[[noreturn]] void fail(const std::string &where, const std::string &what) {
  throw Failure{where + ": " + what};
}

bool validDType(DType d) { return static_cast<uint8_t>(d) <= static_cast<uint8_t>(DType::i1); }

std::string dtypeText(DType d) {
  return validDType(d) ? std::string(dtypeName(d)) : "dtype " + to_string(unsigned(d));
}

/// Names are C strings to the C API: non-empty, no NUL byte.
void checkName(const std::string &name, const std::string &where) {
  if (name.empty())
    fail(where, "field 'name' is empty");
  if (name.find('\0') != std::string::npos)
    fail(where, "field 'name' contains a NUL byte at " + to_string(name.find('\0')));
}

void checkEnums(const TensorDesc &t, const std::string &where) {
  if (!validDType(t.dtype))
    fail(where, "field 'dtype' has value " + to_string(unsigned(t.dtype)) + " (max " +
                    to_string(unsigned(DType::i1)) + ")");
  if (static_cast<uint8_t>(t.role) > static_cast<uint8_t>(TensorRole::temporary))
    fail(where, "field 'role' has value " + to_string(unsigned(t.role)) + " (max " +
                    to_string(unsigned(TensorRole::temporary)) + ")");
  if (static_cast<uint8_t>(t.region) > static_cast<uint8_t>(Region::arena))
    fail(where, "field 'region' has value " + to_string(unsigned(t.region)) + " (max " +
                    to_string(unsigned(Region::arena)) + ")");
}

/// Shape, size, alignment and bounds of one tensor in a region of
/// `regionBytes` bytes.
void checkTensor(const TensorDesc &t, const std::string &where, uint64_t regionBytes,
                 uint64_t alignment) {
  checkEnums(t, where);
  checkName(t.name, where);
  if (t.shape.size() > kMaxTensorRank)
    fail(where, "shape has rank " + to_string(t.shape.size()) + " (max " +
                    to_string(kMaxTensorRank) + ")");
  uint64_t elements = 1;
  for (size_t i = 0; i < t.shape.size(); ++i) {
    int64_t dim = t.shape[i];
    if (dim < 0)
      fail(where, "shape dimension " + to_string(i) + " is negative (" + to_string(dim) + ")");
    uint64_t next;
    if (__builtin_mul_overflow(elements, static_cast<uint64_t>(dim), &next) ||
        next > kMaxRegionBytes)
      fail(where, "shape product overflows at dimension " + to_string(i) + " (" +
                      to_string(elements) + " * " + to_string(dim) + ")");
    elements = next;
  }
  uint64_t need = elements * dtypeBytes(t.dtype); // both bounded: no overflow
  if (t.size < need)
    fail(where, "size " + to_string(t.size) + " is less than " + to_string(elements) +
                    " elements * " + to_string(dtypeBytes(t.dtype)) +
                    " bytes = " + to_string(need));
  if (t.offset % alignment != 0)
    fail(where, "offset " + to_string(t.offset) + " is not a multiple of the alignment " +
                    to_string(alignment));
  uint64_t end;
  if (__builtin_add_overflow(t.offset, t.size, &end) || end > regionBytes)
    fail(where, "offset " + to_string(t.offset) + " + size " + to_string(t.size) + " exceeds " +
                    regionName(t.region) + " size " + to_string(regionBytes));
}

std::string tensorWhere(const std::string &fw, const FunctionDesc &f, uint32_t i) {
  return fw + " tensor " + to_string(i) + " ('" + f.tensors[i].name + "')";
}

void checkIndex(uint32_t index, const FunctionDesc &f, const std::string &where) {
  if (index >= f.tensors.size())
    fail(where, "tensor index " + to_string(index) + " is out of range (function has " +
                    to_string(f.tensors.size()) + " tensors)");
}

/// Operand count of a library step by op and epilogue (Program.h).
size_t libraryArgCount(const LibraryStep &l) {
  switch (l.op) {
  case LibraryOp::matmul:
    switch (l.epilogue) {
    case Epilogue::none:
    case Epilogue::relu:
    case Epilogue::gelu: return 3;
    case Epilogue::bias:
    case Epilogue::bias_relu:
    case Epilogue::bias_gelu:
    case Epilogue::drelu:
    case Epilogue::dgelu:
    case Epilogue::bgradb: return 4;
    case Epilogue::drelu_bgrad:
    case Epilogue::dgelu_bgrad: return 5;
    }
    return 0;
  case LibraryOp::conv2d:
  case LibraryOp::conv2d_grad_input:
  case LibraryOp::conv2d_grad_filter:
  case LibraryOp::pool2d_grad: return 3;
  case LibraryOp::pool2d: return 2;
  }
  return 0;
}

size_t libraryParamCount(LibraryOp op) {
  switch (op) {
  case LibraryOp::matmul: return 6;
  case LibraryOp::conv2d:
  case LibraryOp::conv2d_grad_input:
  case LibraryOp::conv2d_grad_filter: return 18;
  case LibraryOp::pool2d:
  case LibraryOp::pool2d_grad: return 16;
  }
  return 0;
}

void checkLaunch(const Program &p, const FunctionDesc &f, const LaunchStep &l,
                 const std::string &where) {
  if (l.kernel >= p.kernels.size())
    fail(where, "field 'kernel' index " + to_string(l.kernel) + " is out of range (" +
                    to_string(p.kernels.size()) + " kernels)");
  const KernelDesc &k = p.kernels[l.kernel];
  std::string kw = where + " (kernel '" + k.name + "')";
  static const char *axes = "xyz";
  static const uint64_t gridMax[3] = {0x7FFFFFFFull, 65535, 65535};
  static const uint64_t blockMax[3] = {1024, 1024, 64};
  for (int i = 0; i < 3; ++i) {
    if (l.grid[i] == 0 || l.grid[i] > gridMax[i])
      fail(kw, std::string("field 'grid.") + axes[i] + "' is " + to_string(l.grid[i]) +
                   " (must be 1.." + to_string(gridMax[i]) + ")");
    if (l.block[i] == 0 || l.block[i] > blockMax[i])
      fail(kw, std::string("field 'block.") + axes[i] + "' is " + to_string(l.block[i]) +
                   " (must be 1.." + to_string(blockMax[i]) + ")");
  }
  uint64_t threads = uint64_t(l.block[0]) * l.block[1] * l.block[2];
  if (threads > 1024)
    fail(kw, "field 'block' has " + to_string(threads) + " threads per block (max 1024)");
  if (l.args.size() != k.argDTypes.size())
    fail(kw, "arg count " + to_string(l.args.size()) + " != kernel argDTypes size " +
                 to_string(k.argDTypes.size()));
  for (size_t i = 0; i < l.args.size(); ++i) {
    std::string aw = kw + " arg " + to_string(i);
    checkIndex(l.args[i], f, aw);
    DType got = f.tensors[l.args[i]].dtype;
    if (got != k.argDTypes[i])
      fail(aw, "dtype mismatch: tensor " + to_string(l.args[i]) + " ('" +
                   f.tensors[l.args[i]].name + "') is " + dtypeText(got) + ", kernel expects " +
                   dtypeText(k.argDTypes[i]));
  }
}

void checkLibrary(const FunctionDesc &f, const LibraryStep &l, const std::string &where) {
  if (static_cast<uint8_t>(l.op) > static_cast<uint8_t>(LibraryOp::pool2d_grad))
    fail(where, "library field 'op' has value " + to_string(unsigned(l.op)) + " (max " +
                    to_string(unsigned(LibraryOp::pool2d_grad)) + ")");
  if (static_cast<uint8_t>(l.epilogue) > static_cast<uint8_t>(Epilogue::dgelu_bgrad))
    fail(where, "library field 'epilogue' has value " + to_string(unsigned(l.epilogue)) + " (max " +
                    to_string(unsigned(Epilogue::dgelu_bgrad)) + ")");
  std::string lw = where + " (library " + libraryOpName(l.op) + ")";
  if (l.op != LibraryOp::matmul && l.epilogue != Epilogue::none)
    fail(lw, std::string("field 'epilogue' is ") + epilogueName(l.epilogue) +
                 " (only matmul has epilogues)");
  if (l.dtype != DType::f32 && l.dtype != DType::f64)
    fail(lw, "field 'dtype' is " + dtypeText(l.dtype) + " (must be f32 or f64)");
  size_t params = libraryParamCount(l.op);
  if (l.params.size() != params)
    fail(lw, "param count " + to_string(l.params.size()) + " != " + to_string(params) + " for " +
                 libraryOpName(l.op));
  for (size_t i = 0; i < l.params.size(); ++i)
    if (l.params[i] < 0)
      fail(lw, "param " + to_string(i) + " is negative (" + to_string(l.params[i]) + ")");
  if (l.op == LibraryOp::matmul && l.params[0] > 1 && l.epilogue != Epilogue::none)
    fail(lw, "batch " + to_string(l.params[0]) + " > 1 with epilogue " + epilogueName(l.epilogue) +
                 " (only epilogue none is batched)");
  size_t args = libraryArgCount(l);
  if (l.args.size() != args)
    fail(lw, "arg count " + to_string(l.args.size()) + " != " + to_string(args) + " for " +
                 libraryOpName(l.op) + " with epilogue " + epilogueName(l.epilogue));
  for (size_t i = 0; i < l.args.size(); ++i) {
    std::string aw = lw + " arg " + to_string(i);
    checkIndex(l.args[i], f, aw);
    DType got = f.tensors[l.args[i]].dtype;
    if (got != l.dtype)
      fail(aw, "dtype mismatch: tensor " + to_string(l.args[i]) + " ('" +
                   f.tensors[l.args[i]].name + "') is " + dtypeText(got) + ", step dtype is " +
                   dtypeText(l.dtype));
  }
}

using StateMap = std::map<std::string, const TensorDesc *>;

void checkFunction(const Program &p, const StateMap &stateByName, const FunctionDesc &f,
                   const std::string &fw) {
  if (f.inputBytes > kMaxRegionBytes)
    fail(fw, "field 'inputBytes' " + to_string(f.inputBytes) + " exceeds " +
                 to_string(kMaxRegionBytes));
  if (f.arenaBytes > kMaxRegionBytes)
    fail(fw, "field 'arenaBytes' " + to_string(f.arenaBytes) + " exceeds " +
                 to_string(kMaxRegionBytes));
  for (uint32_t i = 0; i < f.tensors.size(); ++i) {
    const TensorDesc &t = f.tensors[i];
    std::string tw = tensorWhere(fw, f, i);
    checkEnums(t, tw);
    uint64_t regionBytes = t.region == Region::persistent ? p.persistentBytes
                           : t.region == Region::input    ? f.inputBytes
                                                          : f.arenaBytes;
    checkTensor(t, tw, regionBytes, p.alignment);
    if (t.region == Region::persistent) {
      // One persistent layout for every function: a persistent tensor named
      // like a state tensor is that tensor.
      auto found = stateByName.find(t.name);
      if (found != stateByName.end()) {
        const TensorDesc &s = *found->second;
        if (s.offset != t.offset || s.dtype != t.dtype || s.shape != t.shape)
          fail(tw, "persistent tensor differs from state '" + s.name + "' (offset " +
                       to_string(t.offset) + " vs " + to_string(s.offset) + ", " +
                       dtypeText(t.dtype) + " vs " + dtypeText(s.dtype) + ", rank " +
                       to_string(t.shape.size()) + " vs " + to_string(s.shape.size()) + ")");
      }
    }
  }
  for (size_t i = 0; i < f.args.size(); ++i)
    checkIndex(f.args[i], f, fw + " arg " + to_string(i));
  for (size_t i = 0; i < f.results.size(); ++i)
    checkIndex(f.results[i], f, fw + " result " + to_string(i));
  for (size_t i = 0; i < f.steps.size(); ++i) {
    const Step &s = f.steps[i];
    std::string sw = fw + " step " + to_string(i) + (s.label.empty() ? "" : " ('" + s.label + "')");
    switch (s.kind) {
    case StepKind::launch: checkLaunch(p, f, s.launch, sw); break;
    case StepKind::library: checkLibrary(f, s.library, sw); break;
    case StepKind::memset: checkIndex(s.dst, f, sw + " memset field 'dst'"); break;
    case StepKind::copy:
      checkIndex(s.dst, f, sw + " copy field 'dst'");
      checkIndex(s.src, f, sw + " copy field 'src'");
      if (f.tensors[s.dst].size != f.tensors[s.src].size)
        fail(sw, "copy size mismatch: dst " + tensorWhere("", f, s.dst).substr(1) + " has " +
                     to_string(f.tensors[s.dst].size) + " bytes, src " +
                     tensorWhere("", f, s.src).substr(1) + " has " +
                     to_string(f.tensors[s.src].size));
      break;
    default:
      fail(sw, "field 'kind' has value " + to_string(unsigned(s.kind)) + " (max " +
                   to_string(unsigned(StepKind::copy)) + ")");
    }
  }
}

void checkProgram(const Program &p) {
  if (p.major != kArtifactMajor)
    fail("program", "major version " + to_string(p.major) +
                        " is not supported (this reader: " + to_string(kArtifactMajor) + ")");
  if (p.minor > kArtifactMinor)
    fail("program", "minor version " + to_string(p.minor) + " is newer than this reader's " +
                        to_string(kArtifactMajor) + "." + to_string(kArtifactMinor));
  if (p.alignment == 0 || (p.alignment & (p.alignment - 1)) != 0 || p.alignment > 65536)
    fail("program",
         "field 'alignment' " + to_string(p.alignment) + " is not a power of two in 1..65536");
  if (p.persistentBytes > kMaxRegionBytes)
    fail("program", "field 'persistentBytes' " + to_string(p.persistentBytes) + " exceeds " +
                        to_string(kMaxRegionBytes));
  if (p.initialPersistent.size() != p.persistentBytes)
    fail("program", "field 'initialPersistent' has " + to_string(p.initialPersistent.size()) +
                        " bytes, persistentBytes is " + to_string(p.persistentBytes));
  std::set<std::string> names;
  StateMap stateByName;
  for (size_t i = 0; i < p.state.size(); ++i) {
    const TensorDesc &t = p.state[i].tensor;
    std::string sw = "state " + to_string(i) + " ('" + t.name + "')";
    checkEnums(t, sw);
    if (t.region != Region::persistent)
      fail(sw,
           std::string("field 'region' is ") + regionName(t.region) + ", state must be persistent");
    checkTensor(t, sw, p.persistentBytes, p.alignment);
    if (!names.insert(t.name).second)
      fail(sw, "duplicate state name '" + t.name + "'");
    stateByName[t.name] = &t;
    if (t.dtype == DType::i1)
      for (uint64_t e = 0; e < uint64_t(t.numElements()); ++e)
        if (p.initialPersistent[t.offset + e] > 1)
          fail(sw, "initial value of element " + to_string(e) + " is " +
                       to_string(p.initialPersistent[t.offset + e]) + " (i1 must be 0 or 1)");
  }
  names.clear();
  for (size_t i = 0; i < p.kernels.size(); ++i) {
    const KernelDesc &k = p.kernels[i];
    std::string kw = "kernel " + to_string(i) + " ('" + k.name + "')";
    checkName(k.name, kw);
    std::set<std::string> archs;
    for (size_t j = 0; j < k.cubins.size(); ++j) {
      const std::string &arch = k.cubins[j].arch;
      if (arch.empty())
        fail(kw, "cubin " + to_string(j) + " field 'arch' is empty");
      if (!archs.insert(arch).second)
        fail(kw, "cubin " + to_string(j) + " duplicate arch '" + arch + "'");
    }
    if (!names.insert(k.name).second)
      fail(kw, "duplicate kernel name '" + k.name + "'");
    for (size_t j = 0; j < k.argDTypes.size(); ++j)
      if (!validDType(k.argDTypes[j]))
        fail(kw, "field 'argDTypes' entry " + to_string(j) + " has value " +
                     to_string(unsigned(k.argDTypes[j])) + " (max " +
                     to_string(unsigned(DType::i1)) + ")");
  }
  names.clear();
  for (size_t i = 0; i < p.functions.size(); ++i) {
    const FunctionDesc &f = p.functions[i];
    checkName(f.name, "function " + to_string(i));
    if (!names.insert(f.name).second)
      fail("function " + to_string(i), "duplicate function name '" + f.name + "'");
    checkFunction(p, stateByName, f, "function '" + f.name + "'");
  }
}

} // namespace

Status verifyProgram(const Program &program) {
  try {
    checkProgram(program);
  } catch (const Failure &e) {
    return Status(Code::invalid_artifact, "artifact: " + e.message);
  } catch (const std::exception &e) {
    return Status(Code::invalid_artifact,
                  std::string("artifact: verification failed: ") + e.what());
  }
  return Status::ok();
}

} // namespace kiln::rt
