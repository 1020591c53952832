/*
 * Codec tests against test/vectors/protocol.json (converted to build/vectors.h at build time): CRC,
 * SLIP encode/decode of every frame vector (whole, split at every point, byte by byte), every invalid
 * vector with the counter it must bump, the stream vectors, and the device's own replies and events
 * rebuilt byte-exact from the same scenarios the vectors describe.
 */
#include <stdlib.h>
#include <string.h>

#include "dev.h"
#include "proto/crc32c.h"
#include "proto/events.h"
#include "proto/frame.h"
#include "proto/slip.h"
#include "testing.h"
#include "vectors.h"

static uint32_t crc_bitwise(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    while (n--) {
        c ^= *p++;
        for (int k = 0; k < 8; k++)
            c = (c & 1u) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
    }
    return c ^ 0xffffffffu;
}

static void test_crc(void)
{
    CHECK_EQ(crc32c(vec_crc_check_input, sizeof vec_crc_check_input), VEC_CRC_CHECK);
    CHECK_EQ(crc32c((const uint8_t *)"123456789", 9), 0xe3069283u);
    uint8_t buf[300];
    srand(1);
    for (int i = 0; i < 200; i++) {
        size_t n = (size_t)(rand() % 290);
        for (size_t j = 0; j < n; j++)
            buf[j] = (uint8_t)rand();
        uint32_t c = crc32c(buf, n);
        CHECK_EQ(c, crc_bitwise(buf, n));
        wr32(buf + n, c);
        CHECK_EQ(crc32c_update(CRC32C_INIT, buf, n + 4), CRC32C_RESIDUE);
    }
}

static const vec_frame_t *cur_vec;

static void check_frame_vector(void)
{
    const vec_frame_t *v = cur_vec;
    uint8_t raw[VG_MAX_FRAME];
    uint8_t enc[VG_MAX_ENCODED];
    CHECK(v->payload_len <= VG_MAX_PAYLOAD);
    /* encode */
    size_t n = frame_build_raw(raw, 1, (uint8_t)v->type, (uint16_t)v->seq, v->payload, v->payload_len);
    CHECK_EQ(n, v->frame_len);
    CHECK_MEM(raw, v->frame, n);
    n = frame_encode(enc, (uint8_t)v->type, (uint16_t)v->seq, v->payload, v->payload_len);
    CHECK_EQ(n, v->slip_len);
    CHECK_MEM(enc, v->slip, n);
    CHECK(n <= VG_MAX_ENCODED);
    /* decode whole */
    static slip_dec_t d;
    size_t used;
    slip_dec_init(&d);
    CHECK_EQ(slip_dec_feed(&d, v->slip, v->slip_len, &used), SLIP_FRAME);
    CHECK_EQ(used, v->slip_len);
    CHECK_EQ(d.frame_len, v->frame_len);
    CHECK_MEM(d.frame, v->frame, v->frame_len);
    /* at every alignment of the input: the decoder reads whole words where the bytes allow */
    static _Alignas(4) uint8_t shifted[VG_MAX_ENCODED + 3];
    for (size_t a = 0; a < 4; a++) {
        memcpy(shifted + a, v->slip, v->slip_len);
        slip_dec_init(&d);
        CHECK_EQ(slip_dec_feed(&d, shifted + a, v->slip_len, &used), SLIP_FRAME);
        CHECK_EQ(used, v->slip_len);
        CHECK_EQ(d.frame_len, v->frame_len);
        CHECK_MEM(d.frame, v->frame, v->frame_len);
    }
    /* decode split at every point, and byte by byte */
    for (size_t cut = 0; cut <= v->slip_len; cut++) {
        slip_dec_init(&d);
        slip_result_t r = slip_dec_feed(&d, v->slip, cut, &used);
        if (cut < v->slip_len) {
            CHECK_EQ(r, SLIP_NEED_MORE);
            CHECK_EQ(used, cut);
            r = slip_dec_feed(&d, v->slip + cut, v->slip_len - cut, &used);
        }
        CHECK_EQ(r, SLIP_FRAME);
        CHECK_EQ(d.frame_len, v->frame_len);
        CHECK_MEM(d.frame, v->frame, v->frame_len);
    }
    slip_dec_init(&d);
    int frames = 0;
    for (size_t i = 0; i < v->slip_len; i++) {
        slip_result_t r = slip_dec_feed(&d, v->slip + i, 1, &used);
        CHECK_EQ(used, 1);
        if (r == SLIP_FRAME)
            frames++;
        else
            CHECK_EQ(r, SLIP_NEED_MORE);
    }
    CHECK_EQ(frames, 1);
    CHECK_MEM(d.frame, v->frame, v->frame_len);
    /* two frames back to back in one buffer */
    uint8_t two[2 * VG_MAX_ENCODED];
    memcpy(two, v->slip, v->slip_len);
    memcpy(two + v->slip_len, v->slip, v->slip_len);
    slip_dec_init(&d);
    CHECK_EQ(slip_dec_feed(&d, two, 2 * v->slip_len, &used), SLIP_FRAME);
    CHECK_EQ(used, v->slip_len);
    CHECK_EQ(slip_dec_feed(&d, two + used, v->slip_len, &used), SLIP_FRAME);
    CHECK_MEM(d.frame, v->frame, v->frame_len);
}

