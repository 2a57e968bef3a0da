//===- Train.cpp - kiln train ---------------------------------------------===//
//
// The training driver: everything it knows about the model comes from the
// IR contract of docs/training.md, nothing from the optimizer or the model.
//
// 1. Check the model (loss, train clause), read and check --data and
//    --eval-data, --resume's checkpoint and the output paths: nothing is
//    written before all of it passed.
// 2. Build @train_step and @eval: verify-model, autodiff, optimizer (with
//    the run length for a cosine schedule that leaves total_steps open),
//    eval-function, canonicalize, CSE.
// 3. Parameters from --seed (the initializers `kiln run` uses), optimizer
//    state zeros, or everything from the checkpoint.
// 4. Per epoch a shuffled order (a pure function of seed and epoch); full
//    batches only. Per step: slice the inputs, run @train_step with the
//    number of completed steps, replace every argument that a `kiln.updates`
//    result names.
// 5. At each epoch end: @eval over --eval-data (the last batch padded by
//    repeating its samples; padded predictions ignored), then the
//    checkpoint. At the end of the run: the same if not just done, and the
//    metrics file.
//
//===----------------------------------------------------------------------===//
#include "tools/kiln/Checkpoint.h"
#include "tools/kiln/Commands.h"
#include "tools/kiln/Data.h"
#include "tools/kiln/DeviceRun.h"

#include "ir/Reference.h"
#include "passes/Passes.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/CheckedArithmetic.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cmath>
#include <optional>

using namespace mlir;

namespace kiln::tool {
namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

/// printf of one number.
std::string fmt(const char *format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, v);
  return buf;
}

std::string formatDuration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0)
    return "?";
  int64_t s = static_cast<int64_t>(seconds + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof(buf), "%lld:%02lld:%02lld", (long long)(s / 3600),
                  (long long)(s / 60 % 60), (long long)(s % 60));
  else
    std::snprintf(buf, sizeof(buf), "%lld:%02lld", (long long)(s / 60), (long long)(s % 60));
  return buf;
}

/// What a model's evaluation compares for accuracy: the integer input that
/// feeds the loss's cross_entropy labels, and the first float output of
/// shape labels + [classes].
struct AccuracyPair {
  std::string labels;  ///< the input's kiln.name
  unsigned output = 0; ///< result index in @eval
  std::string outputName;
};

/// Follows the IR from @forward's loss to its cross_entropy; `why` says
/// what is missing when there is no pair.
std::optional<AccuracyPair> findAccuracyPair(func::FuncOp forward, func::FuncOp eval,
                                             std::string &why) {
  auto ret = forward.getBody().front().getTerminator();
  std::optional<unsigned> lossIndex;
  for (unsigned i = 0; i < forward.getNumResults(); ++i)
    if (forward.getResultAttr(i, "kiln.loss"))
      lossIndex = i;
  // Breadth first from the loss: the nearest cross_entropy.
  CrossEntropyOp ce;
  llvm::SmallVector<Value> work = {ret->getOperand(*lossIndex)};
  llvm::SmallPtrSet<Operation *, 32> seen;
  for (size_t k = 0; k < work.size() && !ce; ++k) {
    Operation *def = work[k].getDefiningOp();
    if (!def || !seen.insert(def).second)
      continue;
    ce = dyn_cast<CrossEntropyOp>(def);
    llvm::append_range(work, def->getOperands());
  }
  if (!ce) {
    why = "the loss is not computed by cross_entropy, so there are no class labels";
    return std::nullopt;
  }
  // Labels may be reshaped on the way (a sequence model flattens them); a
  // reshape keeps the row-major order, so label i still belongs to the
  // output's position i. Anything else (a transpose, a slice) would pair
  // labels with the wrong predictions.
  Value labels = ce.getLabels();
  while (Operation *def = labels.getDefiningOp()) {
    if (!isa<ReshapeOp>(def)) {
      why = "the labels of the loss's cross_entropy are computed by '" +
            def->getName().getStringRef().str() +
            "', not read from an input (or only reshaped)";
      return std::nullopt;
    }
    labels = def->getOperand(0);
  }
  auto arg = cast<BlockArgument>(labels);
  AccuracyPair pair;
  pair.labels = argName(forward, arg.getArgNumber());
  // Only inputs come from --eval-data; a buffer or constant label is no pair.
  if (ArgRole role = roleOf(forward, arg.getArgNumber()); role != ArgRole::input) {
    why = "the labels of the loss's cross_entropy are the " + stringifyArgRole(role).str() +
          " '" + pair.labels + "', not an input read from --eval-data";
    return std::nullopt;
  }
  auto labelType = cast<RankedTensorType>(arg.getType());
  for (unsigned i = 0; i < eval.getNumResults(); ++i) {
    auto t = dyn_cast<RankedTensorType>(eval.getResultTypes()[i]);
    if (eval.getResultAttr(i, "kiln.loss") || !t || !isa<FloatType>(t.getElementType()) ||
        t.getRank() != labelType.getRank() + 1 ||
        t.getShape().drop_back() != labelType.getShape())
      continue;
    pair.output = i;
    pair.outputName = resultName(eval, i);
    return pair;
  }
  std::vector<int64_t> shape(labelType.getShape().begin(), labelType.getShape().end());
  std::string want = ref::shapeToString(shape);
  want.insert(want.size() - 1, std::string(shape.empty() ? "" : ", ") + "classes");
  why = "no float output of shape " + want + " to compare with the labels '" + pair.labels +
        "' " + ref::shapeToString(shape) + " (add e.g. `output logits` to the model)";
  return std::nullopt;
}

