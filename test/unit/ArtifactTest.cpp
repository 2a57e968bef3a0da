//===- ArtifactTest.cpp - .kart writer/reader and verifier tests ----------===//
//
// Round trip of a rich Program (every enum, every step kind, several
// functions) compared field by field; structural rejections (truncation,
// identifier, versions); and hand-made hostile programs, each rejected with
// a message naming the field.
//
//===----------------------------------------------------------------------===//
#include "kiln/Artifact.h"
#include "SampleProgram.h"
#include "program_generated.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <functional>
#include <unistd.h>

using namespace kiln::rt;
using kiln::rt::testing::makeSampleProgram;

namespace {

void expectTensorEq(const TensorDesc &a, const TensorDesc &b, const std::string &where) {
  SCOPED_TRACE(where);
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.dtype, b.dtype);
  EXPECT_EQ(a.shape, b.shape);
  EXPECT_EQ(a.role, b.role);
  EXPECT_EQ(a.region, b.region);
  EXPECT_EQ(a.offset, b.offset);
  EXPECT_EQ(a.size, b.size);
}

void expectProgramEq(const Program &a, const Program &b) {
  EXPECT_EQ(a.major, b.major);
  EXPECT_EQ(a.minor, b.minor);
  EXPECT_EQ(a.compilerVersion, b.compilerVersion);
  EXPECT_EQ(a.model, b.model);
  EXPECT_EQ(a.archs, b.archs);
  EXPECT_EQ(a.persistentBytes, b.persistentBytes);
  EXPECT_EQ(a.alignment, b.alignment);
  EXPECT_EQ(a.initialPersistent, b.initialPersistent);
  ASSERT_EQ(a.state.size(), b.state.size());
  for (size_t i = 0; i < a.state.size(); ++i)
    expectTensorEq(a.state[i].tensor, b.state[i].tensor, "state " + std::to_string(i));
  ASSERT_EQ(a.kernels.size(), b.kernels.size());
  for (size_t i = 0; i < a.kernels.size(); ++i) {
    const KernelDesc &x = a.kernels[i], &y = b.kernels[i];
    SCOPED_TRACE("kernel " + std::to_string(i));
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.source, y.source);
    EXPECT_EQ(x.argDTypes, y.argDTypes);
    ASSERT_EQ(x.cubins.size(), y.cubins.size());
    for (size_t j = 0; j < x.cubins.size(); ++j) {
      EXPECT_EQ(x.cubins[j].arch, y.cubins[j].arch);
      EXPECT_EQ(x.cubins[j].cubin, y.cubins[j].cubin);
    }
    EXPECT_EQ(x.ptx, y.ptx);
    EXPECT_EQ(x.registers, y.registers);
    EXPECT_EQ(x.spillBytes, y.spillBytes);
    EXPECT_EQ(x.sharedBytes, y.sharedBytes);
  }
  ASSERT_EQ(a.functions.size(), b.functions.size());
  for (size_t i = 0; i < a.functions.size(); ++i) {
    const FunctionDesc &f = a.functions[i], &g = b.functions[i];
    SCOPED_TRACE("function " + f.name);
    EXPECT_EQ(f.name, g.name);
    ASSERT_EQ(f.tensors.size(), g.tensors.size());
    for (size_t j = 0; j < f.tensors.size(); ++j)
      expectTensorEq(f.tensors[j], g.tensors[j], "tensor " + std::to_string(j));
    EXPECT_EQ(f.args, g.args);
    EXPECT_EQ(f.results, g.results);
    EXPECT_EQ(f.inputBytes, g.inputBytes);
    EXPECT_EQ(f.arenaBytes, g.arenaBytes);
    ASSERT_EQ(f.steps.size(), g.steps.size());
    for (size_t j = 0; j < f.steps.size(); ++j) {
      const Step &s = f.steps[j], &t = g.steps[j];
      SCOPED_TRACE("step " + std::to_string(j));
      EXPECT_EQ(s.kind, t.kind);
      EXPECT_EQ(s.label, t.label);
      EXPECT_EQ(s.dst, t.dst);
      EXPECT_EQ(s.src, t.src);
      EXPECT_EQ(s.value, t.value);
      if (s.kind == StepKind::launch) {
        EXPECT_EQ(s.launch.kernel, t.launch.kernel);
        for (int d = 0; d < 3; ++d) {
          EXPECT_EQ(s.launch.grid[d], t.launch.grid[d]);
          EXPECT_EQ(s.launch.block[d], t.launch.block[d]);
        }
        EXPECT_EQ(s.launch.dynamicSharedBytes, t.launch.dynamicSharedBytes);
        EXPECT_EQ(s.launch.args, t.launch.args);
      }
      if (s.kind == StepKind::library) {
        EXPECT_EQ(s.library.op, t.library.op);
        EXPECT_EQ(s.library.epilogue, t.library.epilogue);
        EXPECT_EQ(s.library.dtype, t.library.dtype);
        EXPECT_EQ(s.library.params, t.library.params);
        EXPECT_EQ(s.library.args, t.library.args);
      }
    }
  }
}