static const vec_invalid_t *cur_inv;

static void check_invalid_vector(void)
{
    const vec_invalid_t *v = cur_inv;
    frame_t replies[2];
    dev_boot(1000);
    size_t n = dev_bytes(v->slip, v->slip_len, replies, 2);
    const vg_stats_t *s = vg_stats();
    if (!strcmp(v->expect, "crc_error")) {
        CHECK_EQ(n, 0);
        CHECK_EQ(s->rx_crc_errors, 1);
        CHECK_EQ(s->rx_framing_errors, 0);
        CHECK_EQ(s->rx_frames, 0);
    } else if (!strcmp(v->expect, "framing_error")) {
        CHECK_EQ(n, 0);
        CHECK_EQ(s->rx_framing_errors, 1);
        CHECK_EQ(s->rx_crc_errors, 0);
        CHECK_EQ(s->rx_frames, 0);
    } else if (!strcmp(v->expect, "crc_error_or_framing_error")) {
        CHECK_EQ(n, 0);
        CHECK_EQ(s->rx_crc_errors + s->rx_framing_errors, 1);
        CHECK_EQ(s->rx_frames, 0);
    } else if (!strcmp(v->expect, "bad_version")) {
        /* Device side (§1.3): VERSION_MISMATCH echoing seq, payload min/max = 1/1. */
        CHECK_EQ(n, 1);
        CHECK_EQ(replies[0].type, VG_T_VERSION_MISMATCH);
        CHECK_EQ(replies[0].version, 1);
        CHECK_EQ(replies[0].seq, 24);
        CHECK_EQ(replies[0].len, 2);
        CHECK_EQ(replies[0].p[0], 1);
        CHECK_EQ(replies[0].p[1], 1);
        CHECK_EQ(s->rx_bad_version, 1);
        CHECK_EQ(s->rx_frames, 1);
    } else if (!strcmp(v->expect, "unknown_type")) {
        /* Device side: 0x7E is not a request type, so no reply (PROTOCOL.md §1.3), only a count. */
        CHECK_EQ(n, 0);
        CHECK_EQ(s->rx_unknown_type, 1);
        CHECK_EQ(s->rx_frames, 1);
    } else {
        t_fail(__FILE__, __LINE__, "unknown expectation in vectors");
        return;
    }
    /* The decoder is back in sync: a good frame right after is answered. */
    frame_t r;
    CHECK(dev_req(VG_T_HEARTBEAT, 7, NULL, 0, &r));
    CHECK_EQ(r.type, VG_T_HEARTBEAT | 0x80u);
}

static const vec_stream_t *cur_stream;

