/*
 * Dispatcher and line-engine tests against the fake HAL: every message, every status path, atomic
 * SET_VALUES, open-drain/open-source, PULSE, FAILSAFE, LEVEL one-shots, RESET, the event ring with
 * overflow, line_seq gaps, debounce.
 */
#include <string.h>

#include "dev.h"
#include "hal/hal.h"
#include "proto/events.h"
#include "proto/slip.h"
#include "proto/vg_config.h"
#include "testing.h"

#define ERR(f, s, d) do { frame_t f_ = (f); CHECK_EQ(st(&f_), (s)); CHECK_EQ(f_.len, 2); CHECK_EQ(dt(&f_), (d)); } while (0)
#define OK(f) do { frame_t f_ = (f); CHECK_EQ(st(&f_), VG_OK); } while (0)

/* Collect every pending EDGES record into arrays; returns the count; other events are counted in
 * *other (OVERFLOW payloads copied to ovf if non-NULL). */
typedef struct { unsigned line, kind, seq; uint64_t t; } rec_t;
static size_t drain(rec_t *r, size_t max, frame_t *ovf, unsigned *n_ovf)
{
    frame_t e;
    size_t n = 0;
    if (n_ovf)
        *n_ovf = 0;
    while (dev_event(&e)) {
        if (e.type == VG_T_EDGES) {
            uint64_t base = rd64(e.p);
            for (size_t i = 8; i + 8 <= e.len; i += 8) {
                if (n < max)
                    r[n] = (rec_t){ e.p[i], e.p[i + 1], rd16(e.p + i + 2), base + rd32(e.p + i + 4) };
                n++;
            }
        } else if (e.type == VG_T_OVERFLOW) {
            if (ovf)
                *ovf = e;
            if (n_ovf)
                (*n_ovf)++;
            if (n < max)
                r[n] = (rec_t){ 0xff, 0, 0, 0 };       /* marker in the record stream */
            n++;
        }
    }
    return n;
}

/* ---- framing, HELLO, PING, GET_STATS, lengths ---------------------------------------------------------- */

static void test_hello_versions(void)
{
    dev_boot(1000);
    frame_t r;
    uint8_t p[2] = { 1, 1 };
    CHECK(dev_req(VG_T_HELLO, 1, p, 2, &r));
    CHECK_EQ(st(&r), VG_OK);
    CHECK_EQ(r.len, 37);
    CHECK_EQ(r.p[1], 1);
    CHECK_EQ(rd16(r.p + 5), 256);
    CHECK_EQ(r.p[7], 8);
    CHECK_EQ(r.p[8], 30);
    CHECK_EQ(rd32(r.p + 9), 0xfff);
    CHECK_EQ(rd32(r.p + 13), (1u << 23) | (1u << 24) | (1u << 29));
    CHECK_EQ(rd16(r.p + 17), 2);
    CHECK_EQ(rd16(r.p + 19), VG_EVENT_CAPACITY);
    CHECK_MEM(r.p + 21, test_serial, 8);
    p[0] = 0; p[1] = 9;
    CHECK(dev_req(VG_T_HELLO, 2, p, 2, &r));
    CHECK_EQ(st(&r), VG_OK);
    CHECK_EQ(r.p[1], 1);
    p[0] = 2; p[1] = 9;
    CHECK(dev_req(VG_T_HELLO, 3, p, 2, &r));
    ERR(r, VG_BAD_VERSION, 1);
    p[0] = 0; p[1] = 0;
    CHECK(dev_req(VG_T_HELLO, 4, p, 2, &r));
    ERR(r, VG_BAD_VERSION, 1);
}

static void test_wrong_lengths_are_bad_request(void)
{
    static const unsigned len[14] = { 0, 2, 0, 0, 16, 8, 4, 8, 16, 0, 0, 8, 1, 4 };
    uint8_t p[VG_MAX_PAYLOAD] = { 0 };
    dev_boot(1000);
    for (unsigned t = 1; t <= 13; t++) {
        frame_t r;
        if (t == VG_T_PING)
            continue;
        CHECK(dev_req(t, t, p, len[t] + 1, &r));
        CHECK_EQ(r.type, t | 0x80u);
        ERR(r, VG_BAD_REQUEST, 0xff);
        if (len[t]) {
            CHECK(dev_req(t, t, p, len[t] - 1, &r));
            ERR(r, VG_BAD_REQUEST, 0xff);
        }
    }
    frame_t r;
    CHECK(dev_req(VG_T_PING, 1, p, 248, &r));
    ERR(r, VG_BAD_REQUEST, 0xff);
    CHECK(dev_req(VG_T_PING, 1, p, 256, &r));               /* a 264-byte frame: valid framing */
    ERR(r, VG_BAD_REQUEST, 0xff);
    CHECK_EQ(vg_stats()->rx_framing_errors, 0);
    /* Nothing was touched by any of them. */
    CHECK_EQ(fk.oe, 0);
}

static void test_ping_echo_and_time(void)
{
    dev_boot(4242);
    uint8_t p[247];
    for (unsigned i = 0; i < sizeof p; i++)
        p[i] = (uint8_t)(i ^ 0xc0);
    frame_t r;
    CHECK(dev_req(VG_T_PING, 0xdbc0, p, sizeof p, &r));
    CHECK_EQ(r.seq, 0xdbc0);
    CHECK_EQ(st(&r), VG_OK);
    CHECK_EQ(r.len, 1 + 8 + 247);
    CHECK_EQ(rd64(r.p + 1), 4242);
    CHECK_MEM(r.p + 9, p, sizeof p);
}

