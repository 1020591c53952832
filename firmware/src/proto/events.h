/*
 * The edge event ring (PROTOCOL.md §4.2, §4.3): single producer (the GPIO and TIMER ISRs, which run at
 * the same NVIC priority and so never preempt each other), single consumer (the main loop).
 *
 * Records are 16 bytes: 64-bit time, line, kind, line_seq. When the ring is full new records are
 * dropped and counted in an open overflow accumulator (lost, lines, first and last time). The next push
 * that finds room for the OVERFLOW marker (two slots) plus its record first closes the accumulator
 * into a marker, so the OVERFLOW is sent before every later record; if no later edge comes, the
 * consumer closes the accumulator itself once it has drained the ring. Timestamps pushed are made
 * non-decreasing (a debounced edge is pushed late with its earlier start time; it is clamped to the
 * last time pushed so `base_us + delta_us` never goes backwards).
 */
#ifndef VGPIO_PROTO_EVENTS_H
#define VGPIO_PROTO_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/vg_config.h"

typedef struct {
    uint64_t time;
    union {
        struct {
            uint8_t line;
            uint8_t kind;       /* VG_KIND_RISING / VG_KIND_FALLING, or EV_MARK_* */
            uint16_t seq;
        };
        uint32_t id;            /* the three above as one word: the producer writes them with one store */
    };
    uint32_t aux;               /* markers: lost count / lines mask */
} ev_rec_t;

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "ev_rec_id() assumes little-endian (RP2040, x86)");
static inline uint32_t ev_rec_id(unsigned line, unsigned kind, unsigned seq)
{
    return (line & 0xffu) | (kind & 0xffu) << 8 | (uint32_t)(seq & 0xffffu) << 16;
}

#define EV_MARK_A   0x80u       /* OVERFLOW marker, first slot: time = first_us, aux = lost */
#define EV_MARK_B   0x81u       /* second slot: time = last_us, aux = lines */

/* The indices and the accumulator come first: the ISR's loads and stores of them then use immediate
 * offsets from one base register (Thumb-1 reaches 124 bytes), not a second address behind 4 KiB of
 * records. */
typedef struct {
    volatile uint32_t head;     /* free-running, written by the producer */
    volatile uint32_t tail;     /* free-running, written by the consumer */
    uint64_t last_time;         /* producer: time of the last record pushed or dropped */
    uint32_t ovf_lost;          /* open overflow accumulator (producer; consumer with IRQs masked) */
    uint32_t ovf_lines;
    uint64_t ovf_first;
    uint64_t ovf_last;
    ev_rec_t rec[VG_EVENT_CAPACITY];
} evring_t;

extern evring_t g_ev;

void ev_init(void);

#define EV_MASK (VG_EVENT_CAPACITY - 1u)
_Static_assert((VG_EVENT_CAPACITY & EV_MASK) == 0, "event capacity must be a power of two");

/* Writes one record at `head` and publishes it (the consumer reads head only after the barrier). */
static inline void ev_write_record(evring_t *r, uint32_t head, unsigned line, unsigned kind, unsigned seq, uint64_t t)
{
    ev_rec_t *e = &r->rec[head & EV_MASK];
    e->time = t;
    e->line = (uint8_t)line;
    e->kind = (uint8_t)kind;
    e->seq = (uint16_t)seq;
    VG_BARRIER();
    r->head = head + 1u;
}

/* Producer, the uncommon cases: an overflow is open (close it into a marker first, or count the record
 * as lost) or the ring is full. */
void ev_push_slow(unsigned line, unsigned kind, unsigned seq, uint64_t t);

/* Producer (interrupt context, or thread context with interrupts masked). Inline: it runs once per edge
 * inside the GPIO ISR, where a call with a 64-bit argument on the stack costs a third of the budget. */
static inline void ev_push(unsigned line, unsigned kind, unsigned seq, uint64_t t)
{
    evring_t *r = &g_ev;
    uint32_t head = r->head;
    if (r->ovf_lost != 0 || head - r->tail >= VG_EVENT_CAPACITY) {
        ev_push_slow(line, kind, seq, t);
        return;
    }
    if (t < r->last_time)
        t = r->last_time;
    r->last_time = t;
    ev_write_record(r, head, line, kind, seq, t);
}

/* Producer, the GPIO service's form: ev_stamp() once per service clamps its timestamp and makes it
 * last_time, then ev_put() per record copies last_time (so the loop holds no 64-bit value in registers
 * and does no per-record 64-bit compare, as ev_push does). */
static inline void ev_stamp(uint64_t t)
{
    evring_t *r = &g_ev;
    if (t < r->last_time)
        t = r->last_time;
    r->last_time = t;
}

static inline void ev_put(unsigned line, unsigned kind, unsigned seq)
{
    evring_t *r = &g_ev;
    uint32_t head = r->head;
    if (r->ovf_lost != 0 || head - r->tail >= VG_EVENT_CAPACITY) {
        ev_push_slow(line, kind, seq, r->last_time);
        return;
    }
    ev_rec_t *e = &r->rec[head & EV_MASK];
    e->time = r->last_time;
    e->id = ev_rec_id(line, kind, seq);
    VG_BARRIER();
    r->head = head + 1u;
}

/* Consumer: non-zero when there is anything to send (records, a marker, or an open overflow with an
 * empty ring). A word, not a bool, so a caller can OR it with other pending flags and test once. Inline:
 * the main loop asks every pass. */
static inline uint32_t ev_pending_word(void)
{
    return (g_ev.head ^ g_ev.tail) | g_ev.ovf_lost;
}

static inline bool ev_pending(void)
{
    return ev_pending_word() != 0;
}

/* Consumer: build the payload of the next EDGES or OVERFLOW frame into payload (>= 256 bytes), set
 * *type, and account sent records / lost counts into *sent / *lost. Returns the payload length, 0 if
 * nothing is pending. */
size_t ev_build(uint8_t *payload, uint8_t *type, uint32_t *sent, uint32_t *lost);

/* Discard everything queued and the open overflow (RESET). Call with interrupts masked. */
void ev_discard(void);

#endif