static void check_stream_vector(void)
{
    const vec_stream_t *v = cur_stream;
    static slip_dec_t d;
    /* Every split point: the good frames come out, in order, and nothing else does. */
    for (size_t cut = 0; cut <= v->len; cut++) {
        size_t got = 0, pos = 0, end = cut, used;
        slip_dec_init(&d);
        while (pos < v->len) {
            slip_result_t r = slip_dec_feed(&d, v->bytes + pos, end - pos, &used);
            pos += used;
            if (r == SLIP_FRAME) {
                CHECK(got < v->n_frames);
                CHECK_EQ(d.frame_len, v->frames[got].len);
                CHECK_MEM(d.frame, v->frames[got].data, d.frame_len);
                got++;
            } else {
                CHECK(r != SLIP_CRC_ERROR);
            }
            if (pos == end)
                end = v->len;
        }
        CHECK_EQ(got, v->n_frames);
    }
}

/* ---- the device's replies and events, byte-exact against the vectors ----------------------------- */

static const vec_frame_t *find_vec(const char *name)
{
    for (size_t i = 0; i < VEC_FRAMES_N; i++)
        if (!strcmp(vec_frames[i].name, name))
            return &vec_frames[i];
    return NULL;
}

/* Send request vector `req` (or a frame of the given type/seq/payload), expect exactly reply vector. */
static void expect_reply_bytes(const uint8_t *enc, size_t n, const char *reply_name)
{
    const vec_frame_t *rv = find_vec(reply_name);
    static uint8_t out[VG_MAX_ENCODED];
    if (!rv) {
        t_fail(__FILE__, __LINE__, reply_name);
        return;
    }
    size_t used = 0, len = 0, pos = 0;
    while (pos < n && !len) {
        len = vg_rx(enc + pos, n - pos, &used, out);
        pos += used;
    }
    CHECK_EQ(pos, n);
    CHECK_EQ(len, rv->slip_len);
    CHECK_MEM(out, rv->slip, len);
}

static void expect_reply(const char *req_name, const char *reply_name)
{
    const vec_frame_t *qv = find_vec(req_name);
    if (!qv) {
        t_fail(__FILE__, __LINE__, req_name);
        return;
    }
    expect_reply_bytes(qv->slip, qv->slip_len, reply_name);
}

static void expect_reply_to(unsigned type, unsigned seq, const uint8_t *p, size_t len, const char *reply_name)
{
    static uint8_t enc[VG_MAX_ENCODED];
    size_t n = frame_encode(enc, (uint8_t)type, (uint16_t)seq, p, len);
    expect_reply_bytes(enc, n, reply_name);
}

static void expect_event(const char *name)
{
    const vec_frame_t *v = find_vec(name);
    static uint8_t out[VG_MAX_ENCODED];
    if (!v) {
        t_fail(__FILE__, __LINE__, name);
        return;
    }
    vg_test_set_event_seq((uint16_t)v->seq);
    size_t n = vg_next_event(out);
    CHECK_EQ(n, v->slip_len);
    CHECK_MEM(out, v->slip, n);
}

