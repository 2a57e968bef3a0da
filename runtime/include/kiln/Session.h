//===- Session.h - A loaded program on a device -------------------*- C++ -*-===//
//
// Plain C++17, no MLIR/LLVM; the C API (kiln/runtime.h) is a thin layer
// over it. A Session owns a verified Program and the Device it was prepared
// on (the program outlives the device), uploads Program::initialPersistent
// on creation, and binds names to regions: inputs (input region),
// results (arena or persistent), parameters and state (persistent).
// Byte counts passed in and out are exact (numElements * dtypeBytes); a
// mismatch names the tensor and both sizes. Nothing throws out of here.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_SESSION_H
#define KILN_RUNTIME_SESSION_H

#include "kiln/Device.h"
#include "kiln/Program.h"
#include "kiln/Status.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace kiln::rt {

class Session {
public:
  /// Verifies `program` (verifyProgram), creates the device `deviceName`
  /// ("host", "cuda", or "auto": cuda, else host, saying why in
  /// deviceNote()), prepares it and uploads the initial persistent bytes.
  static Status create(Program program, const std::string &deviceName, const DeviceOptions &options,
                       std::unique_ptr<Session> &out);
  /// The same on a device the caller made (embedders, tests); `note` becomes
  /// deviceNote().
  static Status create(Program program, std::unique_ptr<Device> device, std::string note,
                       std::unique_ptr<Session> &out);
  /// loadArtifactFile / loadArtifact, then create.
  static Status open(const std::string &path, const std::string &deviceName,
                     const DeviceOptions &options, std::unique_ptr<Session> &out);
  static Status openMemory(const uint8_t *data, size_t size, const std::string &deviceName,
                           const DeviceOptions &options, std::unique_ptr<Session> &out);

  const Program &program() const { return program_; }
  /// "host" or "cuda".
  const char *deviceName() const { return device_->name(); }
  /// Why "auto" chose the device it did ("" when nothing to say).
  const std::string &deviceNote() const { return note_; }

  /// Index of function `name` (invalid_argument naming the known ones).
  Status findFunction(const std::string &name, uint32_t &index) const;
  /// Tensor `name` among the args and results of `function`, or, for an
  /// empty `function`, among the persistent state.
  Status findTensor(const std::string &function, const std::string &name,
                    const TensorDesc *&out) const;

  /// Copies exactly the bytes of input `name` of `function`.
  Status setInput(const std::string &function, const std::string &name, const void *data,
                  size_t bytes);
  Status run(const std::string &function);
  /// Result `name` / number `index` of the last run of `function`.
  Status getOutput(const std::string &function, const std::string &name, void *data, size_t bytes);
  Status getOutput(const std::string &function, size_t index, void *data, size_t bytes);
  /// Persistent tensor `name`.
  Status getParam(const std::string &name, void *data, size_t bytes);
  Status setParam(const std::string &name, const void *data, size_t bytes);
  /// Every persistent tensor by name (safetensors, atomic; metadata
  /// kiln.format, kiln.model, kiln.digest).
  Status saveCheckpoint(const std::string &path);
  /// All-or-nothing: names, dtypes, shapes and digest are checked before
  /// the persistent region is rewritten in one write.
  Status loadCheckpoint(const std::string &path);

private:
  Session() = default;
  Status readTensor(const TensorDesc &t, void *data, size_t bytes, const std::string &what);

  Program program_; // declared before device_: the device dies first
  std::unique_ptr<Device> device_;
  std::string note_;
  /// Index of the function whose arena results are current (-1: none).
  int64_t lastRun_ = -1;
};

} // namespace kiln::rt

#endif // KILN_RUNTIME_SESSION_H
