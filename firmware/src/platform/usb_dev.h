/*
 * Internal interface between the USB device core (usb_dev.c: controller, IRQ, EP0, chapter 9) and the
 * CDC-ACM class (usb_cdc.c: class requests, data endpoints, byte pipe). Everything here runs in the USB
 * IRQ unless a comment says otherwise.
 */
#ifndef VGPIO_USB_DEV_H
#define VGPIO_USB_DEV_H

#include <stdbool.h>
#include <stdint.h>

#include "hw/usb.h"

/* USB 2.0 §9.3 SETUP packet */
typedef struct {
    uint8_t bmRequestType;
    uint8_t bRequest;
    uint16_t wValue;
    uint16_t wIndex;
    uint16_t wLength;
} usb_setup_t;

#define USB_REQ_DIR_IN          0x80u
#define USB_REQ_TYPE_MASK       0x60u
#define USB_REQ_TYPE_STANDARD   0x00u
#define USB_REQ_TYPE_CLASS      0x20u
#define USB_REQ_RECIP_MASK      0x1fu
#define USB_REQ_RECIP_DEVICE    0x00u
#define USB_REQ_RECIP_INTERFACE 0x01u
#define USB_REQ_RECIP_ENDPOINT  0x02u

/* What a request handler wants EP0 to do next (USB 2.0 §8.5.3 control transfers). */
typedef struct {
    const uint8_t *in;        /* device-to-host: data to send (clipped to wLength by the core) */
    uint8_t *out;             /* host-to-device with wLength > 0: where the data stage goes */
    uint16_t len;             /* bytes at in / capacity at out */
    void (*out_done)(void);   /* after the OUT data stage, before the status stage */
} usb_ctrl_t;

/*
 * Buffer control store with the concurrent-access rule (datasheet §4.1.2.5.1, and the warning in
 * §4.1.2.5.3: AVAILABLE must be set after the other bits when clk_sys and clk_usb differ): the
 * controller runs on clk_usb, so the word must settle for one clk_usb period before AVAILABLE hands the
 * buffer over. Write without AVAILABLE, wait, write with it. The wait is derived from our fixed clock
 * plan: ceil(clk_sys / clk_usb) = 3 cycles at 125 / 48 MHz, plus one for margin (NOPs take one cycle
 * each on the Cortex-M0+). TinyUSB's generic 12 covers clk_sys up to 576 MHz, which we never run.
 * Data must already be in the buffer and the endpoint control word (buffer address) already written.
 */
#include "platform_internal.h"
#define USB_AVAILABLE_WAIT_CYCLES \
    ((PLATFORM_CLK_SYS_HZ + PLATFORM_CLK_USB_HZ - 1u) / PLATFORM_CLK_USB_HZ + 1u)
_Static_assert(USB_AVAILABLE_WAIT_CYCLES == 4u, "AVAILABLE wait: update the .rept count below");
static inline void usb_buf_ctrl_arm(uint32_t buf_ctrl_addr, uint32_t value)
{
    MMIO32(buf_ctrl_addr) = value;
    __asm volatile(".rept 4\n\tnop\n\t.endr" ::: "memory");
    MMIO32(buf_ctrl_addr) = value | USB_BUF_CTRL_AVAILABLE;
}

/* usb_dev.c */
void usb_dev_init(void);                 /* thread context, once */

/* usb_cdc.c, called by usb_dev.c */
#define USB_CDC_BUFF_STATUS_MASK 0xfffffffcu   /* everything but EP0 */
bool usb_cdc_class_request(const usb_setup_t *s, usb_ctrl_t *x);  /* false = STALL */
void usb_cdc_bus_reset(void);
void usb_cdc_set_configuration(uint8_t config);                  /* 0 = unconfigured */
void usb_cdc_set_interface(uint8_t interface);                   /* alt setting 0 re-selected */
void usb_cdc_buff_status(uint32_t bits);                         /* BUFF_STATUS bits, already W1C'd */
/* Endpoint halt feature for the class endpoints; return false if ep_addr is not a class endpoint. */
bool usb_cdc_ep_get_halt(uint8_t ep_addr, bool *halted);
bool usb_cdc_ep_set_halt(uint8_t ep_addr, bool halt);

#endif