static void test_device_replies_match_vectors(void)
{
    dev_boot(10147503);
    expect_reply("HELLO request", "HELLO reply");
    static const uint8_t v2[2] = { 2, 3 };
    expect_reply_to(VG_T_HELLO, 1, v2, 2, "HELLO reply BAD_VERSION");
    fk.now = 123456789;
    expect_reply("PING request, data", "PING reply");
    fk.now = 0x00000001C0DBC0DBull;
    expect_reply("PING request, empty", "PING reply with a time that contains C0 and DB");
    fk.now = 5000000;
    expect_reply("LINE_CONFIG output open-drain on GP2+GP3", "LINE_CONFIG reply OK");
    uint8_t lc[16] = { 0 };
    wr32(lc, 1u << 23);
    lc[4] = VG_DIR_INPUT;
    expect_reply_to(VG_T_LINE_CONFIG, 6, lc, 16, "LINE_CONFIG reply RESERVED_LINE GP23");
    wr32(lc, 1u << 4);
    lc[4] = 7;
    expect_reply_to(VG_T_LINE_CONFIG, 7, lc, 16, "LINE_CONFIG reply BAD_REQUEST field");
    /* GP2 open-drain output at 1 (released), GP3 too: SET_VALUES GP2 high, GP3 low is fine ... */
    const vec_frame_t *sv = find_vec("SET_VALUES GP2 high, GP3 low");
    CHECK(sv != NULL);
    frame_t r;
    CHECK_EQ(dev_bytes(sv->slip, sv->slip_len, &r, 1), 1);
    CHECK_EQ(r.type, 0x85);
    CHECK_EQ(st(&r), VG_OK);
    /* ... and once GP3 is an input, the same request is WRONG_DIRECTION naming GP3. */
    frame_t lr = line_config(1u << 3, VG_DIR_INPUT, 0, VG_BIAS_PULL_UP, 0, VG_EDGE_BOTH, 0, 1500);
    CHECK_EQ(st(&lr), VG_OK);
    expect_reply("SET_VALUES GP2 high, GP3 low", "SET_VALUES reply WRONG_DIRECTION GP3");
    /* GET_VALUES: GP2 released by open drain, pulled high from outside; GP21 high. */
    fake_drive(2, 1);
    fake_drive(21, 1);
    fake_drive(3, 0);
    fk.now = 5000001;
    expect_reply("GET_VALUES GP0..GP29", "GET_VALUES reply");
    fake_release(2);
    /* PULSE GP2 high 250 us at 7,000,000 (GP2 push-pull output first). */
    CHECK_EQ(stv(line_config(1u << 2, VG_DIR_OUTPUT, 0, VG_BIAS_NONE, 0, 0, 0, 0)), VG_OK);
    fk.now = 7000000;
    expect_reply("PULSE GP2 high 250 us", "PULSE reply");
    expect_reply("PULSE GP2 high 250 us", "PULSE reply BUSY");
    fake_advance_to(7000250);
    expect_event("PULSE_DONE event");
    expect_reply("FAILSAFE 500 ms, GP2 low, GP3 released", "FAILSAFE reply");
    expect_reply("HEARTBEAT request", "HEARTBEAT reply");
    expect_reply("RESET request", "RESET reply");
    expect_reply("REBOOT_TO_BOOTLOADER request", "REBOOT_TO_BOOTLOADER reply");
    uint32_t led = 0, dis = 1;
    CHECK(vg_take_reboot(&led, &dis));
    CHECK_EQ(led, 1u << 25);
    CHECK_EQ(dis, 0);
    CHECK(!vg_take_reboot(&led, &dis));
    /* GET_LINE_CONFIG GP7: input, pull-up, both edges, debounce 200 us, pin high, 41 edges so far. */
    fake_drive(7, 0);
    CHECK_EQ(stv(line_config(1u << 7, VG_DIR_INPUT, 0, VG_BIAS_PULL_UP, 0, VG_EDGE_BOTH, 0, 200)),
             VG_OK);
    for (int i = 0; i < 41; i++) {
        fake_drive(7, (i & 1) ? 0u : 1u);
        fake_advance(300);
    }
    CHECK_EQ(fake_pin(7), 1);
    expect_reply("GET_LINE_CONFIG GP7", "GET_LINE_CONFIG reply");
    CHECK_EQ(stv(line_config(1u << 21, VG_DIR_INPUT, 0, VG_BIAS_PULL_DOWN, 0, 0, VG_LEVEL_LOW, 0)),
             VG_OK);
    expect_reply("LEVEL_REARM GP21", "LEVEL_REARM reply");
    expect_reply_to(0x3e, 20, NULL, 0, "unknown request type 0x3E answered UNSUPPORTED");
}

