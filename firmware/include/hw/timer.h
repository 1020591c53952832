/* TIMER: 64-bit microsecond counter and 4 alarms. RP2040 datasheet §4.6 (registers §4.6.5). */
#ifndef HW_TIMER_H
#define HW_TIMER_H
#include "hw/addressmap.h"

#define TIMER_TIMEHW          (TIMER_BASE + 0x00u)
#define TIMER_TIMELW          (TIMER_BASE + 0x04u)
#define TIMER_TIMEHR          (TIMER_BASE + 0x08u)
#define TIMER_TIMELR          (TIMER_BASE + 0x0cu)
#define TIMER_ALARM(n)        (TIMER_BASE + 0x10u + 4u * (n))
#define TIMER_ARMED           (TIMER_BASE + 0x20u)
#define TIMER_TIMERAWH        (TIMER_BASE + 0x24u)
#define TIMER_TIMERAWL        (TIMER_BASE + 0x28u)
#define TIMER_DBGPAUSE        (TIMER_BASE + 0x2cu)
#define TIMER_PAUSE           (TIMER_BASE + 0x30u)
#define TIMER_INTR            (TIMER_BASE + 0x34u)
#define TIMER_INTE            (TIMER_BASE + 0x38u)
#define TIMER_INTF            (TIMER_BASE + 0x3cu)
#define TIMER_INTS            (TIMER_BASE + 0x40u)

/* The 64-bit microsecond count from the raw registers. They have no latch, so any number of contexts may
 * read them concurrently (the TIMELR/TIMEHR pair latches and breaks if an IRQ reads between its two
 * halves); the high word is re-read until it is stable across the low read (§4.6.2). */
static inline uint64_t timer_read_us(void)
{
    uint32_t hi = MMIO32(TIMER_TIMERAWH), lo, hi_before;
    do {
        hi_before = hi;
        lo = MMIO32(TIMER_TIMERAWL);
        hi = MMIO32(TIMER_TIMERAWH);
    } while (hi != hi_before);
    return ((uint64_t)hi << 32) | lo;
}

#endif