static void test_unknown_types_and_counters(void)
{
    dev_boot(1000);
    frame_t r;
    /* Types outside the request range get no reply at all; each is counted. */
    CHECK(!dev_req(0x00, 5, NULL, 0, &r));
    CHECK(!dev_req(0x40, 5, NULL, 0, &r));
    CHECK(!dev_req(0x7f, 5, NULL, 0, &r));
    CHECK(!dev_req(0xff, 5, NULL, 0, &r));
    CHECK_EQ(vg_stats()->rx_unknown_type, 4);
    CHECK(dev_req(0x0e, 6, NULL, 0, &r));
    CHECK_EQ(r.type, 0x8e);
    ERR(r, VG_UNSUPPORTED, 0xff);
    CHECK(dev_req(0x3f, 7, NULL, 0, &r));
    ERR(r, VG_UNSUPPORTED, 0xff);
    /* bad CRC: no reply */
    uint8_t enc[VG_MAX_ENCODED];
    size_t n = frame_encode(enc, VG_T_HEARTBEAT, 9, NULL, 0);
    enc[3] ^= 0x01;
    frame_t rr[2];
    CHECK_EQ(dev_bytes(enc, n, rr, 2), 0);
    /* oversize, then short, then a bad escape */
    uint8_t big[600];
    big[0] = 0xc0;
    for (int i = 1; i < 300; i++)
        big[i] = 0x11;
    big[300] = 0xc0;
    CHECK_EQ(dev_bytes(big, 301, rr, 2), 0);
    static const uint8_t shortf[] = { 0xc0, 1, 9, 0, 0, 0xc0 };
    CHECK_EQ(dev_bytes(shortf, sizeof shortf, rr, 2), 0);
    static const uint8_t badesc[] = { 0xc0, 1, 9, 0xdb, 0x01, 0, 1, 2, 3, 4, 5, 0xc0 };
    CHECK_EQ(dev_bytes(badesc, sizeof badesc, rr, 2), 0);
    static const uint8_t empties[] = { 0xc0, 0xc0, 0xc0 };
    CHECK_EQ(dev_bytes(empties, sizeof empties, rr, 2), 0);
    /* GET_STATS reports all of it */
    CHECK(dev_req(VG_T_GET_STATS, 10, NULL, 0, &r));
    CHECK_EQ(st(&r), VG_OK);
    CHECK_EQ(r.len, 37);
    CHECK_EQ(rd32(r.p + 1), 7);             /* rx_frames: 4 non-request + 2 unknown + GET_STATS */
    CHECK_EQ(rd32(r.p + 5), 1);             /* crc */
    CHECK_EQ(rd32(r.p + 9), 3);             /* framing */
    CHECK_EQ(rd32(r.p + 13), 0);            /* bad version */
    CHECK_EQ(rd32(r.p + 17), 6);            /* unknown type: 4 non-request + 0x0E + 0x3F */
    CHECK_EQ(rd32(r.p + 21), 2);            /* tx_frames before this reply: the two UNSUPPORTED */
    vg_note_tx_stall();
    CHECK(dev_req(VG_T_GET_STATS, 11, NULL, 0, &r));
    CHECK_EQ(rd32(r.p + 33), 1);
}

/* ---- LINE_CONFIG / outputs ------------------------------------------------------------------------------ */

static void test_line_config_status_paths(void)
{
    dev_boot(1000);
    ERR(line_config(0, VG_DIR_OUTPUT, 0, 0, 0, 0, 0, 0), VG_BAD_REQUEST, 0xff);
    ERR(line_config((1u << 30) | 1u, VG_DIR_OUTPUT, 0, 0, 0, 0, 0, 0), VG_BAD_LINE, 30);
    ERR(line_config(1u << 31, VG_DIR_OUTPUT, 0, 0, 0, 0, 0, 0), VG_BAD_LINE, 31);
    ERR(line_config((1u << 24) | (1u << 29) | 1u, VG_DIR_OUTPUT, 0, 0, 0, 0, 0, 0), VG_RESERVED_LINE, 24);
    ERR(line_config(1u << 23, VG_DIR_INPUT, 0, 0, 0, 0, 0, 0), VG_RESERVED_LINE, 23);
    const uint32_t m = 1u << 5;
    ERR(line_config(m, 3, 0, 0, 0, 0, 0, 0), VG_BAD_REQUEST, 0xff);
    ERR(line_config(m, VG_DIR_OUTPUT, 2, 0, 0, 0, 0, 0), VG_BAD_REQUEST, 0xff);
    ERR(line_config(m, VG_DIR_INPUT, 1, 0, 0, 0, 0, 0), VG_BAD_REQUEST, 0xff);
    ERR(line_config(m, VG_DIR_OFF, 1, 0, 0, 0, 0, 0), VG_BAD_REQUEST, 0xff);
    ERR(line_config(m, VG_DIR_OFF, 0, 4, 0, 0, 0, 0), VG_BAD_REQUEST, 0xff);
    ERR(line_config(m, VG_DIR_OUTPUT, 0, 0, 3, 0, 0, 0), VG_BAD_REQUEST, 0xff);
    ERR(line_config(m, VG_DIR_INPUT, 0, 0, 1, 0, 0, 0), VG_BAD_REQUEST, 0xff);
    ERR(line_config(m, VG_DIR_INPUT, 0, 0, 0, 4, 0, 0), VG_BAD_REQUEST, 0xff);
    ERR(line_config(m, VG_DIR_OUTPUT, 0, 0, 0, 1, 0, 0), VG_BAD_REQUEST, 0xff);
    ERR(line_config(m, VG_DIR_INPUT, 0, 0, 0, 0, 3, 0), VG_BAD_REQUEST, 0xff);
    ERR(line_config(m, VG_DIR_OFF, 0, 0, 0, 0, 1, 0), VG_BAD_REQUEST, 0xff);
    ERR(line_config(m, VG_DIR_INPUT, 0, 0, 0, 1, 0, 1000001), VG_BAD_REQUEST, 0xff);
    ERR(line_config(m, VG_DIR_OUTPUT, 0, 0, 0, 0, 0, 10), VG_BAD_REQUEST, 0xff);
    uint8_t p[16] = { 0x20, 0, 0, 0, VG_DIR_OFF, 0, 0, 0, 0, 0, 1, 0 };
    frame_t r;
    CHECK(dev_req(VG_T_LINE_CONFIG, 1, p, 16, &r));
    ERR(r, VG_BAD_REQUEST, 0xff);
    /* Nothing changed: line 5 is still OFF with pull-down. */
    frame_t g = get_line_config(5);
    CHECK_EQ(st(&g), VG_OK);
    CHECK_EQ(g.p[5], VG_DIR_OFF);
    CHECK_EQ(g.p[7], VG_BIAS_PULL_DOWN);
    CHECK_EQ(fk.oe, 0);
    OK(line_config(m, VG_DIR_INPUT, 0, VG_BIAS_BUS_KEEPER, 0, VG_EDGE_BOTH, VG_LEVEL_HIGH, 1000000));
    CHECK_EQ(fk.pad_pulls[5], HAL_PULL_UP | HAL_PULL_DOWN);
}

