/* SLIP decoder/encoder, see slip.h. PROTOCOL.md §1 and the receiver rules of §1.3. */
#include "proto/slip.h"

#include "proto/crc32c.h"

void slip_dec_init(slip_dec_t *d)
{
    d->crc = CRC32C_INIT;
    d->len = 0;
    d->frame_len = 0;
    d->esc = 0;
    d->bad = 0;
    d->frame = d->buf;
}

/* The general decoder: any state, any byte. slip_dec_feed() hands over to it at the first byte its fast
 * path does not handle. */
static __attribute__((noinline)) slip_result_t feed_general(slip_dec_t *d, const uint8_t *src, size_t n,
                                                            size_t *used)
{
    /* Local copies keep the loop in registers. */
    uint32_t crc = d->crc;
    unsigned len = d->len;
    unsigned esc = d->esc;
    unsigned bad = d->bad;
    const uint32_t *t = crc32c_table;
    const uint8_t *s = src, *end = src + n;
    slip_result_t res = SLIP_NEED_MORE;

    while (s < end) {
        if (!esc && !bad) {
            /* Fast path, almost every byte: a plain byte inside a frame that still fits. Stored and
             * CRC'd with no state checks; the bound on `stop` replaces the per-byte length check. */
            uint8_t *dst = d->buf + len;
            const uint8_t *stop = end;
            if ((size_t)(stop - s) > VG_MAX_FRAME - len)
                stop = s + (VG_MAX_FRAME - len);
            while (s < stop) {
                uint32_t c = *s;
                if (c == SLIP_END || c == SLIP_ESC)
                    break;
                s++;
                *dst++ = (uint8_t)c;
                crc = crc32c_lookup(t, crc ^ c) ^ (crc >> 8);
            }
            len = (unsigned)(dst - d->buf);
            if (s == end)
                break;
        }
        /* Slow path, one byte: END, ESC, the byte after ESC, a discarded byte, or an oversize one. */
        unsigned b = *s++;
        if (b == SLIP_END) {
            if (esc)
                bad = 1;                        /* ESC END: invalid escape */
            if (bad) {
                res = SLIP_FRAMING_ERROR;
            } else if (len == 0) {
                esc = 0;
                continue;                       /* empty frame: ignore */
            } else if (len < VG_MIN_FRAME) {
                res = SLIP_FRAMING_ERROR;
            } else {
                res = crc == CRC32C_RESIDUE ? SLIP_FRAME : SLIP_CRC_ERROR;
            }
            d->frame = d->buf;
            d->frame_len = (uint16_t)len;
            crc = CRC32C_INIT;
            len = 0;
            esc = 0;
            bad = 0;
            break;
        }
        if (esc) {
            esc = 0;
            if (b == SLIP_ESC_END)
                b = SLIP_END;
            else if (b == SLIP_ESC_ESC)
                b = SLIP_ESC;
            else
                bad = 1;                        /* ESC followed by anything else */
        } else if (b == SLIP_ESC) {
            esc = 1;
            continue;
        }
        if (bad)
            continue;                           /* discard up to the next END */
        if (len >= VG_MAX_FRAME) {
            bad = 1;                            /* more than 264 unescaped bytes */
            continue;
        }
        d->buf[len++] = (uint8_t)b;
        crc = crc32c_lookup(t, crc ^ b) ^ (crc >> 8);
    }
    d->crc = crc;
    d->len = (uint16_t)len;
    d->esc = (uint8_t)esc;
    d->bad = (uint8_t)bad;
    *used = (size_t)(s - src);
    return res;
}

size_t slip_escape(uint8_t *dst, const uint8_t *src, size_t n)
{
    uint8_t *p = dst;
    while (n--) {
        uint8_t b = *src++;
        if (b == SLIP_END) {
            *p++ = SLIP_ESC;
            *p++ = SLIP_ESC_END;
        } else if (b == SLIP_ESC) {
            *p++ = SLIP_ESC;
            *p++ = SLIP_ESC_ESC;
        } else {
            *p++ = b;
        }
    }
    return (size_t)(p - dst);
}

