//===- TrainArtifact.cpp - kiln train MODEL.kart --------------------------===//
//
// Training from the artifact alone (no model file, no MLIR): the
// parameters start from the artifact's initial persistent bytes and stay on
// the device; each step binds @train_step's inputs (DIR/NAME.npy, one per
// input, axis 0 = samples, the input's dtype) and runs its steps, whose
// last one increments the step counter. Epochs shuffle the samples with
// the same order as `kiln train MODEL.kiln` (shuffledOrder); full batches
// only. With --eval-data, @eval after each epoch: the mean loss and, where
// @eval returns an integer output of the same shape as an integer input
// (predictions and labels, as the examples name them), the accuracy.
// --steps/--epochs as for .kiln models. Differences from training a .kiln:
// no checkpoints or --resume (the runtime's C API saves those).
//
//===----------------------------------------------------------------------===//
#include "tools/kiln/Commands.h"
#include "tools/kiln/Data.h"
#include "tools/kiln/DeviceRun.h"

#include "kiln/Artifact.h"
#include "kiln/Npy.h"

#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace kiln::tool {
namespace {

npy::DType npyOf(rt::DType t) {
  switch (t) {
  case rt::DType::f64: return npy::DType::F64;
  case rt::DType::f16: return npy::DType::F16;
  case rt::DType::i32: return npy::DType::I32;
  case rt::DType::i64: return npy::DType::I64;
  case rt::DType::i1: return npy::DType::Bool;
  default: return npy::DType::F32;
  }
}

/// The inputs of `fd` read from DIR/NAME.npy and checked against it.
struct Data {
  std::vector<npy::Array> arrays; ///< per input arg of fd (same order)
  std::vector<uint32_t> args;     ///< tensor index of each input
  int64_t samples = -1;
};

bool loadData(const rt::FunctionDesc &fd, const std::string &dir, const char *flag, Data &d) {
  for (uint32_t a : fd.args) {
    const rt::TensorDesc &t = fd.tensors[a];
    if (t.role != rt::TensorRole::input)
      continue;
    std::string path = dir + "/" + t.name + ".npy", error;
    npy::Array arr;
    if (!npy::readFile(path, arr, error))
      return fail(std::string(flag) + ": " + error), false;
    std::vector<int64_t> sample(t.shape.begin() + (t.shape.empty() ? 0 : 1), t.shape.end());
    std::vector<int64_t> got(arr.shape.begin() + (arr.shape.empty() ? 0 : 1), arr.shape.end());
    if (arr.dtype != npyOf(t.dtype) || t.shape.empty() || arr.shape.empty() || got != sample)
      return fail(std::string(flag) + ": " + path + " holds " + arr.describe() + ", but input '" + t.name +
                  "' needs " + rt::dtypeName(t.dtype) + " samples of the model's per-sample shape"),
             false;
    if (d.samples >= 0 && arr.shape[0] != d.samples)
      return fail(std::string(flag) + ": " + path + " has " + std::to_string(arr.shape[0]) +
                  " samples, the other inputs " + std::to_string(d.samples)),
             false;
    d.samples = arr.shape[0];
    d.arrays.push_back(std::move(arr));
    d.args.push_back(a);
  }
  return true;
}

ref::Tensor gather(const npy::Array &arr, const rt::TensorDesc &t, llvm::ArrayRef<int64_t> idx) {
  const int64_t batch = t.shape[0];
  const size_t sampleBytes = arr.data.size() / static_cast<size_t>(arr.shape[0]);
  std::vector<uint8_t> bytes(sampleBytes * static_cast<size_t>(batch));
  for (int64_t j = 0; j < batch; ++j)
    std::memcpy(bytes.data() + j * sampleBytes, arr.data.data() + idx[j] * sampleBytes, sampleBytes);
  return ref::Tensor::fromRaw(toElemType(t.dtype), t.shape, bytes.data());
}

/// The batch of every input of `d` (as tensors of `fd`) made of samples `idx`.
std::vector<std::pair<uint32_t, ref::Tensor>> batchOf(const Data &d, const rt::FunctionDesc &fd,
                                                      llvm::ArrayRef<int64_t> idx) {
  std::vector<std::pair<uint32_t, ref::Tensor>> inputs;
  for (size_t i = 0; i < d.args.size(); ++i)
    inputs.emplace_back(d.args[i], gather(d.arrays[i], fd.tensors[d.args[i]], idx));
  return inputs;
}

} // namespace

