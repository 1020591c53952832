/*
 * The RP2040 HAL's single-store accessors, inline (included by hal.h for the target build only; the
 * host tests link a fake HAL instead). Each is one SIO access (one cycle, no APB wait) or one pad
 * store: as calls they cost a branch-and-link, a literal load and a return each, more than the access
 * itself, on every request that touches a line. RP2040 datasheet §2.3.1.7 (SIO), §2.19.6.3 (pads).
 */
#ifndef VGPIO_HAL_RP2040_GPIO_H
#define VGPIO_HAL_RP2040_GPIO_H

#include <stdbool.h>
#include <stdint.h>

#include "hw/pads_bank0.h"
#include "hw/sio.h"

static inline uint32_t hal_gpio_in(void) { return MMIO32(SIO_GPIO_IN); }
static inline uint32_t hal_gpio_out(void) { return MMIO32(SIO_GPIO_OUT); }
static inline uint32_t hal_gpio_oe(void) { return MMIO32(SIO_GPIO_OE); }
static inline void hal_out_set(uint32_t mask) { MMIO32(SIO_GPIO_OUT_SET) = mask; }
static inline void hal_out_clr(uint32_t mask) { MMIO32(SIO_GPIO_OUT_CLR) = mask; }
static inline void hal_oe_set(uint32_t mask) { MMIO32(SIO_GPIO_OE_SET) = mask; }
static inline void hal_oe_clr(uint32_t mask) { MMIO32(SIO_GPIO_OE_CLR) = mask; }

static inline void hal_out_oe_xor(uint32_t out_xor, uint32_t oe_xor)
{
    /* Two SIO stores back to back: the base is computed once, so the compiler emits str; str. */
    volatile uint32_t *sio = (volatile uint32_t *)SIO_BASE;
    sio[(SIO_GPIO_OUT_XOR - SIO_BASE) / 4u] = out_xor;
    sio[(SIO_GPIO_OE_XOR - SIO_BASE) / 4u] = oe_xor;
}

static inline void hal_pad_config(unsigned line, unsigned pulls, bool input_enable, bool schmitt,
                                  bool output_disable)
{
    /* The pull bits by HAL_PULL_* combination: one load (GCC's branch-free code for the two tests is
     * ten instructions). */
    static const uint8_t pull_bits[4] = {
        [0] = 0, [HAL_PULL_UP] = PADS_BANK0_GPIO_PUE, [HAL_PULL_DOWN] = PADS_BANK0_GPIO_PDE,
        [HAL_PULL_UP | HAL_PULL_DOWN] = PADS_BANK0_GPIO_PUE | PADS_BANK0_GPIO_PDE,
    };
    uint32_t v = PADS_BANK0_GPIO_DRIVE_4MA | pull_bits[pulls & (HAL_PULL_UP | HAL_PULL_DOWN)];
    if (input_enable) v |= PADS_BANK0_GPIO_IE;
    if (schmitt) v |= PADS_BANK0_GPIO_SCHMITT;
    if (output_disable) v |= PADS_BANK0_GPIO_OD;
    MMIO32(PADS_BANK0_GPIO(line)) = v;
}

#endif
