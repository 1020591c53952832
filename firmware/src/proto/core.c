/*
 * Protocol core: receive path, dispatcher, line state machine, pulses, debounce, level one-shots,
 * failsafe, event frames, statistics. See core.h; the contract is hw/PROTOCOL.md (section numbers below).
 *
 * Concurrency (one core): thread context runs the dispatcher and builds event frames; the GPIO ISR
 * (vg_gpio_service) pushes edge records and level events; the TIMER ISR (vg_alarm_service) ends pulses,
 * settles debounced edges and flags the failsafe check. Both ISRs have the same priority, so they never
 * preempt each other. Thread context changes state the ISRs read only inside short critical sections
 * (one line at a time), so an edge is at most delayed by about a microsecond, never lost (the hardware
 * latches it).
 *
 * Validation always happens before anything is touched (§2.1: "a request that fails changes nothing").
 */
#include "proto/core.h"

#include <stddef.h>

#include "hal/hal.h"
#include "proto/events.h"
#include "proto/frame.h"
#include "proto/slip.h"

/* ---- state ------------------------------------------------------------------------------------------ */

typedef struct {
    uint64_t pulse_start;       /* PULSE: when the level was applied */
    uint64_t pulse_end;         /* PULSE_DONE: when the line left the pulse level */
    uint64_t db_since;          /* debounce: time of the last raw transition */
    uint64_t level_time;        /* LEVEL: when the level was seen */
    uint32_t debounce_us;
    uint8_t dir, bias, drive, edge, level;
    uint8_t irq_en;             /* HAL_IRQ_* bits currently enabled */
    uint8_t pulse_level;
    uint8_t pulse_outcome;
} line_t;

static line_t L[VG_NUM_LINES];
/* A line's state after RESET and at boot: OFF with pull-down, nothing enabled (what L[n] stands for
 * while the line is not touched, see m_touched). */
static const line_t line_reset_state = { .dir = VG_DIR_OFF, .bias = VG_BIAS_PULL_DOWN };
static uint16_t line_seq[VG_NUM_LINES];    /* last line_seq used (next edge carries +1) */

/* Per-line bit masks (bit n = line n). */
static uint32_t m_output;           /* direction OUTPUT */
static uint32_t m_od, m_os;         /* OUTPUT with OPEN_DRAIN / OPEN_SOURCE drive */
static uint32_t m_value;            /* logical output level of OUTPUT lines (what a pulse returns to) */
static uint32_t m_rise, m_fall;     /* INPUT lines reporting rising / falling edges */
static volatile uint32_t m_debounce;    /* INPUT lines with edge detection and debounce_us > 0 */
static uint32_t m_db_stable;        /* debounced level last accepted */
static uint32_t m_db_raw;           /* raw level after the last edge */
static uint32_t m_level_armed;
/* Lines line_apply() changed since the last reset_all(). Only they can differ from the RESET state, and
 * only their L[] entry and line_seq are current: reset_all() does not rewrite the others' (which are
 * either untouched since boot or left over from before the reset), whoever reads a line's
 * configuration asks line_touched() first, and line_apply() starts a line's state afresh on its
 * first change after a reset (see reset_all). */
static uint32_t m_touched;
static volatile uint32_t m_level_pending;  /* LEVEL event waiting to be sent */
static uint32_t m_level_values;
static volatile uint32_t m_pulse_running;
static volatile uint32_t m_pulse_done;     /* PULSE_DONE waiting to be sent */

/* Software deadlines multiplexed onto the one hardware alarm: slot n < 30 is line n (pulse end for an
 * output, debounce settle for an input; never both), slot DL_FAILSAFE the failsafe check. */
#define DL_FAILSAFE 30u
#define DL_SLOTS    31u
static uint64_t dl_time[DL_SLOTS];
static uint32_t dl_active;
static uint64_t dl_hw;              /* deadline the hardware alarm is armed for, UINT64_MAX if none */

/* Failsafe (§3.8). */
static bool fs_armed;
static uint32_t fs_timeout_us;           /* <= 600 s, fits 32 bits */
static uint32_t fs_drive_mask, fs_drive_values, fs_release_mask;
static uint64_t fs_last_rx;         /* time of the last CRC-valid frame */
static volatile bool fs_due;        /* the alarm says: check now */
static bool fs_tripped_pending;
static uint8_t fs_tripped_payload[24];

static vg_stats_t stats;
static uint16_t event_seq;
static uint8_t serial_id[8];
static slip_dec_t rx;
/* Payload under construction. Replies start with a status byte, so the payload starts 3 bytes into a
 * word-aligned buffer: everything after the status byte is word aligned, which frame_encode's word loop
 * and the aligned stores below (REPLY_BODY) rely on. */
static uint8_t scratch_buf[3u + VG_MAX_PAYLOAD] __attribute__((aligned(4)));
#define scratch (scratch_buf + 3)
#define REPLY_BODY ((uint8_t *)__builtin_assume_aligned(scratch_buf + 4, 4))
static bool reboot_pending;
static uint32_t reboot_led, reboot_disable;

/* ---- helpers ------------------------------------------------------------------------------------------- */

/* Index of the lowest set bit (mask != 0). The M0+ has no CLZ/CTZ; -lgcc's __ctzsi2 is a call and ~25
 * cycles. De Bruijn: the lowest bit times 0x077CB531 has a distinct top five bits for each of the 32
 * positions, so one multiply (single cycle on the RP2040) and a table load find it. */
static inline unsigned lowest_line(uint32_t mask)
{
    static const uint8_t debruijn_pos[32] = {
        0, 1, 28, 2, 29, 14, 24, 3, 30, 22, 20, 15, 25, 17, 4, 8,
        31, 27, 13, 23, 21, 19, 16, 7, 26, 12, 18, 6, 11, 5, 10, 9,
    };
    return debruijn_pos[((mask & -mask) * 0x077CB531u) >> 27];
}