static void test_output_push_pull_no_glitch(void)
{
    dev_boot(1000);
    OK(line_config(1u << 25, VG_DIR_OUTPUT, 1, VG_BIAS_NONE, VG_DRIVE_PUSH_PULL, 0, 0, 0));  /* the LED */
    CHECK_EQ(fake_pin(25), 1);
    CHECK(fk.oe & (1u << 25));
    /* pp high -> open-drain released: the pin must not be driven low on the way. */
    unsigned tr = fk.transitions[25];
    OK(line_config(1u << 25, VG_DIR_OUTPUT, 1, VG_BIAS_PULL_UP, VG_DRIVE_OPEN_DRAIN, 0, 0, 0));
    CHECK(!(fk.oe & (1u << 25)));
    CHECK_EQ(fake_pin(25), 1);
    CHECK_EQ(fk.transitions[25], tr);       /* never went low on the way */
    /* released -> drive low -> push-pull high: exactly two transitions */
    OK(line_config(1u << 25, VG_DIR_OUTPUT, 0, VG_BIAS_PULL_UP, VG_DRIVE_OPEN_DRAIN, 0, 0, 0));
    OK(line_config(1u << 25, VG_DIR_OUTPUT, 1, VG_BIAS_NONE, VG_DRIVE_PUSH_PULL, 0, 0, 0));
    CHECK_EQ(fk.transitions[25], tr + 2);
    OK(line_config(1u << 25, VG_DIR_OUTPUT, 1, VG_BIAS_PULL_UP, VG_DRIVE_OPEN_DRAIN, 0, 0, 0));
    frame_t g = get_line_config(25);
    CHECK_EQ(g.p[5], VG_DIR_OUTPUT);
    CHECK_EQ(g.p[6], 1);
    CHECK_EQ(g.p[8], VG_DRIVE_OPEN_DRAIN);
    CHECK_EQ(g.p[17], 1);
    /* OFF: power-on state, with the bias given */
    OK(line_config(1u << 25, VG_DIR_OFF, 0, VG_BIAS_PULL_UP, 0, 0, 0, 0));
    CHECK(!(fk.oe & (1u << 25)));
    CHECK_EQ(fk.pad_pulls[25], HAL_PULL_UP);
    CHECK(fk.pad_ie[25]);
}

static void test_open_drain_and_open_source(void)
{
    dev_boot(1000);
    OK(line_config(1u << 2, VG_DIR_OUTPUT, 0, VG_BIAS_PULL_UP, VG_DRIVE_OPEN_DRAIN, 0, 0, 0));
    OK(line_config(1u << 3, VG_DIR_OUTPUT, 1, VG_BIAS_PULL_DOWN, VG_DRIVE_OPEN_SOURCE, 0, 0, 0));
    CHECK(fk.oe & (1u << 2));
    CHECK(!(fk.out & (1u << 2)));
    CHECK_EQ(fake_pin(2), 0);
    CHECK(fk.oe & (1u << 3));
    CHECK(fk.out & (1u << 3));
    CHECK_EQ(fake_pin(3), 1);
    OK(set_values(0xc, 0x4));           /* GP2 released, GP3 released */
    CHECK(!(fk.oe & 0xcu));
    CHECK_EQ(fake_pin(2), 1);           /* pull-up */
    CHECK_EQ(fake_pin(3), 0);           /* pull-down */
    CHECK(!(fk.out & (1u << 2)));       /* OUT never changes on open-drain */
    CHECK(fk.out & (1u << 3));          /* ... nor on open-source */
    fake_drive(2, 0);                   /* someone else holds the open-drain line low */
    frame_t g = get_values(0xc);
    CHECK_EQ(st(&g), VG_OK);
    CHECK_EQ(rd32(g.p + 1), 0);
    fake_release(2);
    g = get_values(0xc);
    CHECK_EQ(rd32(g.p + 1), 0x4);
}

static void test_set_values_atomic_and_status_paths(void)
{
    dev_boot(1000);
    OK(line_config(0x0f, VG_DIR_OUTPUT, 0, 0, VG_DRIVE_PUSH_PULL, 0, 0, 0));
    OK(line_config(0x30, VG_DIR_OUTPUT, 0, VG_BIAS_PULL_UP, VG_DRIVE_OPEN_DRAIN, 0, 0, 0));
    OK(line_config(0xc0, VG_DIR_OUTPUT, 0, VG_BIAS_PULL_DOWN, VG_DRIVE_OPEN_SOURCE, 0, 0, 0));
    OK(line_config(1u << 8, VG_DIR_INPUT, 0, 0, 0, 0, 0, 0));
    unsigned before = fk.xor_writes;
    OK(set_values(0xff, 0xa5));
    CHECK_EQ(fk.xor_writes, before + 1);    /* one OUT XOR + one OE XOR, back to back */
    CHECK_EQ(fk.last_out_xor, 0x05);        /* push-pull 0 and 2 go high */
    CHECK_EQ(fk.last_oe_xor, 0x20 | 0x80);  /* GP5 released (1), GP7 drives (1) */
    for (unsigned n = 0; n < 8; n++)
        CHECK_EQ(fake_pin(n), (0xa5u >> n) & 1u);
    ERR(set_values(0x100, 0), VG_WRONG_DIRECTION, 8);
    ERR(set_values(0x201, 0), VG_WRONG_DIRECTION, 9);
    ERR(set_values(0x1, 0x2), VG_BAD_REQUEST, 0xff);
    ERR(set_values(1u << 30, 0), VG_BAD_LINE, 30);
    ERR(set_values(1u << 29, 0), VG_RESERVED_LINE, 29);
    OK(pulse(1, 1, 1000));
    ERR(set_values(0x3, 0x3), VG_BUSY, 1);
    OK(set_values(0, 0));
    /* values are unchanged by the failures */
    frame_t g = get_values(0x0f);
    CHECK_EQ(rd32(g.p + 1), 0x07);          /* GP1 pulsing high */
}

static void test_get_values(void)
{
    dev_boot(777);
    fake_drive(4, 1);
    fake_drive(24, 1);
    frame_t g = get_values(0x3fffffff);
    CHECK_EQ(st(&g), VG_OK);
    CHECK_EQ(g.len, 13);
    CHECK_EQ(rd32(g.p + 1), (1u << 4) | (1u << 24));   /* reserved lines may be read */
    CHECK_EQ(rd64(g.p + 5), 777);
    g = get_values(1u << 5);
    CHECK_EQ(rd32(g.p + 1), 0);
    ERR(get_values(1u << 30), VG_BAD_LINE, 30);
}

/* ---- PULSE ------------------------------------------------------------------------------------------ */

