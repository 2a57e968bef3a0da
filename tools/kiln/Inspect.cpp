//===- Inspect.cpp - kiln inspect MODEL.kart, kiln run MODEL.kart ---------===//
//
// What needs only the artifact (no MLIR model): `inspect` prints a
// readable summary (regions, persistent tensors, per function its tensors,
// steps and arena; every kernel with its sizes and ptxas figures) or, with
// --dot, the step graph of every function (steps as nodes, an edge where a
// step reads what an earlier one wrote). `run MODEL.kart` runs @forward on a
// device with the artifact's initial parameters and --input/random inputs.
//
//===----------------------------------------------------------------------===//
#include "tools/kiln/Commands.h"
#include "tools/kiln/DeviceRun.h"

#include "kiln/Artifact.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <map>

namespace kiln::tool {
namespace {

std::string shapeText(const rt::TensorDesc &t) {
  std::string s = std::string(rt::dtypeName(t.dtype)) + "[";
  for (size_t i = 0; i < t.shape.size(); ++i)
    s += (i ? "x" : "") + std::to_string(t.shape[i]);
  return s + "]";
}

std::string stepText(const rt::Program &p, const rt::FunctionDesc &f, const rt::Step &s) {
  switch (s.kind) {
  case rt::StepKind::launch: {
    const rt::LaunchStep &l = s.launch;
    return "launch " + p.kernels[l.kernel].name + " <<<" + std::to_string(l.grid[0]) + ", " +
           std::to_string(l.block[0]) + ">>>";
  }
  case rt::StepKind::library:
    return std::string("library ") + rt::libraryOpName(s.library.op) +
           (s.library.epilogue != rt::Epilogue::none ? std::string(" epilogue ") + rt::epilogueName(s.library.epilogue)
                                                     : std::string());
  case rt::StepKind::memset:
    return "memset " + f.tensors[s.dst].name;
  case rt::StepKind::copy:
    return "copy " + f.tensors[s.src].name + " -> " + f.tensors[s.dst].name;
  }
  return "?";
}

std::vector<uint32_t> stepArgs(const rt::Step &s) {
  switch (s.kind) {
  case rt::StepKind::launch: return s.launch.args;
  case rt::StepKind::library: return s.library.args;
  case rt::StepKind::memset: return {s.dst};
  case rt::StepKind::copy: return {s.src, s.dst};
  }
  return {};
}

void printDot(const rt::Program &p, llvm::raw_ostream &os) {
  os << "digraph kart {\n  rankdir=TB;\n  node [shape=box, fontname=monospace];\n";
  for (size_t fi = 0; fi < p.functions.size(); ++fi) {
    const rt::FunctionDesc &f = p.functions[fi];
    os << "  subgraph cluster_" << fi << " {\n    label=\"@" << f.name << "\";\n";
    // An arena tensor is a value of one step (SSA): the first step that
    // touches it writes it, later ones read it. Copies write their dst.
    std::map<uint32_t, size_t> writer;
    for (size_t si = 0; si < f.steps.size(); ++si) {
      const rt::Step &s = f.steps[si];
      os << "    f" << fi << "s" << si << " [label=\"" << si << ": " << stepText(p, f, s) << "\"];\n";
      std::vector<uint32_t> args = stepArgs(s);
      for (size_t a = 0; a < args.size(); ++a) {
        auto w = writer.find(args[a]);
        if (w != writer.end() && w->second != si)
          os << "    f" << fi << "s" << w->second << " -> f" << fi << "s" << si << ";\n";
      }
      if (s.kind == rt::StepKind::launch || s.kind == rt::StepKind::library) {
        for (uint32_t a : args)
          if (!writer.count(a) && f.tensors[a].region == rt::Region::arena)
            writer[a] = si;
      } else {
        writer[s.dst] = si;
      }
    }
    os << "  }\n";
  }
  os << "}\n";
}

} // namespace

int runInspect(const Options &opts) {
  rt::Program p;
  if (rt::Status s = rt::loadArtifactFile(opts.model, p); !s.isOk())
    return fail(opts.model + ": " + s.message());
  llvm::raw_ostream &os = llvm::outs();
  if (opts.dot) {
    printDot(p, os);
    return 0;
  }
  os << opts.model << ": model '" << p.model << "', artifact " << p.major << "." << p.minor << ", "
     << p.compilerVersion << "\n";
  os << "archs: ";
  for (size_t i = 0; i < p.archs.size(); ++i)
    os << (i ? ", " : "") << p.archs[i];
  os << " (+ PTX)\nregions: persistent " << p.persistentBytes << " B, arena " << p.arenaBytes()
     << " B (max over functions), alignment " << p.alignment << "\n";
  os << "persistent tensors (" << p.state.size() << "):\n";
  for (const rt::StateDesc &s : p.state)
    os << "  " << llvm::left_justify(s.tensor.name, 24) << " " << llvm::left_justify(rt::roleName(s.tensor.role), 16)
       << " " << llvm::left_justify(shapeText(s.tensor), 16) << " @" << s.tensor.offset << " +" << s.tensor.size << "\n";
  for (const rt::FunctionDesc &f : p.functions) {
    size_t launches = 0, library = 0, copies = 0;
    for (const rt::Step &s : f.steps)
      (s.kind == rt::StepKind::launch ? launches : s.kind == rt::StepKind::library ? library : copies)++;
    os << "function @" << f.name << ": " << f.steps.size() << " steps (" << launches << " launches, " << library
       << " library calls, " << copies << " copies/memsets), input " << f.inputBytes << " B, arena " << f.arenaBytes
       << " B\n  arguments:";
    for (uint32_t a : f.args)
      if (f.tensors[a].role == rt::TensorRole::input)
        os << " " << f.tensors[a].name << ":" << shapeText(f.tensors[a]);
    os << "\n  results:";
    for (uint32_t r : f.results)
      os << " " << f.tensors[r].name << ":" << shapeText(f.tensors[r]);
    os << "\n";
    for (size_t i = 0; i < f.steps.size(); ++i)
      os << "    " << llvm::right_justify(std::to_string(i), 3) << "  " << stepText(p, f, f.steps[i]) << "\n";
  }
  os << "kernels (" << p.kernels.size() << "):\n";
  for (const rt::KernelDesc &k : p.kernels) {
    size_t cubin = 0;
    for (const auto &b : k.cubins)
      cubin += b.cubin.size();
    os << "  " << llvm::left_justify(k.name, 36) << " args " << k.argDTypes.size() << ", source " << k.source.size()
       << " B, cubins " << cubin << " B, ptx " << k.ptx.size() << " B, registers " << k.registers << ", spills "
       << k.spillBytes << " B, shared " << k.sharedBytes << " B\n";
  }
  return 0;
}

int runArtifactForward(const Options &opts) {
  rt::Program p;
  if (rt::Status s = rt::loadArtifactFile(opts.model, p); !s.isOk())
    return fail(opts.model + ": " + s.message());
  const rt::FunctionDesc *fd = p.function("forward");
  if (!fd)
    return fail(opts.model + " has no @forward");
  llvm::StringMap<std::string> given;
  for (auto &[name, path] : opts.inputs)
    given[name] = path;
  DeviceRunOptions o;
  o.device = opts.device == "reference" ? "auto" : opts.device;
  auto runner = DeviceRunner::create(p, o);
  if (!runner)
    return reportError(runner.takeError());
  if (!(*runner)->note().empty())
    llvm::outs() << "device: " << (*runner)->note() << "\n";
  if (llvm::Error e = (*runner)->uploadInitialState())
    return reportError(std::move(e));
  std::vector<std::pair<uint32_t, ref::Tensor>> inputs;
  for (uint32_t a : fd->args) {
    const rt::TensorDesc &t = fd->tensors[a];
    if (t.role != rt::TensorRole::input)
      continue;
    ref::ElemType et = toElemType(t.dtype);
    auto it = given.find(t.name);
    if (it != given.end()) {
      auto v = readInput(t.name, it->second, et, t.shape);
      if (!v)
        return reportError(v.takeError());
      inputs.emplace_back(a, std::move(*v));
      given.erase(it);
    } else {
      // The artifact does not say what an integer input indexes (classes,
      // vocabulary): random ones are 0 or 1, valid for every model; pass
      // --input for real labels or tokens.
      inputs.emplace_back(a, randomInput(et, t.shape, opts.seed, t.name, 2));
    }
  }
  if (!given.empty())
    return fail("--input " + given.begin()->first() + ": @forward has no such input");
  auto results = (*runner)->runWithInputs("forward", inputs);
  if (!results)
    return reportError(results.takeError());
  if (std::error_code ec = llvm::sys::fs::create_directories(opts.outputDir))
    return fail("cannot create '" + opts.outputDir + "': " + ec.message());
  for (size_t r = 0; r < fd->results.size(); ++r) {
    std::string path = (llvm::Twine(opts.outputDir) + "/" + fd->tensors[fd->results[r]].name + ".npy").str();
    std::string error;
    if (!writeOutput(path, (*results)[r], error))
      return fail(error);
    llvm::outs() << "wrote " << path << "\n";
  }
  return 0;
}

} // namespace kiln::tool