static void test_device_events_match_vectors(void)
{
    dev_boot(1000);
    /* EDGES, four records: base 1,000,000 (records pushed the way the ISRs push them). */
    ev_push(3, VG_KIND_RISING, 1, 1000000);
    ev_push(3, VG_KIND_FALLING, 2, 1000250);
    ev_push(4, VG_KIND_RISING, 9, 1000251);
    ev_push(3, VG_KIND_RISING, 3, 1000500);
    expect_event("EDGES event, four records");
    dev_boot(1000);
    for (unsigned i = 0; i < 31; i++)
        ev_push(i % 30, 1 + (i % 2), i + 1, 0xC0DBu + 3u * i);
    ev_push(5, VG_KIND_RISING, 99, 0xC0DBu + 3u * 31);       /* a 32nd goes to the next frame */
    expect_event("EDGES event, 31 records (maximum payload 256)");
    frame_t e;
    CHECK(dev_event(&e));
    CHECK_EQ(e.type, VG_T_EDGES);
    CHECK_EQ(e.len, 16);

    /* OVERFLOW: fill the ring, lose 17 records on GP3/GP4 between 2,000,000 and 2,000,900. */
    dev_boot(1000);
    for (unsigned i = 0; i < VG_EVENT_CAPACITY; i++)
        ev_push(5, VG_KIND_RISING, i + 1, 1000000 + i);
    for (unsigned i = 0; i < 17; i++)
        ev_push(3 + (i & 1), VG_KIND_FALLING, i + 1, i == 16 ? 2000900 : 2000000 + 50 * i);
    for (unsigned i = 0; i < (VG_EVENT_CAPACITY + 30) / 31; i++) {
        CHECK(dev_event(&e));
        CHECK_EQ(e.type, VG_T_EDGES);
    }
    expect_event("OVERFLOW event");
    CHECK(!dev_event(&e));

    /* LEVEL: GP21 level-low seen at 3,000,000. */
    dev_boot(1000);
    fake_drive(21, 1);
    CHECK_EQ(stv(line_config(1u << 21, VG_DIR_INPUT, 0, VG_BIAS_PULL_DOWN, 0, 0, VG_LEVEL_LOW, 0)),
             VG_OK);
    fk.now = 3000000;
    fake_drive(21, 0);
    expect_event("LEVEL event");

    /* FAILSAFE_TRIPPED: armed 500 ms at 8,497,000, checked 3 ms late at 9,000,000. */
    dev_boot(8497000);
    CHECK_EQ(stv(failsafe(500, 1u << 2, 0, 1u << 3)), VG_OK);
    fake_advance_to(9000000);       /* the alarm fired at 8,997,000; the main loop runs vg_poll now */
    vg_poll();
    expect_event("FAILSAFE_TRIPPED event");
}

/* ---- fast paths of the encoder and decoder (two bytes per iteration, bounded plain-byte loop) ----- */

/* Reference SLIP encoding of a whole frame: the straightforward byte-at-a-time definition. */
static size_t ref_encode(uint8_t *dst, uint8_t type, uint16_t seq, const uint8_t *payload, size_t len)
{
    uint8_t raw[VG_MAX_FRAME];
    size_t n = frame_build_raw(raw, VG_PROTOCOL_VERSION, type, seq, payload, len);
    size_t o = 0;
    dst[o++] = SLIP_END;
    for (size_t i = 0; i < n; i++) {
        if (raw[i] == SLIP_END) { dst[o++] = SLIP_ESC; dst[o++] = SLIP_ESC_END; }
        else if (raw[i] == SLIP_ESC) { dst[o++] = SLIP_ESC; dst[o++] = SLIP_ESC_ESC; }
        else dst[o++] = raw[i];
    }
    dst[o++] = SLIP_END;
    return o;
}

/* Every payload length 0..256 (odd and even, so both the single-byte head and the paired loop run),
 * with END/ESC bytes at varying positions: frame_encode matches the reference, and the decoder gives
 * the frame back whole, split at every point, and byte by byte. */