/// Writes `p` unchecked and loads it back; returns the load status.
Status roundTrip(const Program &p, Program *out = nullptr) {
  std::vector<uint8_t> bytes;
  Status w = writeArtifact(p, bytes);
  EXPECT_TRUE(w.isOk()) << w.message();
  Program tmp;
  return loadArtifact(bytes.data(), bytes.size(), out ? *out : tmp);
}

/// Expects `mutate(sample)` to be rejected with a message containing each
/// of `needles`.
void expectRejected(const std::function<void(Program &)> &mutate,
                    std::vector<std::string> needles) {
  Program p = makeSampleProgram();
  mutate(p);
  Status s = roundTrip(p);
  ASSERT_FALSE(s.isOk()) << "accepted a hostile program; expected: " << needles[0];
  EXPECT_EQ(s.code(), Code::invalid_artifact);
  for (const std::string &n : needles)
    EXPECT_NE(s.message().find(n), std::string::npos)
        << "message: " << s.message() << "\nmissing: " << n;
}

} // namespace

TEST(Artifact, SampleCoversEveryEnum) {
  Program p = makeSampleProgram();
  ASSERT_TRUE(verifyProgram(p).isOk()) << verifyProgram(p).message();
  std::set<int> dtypes, regions, roles, kinds, ops, epis;
  for (const FunctionDesc &f : p.functions) {
    for (const TensorDesc &t : f.tensors) {
      dtypes.insert(int(t.dtype));
      regions.insert(int(t.region));
      roles.insert(int(t.role));
    }
    for (const Step &s : f.steps) {
      kinds.insert(int(s.kind));
      if (s.kind == StepKind::library) {
        ops.insert(int(s.library.op));
        epis.insert(int(s.library.epilogue));
      }
    }
  }
  EXPECT_EQ(dtypes.size(), 7u);
  EXPECT_EQ(regions.size(), 3u);
  EXPECT_EQ(roles.size(), 7u);
  EXPECT_EQ(kinds.size(), 4u);
  EXPECT_EQ(ops.size(), 6u);
  EXPECT_EQ(epis.size(), 11u);
}

TEST(Artifact, RoundTripFieldByField) {
  Program p = makeSampleProgram();
  Program q;
  Status s = roundTrip(p, &q);
  ASSERT_TRUE(s.isOk()) << s.message();
  expectProgramEq(p, q);
}

