//===- Checkpoint.cpp - kiln train checkpoints ----------------------------===//
#include "tools/kiln/Checkpoint.h"

#include "ir/Dialect.h"
#include "kiln/SafeTensors.h"
#include "tools/kiln/ToolSupport.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Format.h"

using namespace mlir;

namespace kiln::tool {
namespace {

namespace st = kiln::safetensors;

constexpr const char *kDigestKey = "kiln.digest";

bool isState(ArgRole role) {
  return role == ArgRole::param || role == ArgRole::buffer || role == ArgRole::opt_state;
}

st::DType safetensorsType(ref::ElemType t) {
  switch (t) {
  case ref::ElemType::F16: return st::DType::F16;
  case ref::ElemType::BF16: return st::DType::BF16;
  case ref::ElemType::F32: return st::DType::F32;
  case ref::ElemType::F64: return st::DType::F64;
  case ref::ElemType::I1: return st::DType::Bool;
  case ref::ElemType::I32: return st::DType::I32;
  case ref::ElemType::I64: return st::DType::I64;
  }
  return st::DType::F32;
}

/// The dtype a state argument is stored in: its own, or F64 for floats of
/// an f64 run (whose values are not rounded to the declared type).
ref::ElemType storedType(ref::ElemType declared, llvm::StringRef precision) {
  return precision == "f64" && ref::isFloatType(declared) ? ref::ElemType::F64 : declared;
}

std::string fnv1a64(llvm::StringRef text) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  std::string hex;
  llvm::raw_string_ostream(hex) << llvm::format_hex_no_prefix(h, 16);
  return hex;
}

/// The first difference between two signature texts, by argument name.
std::string signatureDifference(llvm::StringRef saved, llvm::StringRef current) {
  auto parse = [](llvm::StringRef text, std::vector<std::string> &order) {
    llvm::StringMap<std::string> byName;
    llvm::SmallVector<llvm::StringRef> lines;
    text.split(lines, '\n', -1, false);
    for (llvm::StringRef line : lines) {
      auto [name, rest] = line.split(' ');
      order.push_back(name.str());
      byName[name] = rest.str();
    }
    return byName;
  };
  std::vector<std::string> savedOrder, currentOrder;
  llvm::StringMap<std::string> s = parse(saved, savedOrder), c = parse(current, currentOrder);
  for (const std::string &name : currentOrder) {
    auto it = s.find(name);
    if (it == s.end())
      return "the model has argument '" + name + "' (" + c[name] +
             "), which the checkpoint lacks";
    if (it->second != c[name])
      return "argument '" + name + "' is `" + c[name] + "` in the model but `" + it->second +
             "` in the checkpoint" +
             (llvm::StringRef(it->second).starts_with("input ") ? " (another --batch-size?)"
                                                                 : "");
  }
  for (const std::string &name : savedOrder)
    if (!c.count(name))
      return "the checkpoint has argument '" + name + "' (" + s[name] +
             "), which the model lacks";
  if (savedOrder != currentOrder)
    return "the arguments are in another order";
  return "";
}

} // namespace

std::string signatureText(func::FuncOp step) {
  std::string text;
  for (unsigned i = 0; i < step.getNumArguments(); ++i)
    text += argName(step, i) + " " + stringifyArgRole(roleOf(step, i)).str() + " " +
            mlirString(step.getArgumentTypes()[i]) + "\n";
  return text;
}

llvm::Error writeCheckpoint(const std::string &path, func::FuncOp step,
                            llvm::ArrayRef<ref::Tensor> args, const CheckpointInfo &info) {
  st::File file;
  for (unsigned i = 0; i < step.getNumArguments(); ++i) {
    if (!isState(roleOf(step, i)))
      continue;
    const ref::Tensor &value = args[i];
    ref::ElemType type = storedType(value.type(), info.precision);
    ref::Tensor stored =
        type == value.type() ? value : ref::Tensor::fromDoubles(type, value.shape(), value.floats());
    st::Tensor t;
    t.name = argName(step, i);
    t.dtype = safetensorsType(type);
    t.shape = value.shape();
    t.data.resize(stored.numElements() * ref::byteWidth(type));
    stored.toRaw(t.data.data());
    file.tensors.push_back(std::move(t));
  }
  std::string signature = signatureText(step);
  file.metadata = {
      {"kiln.format", "1"},
      {"kiln.model", info.model},
      {"kiln.signature", fnv1a64(signature)},
      {"kiln.arguments", signature},
      {"kiln.step", std::to_string(info.step)},
      {"kiln.epoch", std::to_string(info.epoch)},
      {"kiln.batch_in_epoch", std::to_string(info.batchInEpoch)},
      {"kiln.seed", std::to_string(info.seed)},
      {"kiln.precision", info.precision},
      {"kiln.optimizer", info.optimizer},
      {"kiln.run_steps", std::to_string(info.runSteps)},
      {"kiln.samples", std::to_string(info.samples)},
  };
  file.metadata[kDigestKey] = st::contentDigest(file, kDigestKey);
  std::string error;
  if (!st::writeFile(path, file, error))
    return llvm::createStringError("cannot write the checkpoint: %s", error.c_str());
  return llvm::Error::success();
}

