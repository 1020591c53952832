/* USB descriptors of the vgpio CDC-ACM device, and the numbers the stack derives from them. */
#ifndef VGPIO_USB_DESCRIPTORS_H
#define VGPIO_USB_DESCRIPTORS_H

#include <stdint.h>

/* pid.codes (https://pid.codes) open-source VID with its *test* PID 0x0001: for development only, a
 * real PID must be requested from pid.codes before release (see firmware/README.md). */
#define USB_VID                 0x1209u
#define USB_PID                 0x0001u
#define USB_BCD_DEVICE          0x0100u

#define USB_EP0_MPS             64u
#define USB_CONFIG_VALUE        1u
#define USB_CONFIG_TOTAL_LENGTH 75u

#define CDC_IF_COMM             0u
#define CDC_IF_DATA             1u
#define CDC_NUM_INTERFACES      2u
#define CDC_EP_NOTIF            0x81u
#define CDC_EP_DATA_OUT         0x02u
#define CDC_EP_DATA_IN          0x82u
#define CDC_EP_NOTIF_NUM        (CDC_EP_NOTIF & 0x0fu)
#define CDC_EP_DATA_NUM         (CDC_EP_DATA_OUT & 0x0fu)
#define CDC_NOTIF_MPS           8u
#define CDC_DATA_MPS            64u

#define USB_STRING_LANGID       0u
#define USB_STRING_MANUFACTURER 1u
#define USB_STRING_PRODUCT      2u
#define USB_STRING_SERIAL       3u
#define USB_STRING_COUNT        4u
/* Longest string descriptor: serial = 16 hex digits -> 2 + 32 bytes; fits one EP0 packet. */
#define USB_STRING_MAX_LEN      34u

extern const uint8_t usb_device_descriptor[18];
extern const uint8_t usb_config_descriptor[USB_CONFIG_TOTAL_LENGTH];

/* Render string descriptor index into buf (USB_STRING_MAX_LEN bytes); returns its length, 0 if there
 * is no such string. */
unsigned usb_string_descriptor(unsigned index, uint8_t *buf);

#endif
