/* CLOCKS block. RP2040 datasheet §2.15 (registers §2.15.7). */
#ifndef HW_CLOCKS_H
#define HW_CLOCKS_H
#include "hw/addressmap.h"

#define CLK_REF_CTRL          (CLOCKS_BASE + 0x30u)
#define CLK_REF_DIV           (CLOCKS_BASE + 0x34u)
#define CLK_REF_SELECTED      (CLOCKS_BASE + 0x38u)
#define CLK_SYS_CTRL          (CLOCKS_BASE + 0x3cu)
#define CLK_SYS_DIV           (CLOCKS_BASE + 0x40u)
#define CLK_SYS_SELECTED      (CLOCKS_BASE + 0x44u)
#define CLK_PERI_CTRL         (CLOCKS_BASE + 0x48u)
#define CLK_PERI_SELECTED     (CLOCKS_BASE + 0x50u)
#define CLK_USB_CTRL          (CLOCKS_BASE + 0x54u)
#define CLK_USB_DIV           (CLOCKS_BASE + 0x58u)
#define CLK_USB_SELECTED      (CLOCKS_BASE + 0x5cu)
#define CLK_SYS_RESUS_CTRL    (CLOCKS_BASE + 0x78u)

/* CLK_REF_CTRL.SRC (bits 1:0), glitchless mux; SELECTED is one-hot in the same encoding. */
#define CLK_REF_SRC_MASK      0x3u
#define CLK_REF_SRC_ROSC      0x0u
#define CLK_REF_SRC_AUX       0x1u
#define CLK_REF_SRC_XOSC      0x2u

/* CLK_SYS_CTRL: SRC (bit 0) glitchless, AUXSRC (bits 7:5). */
#define CLK_SYS_SRC_MASK      0x1u
#define CLK_SYS_SRC_REF       0x0u
#define CLK_SYS_SRC_AUX       0x1u
#define CLK_SYS_AUXSRC_LSB    5u
#define CLK_SYS_AUXSRC_MASK   (0x7u << CLK_SYS_AUXSRC_LSB)
#define CLK_SYS_AUXSRC_PLL_SYS 0x0u

/* Aux-only clocks (peri, usb): ENABLE bit 11, AUXSRC bits 7:5. */
#define CLK_CTRL_ENABLE       (1u << 11)
#define CLK_CTRL_AUXSRC_LSB   5u
#define CLK_PERI_AUXSRC_CLK_SYS 0x0u
#define CLK_USB_AUXSRC_PLL_USB  0x0u

/* DIV registers: integer part in bits 31:8 (fraction 7:0 where present). */
#define CLK_DIV_INT_LSB       8u
#define CLK_DIV_ONE           (1u << CLK_DIV_INT_LSB)

#endif