/* The fast paths stop at a byte they do not handle (or at the end of the input) with `len` bytes decoded
 * into d->buf and `crc` over them: keep that state, and let feed_general() take the rest from s. */
static inline slip_result_t save_and_continue(slip_dec_t *d, uint32_t crc, unsigned len, const uint8_t *src,
                                              const uint8_t *s, const uint8_t *end, size_t *used)
{
    d->crc = crc;
    d->len = (uint16_t)len;
    size_t done = (size_t)(s - src);
    if (s == end) {
        *used = done;
        return SLIP_NEED_MORE;
    }
    slip_result_t r = feed_general(d, s, (size_t)(end - s), used);
    *used += done;
    return r;
}

/* Fast path of the copying decoder, for the rest of a frame that started in an earlier call: plain
 * bytes, the closing END. It keeps only the CRC and the length live, so the set-up is small; ESC and an
 * oversize or short frame go to feed_general() with the state saved. */
static __attribute__((noinline)) slip_result_t feed_copy(slip_dec_t *d, const uint8_t *src, size_t n,
                                                         size_t *used)
{
    const uint8_t *s = src, *end = src + n;
    unsigned len = d->len;
    const uint32_t *t = crc32c_table;
    uint32_t crc = d->crc;
    uint8_t *dst = d->buf + len;
    const uint8_t *stop = end;
    if ((size_t)(end - s) > VG_MAX_FRAME - len)
        stop = s + (VG_MAX_FRAME - len);
    /* Two bytes per iteration while two remain (loop overhead halved); SLIP_END and SLIP_ESC are the
     * only bytes in 0xC0..0xDB that stop it, so one range test guards both compares. */
    while (stop - s >= 2) {
        uint32_t c0 = s[0], c1 = s[1];
        if (__builtin_expect(c0 - SLIP_END <= SLIP_ESC - SLIP_END, 0) && (c0 == SLIP_END || c0 == SLIP_ESC))
            break;
        if (__builtin_expect(c1 - SLIP_END <= SLIP_ESC - SLIP_END, 0) && (c1 == SLIP_END || c1 == SLIP_ESC)) {
            dst[0] = (uint8_t)c0;
            crc = crc32c_lookup(t, crc ^ c0) ^ (crc >> 8);
            s++;
            dst++;
            break;
        }
        dst[0] = (uint8_t)c0;
        dst[1] = (uint8_t)c1;
        crc = crc32c_lookup(t, crc ^ c0) ^ (crc >> 8);
        crc = crc32c_lookup(t, crc ^ c1) ^ (crc >> 8);
        s += 2;
        dst += 2;
    }
    if (s < stop) {
        uint32_t c = *s;
        if (c != SLIP_END && c != SLIP_ESC) {
            *dst++ = (uint8_t)c;
            crc = crc32c_lookup(t, crc ^ c) ^ (crc >> 8);
            s++;
        }
    }
    len = (unsigned)(dst - d->buf);
    if (s < end && *s == SLIP_END && len >= VG_MIN_FRAME) {
        d->frame = d->buf;
        d->frame_len = (uint16_t)len;
        d->crc = CRC32C_INIT;
        d->len = 0;
        *used = (size_t)(s + 1 - src);
        return crc == CRC32C_RESIDUE ? SLIP_FRAME : SLIP_CRC_ERROR;
    }
    return save_and_continue(d, crc, len, src, s, end, used);
}

/* Bit 7 of each byte of w & (w << 1) & ~(w << 2) is set for a byte whose top bits are 110 (0xC0..0xDF),
 * as both SLIP specials 0xC0 and 0xDB are: a cheap filter that lets 0xE0..0xFF through (all-ones line
 * masks; a random byte, e.g. of a CRC, is flagged one time in eight). */
#define SPECIAL_CANDIDATES 0x80808080u
static inline uint32_t special_candidates(uint32_t w)
{
#if defined(__thumb__) && !defined(__thumb2__)
    /* GCC's Thumb-1 code for the C below copies w twice first (it needs w afterwards); this is the
     * same expression in four instructions. */
    uint32_t a, b;
    __asm__(".syntax unified\n\tlsls %0, %2, #1\n\tands %0, %0, %2\n\tlsls %1, %2, #2\n\tbics %0, %0, %1"
            : "=&l"(a), "=&l"(b) : "l"(w) : "cc");
    return a & SPECIAL_CANDIDATES;
#else
    return w & (w << 1) & ~(w << 2) & SPECIAL_CANDIDATES;
#endif
}

