/* USB controller registers and device-mode DPRAM layout. RP2040 datasheet §4.1
 * (DPRAM layout §4.1.2.5, buffer control §4.1.2.5.1, registers §4.1.4). */
#ifndef HW_USB_H
#define HW_USB_H
#include "hw/addressmap.h"

/* ---- registers (USBCTRL_REGS) ---- */
#define USB_ADDR_ENDP         (USBCTRL_REGS_BASE + 0x00u)
#define USB_MAIN_CTRL         (USBCTRL_REGS_BASE + 0x40u)
#define USB_SIE_CTRL          (USBCTRL_REGS_BASE + 0x4cu)
#define USB_SIE_STATUS        (USBCTRL_REGS_BASE + 0x50u)
#define USB_BUFF_STATUS       (USBCTRL_REGS_BASE + 0x58u)
#define USB_EP_STALL_ARM      (USBCTRL_REGS_BASE + 0x68u)
#define USB_USB_MUXING        (USBCTRL_REGS_BASE + 0x74u)
#define USB_USB_PWR           (USBCTRL_REGS_BASE + 0x78u)
#define USB_INTR              (USBCTRL_REGS_BASE + 0x8cu)
#define USB_INTE              (USBCTRL_REGS_BASE + 0x90u)
#define USB_INTF              (USBCTRL_REGS_BASE + 0x94u)
#define USB_INTS              (USBCTRL_REGS_BASE + 0x98u)

#define USB_MAIN_CTRL_CONTROLLER_EN   (1u << 0)
#define USB_MAIN_CTRL_HOST_NDEVICE    (1u << 1)

#define USB_SIE_CTRL_PULLUP_EN        (1u << 16)
#define USB_SIE_CTRL_EP0_INT_1BUF     (1u << 29)

#define USB_SIE_STATUS_VBUS_DETECTED  (1u << 0)
#define USB_SIE_STATUS_CONNECTED      (1u << 16)
#define USB_SIE_STATUS_SETUP_REC      (1u << 17)
#define USB_SIE_STATUS_BUS_RESET      (1u << 19)
#define USB_SIE_STATUS_DATA_SEQ_ERROR (1u << 31)

#define USB_EP_STALL_ARM_EP0_IN       (1u << 0)
#define USB_EP_STALL_ARM_EP0_OUT      (1u << 1)

#define USB_USB_MUXING_TO_PHY         (1u << 0)
#define USB_USB_MUXING_SOFTCON        (1u << 3)

#define USB_USB_PWR_VBUS_DETECT       (1u << 2)
#define USB_USB_PWR_VBUS_DETECT_OVERRIDE_EN (1u << 3)

#define USB_INT_BUFF_STATUS           (1u << 4)
#define USB_INT_VBUS_DETECT           (1u << 11)
#define USB_INT_BUS_RESET             (1u << 12)
#define USB_INT_DEV_CONN_DIS          (1u << 13)
#define USB_INT_SETUP_REQ             (1u << 16)

/* BUFF_STATUS: bit 2n = EPn IN buffer done, bit 2n+1 = EPn OUT buffer done. */
#define USB_BUFF_STATUS_IN(n)         (1u << (2u * (n)))
#define USB_BUFF_STATUS_OUT(n)        (1u << (2u * (n) + 1u))

/* ---- DPRAM (USBCTRL_DPRAM), device mode, single-buffered ---- */
#define USB_DPRAM_SIZE                0x1000u
#define USB_DPRAM_SETUP_PACKET        (USBCTRL_DPRAM_BASE + 0x000u)
/* Endpoint control exists for EP1..EP15 only (EP0 is configured by SIE_CTRL). */
#define USB_DPRAM_EP_IN_CTRL(n)       (USBCTRL_DPRAM_BASE + 0x008u + 8u * ((n) - 1u))
#define USB_DPRAM_EP_OUT_CTRL(n)      (USBCTRL_DPRAM_BASE + 0x00cu + 8u * ((n) - 1u))
#define USB_DPRAM_EP_IN_BUF_CTRL(n)   (USBCTRL_DPRAM_BASE + 0x080u + 8u * (n))
#define USB_DPRAM_EP_OUT_BUF_CTRL(n)  (USBCTRL_DPRAM_BASE + 0x084u + 8u * (n))
/* EP0 IN and OUT share one fixed 64-byte buffer (§4.1.2.5). */
#define USB_DPRAM_EP0_BUF             (USBCTRL_DPRAM_BASE + 0x100u)
#define USB_DPRAM_DATA_START          (USBCTRL_DPRAM_BASE + 0x180u)

/* Endpoint control word */
#define USB_EP_CTRL_ENABLE            (1u << 31)
#define USB_EP_CTRL_DOUBLE_BUF        (1u << 30)
#define USB_EP_CTRL_INT_PER_BUFF      (1u << 29)
#define USB_EP_CTRL_TYPE_LSB          26u
#define USB_EP_CTRL_TYPE_CONTROL      0u
#define USB_EP_CTRL_TYPE_ISO          1u
#define USB_EP_CTRL_TYPE_BULK         2u
#define USB_EP_CTRL_TYPE_INTERRUPT    3u
#define USB_EP_CTRL_BUF_OFFSET_MASK   0xffc0u   /* offset from DPRAM start, 64-byte aligned */

/* Buffer control word (buffer 0 in bits 15:0) */
#define USB_BUF_CTRL_FULL             (1u << 15)
#define USB_BUF_CTRL_LAST             (1u << 14)
#define USB_BUF_CTRL_DATA1_PID        (1u << 13)
#define USB_BUF_CTRL_SEL              (1u << 12)
#define USB_BUF_CTRL_STALL            (1u << 11)
#define USB_BUF_CTRL_AVAILABLE        (1u << 10)
#define USB_BUF_CTRL_LEN_MASK         0x3ffu

#endif
