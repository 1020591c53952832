/*
 * libFuzzer target fw-dispatch: the whole receive path of the protocol core (SLIP decoder, frame
 * checks, request dispatcher, line state machine, pulses, failsafe, events) driven by a host that sends
 * anything, against the fake HAL of the host tests.
 *
 * The input is a script of operations, so that most frames pass the CRC and reach the dispatcher:
 *   op % 8 == 0  raw bytes: n = next % 64, then n bytes straight into vg_rx (garbage, cut frames)
 *   op % 8 == 1  a valid frame for a known request: type 1 + next % 13, seq, n = next, payload
 *   op % 8 == 2  a valid frame of any type byte (requests, replies, events, unknown)
 *   op % 8 == 3  a valid frame with another protocol version: version, type, payload
 *   op % 8 == 4  time passes: next two bytes * 16 us (pulses end, debounce settles, failsafe trips)
 *   op % 8 == 5  the outside world drives a line: next byte = line % 30, bit 7 = level, bit 6 = release
 *   op % 8 == 6  main loop pass: vg_poll, then drain every event frame
 *   op % 8 == 7  like 1 with a payload the right size for the type (deep paths, mostly valid requests)
 * (n is clipped to what the input has left.) After every operation:
 *   - every reply and event frame decodes (one frame, good CRC) and fits VG_MAX_ENCODED;
 *   - a valid frame (sent after an END that closes earlier raw bytes) with a request type (0x01..0x3F)
 *     gets exactly one reply, with the request's seq and type | 0x80 (VERSION_MISMATCH for another
 *     version); anything else gets none;
 *   - reserved lines (VG_RESERVED_MASK: GP23, GP24, GP29) are never driven: OE and OUT stay clear;
 *   - draining events ends (the event source is bounded), a hang check independent of libFuzzer's timer.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dev.h"
#include "fake_hal.h"
#include "hal/hal.h"
#include "proto/core.h"
#include "proto/frame.h"
#include "proto/slip.h"
#include "proto/vg_config.h"

#define CHECK(cond)                                                                                      \
    do {                                                                                                 \
        if (!(cond)) {                                                                                   \
            fprintf(stderr, "fw-dispatch: check failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);      \
            abort();                                                                                     \
        }                                                                                                \
    } while (0)

/* Payload sizes of the fixed-size requests (PROTOCOL.md §3), indexed by type. */
static const uint8_t REQUEST_SIZE[] = { 0, 2, 0, 0, 16, 8, 4, 8, 16, 0, 0, 8, 1, 4 };
/* Events drained per main-loop pass before we call it a hang: the ring holds 256 records, 31 per
 * frame, plus one pending PULSE_DONE per line, one LEVEL group per line and a FAILSAFE_TRIPPED. */
#define MAX_EVENTS_PER_PASS 200u

typedef struct {
    const uint8_t *p;
    size_t left;
} input_t;

static unsigned next(input_t *in)
{
    if (!in->left)
        return 0;
    in->left--;
    return *in->p++;
}

static const uint8_t *take(input_t *in, size_t *n)
{
    if (*n > in->left)
        *n = in->left;
    const uint8_t *p = in->p;
    in->p += *n;
    in->left -= *n;
    return p;
}

static void check_pins(void)
{
    CHECK((hal_gpio_oe() & VG_RESERVED_MASK) == 0);
    CHECK((hal_gpio_out() & VG_RESERVED_MASK) == 0);
}

/* Feed bytes; decode and count every reply. Returns the number of replies, the last one in *last. */
static size_t feed(const uint8_t *b, size_t n, frame_t *last)
{
    static uint8_t out[VG_MAX_ENCODED];
    size_t replies = 0;
    while (n) {
        size_t used = 0;
        size_t len = vg_rx(b, n, &used, out);
        CHECK(used >= 1 && used <= n);
        CHECK(len <= VG_MAX_ENCODED);
        b += used;
        n -= used;
        if (len) {
            frame_t f;
            CHECK(decode_frame(out, len, &f));
            if (last)
                *last = f;
            replies++;
        }
        check_pins();
    }
    return replies;
}