/* Whether L[n] and line_seq[n] are current; if not, the line is in the RESET state (m_touched). */
static inline bool line_touched(unsigned n) { return (m_touched >> n) & 1u; }

/* HAL pulls of each VG_BIAS_*, and the interrupt enables of each VG_EDGE_* and VG_LEVEL_* (tables: a
 * load instead of a chain of compares; the values were validated before). */
static const uint8_t bias_pulls[4] = {
    [VG_BIAS_NONE] = 0, [VG_BIAS_PULL_UP] = HAL_PULL_UP, [VG_BIAS_PULL_DOWN] = HAL_PULL_DOWN,
    [VG_BIAS_BUS_KEEPER] = HAL_PULL_UP | HAL_PULL_DOWN,
};
static const uint8_t edge_irqs[4] = {
    [VG_EDGE_NONE] = 0, [VG_EDGE_RISING] = HAL_IRQ_EDGE_HIGH, [VG_EDGE_FALLING] = HAL_IRQ_EDGE_LOW,
    [VG_EDGE_BOTH] = HAL_IRQ_EDGE_HIGH | HAL_IRQ_EDGE_LOW,
};
static const uint8_t level_irqs[3] = {
    [VG_LEVEL_NONE] = 0, [VG_LEVEL_HIGH] = HAL_IRQ_LEVEL_HIGH, [VG_LEVEL_LOW] = HAL_IRQ_LEVEL_LOW,
};

/* mask with line bit b set if on, cleared if not */
static inline uint32_t with_bit(uint32_t mask, uint32_t b, bool on) { return (mask & ~b) | (on ? b : 0u); }

/* Deadline list; call with interrupts masked (or from the ISRs). */
static void dl_set(unsigned slot, uint64_t t)
{
    dl_time[slot] = t;
    dl_active |= 1u << slot;
    if (t < dl_hw) {
        dl_hw = t;
        hal_alarm_arm(t);
    }
}

static inline void dl_cancel(unsigned slot)
{
    /* Lazy: the hardware alarm may still fire for it; the service then finds nothing due and re-arms. */
    dl_active &= ~(1u << slot);
}

/* Drive a line's logical level through its drive mode: push-pull uses OUT, open-drain and open-source
 * use OE only (§3.4). */
static void drive_line(unsigned n, unsigned level)
{
    uint32_t b = 1u << n;
    if (m_od & b) {
        if (level) hal_oe_clr(b); else hal_oe_set(b);
    } else if (m_os & b) {
        if (level) hal_oe_set(b); else hal_oe_clr(b);
    } else {
        if (level) hal_out_set(b); else hal_out_clr(b);
    }
}

static unsigned line_logical_level(unsigned n)
{
    uint32_t b = 1u << n;
    if (m_pulse_running & b)
        return L[n].pulse_level;
    return (m_value & b) ? 1u : 0u;
}

/* ---- line configuration (§3.4) --------------------------------------------------------------------------- */

/* A LINE_CONFIG for one line. dir..edge are in the order of line_t's, so they are copied as one word. */
typedef struct {
    uint8_t dir, bias, drive, edge;
    uint8_t level, value;
    uint32_t debounce_us;
} cfg_t;
_Static_assert(offsetof(line_t, bias) == offsetof(line_t, dir) + 1 && offsetof(line_t, drive) == offsetof(line_t, dir) + 2
                   && offsetof(line_t, edge) == offsetof(line_t, dir) + 3 && offsetof(line_t, dir) % 4u == 0,
               "line_t's dir, bias, drive, edge: one aligned word, as in cfg_t");

/* Apply cfg to line n. Pulse outcome for a running pulse: 0xff = cancel silently (RESET). Interrupts
 * stay masked for the whole function, so the line's interrupt enables are written once, at the end
 * (off, or the new set with latched edges discarded): nothing in between is reported, as if detection
 * had been switched off first. Each per-line mask is written once, with the line's new bit. */
