/* Fake HAL for the host tests, see fake_hal.h. */
#include "fake_hal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hal/hal.h"

fake_hal_t fk;

static void deliver(void);

static void resolve(void)
{
    uint32_t lvl = 0;
    for (unsigned n = 0; n < FAKE_LINES; n++) {
        uint32_t b = 1u << n;
        unsigned v;
        if (fk.oe & b)
            v = (fk.out & b) != 0;
        else if (fk.ext_driven & b)
            v = (fk.ext_level & b) != 0;
        else if (fk.pad_pulls[n] == HAL_PULL_UP)
            v = 1;
        else if (fk.pad_pulls[n] == HAL_PULL_DOWN)
            v = 0;
        else
            v = (fk.level & b) != 0;    /* floating or bus keeper: keeps its level */
        if (v)
            lvl |= b;
        if ((fk.level ^ lvl) & b)
            fk.transitions[n]++;
        if (((fk.level ^ lvl) & b) && fk.pad_ie[n]) {
            unsigned r = n / 8, sh = (n % 8) * 4;
            fk.intr_edges[r] |= (v ? HAL_IRQ_EDGE_HIGH : HAL_IRQ_EDGE_LOW) << sh;
        }
    }
    fk.level = lvl;
    deliver();
}

static uint32_t ints_of(unsigned r)
{
    uint32_t raw = fk.intr_edges[r];
    for (unsigned i = 0; i < 8; i++) {
        unsigned n = r * 8 + i;
        if (n >= FAKE_LINES || !fk.pad_ie[n])
            continue;
        raw |= ((fk.level >> n) & 1u ? HAL_IRQ_LEVEL_HIGH : HAL_IRQ_LEVEL_LOW) << (i * 4);
    }
    return raw & fk.inte[r];
}

/* What the RP2040 ISRs do, run when interrupts are deliverable. */
static void deliver(void)
{
    if (fk.irq_depth > 0 || fk.in_isr || fk.hold)
        return;
    for (int guard = 0; guard < 1000; guard++) {
        uint32_t ints[4];
        bool any = false;
        for (unsigned r = 0; r < 4; r++) {
            ints[r] = ints_of(r);
            any |= ints[r] != 0;
        }
        if (any) {
            fk.in_isr = true;
            fk.gpio_services++;
            for (unsigned r = 0; r < 4; r++)
                fk.intr_edges[r] &= ~(ints[r] & 0xccccccccu);
            uint32_t in = hal_gpio_in();
            for (unsigned r = 0; r < 4; r++)
                if (ints[r])
                    vg_gpio_service(ints[r], r, fk.now, in);
            fk.in_isr = false;
            continue;
        }
        if (fk.alarm_pending) {
            fk.alarm_pending = false;
            fk.alarm_armed = false;
            fk.in_isr = true;
            fk.alarm_services++;
            vg_alarm_service(fk.now);
            fk.in_isr = false;
            continue;
        }
        return;
    }
    fprintf(stderr, "fake_hal: interrupt storm\n");
    abort();
}

void fake_reset(uint64_t now)
{
    memset(&fk, 0, sizeof fk);
    fk.now = now;
    for (unsigned n = 0; n < FAKE_LINES; n++) {
        fk.pad_pulls[n] = HAL_PULL_DOWN;
        fk.pad_ie[n] = true;
    }
}

void fake_drive(unsigned line, unsigned level)
{
    fk.ext_driven |= 1u << line;
    if (level)
        fk.ext_level |= 1u << line;
    else
        fk.ext_level &= ~(1u << line);
    resolve();
}

void fake_release(unsigned line)
{
    fk.ext_driven &= ~(1u << line);
    resolve();
}

void fake_hold_irqs(bool hold)
{
    fk.hold = hold;
    deliver();
}

void fake_advance_to(uint64_t t)
{
    while (fk.alarm_armed && fk.alarm_at <= t) {
        if (fk.alarm_at > fk.now)
            fk.now = fk.alarm_at;
        fk.alarm_pending = true;
        fk.alarm_armed = false;
        deliver();
        if (fk.alarm_pending)
            break;                      /* held: fires when released */
    }
    if (t > fk.now)
        fk.now = t;
}

void fake_advance(uint64_t us)
{
    fake_advance_to(fk.now + us);
}

unsigned fake_pin(unsigned line)
{
    return (fk.level >> line) & 1u;
}