/// The one-line progress display on stderr: redrawn in place on a
/// terminal, otherwise a plain line every ~2 seconds.
class Progress {
public:
  Progress() : tty_(llvm::sys::Process::StandardErrIsDisplayed()) {}

  /// `done` in [0, 1] draws the bar on a terminal.
  void update(double done, const llvm::Twine &text) {
    double now = secondsSince(start_);
    if (tty_) {
      if (now - last_ < 0.1)
        return;
      constexpr int kWidth = 24;
      int filled = static_cast<int>(done * kWidth);
      std::string bar(kWidth, ' ');
      for (int i = 0; i < filled && i < kWidth; ++i)
        bar[i] = '=';
      if (filled < kWidth)
        bar[filled] = '>';
      llvm::errs() << "\r[" << bar << "] " << text << "\x1b[K";
      drawn_ = true;
    } else {
      if (now - last_ < 2.0)
        return;
      llvm::errs() << text << "\n";
    }
    llvm::errs().flush();
    last_ = now;
  }
  /// Before a line on stdout: wipe the redrawn line.
  void clear() {
    if (drawn_) {
      llvm::errs() << "\r\x1b[K";
      llvm::errs().flush();
      drawn_ = false;
    }
  }

private:
  bool tty_;
  bool drawn_ = false;
  Clock::time_point start_ = Clock::now();
  double last_ = 0;
};

struct EvalResult {
  double loss = 0;
  std::optional<double> accuracy;
};

/// Per epoch of this run, for the metrics file.
struct EpochRecord {
  int64_t epoch = 0; ///< 1-based
  int64_t step = 0;  ///< steps completed at its end
  bool complete = true;
  double trainLoss = 0;
  std::optional<EvalResult> eval;
  double seconds = 0;
};

/// What `run` reports at the end.
struct RunSummary {
  double seconds = 0;      ///< the whole run
  double trainSeconds = 0; ///< in @train_step only
  int64_t stepsThisRun = 0;
  std::optional<double> finalLoss; ///< mean training loss of the last epoch run
  std::optional<EvalResult> lastEval;
  std::vector<EpochRecord> history;
};

class Trainer {
public:
  Trainer(const Options &opts, ModuleOp module) : opts(opts), module(module) {}
  int run();

private:
  int prepare();
  llvm::Expected<EvalResult> evaluate();
  bool saveCheckpoint();
  bool writeMetrics(const RunSummary &summary);
  /// @fn on the reference interpreter, or on the device (--device).
  llvm::Expected<std::vector<ref::Tensor>> call(func::FuncOp fn, llvm::ArrayRef<ref::Tensor> a) {
    if (device)
      return device->run(fn.getSymName(), a);
    return ref::runFunction(fn, a, runOptions);
  }
  void say(const llvm::Twine &line) {
    progress.clear();
    llvm::outs() << line << "\n";
    llvm::outs().flush();
  }