static void line_apply(unsigned n, const cfg_t *c, unsigned pulse_outcome)
{
    uint32_t b = 1u << n;
    line_t *l = &L[n];
    unsigned dir = c->dir;
    unsigned pulls = bias_pulls[c->bias];
    uint32_t s = hal_irq_save();
    if (!(m_touched & b)) {
        /* First change since RESET (or boot): what reset_all() left to be done for this line. The
         * configuration fields are all written below. */
        m_touched |= b;
        line_seq[n] = 0;
        l->irq_en = 0;
    }
    dl_cancel(n);
    unsigned en = 0;

    if (dir == VG_DIR_OUTPUT) {
        unsigned v = c->value, drive = c->drive;
        uint32_t new_out, new_oe;
        if (drive == VG_DRIVE_OPEN_DRAIN) {
            new_out = 0; new_oe = v ? 0 : b;
        } else if (drive == VG_DRIVE_OPEN_SOURCE) {
            new_out = b; new_oe = v ? b : 0;
        } else {
            new_out = v ? b : 0; new_oe = b;
        }
        hal_pad_config(n, pulls, true, true, false);
        /* Never glitch: release first when the driver ends up off; set the level first when it ends
         * up on. */
        if (!new_oe)
            hal_oe_clr(b);
        if (new_out) hal_out_set(b); else hal_out_clr(b);
        if (new_oe)
            hal_oe_set(b);
        m_output |= b;
        m_od = with_bit(m_od, b, drive == VG_DRIVE_OPEN_DRAIN);
        m_os = with_bit(m_os, b, drive == VG_DRIVE_OPEN_SOURCE);
        m_value = with_bit(m_value, b, v);
        m_rise &= ~b;
        m_fall &= ~b;
        m_debounce &= ~b;
        m_level_armed &= ~b;
    } else {
        hal_oe_clr(b);
        hal_out_clr(b);
        hal_pad_config(n, pulls, true, true, false);
        m_output &= ~b;
        m_od &= ~b;
        m_os &= ~b;
        m_value &= ~b;
        unsigned edge = c->edge, level = c->level;
        m_rise = with_bit(m_rise, b, edge & VG_EDGE_RISING);
        m_fall = with_bit(m_fall, b, edge & VG_EDGE_FALLING);
        m_level_armed = with_bit(m_level_armed, b, level != VG_LEVEL_NONE);
        if (dir == VG_DIR_INPUT) {
            en = edge_irqs[edge] | level_irqs[level];
            if (edge && c->debounce_us) {
                /* Debounce tracks the raw level through both edges. */
                en |= HAL_IRQ_EDGE_HIGH | HAL_IRQ_EDGE_LOW;
                uint32_t lvl = hal_gpio_in() & b;
                m_db_stable = (m_db_stable & ~b) | lvl;
                m_db_raw = (m_db_raw & ~b) | lvl;
                m_debounce |= b;
            } else {
                m_debounce &= ~b;
            }
            /* Discard edges latched before (and by the pad write above), then enable. */
            hal_line_irq(n, en, true);
        } else {
            m_debounce &= ~b;
        }
    }
    if (dir != VG_DIR_INPUT && l->irq_en)
        hal_line_irq(n, 0, false);
    l->irq_en = (uint8_t)en;
    __builtin_memcpy(&l->dir, &c->dir, 4);      /* dir, bias, drive, edge */
    l->level = c->level;
    l->debounce_us = c->debounce_us;
    /* A running pulse ends (no ISR ran since the new levels were written: interrupts are masked). */
    if (m_pulse_running & b) {
        m_pulse_running &= ~b;
        if (pulse_outcome != 0xffu) {
            l->pulse_end = hal_time_us();
            l->pulse_outcome = (uint8_t)pulse_outcome;
            m_pulse_done |= b;
        }
    }
    hal_irq_restore(s);
}

/* RESET and boot: every usable line OFF with pull-down, as line_apply() with that config would leave it
 * (same hardware order: detection off, driver released, level low, pad), but as one bulk HAL call: 27
 * line_apply() calls cost ~10,000 cycles against the 2,000-cycle request budget (firmware/README.md).
 * Only lines line_apply() touched since the last reset can differ from that state (every other path
 * that changes a line's hardware or state, levels, pulses and edges, needs it configured first), so only
 * they are reset; vg_init() marks every line touched. Their per-line state (L[], line_seq) is reset
 * lazily, by clearing m_touched: line_touched() readers see the RESET state, and line_apply() starts
 * the line afresh when it next changes it. That keeps RESET's cost independent of the number of
 * configured lines in software (~20 cycles per line otherwise). Running pulses end silently (no
 * PULSE_DONE). */
static void reset_all(void)
{
    uint32_t s = hal_irq_save();
    hal_lines_off(m_touched & VG_USABLE_MASK);
    m_touched = 0;
    m_output &= ~VG_USABLE_MASK;
    m_od &= ~VG_USABLE_MASK;
    m_os &= ~VG_USABLE_MASK;
    m_value &= ~VG_USABLE_MASK;
    m_rise &= ~VG_USABLE_MASK;
    m_fall &= ~VG_USABLE_MASK;
    m_debounce &= ~VG_USABLE_MASK;
    m_pulse_running = 0;
    m_pulse_done = 0;
    m_level_pending = 0;
    m_level_values = 0;
    m_level_armed = 0;
    dl_active = 0;
    fs_armed = false;
    fs_due = false;
    fs_tripped_pending = false;
    ev_discard();
    hal_irq_restore(s);
}

/* ---- interrupt services ------------------------------------------------------------------------------- */

/* `bits` (a HAL_IRQ_* combination) in every nibble of an IO_BANK0 interrupt register word. */
#define IO_NIBBLES(bits) ((uint32_t)(bits) * 0x11111111u)

/* Out of line (as level_service and both_edges): keeps the ISR's common path, one plain edge, in few
 * registers. */
static __attribute__((noinline)) void debounce_edge(unsigned n, unsigned nib, uint32_t gpio_in, uint64_t now)
{
    uint32_t b = 1u << n;
    uint32_t lvl;
    if ((nib & (HAL_IRQ_EDGE_HIGH | HAL_IRQ_EDGE_LOW)) == (HAL_IRQ_EDGE_HIGH | HAL_IRQ_EDGE_LOW))
        lvl = gpio_in & b;                      /* both latched: the later one is the level now */
    else
        lvl = (nib & HAL_IRQ_EDGE_HIGH) ? b : 0;
    m_db_raw = (m_db_raw & ~b) | lvl;
    L[n].db_since = now;
    if (lvl == (m_db_stable & b))
        dl_cancel(n);                           /* back where it was: a swallowed glitch */
    else
        dl_set(n, now + L[n].debounce_us);
}

static __attribute__((noinline)) void level_service(unsigned base, uint32_t lv, uint64_t now)
{
    for (unsigned n = base; lv; n++, lv >>= 4) {
        unsigned nib = lv & (HAL_IRQ_LEVEL_LOW | HAL_IRQ_LEVEL_HIGH);
        if (!nib)
            continue;
        uint32_t b = 1u << n;
        /* One-shot (§3.12): disarm, remember the event. */
        L[n].irq_en &= (uint8_t)~(HAL_IRQ_LEVEL_LOW | HAL_IRQ_LEVEL_HIGH);
        hal_line_irq(n, L[n].irq_en, false);
        m_level_armed &= ~b;
        if (m_level_pending & b)
            continue;
        L[n].level_time = now;
        m_level_values = (nib & HAL_IRQ_LEVEL_HIGH) ? (m_level_values | b) : (m_level_values & ~b);
        m_level_pending |= b;
    }
}

