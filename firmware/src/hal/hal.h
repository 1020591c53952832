/*
 * The GPIO/TIMER hardware abstraction that the portable protocol core (src/proto/) calls. Implemented
 * for the RP2040 by rp2040_gpio.c (SIO, PADS_BANK0, IO_BANK0, TIMER alarm 0) and by a fake in the host
 * tests (firmware/test/host/fake_hal.c).
 *
 * Lines are GPIO numbers 0..29; masks have bit n for GPIO n. The HAL knows nothing about the protocol:
 * which lines are reserved, what a line is configured as, debounce or pulses are all decided by the core.
 *
 * Contexts: hal_* functions may be called from thread context and from the two ISRs below. Everything
 * that is a read-modify-write of shared hardware state (INTE, the alarm) masks interrupts itself.
 *
 * Up-calls (implemented by the core, called by the HAL from interrupt context, both at the same NVIC
 * priority so they never preempt each other):
 *   vg_gpio_service()  from the IO_BANK0 ISR, once per interrupt register with pending enabled bits;
 *   vg_alarm_service() from the TIMER alarm ISR, never before the armed deadline.
 */
#ifndef VGPIO_HAL_H
#define VGPIO_HAL_H

#include <stdbool.h>
#include <stdint.h>

/* Per-line interrupt bits, in the order and values of the IO_BANK0 nibble (RP2040 DS §2.19.3): the
 * core receives the raw nibbles in vg_gpio_service(). */
#define HAL_IRQ_LEVEL_LOW   0x1u
#define HAL_IRQ_LEVEL_HIGH  0x2u
#define HAL_IRQ_EDGE_LOW    0x4u
#define HAL_IRQ_EDGE_HIGH   0x8u

/* Pull bits for hal_pad_config(). Both = bus keeper. */
#define HAL_PULL_UP         0x1u
#define HAL_PULL_DOWN       0x2u

/* Bring up the GPIO block: every line in `lines` gets FUNCSEL = SIO, output disabled and low, pad in the
 * power-on state (input enabled, Schmitt, pull-down), interrupts disabled and latched edges cleared;
 * then the IO_BANK0 and TIMER alarm IRQs are enabled in the NVIC. Lines outside `lines` are not
 * touched. The alarm is disarmed. */
void hal_init(uint32_t lines);

/* Every line in `lines` back to the power-on state at once (RESET, and hal_init): interrupts disabled
 * and latched edges cleared, output released (OE off) and then low, pad as at power-on (input enabled,
 * Schmitt, pull-down). Lines outside `lines` are not touched. */
void hal_lines_off(uint32_t lines);

/* TIMER, microseconds since boot (64-bit, lock-free, any context). */
uint64_t hal_time_us(void);

/* SIO. All reads and each write are single bus accesses, so atomic.
 *   hal_gpio_in()     pin levels (after the input buffer)
 *   hal_gpio_out()    output latch
 *   hal_gpio_oe()     output enables
 *   hal_out_set/clr(mask), hal_oe_set/clr(mask)
 *   hal_out_oe_xor(out_xor, oe_xor): output latch XOR, then output-enable XOR, back to back (two
 *     consecutive SIO stores, 1 cycle apart): how SET_VALUES changes several lines at once.
 * Pad control: hal_pad_config(line, pulls, input_enable, schmitt, output_disable), pulls = HAL_PULL_*.
 *   Drive strength stays at the reset value (4 mA), slew slow.
 * On the RP2040 these are single stores or loads, inline (hal/rp2040_gpio.h); elsewhere functions. */
#if defined(__arm__) && !defined(VG_HAL_FAKE)
#include "hal/rp2040_gpio.h"
#else
uint32_t hal_gpio_in(void);
uint32_t hal_gpio_out(void);
uint32_t hal_gpio_oe(void);
void hal_out_set(uint32_t mask);
void hal_out_clr(uint32_t mask);
void hal_oe_set(uint32_t mask);
void hal_oe_clr(uint32_t mask);
void hal_out_oe_xor(uint32_t out_xor, uint32_t oe_xor);
void hal_pad_config(unsigned line, unsigned pulls, bool input_enable, bool schmitt, bool output_disable);
#endif

/* Set the line's interrupt enables (HAL_IRQ_* bits, nothing else) for proc0. With discard_edges, latched EDGE_LOW and
 * EDGE_HIGH of the line are cleared (W1C) before the new enables take effect, so only transitions after
 * this call are reported. */
void hal_line_irq(unsigned line, unsigned enables, bool discard_edges);

/* One-shot alarm: vg_alarm_service() runs once at or after deadline_us (replacing any earlier arm). A
 * deadline that has already passed fires as soon as possible. */
void hal_alarm_arm(uint64_t deadline_us);
void hal_alarm_cancel(void);

/* Critical sections (PRIMASK on the RP2040), nestable. */
#if defined(__arm__) && !defined(VG_HAL_FAKE)
#include "platform/platform.h"
static inline uint32_t hal_irq_save(void) { return platform_irq_save(); }
static inline void hal_irq_restore(uint32_t primask) { platform_irq_restore(primask); }
#else
uint32_t hal_irq_save(void);
void hal_irq_restore(uint32_t state);
#endif

/* ---- up-calls into the core (defined in src/proto/core.c) --------------------------------------- */

/* GPIO interrupt service for interrupt register `reg` (lines 8*reg .. 8*reg+7): `ints` = PROC0_INTS of
 * that register (4 bits per line; the edge bits in it have already been cleared in INTR), `gpio_in` =
 * SIO GPIO_IN read once in this service, `now` = the TIMER read once in this service. The argument order
 * keeps `now` in registers (r2:r3 under the AAPCS) and puts `gpio_in`, needed only when both edges of a
 * line or a debounced edge are latched, on the stack. */
void vg_gpio_service(uint32_t ints, unsigned reg, uint64_t now, uint32_t gpio_in);

/* TIMER alarm service: run everything due at `now` and re-arm the alarm for the next deadline. */
void vg_alarm_service(uint64_t now);

#endif
