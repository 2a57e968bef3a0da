//===- CApi.cpp - The C API over kiln::rt::Session ------------------------===//
//
// Contract: kiln/runtime.h. Every entry point catches everything (no C++
// exception crosses the C boundary), checks its pointers, and stores the
// message of a failure in a thread_local string for kiln_last_error().
//
//===----------------------------------------------------------------------===//
#include "kiln/runtime.h"

#include "kiln/Session.h"

#include <exception>
#include <new>
#include <string>

using namespace kiln::rt;

struct kiln_runtime {
  std::unique_ptr<Session> session;
};

namespace {

thread_local std::string lastError;

kiln_status_t report(const Status &s) {
  lastError = s.isOk() ? std::string() : s.message();
  return static_cast<kiln_status_t>(s.code());
}

kiln_status_t fail(Code code, std::string message) {
  return report(Status(code, std::move(message)));
}

/// Runs `body` (returning Status), turning exceptions into statuses.
template <typename F> kiln_status_t guarded(const char *api, F &&body) {
  try {
    return report(body());
  } catch (const std::bad_alloc &) {
    return fail(Code::out_of_memory, std::string(api) + ": out of memory");
  } catch (const std::exception &e) {
    return fail(Code::device_error, std::string(api) + ": internal error: " + e.what());
  } catch (...) {
    return fail(Code::device_error, std::string(api) + ": internal error");
  }
}

#define KILN_CHECK_ARG(cond, api, what)                                                            \
  do {                                                                                             \
    if (!(cond))                                                                                   \
      return fail(Code::invalid_argument, std::string(api) + ": " + (what));                       \
  } while (0)

DeviceOptions toOptions(const kiln_options_t *o) {
  DeviceOptions d;
  if (o) {
    d.randomizeThreadOrder = o->randomize_thread_order != 0;
    d.seed = o->seed;
    d.cacheDir = o->cache_dir ? o->cache_dir : "";
    d.poisonArena = o->no_poison_arena == 0;
  }
  return d;
}

kiln_status_t wrap(std::unique_ptr<Session> session, kiln_runtime_t **out) {
  kiln_runtime_t *rt = new (std::nothrow) kiln_runtime_t;
  if (!rt)
    return fail(Code::out_of_memory, "kiln_load: out of memory");
  rt->session = std::move(session);
  *out = rt;
  return report(Status::ok());
}

} // namespace

