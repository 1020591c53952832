/*
 * IO_BANK0: user-bank GPIO function select and GPIO interrupts (GPIO0..GPIO29).
 * RP2040 datasheet §2.19.2 (function select), §2.19.3 (interrupts), §2.19.6.1 (IO_BANK0 registers).
 * Register accesses to this APB block also have the XOR/SET/CLR aliases of §2.1.2 (hw/addressmap.h).
 */
#ifndef HW_IO_BANK0_H
#define HW_IO_BANK0_H
#include "hw/addressmap.h"

#define IO_BANK0_NUM_GPIOS              30u

/* §2.19.6.1: GPIOn_STATUS at 8n, GPIOn_CTRL at 8n + 4. */
#define IO_BANK0_GPIO_STATUS(n)         (IO_BANK0_BASE + 8u * (n))
#define IO_BANK0_GPIO_CTRL(n)           (IO_BANK0_BASE + 8u * (n) + 4u)

/* GPIOn_CTRL fields (§2.19.6.1, e.g. GPIO0_CTRL). */
#define IO_BANK0_GPIO_CTRL_FUNCSEL_LSB  0u
#define IO_BANK0_GPIO_CTRL_FUNCSEL_BITS 0x1fu
#define IO_BANK0_GPIO_CTRL_OUTOVER_LSB  8u          /* 0 = drive from peripheral (no override) */
#define IO_BANK0_GPIO_CTRL_OEOVER_LSB   12u
#define IO_BANK0_GPIO_CTRL_INOVER_LSB   16u
#define IO_BANK0_GPIO_CTRL_IRQOVER_LSB  28u

/* Function numbers of the §2.19.2 function table. */
#define IO_BANK0_FUNCSEL_SIO            5u          /* F5: software control through SIO */
#define IO_BANK0_FUNCSEL_NULL           31u

/* §2.19.3 / §2.19.6.1: raw interrupts INTR0..3 (edge bits write-1-to-clear), then the proc0 enable,
 * force and status registers. 8 GPIOs per register, 4 bits per GPIO at bit 4 * (n % 8). */
#define IO_BANK0_INTR(r)                (IO_BANK0_BASE + 0x0f0u + 4u * (r))
#define IO_BANK0_PROC0_INTE(r)          (IO_BANK0_BASE + 0x100u + 4u * (r))
#define IO_BANK0_PROC0_INTF(r)          (IO_BANK0_BASE + 0x110u + 4u * (r))
#define IO_BANK0_PROC0_INTS(r)          (IO_BANK0_BASE + 0x120u + 4u * (r))
#define IO_BANK0_NUM_INT_REGS           4u
#define IO_BANK0_GPIOS_PER_INT_REG      8u
#define IO_BANK0_INT_BITS_PER_GPIO      4u

/* Per-GPIO interrupt bits within its nibble. Levels are not latched; edges are latched until W1C. */
#define IO_BANK0_INT_LEVEL_LOW          0x1u
#define IO_BANK0_INT_LEVEL_HIGH         0x2u
#define IO_BANK0_INT_EDGE_LOW           0x4u
#define IO_BANK0_INT_EDGE_HIGH          0x8u
#define IO_BANK0_INT_EDGES              (IO_BANK0_INT_EDGE_LOW | IO_BANK0_INT_EDGE_HIGH)
#define IO_BANK0_INT_LEVELS             (IO_BANK0_INT_LEVEL_LOW | IO_BANK0_INT_LEVEL_HIGH)

/* Register index and shift of GPIO n in INTR/INTE/INTF/INTS. */
#define IO_BANK0_INT_REG(n)             ((n) >> 3)
#define IO_BANK0_INT_SHIFT(n)           (((n) & 7u) << 2)

/* Mask with one bit set in every nibble (edge-high bits, ...), handy for whole-register operations. */
#define IO_BANK0_INT_ALL(bit)           ((bit) * 0x11111111u)

#endif