/* Both edges latched in one service: order them so the later one matches the pin now (§4.2). */
static __attribute__((noinline)) void both_edges(unsigned n, uint32_t gpio_in)
{
    unsigned first = (gpio_in & (1u << n)) ? VG_KIND_FALLING : VG_KIND_RISING;
    ev_put(n, first, ++line_seq[n]);
    ev_put(n, first == VG_KIND_RISING ? VG_KIND_FALLING : VG_KIND_RISING, ++line_seq[n]);
}

VG_TIME_CRITICAL void vg_gpio_service(uint32_t ints, unsigned reg, uint64_t now, uint32_t gpio_in)
{
    unsigned n = reg * 8u;
    uint32_t lv = ints & IO_NIBBLES(HAL_IRQ_LEVEL_LOW | HAL_IRQ_LEVEL_HIGH);
    if (lv)
        level_service(n, lv, now);
    uint32_t e = ints & IO_NIBBLES(HAL_IRQ_EDGE_LOW | HAL_IRQ_EDGE_HIGH);
    if (!e)
        return;
    /* Every record of this service carries `now` (debounced ones get their own time later). */
    ev_stamp(now);
    /* Walk the pending nibbles only: idle line pairs are skipped a byte at a time and an idle line a
     * nibble at a time (cheaper than -lgcc's ctz on the M0+); little is kept in registers across
     * iterations, so the common single edge needs no spills. */
    do {
        while (!(e & 0xffu)) {
            e >>= 8;
            n += 2u;
        }
        if (!(e & 0xfu)) {
            e >>= 4;
            n++;
        }
        unsigned nib = e & (HAL_IRQ_EDGE_HIGH | HAL_IRQ_EDGE_LOW);
        if (m_debounce & (1u << n))
            debounce_edge(n, nib, gpio_in, now);
        else if (nib == (HAL_IRQ_EDGE_HIGH | HAL_IRQ_EDGE_LOW))
            both_edges(n, gpio_in);
        else
            ev_put(n, nib == HAL_IRQ_EDGE_HIGH ? VG_KIND_RISING : VG_KIND_FALLING, ++line_seq[n]);
        e >>= 4;
        n++;
    } while (e);
}

static void pulse_end(unsigned n)
{
    uint32_t b = 1u << n;
    if (!(m_pulse_running & b))
        return;
    drive_line(n, (m_value & b) ? 1u : 0u);
    L[n].pulse_end = hal_time_us();
    L[n].pulse_outcome = VG_PULSE_COMPLETED;
    m_pulse_running &= ~b;
    m_pulse_done |= b;
}

static void debounce_settle(unsigned n)
{
    uint32_t b = 1u << n;
    if (!(m_debounce & b))
        return;
    uint32_t raw = m_db_raw & b;
    if (raw == (m_db_stable & b))
        return;
    m_db_stable = (m_db_stable & ~b) | raw;
    if (raw ? (m_rise & b) : (m_fall & b))
        ev_push(n, raw ? VG_KIND_RISING : VG_KIND_FALLING, ++line_seq[n], L[n].db_since);
}

VG_TIME_CRITICAL void vg_alarm_service(uint64_t now)
{
    uint32_t due = 0;
    for (uint32_t m = dl_active, i = 0; m; m >>= 1, i++) {
        if ((m & 1u) && dl_time[i] <= now)
            due |= 1u << i;
    }
    dl_active &= ~due;
    if (due & (1u << DL_FAILSAFE)) {
        fs_due = true;
        due &= ~(1u << DL_FAILSAFE);
    }
    for (unsigned n = 0; due; n++, due >>= 1) {
        if (!(due & 1u))
            continue;
        if (m_output & (1u << n))
            pulse_end(n);
        else
            debounce_settle(n);
    }
    /* Re-arm for the earliest remaining deadline. */
    uint64_t next = UINT64_MAX;
    for (uint32_t m = dl_active, i = 0; m; m >>= 1, i++) {
        if ((m & 1u) && dl_time[i] < next)
            next = dl_time[i];
    }
    dl_hw = next;
    if (next != UINT64_MAX)
        hal_alarm_arm(next);
    else
        hal_alarm_cancel();
}

/* ---- failsafe (§3.8) ----------------------------------------------------------------------------------- */

static void failsafe_trip(uint64_t now, uint64_t silence_us)
{
    /* Cancel every pulse: lines in neither mask return to their level from before the pulse. */
    uint32_t safe = fs_drive_mask | fs_release_mask;
    for (unsigned n = 0; n < VG_NUM_LINES; n++) {
        uint32_t b = 1u << n;
        if (!(m_pulse_running & b) || (safe & b))
            continue;
        uint32_t s = hal_irq_save();
        if (m_pulse_running & b) {
            m_pulse_running &= ~b;
            dl_cancel(n);
            drive_line(n, (m_value & b) ? 1u : 0u);
            L[n].pulse_end = hal_time_us();
            L[n].pulse_outcome = VG_PULSE_CANCELLED_FAILSAFE;
            m_pulse_done |= b;
        }
        hal_irq_restore(s);
    }
    for (unsigned n = 0; n < VG_NUM_LINES; n++) {
        uint32_t b = 1u << n;
        if (!(safe & b))
            continue;
        cfg_t c = { .dir = VG_DIR_OFF, .bias = line_touched(n) ? L[n].bias : VG_BIAS_PULL_DOWN };
        if (fs_drive_mask & b) {
            c.dir = VG_DIR_OUTPUT;
            c.value = (fs_drive_values & b) ? 1u : 0u;
        }
        line_apply(n, &c, VG_PULSE_CANCELLED_FAILSAFE);
    }
    uint8_t *p = fs_tripped_payload;
    wr64(p, now);
    wr32(p + 8, fs_drive_mask);
    wr32(p + 12, fs_drive_values);
    wr32(p + 16, fs_release_mask);
    wr32(p + 20, (silence_us > 0xffffffffu ? 0xffffffffu : (uint32_t)silence_us) / 1000u);
    fs_tripped_pending = true;
    fs_armed = false;
    uint32_t s = hal_irq_save();
    dl_cancel(DL_FAILSAFE);
    hal_irq_restore(s);
}

