/*
 * watchFd: call a JS function whenever an fd becomes readable, from Node's own libuv loop (uv_poll).
 * Node cannot wait on an arbitrary fd (an eventfd, a connection whose bytes must be read by recvmsg).
 *
 * Lifetime of a watcher (all on the JS thread):
 *   watchFd       uv_poll_init + uv_poll_start; returns a native stop function that owns a reference
 *                 to the watcher (released by that function's finalizer).
 *   stop()        uv_poll_stop (the fd leaves epoll at once, so the fd may be closed right after) and
 *                 uv_close; idempotent. A stopped handle no longer keeps the event loop alive.
 *   close cb      releases the JS callback, the async context and the environment cleanup hook.
 *   memory        freed once both the close callback has run and the stop function was collected.
 * An environment that shuts down (process exit, worker termination) closes live watchers through an
 * async cleanup hook, so a worker's loop is never left with an open handle.
 */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <stdlib.h>
#include <uv.h>

typedef struct vn_watcher {
  uv_poll_t poll;
  napi_env env;
  napi_ref callback;
  napi_async_context async_ctx;
  napi_async_cleanup_hook_handle cleanup;
  int fd;
  bool active;   /* polling; linked into the instance's list */
  bool uv_open;  /* uv handle initialised, close callback not run yet */
  bool closing;  /* uv_close called */
  bool js_alive; /* the stop function has not been finalized */
  struct vn_watcher *prev, *next;
} vn_watcher;

bool vn_fd_is_watched(napi_env env, int fd) {
  vn_instance *inst = vn_instance_get(env);
  for (vn_watcher *w = inst ? inst->watchers : NULL; w; w = w->next)
    if (w->fd == fd) return true;
  return false;
}

static void maybe_free(vn_watcher *w) {
  if (!w->js_alive && !w->uv_open) free(w);
}

static void on_close(uv_handle_t *handle) {
  vn_watcher *w = handle->data;
  napi_handle_scope scope;
  bool scoped = napi_open_handle_scope(w->env, &scope) == napi_ok;
  if (w->callback) napi_delete_reference(w->env, w->callback);
  if (w->async_ctx) napi_async_destroy(w->env, w->async_ctx);
  if (scoped) napi_close_handle_scope(w->env, scope);
  w->callback = NULL;
  w->async_ctx = NULL;
  if (w->cleanup) napi_remove_async_cleanup_hook(w->cleanup);
  w->cleanup = NULL;
  w->uv_open = false;
  maybe_free(w);
}

/* Stop polling and start closing the uv handle. Safe to call any number of times. */
static void watcher_stop(vn_watcher *w) {
  if (w->active) {
    uv_poll_stop(&w->poll);
    vn_instance *inst = vn_instance_get(w->env);
    if (w->prev) w->prev->next = w->next;
    else if (inst && inst->watchers == w) inst->watchers = w->next;
    if (w->next) w->next->prev = w->prev;
    w->prev = w->next = NULL;
    w->active = false;
  }
  if (w->uv_open && !w->closing) {
    w->closing = true;
    uv_close((uv_handle_t *)&w->poll, on_close);
  }
}

static void on_env_cleanup(napi_async_cleanup_hook_handle handle, void *arg) {
  vn_watcher *w = arg;
  (void)handle; /* == w->cleanup; removed by on_close, which tells Node this hook is done */
  watcher_stop(w);
}

static void on_poll(uv_poll_t *handle, int status, int events) {
  (void)events;
  vn_watcher *w = handle->data;
  if (!w->active) return;
  napi_env env = w->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value argv[1], cb, global, result;
  size_t argc = 0;
  if (status < 0) {
    /* The poll failed (e.g. the fd was closed while watched): report once and stop. */
    argv[0] = vn_errno_error(env, "uv_poll", -status);
    argc = argv[0] ? 1 : 0;
    watcher_stop(w); /* the callback reference stays valid until on_close */
  }
  if (napi_get_reference_value(env, w->callback, &cb) == napi_ok && cb && napi_get_global(env, &global) == napi_ok) {
    napi_status s = napi_make_callback(env, w->async_ctx, global, cb, argc, argv, &result);
    if (s == napi_pending_exception) {
      napi_value exception;
      if (napi_get_and_clear_last_exception(env, &exception) == napi_ok) napi_fatal_exception(env, exception);
    }
  }
  napi_close_handle_scope(env, scope);
}

