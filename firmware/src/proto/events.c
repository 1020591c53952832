/* Edge event ring with overflow accounting and EDGES batching, see events.h. */
#include "proto/events.h"

#include "hal/hal.h"
#include "proto/frame.h"
#include "proto/protocol.h"

evring_t g_ev;

void ev_init(void)
{
    g_ev.head = 0;
    g_ev.tail = 0;
    g_ev.last_time = 0;
    g_ev.ovf_lost = 0;
    g_ev.ovf_lines = 0;
    g_ev.ovf_first = 0;
    g_ev.ovf_last = 0;
}

VG_TIME_CRITICAL void ev_push_slow(unsigned line, unsigned kind, unsigned seq, uint64_t t)
{
    evring_t *r = &g_ev;
    uint32_t head = r->head;
    uint32_t used = head - r->tail;
    ev_rec_t *e;

    if (t < r->last_time)
        t = r->last_time;
    r->last_time = t;

    if (r->ovf_lost) {
        if (used + 3u > VG_EVENT_CAPACITY)
            goto lost;
        e = &r->rec[head & EV_MASK];
        e->time = r->ovf_first;
        e->kind = EV_MARK_A;
        e->aux = r->ovf_lost;
        e = &r->rec[(head + 1u) & EV_MASK];
        e->time = r->ovf_last;
        e->kind = EV_MARK_B;
        e->aux = r->ovf_lines;
        r->ovf_lost = 0;
        r->ovf_lines = 0;
        head += 2u;
    } else if (used >= VG_EVENT_CAPACITY) {
        goto lost;
    }
    ev_write_record(r, head, line, kind, seq, t);
    return;

lost:
    if (r->ovf_lost++ == 0)
        r->ovf_first = t;
    r->ovf_last = t;
    r->ovf_lines |= 1u << line;
}


static size_t build_overflow(uint8_t *p, uint32_t lost, uint32_t lines, uint64_t first, uint64_t last)
{
    wr32(p, lost);
    wr32(p + 4, lines);
    wr64(p + 8, first);
    wr64(p + 16, last);
    return 24;
}

size_t ev_build(uint8_t *payload, uint8_t *type, uint32_t *sent, uint32_t *lost)
{
    evring_t *r = &g_ev;
    uint32_t tail = r->tail;
    uint32_t head = r->head;
    VG_BARRIER();

    if (head == tail) {
        /* Ring drained: close an open overflow here, so it is reported even if no edge follows. */
        uint32_t s = hal_irq_save();
        size_t n = 0;
        if (r->head == tail && r->ovf_lost) {
            n = build_overflow(payload, r->ovf_lost, r->ovf_lines, r->ovf_first, r->ovf_last);
            *lost += r->ovf_lost;
            r->ovf_lost = 0;
            r->ovf_lines = 0;
            *type = VG_T_OVERFLOW;
        }
        hal_irq_restore(s);
        return n;
    }

    const ev_rec_t *e = &r->rec[tail & EV_MASK];
    if (e->kind == EV_MARK_A) {
        const ev_rec_t *b = &r->rec[(tail + 1u) & EV_MASK];
        size_t n = build_overflow(payload, e->aux, b->aux, e->time, b->time);
        *lost += e->aux;
        *type = VG_T_OVERFLOW;
        VG_BARRIER();
        r->tail = tail + 2u;
        return n;
    }

    uint64_t base = e->time;
    uint8_t *p = payload + 8;
    unsigned count = 0;
    wr64(payload, base);
    while (tail != head && count < VG_EDGES_MAX_RECORDS) {
        e = &r->rec[tail & EV_MASK];
        if (e->kind == EV_MARK_A)
            break;
        uint64_t delta = e->time - base;
        if (delta > 0xffffffffu)
            break;                              /* next frame gets a new base */
        p[0] = e->line;
        p[1] = e->kind;
        wr16(p + 2, e->seq);
        wr32(p + 4, (uint32_t)delta);
        p += VG_EDGE_RECORD_LEN;
        count++;
        tail++;
    }
    VG_BARRIER();
    r->tail = tail;
    *sent += count;
    *type = VG_T_EDGES;
    return (size_t)(p - payload);
}

void ev_discard(void)
{
    g_ev.tail = g_ev.head;
    g_ev.ovf_lost = 0;
    g_ev.ovf_lines = 0;
}