static void send_frame(unsigned version, unsigned type, unsigned seq, const uint8_t *payload, size_t len)
{
    static uint8_t raw[VG_MAX_FRAME];
    static uint8_t enc[VG_MAX_ENCODED];
    size_t rawlen = frame_build_raw(raw, (uint8_t)version, (uint8_t)type, (uint16_t)seq, payload, len);
    size_t n = 0;
    enc[n++] = SLIP_END;
    n += slip_escape(enc + n, raw, rawlen);
    enc[n++] = SLIP_END;
    /* An END on its own first: it ends whatever raw bytes came before (which may hold a whole request
     * still waiting for its END, answered here), so the count below is this frame's alone. */
    static const uint8_t end = SLIP_END;
    feed(&end, 1, NULL);
    frame_t reply;
    size_t replies = feed(enc, n, &reply);
    if (version != VG_PROTOCOL_VERSION) {
        CHECK(replies == 1 && reply.type == VG_T_VERSION_MISMATCH && reply.seq == seq);
    } else if (type >= VG_T_FIRST_REQUEST && type <= VG_T_LAST_REQUEST) {
        CHECK(replies == 1);
        CHECK(reply.type == (type | VG_T_REPLY_FLAG) && reply.seq == seq && reply.version == VG_PROTOCOL_VERSION);
        CHECK(reply.len >= 1 && reply.p[0] <= VG_INTERNAL);
    } else {
        CHECK(replies == 0);
    }
}

static void drain_events(void)
{
    static uint8_t out[VG_MAX_ENCODED];
    unsigned count = 0;
    vg_poll();
    for (;;) {
        size_t len = vg_next_event(out);
        if (!len)
            break;
        CHECK(len <= VG_MAX_ENCODED);
        frame_t f;
        CHECK(decode_frame(out, len, &f));
        CHECK(f.type >= VG_T_EDGES && f.type <= VG_T_FAILSAFE_TRIPPED);
        CHECK(++count <= MAX_EVENTS_PER_PASS);
    }
    check_pins();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    input_t in = { data, size };
    dev_boot(1000);
    unsigned seq = 0;
    while (in.left) {
        unsigned op = next(&in) % 8u;
        switch (op) {
        case 0: {
            size_t n = next(&in) % 64u;
            const uint8_t *b = take(&in, &n);
            feed(b, n, NULL);
            break;
        }
        case 1:
        case 2:
        case 7: {
            unsigned t = next(&in);
            unsigned type = op == 2 ? t : 1u + t % 13u;
            seq = (seq + 1u + next(&in)) & 0xffffu;
            size_t n = op == 7 ? REQUEST_SIZE[type] : next(&in);
            if (type == VG_T_PING && op == 7)
                n = next(&in) % 250u;
            const uint8_t *b = take(&in, &n);
            send_frame(VG_PROTOCOL_VERSION, type, seq, b, n);
            break;
        }
        case 3: {
            unsigned version = next(&in);
            if (version == VG_PROTOCOL_VERSION)
                version = 0;
            unsigned type = next(&in);
            size_t n = next(&in) % 32u;
            const uint8_t *b = take(&in, &n);
            send_frame(version, type, ++seq & 0xffffu, b, n);
            break;
        }
        case 4: {
            unsigned lo = next(&in), hi = next(&in);
            fake_advance((uint64_t)(lo | (hi << 8)) * 16u);
            check_pins();
            break;
        }
        case 5: {
            unsigned b = next(&in);
            unsigned line = (b & 0x3fu) % FAKE_LINES;
            if (b & 0x40u)
                fake_release(line);
            else
                fake_drive(line, b >> 7);
            check_pins();
            break;
        }
        default:
            drain_events();
            break;
        }
    }
    drain_events();
    return 0;
}