TEST(Artifact, RoundTripThroughFileAndUnalignedBuffer) {
  Program p = makeSampleProgram();
  char dir[] = "/tmp/kiln-artifact-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::string path = std::string(dir) + "/sample.kart";
  ASSERT_TRUE(writeArtifactFile(p, path).isOk());
  Program q;
  Status s = loadArtifactFile(path, q);
  ASSERT_TRUE(s.isOk()) << s.message();
  expectProgramEq(p, q);
  // The same bytes at an odd address.
  std::vector<uint8_t> bytes;
  ASSERT_TRUE(writeArtifact(p, bytes).isOk());
  std::vector<uint8_t> shifted(bytes.size() + 1);
  std::copy(bytes.begin(), bytes.end(), shifted.begin() + 1);
  Program r;
  s = loadArtifact(shifted.data() + 1, bytes.size(), r);
  ASSERT_TRUE(s.isOk()) << s.message();
  expectProgramEq(p, r);
  // A program the reader would reject is not written.
  Program bad = p;
  bad.kernels[1].name = bad.kernels[0].name;
  s = writeArtifactFile(bad, path);
  EXPECT_EQ(s.code(), Code::invalid_artifact);
  EXPECT_NE(s.message().find("not written"), std::string::npos) << s.message();
  ASSERT_TRUE(loadArtifactFile(path, r).isOk()) << "the old file must survive";
  std::remove(path.c_str());
  rmdir(dir);
  s = loadArtifactFile(path, r);
  EXPECT_EQ(s.code(), Code::io_error);
  EXPECT_NE(s.message().find(path), std::string::npos) << s.message();
}

TEST(Artifact, TruncatedAtEveryLengthIsRejected) {
  std::vector<uint8_t> bytes;
  ASSERT_TRUE(writeArtifact(makeSampleProgram(true), bytes).isOk());
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + n);
    Program q;
    Status s = loadArtifact(cut.data(), cut.size(), q);
    ASSERT_FALSE(s.isOk()) << "accepted a truncation to " << n << " bytes";
    EXPECT_FALSE(s.message().empty());
  }
}

TEST(Artifact, BadIdentifier) {
  std::vector<uint8_t> bytes;
  ASSERT_TRUE(writeArtifact(makeSampleProgram(), bytes).isOk());
  bytes[8] = 'X';
  Program q;
  Status s = loadArtifact(bytes.data(), bytes.size(), q);
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("identifier is 'XART', expected 'KART'"), std::string::npos)
      << s.message();
}

TEST(Artifact, Versions) {
  expectRejected([](Program &p) { p.major = 2; }, {"major version 2"});
  expectRejected([](Program &p) { p.minor = kArtifactMinor + 1; },
                 {"minor version " + std::to_string(kArtifactMinor + 1), "newer"});
}