static void stop_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  vn_watcher *w = data;
  w->js_alive = false;
  maybe_free(w);
}

/* The stop function returned by watchFd: returns true if this call stopped the watcher. */
static napi_value stop_js(napi_env env, napi_callback_info info) {
  void *data = NULL;
  size_t argc = 0;
  napi_value result;
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, NULL, NULL, &data));
  vn_watcher *w = data;
  bool was_active = w->active;
  watcher_stop(w);
  NAPI_CALL(env, napi_get_boolean(env, was_active, &result));
  return result;
}

/* watchFd(fd, callback) -> stop function. callback() on readability, callback(error) once on failure. */
static napi_value watch_fd(napi_env env, napi_callback_info info) {
  napi_value argv[2], name, stop;
  napi_valuetype type;
  int fd;
  uv_loop_t *loop;
  if (!vn_get_args(env, info, 2, argv, NULL) || !vn_get_fd(env, argv[0], "fd", &fd)) return NULL;
  if (napi_typeof(env, argv[1], &type) != napi_ok || type != napi_function) {
    vn_throw_type(env, "callback must be a function");
    return NULL;
  }
  vn_instance *inst = vn_instance_get(env);
  NAPI_CALL(env, napi_get_uv_event_loop(env, &loop));
  if (!inst) {
    napi_throw_error(env, "ERR_VGPIO_NATIVE", "vgpio_native: instance data missing");
    return NULL;
  }
  vn_watcher *w = calloc(1, sizeof *w);
  if (!w) {
    vn_throw_errno(env, "watchFd", ENOMEM);
    return NULL;
  }
  w->env = env;
  w->fd = fd;
  w->js_alive = true; /* until a stop function exists, "JS" is this function: freed below on failure */
  w->poll.data = w;
  int r = uv_poll_init(loop, &w->poll, fd);
  if (r < 0) {
    free(w);
    vn_throw_errno(env, "uv_poll_init", -r);
    return NULL;
  }
  w->uv_open = true;
  NAPI_CALL_GOTO(env, napi_create_reference(env, argv[1], 1, &w->callback), fail);
  NAPI_CALL_GOTO(env, napi_create_string_utf8(env, "vgpio:watchFd", NAPI_AUTO_LENGTH, &name), fail);
  NAPI_CALL_GOTO(env, napi_async_init(env, NULL, name, &w->async_ctx), fail);
  NAPI_CALL_GOTO(env, napi_add_async_cleanup_hook(env, on_env_cleanup, w, &w->cleanup), fail);
  NAPI_CALL_GOTO(env, napi_create_function(env, "stop", NAPI_AUTO_LENGTH, stop_js, w, &stop), fail);
  r = uv_poll_start(&w->poll, UV_READABLE, on_poll);
  if (r < 0) {
    vn_throw_errno(env, "uv_poll_start", -r);
    goto fail;
  }
  w->active = true;
  w->next = inst->watchers;
  if (w->next) w->next->prev = w;
  inst->watchers = w;
  if (napi_add_finalizer(env, stop, w, stop_finalize, NULL, NULL) != napi_ok) {
    /* Without the finalizer nobody would free w: stop now and keep w forever (a tiny leak, no crash). */
    watcher_stop(w);
    vn_throw_last_napi_error(env, "napi_add_finalizer");
    return NULL;
  }
  return stop;
fail:
  w->js_alive = false; /* nothing in JS refers to w: on_close frees it */
  watcher_stop(w);
  return NULL;
}

napi_status vn_init_watch(napi_env env, napi_value exports) { return vn_export(env, exports, "watchFd", watch_fd); }
