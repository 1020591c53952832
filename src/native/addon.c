/*
 * vgpio_native: module init, error and argument helpers, and the small fd utilities
 * (closeFd, dupFd, setNonBlocking, memfdCreate, socketpair).
 */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

/* ---- errors ---------------------------------------------------------------------------------- */

void vn_throw_last_napi_error(napi_env env, const char *what) {
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) return;
  const napi_extended_error_info *info = NULL;
  napi_get_last_error_info(env, &info);
  char message[256];
  snprintf(message, sizeof message, "vgpio_native: %s failed: %s", what,
           info && info->error_message ? info->error_message : "unknown N-API error");
  napi_throw_error(env, "ERR_VGPIO_NATIVE", message);
}

static void set_string(napi_env env, napi_value obj, const char *key, const char *value) {
  napi_value v;
  if (napi_create_string_utf8(env, value, NAPI_AUTO_LENGTH, &v) == napi_ok) napi_set_named_property(env, obj, key, v);
}

void vn_throw_coded(napi_env env, const char *syscall, const char *code, const char *message) {
  napi_value msg, code_v, err;
  if (napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg) != napi_ok ||
      napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &code_v) != napi_ok ||
      napi_create_error(env, code_v, msg, &err) != napi_ok) {
    napi_throw_error(env, code, message);
    return;
  }
  set_string(env, err, "syscall", syscall);
  napi_throw(env, err);
}

napi_value vn_errno_error(napi_env env, const char *syscall, int err) {
  char name[64], text[128], message[256];
  uv_err_name_r(-err, name, sizeof name);
  uv_strerror_r(-err, text, sizeof text);
  snprintf(message, sizeof message, "%s: %s (%s)", syscall, name, text);
  napi_value msg, code_v, error, errno_v;
  if (napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg) != napi_ok ||
      napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code_v) != napi_ok ||
      napi_create_error(env, code_v, msg, &error) != napi_ok)
    return NULL;
  if (napi_create_int32(env, -err, &errno_v) == napi_ok) napi_set_named_property(env, error, "errno", errno_v);
  set_string(env, error, "syscall", syscall);
  return error;
}

void vn_throw_errno(napi_env env, const char *syscall, int err) {
  napi_value error = vn_errno_error(env, syscall, err);
  if (error) napi_throw(env, error);
  else napi_throw_error(env, NULL, syscall);
}

void vn_throw_type(napi_env env, const char *message) { napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message); }
void vn_throw_range(napi_env env, const char *message) { napi_throw_range_error(env, "ERR_OUT_OF_RANGE", message); }

/* ---- arguments ------------------------------------------------------------------------------- */

bool vn_get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv, napi_value *this_arg) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, this_arg, NULL) != napi_ok) {
    vn_throw_last_napi_error(env, "napi_get_cb_info");
    return false;
  }
  /* Missing arguments read as undefined, so each reader reports them by name. */
  for (size_t i = argc; i < want; i++) napi_get_undefined(env, &argv[i]);
  return true;
}

bool vn_get_fd(napi_env env, napi_value value, const char *name, int *out) {
  napi_valuetype type;
  double d;
  char message[128];
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_number || napi_get_value_double(env, value, &d) != napi_ok ||
      d != floor(d) || d < 0 || d > 2147483647.0) {
    snprintf(message, sizeof message, "%s must be a file descriptor (an integer >= 0)", name);
    vn_throw_type(env, message);
    return false;
  }
  *out = (int)d;
  return true;
}

bool vn_get_u64(napi_env env, napi_value value, const char *name, uint64_t max, uint64_t *out) {
  napi_valuetype type;
  char message[160];
  if (napi_typeof(env, value, &type) != napi_ok) type = napi_undefined;
  if (type == napi_number) {
    double d;
    napi_get_value_double(env, value, &d);
    if (d != floor(d) || d < 0 || d > VN_MAX_SAFE_INTEGER || (uint64_t)d > max) goto range;
    *out = (uint64_t)d;
    return true;
  }
  if (type == napi_bigint) {
    uint64_t v;
    bool lossless = false;
    napi_get_value_bigint_uint64(env, value, &v, &lossless);
    if (!lossless || v > max) goto range;
    *out = v;
    return true;
  }
  snprintf(message, sizeof message, "%s must be a number or a bigint", name);
  vn_throw_type(env, message);
  return false;
range:
  snprintf(message, sizeof message, "%s must be an integer from 0 to %llu", name, (unsigned long long)max);
  vn_throw_range(env, message);
  return false;
}