/* The failsafe check proper, out of line: vg_poll() runs every main-loop pass and is almost always a
 * single flag test. */
static __attribute__((noinline)) void failsafe_check(void)
{
    fs_due = false;
    if (!fs_armed)
        return;
    uint64_t now = hal_time_us();
    uint64_t silence = now - fs_last_rx;
    if (silence >= fs_timeout_us) {
        failsafe_trip(now, silence);
    } else {
        uint32_t s = hal_irq_save();
        dl_set(DL_FAILSAFE, fs_last_rx + fs_timeout_us);
        hal_irq_restore(s);
    }
}

void vg_poll(void)
{
    if (fs_due)
        failsafe_check();
}

bool vg_work_pending(void)
{
    return fs_due;
}

/* ---- requests ------------------------------------------------------------------------------------------- */

/* Reply payload builders: return the payload length in scratch. */
static size_t err(unsigned status, unsigned detail)
{
    scratch[0] = (uint8_t)status;
    scratch[1] = (uint8_t)detail;
    return 2;
}

/* BAD_LINE for a bit >= num_lines, RESERVED_LINE for a reserved one; 0 if the mask is fine. */
static inline unsigned check_mask(uint32_t mask, unsigned *detail)
{
    if (mask & ~VG_LINES_MASK) {
        *detail = lowest_line(mask & ~VG_LINES_MASK);
        return VG_BAD_LINE;
    }
    if (mask & VG_RESERVED_MASK) {
        *detail = lowest_line(mask & VG_RESERVED_MASK);
        return VG_RESERVED_LINE;
    }
    return VG_OK;
}

/* HELLO's reply body up to the timestamp never changes after vg_init (which fills it in). */
#define HELLO_CONST_LEN 28u
static uint8_t hello_const[HELLO_CONST_LEN] __attribute__((aligned(4)));

static void hello_init(void)
{
    uint8_t *b = hello_const;
    b[0] = VG_PROTOCOL_VERSION;
    b[1] = VG_FW_MAJOR;
    b[2] = VG_FW_MINOR;
    b[3] = VG_FW_PATCH;
    wr16(b + 4, VG_MAX_PAYLOAD);
    b[6] = VG_WINDOW;
    b[7] = VG_NUM_LINES;
    wr32(b + 8, VG_CAPABILITIES);
    wr32(b + 12, VG_RESERVED_MASK);
    wr16(b + 16, VG_BOARD_ID);
    wr16(b + 18, VG_EVENT_CAPACITY);
    for (unsigned i = 0; i < 8; i++)
        b[20 + i] = serial_id[i];
}

static size_t req_hello(const uint8_t *p)
{
    unsigned lo = p[0], hi = p[1];
    if (lo > VG_PROTOCOL_VERSION || hi < VG_PROTOCOL_VERSION)
        return err(VG_BAD_VERSION, VG_PROTOCOL_VERSION);
    scratch[0] = VG_OK;
    __builtin_memcpy(REPLY_BODY, hello_const, HELLO_CONST_LEN);
    wr64_aligned(REPLY_BODY + HELLO_CONST_LEN, hal_time_us());
    return 1u + HELLO_CONST_LEN + 8u;
}

static size_t req_ping(const uint8_t *p, size_t len)
{
    if (len > VG_PING_MAX)
        return err(VG_BAD_REQUEST, VG_DETAIL_NONE);
    scratch[0] = VG_OK;
    wr64_aligned(REPLY_BODY, hal_time_us());
    for (size_t i = 0; i < len; i++)
        scratch[9 + i] = p[i];
    return 9 + len;
}

static size_t req_get_stats(void)
{
    /* The counters are uint32_t in wire order; on this little-endian target their bytes are the wire
     * bytes, so one aligned copy replaces 36 byte stores. */
    _Static_assert(sizeof stats == 36u, "GET_STATS: nine le32 counters");
    _Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "GET_STATS copies host-order words");
    scratch[0] = VG_OK;
    __builtin_memcpy(REPLY_BODY, __builtin_assume_aligned(&stats, 4), sizeof stats);
    return 37;
}

