//===- Artifact.cpp - .kart flatbuffers writer and reader ----------------===//
//
// Contract: kiln/Artifact.h. The writer maps kiln::rt::Program one to one
// onto runtime/schema/program.fbs; the reader checks size, identifier and
// flatbuffers structure, copies every field into a fresh Program (so no
// pointer into the buffer survives) and then runs verifyProgram
// (runtime/ArtifactVerify.cpp) before handing it out.
//
//===----------------------------------------------------------------------===//
#include "kiln/Artifact.h"

#include "kiln/AtomicFile.h"
#include "program_generated.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <type_traits>

static_assert(FLATBUFFERS_LITTLEENDIAN, "the .kart reader assumes a little-endian host");

namespace kiln::rt {
namespace {

namespace fb = kiln::fb;
using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;

//===--------------------------------------------------------------------===//
// Writer
//===--------------------------------------------------------------------===//

Offset<fb::Tensor> writeTensor(FlatBufferBuilder &b, const TensorDesc &t) {
  return fb::CreateTensor(b, b.CreateString(t.name), static_cast<fb::DType>(t.dtype),
                          b.CreateVector(t.shape), static_cast<fb::TensorRole>(t.role),
                          static_cast<fb::Region>(t.region), t.offset, t.size);
}

Offset<fb::Kernel> writeKernel(FlatBufferBuilder &b, const KernelDesc &k) {
  std::vector<Offset<fb::Binary>> cubins;
  for (const KernelDesc::Binary &bin : k.cubins) {
    auto arch = b.CreateString(bin.arch);
    auto data =
        b.CreateVector(reinterpret_cast<const uint8_t *>(bin.cubin.data()), bin.cubin.size());
    cubins.push_back(fb::CreateBinary(b, arch, data));
  }
  std::vector<uint8_t> dtypes;
  for (DType d : k.argDTypes)
    dtypes.push_back(static_cast<uint8_t>(d));
  auto name = b.CreateString(k.name);
  auto source = b.CreateString(k.source);
  auto argDTypes =
      b.CreateVector(reinterpret_cast<const fb::DType *>(dtypes.data()), dtypes.size());
  auto cubinVec = b.CreateVector(cubins);
  auto ptx = b.CreateString(k.ptx);
  return fb::CreateKernel(b, name, source, argDTypes, cubinVec, ptx, k.registers, k.spillBytes,
                          k.sharedBytes);
}

Offset<fb::Step> writeStep(FlatBufferBuilder &b, const Step &s) {
  auto label = b.CreateString(s.label);
  Offset<fb::LaunchStep> launch;
  Offset<fb::LibraryStep> library;
  if (s.kind == StepKind::launch) {
    const LaunchStep &l = s.launch;
    fb::Dim3 grid(l.grid[0], l.grid[1], l.grid[2]);
    fb::Dim3 block(l.block[0], l.block[1], l.block[2]);
    launch = fb::CreateLaunchStepDirect(b, l.kernel, &grid, &block, l.dynamicSharedBytes, &l.args);
  } else if (s.kind == StepKind::library) {
    const LibraryStep &l = s.library;
    library = fb::CreateLibraryStepDirect(b, static_cast<fb::LibraryOp>(l.op),
                                          static_cast<fb::Epilogue>(l.epilogue),
                                          static_cast<fb::DType>(l.dtype), &l.params, &l.args);
  }
  return fb::CreateStep(b, static_cast<fb::StepKind>(s.kind), label, launch, library, s.dst, s.src,
                        s.value);
}

Offset<fb::Function> writeFunction(FlatBufferBuilder &b, const FunctionDesc &f) {
  std::vector<Offset<fb::Tensor>> tensors;
  for (const TensorDesc &t : f.tensors)
    tensors.push_back(writeTensor(b, t));
  std::vector<Offset<fb::Step>> steps;
  for (const Step &s : f.steps)
    steps.push_back(writeStep(b, s));
  // Strings by std::string (never c_str()): a name with a NUL byte must
  // round-trip unchanged (the reader then rejects it by name).
  return fb::CreateFunction(b, b.CreateString(f.name), b.CreateVector(tensors),
                            b.CreateVector(f.args), b.CreateVector(f.results),
                            b.CreateVector(steps), f.inputBytes, f.arenaBytes);
}

//===--------------------------------------------------------------------===//
// Reader (structure already verified; copies everything)
//===--------------------------------------------------------------------===//

/// Decoding fails only for missing required sub-tables; `where` names them.
struct DecodeError {
  std::string message;
};

/// Copies a verified buffer into a Program. The flatbuffers Verifier
/// accepts offsets that point at the same table or vector from many places;
/// every decoded element is charged against a budget of the file's size
/// (the writer never shares), so such a file cannot amplify into a huge
/// Program.
struct Reader {
  uint64_t size, left;

