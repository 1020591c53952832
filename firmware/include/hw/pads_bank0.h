/*
 * PADS_BANK0: pad control for GPIO0..GPIO29 (drive, pulls, input enable, Schmitt trigger, output disable).
 * RP2040 datasheet §2.19.4 (pads), §2.19.6.3 (PADS_BANK0 registers).
 */
#ifndef HW_PADS_BANK0_H
#define HW_PADS_BANK0_H
#include "hw/addressmap.h"

#define PADS_BANK0_VOLTAGE_SELECT       (PADS_BANK0_BASE + 0x00u)
#define PADS_BANK0_GPIO(n)              (PADS_BANK0_BASE + 0x04u + 4u * (n))

/* GPIOn pad register bits (§2.19.6.3). */
#define PADS_BANK0_GPIO_SLEWFAST        (1u << 0)
#define PADS_BANK0_GPIO_SCHMITT         (1u << 1)
#define PADS_BANK0_GPIO_PDE             (1u << 2)   /* pull-down enable */
#define PADS_BANK0_GPIO_PUE             (1u << 3)   /* pull-up enable (both = bus keeper) */
#define PADS_BANK0_GPIO_DRIVE_LSB       4u
#define PADS_BANK0_GPIO_DRIVE_BITS      (3u << 4)
#define PADS_BANK0_GPIO_DRIVE_2MA       (0u << 4)
#define PADS_BANK0_GPIO_DRIVE_4MA       (1u << 4)
#define PADS_BANK0_GPIO_DRIVE_8MA       (2u << 4)
#define PADS_BANK0_GPIO_DRIVE_12MA      (3u << 4)
#define PADS_BANK0_GPIO_IE              (1u << 6)   /* input enable */
#define PADS_BANK0_GPIO_OD              (1u << 7)   /* output disable (overrides OE) */

/* Silicon reset value: IE, 4 mA, PDE, SCHMITT = 0x56. (rp2040js resets to 0x36, IE clear: write every
 * pad explicitly.) */
#define PADS_BANK0_GPIO_RESET           (PADS_BANK0_GPIO_IE | PADS_BANK0_GPIO_DRIVE_4MA | \
                                         PADS_BANK0_GPIO_PDE | PADS_BANK0_GPIO_SCHMITT)

#endif
