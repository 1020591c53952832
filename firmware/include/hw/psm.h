/* PSM (power-on state machine). RP2040 datasheet §2.13 (registers §2.13.5). */
#ifndef HW_PSM_H
#define HW_PSM_H
#include "hw/addressmap.h"

#define PSM_FRCE_ON           (PSM_BASE + 0x0u)
#define PSM_FRCE_OFF          (PSM_BASE + 0x4u)
#define PSM_WDSEL             (PSM_BASE + 0x8u)
#define PSM_DONE              (PSM_BASE + 0xcu)

#define PSM_ROSC              (1u << 0)
#define PSM_XOSC              (1u << 1)
#define PSM_ALL               0x0001ffffu

#endif