static void test_encode_decode_fast_paths(void)
{
    static uint8_t enc[VG_MAX_ENCODED], ref[VG_MAX_ENCODED];
    uint8_t payload[VG_MAX_PAYLOAD];
    uint32_t x = 12345u;
    for (size_t len = 0; len <= VG_MAX_PAYLOAD; len++) {
        for (size_t i = 0; i < len; i++) {
            x = x * 1103515245u + 12345u;
            unsigned r = (x >> 16) & 0xffu;
            payload[i] = (uint8_t)(r < 40 ? SLIP_END : r < 80 ? SLIP_ESC : r);
        }
        uint16_t seq = (uint16_t)(len * 0x0101u ^ 0xc0dbu);
        size_t n = frame_encode(enc, VG_T_PING | VG_T_REPLY_FLAG, seq, payload, len);
        size_t m = ref_encode(ref, VG_T_PING | VG_T_REPLY_FLAG, seq, payload, len);
        CHECK_EQ(n, m);
        CHECK_MEM(enc, ref, n);

        slip_dec_t d;
        size_t used;
        slip_dec_init(&d);
        CHECK_EQ(slip_dec_feed(&d, enc, n, &used), SLIP_FRAME);
        CHECK_EQ(used, n);
        CHECK_EQ(d.frame_len, len + VG_MIN_FRAME);
        CHECK_MEM(d.frame + VG_HDR_LEN, payload, len);
        for (size_t cut = 1; cut < n; cut += 7) {
            slip_dec_init(&d);
            CHECK_EQ(slip_dec_feed(&d, enc, cut, &used), SLIP_NEED_MORE);
            CHECK_EQ(used, cut);
            CHECK_EQ(slip_dec_feed(&d, enc + cut, n - cut, &used), SLIP_FRAME);
            CHECK_EQ(d.frame_len, len + VG_MIN_FRAME);
        }
        slip_dec_init(&d);
        slip_result_t r = SLIP_NEED_MORE;
        for (size_t i = 0; i < n; i++) {
            r = slip_dec_feed(&d, enc + i, 1, &used);
            CHECK_EQ(used, 1);
            if (i + 1 < n)
                CHECK_EQ(r, SLIP_NEED_MORE);
        }
        CHECK_EQ(r, SLIP_FRAME);
    }
}

/* Oversize frames: exactly VG_MAX_FRAME plain bytes still decode (the bounded fast loop stops right at
 * the limit), one more is a framing error however the input is split, and the decoder recovers. */
static void test_decode_oversize_bound(void)
{
    static uint8_t buf[VG_MAX_FRAME + 8];
    uint8_t payload[VG_MAX_PAYLOAD];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(0x20 + (i % 0x60));     /* no END/ESC: all fast path */
    /* 264 bytes with a valid CRC (its CRC bytes may need escaping: then the slow path runs for them). */
    size_t n = frame_build_raw(buf + 1, VG_PROTOCOL_VERSION, VG_T_PING, 7, payload, VG_MAX_PAYLOAD);
    CHECK_EQ(n, VG_MAX_FRAME);
    buf[0] = SLIP_END;
    buf[n + 1] = SLIP_END;
    slip_dec_t d;
    size_t used;
    slip_dec_init(&d);
    CHECK_EQ(slip_dec_feed(&d, buf, n + 2, &used), SLIP_FRAME);
    CHECK_EQ(d.frame_len, VG_MAX_FRAME);
    /* 265 plain bytes: oversize. */
    static uint8_t big[VG_MAX_FRAME + 3];
    big[0] = SLIP_END;
    for (size_t i = 1; i <= VG_MAX_FRAME + 1; i++)
        big[i] = 0x41;
    big[VG_MAX_FRAME + 2] = SLIP_END;
    for (size_t cut = 1; cut < sizeof big; cut += 13) {
        slip_dec_init(&d);
        slip_result_t r = slip_dec_feed(&d, big, cut, &used);
        if (r == SLIP_NEED_MORE)
            r = slip_dec_feed(&d, big + cut, sizeof big - cut, &used);
        CHECK_EQ(r, SLIP_FRAMING_ERROR);
        /* Next frame decodes normally. */
        CHECK_EQ(slip_dec_feed(&d, buf, n + 2, &used), SLIP_FRAME);
        CHECK_EQ(d.frame_len, VG_MAX_FRAME);
    }
}

void run_codec_tests(void)
{
    RUN(test_encode_decode_fast_paths);
    RUN(test_decode_oversize_bound);
    RUN(test_crc);
    for (size_t i = 0; i < VEC_FRAMES_N; i++) {
        cur_vec = &vec_frames[i];
        t_begin(cur_vec->name);
        check_frame_vector();
        t_end();
    }
    for (size_t i = 0; i < VEC_INVALID_N; i++) {
        cur_inv = &vec_invalid[i];
        t_begin(cur_inv->name);
        check_invalid_vector();
        t_end();
    }
    for (size_t i = 0; i < VEC_STREAMS_N; i++) {
        cur_stream = &vec_streams[i];
        t_begin(cur_stream->name);
        check_stream_vector();
        t_end();
    }
    RUN(test_device_replies_match_vectors);
    RUN(test_device_events_match_vectors);
}