static void test_pulse(void)
{
    dev_boot(5000);
    ERR(pulse(30, 1, 10), VG_BAD_LINE, 30);
    ERR(pulse(24, 1, 10), VG_RESERVED_LINE, 24);
    ERR(pulse(2, 1, 10), VG_WRONG_DIRECTION, 2);
    OK(line_config(0x6, VG_DIR_OUTPUT, 0, 0, 0, 0, 0, 0));
    ERR(pulse(2, 2, 10), VG_BAD_REQUEST, 0xff);
    ERR(pulse(2, 1, 0), VG_BAD_REQUEST, 0xff);
    ERR(pulse(2, 1, 60000001), VG_BAD_REQUEST, 0xff);
    uint8_t p[8] = { 2, 1, 1, 0, 10, 0, 0, 0 };
    frame_t r;
    CHECK(dev_req(VG_T_PULSE, 1, p, 8, &r));
    ERR(r, VG_BAD_REQUEST, 0xff);
    CHECK_EQ(fake_pin(2), 0);
    frame_t a = pulse(2, 1, 250);
    CHECK_EQ(st(&a), VG_OK);
    CHECK_EQ(rd64(a.p + 1), 5000);
    CHECK_EQ(fake_pin(2), 1);
    fake_advance(100);
    frame_t b = pulse(1, 1, 60000000);       /* independent line, long pulse */
    CHECK_EQ(rd64(b.p + 1), 5100);
    ERR(pulse(2, 0, 10), VG_BUSY, 2);
    frame_t g = get_line_config(2);
    CHECK_EQ(g.p[6], 1);                     /* current output level */
    CHECK_EQ(g.p[18] & 1u, 1);               /* pulse running */
    frame_t e;
    CHECK(!dev_event(&e));
    fake_advance(149);
    CHECK_EQ(fake_pin(2), 1);
    fake_advance(1);
    CHECK_EQ(fake_pin(2), 0);                /* restored at exactly 5250 */
    CHECK(dev_event(&e));
    CHECK_EQ(e.type, VG_T_PULSE_DONE);
    CHECK_EQ(e.len, 20);
    CHECK_EQ(e.p[0], 2);
    CHECK_EQ(e.p[1], 1);
    CHECK_EQ(e.p[2], VG_PULSE_COMPLETED);
    CHECK_EQ(rd64(e.p + 4), 5000);
    CHECK_EQ(rd64(e.p + 12), 5250);
    CHECK(!dev_event(&e));
    CHECK_EQ(fake_pin(1), 1);
    /* a pulse at level 0 on a high line returns to high; SET_VALUES sets the level it returns to */
    OK(set_values(0x4, 0x4));
    OK(pulse(2, 0, 10));
    CHECK_EQ(fake_pin(2), 0);
    fake_advance(10);
    CHECK_EQ(fake_pin(2), 1);
    CHECK(dev_event(&e));
    CHECK_EQ(e.p[1], 0);
    /* LINE_CONFIG cancels GP1's pulse: PULSE_DONE outcome 1 at the time of the reconfiguration */
    fake_advance(1000);
    uint64_t t = fk.now;
    OK(line_config(0x2, VG_DIR_OFF, 0, VG_BIAS_PULL_DOWN, 0, 0, 0, 0));
    CHECK(dev_event(&e));
    CHECK_EQ(e.type, VG_T_PULSE_DONE);
    CHECK_EQ(e.p[0], 1);
    CHECK_EQ(e.p[2], VG_PULSE_CANCELLED_CONFIG);
    CHECK_EQ(rd64(e.p + 4), 5100);
    CHECK_EQ(rd64(e.p + 12), t);
    CHECK_EQ(fake_pin(1), 0);
    fake_advance(60000000);
    CHECK(!dev_event(&e));                   /* the cancelled alarm does nothing */
}

static void test_pulse_done_pending_is_busy(void)
{
    dev_boot(1000);
    OK(line_config(0x4, VG_DIR_OUTPUT, 0, 0, 0, 0, 0, 0));
    OK(pulse(2, 1, 5));
    fake_advance(5);
    ERR(pulse(2, 1, 5), VG_BUSY, 2);        /* PULSE_DONE not sent yet */
    frame_t e;
    CHECK(dev_event(&e));
    OK(pulse(2, 1, 5));
}

/* ---- FAILSAFE / HEARTBEAT --------------------------------------------------------------------------- */

static void test_failsafe_validation(void)
{
    dev_boot(1000);
    ERR(failsafe(9, 0, 0, 0), VG_BAD_REQUEST, 0xff);
    ERR(failsafe(600001, 0, 0, 0), VG_BAD_REQUEST, 0xff);
    ERR(failsafe(100, 0x1, 0x2, 0), VG_BAD_REQUEST, 0xff);
    ERR(failsafe(100, 0x3, 0, 0x2), VG_BAD_REQUEST, 0xff);
    ERR(failsafe(100, 1u << 30, 0, 0), VG_BAD_LINE, 30);
    ERR(failsafe(100, 0, 0, 1u << 23), VG_RESERVED_LINE, 23);
    OK(failsafe(10, 0, 0, 0));
    OK(failsafe(600000, 0, 0, 0));
    OK(failsafe(0, 0, 0, 0));
    fake_advance(700000000);
    vg_poll();
    frame_t e;
    CHECK(!dev_event(&e));
}

static void test_failsafe_trip(void)
{
    dev_boot(1000);
    OK(line_config(0x7, VG_DIR_OUTPUT, 1, 0, 0, 0, 0, 0));     /* GP0..2 high */
    OK(line_config(0x8, VG_DIR_INPUT, 0, VG_BIAS_PULL_UP, 0, VG_EDGE_BOTH, 0, 0));
    OK(line_config(0x10, VG_DIR_OUTPUT, 0, 0, 0, 0, 0, 0));    /* GP4 low, pulsed */
    OK(failsafe(100, 0x3, 0x2, 0x8));                          /* GP0 -> 0, GP1 -> 1, GP3 off */
    OK(pulse(0, 0, 5000000));
    OK(pulse(4, 1, 5000000));
    frame_t e;
    /* Heartbeats keep it alive. */
    for (int i = 0; i < 10; i++) {
        fake_advance(90000);
        vg_poll();
        OK(simple(VG_T_HEARTBEAT));
    }
    CHECK(!dev_event(&e));
    uint64_t last = fk.now;
    fake_advance(99999);
    vg_poll();
    CHECK(!dev_event(&e));
    fake_advance(1);
    vg_poll();
    /* Tripped: pulses cancelled (outcome 2), safe states applied, event sent, disarmed. */
    CHECK_EQ(fake_pin(0), 0);
    CHECK_EQ(fake_pin(1), 1);
    CHECK_EQ(fake_pin(2), 1);               /* in neither mask: kept */
    CHECK_EQ(fake_pin(4), 0);               /* pulse cancelled: back to its level */
    CHECK(!(fk.oe & 0x8));
    CHECK_EQ(fk.pad_pulls[3], HAL_PULL_UP); /* bias kept */
    frame_t g = get_line_config(3);
    CHECK_EQ(g.p[5], VG_DIR_OFF);
    g = get_line_config(0);
    CHECK_EQ(g.p[5], VG_DIR_OUTPUT);
    CHECK_EQ(g.p[8], VG_DRIVE_PUSH_PULL);
    unsigned done = 0, tripped = 0;
    while (dev_event(&e)) {
        if (e.type == VG_T_PULSE_DONE) {
            CHECK_EQ(e.p[2], VG_PULSE_CANCELLED_FAILSAFE);
            CHECK(e.p[0] == 0 || e.p[0] == 4);
            done++;
        } else if (e.type == VG_T_FAILSAFE_TRIPPED) {
            CHECK_EQ(e.len, 24);
            CHECK_EQ(rd64(e.p), last + 100000);
            CHECK_EQ(rd32(e.p + 8), 0x3);
            CHECK_EQ(rd32(e.p + 12), 0x2);
            CHECK_EQ(rd32(e.p + 16), 0x8);
            CHECK_EQ(rd32(e.p + 20), 100);
            tripped++;
        }
    }
    CHECK_EQ(done, 2);
    CHECK_EQ(tripped, 1);
    fake_advance(10000000);
    vg_poll();
    CHECK(!dev_event(&e));                  /* disarmed */
}