bool vn_get_bool(napi_env env, napi_value value, const char *name, bool *out) {
  char message[128];
  if (napi_get_value_bool(env, value, out) != napi_ok) {
    snprintf(message, sizeof message, "%s must be a boolean", name);
    vn_throw_type(env, message);
    return false;
  }
  return true;
}

bool vn_get_bytes(napi_env env, napi_value value, const char *name, void **data, size_t *length) {
  bool is;
  char message[128];
  if (napi_is_typedarray(env, value, &is) == napi_ok && is) {
    napi_typedarray_type type;
    size_t count;
    napi_value ab;
    size_t offset;
    if (napi_get_typedarray_info(env, value, &type, &count, data, &ab, &offset) != napi_ok) goto fail;
    size_t element = 1;
    switch (type) {
      case napi_int16_array: case napi_uint16_array: element = 2; break;
      case napi_int32_array: case napi_uint32_array: case napi_float32_array: element = 4; break;
      case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: element = 8; break;
      default: element = 1;
    }
    *length = count * element;
    return true;
  }
  if (napi_is_dataview(env, value, &is) == napi_ok && is) {
    napi_value ab;
    size_t offset;
    if (napi_get_dataview_info(env, value, length, data, &ab, &offset) != napi_ok) goto fail;
    return true;
  }
  if (napi_is_arraybuffer(env, value, &is) == napi_ok && is) {
    if (napi_get_arraybuffer_info(env, value, data, length) != napi_ok) goto fail;
    return true;
  }
fail:
  snprintf(message, sizeof message, "%s must be a Buffer, TypedArray, DataView or ArrayBuffer", name);
  vn_throw_type(env, message);
  return false;
}

void vn_close_all(const int *fds, size_t count) {
  int saved = errno;
  for (size_t i = 0; i < count; i++) close(fds[i]);
  errno = saved;
}

napi_value vn_new_fd(napi_env env, int fd, const char *syscall) {
  napi_value result;
  if (fd < 0) {
    vn_throw_errno(env, syscall, errno);
    return NULL;
  }
  if (napi_create_int32(env, fd, &result) != napi_ok) {
    close(fd);
    vn_throw_last_napi_error(env, "napi_create_int32");
    return NULL;
  }
  return result;
}

napi_status vn_export(napi_env env, napi_value exports, const char *name, napi_callback cb) {
  napi_value fn;
  napi_status s = napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &fn);
  if (s != napi_ok) return s;
  return napi_set_named_property(env, exports, name, fn);
}

/* ---- instance data --------------------------------------------------------------------------- */

static void instance_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free(data);
}

vn_instance *vn_instance_get(napi_env env) {
  void *data = NULL;
  if (napi_get_instance_data(env, &data) != napi_ok) return NULL;
  return data;
}

/* ---- fd utilities ---------------------------------------------------------------------------- */

/* closeFd(fd): close(2). EINTR counts as closed (Linux always releases the fd). */
static napi_value close_fd(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  if (!vn_get_args(env, info, 1, argv, NULL) || !vn_get_fd(env, argv[0], "fd", &fd)) return NULL;
  if (vn_fd_is_watched(env, fd)) {
    vn_throw_coded(env, "close", "EBUSY", "close: EBUSY (fd is watched by watchFd; stop the watcher first)");
    return NULL;
  }
  if (close(fd) < 0 && errno != EINTR) vn_throw_errno(env, "close", errno);
  return NULL;
}

/* dupFd(fd) -> new fd (close-on-exec) referring to the same open file description. */
static napi_value dup_fd(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  if (!vn_get_args(env, info, 1, argv, NULL) || !vn_get_fd(env, argv[0], "fd", &fd)) return NULL;
  return vn_new_fd(env, fcntl(fd, F_DUPFD_CLOEXEC, 0), "fcntl");
}