llvm::Expected<CheckpointInfo> readCheckpoint(const std::string &path, func::FuncOp step,
                                              llvm::StringRef model,
                                              llvm::StringRef precision,
                                              std::vector<ref::Tensor> &args) {
  auto fail = [&](const llvm::Twine &message) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "checkpoint " + path + ": " + message);
  };
  st::File file;
  std::string error;
  if (!st::readFile(path, file, error))
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "checkpoint " + error);
  auto field = [&](const char *key) -> llvm::Expected<std::string> {
    auto it = file.metadata.find(key);
    if (it == file.metadata.end())
      return fail("the metadata lacks '" + llvm::Twine(key) + "' (not a kiln checkpoint?)");
    return it->second;
  };
  auto number = [&](const char *key) -> llvm::Expected<int64_t> {
    auto text = field(key);
    if (!text)
      return text.takeError();
    int64_t v;
    if (llvm::StringRef(*text).getAsInteger(10, v) || (v < 0 && llvm::StringRef(key) != "kiln.seed"))
      return fail("metadata '" + llvm::Twine(key) + "' is '" + *text +
                  "', expected a non-negative integer");
    return v;
  };

  auto format = field("kiln.format");
  if (!format)
    return format.takeError();
  if (*format != "1")
    return fail("kiln.format is '" + *format + "'; this kiln reads format 1");
  auto digest = field(kDigestKey);
  if (!digest)
    return digest.takeError();
  std::string actual = st::contentDigest(file, kDigestKey);
  if (*digest != actual)
    return fail("the content does not match its digest (kiln.digest " + *digest +
                ", content " + actual + "): the file is corrupt");

  CheckpointInfo info;
  auto savedModel = field("kiln.model");
  if (!savedModel)
    return savedModel.takeError();
  info.model = *savedModel;
  if (info.model != model)
    return fail("it is a checkpoint of model '" + info.model + "', not of '" + model + "'");
  auto signature = field("kiln.signature");
  auto arguments = field("kiln.arguments");
  if (!signature)
    return signature.takeError();
  if (!arguments)
    return arguments.takeError();
  std::string current = signatureText(step);
  if (*signature != fnv1a64(current)) {
    std::string diff = signatureDifference(*arguments, current);
    return fail("the training step of model '" + model + "' differs from the checkpoint's (" +
                (diff.empty() ? std::string("signature ") + *signature + " vs " + fnv1a64(current)
                              : diff) +
                ")");
  }
  auto savedPrecision = field("kiln.precision");
  if (!savedPrecision)
    return savedPrecision.takeError();
  info.precision = *savedPrecision;
  if (info.precision != precision)
    return fail("it was written by a --precision " + info.precision + " run, this run is "
                "--precision " + precision + " (resume with the same precision)");
  auto optimizer = field("kiln.optimizer");
  if (!optimizer)
    return optimizer.takeError();
  info.optimizer = *optimizer;
  struct {
    const char *key;
    int64_t *out;
  } numbers[] = {{"kiln.step", &info.step},           {"kiln.epoch", &info.epoch},
                 {"kiln.batch_in_epoch", &info.batchInEpoch}, {"kiln.seed", &info.seed},
                 {"kiln.run_steps", &info.runSteps},  {"kiln.samples", &info.samples}};
  for (auto &n : numbers) {
    auto v = number(n.key);
    if (!v)
      return v.takeError();
    *n.out = *v;
  }
  // Every step advances the batch, every epoch needs a step (the numbers are
  // non-negative already): a position outside these bounds was not written
  // by `kiln train`, and would overflow the driver's counters.
  if (info.step > (int64_t(1) << 53) || info.epoch > info.step ||
      info.batchInEpoch > info.step)
    return fail("its position is inconsistent: kiln.step = " + std::to_string(info.step) +
                ", kiln.epoch = " + std::to_string(info.epoch) +
                ", kiln.batch_in_epoch = " + std::to_string(info.batchInEpoch) +
                " (expected epoch <= step, batch_in_epoch <= step, step <= 2^53)");

  // The state: every param, buffer and opt_state argument, nothing else.
  llvm::StringMap<unsigned> wanted;
  for (unsigned i = 0; i < step.getNumArguments(); ++i)
    if (isState(roleOf(step, i)))
      wanted[argName(step, i)] = i;
  for (const st::Tensor &t : file.tensors)
    if (!wanted.count(t.name))
      return fail("tensor '" + t.name + "' is not a parameter, buffer or optimizer state of '" +
                  model + "'");
  std::vector<std::pair<unsigned, ref::Tensor>> loaded;
  for (unsigned i = 0; i < step.getNumArguments(); ++i) {
    if (!isState(roleOf(step, i)))
      continue;
    std::string name = argName(step, i);
    ref::ElemType declared = elemTypeOfArg(step.getArgumentTypes()[i]);
    std::vector<int64_t> shape = shapeOfArg(step.getArgumentTypes()[i]);
    ref::ElemType type = storedType(declared, precision);
    const st::Tensor *t = file.find(name);
    std::string want = std::string(st::dtypeName(safetensorsType(type))) + ref::shapeToString(shape);
    if (!t)
      return fail("tensor '" + name + "' (" + want + ") is missing");
    if (t->dtype != safetensorsType(type) || t->shape != shape)
      return fail("tensor '" + name + "' is " + t->describe() + ", expected " + want);
    ref::Tensor value = ref::Tensor::fromRaw(type, shape, t->data.data());
    if (type != declared) {
      ref::Tensor exact(declared, shape); // f64 values of a narrower type
      exact.floats() = value.floats();
      value = std::move(exact);
    }
    loaded.emplace_back(i, std::move(value));
  }
  // Only a checkpoint that passed every check replaces anything.
  for (auto &[i, value] : loaded)
    args[i] = std::move(value);
  return info;
}

} // namespace kiln::tool