/* ---- hal.h -------------------------------------------------------------------------------------------- */

void hal_init(uint32_t lines)
{
    fk.funcsel_lines = lines;
    for (unsigned n = 0; n < FAKE_LINES; n++) {
        if (!(lines & (1u << n)))
            continue;
        fk.pad_pulls[n] = HAL_PULL_DOWN;
        fk.pad_ie[n] = true;
    }
    fk.oe &= ~lines;
    fk.out &= ~lines;
    memset(fk.inte, 0, sizeof fk.inte);
    memset(fk.intr_edges, 0, sizeof fk.intr_edges);
    fk.alarm_armed = false;
    resolve();
}

void hal_lines_off(uint32_t lines)
{
    for (unsigned r = 0; r < 4; r++) {
        for (unsigned i = 0; i < 8; i++) {
            if (lines & (1u << (r * 8 + i))) {
                fk.inte[r] &= ~(0xfu << (i * 4));
                fk.intr_edges[r] &= ~((HAL_IRQ_EDGE_HIGH | HAL_IRQ_EDGE_LOW) << (i * 4));
            }
        }
    }
    fk.oe &= ~lines;
    fk.out &= ~lines;
    for (unsigned n = 0; n < FAKE_LINES; n++) {
        if (lines & (1u << n)) {
            fk.pad_pulls[n] = HAL_PULL_DOWN;
            fk.pad_ie[n] = true;
        }
    }
    fk.lines_off_calls++;
    resolve();
}

uint64_t hal_time_us(void) { return fk.now; }
uint32_t hal_gpio_in(void)
{
    uint32_t ie = 0;
    for (unsigned n = 0; n < FAKE_LINES; n++)
        if (fk.pad_ie[n])
            ie |= 1u << n;
    return fk.level & ie;
}
uint32_t hal_gpio_out(void) { return fk.out; }
uint32_t hal_gpio_oe(void) { return fk.oe; }
void hal_out_set(uint32_t m) { fk.out |= m; resolve(); }
void hal_out_clr(uint32_t m) { fk.out &= ~m; resolve(); }
void hal_oe_set(uint32_t m) { fk.oe |= m; resolve(); }
void hal_oe_clr(uint32_t m) { fk.oe &= ~m; resolve(); }

void hal_out_oe_xor(uint32_t out_xor, uint32_t oe_xor)
{
    fk.xor_writes++;
    fk.last_out_xor = out_xor;
    fk.last_oe_xor = oe_xor;
    fk.out ^= out_xor;
    fk.oe ^= oe_xor;
    resolve();
}

void hal_pad_config(unsigned line, unsigned pulls, bool input_enable, bool schmitt, bool output_disable)
{
    (void)schmitt;
    if (line >= FAKE_LINES || output_disable) {
        fprintf(stderr, "fake_hal: unexpected pad config line %u od %d\n", line, output_disable);
        abort();
    }
    fk.pad_pulls[line] = (uint8_t)pulls;
    fk.pad_ie[line] = input_enable;
    /* Like rp2040js: a pad write can latch a spurious edge. */
    fk.intr_edges[line / 8] |= (HAL_IRQ_EDGE_HIGH | HAL_IRQ_EDGE_LOW) << ((line % 8) * 4);
    resolve();
}

void hal_line_irq(unsigned line, unsigned enables, bool discard_edges)
{
    unsigned r = line / 8, sh = (line % 8) * 4;
    uint32_t s = hal_irq_save();
    if (discard_edges)
        fk.intr_edges[r] &= ~((HAL_IRQ_EDGE_HIGH | HAL_IRQ_EDGE_LOW) << sh);
    fk.inte[r] = (fk.inte[r] & ~(0xfu << sh)) | ((enables & 0xfu) << sh);
    hal_irq_restore(s);
}

void hal_alarm_arm(uint64_t t)
{
    if (t <= fk.now) {
        fk.alarm_armed = false;
        fk.alarm_pending = true;
        fk.alarm_at = t;
        deliver();
        return;
    }
    fk.alarm_armed = true;
    fk.alarm_pending = false;
    fk.alarm_at = t;
}

void hal_alarm_cancel(void)
{
    fk.alarm_armed = false;
    fk.alarm_pending = false;
}

uint32_t hal_irq_save(void)
{
    return (uint32_t)fk.irq_depth++;
}

void hal_irq_restore(uint32_t state)
{
    fk.irq_depth = (int)state;
    deliver();
}
