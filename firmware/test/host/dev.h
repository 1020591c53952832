/* Helpers that talk to the protocol core the way the host does: encoded frames in, frames out. */
#ifndef VGPIO_TEST_DEV_H
#define VGPIO_TEST_DEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fake_hal.h"
#include "proto/core.h"
#include "proto/frame.h"
#include "proto/protocol.h"

typedef struct {
    unsigned version, type, seq;
    uint8_t p[VG_MAX_PAYLOAD + 16];
    size_t len;                     /* payload length */
} frame_t;

extern const uint8_t test_serial[8];

void vg_test_set_event_seq(uint16_t seq);

/* Fresh fake hardware at time `now`, hal_init, vg_init. */
void dev_boot(uint64_t now);
/* Decode exactly one SLIP-encoded frame with a good CRC; false otherwise. */
bool decode_frame(const uint8_t *enc, size_t n, frame_t *f);
/* Send a request; returns true and the decoded reply if the device replied. */
bool dev_req(unsigned type, unsigned seq, const void *payload, size_t len, frame_t *reply);
/* Send raw bytes; returns the number of replies (decoded into replies[0..max)). */
size_t dev_bytes(const uint8_t *b, size_t n, frame_t *replies, size_t max);
/* Next event frame, decoded; false if none. */
bool dev_event(frame_t *ev);
/* Status byte of a reply and its detail. */
static inline unsigned st(const frame_t *f) { return f->len ? f->p[0] : 0xffffu; }
static inline unsigned dt(const frame_t *f) { return f->len > 1 ? f->p[1] : 0xffffu; }
static inline unsigned stv(frame_t f) { return st(&f); }

/* Request helpers returning the reply. */
frame_t line_config(uint32_t lines, unsigned dir, unsigned value, unsigned bias, unsigned drive, unsigned edge,
                    unsigned level, uint32_t debounce_us);
frame_t set_values(uint32_t mask, uint32_t values);
frame_t get_values(uint32_t mask);
frame_t pulse(unsigned line, unsigned level, uint32_t duration_us);
frame_t failsafe(uint32_t timeout_ms, uint32_t drive, uint32_t values, uint32_t release);
frame_t get_line_config(unsigned line);
frame_t level_rearm(uint32_t mask);
frame_t simple(unsigned type);

#endif
