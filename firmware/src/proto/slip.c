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
                crc = t[(crc ^ c) & 0xffu] ^ (crc >> 8);
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
        crc = t[(crc ^ b) & 0xffu] ^ (crc >> 8);
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

/* Fast path for the usual input, one whole request per call: leading ENDs, plain bytes, the closing
 * END. It keeps only the CRC and the length live, so the per-request set-up is small; ESC, an
 * oversize or short frame and a frame split across calls go to feed_general() with the state saved. */
slip_result_t slip_dec_feed(slip_dec_t *d, const uint8_t *src, size_t n, size_t *used)
{
    if (d->esc | d->bad)
        return feed_general(d, src, n, used);
    const uint8_t *s = src, *end = src + n;
    unsigned len = d->len;
    if (len == 0) {
        while (s < end && *s == SLIP_END)
            s++;                                /* empty frames: ignored (§1.3) */
    }
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
            crc = t[(uint8_t)(crc ^ c0)] ^ (crc >> 8);
            s++;
            dst++;
            break;
        }
        dst[0] = (uint8_t)c0;
        dst[1] = (uint8_t)c1;
        crc = t[(uint8_t)(crc ^ c0)] ^ (crc >> 8);
        crc = t[(uint8_t)(crc ^ c1)] ^ (crc >> 8);
        s += 2;
        dst += 2;
    }
    if (s < stop) {
        uint32_t c = *s;
        if (c != SLIP_END && c != SLIP_ESC) {
            *dst++ = (uint8_t)c;
            crc = t[(uint8_t)(crc ^ c)] ^ (crc >> 8);
            s++;
        }
    }
    len = (unsigned)(dst - d->buf);
    if (s < end && *s == SLIP_END && len >= VG_MIN_FRAME) {
        d->frame_len = (uint16_t)len;
        d->crc = CRC32C_INIT;
        d->len = 0;
        *used = (size_t)(s + 1 - src);
        return crc == CRC32C_RESIDUE ? SLIP_FRAME : SLIP_CRC_ERROR;
    }
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
