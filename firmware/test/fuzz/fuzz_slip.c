/*
 * libFuzzer target fw-slip: the SLIP decoder (src/proto/slip.c) on hostile byte streams.
 *
 * Input: byte 0 picks the chunk size the stream is fed in (1..64 bytes, as USB packets split it), the
 * rest is the stream. Checked for every call of slip_dec_feed:
 *   - progress: it consumes at least one byte of a non-empty input and never more than it was given;
 *   - a frame result only at the END that ended it, with 8 <= frame_len <= 264 (VG_MIN/MAX_FRAME);
 *   - SLIP_FRAME only with a good CRC (recomputed here with crc32c());
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

static void stream(const uint8_t *data, size_t size, size_t chunk)
{
    static slip_dec_t d;
    slip_dec_init(&d);
    while (size) {
        size_t n = size < chunk ? size : chunk;
        size_t at = 0;
        while (at < n) {
            size_t used = 0;
            slip_result_t r = slip_dec_feed(&d, data + at, n - at, &used);
            CHECK(used >= 1 && used <= n - at);
            at += used;
            if (r == SLIP_NEED_MORE) {
                CHECK(at == n);
                continue;
            }
            CHECK(data[at - 1] == SLIP_END);
            if (r == SLIP_FRAME || r == SLIP_CRC_ERROR) {
                CHECK(d.frame_len >= VG_MIN_FRAME && d.frame_len <= VG_MAX_FRAME);
                uint32_t want = crc32c(d.buf, d.frame_len - VG_CRC_LEN);
                CHECK((want == rd32(d.buf + d.frame_len - VG_CRC_LEN)) == (r == SLIP_FRAME));
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
    CHECK(d.frame_len == len && memcmp(d.buf, raw, len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t chunk = 1u + data[0] % 64u;
    stream(data + 1, size - 1, chunk);
    round_trip(data + 1, size - 1);
    return 0;
}
