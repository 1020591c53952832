/*
 * mmapFd / munmap: guest memory shared by the vhost-user frontend (a memfd or a /dev/shm file) mapped
 * MAP_SHARED and exposed as an external ArrayBuffer. Node has no mmap at all.
 *
 * Lifetime: the mapping record is the ArrayBuffer's finalize hint. The finalizer (run on the JS thread
 * after the ArrayBuffer's backing store is freed, i.e. after GC, or at environment teardown) unmaps
 * unless munmap() already did, then frees the record. munmap() detaches the ArrayBuffer first, so no
 * JS view can reach the pages after they are gone, then unmaps at once.
 *
 * munmap() finds the record through napi_wrap on the ArrayBuffer; a type tag marks our ArrayBuffers so
 * that a second munmap() is a no-op and a foreign ArrayBuffer is a TypeError.
 */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Node 20's largest Buffer (buffer.constants.MAX_LENGTH, 2^32): napi_create_external_arraybuffer fails
 * above it, so refuse such lengths up front. */
#define VN_MAX_MAPPING ((uint64_t)1 << 32)

typedef struct {
  void *base;     /* page-aligned start of the mapping */
  size_t map_len; /* length of the mapping (window + the offset's misalignment) */
  bool unmapped;
} mapping;

static const napi_type_tag mapping_tag = { 0x766770696f6d6d61ULL, 0x7070696e67763031ULL }; /* "vgpiomma" "ppingv01" */

static void mapping_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)data;
  mapping *m = hint;
  if (!m->unmapped) munmap(m->base, m->map_len);
  free(m);
}

/*
 * mmapFd(fd, offset, length, writable) -> ArrayBuffer of exactly `length` bytes showing the file from
 * `offset`. writable: MAP_SHARED read-write; otherwise MAP_PRIVATE (reads see the file, writes stay
 * private). The offset need not be page aligned: the page-aligned range around it is mapped.
 * For regular files (memfd, /dev/shm, hugetlbfs) a window past the end of the file is refused (EINVAL)
 * because touching it would raise SIGBUS.
 */
static napi_value mmap_fd(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  int fd;
  uint64_t offset, length;
  bool writable;
  if (!vn_get_args(env, info, 4, argv, NULL) || !vn_get_fd(env, argv[0], "fd", &fd) ||
      !vn_get_u64(env, argv[1], "offset", (uint64_t)INT64_MAX, &offset) ||
      !vn_get_u64(env, argv[2], "length", (uint64_t)VN_MAX_SAFE_INTEGER, &length) ||
      !vn_get_bool(env, argv[3], "writable", &writable))
    return NULL;
  if (length == 0 || length > VN_MAX_MAPPING) {
    vn_throw_range(env, "length must be from 1 to 4294967296 (4 GiB, the largest Buffer in Node 20); map larger regions in windows");
    return NULL;
  }
  if (offset + length > (uint64_t)INT64_MAX) {
    vn_throw_range(env, "offset + length is beyond the largest file offset");
    return NULL;
  }
  struct stat st;
  if (fstat(fd, &st) < 0) {
    vn_throw_errno(env, "fstat", errno);
    return NULL;
  }
  if (S_ISREG(st.st_mode) && offset + length > (uint64_t)st.st_size) {
    char message[200];
    snprintf(message, sizeof message, "mmap: EINVAL (window %llu+%llu is past the end of the file, which has %lld bytes)",
             (unsigned long long)offset, (unsigned long long)length, (long long)st.st_size);
    vn_throw_coded(env, "mmap", "EINVAL", message);
    return NULL;
  }
  uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
  uint64_t aligned = offset & ~(page - 1);
  size_t delta = (size_t)(offset - aligned);
  size_t map_len = (size_t)length + delta;

  mapping *m = calloc(1, sizeof *m);
  if (!m) {
    vn_throw_errno(env, "mmap", ENOMEM);
    return NULL;
  }
  /* Read-only requests get a private copy-on-write mapping rather than PROT_READ: JS cannot be stopped
   * from writing an ArrayBuffer, and a write to a PROT_READ page would kill the process (SIGSEGV). */
  void *base = mmap(NULL, map_len, PROT_READ | PROT_WRITE, writable ? MAP_SHARED : MAP_PRIVATE, fd, (off_t)aligned);
  if (base == MAP_FAILED) {
    int err = errno;
    free(m);
    vn_throw_errno(env, "mmap", err);
    return NULL;
  }
  m->base = base;
  m->map_len = map_len;

  napi_value ab;
  if (napi_create_external_arraybuffer(env, (char *)base + delta, (size_t)length, mapping_finalize, m, &ab) != napi_ok) {
    /* Node may already have run (or queued) the finalizer on this failure path, which unmaps and frees
     * m; doing it here too could double-free. Leaking one mapping is the lesser evil. The length check
     * above keeps us off this path in practice. */
    vn_throw_last_napi_error(env, "napi_create_external_arraybuffer");
    return NULL;
  }
  /* From here on the finalizer owns m. Failing to tag/wrap leaves a working mapping that munmap()
   * cannot release early; GC still does. Report the failure anyway. */
  NAPI_CALL(env, napi_type_tag_object(env, ab, &mapping_tag));
  NAPI_CALL(env, napi_wrap(env, ab, m, NULL, NULL, NULL));
  return ab;
}

/*
 * munmap(arrayBuffer): detach an ArrayBuffer made by mmapFd and unmap its pages now. Idempotent.
 * If something else already detached it (e.g. it was transferred), the pages are left to the
 * finalizer, since another owner may still be using them.
 */
static napi_value munmap_js(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  bool is_ab = false, tagged = false, detached = false;
  if (!vn_get_args(env, info, 1, argv, NULL)) return NULL;
  if (napi_is_arraybuffer(env, argv[0], &is_ab) != napi_ok || !is_ab ||
      napi_check_object_type_tag(env, argv[0], &mapping_tag, &tagged) != napi_ok || !tagged) {
    vn_throw_type(env, "munmap: argument must be an ArrayBuffer returned by mmapFd");
    return NULL;
  }
  void *data = NULL;
  if (napi_remove_wrap(env, argv[0], &data) != napi_ok || !data) return NULL; /* already unmapped */
  mapping *m = data;
  NAPI_CALL(env, napi_is_detached_arraybuffer(env, argv[0], &detached));
  if (detached) return NULL; /* not ours to unmap any more; the finalizer will */
  NAPI_CALL(env, napi_detach_arraybuffer(env, argv[0]));
  /* The finalizer may already be queued by the detach, but it runs later, from the event loop. */
  if (!m->unmapped) {
    m->unmapped = true;
    if (munmap(m->base, m->map_len) < 0) vn_throw_errno(env, "munmap", errno);
  }
  return NULL;
}

napi_status vn_init_mapping(napi_env env, napi_value exports) {
  napi_status s;
  if ((s = vn_export(env, exports, "mmapFd", mmap_fd)) != napi_ok) return s;
  return vn_export(env, exports, "munmap", munmap_js);
}