static size_t req_line_config(const uint8_t *p)
{
    uint32_t lines = rd32(p);
    cfg_t c = { .dir = p[4], .value = p[5], .bias = p[6], .drive = p[7], .edge = p[8], .level = p[9],
                .debounce_us = rd32(p + 12) };
    unsigned detail, st;
    if (!lines)
        return err(VG_BAD_REQUEST, VG_DETAIL_NONE);
    if ((st = check_mask(lines, &detail)) != VG_OK)
        return err(st, detail);
    bool out = c.dir == VG_DIR_OUTPUT, in = c.dir == VG_DIR_INPUT;
    if (c.dir > VG_DIR_INPUT || c.value > 1u || c.bias > VG_BIAS_BUS_KEEPER || c.drive > VG_DRIVE_OPEN_SOURCE
        || c.edge > VG_EDGE_BOTH || c.level > VG_LEVEL_LOW || rd16(p + 10) != 0
        || c.debounce_us > VG_DEBOUNCE_MAX_US
        || (!out && (c.value || c.drive))
        || (!in && (c.edge || c.level || c.debounce_us)))
        return err(VG_BAD_REQUEST, VG_DETAIL_NONE);
    if (!(lines & (lines - 1u))) {
        line_apply(lowest_line(lines), &c, VG_PULSE_CANCELLED_CONFIG);      /* one line: the usual case */
    } else {
        for (unsigned n = 0; lines; n++, lines >>= 1) {
            if (!(lines & 0xfu)) {              /* skip idle lines four at a time */
                lines >>= 3;
                n += 3;
                continue;
            }
            if (lines & 1u)
                line_apply(n, &c, VG_PULSE_CANCELLED_CONFIG);
        }
    }
    scratch[0] = VG_OK;
    return 1;
}

static size_t req_set_values(const uint8_t *p)
{
    uint32_t mask = rd32(p), values = rd32(p + 4);
    unsigned detail, st;
    if ((st = check_mask(mask, &detail)) != VG_OK)
        return err(st, detail);
    if (values & ~mask)
        return err(VG_BAD_REQUEST, VG_DETAIL_NONE);
    if (mask & ~m_output)
        return err(VG_WRONG_DIRECTION, lowest_line(mask & ~m_output));
    uint32_t s = hal_irq_save();
    uint32_t busy = mask & m_pulse_running;
    if (busy) {
        hal_irq_restore(s);
        return err(VG_BUSY, lowest_line(busy));
    }
    /* Physical targets: push-pull OUT = value, OE on; open-drain OUT 0, OE = !value; open-source
     * OUT 1, OE = value. Applied with one OUT XOR and one OE XOR, back to back (§3.5). */
    uint32_t pp = mask & ~(m_od | m_os), od = mask & m_od, os = mask & m_os;
    uint32_t want_out = (values & pp) | os;
    uint32_t want_oe = pp | (od & ~values) | (os & values);
    uint32_t cur_out = hal_gpio_out(), cur_oe = hal_gpio_oe();
    hal_out_oe_xor((cur_out ^ want_out) & mask, (cur_oe ^ want_oe) & mask);
    m_value = (m_value & ~mask) | values;
    hal_irq_restore(s);
    scratch[0] = VG_OK;
    return 1;
}

static size_t req_get_values(const uint8_t *p)
{
    uint32_t mask = rd32(p);
    if (mask & ~VG_LINES_MASK)
        return err(VG_BAD_LINE, lowest_line(mask & ~VG_LINES_MASK));
    /* Reading touches nothing, so reserved lines may be read (the GP0..GP29 mask is the common case). */
    uint32_t s = hal_irq_save();
    uint64_t t = hal_time_us();
    uint32_t v = hal_gpio_in();
    hal_irq_restore(s);
    scratch[0] = VG_OK;
    wr32_aligned(REPLY_BODY, v & mask);
    wr64_aligned(REPLY_BODY + 4, t);
    return 13;
}

static size_t req_pulse(const uint8_t *p)
{
    unsigned n = p[0], level = p[1];
    uint32_t duration = rd32(p + 4);
    if (n >= VG_NUM_LINES)
        return err(VG_BAD_LINE, n);
    uint32_t b = 1u << n;
    if (VG_RESERVED_MASK & b)
        return err(VG_RESERVED_LINE, n);
    if (level > 1u || rd16(p + 2) != 0 || duration == 0 || duration > VG_PULSE_MAX_US)
        return err(VG_BAD_REQUEST, VG_DETAIL_NONE);
    if (!(m_output & b))
        return err(VG_WRONG_DIRECTION, n);
    /* Busy while running, and until its PULSE_DONE has been sent (one event slot per line). */
    uint32_t s = hal_irq_save();
    if ((m_pulse_running | m_pulse_done) & b) {
        hal_irq_restore(s);
        return err(VG_BUSY, n);
    }
    drive_line(n, level);
    uint64_t start = hal_time_us();
    L[n].pulse_start = start;
    L[n].pulse_level = (uint8_t)level;
    m_pulse_running |= b;
    dl_set(n, start + duration);
    hal_irq_restore(s);
    scratch[0] = VG_OK;
    wr64_aligned(REPLY_BODY, start);
    return 9;
}

static size_t req_failsafe(const uint8_t *p, uint64_t now)
{
    uint32_t timeout = rd32(p), drive = rd32(p + 4), values = rd32(p + 8), release = rd32(p + 12);
    unsigned detail, st;
    if ((st = check_mask(drive | release, &detail)) != VG_OK)
        return err(st, detail);
    if ((timeout != 0 && (timeout < VG_FAILSAFE_MIN_MS || timeout > VG_FAILSAFE_MAX_MS))
        || (values & ~drive) || (drive & release))
        return err(VG_BAD_REQUEST, VG_DETAIL_NONE);
    uint32_t s = hal_irq_save();
    if (timeout == 0) {
        fs_armed = false;
        dl_cancel(DL_FAILSAFE);
    } else {
        fs_armed = true;
        fs_timeout_us = timeout * 1000u;
        fs_drive_mask = drive;
        fs_drive_values = values;
        fs_release_mask = release;
        fs_last_rx = now;
        dl_set(DL_FAILSAFE, now + fs_timeout_us);
    }
    fs_due = false;
    hal_irq_restore(s);
    scratch[0] = VG_OK;
    return 1;
}

