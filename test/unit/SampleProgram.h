//===- SampleProgram.h - A rich, valid hand-built kiln::rt::Program -------===//
//
// Contract: makeSampleProgram() returns a Program that passes verifyProgram
// and uses every enum value (dtypes, regions, roles, step kinds, library ops,
// epilogues) across three functions. Shared by the artifact unit tests, the
// session tests and the artifact fuzz driver's built-in seed.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_TEST_SAMPLEPROGRAM_H
#define KILN_TEST_SAMPLEPROGRAM_H

#include "kiln/Program.h"

namespace kiln::rt::testing {

/// A tensor with size rounded up to 64 bytes.
inline TensorDesc sampleTensor(std::string name, DType dtype, std::vector<int64_t> shape,
                               TensorRole role, Region region, uint64_t offset) {
  TensorDesc t;
  t.name = std::move(name);
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.role = role;
  t.region = region;
  t.offset = offset;
  uint64_t bytes = uint64_t(t.numElements()) * dtypeBytes(dtype);
  t.size = (bytes + 63) / 64 * 64;
  return t;
}

/// `small`: one function with a launch, a memset and a copy (a small seed
/// for exhaustive bit flips); otherwise the full program.
inline Program makeSampleProgram(bool small = false) {
  using R = Region;
  using T = TensorRole;
  Program p;
  p.compilerVersion = "kiln 0.1 test";
  p.model = small ? "tiny" : "sample";
  p.alignment = 64;
  // Persistent layout shared by every function.
  std::vector<TensorDesc> persistent = {
      sampleTensor("w", DType::f32, {4, 4}, T::param, R::persistent, 0),
      sampleTensor("b", DType::f32, {4}, T::param, R::persistent, 64),
      sampleTensor("step", DType::i64, {}, T::step, R::persistent, 128),
      sampleTensor("w.m", DType::f16, {4, 4}, T::optimizer_state, R::persistent, 192),
      sampleTensor("bn.mean", DType::bf16, {8}, T::buffer, R::persistent, 256),
  };
  if (small)
    persistent.resize(2);
  p.persistentBytes = small ? 128 : 320;
  for (const TensorDesc &t : persistent)
    p.state.push_back({t});
  p.initialPersistent.resize(p.persistentBytes);
  for (size_t i = 0; i < p.initialPersistent.size(); ++i)
    p.initialPersistent[i] = uint8_t(i * 7 + 3);

  KernelDesc k0;
  k0.name = "kiln_loop_0123456789abcdef";
  k0.source = "extern \"C\" __global__ void kiln_loop_0123456789abcdef(float *a0, float *a1) {}";
  k0.argDTypes = {DType::f32, DType::f32};
  p.kernels.push_back(k0);
  if (!small) {
    p.archs = {"sm_80", "sm_90"};
    p.kernels[0].cubins = {{"sm_80", std::string("\x7f"
                                                 "ELF\0\1\2",
                                                 7)},
                           {"sm_90", "cubin90"}};
    p.kernels[0].ptx = ".version 8.0";
    p.kernels[0].registers = 32;
    p.kernels[0].spillBytes = 0;
    p.kernels[0].sharedBytes = 128;
    KernelDesc k1;
    k1.name = "kiln_reduce_fedcba9876543210";
    k1.source = "// all dtypes";
    k1.argDTypes = {DType::f32, DType::f64, DType::f16, DType::bf16,
                    DType::i32, DType::i64, DType::i1};
    p.kernels.push_back(k1);
  }

  // train_step: every step kind; forward/eval: smaller.
  FunctionDesc f;
  f.name = "train_step";
  f.tensors = persistent;
  uint32_t x = f.tensors.size();
  f.tensors.push_back(sampleTensor("x", DType::f32, {2, 4}, T::input, R::input, 0));
  uint32_t out = f.tensors.size();
  f.tensors.push_back(sampleTensor("loss", DType::f32, {2, 4}, T::output, R::arena, 0));
  uint32_t tmp = f.tensors.size();
  f.tensors.push_back(sampleTensor("%40", DType::f32, {4, 4}, T::temporary, R::arena, 64));
  f.inputBytes = 64;
  f.arenaBytes = 128;
  f.args = {x, 0, 1};
  f.results = {out, 1};
  Step launch;
  launch.kind = StepKind::launch;
  launch.label = "fusion#1 loop";
  launch.launch.kernel = 0;
  launch.launch.grid[0] = 3;
  launch.launch.block[0] = 128;
  launch.launch.block[1] = 2;
  launch.launch.dynamicSharedBytes = 256;
  launch.launch.args = {x, out};
  f.steps.push_back(launch);
  Step memset;
  memset.kind = StepKind::memset;
  memset.label = "zero";
  memset.dst = tmp;
  memset.value = 0xAB;
  f.steps.push_back(memset);
  Step copy;
  copy.kind = StepKind::copy;
  copy.label = "update w";
  copy.dst = 0;
  copy.src = tmp;
  f.steps.push_back(copy);
  if (!small) {
    uint32_t xd = f.tensors.size();
    f.tensors.push_back(sampleTensor("xd", DType::f64, {2}, T::input, R::input, 64));
    uint32_t i32 = f.tensors.size();
    f.tensors.push_back(sampleTensor("%i", DType::i32, {3}, T::temporary, R::arena, 128));
    uint32_t i1 = f.tensors.size();
    f.tensors.push_back(sampleTensor("mask", DType::i1, {5}, T::temporary, R::arena, 192));
    f.inputBytes = 128;
    f.arenaBytes = 256;
    Step all;
    all.kind = StepKind::launch;
    all.label = "fusion#2 reduce";
    all.launch.kernel = 1;
    all.launch.grid[0] = 1;
    all.launch.grid[1] = 2;
    all.launch.grid[2] = 3;
    all.launch.block[2] = 4;
    all.launch.args = {out, xd, 3, 4, i32, 2, i1};
    f.steps.push_back(all);
    // Every library op; matmul with every epilogue.
    for (int op = 0; op <= int(LibraryOp::pool2d_grad); ++op) {
      int lastEpi = op == 0 ? int(Epilogue::dgelu_bgrad) : 0;
      for (int e = 0; e <= lastEpi; ++e) {
        Step s;
        s.kind = StepKind::library;
        s.label = "lib " + std::to_string(op) + "/" + std::to_string(e);
        s.library.op = LibraryOp(op);
        s.library.epilogue = Epilogue(e);
        s.library.dtype = DType::f32;
        size_t params = op == 0 ? 6 : op <= 3 ? 18 : 16;
        for (size_t i = 0; i < params; ++i)
          s.library.params.push_back(int64_t(i % 5 + 1) * (op == 0 && i == 0 ? 1 : 1));
        size_t args = 3;
        if (op == 0) {
          Epilogue ep = Epilogue(e);
          if (ep == Epilogue::bias || ep == Epilogue::bias_relu || ep == Epilogue::bias_gelu ||
              ep == Epilogue::drelu || ep == Epilogue::dgelu || ep == Epilogue::bgradb)
            args = 4;
          if (ep == Epilogue::drelu_bgrad || ep == Epilogue::dgelu_bgrad)
            args = 5;
        } else if (op == int(LibraryOp::pool2d)) {
          args = 2;
        }
        for (size_t i = 0; i < args; ++i)
          s.library.args.push_back(i % 2 ? tmp : x);
        f.steps.push_back(s);
      }
    }
  }
  p.functions.push_back(f);
  if (!small) {
    FunctionDesc fwd;
    fwd.name = "forward";
    fwd.tensors = persistent;
    uint32_t fx = fwd.tensors.size();
    fwd.tensors.push_back(sampleTensor("x", DType::f32, {2, 4}, T::input, R::input, 0));
    uint32_t fy = fwd.tensors.size();
    fwd.tensors.push_back(sampleTensor("y", DType::f32, {2, 4}, T::output, R::arena, 0));
    fwd.inputBytes = 64;
    fwd.arenaBytes = 64;
    fwd.args = {fx, 0};
    fwd.results = {fy};
    Step s = launch;
    s.launch.args = {fx, fy};
    fwd.steps.push_back(s);
    p.functions.push_back(fwd);
    FunctionDesc eval;
    eval.name = "eval";
    eval.tensors = persistent;
    eval.results = {2};
    p.functions.push_back(eval);
  }
  return p;
}

} // namespace kiln::rt::testing

#endif // KILN_TEST_SAMPLEPROGRAM_H