  const Options &opts;
  ModuleOp module;
  std::string modelName;
  func::FuncOp forward, step, eval;
  std::optional<Dataset> train, test;
  ref::RunOptions runOptions;
  int64_t batch = 0, batchesPerEpoch = 0, totalSteps = 0, runSteps = 0;
  std::string checkpointPath, optimizerText;
  bool resumed = false;
  // @train_step: arguments, dataset input k -> argument, step argument,
  // loss result, (result, argument) of every kiln.updates.
  std::vector<ref::Tensor> args;
  std::vector<unsigned> trainInputArgs;
  unsigned stepArg = 0, lossResult = 0;
  std::vector<std::pair<unsigned, unsigned>> updates;
  // @eval: per argument, the dataset input (inputs) or @train_step argument.
  std::vector<std::pair<bool, unsigned>> evalArgSource;
  unsigned evalLoss = 0;
  std::optional<AccuracyPair> accuracy;
  std::string noAccuracyReason;
  size_t accuracyLabelInput = 0;
  CheckpointInfo position;
  Progress progress;
  std::unique_ptr<DeviceRunner> device;
};

/// Step 1 and 2: checks, data, passes, initial state. Returns an exit code
/// > 0 on failure, 0 when ready.
int Trainer::prepare() {
  forward = module.lookupSymbol<func::FuncOp>("forward");
  if (!forward)
    return fail("'" + opts.model + "' has no func.func @forward to train");
  if (llvm::Error err = checkSignature(forward))
    return fail(opts.model + ": " + llvm::toString(std::move(err)));
  if (auto name = module->getAttrOfType<StringAttr>("kiln.model"))
    modelName = name.str();
  else
    modelName = llvm::sys::path::stem(opts.model).str();

  // The model must say what to minimize and how.
  std::optional<unsigned> lossIndex;
  for (unsigned i = 0; i < forward.getNumResults(); ++i)
    if (forward.getResultAttr(i, "kiln.loss"))
      lossIndex = i;
  if (!lossIndex)
    return fail("model '" + modelName + "' has no loss (a result marked kiln.loss): "
                "'kiln train' minimizes it; a .kiln model names it in its train "
                "clause (`train minimize loss with adam(lr = 1e-3)`)");
  auto lossType = cast<RankedTensorType>(forward.getResultTypes()[*lossIndex]);
  if (lossType.getRank() != 0 || !isa<FloatType>(lossType.getElementType()))
    return fail("the loss of model '" + modelName + "' has type " + mlirString(lossType) +
                ": training needs a scalar float loss (reduce it with mean or sum)");
  auto optimizer = forward->getAttrOfType<OptimizerAttr>("kiln.optimizer");
  if (!optimizer)
    return fail("model '" + modelName + "' has no train clause (no kiln.optimizer on "
                "@forward): say how to train it, e.g. `train minimize loss with "
                "adam(lr = 1e-3)`");
  llvm::raw_string_ostream(optimizerText) << optimizer;

  // Inputs share the leading batch dimension.
  for (unsigned i = 0; i < forward.getNumArguments(); ++i) {
    if (roleOf(forward, i) != ArgRole::input)
      continue;
    std::vector<int64_t> shape = shapeOfArg(forward.getArgumentTypes()[i]);
    if (shape.empty())
      return fail("input '" + argName(forward, i) + "' of model '" + modelName +
                  "' is a scalar: 'kiln train' slices every input along its first "
                  "(batch) dimension");
    if (batch == 0) {
      batch = shape[0];
    } else if (shape[0] != batch) {
      return fail("the inputs of model '" + modelName +
                  "' disagree on the batch size (their first dimension): '" +
                  argName(forward, i) + "' has " + std::to_string(shape[0]) + ", the inputs "
                  "before it " + std::to_string(batch));
    }
  }
  if (batch == 0)
    return fail("model '" + modelName + "' has no inputs: there is nothing to train on");
  // A .kiln model was compiled with --batch-size (kiln.cpp turns it into
  // --set batch=N); a .mlir model's shapes are fixed.
  if (opts.batchSize && opts.batchSize != batch)
    return fail("--batch-size " + llvm::Twine(opts.batchSize) +
                " does not match the batch dimension " + llvm::Twine(batch) + " of '" +
                opts.model + "'" +
                (llvm::StringRef(opts.model).ends_with(".mlir")
                     ? " (a .mlir model's shapes are fixed: use its batch size, or train "
                       "the .kiln model)"
                     : " (its inputs' first dimension is not the model argument `batch`)"));

  // The data, before anything runs or is written.
  auto data = Dataset::load(forward, opts.dataDir, "--data");
  if (!data)
    return fail(llvm::toString(data.takeError()));
  train.emplace(std::move(*data));
  if (!opts.evalDataDir.empty()) {
    auto evalData = Dataset::load(forward, opts.evalDataDir, "--eval-data");
    if (!evalData)
      return fail(llvm::toString(evalData.takeError()));
    test.emplace(std::move(*evalData));
  }
  batchesPerEpoch = train->numSamples() / batch;
  if (batchesPerEpoch == 0)
    return fail("--data holds " + llvm::Twine(train->numSamples()) +
                " samples, fewer than one batch of " + llvm::Twine(batch) +
                " (choose a smaller --batch-size)");
  if (train->numSamples() >= (int64_t(1) << 40))
    return fail("--data holds " + llvm::Twine(train->numSamples()) +
                " samples; the shuffle supports fewer than 2^40");

  // The length of the run: --epochs, --steps, or the earlier of the two.
  std::optional<int64_t> epochSteps =
      llvm::checkedMul(opts.epochs ? opts.epochs : 1, batchesPerEpoch);
  if (!epochSteps)
    return fail("--epochs " + llvm::Twine(opts.epochs) + " times " +
                llvm::Twine(batchesPerEpoch) + " batches overflows the step counter");
  totalSteps = opts.steps && !opts.epochs ? opts.steps
               : opts.steps               ? std::min(opts.steps, *epochSteps)
                                          : *epochSteps;
  OptimizerConfig config = optimizer.getConfig();
  runSteps = config.schedule == LrSchedule::cosine && config.totalSteps == 0 ? totalSteps : 0;

  // 2. The functions.
  PassManager pm(module.getContext());
  pm.addPass(createKilnVerifyModel());
  pm.addPass(createKilnAutodiff());
  pm.addPass(createKilnOptimizer(KilnOptimizerOptions{runSteps}));
  pm.addPass(createKilnEvalFunction());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  if (failed(pm.run(module)))
    return 1;
  step = module.lookupSymbol<func::FuncOp>("train_step");
  eval = module.lookupSymbol<func::FuncOp>("eval");
  for (func::FuncOp fn : {step, eval})
    if (llvm::Error err = checkSignature(fn))
      return fail("internal error: " + llvm::toString(std::move(err)));
  runOptions.precision = precisionOf(opts);
  for (func::FuncOp fn : {step, eval})
    if (llvm::Error err = ref::checkSizes(fn, runOptions))
      return reportError(std::move(err));
  // --device host/cuda/auto: the same functions, fused, planned and
  // compiled to CUDA kernels, run by the runtime.
  if (opts.device != "reference") {
    DeviceRunOptions o;
    o.device = opts.device;
    auto r = DeviceRunner::create(module, o);
    if (!r)
      return reportError(r.takeError());
    device = std::move(*r);
    if (!device->note().empty())
      say("device: " + device->note());
    say("compiled " + llvm::Twine(device->program().kernels.size()) + " CUDA kernels for the " +
        device->deviceName() + " device (prepared in " + fmt("%.2f", device->prepareSeconds()) + " s)");
  }

  // How the driver binds @train_step: inputs by name, the step counter,
  // the loss, and the arguments that results replace.
  llvm::StringMap<unsigned> stepArgByName;
  for (unsigned i = 0; i < step.getNumArguments(); ++i) {
    stepArgByName[argName(step, i)] = i;
    if (roleOf(step, i) == ArgRole::step)
      stepArg = i;
  }
  for (const InputData &in : train->inputs())
    trainInputArgs.push_back(stepArgByName.lookup(in.name));
  for (unsigned r = 0; r < step.getNumResults(); ++r) {
    if (step.getResultAttr(r, "kiln.loss"))
      lossResult = r;
    auto of = step.getResultAttrOfType<StringAttr>(r, "kiln.updates");
    if (!of)
      continue;
    auto it = stepArgByName.find(of.getValue());
    if (it == stepArgByName.end() ||
        step.getArgumentTypes()[it->second] != step.getResultTypes()[r])
      return fail("internal error: result '" + resultName(step, r) + "' of @train_step "
                  "updates '" + of.getValue() + "', which is not an argument of its type");
    updates.emplace_back(r, it->second);
  }
  for (unsigned i = 0; i < eval.getNumArguments(); ++i) {
    std::string name = argName(eval, i);
    if (roleOf(eval, i) == ArgRole::input) {
      size_t k = 0;
      while (train->inputs()[k].name != name)
        ++k;
      evalArgSource.emplace_back(true, k);
    } else {
      evalArgSource.emplace_back(false, stepArgByName.lookup(name));
    }
  }
  for (unsigned r = 0; r < eval.getNumResults(); ++r)
    if (eval.getResultAttr(r, "kiln.loss"))
      evalLoss = r;
  if (test) {
    std::string &why = noAccuracyReason;
    accuracy = findAccuracyPair(forward, eval, why);
    if (accuracy) {
      while (train->inputs()[accuracyLabelInput].name != accuracy->labels)
        ++accuracyLabelInput;
    } else {
      llvm::errs() << "kiln: note: no eval accuracy for model '" << modelName << "': " << why
                   << "; reporting the loss only\n";
    }
  }

  // 3. The initial state.
  auto initial = buildArguments(step, {}, opts.seed, opts.model);
  if (!initial)
    return fail(llvm::toString(initial.takeError()));
  args = std::move(*initial);
  position.model = modelName;
  position.precision = opts.precision;
  position.optimizer = optimizerText;
  position.seed = opts.seed;
  position.runSteps = runSteps;
  position.samples = train->numSamples();
  if (!opts.checkpointDir.empty()) {
    llvm::SmallString<256> path(opts.checkpointDir);
    llvm::sys::path::append(path, "checkpoint.safetensors");
    checkpointPath = path.str().str();
    bool exists = llvm::sys::fs::exists(checkpointPath);
    if (opts.resume) {
      if (!exists)
        return fail("--resume: " + checkpointPath +
                    " does not exist (nothing to resume; run without --resume to start "
                    "training)");
      auto saved = readCheckpoint(checkpointPath, step, modelName, opts.precision, args);
      if (!saved)
        return fail(llvm::toString(saved.takeError()));
      if (saved->seed != opts.seed)
        return fail("checkpoint " + checkpointPath + " was trained with --seed " +
                    llvm::Twine(saved->seed) + ", this run has --seed " +
                    llvm::Twine(opts.seed) + " (resume with the same seed: it orders the "
                    "samples)");
      if (saved->batchInEpoch >= batchesPerEpoch)
        return fail("checkpoint " + checkpointPath + " stopped after batch " +
                    llvm::Twine(saved->batchInEpoch) + " of epoch " +
                    llvm::Twine(saved->epoch + 1) + ", but an epoch of --data has only " +
                    llvm::Twine(batchesPerEpoch) + " batches (resume with the data and "
                    "batch size it was trained with)");
      if (saved->optimizer != optimizerText)
        llvm::errs() << "kiln: warning: the model's optimizer changed since the checkpoint: "
                     << saved->optimizer << " then, " << optimizerText << " now\n";
      if (saved->runSteps != runSteps)
        llvm::errs() << "kiln: warning: the cosine schedule spans " << runSteps
                     << " steps in this run, " << saved->runSteps
                     << " in the run that wrote the checkpoint; the learning rate follows "
                        "the new length\n";
      if (saved->samples != train->numSamples())
        llvm::errs() << "kiln: warning: the checkpoint was trained on " << saved->samples
                     << " samples per epoch, --data holds " << train->numSamples() << "\n";
      position.step = saved->step;
      position.epoch = saved->epoch;
      position.batchInEpoch = saved->batchInEpoch;
      resumed = true;
    } else if (exists) {
      return fail(checkpointPath + " already exists: pass --resume to continue from it, or "
                  "choose another --checkpoint directory");
    }
  }
  if (!opts.metricsFile.empty()) {
    llvm::StringRef parent = llvm::sys::path::parent_path(opts.metricsFile);
    if (!parent.empty() && !llvm::sys::fs::is_directory(parent))
      return fail("--metrics " + opts.metricsFile + ": the directory '" + parent +
                  "' does not exist");
    if (llvm::sys::fs::is_directory(opts.metricsFile))
      return fail("--metrics " + opts.metricsFile + " is a directory, expected a file name");
  }
  // The first write, after every check.
  if (!checkpointPath.empty())
    if (std::error_code ec = llvm::sys::fs::create_directories(opts.checkpointDir))
      return fail("cannot create the checkpoint directory '" + opts.checkpointDir +
                  "': " + ec.message());
  return 0;
}