static size_t req_get_line_config(const uint8_t *p)
{
    unsigned n = p[0];
    if (n >= VG_NUM_LINES)
        return err(VG_BAD_LINE, n);
    uint32_t b = 1u << n;
    if (VG_RESERVED_MASK & b)
        return err(VG_RESERVED_LINE, n);
    bool touched = line_touched(n);
    const line_t *l = touched ? &L[n] : &line_reset_state;
    uint8_t *o = scratch + 1;
    uint32_t s = hal_irq_save();
    scratch[0] = VG_OK;
    wr32(o, b);
    o[4] = l->dir;
    o[5] = (uint8_t)((m_output & b) ? line_logical_level(n) : 0u);
    o[6] = l->bias;
    o[7] = l->drive;
    o[8] = l->edge;
    o[9] = l->level;
    wr16(o + 10, 0);
    wr32(o + 12, l->debounce_us);
    o[16] = (uint8_t)((hal_gpio_in() >> n) & 1u);
    o[17] = (uint8_t)(((m_pulse_running & b) ? 1u : 0u) | ((m_level_armed & b) ? 2u : 0u));
    wr16(o + 18, (uint16_t)((touched ? line_seq[n] : 0u) + 1u));
    hal_irq_restore(s);
    return 21;
}

static size_t req_level_rearm(const uint8_t *p)
{
    uint32_t mask = rd32(p);
    unsigned detail, st;
    if ((st = check_mask(mask, &detail)) != VG_OK)
        return err(st, detail);
    for (uint32_t m = mask, n = 0; m; m >>= 1, n++) {
        if ((m & 1u) && (!line_touched(n) || L[n].level == VG_LEVEL_NONE))
            return err(VG_BAD_REQUEST, n);
    }
    uint64_t now = hal_time_us();
    uint32_t in = hal_gpio_in();
    for (uint32_t m = mask, n = 0; m; m >>= 1, n++) {
        if (!(m & 1u))
            continue;
        uint32_t b = 1u << n;
        unsigned high = (in & b) ? 1u : 0u;
        bool active = L[n].level == VG_LEVEL_HIGH ? high : !high;
        uint32_t s = hal_irq_save();
        if (active) {
            /* Active now: the event goes out at once and the line stays disarmed. A LEVEL for this
             * line that is still unsent already says so. */
            if (!(m_level_pending & b)) {
                L[n].irq_en &= (uint8_t)~(HAL_IRQ_LEVEL_LOW | HAL_IRQ_LEVEL_HIGH);
                hal_line_irq(n, L[n].irq_en, false);
                m_level_armed &= ~b;
                L[n].level_time = now;
                m_level_values = high ? (m_level_values | b) : (m_level_values & ~b);
                m_level_pending |= b;
            }
        } else {
            L[n].irq_en |= (uint8_t)(L[n].level == VG_LEVEL_HIGH ? HAL_IRQ_LEVEL_HIGH : HAL_IRQ_LEVEL_LOW);
            m_level_armed |= b;
            hal_line_irq(n, L[n].irq_en, false);
        }
        hal_irq_restore(s);
    }
    scratch[0] = VG_OK;
    return 1;
}

/* Dispatch one CRC-valid frame; returns the encoded reply length in out. */
static size_t dispatch(const uint8_t *f, size_t flen, uint8_t *out)
{
    unsigned type = f[1];
    uint16_t seq = rd16(f + 2);
    const uint8_t *p = f + VG_HDR_LEN;
    size_t len = flen - VG_MIN_FRAME;
    size_t n;

    stats.rx_frames++;
    /* Every good frame restarts the failsafe silence timer. Only read while the failsafe is armed (the
     * time is not used otherwise, and arming sets it): a 64-bit TIMER read is ~25 cycles. */
    if (fs_armed)
        fs_last_rx = hal_time_us();

    if (f[0] != VG_PROTOCOL_VERSION) {
        stats.rx_bad_version++;
        scratch[0] = VG_PROTOCOL_VERSION;   /* min */
        scratch[1] = VG_PROTOCOL_VERSION;   /* max */
        stats.tx_frames++;
        return frame_encode(out, VG_T_VERSION_MISMATCH, seq, scratch, 2);
    }

    static const uint8_t req_len[] = {
        [VG_T_HELLO] = VG_LEN_HELLO, [VG_T_PING] = 0xff, [VG_T_GET_STATS] = 0,
        [VG_T_LINE_CONFIG] = VG_LEN_LINE_CONFIG, [VG_T_SET_VALUES] = VG_LEN_SET_VALUES,
        [VG_T_GET_VALUES] = VG_LEN_GET_VALUES, [VG_T_PULSE] = VG_LEN_PULSE,
        [VG_T_FAILSAFE] = VG_LEN_FAILSAFE, [VG_T_HEARTBEAT] = 0, [VG_T_RESET] = 0,
        [VG_T_REBOOT_TO_BOOTLOADER] = VG_LEN_REBOOT, [VG_T_GET_LINE_CONFIG] = VG_LEN_GET_LINE_CONFIG,
        [VG_T_LEVEL_REARM] = VG_LEN_LEVEL_REARM,
    };
    if (type < VG_T_FIRST_REQUEST || type > VG_T_LAST_REQUEST) {
        /* Not a request (an event or reply type, or 0): nothing waits for an answer, and a reply type
         * 0x7F | 0x80 would read as VERSION_MISMATCH (PROTOCOL.md §1.3). */
        stats.rx_unknown_type++;
        return 0;
    }
    if (type > VG_T_LEVEL_REARM) {
        stats.rx_unknown_type++;
        n = err(VG_UNSUPPORTED, VG_DETAIL_NONE);
    } else if (req_len[type] != 0xff && len != req_len[type]) {
        n = err(VG_BAD_REQUEST, VG_DETAIL_NONE);
    } else {
        switch (type) {
        case VG_T_HELLO: n = req_hello(p); break;
        case VG_T_PING: n = req_ping(p, len); break;
        case VG_T_GET_STATS: n = req_get_stats(); break;
        case VG_T_LINE_CONFIG: n = req_line_config(p); break;
        case VG_T_SET_VALUES: n = req_set_values(p); break;
        case VG_T_GET_VALUES: n = req_get_values(p); break;
        case VG_T_PULSE: n = req_pulse(p); break;
        case VG_T_FAILSAFE: n = req_failsafe(p, hal_time_us()); break;
        case VG_T_RESET: reset_all(); scratch[0] = VG_OK; n = 1; break;
        case VG_T_REBOOT_TO_BOOTLOADER:
            reboot_led = rd32(p);
            reboot_disable = rd32(p + 4);
            reboot_pending = true;
            scratch[0] = VG_OK;
            n = 1;
            break;
        case VG_T_GET_LINE_CONFIG: n = req_get_line_config(p); break;
        case VG_T_LEVEL_REARM: n = req_level_rearm(p); break;
        default: /* VG_T_HEARTBEAT */ scratch[0] = VG_OK; n = 1; break;
        }
    }
    stats.tx_frames++;
    return frame_encode(out, (uint8_t)(type | VG_T_REPLY_FLAG), seq, scratch, n);
}

