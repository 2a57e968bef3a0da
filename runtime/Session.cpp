//===- Session.cpp - A loaded program on a device ------------------------===//
//
// Contract: kiln/Session.h. Name lookups, exact-size binding, the
// arena-validity rule of results, and safetensors checkpoints of the
// persistent region (kiln/SafeTensors.h).
//
//===----------------------------------------------------------------------===//
#include "kiln/Session.h"

#include "kiln/Artifact.h"
#include "kiln/SafeTensors.h"

#include <cstring>
#include <new>

namespace kiln::rt {
namespace {

using std::to_string;

uint64_t exactBytes(const TensorDesc &t) { return uint64_t(t.numElements()) * dtypeBytes(t.dtype); }

std::string shapeText(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + to_string(shape[i]);
  return s + "]";
}

std::string describe(const TensorDesc &t) {
  return std::string(dtypeName(t.dtype)) + shapeText(t.shape);
}

Status sizeMismatch(const std::string &what, const TensorDesc &t, size_t bytes) {
  return Status(Code::invalid_argument, what + ": got " + to_string(bytes) + " bytes, " +
                                            describe(t) + " has " + to_string(exactBytes(t)));
}

safetensors::DType toSafeTensors(DType d) {
  switch (d) {
  case DType::f32: return safetensors::DType::F32;
  case DType::f64: return safetensors::DType::F64;
  case DType::f16: return safetensors::DType::F16;
  case DType::bf16: return safetensors::DType::BF16;
  case DType::i32: return safetensors::DType::I32;
  case DType::i64: return safetensors::DType::I64;
  case DType::i1: return safetensors::DType::Bool;
  }
  return safetensors::DType::F32;
}

constexpr const char *kDigestKey = "kiln.digest";

/// Creates the device by name; "auto" records why it fell back.
Status makeDevice(const std::string &name, const DeviceOptions &options,
                  std::unique_ptr<Device> &device, std::string &note) {
  auto host = [&]() -> Status {
    device = createHostDevice(options);
    if (!device)
      return Status(Code::unsupported, "device 'host': not available in this build");
    return Status::ok();
  };
  if (name == "host")
    return host();
  if (name == "cuda")
    return createCudaDevice(options, device);
  if (name == "auto") {
    Status cuda = createCudaDevice(options, device);
    if (cuda.isOk() && device)
      return Status::ok();
    std::string why = cuda.isOk() ? std::string("no device returned") : cuda.message();
    Status h = host();
    if (!h)
      return Status(h.code(), "device 'auto': cuda: " + why + "; host: " + h.message());
    note = "cuda unavailable (" + why + "); using host";
    return Status::ok();
  }
  return Status(Code::invalid_argument,
                "device '" + name + "' is unknown (expected host, cuda or auto)");
}

} // namespace

Status Session::create(Program program, const std::string &deviceName, const DeviceOptions &options,
                       std::unique_ptr<Session> &out) {
  KILN_RT_RETURN_IF_ERROR(verifyProgram(program));
  std::unique_ptr<Device> device;
  std::string note;
  KILN_RT_RETURN_IF_ERROR(makeDevice(deviceName, options, device, note));
  return create(std::move(program), std::move(device), std::move(note), out);
}

Status Session::create(Program program, std::unique_ptr<Device> device, std::string note,
                       std::unique_ptr<Session> &out) {
  if (!device)
    return Status(Code::invalid_argument, "Session::create: null device");
  KILN_RT_RETURN_IF_ERROR(verifyProgram(program));
  std::unique_ptr<Session> s(new (std::nothrow) Session());
  if (!s)
    return Status(Code::out_of_memory, "Session::create: out of memory");
  s->program_ = std::move(program);
  s->device_ = std::move(device);
  s->note_ = std::move(note);
  Status prepared = s->device_->prepare(s->program_);
  if (!prepared)
    return Status(prepared.code(), std::string("device '") + s->device_->name() +
                                       "': prepare: " + prepared.message());
  if (s->program_.persistentBytes) {
    Status w = s->device_->write(Region::persistent, 0, s->program_.initialPersistent.data(),
                                 s->program_.persistentBytes);
    if (!w)
      return Status(w.code(), "uploading the initial persistent bytes: " + w.message());
  }
  out = std::move(s);
  return Status::ok();
}

Status Session::open(const std::string &path, const std::string &deviceName,
                     const DeviceOptions &options, std::unique_ptr<Session> &out) {
  Program program;
  KILN_RT_RETURN_IF_ERROR(loadArtifactFile(path, program));
  return create(std::move(program), deviceName, options, out);
}

Status Session::openMemory(const uint8_t *data, size_t size, const std::string &deviceName,
                           const DeviceOptions &options, std::unique_ptr<Session> &out) {
  Program program;
  KILN_RT_RETURN_IF_ERROR(loadArtifact(data, size, program));
  return create(std::move(program), deviceName, options, out);
}

Status Session::findFunction(const std::string &name, uint32_t &index) const {
  std::string known;
  for (uint32_t i = 0; i < program_.functions.size(); ++i) {
    if (program_.functions[i].name == name) {
      index = i;
      return Status::ok();
    }
    known += (i ? ", " : "") + program_.functions[i].name;
  }
  return Status(Code::invalid_argument,
                "function '" + name + "' does not exist (functions: " + known + ")");
}

Status Session::findTensor(const std::string &function, const std::string &name,
                           const TensorDesc *&out) const {
  if (function.empty()) {
    for (const StateDesc &s : program_.state)
      if (s.tensor.name == name) {
        out = &s.tensor;
        return Status::ok();
      }
    return Status(Code::invalid_argument, "persistent tensor '" + name + "' does not exist");
  }
  uint32_t f;
  KILN_RT_RETURN_IF_ERROR(findFunction(function, f));
  const FunctionDesc &fn = program_.functions[f];
  for (const std::vector<uint32_t> *list : {&fn.args, &fn.results})
    for (uint32_t i : *list)
      if (fn.tensors[i].name == name) {
        out = &fn.tensors[i];
        return Status::ok();
      }
  return Status(Code::invalid_argument,
                "function '" + function + "' has no argument or result '" + name + "'");
}

Status Session::setInput(const std::string &function, const std::string &name, const void *data,
                         size_t bytes) {
  const TensorDesc *t;
  KILN_RT_RETURN_IF_ERROR(findTensor(function, name, t));
  std::string what = "function '" + function + "' input '" + name + "'";
  if (t->region != Region::input)
    return Status(Code::invalid_argument,
                  what + ": is in the " + regionName(t->region) + " region, not an input" +
                      (t->region == Region::persistent ? " (use set_param)" : ""));
  if (bytes != exactBytes(*t))
    return sizeMismatch(what, *t, bytes);
  if (bytes && !data)
    return Status(Code::invalid_argument, what + ": null data");
  return device_->write(Region::input, t->offset, data, bytes);
}

Status Session::run(const std::string &function) {
  uint32_t f;
  KILN_RT_RETURN_IF_ERROR(findFunction(function, f));
  lastRun_ = -1; // a failed run leaves no valid arena results
  Status s = device_->run(f);
  if (!s)
    return Status(s.code(), "function '" + function + "': " + s.message());
  lastRun_ = f;
  return Status::ok();
}

Status Session::readTensor(const TensorDesc &t, void *data, size_t bytes, const std::string &what) {
  if (bytes != exactBytes(t))
    return sizeMismatch(what, t, bytes);
  if (bytes && !data)
    return Status(Code::invalid_argument, what + ": null data");
  return device_->read(t.region, t.offset, data, bytes);
}

Status Session::getOutput(const std::string &function, size_t index, void *data, size_t bytes) {
  uint32_t f;
  KILN_RT_RETURN_IF_ERROR(findFunction(function, f));
  const FunctionDesc &fn = program_.functions[f];
  if (index >= fn.results.size())
    return Status(Code::invalid_argument, "function '" + function + "' result " + to_string(index) +
                                              " does not exist (" + to_string(fn.results.size()) +
                                              " results)");
  const TensorDesc &t = fn.tensors[fn.results[index]];
  std::string what =
      "function '" + function + "' result " + to_string(index) + " ('" + t.name + "')";
  if (t.region != Region::persistent && lastRun_ != int64_t(f))
    return Status(Code::invalid_argument,
                  what + ": function '" + function + "' has not run" +
                      (lastRun_ >= 0
                           ? " since '" + program_.functions[lastRun_].name + "' reused the arena"
                           : std::string(" yet")));
  return readTensor(t, data, bytes, what);
}

Status Session::getOutput(const std::string &function, const std::string &name, void *data,
                          size_t bytes) {
  uint32_t f;
  KILN_RT_RETURN_IF_ERROR(findFunction(function, f));
  const FunctionDesc &fn = program_.functions[f];
  for (size_t i = 0; i < fn.results.size(); ++i)
    if (fn.tensors[fn.results[i]].name == name)
      return getOutput(function, i, data, bytes);
  return Status(Code::invalid_argument, "function '" + function + "' has no result '" + name + "'");
}

Status Session::getParam(const std::string &name, void *data, size_t bytes) {
  const TensorDesc *t;
  KILN_RT_RETURN_IF_ERROR(findTensor("", name, t));
  return readTensor(*t, data, bytes, "persistent tensor '" + name + "'");
}

Status Session::setParam(const std::string &name, const void *data, size_t bytes) {
  const TensorDesc *t;
  KILN_RT_RETURN_IF_ERROR(findTensor("", name, t));
  std::string what = "persistent tensor '" + name + "'";
  if (bytes != exactBytes(*t))
    return sizeMismatch(what, *t, bytes);
  if (bytes && !data)
    return Status(Code::invalid_argument, what + ": null data");
  return device_->write(Region::persistent, t->offset, data, bytes);
}

Status Session::saveCheckpoint(const std::string &path) {
  try {
    std::vector<uint8_t> image(program_.persistentBytes);
    if (!image.empty())
      KILN_RT_RETURN_IF_ERROR(device_->read(Region::persistent, 0, image.data(), image.size()));
    safetensors::File file;
    for (const StateDesc &s : program_.state) {
      safetensors::Tensor t;
      t.name = s.tensor.name;
      t.dtype = toSafeTensors(s.tensor.dtype);
      t.shape = s.tensor.shape;
      t.data.assign(image.begin() + s.tensor.offset,
                    image.begin() + s.tensor.offset + exactBytes(s.tensor));
      file.tensors.push_back(std::move(t));
    }
    file.metadata["kiln.format"] = "1";
    file.metadata["kiln.model"] = program_.model;
    file.metadata[kDigestKey] = safetensors::contentDigest(file, kDigestKey);
    std::string error;
    if (!safetensors::writeFile(path, file, error))
      return Status(Code::io_error, "checkpoint " + error);
  } catch (const std::bad_alloc &) {
    return Status(Code::out_of_memory, "checkpoint " + path + ": out of memory");
  }
  return Status::ok();
}

Status Session::loadCheckpoint(const std::string &path) {
  try {
    safetensors::File file;
    std::string error;
    if (!safetensors::readFile(path, file, error))
      return Status(Code::io_error, "checkpoint " + error);
    std::string where = "checkpoint " + path;
    auto digest = file.metadata.find(kDigestKey);
    if (digest != file.metadata.end() &&
        digest->second != safetensors::contentDigest(file, kDigestKey))
      return Status(Code::invalid_argument,
                    where + ": the content does not match its digest (kiln.digest " +
                        digest->second + ")");
    auto model = file.metadata.find("kiln.model");
    if (model != file.metadata.end() && model->second != program_.model)
      return Status(Code::invalid_argument, where + ": model '" + model->second +
                                                "' does not match the artifact's '" +
                                                program_.model + "'");
    // Validate everything against the state first, then write once.
    std::vector<uint8_t> image(program_.persistentBytes);
    if (!image.empty())
      KILN_RT_RETURN_IF_ERROR(device_->read(Region::persistent, 0, image.data(), image.size()));
    for (const StateDesc &s : program_.state) {
      const safetensors::Tensor *t = file.find(s.tensor.name);
      if (!t)
        return Status(Code::invalid_argument,
                      where + ": tensor '" + s.tensor.name + "' is missing");
      safetensors::DType want = toSafeTensors(s.tensor.dtype);
      if (t->dtype != want)
        return Status(Code::invalid_argument,
                      where + ": tensor '" + s.tensor.name + "' has dtype " +
                          safetensors::dtypeName(t->dtype) + ", the artifact has " +
                          safetensors::dtypeName(want));
      if (t->shape != s.tensor.shape)
        return Status(Code::invalid_argument,
                      where + ": tensor '" + s.tensor.name + "' has shape " + shapeText(t->shape) +
                          ", the artifact has " + shapeText(s.tensor.shape));
      if (t->data.size() != exactBytes(s.tensor))
        return Status(Code::invalid_argument, where + ": tensor '" + s.tensor.name + "' has " +
                                                  to_string(t->data.size()) + " bytes, expected " +
                                                  to_string(exactBytes(s.tensor)));
      std::memcpy(image.data() + s.tensor.offset, t->data.data(), t->data.size());
    }
    for (const safetensors::Tensor &t : file.tensors) {
      const TensorDesc *known;
      if (!findTensor("", t.name, known).isOk())
        return Status(Code::invalid_argument, where + ": tensor '" + t.name +
                                                  "' is not a persistent tensor of the artifact");
    }
    if (!image.empty())
      KILN_RT_RETURN_IF_ERROR(device_->write(Region::persistent, 0, image.data(), image.size()));
  } catch (const std::bad_alloc &) {
    return Status(Code::out_of_memory, "checkpoint " + path + ": out of memory");
  }
  return Status::ok();
}

} // namespace kiln::rt
