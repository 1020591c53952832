/* XOSC crystal oscillator. RP2040 datasheet §2.16 (registers §2.16.7). */
#ifndef HW_XOSC_H
#define HW_XOSC_H
#include "hw/addressmap.h"

#define XOSC_CTRL             (XOSC_BASE + 0x00u)
#define XOSC_STATUS           (XOSC_BASE + 0x04u)
#define XOSC_STARTUP          (XOSC_BASE + 0x0cu)

#define XOSC_CTRL_FREQ_RANGE_1_15MHZ 0xaa0u
#define XOSC_CTRL_ENABLE_LSB  12u
#define XOSC_CTRL_ENABLE_VALUE 0xfabu
#define XOSC_STATUS_STABLE    (1u << 31)

#define XOSC_FREQ_HZ          12000000u
/* §2.16.3: STARTUP.DELAY counts units of 256 XOSC cycles; ~1 ms covers the crystals on Pico-class
 * boards. */
#define XOSC_STARTUP_DELAY    (((XOSC_FREQ_HZ / 1000u) + 128u) / 256u)

#endif
