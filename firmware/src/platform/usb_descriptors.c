/* Descriptors: USB 2.0 §9.6, CDC 1.20 §5.2.3 (functional descriptors), IAD ECN. */
#include <stdint.h>

#include "usb_descriptors.h"
#include "platform_internal.h"

#define LO(x) ((uint8_t)((x) & 0xffu))
#define HI(x) ((uint8_t)(((x) >> 8) & 0xffu))

#define DESC_DEVICE         0x01u
#define DESC_CONFIGURATION  0x02u
#define DESC_STRING         0x03u
#define DESC_INTERFACE      0x04u
#define DESC_ENDPOINT       0x05u
#define DESC_IAD            0x0bu
#define DESC_CS_INTERFACE   0x24u

#define CLASS_MISC          0xefu   /* with subclass 2 / protocol 1: "uses IADs" */
#define SUBCLASS_COMMON     0x02u
#define PROTOCOL_IAD        0x01u
#define CLASS_CDC           0x02u
#define SUBCLASS_ACM        0x02u
#define CLASS_CDC_DATA      0x0au

#define CDC_FUNC_HEADER     0x00u
#define CDC_FUNC_CALL_MGMT  0x01u
#define CDC_FUNC_ACM        0x02u
#define CDC_FUNC_UNION      0x06u
#define CDC_BCD             0x0110u
/* ACM bmCapabilities bit 1: SET/GET_LINE_CODING and SET_CONTROL_LINE_STATE supported (SEND_BREAK,
 * bit 2, is accepted but not advertised: there is no UART behind the pipe). */
#define CDC_ACM_CAPS        0x02u

#define EP_ATTR_BULK        0x02u
#define EP_ATTR_INTERRUPT   0x03u
#define NOTIF_INTERVAL_MS   16u

#define CONFIG_ATTR_BUS_POWERED 0x80u
#define CONFIG_MAX_POWER_2MA    50u  /* 100 mA */

const uint8_t usb_device_descriptor[18] = {
    18, DESC_DEVICE, LO(0x0200), HI(0x0200),
    CLASS_MISC, SUBCLASS_COMMON, PROTOCOL_IAD, USB_EP0_MPS,
    LO(USB_VID), HI(USB_VID), LO(USB_PID), HI(USB_PID), LO(USB_BCD_DEVICE), HI(USB_BCD_DEVICE),
    USB_STRING_MANUFACTURER, USB_STRING_PRODUCT, USB_STRING_SERIAL, 1,
};

const uint8_t usb_config_descriptor[USB_CONFIG_TOTAL_LENGTH] = {
    9, DESC_CONFIGURATION, LO(USB_CONFIG_TOTAL_LENGTH), HI(USB_CONFIG_TOTAL_LENGTH),
    CDC_NUM_INTERFACES, USB_CONFIG_VALUE, 0, CONFIG_ATTR_BUS_POWERED, CONFIG_MAX_POWER_2MA,
    /* IAD: groups both interfaces into one function so the host binds one CDC-ACM driver. */
    8, DESC_IAD, CDC_IF_COMM, 2, CLASS_CDC, SUBCLASS_ACM, 0, 0,
    /* Communication interface */
    9, DESC_INTERFACE, CDC_IF_COMM, 0, 1, CLASS_CDC, SUBCLASS_ACM, 0, 0,
    5, DESC_CS_INTERFACE, CDC_FUNC_HEADER, LO(CDC_BCD), HI(CDC_BCD),
    5, DESC_CS_INTERFACE, CDC_FUNC_CALL_MGMT, 0, CDC_IF_DATA,
    4, DESC_CS_INTERFACE, CDC_FUNC_ACM, CDC_ACM_CAPS,
    5, DESC_CS_INTERFACE, CDC_FUNC_UNION, CDC_IF_COMM, CDC_IF_DATA,
    7, DESC_ENDPOINT, CDC_EP_NOTIF, EP_ATTR_INTERRUPT, LO(CDC_NOTIF_MPS), HI(CDC_NOTIF_MPS), NOTIF_INTERVAL_MS,
    /* Data interface */
    9, DESC_INTERFACE, CDC_IF_DATA, 0, 2, CLASS_CDC_DATA, 0, 0, 0,
    7, DESC_ENDPOINT, CDC_EP_DATA_OUT, EP_ATTR_BULK, LO(CDC_DATA_MPS), HI(CDC_DATA_MPS), 0,
    7, DESC_ENDPOINT, CDC_EP_DATA_IN, EP_ATTR_BULK, LO(CDC_DATA_MPS), HI(CDC_DATA_MPS), 0,
};

_Static_assert(USB_CONFIG_TOTAL_LENGTH % 64u != 1u, "rp2040js' host ignores a 1-byte final packet");

static const char manufacturer[] = "vgpio project";
static const char product[] = "vgpio";
#define LANGID_EN_US 0x0409u

static unsigned ascii_string(const char *s, uint8_t *buf)
{
    unsigned n = 2;
    for (; *s; s++) {
        buf[n++] = (uint8_t)*s;
        buf[n++] = 0;
    }
    buf[0] = (uint8_t)n;
    buf[1] = DESC_STRING;
    return n;
}

unsigned usb_string_descriptor(unsigned index, uint8_t *buf)
{
    static const char hex[] = "0123456789ABCDEF";
    switch (index) {
    case USB_STRING_LANGID:
        buf[0] = 4;
        buf[1] = DESC_STRING;
        buf[2] = LO(LANGID_EN_US);
        buf[3] = HI(LANGID_EN_US);
        return 4;
    case USB_STRING_MANUFACTURER:
        return ascii_string(manufacturer, buf);
    case USB_STRING_PRODUCT:
        return ascii_string(product, buf);
    case USB_STRING_SERIAL: {
        /* Serial = the 64-bit unique id as 16 hex digits, first id byte first. */
        unsigned n = 2;
        for (unsigned i = 0; i < sizeof platform_uid; i++) {
            buf[n++] = (uint8_t)hex[platform_uid[i] >> 4];
            buf[n++] = 0;
            buf[n++] = (uint8_t)hex[platform_uid[i] & 0x0fu];
            buf[n++] = 0;
        }
        buf[0] = (uint8_t)n;
        buf[1] = DESC_STRING;
        return n;
    }
    default:
        return 0;
    }
}
