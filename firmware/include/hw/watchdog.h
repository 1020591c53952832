/* WATCHDOG block (incl. the tick generator for TIMER). RP2040 datasheet §4.7 (registers §4.7.6). */
#ifndef HW_WATCHDOG_H
#define HW_WATCHDOG_H
#include "hw/addressmap.h"

#define WATCHDOG_CTRL         (WATCHDOG_BASE + 0x00u)
#define WATCHDOG_LOAD         (WATCHDOG_BASE + 0x04u)
#define WATCHDOG_REASON       (WATCHDOG_BASE + 0x08u)
#define WATCHDOG_SCRATCH0     (WATCHDOG_BASE + 0x0cu)
#define WATCHDOG_TICK         (WATCHDOG_BASE + 0x2cu)

#define WATCHDOG_CTRL_PAUSE_JTAG (1u << 24)
#define WATCHDOG_CTRL_PAUSE_DBG0 (1u << 25)
#define WATCHDOG_CTRL_PAUSE_DBG1 (1u << 26)
#define WATCHDOG_CTRL_ENABLE  (1u << 30)
#define WATCHDOG_CTRL_TRIGGER (1u << 31)
#define WATCHDOG_LOAD_MAX     0x00ffffffu

#define WATCHDOG_TICK_ENABLE  (1u << 9)

/* RP2040-E1 (datasheet Appendix B): the counter decrements twice per tick, so LOAD = 2 x microseconds. */
#define WATCHDOG_E1_TICKS_PER_US 2u

#endif
