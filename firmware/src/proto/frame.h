/*
 * Frame codec, PROTOCOL.md §1.1: version, type, le16 seq, payload, le32 CRC-32C, sent SLIP-encoded.
 * Little-endian field helpers for building and parsing payloads. Portable C11.
 */
#ifndef VGPIO_PROTO_FRAME_H
#define VGPIO_PROTO_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "proto/protocol.h"

static inline uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | ((uint64_t)rd32(p + 4) << 32); }
static inline void wr16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}
static inline void wr64(uint8_t *p, uint64_t v) { wr32(p, (uint32_t)v); wr32(p + 4, (uint32_t)(v >> 32)); }
/* The same for a destination known to be 4-byte aligned: word stores on a little-endian target. */
static inline void wr32_aligned(uint8_t *p, uint32_t v)
{
    _Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "wr32_aligned stores host-order words");
    __builtin_memcpy(__builtin_assume_aligned(p, 4), &v, 4);
}
static inline void wr64_aligned(uint8_t *p, uint64_t v)
{
    wr32_aligned(p, (uint32_t)v);
    wr32_aligned(p + 4, (uint32_t)(v >> 32));
}

/* Encode a whole frame (version 1) for the wire: END, escaped header + payload + CRC, END. CRC and
 * escaping are done in one pass. dst must hold VG_MAX_ENCODED bytes; len <= VG_MAX_PAYLOAD. Returns the
 * encoded length. */
size_t frame_encode(uint8_t *dst, uint8_t type, uint16_t seq, const uint8_t *payload, size_t len);

/* Same, but only build the unescaped frame (header, payload, CRC) into dst; returns its length. */
size_t frame_build_raw(uint8_t *dst, uint8_t version, uint8_t type, uint16_t seq, const uint8_t *payload,
                       size_t len);

#endif