extern "C" {

const char *kiln_last_error(void) { return lastError.c_str(); }

kiln_status_t kiln_load(const char *path, const char *device, const kiln_options_t *options,
                        kiln_runtime_t **out) {
  KILN_CHECK_ARG(out, "kiln_load", "out is NULL");
  *out = nullptr;
  KILN_CHECK_ARG(path, "kiln_load", "path is NULL");
  KILN_CHECK_ARG(device, "kiln_load", "device is NULL");
  std::unique_ptr<Session> session;
  kiln_status_t s = guarded(
      "kiln_load", [&] { return Session::open(path, device, toOptions(options), session); });
  return s == KILN_OK ? wrap(std::move(session), out) : s;
}

kiln_status_t kiln_load_memory(const void *data, size_t size, const char *device,
                               const kiln_options_t *options, kiln_runtime_t **out) {
  KILN_CHECK_ARG(out, "kiln_load_memory", "out is NULL");
  *out = nullptr;
  KILN_CHECK_ARG(data || size == 0, "kiln_load_memory", "data is NULL");
  KILN_CHECK_ARG(device, "kiln_load_memory", "device is NULL");
  std::unique_ptr<Session> session;
  kiln_status_t s = guarded("kiln_load_memory", [&] {
    return Session::openMemory(static_cast<const uint8_t *>(data), size, device, toOptions(options),
                               session);
  });
  return s == KILN_OK ? wrap(std::move(session), out) : s;
}

void kiln_free(kiln_runtime_t *rt) {
  try {
    delete rt;
  } catch (...) {
  }
}

const char *kiln_device_name(const kiln_runtime_t *rt) {
  return rt ? rt->session->deviceName() : "";
}

const char *kiln_device_note(const kiln_runtime_t *rt) {
  return rt ? rt->session->deviceNote().c_str() : "";
}

size_t kiln_function_count(const kiln_runtime_t *rt) {
  return rt ? rt->session->program().functions.size() : 0;
}

const char *kiln_function_name(const kiln_runtime_t *rt, size_t index) {
  if (!rt || index >= rt->session->program().functions.size())
    return nullptr;
  return rt->session->program().functions[index].name.c_str();
}

kiln_status_t kiln_tensor_info(const kiln_runtime_t *rt, const char *function, const char *name,
                               kiln_dtype_t *dtype, size_t *rank, int64_t *shape,
                               size_t shape_capacity) {
  KILN_CHECK_ARG(rt, "kiln_tensor_info", "runtime is NULL");
  KILN_CHECK_ARG(name, "kiln_tensor_info", "name is NULL");
  return guarded("kiln_tensor_info", [&]() -> Status {
    const TensorDesc *t;
    KILN_RT_RETURN_IF_ERROR(rt->session->findTensor(function ? function : "", name, t));
    if (dtype)
      *dtype = static_cast<kiln_dtype_t>(t->dtype);
    if (rank)
      *rank = t->shape.size();
    if (shape) {
      if (t->shape.size() > shape_capacity)
        return Status(Code::invalid_argument, "kiln_tensor_info: tensor '" + std::string(name) +
                                                  "' has rank " + std::to_string(t->shape.size()) +
                                                  ", shape_capacity is " +
                                                  std::to_string(shape_capacity));
      for (size_t i = 0; i < t->shape.size(); ++i)
        shape[i] = t->shape[i];
    }
    return Status::ok();
  });
}

kiln_status_t kiln_set_input(kiln_runtime_t *rt, const char *function, const char *name,
                             const void *data, size_t bytes) {
  KILN_CHECK_ARG(rt, "kiln_set_input", "runtime is NULL");
  KILN_CHECK_ARG(function && name, "kiln_set_input", "function or name is NULL");
  return guarded("kiln_set_input",
                 [&] { return rt->session->setInput(function, name, data, bytes); });
}

kiln_status_t kiln_run(kiln_runtime_t *rt, const char *function) {
  KILN_CHECK_ARG(rt, "kiln_run", "runtime is NULL");
  KILN_CHECK_ARG(function, "kiln_run", "function is NULL");
  return guarded("kiln_run", [&] { return rt->session->run(function); });
}

kiln_status_t kiln_get_output(kiln_runtime_t *rt, const char *function, const char *name,
                              void *data, size_t bytes) {
  KILN_CHECK_ARG(rt, "kiln_get_output", "runtime is NULL");
  KILN_CHECK_ARG(function && name, "kiln_get_output", "function or name is NULL");
  return guarded("kiln_get_output",
                 [&] { return rt->session->getOutput(function, std::string(name), data, bytes); });
}

kiln_status_t kiln_get_output_index(kiln_runtime_t *rt, const char *function, size_t index,
                                    void *data, size_t bytes) {
  KILN_CHECK_ARG(rt, "kiln_get_output_index", "runtime is NULL");
  KILN_CHECK_ARG(function, "kiln_get_output_index", "function is NULL");
  return guarded("kiln_get_output_index",
                 [&] { return rt->session->getOutput(function, index, data, bytes); });
}

kiln_status_t kiln_get_param(kiln_runtime_t *rt, const char *name, void *data, size_t bytes) {
  KILN_CHECK_ARG(rt, "kiln_get_param", "runtime is NULL");
  KILN_CHECK_ARG(name, "kiln_get_param", "name is NULL");
  return guarded("kiln_get_param", [&] { return rt->session->getParam(name, data, bytes); });
}

kiln_status_t kiln_set_param(kiln_runtime_t *rt, const char *name, const void *data, size_t bytes) {
  KILN_CHECK_ARG(rt, "kiln_set_param", "runtime is NULL");
  KILN_CHECK_ARG(name, "kiln_set_param", "name is NULL");
  return guarded("kiln_set_param", [&] { return rt->session->setParam(name, data, bytes); });
}

kiln_status_t kiln_save_checkpoint(kiln_runtime_t *rt, const char *path) {
  KILN_CHECK_ARG(rt, "kiln_save_checkpoint", "runtime is NULL");
  KILN_CHECK_ARG(path, "kiln_save_checkpoint", "path is NULL");
  return guarded("kiln_save_checkpoint", [&] { return rt->session->saveCheckpoint(path); });
}

kiln_status_t kiln_load_checkpoint(kiln_runtime_t *rt, const char *path) {
  KILN_CHECK_ARG(rt, "kiln_load_checkpoint", "runtime is NULL");
  KILN_CHECK_ARG(path, "kiln_load_checkpoint", "path is NULL");
  return guarded("kiln_load_checkpoint", [&] { return rt->session->loadCheckpoint(path); });
}

} // extern "C"
