//===- Program.cpp - Names and sizes of the in-memory artifact ------------===//
//
// The small total functions declared in kiln/Program.h. Every switch covers
// every enumerator; an out-of-range value (only possible from a corrupt
// artifact, which the loader rejects first) prints as "?".
//
//===----------------------------------------------------------------------===//
#include "kiln/Program.h"

namespace kiln::rt {

uint32_t dtypeBytes(DType t) {
  switch (t) {
  case DType::f64:
  case DType::i64:
    return 8;
  case DType::f32:
  case DType::i32:
    return 4;
  case DType::f16:
  case DType::bf16:
    return 2;
  case DType::i1:
    return 1;
  }
  return 0;
}

const char *dtypeName(DType t) {
  switch (t) {
  case DType::f32: return "f32";
  case DType::f64: return "f64";
  case DType::f16: return "f16";
  case DType::bf16: return "bf16";
  case DType::i32: return "i32";
  case DType::i64: return "i64";
  case DType::i1: return "i1";
  }
  return "?";
}

const char *regionName(Region r) {
  switch (r) {
  case Region::persistent: return "persistent";
  case Region::input: return "input";
  case Region::arena: return "arena";
  }
  return "?";
}

const char *roleName(TensorRole r) {
  switch (r) {
  case TensorRole::param: return "param";
  case TensorRole::optimizer_state: return "optimizer_state";
  case TensorRole::buffer: return "buffer";
  case TensorRole::step: return "step";
  case TensorRole::input: return "input";
  case TensorRole::output: return "output";
  case TensorRole::temporary: return "temporary";
  }
  return "?";
}

const char *libraryOpName(LibraryOp op) {
  switch (op) {
  case LibraryOp::matmul: return "matmul";
  case LibraryOp::conv2d: return "conv2d";
  case LibraryOp::conv2d_grad_input: return "conv2d_grad_input";
  case LibraryOp::conv2d_grad_filter: return "conv2d_grad_filter";
  case LibraryOp::pool2d: return "pool2d";
  case LibraryOp::pool2d_grad: return "pool2d_grad";
  }
  return "?";
}

const char *epilogueName(Epilogue e) {
  switch (e) {
  case Epilogue::none: return "none";
  case Epilogue::bias: return "bias";
  case Epilogue::relu: return "relu";
  case Epilogue::bias_relu: return "bias_relu";
  case Epilogue::gelu: return "gelu";
  case Epilogue::bias_gelu: return "bias_gelu";
  case Epilogue::drelu: return "drelu";
  case Epilogue::drelu_bgrad: return "drelu_bgrad";
  case Epilogue::bgradb: return "bgradb";
  case Epilogue::dgelu: return "dgelu";
  case Epilogue::dgelu_bgrad: return "dgelu_bgrad";
  }
  return "?";
}

int64_t TensorDesc::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

const FunctionDesc *Program::function(const std::string &name) const {
  for (const FunctionDesc &f : functions)
    if (f.name == name)
      return &f;
  return nullptr;
}

uint64_t Program::arenaBytes() const {
  uint64_t m = 0;
  for (const FunctionDesc &f : functions)
    m = f.arenaBytes > m ? f.arenaBytes : m;
  return m;
}

} // namespace kiln::rt