/* ---- RESET / REBOOT / GET_LINE_CONFIG ---------------------------------------------------------------- */

static void test_reset(void)
{
    dev_boot(1000);
    OK(line_config(0x3, VG_DIR_OUTPUT, 1, VG_BIAS_PULL_UP, 0, 0, 0, 0));
    OK(line_config(0x4, VG_DIR_INPUT, 0, VG_BIAS_NONE, 0, VG_EDGE_BOTH, 0, 0));
    OK(line_config(0x8, VG_DIR_INPUT, 0, VG_BIAS_NONE, 0, 0, VG_LEVEL_HIGH, 0));
    OK(pulse(0, 0, 100));
    OK(failsafe(50, 0x2, 0, 0));
    fake_drive(2, 1);
    fake_drive(2, 0);
    fake_drive(3, 1);
    uint32_t tx_before = vg_stats()->tx_frames;
    OK(simple(VG_T_RESET));
    frame_t e;
    CHECK(!dev_event(&e));                  /* edges, LEVEL discarded */
    CHECK_EQ(fk.oe, 0);
    for (unsigned n = 0; n < 30; n++) {
        if (VG_RESERVED_MASK & (1u << n))
            continue;
        CHECK_EQ(fk.pad_pulls[n], HAL_PULL_DOWN);
        CHECK(fk.pad_ie[n]);
    }
    CHECK_EQ(fk.inte[0] | fk.inte[1] | fk.inte[2] | fk.inte[3], 0);
    fake_advance(1000000);
    vg_poll();
    CHECK(!dev_event(&e));                  /* no PULSE_DONE, no failsafe */
    CHECK_EQ(fake_pin(1), 0);
    CHECK_EQ(vg_stats()->tx_frames, tx_before + 1);  /* stats kept */
    frame_t g = get_line_config(2);
    CHECK_EQ(rd16(g.p + 19), 1);            /* line_seq restarts */
    CHECK_EQ(rd32(g.p + 13), 0);
    /* Every configured line reads back as OFF with pull-down (the core resets per-line state lazily:
     * these lines' old settings are still in its tables). */
    for (unsigned n = 0; n < 4; n++) {
        g = get_line_config(n);
        CHECK_EQ(st(&g), VG_OK);
        CHECK_EQ(g.p[5], VG_DIR_OFF);
        CHECK_EQ(g.p[6], 0);
        CHECK_EQ(g.p[7], VG_BIAS_PULL_DOWN);
        CHECK_EQ(g.p[8], 0);
        CHECK_EQ(g.p[9], 0);
        CHECK_EQ(g.p[10], 0);
        CHECK_EQ(rd32(g.p + 13), 0);
        CHECK_EQ(g.p[18], 0);
        CHECK_EQ(rd16(g.p + 19), 1);
    }
    ERR(level_rearm(0x8), VG_BAD_REQUEST, 3);   /* level detection is gone with the reset */
    /* A failsafe releasing a line that had a pull-up before the reset leaves it pulled down. */
    OK(failsafe(50, 0, 0, 0x1));
    fake_advance(100000);
    vg_poll();
    CHECK(dev_event(&e));
    CHECK_EQ(e.type, VG_T_FAILSAFE_TRIPPED);
    CHECK_EQ(fk.pad_pulls[0], HAL_PULL_DOWN);
    g = get_line_config(0);
    CHECK_EQ(g.p[7], VG_BIAS_PULL_DOWN);
    /* event seq kept: the next event frame continues the numbering */
    uint16_t next_seq = (uint16_t)(e.seq + 1u);
    OK(line_config(0x4, VG_DIR_INPUT, 0, VG_BIAS_NONE, 0, VG_EDGE_BOTH, 0, 0));
    fake_drive(2, 1);
    CHECK(dev_event(&e));
    CHECK_EQ(e.seq, next_seq);
    CHECK_EQ(e.p[8 + 2], 1);                /* line_seq 1 */
    /* A second RESET with nothing configured since touches only what was configured in between. */
    unsigned calls = fk.lines_off_calls;
    OK(simple(VG_T_RESET));
    CHECK_EQ(fk.lines_off_calls, calls + 1);
    g = get_line_config(2);
    CHECK_EQ(g.p[9], 0);
    CHECK_EQ(rd16(g.p + 19), 1);
}

static void test_get_line_config_paths(void)
{
    dev_boot(1000);
    ERR(get_line_config(30), VG_BAD_LINE, 30);
    ERR(get_line_config(255), VG_BAD_LINE, 255);
    ERR(get_line_config(29), VG_RESERVED_LINE, 29);
    OK(line_config(1u << 9, VG_DIR_INPUT, 0, VG_BIAS_PULL_UP, 0, VG_EDGE_FALLING, VG_LEVEL_LOW, 1234));
    frame_t g = get_line_config(9);
    CHECK_EQ(st(&g), VG_OK);
    CHECK_EQ(g.len, 21);
    CHECK_EQ(rd32(g.p + 1), 1u << 9);
    CHECK_EQ(g.p[5], VG_DIR_INPUT);
    CHECK_EQ(g.p[6], 0);
    CHECK_EQ(g.p[7], VG_BIAS_PULL_UP);
    CHECK_EQ(g.p[9], VG_EDGE_FALLING);
    CHECK_EQ(g.p[10], VG_LEVEL_LOW);
    CHECK_EQ(rd32(g.p + 13), 1234);
    CHECK_EQ(g.p[17], 1);                   /* pulled up */
    CHECK_EQ(g.p[18], 2);                   /* level armed */
}

