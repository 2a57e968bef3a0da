//===- MatmulPlan.cpp - Row-major matmul steps as cuBLASLt calls ----------===//
//
// Implements runtime/cuda/MatmulPlan.h; the derivation is there.
//
//===----------------------------------------------------------------------===//

#include "runtime/cuda/MatmulPlan.h"

#include <string>

namespace kiln::rt::cuda {

Status planMatmul(const LibraryStep &step, LtMatmulPlan &plan) {
  plan = LtMatmulPlan{};
  auto fail = [&](const std::string &what) {
    return Status(Code::invalid_argument, std::string("matmul (epilogue ") +
                                              epilogueName(step.epilogue) + "): " + what);
  };
  if (step.op != LibraryOp::matmul)
    return fail(std::string("not a matmul step but ") + libraryOpName(step.op));
  if (step.params.size() != 6)
    return fail("expected 6 params [batch, m, n, k, transpose_a, transpose_b], got " +
                std::to_string(step.params.size()));
  const int64_t batch = step.params[0], m = step.params[1], n = step.params[2],
                k = step.params[3], ta = step.params[4], tb = step.params[5];
  const char *names[] = {"batch", "m", "n", "k"};
  for (int i = 0; i < 4; ++i)
    if (step.params[i] <= 0 || step.params[i] > (int64_t(1) << 31))
      return fail(std::string("param ") + names[i] + " = " + std::to_string(step.params[i]) +
                  " is not in [1, 2^31]");
  if ((ta != 0 && ta != 1) || (tb != 0 && tb != 1))
    return fail("transpose_a = " + std::to_string(ta) + ", transpose_b = " + std::to_string(tb) +
                " must be 0 or 1");
  if (step.dtype != DType::f32 && step.dtype != DType::f64)
    return fail(std::string("dtype ") + dtypeName(step.dtype) + " is not f32 or f64");
  if (batch > 1 && step.epilogue != Epilogue::none)
    return fail("batch = " + std::to_string(batch) + " > 1 needs epilogue none");

  plan.batch = batch;
  plan.m = uint64_t(n);
  plan.n = uint64_t(m);
  plan.k = uint64_t(k);
  // cuBLASLt A = the step's B: stored [k,n] row-major = col-major n x k
  // (ld n, op N); or stored [n,k] = col-major k x n (ld k, op T).
  plan.transA = tb != 0;
  plan.a = tb ? LtLayout{uint64_t(k), uint64_t(n), uint64_t(k), k * n}
              : LtLayout{uint64_t(n), uint64_t(k), uint64_t(n), k * n};
  // cuBLASLt B = the step's A: stored [m,k] = col-major k x m (ld k, op N);
  // or stored [k,m] = col-major m x k (ld m, op T).
  plan.transB = ta != 0;
  plan.b = ta ? LtLayout{uint64_t(m), uint64_t(k), uint64_t(m), m * k}
              : LtLayout{uint64_t(k), uint64_t(m), uint64_t(k), m * k};
  plan.d = LtLayout{uint64_t(n), uint64_t(m), uint64_t(n), m * n};

  const uint64_t mk = uint64_t(batch * m * k), kn = uint64_t(batch * k * n),
                 mn = uint64_t(batch * m * n);
  auto args = [&](std::initializer_list<uint64_t> elems) {
    plan.numArgs = 0;
    for (uint64_t e : elems)
      plan.argElements[plan.numArgs++] = e;
  };
  plan.argB = 0; // the step's A
  plan.argA = 1; // the step's B
  switch (step.epilogue) {
  case Epilogue::none:
  case Epilogue::relu:
  case Epilogue::gelu:
    plan.epilogue = step.epilogue == Epilogue::none   ? LtEpilogue::none
                    : step.epilogue == Epilogue::relu ? LtEpilogue::relu
                                                      : LtEpilogue::gelu;
    plan.argD = 2;
    args({mk, kn, mn});
    break;
  case Epilogue::bias:
  case Epilogue::bias_relu:
  case Epilogue::bias_gelu:
    plan.epilogue = step.epilogue == Epilogue::bias        ? LtEpilogue::bias
                    : step.epilogue == Epilogue::bias_relu ? LtEpilogue::relu_bias
                                                           : LtEpilogue::gelu_bias;
    plan.argBias = 2;
    plan.argD = 3;
    args({mk, kn, uint64_t(n), mn});
    break;
  case Epilogue::dgelu:
    plan.epilogue = LtEpilogue::dgelu;
    plan.argAux = 2;
    plan.argD = 3;
    plan.auxLd = uint64_t(n);
    args({mk, kn, mn, mn});
    break;
  case Epilogue::dgelu_bgrad:
    plan.epilogue = LtEpilogue::dgelu_bgrad;
    plan.argAux = 2;
    plan.argD = 3;
    plan.argBias = 4;
    plan.auxLd = uint64_t(n);
    args({mk, kn, mn, mn, uint64_t(n)});
    break;
  case Epilogue::bgradb:
    // Column sums of the step's B = cuBLASLt's BGRADA (operands swapped).
    plan.epilogue = LtEpilogue::bgrada;
    plan.argD = 2;
    plan.argBias = 3;
    args({mk, kn, mn, uint64_t(n)});
    break;
  case Epilogue::drelu:
  case Epilogue::drelu_bgrad:
    // Not fusable (the file comment of MatmulPlan.h): cuBLASLt computes
    // the plain product, the device applies the rest.
    plan.epilogue = LtEpilogue::none;
    plan.fusable = false;
    plan.argAux = 2;
    plan.argD = 3;
    plan.auxLd = uint64_t(n);
    if (step.epilogue == Epilogue::drelu) {
      args({mk, kn, mn, mn});
    } else {
      plan.argBias = 4;
      args({mk, kn, mn, mn, uint64_t(n)});
    }
    break;
  default:
    return fail("unknown epilogue " + std::to_string(int(step.epilogue)));
  }
  if (step.args.size() != size_t(plan.numArgs))
    return fail("expected " + std::to_string(plan.numArgs) + " args, got " +
                std::to_string(step.args.size()));
  return Status::ok();
}

} // namespace kiln::rt::cuda