TEST(Artifact, HostilePrograms) {
  expectRejected(
      [](Program &p) { p.functions[0].tensors[6].offset = 256; },
      {"function 'train_step' tensor 6 ('loss')", "offset 256 + size 64", "arena size 256"});
  expectRejected([](Program &p) { p.functions[0].tensors[5].offset = 32; },
                 {"tensor 5 ('x')", "offset 32", "alignment 64"});
  expectRejected([](Program &p) { p.functions[0].tensors[5].size = 16; },
                 {"tensor 5 ('x')", "size 16 is less than 8 elements"});
  expectRejected([](Program &p) { p.functions[0].args.push_back(99); },
                 {"function 'train_step' arg 3", "tensor index 99"});
  expectRejected([](Program &p) { p.functions[0].results[0] = 1000; },
                 {"result 0", "tensor index 1000"});
  expectRejected([](Program &p) { p.functions[0].steps[0].launch.args.push_back(5); },
                 {"step 0 ('fusion#1 loop')", "kernel 'kiln_loop_0123456789abcdef'",
                  "arg count 3 != kernel argDTypes size 2"});
  expectRejected([](Program &p) { p.functions[0].steps[0].launch.args[1] = 2; },
                 {"arg 1", "dtype mismatch", "('step') is i64, kernel expects f32"});
  expectRejected([](Program &p) { p.functions[0].steps[0].launch.kernel = 7; },
                 {"field 'kernel' index 7"});
  expectRejected([](Program &p) { p.functions[0].steps[4].library.params.pop_back(); },
                 {"library matmul", "param count 5 != 6"});
  expectRejected([](Program &p) { p.functions[0].steps[4].library.args.pop_back(); },
                 {"library matmul", "arg count 2 != 3"});
  expectRejected([](Program &p) { p.functions[0].steps[4].library.dtype = DType::i32; },
                 {"field 'dtype' is i32"});
  expectRejected(
      [](Program &p) {
        p.functions[0].tensors[5].shape = {int64_t(1) << 40, int64_t(1) << 40};
      },
      {"tensor 5 ('x')", "shape product overflows"});
  expectRejected([](Program &p) { p.functions[0].tensors[5].shape = {-3}; },
                 {"shape dimension 0 is negative (-3)"});
  expectRejected([](Program &p) { p.kernels[1].name = p.kernels[0].name; },
                 {"kernel 1", "duplicate kernel name"});
  expectRejected([](Program &p) { p.functions[1].name = "train_step"; },
                 {"function 1", "duplicate function name 'train_step'"});
  expectRejected([](Program &p) { p.functions[0].steps[0].launch.block[0] = 0; },
                 {"field 'block.x' is 0"});
  expectRejected(
      [](Program &p) {
        p.functions[0].steps[0].launch.block[0] = 1024;
        p.functions[0].steps[0].launch.block[1] = 2;
      },
      {"field 'block' has 2048 threads"});
  expectRejected([](Program &p) { p.functions[0].steps[0].launch.grid[1] = 0; },
                 {"field 'grid.y' is 0"});
  expectRejected([](Program &p) { p.functions[0].tensors[5].dtype = DType(42); },
                 {"tensor 5", "field 'dtype' has value 42"});
  expectRejected([](Program &p) { p.functions[0].tensors[5].region = Region(3); },
                 {"field 'region' has value 3"});
  expectRejected([](Program &p) { p.functions[0].tensors[5].role = TensorRole(9); },
                 {"field 'role' has value 9"});
  expectRejected([](Program &p) { p.functions[0].steps[1].kind = StepKind(4); },
                 {"step 1", "field 'kind' has value 4"});
  expectRejected([](Program &p) { p.functions[0].steps[4].library.op = LibraryOp(6); },
                 {"library field 'op' has value 6"});
  expectRejected([](Program &p) { p.functions[0].steps[4].library.epilogue = Epilogue(11); },
                 {"library field 'epilogue' has value 11"});
  expectRejected([](Program &p) { p.kernels[1].argDTypes[0] = DType(7); },
                 {"kernel 1", "field 'argDTypes' entry 0 has value 7"});
  expectRejected([](Program &p) { p.functions[0].steps[1].dst = 50; },
                 {"memset field 'dst'", "tensor index 50"});
  expectRejected([](Program &p) { p.functions[0].tensors[7].size = 128; },
                 {"step 2 ('update w')", "copy size mismatch", "has 64 bytes", "has 128"});
  expectRejected([](Program &p) { p.initialPersistent.pop_back(); },
                 {"field 'initialPersistent' has 319 bytes, persistentBytes is 320"});
  expectRejected([](Program &p) { p.state[1].tensor.region = Region::arena; },
                 {"state 1 ('b')", "state must be persistent"});
  expectRejected([](Program &p) { p.state[4].tensor.offset = 320; },
                 {"state 4 ('bn.mean')", "exceeds persistent size 320"});
  expectRejected([](Program &p) { p.functions[0].tensors[5].name = std::string("x\0y", 3); },
                 {"tensor 5", "field 'name' contains a NUL byte at 1"});
  expectRejected([](Program &p) { p.functions[0].tensors[5].name.clear(); },
                 {"tensor 5 ('')", "field 'name' is empty"});
  expectRejected(
      [](Program &p) { p.functions[1].tensors[1].offset = 128; },
      {"function 'forward' tensor 1 ('b')", "differs from state 'b'", "offset 128 vs 64"});
  expectRejected([](Program &p) { p.kernels[0].cubins[1].arch = "sm_80"; },
                 {"kernel 0 ('kiln_loop_0123456789abcdef')", "cubin 1 duplicate arch 'sm_80'"});
  expectRejected(
      [](Program &p) {
        p.state[2].tensor.dtype = DType::i1; // bytes 128.. are 7 * i + 3
        for (TensorDesc &t : p.functions[0].tensors)
          if (t.name == "step")
            t.dtype = DType::i1;
        for (TensorDesc &t : p.functions[1].tensors)
          if (t.name == "step")
            t.dtype = DType::i1;
        for (TensorDesc &t : p.functions[2].tensors)
          if (t.name == "step")
            t.dtype = DType::i1;
      },
      {"state 2 ('step')", "initial value of element 0 is", "i1 must be 0 or 1"});
  expectRejected([](Program &p) { p.alignment = 48; }, {"field 'alignment' 48"});
  expectRejected([](Program &p) { p.functions[0].tensors[5].offset = ~uint64_t(0) - 63; },
                 {"tensor 5 ('x')", "exceeds input size 128"});
}

