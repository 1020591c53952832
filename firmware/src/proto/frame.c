/* Frame encoder, see frame.h. */
#include "proto/frame.h"

#include "proto/crc32c.h"

/* The encoder works a 32-bit word at a time where it can: the CRC takes a whole little-endian word
 * (crc ^= w, then four table steps; no per-byte data XOR), and a word whose bytes are all below 0xC0
 * (no byte with bits 7 and 6 both set, which both SLIP specials 0xC0 and 0xDB have) is stored without
 * per-byte escape checks. About 12 instead of ~21 cycles per byte on the M0+ (firmware/README.md). */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "word-wise CRC and escaping assume little-endian");
#define ESC_CANDIDATES 0x80808080u      /* bit 7 of each byte, after w & (w << 1) */

static inline uint32_t crc_word(const uint32_t *t, uint32_t crc, uint32_t w)
{
    crc ^= w;
    crc = crc32c_lookup(t, crc) ^ (crc >> 8);
    crc = crc32c_lookup(t, crc) ^ (crc >> 8);
    crc = crc32c_lookup(t, crc) ^ (crc >> 8);
    crc = crc32c_lookup(t, crc) ^ (crc >> 8);
    return crc;
}

static inline uint8_t *esc_byte(uint8_t *p, uint32_t b)
{
    if (b == SLIP_END || b == SLIP_ESC) {
        *p++ = SLIP_ESC;
        b = b == SLIP_END ? SLIP_ESC_END : SLIP_ESC_ESC;
    }
    *p++ = (uint8_t)b;
    return p;
}

/* A word with a SLIP special in it: out of line, so the loop keeps its registers for the common case. */
static __attribute__((noinline)) uint8_t *esc_word_bytes(uint8_t *p, uint32_t w)
{
    for (unsigned i = 0; i < 4; i++, w >>= 8)
        p = esc_byte(p, w & 0xffu);
    return p;
}

/* Exact test for a 0xC0 or 0xDB byte in w (the zero-byte test on w ^ 0xC0.. and w ^ 0xDB..), run only
 * on words the cheap filter flags: counters, timestamps and CRCs often have bytes 0xC0..0xFF that need
 * no escape. */
static inline uint32_t has_special(uint32_t w)
{
    uint32_t x = w ^ (SLIP_END * 0x01010101u), y = w ^ (SLIP_ESC * 0x01010101u);
    return (((x - 0x01010101u) & ~x) | ((y - 0x01010101u) & ~y)) & 0x80808080u;
}

static inline uint8_t *esc_word(uint8_t *p, uint32_t w)
{
    if (__builtin_expect((w & (w << 1) & ESC_CANDIDATES) != 0, 0) && has_special(w))
        return esc_word_bytes(p, w);
    p[0] = (uint8_t)w;
    p[1] = (uint8_t)(w >> 8);
    p[2] = (uint8_t)(w >> 16);
    p[3] = (uint8_t)(w >> 24);
    return p + 4;
}

size_t frame_encode(uint8_t *dst, uint8_t type, uint16_t seq, const uint8_t *payload, size_t len)
{
    const uint32_t *t = crc32c_table;
    uint32_t hdr = VG_PROTOCOL_VERSION | (uint32_t)type << 8 | (uint32_t)seq << 16;
    uint32_t crc = crc_word(t, CRC32C_INIT, hdr);
    uint8_t *p = dst;
    *p++ = SLIP_END;
    p = esc_word(p, hdr);

    const uint8_t *s = payload, *end = payload + len;
    /* Bytes up to the first word boundary of the payload (none for the core's aligned scratch). */
    while (s < end && ((uintptr_t)s & 3u)) {
        uint32_t b = *s++;
        crc = crc32c_lookup(t, crc ^ b) ^ (crc >> 8);
        p = esc_byte(p, b);
    }
    const uint32_t *w = __builtin_assume_aligned(s, 4);
    for (size_t nw = (size_t)(end - s) / 4u; nw; nw--) {
        uint32_t v;
        __builtin_memcpy(&v, w++, 4);
        crc = crc_word(t, crc, v);
        p = esc_word(p, v);
    }
    for (s = (const uint8_t *)w; s < end; s++) {
        uint32_t b = *s;
        crc = crc32c_lookup(t, crc ^ b) ^ (crc >> 8);
        p = esc_byte(p, b);
    }
    p = esc_word(p, crc ^ CRC32C_XOROUT);       /* le32 CRC */
    *p++ = SLIP_END;
    return (size_t)(p - dst);
}

size_t frame_build_raw(uint8_t *dst, uint8_t version, uint8_t type, uint16_t seq, const uint8_t *payload,
                       size_t len)
{
    dst[0] = version;
    dst[1] = type;
    wr16(dst + 2, seq);
    for (size_t i = 0; i < len; i++)
        dst[VG_HDR_LEN + i] = payload[i];
    wr32(dst + VG_HDR_LEN + len, crc32c(dst, VG_HDR_LEN + len));
    return VG_HDR_LEN + len + VG_CRC_LEN;
}
