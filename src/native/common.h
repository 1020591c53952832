/*
 * vgpio_native: the one native addon of vgpio (N-API, C). Shared helpers for argument parsing and for
 * throwing errors that look like Node's own system errors: message "<syscall>: <CODE> (<strerror>)",
 * properties code ("EBADF"), errno (negative, libuv convention, like Node's fs errors) and syscall.
 */
#ifndef VGPIO_NATIVE_COMMON_H
#define VGPIO_NATIVE_COMMON_H

#include <node_api.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bail out of a napi_callback when an N-API call fails; the failure becomes a pending JS exception. */
#define NAPI_CALL(env, call)                                                                     \
  do {                                                                                           \
    if ((call) != napi_ok) {                                                                     \
      vn_throw_last_napi_error(env, #call);                                                      \
      return NULL;                                                                               \
    }                                                                                            \
  } while (0)

/* Same, for N-API calls made while native resources are held: jump to the function's cleanup label. */
#define NAPI_CALL_GOTO(env, call, label)                                                         \
  do {                                                                                           \
    if ((call) != napi_ok) {                                                                     \
      vn_throw_last_napi_error(env, #call);                                                      \
      goto label;                                                                                \
    }                                                                                            \
  } while (0)

/* Largest exact integer of a JS number (2^53 - 1). */
#define VN_MAX_SAFE_INTEGER 9007199254740991.0

/* Most fds one SCM_RIGHTS message may carry on Linux (SCM_MAX_FD). */
#define VN_MAX_FDS 253

void vn_throw_last_napi_error(napi_env env, const char *what);
/* Throws "<syscall>: <CODE> (<strerror>)" with code/errno/syscall properties. err is a positive errno. */
void vn_throw_errno(napi_env env, const char *syscall, int err);
/* The same Error as a value (NULL if it could not be made). */
napi_value vn_errno_error(napi_env env, const char *syscall, int err);
/* Same shape for conditions that have no errno: code is given as a string. */
void vn_throw_coded(napi_env env, const char *syscall, const char *code, const char *message);
void vn_throw_type(napi_env env, const char *message);
void vn_throw_range(napi_env env, const char *message);

/* Argument readers. On failure they throw (TypeError/RangeError) and return false. */
bool vn_get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv, napi_value *this_arg);
bool vn_get_fd(napi_env env, napi_value value, const char *name, int *out);
/* A non-negative integer given as a number (exact, <= 2^53-1) or a bigint (<= max). */
bool vn_get_u64(napi_env env, napi_value value, const char *name, uint64_t max, uint64_t *out);
bool vn_get_bool(napi_env env, napi_value value, const char *name, bool *out);
/* Bytes of a TypedArray, DataView or ArrayBuffer (Buffer included). */
bool vn_get_bytes(napi_env env, napi_value value, const char *name, void **data, size_t *length);

/* Closes every fd in the list, preserving errno. */
void vn_close_all(const int *fds, size_t count);
/* Hands a descriptor a system call just returned to JS as a number. With fd < 0 it throws the call's
 * errno; if the number cannot be made, the fd is closed so it never leaks. */
napi_value vn_new_fd(napi_env env, int fd, const char *syscall);

/* Per-module-instance state (one per Node environment: main thread or worker). */
struct vn_watcher;
typedef struct {
  struct vn_watcher *watchers; /* active fd watchers, a doubly linked list */
} vn_instance;

vn_instance *vn_instance_get(napi_env env);
/* True when an active watchFd() watcher polls this fd (closeFd refuses to close it). */
bool vn_fd_is_watched(napi_env env, int fd);

/* Module parts: each adds its functions to exports. */
napi_status vn_init_fdpass(napi_env env, napi_value exports);
napi_status vn_init_mapping(napi_env env, napi_value exports);
napi_status vn_init_eventfd(napi_env env, napi_value exports);
napi_status vn_init_fdutil(napi_env env, napi_value exports);
napi_status vn_init_watch(napi_env env, napi_value exports);
napi_status vn_init_pty(napi_env env, napi_value exports);

napi_status vn_export(napi_env env, napi_value exports, const char *name, napi_callback cb);

#endif