  /// Charges `n` decoded elements (or characters) against the budget.
  void take(uint64_t n) {
    if (n > left)
      throw DecodeError{"decoded content exceeds the " + std::to_string(size) +
                        "-byte file (tables or vectors shared between fields)"};
    left -= n;
  }

  std::string str(const flatbuffers::String *s) {
    if (!s)
      return std::string();
    take(s->size());
    return s->str();
  }

  /// A vector of scalars. The Verifier only guarantees 4-byte alignment of
  /// a vector's data, so 8-byte elements are read with memcpy, not loads.
  template <typename T, typename U> std::vector<T> vec(const flatbuffers::Vector<U> *v) {
    static_assert(std::is_arithmetic<U>::value, "scalar vectors only");
    std::vector<T> out;
    if (v) {
      take(v->size());
      out.resize(v->size());
      const uint8_t *data = v->Data();
      for (size_t i = 0; i < out.size(); ++i) {
        U x;
        std::memcpy(&x, data + i * sizeof(U), sizeof(U)); // little-endian hosts only
        out[i] = static_cast<T>(x);
      }
    }
    return out;
  }

  TensorDesc readTensor(const fb::Tensor *t, const std::string &where) {
    take(1);
    if (!t)
      throw DecodeError{where + ": missing tensor table"};
    TensorDesc d;
    d.name = str(t->name());
    d.dtype = static_cast<DType>(t->dtype());
    d.shape = vec<int64_t>(t->shape());
    d.role = static_cast<TensorRole>(t->role());
    d.region = static_cast<Region>(t->region());
    d.offset = t->offset();
    d.size = t->size();
    return d;
  }

  KernelDesc readKernel(const fb::Kernel *k, const std::string &where) {
    take(1);
    if (!k)
      throw DecodeError{where + ": missing kernel table"};
    KernelDesc d;
    d.name = str(k->name());
    d.source = str(k->source());
    if (auto *dt = k->arg_dtypes())
      take(dt->size());
    if (auto *dt = k->arg_dtypes())
      for (auto x : *dt)
        d.argDTypes.push_back(static_cast<DType>(x));
    if (auto *cubins = k->cubins()) {
      for (flatbuffers::uoffset_t i = 0; i < cubins->size(); ++i) {
        const fb::Binary *bin = cubins->Get(i);
        if (!bin)
          throw DecodeError{where + " cubin " + std::to_string(i) + ": missing binary table"};
        KernelDesc::Binary out;
        out.arch = str(bin->arch());
        if (auto *data = bin->cubin())
          take(data->size());
        if (auto *data = bin->cubin())
          out.cubin.assign(reinterpret_cast<const char *>(data->data()), data->size());
        d.cubins.push_back(std::move(out));
      }
    }
    d.ptx = str(k->ptx());
    d.registers = k->registers();
    d.spillBytes = k->spill_bytes();
    d.sharedBytes = k->shared_bytes();
    return d;
  }

  Step readStep(const fb::Step *s, const std::string &where) {
    take(1);
    if (!s)
      throw DecodeError{where + ": missing step table"};
    Step d;
    d.kind = static_cast<StepKind>(s->kind());
    d.label = str(s->label());
    d.dst = s->dst();
    d.src = s->src();
    d.value = s->value();
    if (d.kind == StepKind::launch) {
      const fb::LaunchStep *l = s->launch();
      if (!l)
        throw DecodeError{where + ": kind launch but field 'launch' is missing"};
      if (!l->grid())
        throw DecodeError{where + " launch: field 'grid' is missing"};
      if (!l->block())
        throw DecodeError{where + " launch: field 'block' is missing"};
      d.launch.kernel = l->kernel();
      d.launch.grid[0] = l->grid()->x();
      d.launch.grid[1] = l->grid()->y();
      d.launch.grid[2] = l->grid()->z();
      d.launch.block[0] = l->block()->x();
      d.launch.block[1] = l->block()->y();
      d.launch.block[2] = l->block()->z();
      d.launch.dynamicSharedBytes = l->dynamic_shared_bytes();
      d.launch.args = vec<uint32_t>(l->args());
    } else if (d.kind == StepKind::library) {
      const fb::LibraryStep *l = s->library();
      if (!l)
        throw DecodeError{where + ": kind library but field 'library' is missing"};
      d.library.op = static_cast<LibraryOp>(l->op());
      d.library.epilogue = static_cast<Epilogue>(l->epilogue());
      d.library.dtype = static_cast<DType>(l->dtype());
      d.library.params = vec<int64_t>(l->params());
      d.library.args = vec<uint32_t>(l->args());
    }
    return d;
  }