/// Mean loss and accuracy of @eval over --eval-data with the current state.
llvm::Expected<EvalResult> Trainer::evaluate() {
  std::vector<ref::Tensor> evalArgs(eval.getNumArguments());
  for (unsigned i = 0; i < eval.getNumArguments(); ++i)
    if (!evalArgSource[i].first)
      evalArgs[i] = args[evalArgSource[i].second];
  int64_t n = test->numSamples();
  double lossSum = 0;
  int64_t correct = 0;
  std::vector<int64_t> indices(batch);
  for (int64_t begin = 0; begin < n; begin += batch) {
    int64_t real = std::min(batch, n - begin);
    // A partial batch repeats its own samples; only `real` rows count.
    for (int64_t j = 0; j < batch; ++j)
      indices[j] = begin + j % real;
    for (unsigned i = 0; i < eval.getNumArguments(); ++i)
      if (evalArgSource[i].first)
        evalArgs[i] = test->batch(evalArgSource[i].second, indices);
    auto results = call(eval, evalArgs);
    if (!results)
      return results.takeError();
    lossSum += (*results)[evalLoss].getDouble(0) * static_cast<double>(real);
    if (!accuracy)
      continue;
    const ref::Tensor &scores = (*results)[accuracy->output];
    ref::Tensor labels = test->batch(accuracyLabelInput, indices);
    int64_t classes = scores.shape().back();
    int64_t perSample = labels.numElements() / batch;
    for (int64_t j = 0; j < real * perSample; ++j) {
      // argmax over the last axis; the first of equal maxima, as kiln.argmax.
      int64_t best = 0;
      for (int64_t c = 1; c < classes; ++c)
        if (scores.getDouble(j * classes + c) > scores.getDouble(j * classes + best))
          best = c;
      correct += best == labels.getInt(j);
    }
  }
  EvalResult result;
  result.loss = lossSum / static_cast<double>(n);
  if (accuracy) {
    int64_t perSample = ref::numElementsOf(test->inputs()[accuracyLabelInput].sampleShape);
    result.accuracy = static_cast<double>(correct) / static_cast<double>(n * perSample);
  }
  return result;
}

