/* Internal to src/platform/: shared between platform.c, flash_id.c and the USB files. */
#ifndef VGPIO_PLATFORM_INTERNAL_H
#define VGPIO_PLATFORM_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

/* The clock plan platform_init() sets up (derived from the PLL settings and checked in platform.c). */
#define PLATFORM_CLK_SYS_HZ 125000000u
#define PLATFORM_CLK_USB_HZ 48000000u

/* Take blocks out of reset and wait for RESET_DONE (datasheet §2.14). mask = RESETS_* bits. */
void platform_resets_release(uint32_t mask);

/* Bootrom function lookup (datasheet §2.8.3); NULL when no RP2040 bootrom is present (rp2040js runs
 * without one). */
void *platform_rom_func_lookup(uint32_t code);

/* Read the 64-bit flash unique id (command 0x4B) with XIP switched off; runs from RAM. Returns false
 * (and leaves out untouched) when the bootrom helpers are missing. */
bool flash_read_unique_id(uint8_t out[8]);

/* The id platform_init() cached; usb_descriptors.c renders it as the serial number string. */
extern uint8_t platform_uid[8];

#endif