/// A one-function program whose single step is `step(builder)`.
Status loadWithStep(
    const std::function<flatbuffers::Offset<kiln::fb::Step>(flatbuffers::FlatBufferBuilder &)>
        &step) {
  namespace fb = kiln::fb;
  flatbuffers::FlatBufferBuilder b;
  std::vector<flatbuffers::Offset<fb::Step>> steps = {step(b)};
  auto fn = fb::CreateFunction(b, b.CreateString("f"), 0, 0, 0, b.CreateVector(steps));
  std::vector<flatbuffers::Offset<fb::Function>> fns = {fn};
  std::vector<uint8_t> none;
  auto root = fb::CreateProgram(b, kArtifactMajor, kArtifactMinor, 0, 0, 0, 0, 64, 0,
                                b.CreateVector(none), 0, b.CreateVector(fns));
  fb::FinishSizePrefixedProgramBuffer(b, root);
  Program q;
  return loadArtifact(b.GetBufferPointer(), b.GetSize(), q);
}

TEST(Artifact, MissingSubTablesAreRejected) {
  namespace fb = kiln::fb;
  Status s = loadWithStep([](auto &b) { return fb::CreateStep(b, fb::StepKind::launch); });
  EXPECT_NE(s.message().find("function 'f' step 0: kind launch but field 'launch' is missing"),
            std::string::npos)
      << s.message();
  s = loadWithStep([](auto &b) { return fb::CreateStep(b, fb::StepKind::library); });
  EXPECT_NE(s.message().find("kind library but field 'library' is missing"), std::string::npos)
      << s.message();
  s = loadWithStep([](auto &b) {
    fb::Dim3 block(1, 1, 1);
    return fb::CreateStep(b, fb::StepKind::launch, 0, fb::CreateLaunchStep(b, 0, nullptr, &block));
  });
  EXPECT_NE(s.message().find("step 0 launch: field 'grid' is missing"), std::string::npos)
      << s.message();
  // Sanity: the same construction with both dims reaches the semantic checks.
  s = loadWithStep([](auto &b) {
    fb::Dim3 one(1, 1, 1);
    return fb::CreateStep(b, fb::StepKind::launch, 0, fb::CreateLaunchStep(b, 0, &one, &one));
  });
  EXPECT_NE(s.message().find("field 'kernel' index 0 is out of range (0 kernels)"),
            std::string::npos)
      << s.message();
}

TEST(Artifact, SharedTablesCannotAmplify) {
  // A structurally valid flatbuffer whose functions vector holds the same
  // Function table 1000 times (and that function's tensors vector the same
  // Tensor table 1000 times): 1M decoded tensors from 8 KB.
  namespace fb = kiln::fb;
  flatbuffers::FlatBufferBuilder b;
  std::vector<int64_t> shape = {2, 2};
  auto tensor = fb::CreateTensor(b, b.CreateString("t"), fb::DType::f32, b.CreateVector(shape),
                                 fb::TensorRole::temporary, fb::Region::arena, 0, 64);
  std::vector<flatbuffers::Offset<fb::Tensor>> tensors(1000, tensor);
  auto fn = fb::CreateFunction(b, b.CreateString("f"), b.CreateVector(tensors), 0, 0, 0, 0, 64);
  std::vector<flatbuffers::Offset<fb::Function>> fns(1000, fn);
  std::vector<uint8_t> none;
  auto root = fb::CreateProgram(b, kArtifactMajor, kArtifactMinor, 0, 0, 0, 0, 64, 0,
                                b.CreateVector(none), 0, b.CreateVector(fns));
  fb::FinishSizePrefixedProgramBuffer(b, root);
  Program q;
  Status s = loadArtifact(b.GetBufferPointer(), b.GetSize(), q);
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("decoded content exceeds"), std::string::npos)
      << s.message().substr(0, 300);
}