bool Trainer::saveCheckpoint() {
  if (checkpointPath.empty())
    return true;
  if (llvm::Error err = writeCheckpoint(checkpointPath, step, args, position)) {
    progress.clear();
    fail(llvm::toString(std::move(err)));
    return false;
  }
  return true;
}

llvm::json::Value optionalNumber(std::optional<double> v) {
  return v ? llvm::json::Value(*v) : llvm::json::Value(nullptr);
}

std::string percent(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f%%", 100 * v);
  return buf;
}

/// "loss 0.1234, eval loss 0.2345, eval accuracy 95.12%".
std::string lossText(double trainLoss, const std::optional<EvalResult> &eval) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << "loss " << llvm::format("%.4f", trainLoss);
  if (eval) {
    os << ", eval loss " << llvm::format("%.4f", eval->loss);
    if (eval->accuracy)
      os << ", eval accuracy " << percent(*eval->accuracy);
  }
  return s;
}

bool Trainer::writeMetrics(const RunSummary &summary) {
  if (opts.metricsFile.empty())
    return true;
  llvm::json::Array history;
  for (const EpochRecord &r : summary.history) {
    llvm::json::Object o{{"epoch", r.epoch},
                         {"step", r.step},
                         {"complete", r.complete},
                         {"train_loss", r.trainLoss},
                         {"eval_loss", optionalNumber(r.eval ? std::optional<double>(r.eval->loss)
                                                             : std::nullopt)},
                         {"eval_accuracy", optionalNumber(r.eval ? r.eval->accuracy : std::nullopt)},
                         {"seconds", r.seconds}};
    history.push_back(std::move(o));
  }
  const std::optional<EvalResult> &last = summary.lastEval;
  llvm::json::Object metrics{
      {"model", modelName},
      {"final_loss", optionalNumber(summary.finalLoss)},
      {"eval_loss", optionalNumber(last ? std::optional<double>(last->loss) : std::nullopt)},
      {"eval_accuracy", optionalNumber(last ? last->accuracy : std::nullopt)},
      {"eval_samples", test ? llvm::json::Value(test->numSamples()) : llvm::json::Value(nullptr)},
      {"steps", position.step},
      {"steps_this_run", summary.stepsThisRun},
      {"epochs", static_cast<double>(position.epoch) +
                     static_cast<double>(position.batchInEpoch) / double(batchesPerEpoch)},
      {"batch_size", batch},
      {"batches_per_epoch", batchesPerEpoch},
      {"train_samples", train->numSamples()},
      {"samples_per_second", summary.trainSeconds > 0
                                 ? llvm::json::Value(double(summary.stepsThisRun * batch) /
                                                     summary.trainSeconds)
                                 : llvm::json::Value(nullptr)},
      {"seconds", summary.seconds},
      {"train_seconds", summary.trainSeconds},
      {"seed", opts.seed},
      {"precision", opts.precision},
      {"resumed", resumed},
      {"history", std::move(history)},
  };
  if (test && !accuracy)
    metrics["accuracy_note"] = "no eval accuracy: " + noAccuracyReason;
  std::error_code ec;
  llvm::raw_fd_ostream os(opts.metricsFile, ec);
  if (ec) {
    fail("--metrics: cannot write " + opts.metricsFile + ": " + ec.message());
    return false;
  }
  os << llvm::formatv("{0:2}", llvm::json::Value(std::move(metrics))) << "\n";
  os.close();
  if (os.has_error()) {
    fail("--metrics: cannot write " + opts.metricsFile + ": " + os.error().message());
    os.clear_error();
    return false;
  }
  return true;
}

