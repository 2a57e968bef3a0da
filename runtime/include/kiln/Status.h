//===- Status.h - Errors as values in the runtime ----------------*- C++ -*-===//
//
// The runtime never throws across its API and never exits: every fallible
// call returns a Status (a code from the C API plus a message that says
// where and what).
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_STATUS_H
#define KILN_RUNTIME_STATUS_H

#include <string>
#include <utility>

namespace kiln::rt {

/// Same values as kiln_status_code in kiln/runtime.h.
enum class Code : int {
  ok = 0,
  invalid_argument = 1, ///< a caller error: unknown name, wrong size, ...
  invalid_artifact = 2, ///< the file failed verification
  no_device = 3,        ///< no CUDA driver / no GPU / no host compiler
  out_of_memory = 4,
  device_error = 5, ///< a launch or library call failed
  io_error = 6,
  compile_error = 7, ///< a kernel failed to compile (NVRTC or host C++)
  unsupported = 8    ///< valid, but this build/device cannot run it
};

class Status {
public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status ok() { return {}; }
  bool isOk() const { return code_ == Code::ok; }
  explicit operator bool() const { return isOk(); }
  Code code() const { return code_; }
  const std::string &message() const { return message_; }

private:
  Code code_ = Code::ok;
  std::string message_;
};

#define KILN_RT_RETURN_IF_ERROR(expr)                                          \
  do {                                                                         \
    ::kiln::rt::Status kiln_rt_status_ = (expr);                               \
    if (!kiln_rt_status_.isOk())                                               \
      return kiln_rt_status_;                                                  \
  } while (0)

} // namespace kiln::rt

#endif // KILN_RUNTIME_STATUS_H