int runTrainArtifact(const Options &opts) {
  rt::Program p;
  if (rt::Status s = rt::loadArtifactFile(opts.model, p); !s.isOk())
    return fail(opts.model + ": " + s.message());
  const rt::FunctionDesc *step = p.function("train_step"), *eval = p.function("eval");
  if (!step)
    return fail(opts.model + " has no @train_step");
  if (!opts.checkpointDir.empty() || opts.resume)
    return fail("--checkpoint/--resume: training from a .kart keeps its parameters on the device; save "
                "checkpoints through the runtime's C API (kiln_save_checkpoint), or train the .kiln model");
  Data train, test;
  if (!loadData(*step, opts.dataDir, "--data", train))
    return 1;
  if (!opts.evalDataDir.empty() && (!eval || !loadData(*eval, opts.evalDataDir, "--eval-data", test)))
    return eval ? 1 : fail(opts.model + " has no @eval for --eval-data");
  const int64_t batch = step->tensors[train.args.at(0)].shape[0];
  const int64_t perEpoch = train.samples / batch;
  if (perEpoch == 0)
    return fail("--data: " + std::to_string(train.samples) + " samples make no full batch of " +
                std::to_string(batch));
  const int64_t total = opts.steps ? (opts.epochs ? std::min(opts.steps, opts.epochs * perEpoch) : opts.steps)
                                   : (opts.epochs ? opts.epochs : 1) * perEpoch;
  DeviceRunOptions o;
  o.device = opts.device == "reference" ? "auto" : opts.device;
  auto runner = DeviceRunner::create(p, o);
  if (!runner)
    return reportError(runner.takeError());
  DeviceRunner &dev = **runner;
  if (!dev.note().empty())
    llvm::outs() << "device: " << dev.note() << "\n";
  if (llvm::Error e = dev.uploadInitialState())
    return reportError(std::move(e));
  llvm::outs() << "training " << p.model << " from " << opts.model << " on " << train.samples << " samples ("
               << perEpoch << " batches of " << batch << " per epoch): " << total << " steps, device "
               << dev.deviceName() << "\n";

  // Accuracy: an integer result of @eval shaped like an integer input.
  int accOut = -1, accIn = -1;
  if (eval && !opts.evalDataDir.empty())
    for (size_t r = 0; r < eval->results.size() && accOut < 0; ++r)
      for (size_t i = 0; i < test.args.size(); ++i) {
        const rt::TensorDesc &out = eval->tensors[eval->results[r]], &in = eval->tensors[test.args[i]];
        if (out.dtype == rt::DType::i64 && in.dtype == rt::DType::i64 && out.shape == in.shape) {
          accOut = static_cast<int>(r);
          accIn = static_cast<int>(i);
          break;
        }
      }
  auto t0 = std::chrono::steady_clock::now();
  std::vector<int64_t> order;
  double lossSum = 0;
  for (int64_t s = 0; s < total; ++s) {
    const int64_t epoch = s / perEpoch, b = s % perEpoch;
    if (b == 0) {
      order = shuffledOrder(train.samples, opts.seed, epoch);
      lossSum = 0;
    }
    llvm::ArrayRef<int64_t> idx(order.data() + b * batch, static_cast<size_t>(batch));
    auto results = dev.runWithInputs("train_step", batchOf(train, *step, idx));
    if (!results)
      return reportError(results.takeError());
    const double loss = (*results)[0].getDouble(0);
    if (!std::isfinite(loss))
      return fail("the loss is not finite at step " + std::to_string(s) + ": training diverged");
    lossSum += loss;
    if (b + 1 != perEpoch && s + 1 != total)
      continue;
    std::string line = "epoch " + std::to_string(epoch + 1) + ": loss " + std::to_string(lossSum / (b + 1));
    if (eval && !opts.evalDataDir.empty()) {
      const int64_t eb = eval->tensors[test.args.at(0)].shape[0];
      double el = 0;
      int64_t correct = 0, counted = 0, batches = 0;
      std::vector<int64_t> eidx(static_cast<size_t>(eb));
      for (int64_t begin = 0; begin + eb <= test.samples; begin += eb, ++batches) {
        for (int64_t j = 0; j < eb; ++j)
          eidx[j] = begin + j;
        auto in = batchOf(test, *eval, eidx);
        auto r = dev.runWithInputs("eval", in);
        if (!r)
          return reportError(r.takeError());
        el += (*r)[0].getDouble(0);
        if (accOut >= 0) {
          const ref::Tensor &pred = (*r)[accOut], &lab = in[accIn].second;
          for (int64_t j = 0; j < pred.numElements(); ++j, ++counted)
            correct += pred.ints()[j] == lab.ints()[j];
        }
      }
      if (batches) {
        line += ", eval loss " + std::to_string(el / batches);
        if (accOut >= 0 && counted)
          line += ", eval accuracy " + std::to_string(100.0 * correct / counted).substr(0, 5) + "% (" +
                  std::to_string(counted) + " samples in full batches)";
      }
    }
    llvm::outs() << line << "\n";
  }
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.2f", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  llvm::outs() << "trained " << total << " steps in " << secs << " s\n";
  return 0;
}

} // namespace kiln::tool
