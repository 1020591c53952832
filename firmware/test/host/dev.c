#include "dev.h"

#include <string.h>

#include "hal/hal.h"
#include "proto/slip.h"
#include "proto/vg_config.h"

const uint8_t test_serial[8] = { 0xe6, 0x60, 0x38, 0xb7, 0x13, 0x6b, 0x4f, 0x2a };
static unsigned next_seq = 100;

void dev_boot(uint64_t now)
{
    fake_reset(now);
    hal_init(VG_USABLE_MASK);
    vg_init(test_serial);
}

bool decode_frame(const uint8_t *enc, size_t n, frame_t *f)
{
    static slip_dec_t d;
    size_t used = 0;
    slip_dec_init(&d);
    slip_result_t r = slip_dec_feed(&d, enc, n, &used);
    if (r != SLIP_FRAME || used != n)
        return false;
    f->version = d.frame[0];
    f->type = d.frame[1];
    f->seq = rd16(d.frame + 2);
    f->len = d.frame_len - VG_MIN_FRAME;
    memcpy(f->p, d.frame + 4, f->len);
    return true;
}

size_t dev_bytes(const uint8_t *b, size_t n, frame_t *replies, size_t max)
{
    static uint8_t out[VG_MAX_ENCODED];
    size_t count = 0;
    while (n) {
        size_t used = 0;
        size_t len = vg_rx(b, n, &used, out);
        b += used;
        n -= used;
        if (len) {
            if (count < max && !decode_frame(out, len, &replies[count]))
                replies[count].type = 0xdead;
            count++;
        }
    }
    return count;
}

bool dev_req(unsigned type, unsigned seq, const void *payload, size_t len, frame_t *reply)
{
    static uint8_t enc[VG_MAX_ENCODED];
    size_t n = frame_encode(enc, (uint8_t)type, (uint16_t)seq, payload, len);
    frame_t tmp;
    size_t got = dev_bytes(enc, n, reply ? reply : &tmp, 1);
    return got == 1;
}

bool dev_event(frame_t *ev)
{
    static uint8_t out[VG_MAX_ENCODED];
    size_t n = vg_next_event(out);
    if (!n)
        return false;
    return decode_frame(out, n, ev);
}

static frame_t req(unsigned type, const uint8_t *p, size_t len)
{
    frame_t r;
    memset(&r, 0, sizeof r);
    unsigned seq = next_seq++;
    if (!dev_req(type, seq, p, len, &r) || r.type != (type | 0x80u) || r.seq != seq)
        r.len = 0;                  /* st() then reads 0xffff: fails any status check */
    return r;
}

frame_t line_config(uint32_t lines, unsigned dir, unsigned value, unsigned bias, unsigned drive, unsigned edge,
                    unsigned level, uint32_t debounce_us)
{
    uint8_t p[16] = { 0 };
    wr32(p, lines);
    p[4] = (uint8_t)dir; p[5] = (uint8_t)value; p[6] = (uint8_t)bias; p[7] = (uint8_t)drive;
    p[8] = (uint8_t)edge; p[9] = (uint8_t)level;
    wr32(p + 12, debounce_us);
    return req(VG_T_LINE_CONFIG, p, 16);
}

frame_t set_values(uint32_t mask, uint32_t values)
{
    uint8_t p[8];
    wr32(p, mask);
    wr32(p + 4, values);
    return req(VG_T_SET_VALUES, p, 8);
}

frame_t get_values(uint32_t mask)
{
    uint8_t p[4];
    wr32(p, mask);
    return req(VG_T_GET_VALUES, p, 4);
}

frame_t pulse(unsigned line, unsigned level, uint32_t duration_us)
{
    uint8_t p[8] = { (uint8_t)line, (uint8_t)level, 0, 0 };
    wr32(p + 4, duration_us);
    return req(VG_T_PULSE, p, 8);
}

frame_t failsafe(uint32_t timeout_ms, uint32_t drive, uint32_t values, uint32_t release)
{
    uint8_t p[16];
    wr32(p, timeout_ms);
    wr32(p + 4, drive);
    wr32(p + 8, values);
    wr32(p + 12, release);
    return req(VG_T_FAILSAFE, p, 16);
}

frame_t get_line_config(unsigned line)
{
    uint8_t p[1] = { (uint8_t)line };
    return req(VG_T_GET_LINE_CONFIG, p, 1);
}

frame_t level_rearm(uint32_t mask)
{
    uint8_t p[4];
    wr32(p, mask);
    return req(VG_T_LEVEL_REARM, p, 4);
}

frame_t simple(unsigned type)
{
    return req(type, NULL, 0);
}