/* CRC the bytes from s up to the first END or ESC, or up to stop; returns the CRC register in the low
 * half and the number of bytes it stopped short of stop in the high half (r0 and r1 on the M0+: nothing
 * goes through memory, and with no start pointer to keep the loops fit in r0-r7). Whole aligned words
 * where it can (one load, the filter above, one XOR and four table steps: ~9 cycles per byte), bytes
 * one at a time (~15) up to a word boundary, through a flagged word (the END is usually in one) and at
 * the tail. Out of line, so its loops have the registers to themselves. */
static __attribute__((noinline)) uint64_t crc_scan(const uint8_t *s, const uint8_t *stop)
{
    const uint32_t *t = crc32c_table;
    uint32_t crc = CRC32C_INIT;
    size_t k = (size_t)(-(uintptr_t)s & 3u);
    for (;;) {
        if (k > (size_t)(stop - s))
            k = (size_t)(stop - s);
        for (const uint8_t *b = s + k; s < b; s++) {
            uint32_t c = *s;
            if (__builtin_expect(c >= SLIP_END, 0) && (c == SLIP_END || c == SLIP_ESC))
                goto out;
            crc = crc32c_lookup(t, crc ^ c) ^ (crc >> 8);
        }
        for (const uint8_t *wend = s + ((size_t)(stop - s) >> 2 << 2); s != wend; s += 4) {
            uint32_t v;
            __builtin_memcpy(&v, __builtin_assume_aligned(s, 4), 4);
            if (special_candidates(v))
                break;
            crc ^= v;
            crc = crc32c_lookup(t, crc) ^ (crc >> 8);
            crc = crc32c_lookup(t, crc) ^ (crc >> 8);
            crc = crc32c_lookup(t, crc) ^ (crc >> 8);
            crc = crc32c_lookup(t, crc) ^ (crc >> 8);
        }
        if (s == stop)
            break;
        k = 4;
    }
out:
    return (uint64_t)(size_t)(stop - s) << 32 | crc;
}

/* The usual input is a whole request in one call: leading ENDs, plain bytes, the closing END. Such a
 * frame is its own decoding, so it is not copied: the bytes are only CRC'd (crc_scan, ~9-15 cycles per
 * byte instead of the copying loop's ~18 on the M0+, see firmware/README.md), and the frame is reported
 * where it is, in src. Anything else (a frame started by an earlier call, an ESC, the input ending
 * before the END, an oversize or short frame) goes to the copying decoder, which gets the bytes
 * scanned so far as if it had decoded them itself. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the word-wise CRC takes the bytes in wire order");
slip_result_t slip_dec_feed(slip_dec_t *d, const uint8_t *src, size_t n, size_t *used)
{
    if (d->esc | d->bad)
        return feed_general(d, src, n, used);
    if (d->len)
        return feed_copy(d, src, n, used);
    const uint8_t *s = src, *end = src + n;
    while (s < end && *s == SLIP_END)
        s++;                                    /* empty frames: ignored (§1.3) */
    const uint8_t *f = s;
    const uint8_t *stop = (size_t)(end - s) > VG_MAX_FRAME ? s + VG_MAX_FRAME : end;
    uint64_t scan = crc_scan(s, stop);
    uint32_t crc = (uint32_t)scan;
    s = stop - (size_t)(scan >> 32);
    unsigned len = (unsigned)(s - f);
    if (s < end && *s == SLIP_END && len >= VG_MIN_FRAME) {
        d->frame = f;
        d->frame_len = (uint16_t)len;
        *used = (size_t)(s + 1 - src);
        return crc == CRC32C_RESIDUE ? SLIP_FRAME : SLIP_CRC_ERROR;
    }
    for (unsigned i = 0; i < len; i++)
        d->buf[i] = f[i];
    return save_and_continue(d, crc, len, src, s, end, used);
}
