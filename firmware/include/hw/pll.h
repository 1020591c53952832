/* PLL_SYS / PLL_USB. RP2040 datasheet §2.18 (registers §2.18.4). Same layout for both instances. */
#ifndef HW_PLL_H
#define HW_PLL_H
#include "hw/addressmap.h"

#define PLL_CS(base)          ((base) + 0x0u)
#define PLL_PWR(base)         ((base) + 0x4u)
#define PLL_FBDIV_INT(base)   ((base) + 0x8u)
#define PLL_PRIM(base)        ((base) + 0xcu)

#define PLL_CS_REFDIV_LSB     0u
#define PLL_CS_LOCK           (1u << 31)
#define PLL_PWR_PD            (1u << 0)
#define PLL_PWR_DSMPD         (1u << 2)
#define PLL_PWR_POSTDIVPD     (1u << 3)
#define PLL_PWR_VCOPD         (1u << 5)
#define PLL_PRIM_POSTDIV1_LSB 16u
#define PLL_PRIM_POSTDIV2_LSB 12u

/* §2.18.2: VCO 750-1600 MHz; current pico-sdk uses 756 MHz as the lower bound for margin. */
#define PLL_VCO_MIN_HZ        756000000u
#define PLL_VCO_MAX_HZ        1600000000u

#endif