/* setNonBlocking(fd, on) */
static napi_value set_non_blocking(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int fd;
  bool on;
  if (!vn_get_args(env, info, 2, argv, NULL) || !vn_get_fd(env, argv[0], "fd", &fd) || !vn_get_bool(env, argv[1], "on", &on))
    return NULL;
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0) {
    vn_throw_errno(env, "fcntl", errno);
    return NULL;
  }
  int wanted = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
  if (wanted != flags && fcntl(fd, F_SETFL, wanted) < 0) vn_throw_errno(env, "fcntl", errno);
  return NULL;
}

/* memfdCreate(name, size) -> fd (close-on-exec) of an anonymous shared-memory file of `size` bytes. */
static napi_value memfd_create_js(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  char name[250];
  size_t len;
  uint64_t size;
  if (!vn_get_args(env, info, 2, argv, NULL)) return NULL;
  if (napi_get_value_string_utf8(env, argv[0], NULL, 0, &len) != napi_ok) {
    vn_throw_type(env, "name must be a string");
    return NULL;
  }
  if (len >= sizeof name) {
    vn_throw_range(env, "name must be at most 249 bytes (memfd_create)");
    return NULL;
  }
  NAPI_CALL(env, napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len));
  if (!vn_get_u64(env, argv[1], "size", (uint64_t)INT64_MAX, &size)) return NULL;
  int fd = memfd_create(name, MFD_CLOEXEC);
  if (fd < 0) {
    vn_throw_errno(env, "memfd_create", errno);
    return NULL;
  }
  if (ftruncate(fd, (off_t)size) < 0) {
    int err = errno;
    close(fd);
    vn_throw_errno(env, "ftruncate", err);
    return NULL;
  }
  return vn_new_fd(env, fd, "memfd_create");
}

/* socketpair(nonblock) -> [fd, fd]: a connected AF_UNIX SOCK_STREAM pair, close-on-exec. */
static napi_value socketpair_js(napi_env env, napi_callback_info info) {
  napi_value argv[1], result, a, b;
  bool nonblock;
  int sv[2];
  if (!vn_get_args(env, info, 1, argv, NULL) || !vn_get_bool(env, argv[0], "nonblock", &nonblock)) return NULL;
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0, sv) < 0) {
    vn_throw_errno(env, "socketpair", errno);
    return NULL;
  }
  NAPI_CALL_GOTO(env, napi_create_array_with_length(env, 2, &result), fail);
  NAPI_CALL_GOTO(env, napi_create_int32(env, sv[0], &a), fail);
  NAPI_CALL_GOTO(env, napi_create_int32(env, sv[1], &b), fail);
  NAPI_CALL_GOTO(env, napi_set_element(env, result, 0, a), fail);
  NAPI_CALL_GOTO(env, napi_set_element(env, result, 1, b), fail);
  return result;
fail:
  vn_close_all(sv, 2);
  return NULL;
}

napi_status vn_init_fdutil(napi_env env, napi_value exports) {
  napi_status s;
  if ((s = vn_export(env, exports, "closeFd", close_fd)) != napi_ok) return s;
  if ((s = vn_export(env, exports, "dupFd", dup_fd)) != napi_ok) return s;
  if ((s = vn_export(env, exports, "setNonBlocking", set_non_blocking)) != napi_ok) return s;
  if ((s = vn_export(env, exports, "memfdCreate", memfd_create_js)) != napi_ok) return s;
  return vn_export(env, exports, "socketpair", socketpair_js);
}

/* ---- module ---------------------------------------------------------------------------------- */

NAPI_MODULE_INIT() {
  vn_instance *inst = calloc(1, sizeof *inst);
  if (!inst) {
    napi_throw_error(env, "ENOMEM", "vgpio_native: out of memory");
    return NULL;
  }
  if (napi_set_instance_data(env, inst, instance_finalize, NULL) != napi_ok) {
    free(inst);
    vn_throw_last_napi_error(env, "napi_set_instance_data");
    return NULL;
  }
  NAPI_CALL(env, vn_init_fdutil(env, exports));
  NAPI_CALL(env, vn_init_fdpass(env, exports));
  NAPI_CALL(env, vn_init_mapping(env, exports));
  NAPI_CALL(env, vn_init_eventfd(env, exports));
  NAPI_CALL(env, vn_init_watch(env, exports));
  NAPI_CALL(env, vn_init_pty(env, exports));
  return exports;
}