size_t vg_rx(const uint8_t *src, size_t n, size_t *used, uint8_t *out)
{
    slip_result_t r = slip_dec_feed(&rx, src, n, used);
    switch (r) {
    case SLIP_FRAME:
        return dispatch(rx.frame, rx.frame_len, out);
    case SLIP_CRC_ERROR:
        stats.rx_crc_errors++;
        return 0;
    case SLIP_FRAMING_ERROR:
        stats.rx_framing_errors++;
        return 0;
    default:
        return 0;
    }
}

/* ---- events -------------------------------------------------------------------------------------------- */

bool vg_events_pending(void)
{
    /* One OR of everything and one test (every main-loop pass asks; usually all are clear). */
    return (m_pulse_done | m_level_pending | fs_tripped_pending | ev_pending_word()) != 0;
}

static size_t emit_event(uint8_t *out, uint8_t type, size_t len)
{
    stats.tx_frames++;
    return frame_encode(out, type, event_seq++, scratch, len);
}

size_t vg_next_event(uint8_t *out)
{
    uint32_t s = hal_irq_save();
    uint32_t done = m_pulse_done;
    if (done) {
        unsigned n = lowest_line(done);
        const line_t *l = &L[n];
        scratch[0] = (uint8_t)n;
        scratch[1] = l->pulse_level;
        scratch[2] = l->pulse_outcome;
        scratch[3] = 0;
        wr64(scratch + 4, l->pulse_start);
        wr64(scratch + 12, l->pulse_end);
        m_pulse_done = done & ~(1u << n);
        hal_irq_restore(s);
        return emit_event(out, VG_T_PULSE_DONE, 20);
    }
    uint32_t pend = m_level_pending;
    if (pend) {
        /* Lines seen in the same service share a timestamp: send the earliest group. */
        uint64_t t = UINT64_MAX;
        for (uint32_t m = pend, n = 0; m; m >>= 1, n++)
            if ((m & 1u) && L[n].level_time < t)
                t = L[n].level_time;
        uint32_t lines = 0;
        for (uint32_t m = pend, n = 0; m; m >>= 1, n++)
            if ((m & 1u) && L[n].level_time == t)
                lines |= 1u << n;
        wr64(scratch, t);
        wr32(scratch + 8, lines);
        wr32(scratch + 12, m_level_values & lines);
        m_level_pending = pend & ~lines;
        hal_irq_restore(s);
        return emit_event(out, VG_T_LEVEL, 16);
    }
    hal_irq_restore(s);
    if (fs_tripped_pending) {
        for (unsigned i = 0; i < sizeof fs_tripped_payload; i++)
            scratch[i] = fs_tripped_payload[i];
        fs_tripped_pending = false;
        return emit_event(out, VG_T_FAILSAFE_TRIPPED, sizeof fs_tripped_payload);
    }
    uint8_t type = 0;
    size_t len = ev_build(scratch, &type, &stats.events_sent, &stats.events_lost);
    if (!len)
        return 0;
    return emit_event(out, type, len);
}

/* ---- misc ---------------------------------------------------------------------------------------------- */

void vg_note_tx_stall(void)
{
    stats.tx_stalls++;
}

bool vg_take_reboot(uint32_t *activity_led_mask, uint32_t *disable_interface_mask)
{
    if (!reboot_pending)
        return false;
    reboot_pending = false;
    *activity_led_mask = reboot_led;
    *disable_interface_mask = reboot_disable;
    return true;
}

const vg_stats_t *vg_stats(void)
{
    return &stats;
}

#ifdef VG_HOST_TEST
void vg_test_set_event_seq(uint16_t seq)
{
    event_seq = seq;
}
#endif

void vg_init(const uint8_t serial[8])
{
    for (unsigned i = 0; i < 8; i++)
        serial_id[i] = serial[i];
    hello_init();
    stats = (vg_stats_t){ 0 };
    event_seq = 0;
    reboot_pending = false;
    slip_dec_init(&rx);
    ev_init();
    dl_hw = UINT64_MAX;
    dl_active = 0;
    for (unsigned n = 0; n < VG_NUM_LINES; n++) {
        L[n] = line_reset_state;
        line_seq[n] = 0;
    }
    m_output = m_od = m_os = m_value = 0;
    m_rise = m_fall = m_debounce = 0;
    fs_last_rx = hal_time_us();
    m_touched = VG_LINES_MASK;
    reset_all();
}
