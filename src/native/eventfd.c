/*
 * eventfdCreate / eventfdRead / eventfdWrite: vhost-user kick and call notifications are eventfds
 * (UML's call fds are socketpair ends that also take 8-byte writes). Node has no eventfd API.
 */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* eventfdCreate(initial, nonblock, cloexec, semaphore) -> fd */
static napi_value js_eventfd_create(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  uint64_t initial;
  bool nonblock, cloexec, semaphore;
  if (!vn_get_args(env, info, 4, argv, NULL) || !vn_get_u64(env, argv[0], "initial", UINT32_MAX, &initial) ||
      !vn_get_bool(env, argv[1], "nonblock", &nonblock) || !vn_get_bool(env, argv[2], "cloexec", &cloexec) ||
      !vn_get_bool(env, argv[3], "semaphore", &semaphore))
    return NULL;
  int flags = (nonblock ? EFD_NONBLOCK : 0) | (cloexec ? EFD_CLOEXEC : 0) | (semaphore ? EFD_SEMAPHORE : 0);
  return vn_new_fd(env, eventfd((unsigned int)initial, flags), "eventfd");
}

/*
 * eventfdRead(fd) -> bigint, or null when the counter is zero on a non-blocking fd (EAGAIN).
 * Counter mode returns the whole count and resets it; semaphore mode returns 1n and decrements.
 */
static napi_value js_eventfd_read(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  int fd;
  uint64_t value;
  if (!vn_get_args(env, info, 1, argv, NULL) || !vn_get_fd(env, argv[0], "fd", &fd)) return NULL;
  ssize_t n;
  do n = read(fd, &value, sizeof value);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      NAPI_CALL(env, napi_get_null(env, &result));
      return result;
    }
    vn_throw_errno(env, "read", errno);
    return NULL;
  }
  if (n != (ssize_t)sizeof value) {
    vn_throw_coded(env, "read", "EIO", "read: EIO (short read: not an eventfd, or the peer wrote less than 8 bytes)");
    return NULL;
  }
  NAPI_CALL(env, napi_create_bigint_uint64(env, value, &result));
  return result;
}

/*
 * eventfdWrite(fd, value) -> true, or false when the write would block (EAGAIN: the eventfd counter
 * would overflow, or a socketpair "call fd" is full - the peer has unread notifications anyway).
 * value: 1 .. 2^64-2 as a number or bigint (0 is allowed and is a no-op for an eventfd).
 */
static napi_value js_eventfd_write(napi_env env, napi_callback_info info) {
  napi_value argv[2], result;
  int fd;
  uint64_t value;
  if (!vn_get_args(env, info, 2, argv, NULL) || !vn_get_fd(env, argv[0], "fd", &fd) ||
      !vn_get_u64(env, argv[1], "value", UINT64_MAX - 1, &value))
    return NULL;
  ssize_t n;
  do n = write(fd, &value, sizeof value);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      NAPI_CALL(env, napi_get_boolean(env, false, &result));
      return result;
    }
    vn_throw_errno(env, "write", errno);
    return NULL;
  }
  if (n != (ssize_t)sizeof value) {
    vn_throw_coded(env, "write", "EIO", "write: EIO (short write)");
    return NULL;
  }
  NAPI_CALL(env, napi_get_boolean(env, true, &result));
  return result;
}

napi_status vn_init_eventfd(napi_env env, napi_value exports) {
  napi_status s;
  if ((s = vn_export(env, exports, "eventfdCreate", js_eventfd_create)) != napi_ok) return s;
  if ((s = vn_export(env, exports, "eventfdRead", js_eventfd_read)) != napi_ok) return s;
  return vn_export(env, exports, "eventfdWrite", js_eventfd_write);
}
