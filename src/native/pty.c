/*
 * openPty: a pseudo-terminal pair for `vgpio emulate --pty` (Node has no openpty).
 *
 * posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC) + grantpt + unlockpt + ptsname_r, then the slave is opened
 * (O_NOCTTY, close-on-exec) and put in raw mode (cfmakeraw: no echo, no line editing, no CR/LF
 * translation, 8 bits, VMIN 1 / VTIME 0), so the bytes of the emulated board pass unchanged. The master is
 * made non-blocking (for watchFd + read/write from the event loop).
 *
 * Both fds are returned and belong to the caller. Keep the slave fd open while the pty is in use: with no
 * slave open, Linux reports EIO/POLLHUP on the master, which would make a watcher spin whenever no serial
 * tool has the port open (and between two tools opening it).
 */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <termios.h>
#include <unistd.h>

/* openPty() -> { master, slave, path } */
static napi_value open_pty(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result, master_v, slave_v, path_v;
  char path[128];
  struct termios tio;
  int fds[2] = {-1, -1};
  const char *failed = NULL;

  fds[0] = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (fds[0] < 0) {
    vn_throw_errno(env, "posix_openpt", errno);
    return NULL;
  }
  if (grantpt(fds[0]) < 0) failed = "grantpt";
  else if (unlockpt(fds[0]) < 0) failed = "unlockpt";
  else if (ptsname_r(fds[0], path, sizeof path) != 0) failed = "ptsname_r";
  else if ((fds[1] = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0) failed = "open";
  else if (tcgetattr(fds[1], &tio) < 0) failed = "tcgetattr";
  else {
    cfmakeraw(&tio);
    tio.c_cc[VMIN] = 1;
    tio.c_cc[VTIME] = 0;
    if (tcsetattr(fds[1], TCSANOW, &tio) < 0) failed = "tcsetattr";
    else {
      int flags = fcntl(fds[0], F_GETFL);
      if (flags < 0 || fcntl(fds[0], F_SETFL, flags | O_NONBLOCK) < 0) failed = "fcntl";
    }
  }
  if (failed) {
    int err = errno;
    vn_close_all(fds, fds[1] >= 0 ? 2 : 1);
    vn_throw_errno(env, failed, err);
    return NULL;
  }
  NAPI_CALL_GOTO(env, napi_create_object(env, &result), fail);
  NAPI_CALL_GOTO(env, napi_create_int32(env, fds[0], &master_v), fail);
  NAPI_CALL_GOTO(env, napi_create_int32(env, fds[1], &slave_v), fail);
  NAPI_CALL_GOTO(env, napi_create_string_utf8(env, path, NAPI_AUTO_LENGTH, &path_v), fail);
  NAPI_CALL_GOTO(env, napi_set_named_property(env, result, "master", master_v), fail);
  NAPI_CALL_GOTO(env, napi_set_named_property(env, result, "slave", slave_v), fail);
  NAPI_CALL_GOTO(env, napi_set_named_property(env, result, "path", path_v), fail);
  return result;
fail:
  vn_close_all(fds, 2);
  return NULL;
}

napi_status vn_init_pty(napi_env env, napi_value exports) { return vn_export(env, exports, "openPty", open_pty); }