/* ---- LEVEL ------------------------------------------------------------------------------------------ */

static void test_level_one_shot_and_rearm(void)
{
    dev_boot(1000);
    ERR(level_rearm(1u << 6), VG_BAD_REQUEST, 6);
    ERR(level_rearm(1u << 30), VG_BAD_LINE, 30);
    ERR(level_rearm(1u << 24), VG_RESERVED_LINE, 24);
    OK(line_config(1u << 6, VG_DIR_INPUT, 0, VG_BIAS_PULL_DOWN, 0, 0, VG_LEVEL_HIGH, 0));
    OK(line_config(1u << 7, VG_DIR_INPUT, 0, VG_BIAS_PULL_DOWN, 0, 0, VG_LEVEL_HIGH, 0));
    ERR(level_rearm((1u << 6) | (1u << 8)), VG_BAD_REQUEST, 8);
    frame_t e;
    CHECK(!dev_event(&e));
    fk.now = 2000;
    fake_drive(6, 1);
    CHECK(dev_event(&e));
    CHECK_EQ(e.type, VG_T_LEVEL);
    CHECK_EQ(rd64(e.p), 2000);
    CHECK_EQ(rd32(e.p + 8), 1u << 6);
    CHECK_EQ(rd32(e.p + 12), 1u << 6);
    /* One-shot: held level and further toggles say nothing. */
    fake_drive(6, 0);
    fake_drive(6, 1);
    CHECK(!dev_event(&e));
    frame_t g = get_line_config(6);
    CHECK_EQ(g.p[18] & 2u, 0);
    /* Re-arm while active: an event at once. */
    fk.now = 3000;
    OK(level_rearm(1u << 6));
    CHECK(dev_event(&e));
    CHECK_EQ(rd64(e.p), 3000);
    CHECK_EQ(rd32(e.p + 8), 1u << 6);
    CHECK(!dev_event(&e));
    /* Re-arm while inactive: armed, fires on the next high. */
    fake_drive(6, 0);
    OK(level_rearm(1u << 6));
    g = get_line_config(6);
    CHECK_EQ(g.p[18] & 2u, 2);
    CHECK(!dev_event(&e));
    /* Two lines going active in one service share one event. */
    fake_hold_irqs(true);
    fk.now = 4000;
    fake_drive(6, 1);
    fake_drive(7, 1);
    fake_hold_irqs(false);
    CHECK(dev_event(&e));
    CHECK_EQ(rd32(e.p + 8), (1u << 6) | (1u << 7));
    CHECK_EQ(rd32(e.p + 12), (1u << 6) | (1u << 7));
    CHECK(!dev_event(&e));
    /* level-low */
    OK(line_config(1u << 10, VG_DIR_INPUT, 0, VG_BIAS_PULL_UP, 0, 0, VG_LEVEL_LOW, 0));
    fake_drive(10, 0);
    CHECK(dev_event(&e));
    CHECK_EQ(rd32(e.p + 8), 1u << 10);
    CHECK_EQ(rd32(e.p + 12), 0);
}

/* ---- edges, ring, overflow, debounce ------------------------------------------------------------------- */

static void test_edges_basic(void)
{
    dev_boot(1000);
    fake_drive(3, 0);
    fake_drive(4, 0);
    OK(line_config(1u << 3, VG_DIR_INPUT, 0, 0, 0, VG_EDGE_BOTH, 0, 0));
    OK(line_config(1u << 4, VG_DIR_INPUT, 0, 0, 0, VG_EDGE_RISING, 0, 0));
    frame_t e;
    CHECK(!dev_event(&e));                   /* pad-write edges were discarded */
    fk.now = 1000000; fake_drive(3, 1);
    fk.now = 1000250; fake_drive(3, 0);
    fk.now = 1000251; fake_drive(4, 1);
    fk.now = 1000260; fake_drive(4, 0);      /* falling not reported on a RISING line */
    fk.now = 1000500; fake_drive(3, 1);
    rec_t r[8];
    CHECK_EQ(drain(r, 8, NULL, NULL), 4);
    CHECK(r[0].line == 3 && r[0].kind == 1 && r[0].seq == 1 && r[0].t == 1000000);
    CHECK(r[1].line == 3 && r[1].kind == 2 && r[1].seq == 2 && r[1].t == 1000250);
    CHECK(r[2].line == 4 && r[2].kind == 1 && r[2].seq == 1 && r[2].t == 1000251);
    CHECK(r[3].line == 3 && r[3].kind == 1 && r[3].seq == 3 && r[3].t == 1000500);
    CHECK_EQ(vg_stats()->events_sent, 4);
}

static void test_rise_and_fall_in_one_service(void)
{
    dev_boot(1000);
    fake_drive(5, 0);
    OK(line_config(1u << 5, VG_DIR_INPUT, 0, 0, 0, VG_EDGE_BOTH, 0, 0));
    fake_hold_irqs(true);
    fake_drive(5, 1);
    fake_drive(5, 0);                        /* pulse high: now low -> rise then fall */
    fk.now = 2000;
    fake_hold_irqs(false);
    fake_hold_irqs(true);
    fake_drive(5, 1);
    fake_drive(5, 0);
    fake_drive(5, 1);                        /* low glitch, now high -> fall then rise */
    fk.now = 3000;
    fake_hold_irqs(false);
    rec_t r[8];
    CHECK_EQ(drain(r, 8, NULL, NULL), 4);
    CHECK(r[0].kind == VG_KIND_RISING && r[1].kind == VG_KIND_FALLING);
    CHECK(r[0].t == 2000 && r[1].t == 2000);
    CHECK(r[2].kind == VG_KIND_FALLING && r[3].kind == VG_KIND_RISING);
    CHECK(r[2].t == 3000 && r[3].t == 3000);
    for (unsigned i = 0; i < 4; i++)
        CHECK_EQ(r[i].seq, i + 1);
    CHECK_EQ(fk.gpio_services, 2);
}