  FunctionDesc readFunction(const fb::Function *f, const std::string &where) {
    take(1);
    if (!f)
      throw DecodeError{where + ": missing function table"};
    FunctionDesc d;
    d.name = str(f->name());
    std::string fw = "function '" + d.name + "'";
    if (auto *ts = f->tensors())
      for (flatbuffers::uoffset_t i = 0; i < ts->size(); ++i)
        d.tensors.push_back(readTensor(ts->Get(i), fw + " tensor " + std::to_string(i)));
    d.args = vec<uint32_t>(f->args());
    d.results = vec<uint32_t>(f->results());
    if (auto *ss = f->steps())
      for (flatbuffers::uoffset_t i = 0; i < ss->size(); ++i)
        d.steps.push_back(readStep(ss->Get(i), fw + " step " + std::to_string(i)));
    d.inputBytes = f->input_bytes();
    d.arenaBytes = f->arena_bytes();
    return d;
  }

  Program readProgram(const fb::Program *p) {
    Program d;
    d.major = p->major();
    d.minor = p->minor();
    d.compilerVersion = str(p->compiler_version());
    d.model = str(p->model());
    if (auto *archs = p->archs())
      for (auto *a : *archs)
        d.archs.push_back(str(a));
    d.persistentBytes = p->persistent_bytes();
    d.alignment = p->alignment();
    if (auto *st = p->state())
      for (flatbuffers::uoffset_t i = 0; i < st->size(); ++i) {
        std::string where = "state " + std::to_string(i);
        const fb::State *s = st->Get(i);
        if (!s)
          throw DecodeError{where + ": missing state table"};
        d.state.push_back(StateDesc{readTensor(s->tensor(), where)});
      }
    if (auto *ip = p->initial_persistent())
      take(ip->size());
    if (auto *ip = p->initial_persistent())
      d.initialPersistent.assign(ip->begin(), ip->end());
    if (auto *ks = p->kernels())
      for (flatbuffers::uoffset_t i = 0; i < ks->size(); ++i)
        d.kernels.push_back(readKernel(ks->Get(i), "kernel " + std::to_string(i)));
    if (auto *fs = p->functions())
      for (flatbuffers::uoffset_t i = 0; i < fs->size(); ++i)
        d.functions.push_back(readFunction(fs->Get(i), "function " + std::to_string(i)));
    return d;
  }
};

Status invalid(std::string message) {
  return Status(Code::invalid_artifact, "artifact: " + std::move(message));
}

} // namespace

Status writeArtifact(const Program &program, std::vector<uint8_t> &bytes) {
  try {
    FlatBufferBuilder b(1 << 16);
    std::vector<Offset<fb::State>> state;
    for (const StateDesc &s : program.state)
      state.push_back(fb::CreateState(b, writeTensor(b, s.tensor)));
    std::vector<Offset<fb::Kernel>> kernels;
    for (const KernelDesc &k : program.kernels)
      kernels.push_back(writeKernel(b, k));
    std::vector<Offset<fb::Function>> functions;
    for (const FunctionDesc &f : program.functions)
      functions.push_back(writeFunction(b, f));
    std::vector<Offset<flatbuffers::String>> archs;
    for (const std::string &a : program.archs)
      archs.push_back(b.CreateString(a));
    auto root = fb::CreateProgram(
        b, program.major, program.minor, b.CreateString(program.compilerVersion),
        b.CreateString(program.model), b.CreateVector(archs), program.persistentBytes,
        program.alignment, b.CreateVector(state), b.CreateVector(program.initialPersistent),
        b.CreateVector(kernels), b.CreateVector(functions));
    fb::FinishSizePrefixedProgramBuffer(b, root);
    bytes.assign(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
  } catch (const std::exception &e) {
    return Status(Code::invalid_argument,
                  std::string("writeArtifact: cannot serialize program: ") + e.what());
  }
  if (bytes.size() > kMaxArtifactBytes)
    return Status(Code::invalid_argument, "writeArtifact: " + std::to_string(bytes.size()) +
                                              " bytes exceed the limit of " +
                                              std::to_string(kMaxArtifactBytes));
  return Status::ok();
}

Status writeArtifactFile(const Program &program, const std::string &path) {
  // Never write a file the reader would reject.
  Status valid = verifyProgram(program);
  if (!valid)
    return Status(valid.code(), path + ": not written: " + valid.message());
  std::vector<uint8_t> bytes;
  KILN_RT_RETURN_IF_ERROR(writeArtifact(program, bytes));
  std::string error;
  if (!writeFileAtomically(path, bytes, error))
    return Status(Code::io_error, error);
  return Status::ok();
}

Status loadArtifact(const uint8_t *data, size_t size, Program &out) {
  if (!data && size != 0)
    return invalid("null data with size " + std::to_string(size));
  if (size < 8)
    return invalid("file of " + std::to_string(size) +
                   " bytes is too short for a flatbuffer (at least 8)");
  if (size >= kMaxArtifactBytes)
    return invalid("file of " + std::to_string(size) + " bytes exceeds the limit of " +
                   std::to_string(kMaxArtifactBytes));
  // Size-prefixed: the prefix must account for every byte, so a truncated
  // (or extended) file is caught even where the cut falls in padding.
  uint32_t prefix = uint32_t(data[0]) | uint32_t(data[1]) << 8 | uint32_t(data[2]) << 16 |
                    uint32_t(data[3]) << 24;
  if (size < 12)
    return invalid("file of " + std::to_string(size) +
                   " bytes is too short for a .kart header (at least 12)");
  if (!fb::SizePrefixedProgramBufferHasIdentifier(data)) {
    char got[5] = {0};
    for (int i = 0; i < 4; ++i) {
      unsigned char c = data[8 + i];
      got[i] = (c >= 32 && c < 127) ? static_cast<char>(c) : '?';
    }
    return invalid(std::string("file identifier is '") + got + "', expected 'KART'");
  }
  if (uint64_t(prefix) + 4 != size)
    return invalid("size prefix says " + std::to_string(uint64_t(prefix) + 4) +
                   " bytes, the file has " + std::to_string(size) + " (truncated or extended)");
  // The verifier checks alignment relative to the buffer; give it an
  // 8-byte aligned copy when the caller's bytes are not aligned.
  std::vector<uint64_t> aligned;
  const uint8_t *buf = data;
  if (reinterpret_cast<uintptr_t>(data) % 8 != 0) {
    aligned.resize((size + 7) / 8);
    std::memcpy(aligned.data(), data, size);
    buf = reinterpret_cast<const uint8_t *>(aligned.data());
  }
  flatbuffers::Verifier::Options opts;
  opts.max_depth = 16;
  opts.max_tables = 4'000'000;
  opts.check_alignment = true;
  opts.check_nested_flatbuffers = false;
  flatbuffers::Verifier verifier(buf, size, opts);
  if (!fb::VerifySizePrefixedProgramBuffer(verifier))
    return invalid("flatbuffers structure verification failed (truncated or corrupt file of " +
                   std::to_string(size) + " bytes)");
  const fb::Program *root = fb::GetSizePrefixedProgram(buf);
  // The version first: a different major may mean different semantics.
  if (root->major() != kArtifactMajor)
    return invalid("major version " + std::to_string(root->major()) +
                   " is not supported (this reader: " + std::to_string(kArtifactMajor) + ")");
  if (root->minor() > kArtifactMinor)
    return invalid("minor version " + std::to_string(root->minor()) +
                   " is newer than this reader's " + std::to_string(kArtifactMajor) + "." +
                   std::to_string(kArtifactMinor));
  Program program;
  try {
    Reader reader{size, size};
    program = reader.readProgram(root);
  } catch (const DecodeError &e) {
    return invalid(e.message);
  } catch (const std::bad_alloc &) {
    return Status(Code::out_of_memory, "artifact: out of memory while decoding");
  }
  KILN_RT_RETURN_IF_ERROR(verifyProgram(program));
  out = std::move(program);
  return Status::ok();
}

Status loadArtifactFile(const std::string &path, Program &out) {
  std::FILE *f = std::fopen(path.c_str(), "rb");
  if (!f)
    return Status(Code::io_error, path + ": cannot open: " + std::strerror(errno));
  std::unique_ptr<std::FILE, int (*)(std::FILE *)> guard(f, &std::fclose);
  std::vector<uint8_t> bytes;
  uint8_t chunk[1 << 16];
  while (true) {
    size_t n = std::fread(chunk, 1, sizeof chunk, f);
    if (n == 0)
      break;
    if (bytes.size() + n > kMaxArtifactBytes)
      return Status(Code::invalid_artifact, path + ": file exceeds the limit of " +
                                                std::to_string(kMaxArtifactBytes) + " bytes");
    bytes.insert(bytes.end(), chunk, chunk + n);
  }
  if (std::ferror(f))
    return Status(Code::io_error, path + ": cannot read: " + std::strerror(errno));
  Status s = loadArtifact(bytes.data(), bytes.size(), out);
  if (!s)
    return Status(s.code(), path + ": " + s.message());
  return Status::ok();
}

} // namespace kiln::rt
