/*
 * libFuzzer target fw-slip: the SLIP decoder (src/proto/slip.c) on hostile byte streams.
 *
 * Input: byte 0 picks the chunk size the stream is fed in (1..64 bytes, as USB packets split it), the
 * rest is the stream. Checked for every call of slip_dec_feed:
 *   - progress: it consumes at least one byte of a non-empty input and never more than it was given;
 *   - a frame result only at the END that ended it, with 8 <= frame_len <= 264 (VG_MIN/MAX_FRAME);
 *   - SLIP_FRAME only with a good CRC (recomputed here with crc32c());
 *   - the same result, the same number of bytes consumed and, for a frame or a CRC error, the same
 *     frame bytes as a reference decoder written straight from PROTOCOL.md §1.3 (one byte at a time,
 *     no fast paths), whatever the chunking and the alignment of the bytes;
 * and, independently of the stream, the round trip: the stream's first 264 bytes wrapped as a frame
 * (frame_build_raw + slip_escape + END) decode back to exactly those bytes. Any failed check aborts,
 * which libFuzzer reports as a crash; ASan/UBSan catch out-of-bounds writes into the 264-byte buffer.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/crc32c.h"
#include "proto/frame.h"
#include "proto/slip.h"

#define CHECK(cond)                                                                                      \
    do {                                                                                                 \
        if (!(cond)) {                                                                                   \
            fprintf(stderr, "fw-slip: check failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);          \
            abort();                                                                                     \
        }                                                                                                \
    } while (0)

/* The reference: PROTOCOL.md §1.3 one byte at a time. */
typedef struct {
    uint8_t buf[VG_MAX_FRAME];
    size_t len, frame_len;
    int esc, bad;
} ref_dec_t;

static slip_result_t ref_feed(ref_dec_t *r, const uint8_t *src, size_t n, size_t *used)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t b = src[i];
        if (b == SLIP_END) {
            slip_result_t res;
            if (r->esc || r->bad) {
                res = SLIP_FRAMING_ERROR;       /* ESC END, a bad escape or an oversize frame */
            } else if (r->len == 0) {
                continue;                       /* empty frame: ignored */
            } else if (r->len < VG_MIN_FRAME) {
                res = SLIP_FRAMING_ERROR;
            } else {
                uint32_t want = crc32c(r->buf, r->len - VG_CRC_LEN);
                res = want == rd32(r->buf + r->len - VG_CRC_LEN) ? SLIP_FRAME : SLIP_CRC_ERROR;
            }
            r->frame_len = r->len;
            r->len = 0;
            r->esc = r->bad = 0;
            *used = i + 1;
            return res;
        }
        if (r->esc) {
            r->esc = 0;
            if (b == SLIP_ESC_END)
                b = SLIP_END;
            else if (b == SLIP_ESC_ESC)
                b = SLIP_ESC;
            else
                r->bad = 1;
        } else if (b == SLIP_ESC) {
            r->esc = 1;
            continue;
        }
        if (r->bad)
            continue;
        if (r->len == VG_MAX_FRAME) {
            r->bad = 1;
            continue;
        }
        r->buf[r->len++] = b;
    }
    *used = n;
    return SLIP_NEED_MORE;
}

static void stream(const uint8_t *data, size_t size, size_t chunk)
{
    static slip_dec_t d;
    static ref_dec_t ref;
    slip_dec_init(&d);
    memset(&ref, 0, sizeof ref);
    while (size) {
        size_t n = size < chunk ? size : chunk;
        size_t at = 0;
        while (at < n) {
            size_t used = 0;
            slip_result_t r = slip_dec_feed(&d, data + at, n - at, &used);
            size_t ref_used = 0;
            slip_result_t ref_r = ref_feed(&ref, data + at, n - at, &ref_used);
            CHECK(r == ref_r && used == ref_used);
            if (r == SLIP_FRAME || r == SLIP_CRC_ERROR)
                CHECK(d.frame_len == ref.frame_len && memcmp(d.frame, ref.buf, ref.frame_len) == 0);
            CHECK(used >= 1 && used <= n - at);
            at += used;
            if (r == SLIP_NEED_MORE) {
                CHECK(at == n);
                continue;
            }
            CHECK(data[at - 1] == SLIP_END);
            if (r == SLIP_FRAME || r == SLIP_CRC_ERROR) {
                CHECK(d.frame_len >= VG_MIN_FRAME && d.frame_len <= VG_MAX_FRAME);
                uint32_t want = crc32c(d.frame, d.frame_len - VG_CRC_LEN);
                CHECK((want == rd32(d.frame + d.frame_len - VG_CRC_LEN)) == (r == SLIP_FRAME));
            } else {
                CHECK(r == SLIP_FRAMING_ERROR);
            }
        }
        data += n;
        size -= n;
    }
}

static void round_trip(const uint8_t *data, size_t size)
{
    static uint8_t raw[VG_MAX_FRAME];
    static uint8_t enc[VG_MAX_ENCODED];
    static slip_dec_t d;
    size_t payload = size > VG_MAX_PAYLOAD ? VG_MAX_PAYLOAD : size;
    size_t len = frame_build_raw(raw, VG_PROTOCOL_VERSION, size ? data[0] : 0, 7, data, payload);
    size_t n = 0;
    enc[n++] = SLIP_END;
    n += slip_escape(enc + n, raw, len);
    enc[n++] = SLIP_END;
    CHECK(n <= VG_MAX_ENCODED);
    slip_dec_init(&d);
    size_t used = 0;
    CHECK(slip_dec_feed(&d, enc, n, &used) == SLIP_FRAME);
    CHECK(used == n);
    CHECK(d.frame_len == len && memcmp(d.frame, raw, len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t chunk = 1u + data[0] % 64u;
    /* The stream at each alignment (the decoder reads whole words where the bytes allow), in a buffer of
     * exactly its size, so ASan sees any read past the end. */
    for (size_t a = 0; a < 4; a++) {
        uint8_t *copy = malloc(a + size - 1);
        CHECK(copy != NULL);
        memcpy(copy + a, data + 1, size - 1);
        stream(copy + a, size - 1, chunk);
        free(copy);
    }
    round_trip(data + 1, size - 1);
    return 0;
}