int Trainer::run() {
  if (int code = prepare())
    return code;
  Clock::time_point start = Clock::now();
  RunSummary summary;
  // ceil(totalSteps / batchesPerEpoch), without overflow for a huge --steps.
  int64_t epochsTotal =
      totalSteps / batchesPerEpoch + (totalSteps % batchesPerEpoch != 0);
  int64_t dropped = train->numSamples() - batchesPerEpoch * batch;
  say("training " + modelName + " on " + llvm::Twine(train->numSamples()) + " samples (" +
      llvm::Twine(batchesPerEpoch) + " batches of " + llvm::Twine(batch) + " per epoch" +
      (dropped ? ", " + llvm::Twine(dropped) + " left out of each" : llvm::Twine()) + "): " +
      llvm::Twine(totalSteps) + " steps, seed " + llvm::Twine(opts.seed) +
      (device ? ", device " + llvm::Twine(device->deviceName()) : ", precision " + llvm::Twine(opts.precision)));
  if (resumed)
    say("resuming from " + checkpointPath + " at step " + llvm::Twine(position.step) +
        " (epoch " + llvm::Twine(position.epoch + 1) + ", batch " +
        llvm::Twine(position.batchInEpoch) + " of " + llvm::Twine(batchesPerEpoch) + ")");
  if (position.step >= totalSteps)
    say("nothing to train: the checkpoint is at step " + llvm::Twine(position.step) +
        ", the run ends at step " + llvm::Twine(totalSteps));

  std::vector<int64_t> order;
  int64_t orderEpoch = -1;
  double epochLossSum = 0;
  int64_t epochSteps = 0;
  Clock::time_point epochStart = Clock::now();
  bool evaluated = false;
  std::vector<int64_t> indices;
  while (position.step < totalSteps) {
    if (orderEpoch != position.epoch) {
      order = shuffledOrder(train->numSamples(), opts.seed, position.epoch);
      orderEpoch = position.epoch;
    }
    auto first = order.begin() + position.batchInEpoch * batch;
    indices.assign(first, first + batch);
    for (size_t k = 0; k < trainInputArgs.size(); ++k)
      args[trainInputArgs[k]] = train->batch(k, indices);
    args[stepArg] = ref::Tensor::fromInts(ref::ElemType::I64, {}, {position.step});
    Clock::time_point stepStart = Clock::now();
    auto results = call(step, args);
    if (!results) {
      progress.clear();
      return reportError(results.takeError());
    }
    double loss = (*results)[lossResult].getDouble(0);
    if (!std::isfinite(loss)) {
      progress.clear();
      return fail("the loss is " + llvm::Twine(std::isnan(loss) ? "nan" : "infinite") +
                  " at step " + llvm::Twine(position.step) + " (epoch " +
                  llvm::Twine(position.epoch + 1) + ", batch " +
                  llvm::Twine(position.batchInEpoch + 1) +
                  "): training diverged; a lower learning rate or gradient clipping may "
                  "help" + (checkpointPath.empty() ? "" : " (the checkpoint is unchanged)"));
    }
    for (auto [r, a] : updates)
      args[a] = std::move((*results)[r]);
    summary.trainSeconds += secondsSince(stepStart);
    ++position.step;
    ++position.batchInEpoch;
    ++summary.stepsThisRun;
    evaluated = false;
    epochLossSum += loss;
    ++epochSteps;
    double perStep = summary.trainSeconds / double(summary.stepsThisRun);
    progress.update(double(position.step) / double(totalSteps),
                    "epoch " + llvm::Twine(position.epoch + 1) + "/" + llvm::Twine(epochsTotal) +
                    "  step " + llvm::Twine(position.step) + "/" + llvm::Twine(totalSteps) +
                    "  loss " + fmt("%.4f", epochLossSum / double(epochSteps)) +
                    "  " + fmt("%.0f", double(batch) / perStep) +
                    " samples/s  ETA " +
                    formatDuration(perStep * double(totalSteps - position.step)));

    bool epochEnd = position.batchInEpoch == batchesPerEpoch;
    if (!epochEnd && position.step < totalSteps)
      continue;
    // The end of an epoch or of the run: evaluate, record, save.
    EpochRecord record;
    record.epoch = position.epoch + 1;
    record.step = position.step;
    record.complete = epochEnd;
    record.trainLoss = epochLossSum / double(epochSteps);
    if (test) {
      auto result = evaluate();
      if (!result) {
        progress.clear();
        return reportError(result.takeError());
      }
      record.eval = *result;
      summary.lastEval = *result;
      evaluated = true;
    }
    record.seconds = secondsSince(epochStart);
    summary.finalLoss = record.trainLoss;
    std::string where = "epoch " + std::to_string(record.epoch) + "/" +
                        std::to_string(epochsTotal);
    if (!epochEnd)
      where += ", batch " + std::to_string(position.batchInEpoch) + " of " +
               std::to_string(batchesPerEpoch);
    if (epochEnd) {
      ++position.epoch;
      position.batchInEpoch = 0;
    }
    if (!saveCheckpoint())
      return 1;
    say(where + ": " + lossText(record.trainLoss, record.eval) + " (" +
        fmt("%.1f", record.seconds) + " s)");
    summary.history.push_back(std::move(record));
    epochLossSum = 0;
    epochSteps = 0;
    epochStart = Clock::now();
  }
  if (test && !evaluated) {
    auto result = evaluate();
    if (!result)
      return reportError(result.takeError());
    summary.lastEval = *result;
    std::string line = "eval loss " + fmt("%.4f", result->loss);
    if (result->accuracy)
      line += ", eval accuracy " + percent(*result->accuracy);
    say(line);
  }
  summary.seconds = secondsSince(start);

  if (summary.stepsThisRun > 0) {
    std::string line;
    llvm::raw_string_ostream os(line);
    os << "trained " << modelName << " for " << summary.stepsThisRun << " steps";
    if (resumed)
      os << " (steps " << position.step - summary.stepsThisRun + 1 << " to " << position.step
         << ")";
    os << " in " << llvm::format("%.1f", summary.seconds) << " s ("
       << llvm::format("%.0f", double(summary.stepsThisRun * batch) /
                                   std::max(summary.trainSeconds, 1e-9))
       << " samples/s): final loss " << llvm::format("%.4f", *summary.finalLoss);
    if (summary.lastEval) {
      os << ", eval loss " << llvm::format("%.4f", summary.lastEval->loss);
      if (summary.lastEval->accuracy)
        os << ", eval accuracy " << percent(*summary.lastEval->accuracy) << " ("
           << test->numSamples() << " samples)";
    }
    say(line);
    if (!checkpointPath.empty())
      say("wrote " + checkpointPath + " (step " + llvm::Twine(position.step) + ")");
  }
  if (!writeMetrics(summary))
    return 1;
  if (!opts.metricsFile.empty())
    say("wrote " + opts.metricsFile);
  return 0;
}

} // namespace

int runTrain(const Options &opts, ModuleOp module) {
  Trainer trainer(opts, module);
  return trainer.run();
}

} // namespace kiln::tool