static void test_batching_and_timestamps(void)
{
    dev_boot(1000);
    fake_drive(6, 0);
    OK(line_config(1u << 6, VG_DIR_INPUT, 0, 0, 0, VG_EDGE_BOTH, 0, 0));
    for (unsigned i = 0; i < 40; i++) {
        fk.now = 5000 + 7 * i;
        fake_drive(6, (i & 1) ? 0u : 1u);
    }
    frame_t e;
    CHECK(dev_event(&e));
    CHECK_EQ(e.type, VG_T_EDGES);
    CHECK_EQ(e.len, 8 + 31 * 8);
    CHECK_EQ(rd64(e.p), 5000);
    CHECK_EQ(rd32(e.p + 8 + 30 * 8 + 4), 7 * 30);
    CHECK(dev_event(&e));
    CHECK_EQ(e.len, 8 + 9 * 8);
    CHECK_EQ(rd64(e.p), 5000 + 7 * 31);
    CHECK_EQ(rd32(e.p + 8 + 4), 0);
    CHECK(!dev_event(&e));
    /* A record more than 2^32 us after the base starts a new frame. */
    fk.now = 10000; fake_drive(6, 1);
    fk.now = 10000 + 0x100000000ull; fake_drive(6, 0);
    CHECK(dev_event(&e));
    CHECK_EQ(e.len, 16);
    CHECK(dev_event(&e));
    CHECK_EQ(rd64(e.p), 10000 + 0x100000000ull);
}

static void test_overflow_then_newer_records(void)
{
    dev_boot(1000);
    fake_drive(3, 0);
    fake_drive(4, 0);
    OK(line_config(0x18, VG_DIR_INPUT, 0, 0, 0, VG_EDGE_BOTH, 0, 0));
    unsigned total = VG_EVENT_CAPACITY + 20;
    for (unsigned i = 0; i < total; i++) {
        fk.now = 10000 + i;
        fake_drive(3 + (i & 1), ((i >> 1) & 1) ? 0u : 1u);
    }
    /* Drain one frame: room again. Then more edges arrive. */
    frame_t e;
    CHECK(dev_event(&e));
    CHECK_EQ(e.type, VG_T_EDGES);
    CHECK_EQ(e.len, 8 + 31 * 8);
    for (unsigned i = 0; i < 4; i++) {
        fk.now = 20000 + i;
        fake_drive(3, (i & 1) ? 0u : 1u);
    }
    static rec_t r[400];
    frame_t ovf;
    unsigned n_ovf;
    size_t n = drain(r, 400, &ovf, &n_ovf);
    CHECK_EQ(n_ovf, 1);
    CHECK_EQ(n, VG_EVENT_CAPACITY - 31 + 1 + 4);
    size_t m = VG_EVENT_CAPACITY - 31;
    CHECK_EQ(r[m].line, 0xff);                            /* OVERFLOW exactly after the buffered ones */
    CHECK_EQ(ovf.len, 24);
    CHECK_EQ(rd32(ovf.p), 20);
    CHECK_EQ(rd32(ovf.p + 4), 0x18);
    CHECK_EQ(rd64(ovf.p + 8), 10000 + VG_EVENT_CAPACITY);
    CHECK_EQ(rd64(ovf.p + 16), 10000 + total - 1);
    for (size_t i = m + 1; i < n; i++)
        CHECK(r[i].t >= 20000);                           /* newer than every lost one */
    /* line_seq gap on GP3 equals its losses: 10 lost on GP3 */
    CHECK_EQ(r[m - 1].line, 4);
    CHECK_EQ(r[m - 2].line, 3);
    CHECK_EQ(r[m + 1].line, 3);
    CHECK_EQ(r[m + 1].seq - r[m - 2].seq - 1, 10);
    CHECK_EQ(vg_stats()->events_lost, 20);
    CHECK_EQ(vg_stats()->events_sent, VG_EVENT_CAPACITY + 4);
}

static void test_overflow_reported_without_later_edges(void)
{
    dev_boot(1000);
    fake_drive(3, 0);
    OK(line_config(0x8, VG_DIR_INPUT, 0, 0, 0, VG_EDGE_BOTH, 0, 0));
    for (unsigned i = 0; i < VG_EVENT_CAPACITY + 3; i++) {
        fk.now = 10000 + i;
        fake_drive(3, (i & 1) ? 0u : 1u);
    }
    static rec_t r[300];
    frame_t ovf;
    unsigned n_ovf;
    size_t n = drain(r, 300, &ovf, &n_ovf);
    CHECK_EQ(n_ovf, 1);
    CHECK_EQ(n, VG_EVENT_CAPACITY + 1);
    CHECK_EQ(r[n - 1].line, 0xff);
    CHECK_EQ(rd32(ovf.p), 3);
    CHECK_EQ(rd32(ovf.p + 4), 0x8);
    frame_t g = get_line_config(3);
    CHECK_EQ(rd16(g.p + 19), VG_EVENT_CAPACITY + 3 + 1);  /* lost edges used line_seq numbers */
}

static void test_debounce(void)
{
    dev_boot(1000);
    fake_drive(12, 0);
    fake_drive(13, 0);
    OK(line_config(1u << 12, VG_DIR_INPUT, 0, 0, 0, VG_EDGE_BOTH, 0, 1000));
    OK(line_config(1u << 13, VG_DIR_INPUT, 0, 0, 0, VG_EDGE_BOTH, 0, 0));
    frame_t e;
    /* Glitches shorter than 1000 us: swallowed, no line_seq used. */
    fk.now = 10000; fake_drive(12, 1);
    fake_advance(300); fake_drive(12, 0);
    fake_advance(999); fake_drive(12, 1);
    fake_advance(500); fake_drive(12, 0);
    fake_advance(5000);
    CHECK(!dev_event(&e));
    /* A real transition with bounces: reported once, stamped at the start of the stable period. */
    fk.now = 20000; fake_drive(12, 1);
    fake_advance(50); fake_drive(12, 0);
    fake_advance(50); fake_drive(12, 1);     /* stable from 20100 */
    fake_advance(999);
    CHECK(!dev_event(&e));
    /* meanwhile an undebounced edge on GP13 at 20800 */
    fk.now = 21050; fake_drive(13, 1);
    fake_advance(50);                         /* 21100: GP12 stable for 1000 us */
    rec_t r[4];
    CHECK_EQ(drain(r, 4, NULL, NULL), 2);
    CHECK(r[0].line == 13 && r[0].t == 21050);
    CHECK(r[1].line == 12 && r[1].kind == VG_KIND_RISING && r[1].seq == 1);
    /* timestamps never decrease: the debounced record's 20100 is clamped to the last one sent */
    CHECK_EQ(r[1].t, 21050);
    /* The same with no other traffic: the exact start time. */
    fk.now = 30000; fake_drive(12, 0);
    fake_advance(20); fake_drive(12, 1);
    fake_advance(20); fake_drive(12, 0);     /* stable low from 30040 */
    fake_advance(2000);
    CHECK_EQ(drain(r, 4, NULL, NULL), 1);
    CHECK(r[0].line == 12 && r[0].kind == VG_KIND_FALLING && r[0].seq == 2 && r[0].t == 30040);
    /* Rising-only with debounce: the falling settle is not reported and uses no line_seq. */
    OK(line_config(1u << 12, VG_DIR_INPUT, 0, 0, 0, VG_EDGE_RISING, 0, 100));
    fk.now = 40000; fake_drive(12, 1);
    fake_advance(200);
    fake_drive(12, 0);
    fake_advance(200);
    CHECK_EQ(drain(r, 4, NULL, NULL), 1);
    CHECK(r[0].kind == VG_KIND_RISING && r[0].seq == 3 && r[0].t == 40000);
    frame_t g = get_line_config(12);
    CHECK_EQ(rd16(g.p + 19), 4);
}

