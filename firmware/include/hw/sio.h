/*
 * SIO: single-cycle IO block, GPIO part. RP2040 datasheet §2.3.1 (SIO), §2.3.1.7 (SIO registers).
 * SIO is on the core's IOPORT, not APB: no §2.1.2 aliases, but dedicated SET/CLR/XOR registers, and
 * accesses take one cycle.
 */
#ifndef HW_SIO_H
#define HW_SIO_H
#include "hw/addressmap.h"

#define SIO_CPUID                       (SIO_BASE + 0x000u)
#define SIO_GPIO_IN                     (SIO_BASE + 0x004u)   /* pin levels after the pad input buffer */
#define SIO_GPIO_OUT                    (SIO_BASE + 0x010u)
#define SIO_GPIO_OUT_SET                (SIO_BASE + 0x014u)
#define SIO_GPIO_OUT_CLR                (SIO_BASE + 0x018u)
#define SIO_GPIO_OUT_XOR                (SIO_BASE + 0x01cu)
#define SIO_GPIO_OE                     (SIO_BASE + 0x020u)
#define SIO_GPIO_OE_SET                 (SIO_BASE + 0x024u)
#define SIO_GPIO_OE_CLR                 (SIO_BASE + 0x028u)
#define SIO_GPIO_OE_XOR                 (SIO_BASE + 0x02cu)

#define SIO_GPIO_MASK                   0x3fffffffu           /* GPIO0..GPIO29 */

#endif
