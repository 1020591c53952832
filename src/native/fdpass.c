/*
 * recvWithFds / sendWithFds: one recvmsg/sendmsg with SCM_RIGHTS ancillary data. vhost-user sends the
 * fds of a message (memory regions, kick/call eventfds) as SCM_RIGHTS with that message; Node's net
 * module cannot read or write ancillary data at all.
 */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

/* An aligned control buffer with room for VN_MAX_FDS descriptors. */
typedef union {
  struct cmsghdr align;
  char buf[CMSG_SPACE(sizeof(int) * VN_MAX_FDS)];
} vn_control;

/* One-buffer msghdr with room for `nfds` descriptors in `control` (none: no control buffer at all). */
static void msg_init(struct msghdr *msg, struct iovec *iov, vn_control *control, void *data, size_t length, size_t nfds) {
  memset(control, 0, sizeof *control);
  *iov = (struct iovec){ .iov_base = data, .iov_len = length };
  *msg = (struct msghdr){ .msg_iov = iov, .msg_iovlen = 1 };
  if (nfds > 0) {
    msg->msg_control = control->buf;
    msg->msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
  }
}

/*
 * recvWithFds(fd, buffer, maxFds) -> { bytes, fds }
 *   bytes > 0: that many bytes were read into buffer, fds are the descriptors that came with them
 *              (close-on-exec; the caller owns them).
 *   bytes = 0: end of stream (the peer closed), fds = [].
 *   bytes = -1: nothing to read now (EAGAIN on a non-blocking fd), fds = [].
 * Throws on errors; when the sender attached more fds than maxFds (MSG_CTRUNC), every fd that did arrive
 * is closed and an Error with code "MSG_CTRUNC" is thrown (the bytes of that message are consumed).
 */
static napi_value recv_with_fds(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int fd;
  void *data;
  size_t length;
  uint64_t max_fds;
  if (!vn_get_args(env, info, 3, argv, NULL) || !vn_get_fd(env, argv[0], "fd", &fd) ||
      !vn_get_bytes(env, argv[1], "buffer", &data, &length) || !vn_get_u64(env, argv[2], "maxFds", VN_MAX_FDS, &max_fds))
    return NULL;

  vn_control control;
  struct iovec iov;
  struct msghdr msg;
  msg_init(&msg, &iov, &control, data, length, (size_t)max_fds);

  ssize_t n;
  do n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);

  int fds[VN_MAX_FDS];
  size_t nfds = 0;
  if (n < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      vn_throw_errno(env, "recvmsg", errno);
      return NULL;
    }
  } else if (msg.msg_controllen > 0) {
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; i++) {
        int received;
        memcpy(&received, CMSG_DATA(c) + i * sizeof(int), sizeof received);
        if (nfds < VN_MAX_FDS) fds[nfds++] = received;
        else close(received); /* cannot happen with a control buffer this size; never leak anyway */
      }
    }
  }
  if (n >= 0 && (msg.msg_flags & MSG_CTRUNC)) {
    char message[200];
    vn_close_all(fds, nfds);
    snprintf(message, sizeof message,
             "recvmsg: MSG_CTRUNC (the message carried more than %llu fds or other control data; "
             "the %zu fds that arrived were closed)",
             (unsigned long long)max_fds, nfds);
    vn_throw_coded(env, "recvmsg", "MSG_CTRUNC", message);
    return NULL;
  }

  napi_value result, bytes_v, fds_v, fd_v;
  NAPI_CALL_GOTO(env, napi_create_object(env, &result), fail);
  NAPI_CALL_GOTO(env, napi_create_double(env, n < 0 ? -1.0 : (double)n, &bytes_v), fail);
  NAPI_CALL_GOTO(env, napi_create_array_with_length(env, nfds, &fds_v), fail);
  for (size_t i = 0; i < nfds; i++) {
    NAPI_CALL_GOTO(env, napi_create_int32(env, fds[i], &fd_v), fail);
    NAPI_CALL_GOTO(env, napi_set_element(env, fds_v, (uint32_t)i, fd_v), fail);
  }
  NAPI_CALL_GOTO(env, napi_set_named_property(env, result, "bytes", bytes_v), fail);
  NAPI_CALL_GOTO(env, napi_set_named_property(env, result, "fds", fds_v), fail);
  return result;
fail:
  vn_close_all(fds, nfds);
  return NULL;
}

/*
 * sendWithFds(fd, buffer, fds) -> bytes written (may be fewer than buffer.length on a stream socket;
 * the fds travel with the first byte). MSG_NOSIGNAL: a closed peer gives EPIPE, not SIGPIPE. Throws
 * on every error, EAGAIN included. The caller keeps ownership of `fds` (the kernel duplicates them).
 */
static napi_value send_with_fds(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int fd;
  void *data;
  size_t length;
  bool is_array;
  uint32_t nfds;
  if (!vn_get_args(env, info, 3, argv, NULL) || !vn_get_fd(env, argv[0], "fd", &fd) ||
      !vn_get_bytes(env, argv[1], "buffer", &data, &length))
    return NULL;
  if (napi_is_array(env, argv[2], &is_array) != napi_ok || !is_array) {
    vn_throw_type(env, "fds must be an array of file descriptors");
    return NULL;
  }
  NAPI_CALL(env, napi_get_array_length(env, argv[2], &nfds));
  if (nfds > VN_MAX_FDS) {
    vn_throw_range(env, "fds: at most 253 file descriptors per message (SCM_MAX_FD)");
    return NULL;
  }
  if (nfds > 0 && length == 0) {
    vn_throw_range(env, "buffer must not be empty when fds are sent (a stream socket needs a byte to carry them)");
    return NULL;
  }
  int fds[VN_MAX_FDS];
  for (uint32_t i = 0; i < nfds; i++) {
    napi_value v;
    NAPI_CALL(env, napi_get_element(env, argv[2], i, &v));
    if (!vn_get_fd(env, v, "fds[i]", &fds[i])) return NULL;
  }

  vn_control control;
  struct iovec iov;
  struct msghdr msg;
  msg_init(&msg, &iov, &control, data, length, nfds);
  if (nfds > 0) {
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
  }

  ssize_t n;
  do n = sendmsg(fd, &msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    vn_throw_errno(env, "sendmsg", errno);
    return NULL;
  }
  napi_value result;
  NAPI_CALL(env, napi_create_double(env, (double)n, &result));
  return result;
}

napi_status vn_init_fdpass(napi_env env, napi_value exports) {
  napi_status s;
  if ((s = vn_export(env, exports, "recvWithFds", recv_with_fds)) != napi_ok) return s;
  return vn_export(env, exports, "sendWithFds", send_with_fds);
}