static void test_reconfig_discards_latched_edges(void)
{
    dev_boot(1000);
    fake_drive(14, 0);
    OK(line_config(1u << 14, VG_DIR_OFF, 0, 0, 0, 0, 0, 0));
    fake_drive(14, 1);                       /* latched while OFF */
    fake_drive(14, 0);
    OK(line_config(1u << 14, VG_DIR_INPUT, 0, 0, 0, VG_EDGE_BOTH, 0, 0));
    frame_t e;
    CHECK(!dev_event(&e));
    fake_drive(14, 1);
    CHECK(dev_event(&e));
    CHECK_EQ(e.p[8 + 1], VG_KIND_RISING);
}

static void test_bad_version_gets_version_mismatch(void)
{
    dev_boot(1000);
    uint8_t raw[16];
    uint8_t enc[64];
    size_t n = frame_build_raw(raw, 7, VG_T_HELLO, 0x0202, (const uint8_t *)"\x07\x07", 2);
    enc[0] = 0xc0;
    size_t m = 1 + slip_escape(enc + 1, raw, n);
    enc[m++] = 0xc0;
    frame_t r[2];
    CHECK_EQ(dev_bytes(enc, m, r, 2), 1);
    CHECK_EQ(r[0].type, VG_T_VERSION_MISMATCH);
    CHECK_EQ(r[0].seq, 0x0202);
    CHECK_EQ(vg_stats()->rx_bad_version, 1);
}

static void test_interleaved_stream(void)
{
    /* Several requests in one buffer, split at odd points: one reply each, in order. */
    dev_boot(1000);
    uint8_t buf[2048];
    size_t n = 0;
    for (unsigned i = 0; i < 8; i++)
        n += frame_encode(buf + n, VG_T_PING, (uint16_t)(0xc0db + i), (const uint8_t *)"\xc0\xdb\xdb\xc0", 4);
    frame_t r[8];
    size_t got = 0;
    for (size_t pos = 0; pos < n;) {
        size_t chunk = (n - pos) < 13 ? n - pos : 13;
        got += dev_bytes(buf + pos, chunk, r + got, 8 - got);
        pos += chunk;
    }
    CHECK_EQ(got, 8);
    for (unsigned i = 0; i < 8; i++) {
        CHECK_EQ(r[i].seq, 0xc0db + i);
        CHECK_MEM(r[i].p + 9, "\xc0\xdb\xdb\xc0", 4);
    }
}

static void test_fuzz_garbage_and_random_requests(void)
{
    /* Random bytes: never a crash (ASan/UBSan watch), never a reply to something with a bad CRC. */
    dev_boot(1000);
    static uint8_t buf[4096];
    frame_t r[64];
    uint32_t x = 12345;
    for (int round = 0; round < 200; round++) {
        for (size_t i = 0; i < sizeof buf; i++) {
            x = x * 1103515245u + 12345u;
            uint8_t b = (uint8_t)(x >> 16);
            buf[i] = (b < 8) ? 0xc0 : (b < 16) ? 0xdb : b;
        }
        CHECK_EQ(dev_bytes(buf, sizeof buf, r, 64), 0);
    }
    /* Random CRC-valid requests: exactly one reply each, same seq, type | 0x80 (or VERSION_MISMATCH). */
    for (int i = 0; i < 20000; i++) {
        uint8_t p[VG_MAX_PAYLOAD];
        x = x * 1103515245u + 12345u;
        unsigned type = 1u + (x >> 16) % 19;  /* request range only: other types get no reply */
        x = x * 1103515245u + 12345u;
        size_t len = (x >> 16) % 24;
        if (type == VG_T_RESET || type == VG_T_REBOOT_TO_BOOTLOADER)
            type = VG_T_HEARTBEAT;
        for (size_t j = 0; j < len; j++) {
            x = x * 1103515245u + 12345u;
            p[j] = (uint8_t)(x >> 16);
            if ((x >> 8) & 1u)
                p[j] &= 0x1f;                 /* plausible line numbers and small fields */
        }
        frame_t reply;
        CHECK(dev_req(type, (unsigned)i & 0xffffu, p, len, &reply));
        CHECK_EQ(reply.seq, (unsigned)i & 0xffffu);
        CHECK_EQ(reply.type, type | 0x80u);
        CHECK(reply.len >= 1);
        if (reply.p[0] != VG_OK)
            CHECK_EQ(reply.len, 2);
        fake_advance((x >> 20) & 0xff);
        vg_poll();
        frame_t e;
        while (dev_event(&e))
            CHECK(e.type >= VG_T_EDGES && e.type <= VG_T_FAILSAFE_TRIPPED);
    }
}

void run_core_tests(void)
{
    RUN(test_fuzz_garbage_and_random_requests);
    RUN(test_hello_versions);
    RUN(test_wrong_lengths_are_bad_request);
    RUN(test_ping_echo_and_time);
    RUN(test_unknown_types_and_counters);
    RUN(test_bad_version_gets_version_mismatch);
    RUN(test_interleaved_stream);
    RUN(test_line_config_status_paths);
    RUN(test_output_push_pull_no_glitch);
    RUN(test_open_drain_and_open_source);
    RUN(test_set_values_atomic_and_status_paths);
    RUN(test_get_values);
    RUN(test_pulse);
    RUN(test_pulse_done_pending_is_busy);
    RUN(test_failsafe_validation);
    RUN(test_failsafe_trip);
    RUN(test_reset);
    RUN(test_get_line_config_paths);
    RUN(test_level_one_shot_and_rearm);
    RUN(test_edges_basic);
    RUN(test_rise_and_fall_in_one_service);
    RUN(test_batching_and_timestamps);
    RUN(test_overflow_then_newer_records);
    RUN(test_overflow_reported_without_later_edges);
    RUN(test_debounce);
    RUN(test_reconfig_discards_latched_edges);
}
