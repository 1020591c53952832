/*
 * A fake of src/hal/hal.h for host tests: simulated time, 30 pins with SIO OUT/OE, pads (pulls, IE),
 * external drivers, IO_BANK0-style latched edges and level interrupts, one alarm. Interrupts are
 * delivered synchronously, like the hardware would: right away unless masked (hal_irq_save) or held
 * by the test (fake_hold_irqs), never nested.
 */
#ifndef VGPIO_TEST_FAKE_HAL_H
#define VGPIO_TEST_FAKE_HAL_H

#include <stdbool.h>
#include <stdint.h>

#define FAKE_LINES 30u

typedef struct {
    uint64_t now;
    uint32_t out, oe;
    uint32_t ext_driven, ext_level;     /* someone outside drives these lines to these levels */
    uint32_t level;                     /* resolved pin levels */
    uint8_t pad_pulls[FAKE_LINES];
    bool pad_ie[FAKE_LINES];
    uint32_t intr_edges[4];             /* latched EDGE bits, IO_BANK0 nibble layout */
    uint32_t inte[4];
    int irq_depth;                      /* hal_irq_save nesting */
    bool in_isr;
    bool hold;                          /* test holds IRQ delivery */
    bool alarm_armed;
    uint64_t alarm_at;
    bool alarm_pending;                 /* due while masked */
    unsigned gpio_services;             /* count of GPIO ISR runs */
    unsigned alarm_services;
    unsigned xor_writes;                /* hal_out_oe_xor calls */
    unsigned lines_off_calls;           /* hal_lines_off calls */
    uint32_t last_out_xor, last_oe_xor;
    uint32_t funcsel_lines;
    unsigned transitions[FAKE_LINES];   /* pin level changes, whatever caused them */             /* lines given to hal_init */
} fake_hal_t;

extern fake_hal_t fk;

void fake_reset(uint64_t now);
/* Drive a line from outside (0/1), or stop driving it. Latches edges and delivers interrupts. */
void fake_drive(unsigned line, unsigned level);
void fake_release(unsigned line);
/* Toggle (without IRQ delivery in between if held) */
void fake_hold_irqs(bool hold);
/* Advance time by us, running the alarm ISR exactly at each deadline reached. */
void fake_advance(uint64_t us);
void fake_advance_to(uint64_t t);
/* Pin level now. */
unsigned fake_pin(unsigned line);

#endif
