/*===- runtime.h - The Kiln runtime's C API ---------------------*- C -*-===//
 *
 * Loads a .kart artifact onto a device ("host", "cuda" or "auto") and runs
 * its functions. Backed by kiln::rt::Session (kiln/Session.h); no MLIR or
 * LLVM. Every call returns a kiln_status_t; on failure the message (what and
 * where: the function, tensor, field and both sizes) is available from
 * kiln_last_error(), which is per thread, so concurrent callers do not see
 * each other's messages. A handle may be used from one thread at a time.
 *
 * Byte counts are exact: a tensor's data is numel * dtype-size bytes,
 * little-endian, C order (the planned, padded size is not exposed).
 *
 *===----------------------------------------------------------------------===*/
#ifndef KILN_RUNTIME_H
#define KILN_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Same values as kiln::rt::Code (kiln/Status.h). */
typedef enum kiln_status_t {
  KILN_OK = 0,
  KILN_INVALID_ARGUMENT = 1,
  KILN_INVALID_ARTIFACT = 2,
  KILN_NO_DEVICE = 3,
  KILN_OUT_OF_MEMORY = 4,
  KILN_DEVICE_ERROR = 5,
  KILN_IO_ERROR = 6,
  KILN_COMPILE_ERROR = 7,
  KILN_UNSUPPORTED = 8
} kiln_status_t;

/** Same values as kiln::rt::DType (kiln/Program.h). */
typedef enum kiln_dtype_t {
  KILN_F32 = 0,
  KILN_F64 = 1,
  KILN_F16 = 2,
  KILN_BF16 = 3,
  KILN_I32 = 4,
  KILN_I64 = 5,
  KILN_I1 = 6
} kiln_dtype_t;

/** A loaded artifact and the device it runs on. */
typedef struct kiln_runtime kiln_runtime_t;

/** Load options; zero-initialize, then set what you need (NULL = defaults). */
typedef struct kiln_options_t {
  /** host: resume a block's fibers in a seeded random order after barriers. */
  int randomize_thread_order;
  uint64_t seed;
  /** host: kernel cache directory (NULL or "" = $XDG_CACHE_HOME/kiln). */
  const char *cache_dir;
  /** host: do NOT poison the arena with NaNs before each call. */
  int no_poison_arena;
} kiln_options_t;

/** The message of the last failed call on this thread ("" if none). */
const char *kiln_last_error(void);

/** Loads the artifact at `path` onto `device` ("host", "cuda", "auto"). */
kiln_status_t kiln_load(const char *path, const char *device, const kiln_options_t *options,
                        kiln_runtime_t **out);
/** Same, from `size` bytes at `data` (copied; the caller may free them). */
kiln_status_t kiln_load_memory(const void *data, size_t size, const char *device,
                               const kiln_options_t *options, kiln_runtime_t **out);
/** Frees `rt` (NULL is fine). */
void kiln_free(kiln_runtime_t *rt);

/** "host" or "cuda" (valid while `rt` lives). */
const char *kiln_device_name(const kiln_runtime_t *rt);
/** Why "auto" chose what it chose ("" when there was nothing to say). */
const char *kiln_device_note(const kiln_runtime_t *rt);

/** Number of functions; their names (NULL when out of range). */
size_t kiln_function_count(const kiln_runtime_t *rt);
const char *kiln_function_name(const kiln_runtime_t *rt, size_t index);

/** dtype and shape of tensor `name` of `function` (an argument or result;
 *  `function` NULL: a persistent tensor). `shape` may be NULL; when `rank`
 *  exceeds `shape_capacity`, *rank is set and KILN_INVALID_ARGUMENT
 *  returned. */
kiln_status_t kiln_tensor_info(const kiln_runtime_t *rt, const char *function, const char *name,
                               kiln_dtype_t *dtype, size_t *rank, int64_t *shape,
                               size_t shape_capacity);

/** Copies `bytes` bytes (exactly the tensor's) into input `name`. */
kiln_status_t kiln_set_input(kiln_runtime_t *rt, const char *function, const char *name,
                             const void *data, size_t bytes);
/** Runs every step of `function` and waits for it. */
kiln_status_t kiln_run(kiln_runtime_t *rt, const char *function);
/** Reads result `name` (or result number `index`) of the last run of
 *  `function`; arena results are gone once another function ran. */
kiln_status_t kiln_get_output(kiln_runtime_t *rt, const char *function, const char *name,
                              void *data, size_t bytes);
kiln_status_t kiln_get_output_index(kiln_runtime_t *rt, const char *function, size_t index,
                                    void *data, size_t bytes);

/** Reads / overwrites persistent tensor `name` (parameters, state). */
kiln_status_t kiln_get_param(kiln_runtime_t *rt, const char *name, void *data, size_t bytes);
kiln_status_t kiln_set_param(kiln_runtime_t *rt, const char *name, const void *data, size_t bytes);

/** Every persistent tensor by name, as safetensors, written atomically. */
kiln_status_t kiln_save_checkpoint(kiln_runtime_t *rt, const char *path);
/** Checks names, dtypes and shapes of every persistent tensor (and the
 *  digest) before changing anything: on error nothing was applied. */
kiln_status_t kiln_load_checkpoint(kiln_runtime_t *rt, const char *path);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* KILN_RUNTIME_H */
