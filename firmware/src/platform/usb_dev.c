/*
 * USB device core on the RP2040 controller (datasheet §4.1): bring-up, the IRQ, EP0 and the standard
 * requests of USB 2.0 chapter 9. The class lives in usb_cdc.c.
 *
 * EP0 is single-buffered with its fixed 64-byte buffer at DPRAM 0x100 shared by IN and OUT; control
 * transfers never overlap, so that is enough.
 */
#include <stdbool.h>
#include <stdint.h>

#include "platform.h"
#include "platform_internal.h"
#include "usb_dev.h"
#include "usb_descriptors.h"
#include "hw/intctrl.h"
#include "hw/resets.h"
#include "hw/usb.h"

/* Below GPIO/TIMER IRQs (0-1): an edge timestamp must not wait for a 64-byte copy. */
#define USB_IRQ_PRIORITY 2u

#define REQ_GET_STATUS        0x00u
#define REQ_CLEAR_FEATURE     0x01u
#define REQ_SET_FEATURE       0x03u
#define REQ_SET_ADDRESS       0x05u
#define REQ_GET_DESCRIPTOR    0x06u
#define REQ_GET_CONFIGURATION 0x08u
#define REQ_SET_CONFIGURATION 0x09u
#define REQ_GET_INTERFACE     0x0au
#define REQ_SET_INTERFACE     0x0bu

#define FEATURE_ENDPOINT_HALT 0x00u
#define DESC_TYPE_DEVICE      0x01u
#define DESC_TYPE_CONFIG      0x02u
#define DESC_TYPE_STRING      0x03u
#define USB_MAX_ADDRESS       127u

enum ep0_stage {
    EP0_IDLE,
    EP0_DATA_IN,      /* sending the data stage of a control read */
    EP0_STATUS_OUT,   /* control read done, host's status ZLP may still come (we do not wait for it) */
    EP0_DATA_OUT,     /* receiving the data stage of a control write */
    EP0_STATUS_IN,    /* our status ZLP is armed */
};

static struct {
    enum ep0_stage stage;
    const uint8_t *in_ptr;
    uint16_t in_left;
    bool in_zlp;              /* the data stage must end with a ZLP (see ep0_start_in) */
    uint32_t in_pid;          /* USB_BUF_CTRL_DATA1_PID or 0 for the next IN packet */
    uint8_t *out_ptr;
    uint16_t out_left;
    uint32_t out_pid;
    void (*out_done)(void);
    uint8_t pending_address;  /* applied after the SET_ADDRESS status stage */
    bool address_pending;
    bool stalled;
} ep0;

static uint8_t configuration;
/* Replies built at request time (strings, GET_STATUS, GET_CONFIGURATION); ISR-only. */
static uint8_t ep0_reply[USB_STRING_MAX_LEN];

static void ep0_in_packet(void)
{
    uint16_t n = ep0.in_left > USB_EP0_MPS ? USB_EP0_MPS : ep0.in_left;
    volatile uint8_t *buf = (volatile uint8_t *)USB_DPRAM_EP0_BUF;
    for (uint16_t i = 0; i < n; i++)
        buf[i] = ep0.in_ptr[i];
    ep0.in_ptr += n;
    ep0.in_left -= n;
    uint32_t pid = ep0.in_pid;
    ep0.in_pid ^= USB_BUF_CTRL_DATA1_PID;
    usb_buf_ctrl_arm(USB_DPRAM_EP_IN_BUF_CTRL(0), USB_BUF_CTRL_FULL | pid | n);
}

static void ep0_arm_out(uint32_t pid)
{
    usb_buf_ctrl_arm(USB_DPRAM_EP_OUT_BUF_CTRL(0), pid | USB_EP0_MPS);
}

static void ep0_start_in(const uint8_t *data, uint16_t len, uint16_t wlength)
{
    if (len > wlength)
        len = wlength;
    ep0.stage = EP0_DATA_IN;
    ep0.in_ptr = data;
    ep0.in_left = len;
    /* The host ends a control read at wLength bytes or at a short packet; a reply shorter than wLength
     * that ends on a packet boundary needs a ZLP as its short packet (USB 2.0 §5.5.3). */
    ep0.in_zlp = len != 0 && len < wlength && (len % USB_EP0_MPS) == 0;
    ep0_in_packet();
}

static void ep0_status_in(void)
{
    ep0.stage = EP0_STATUS_IN;
    usb_buf_ctrl_arm(USB_DPRAM_EP_IN_BUF_CTRL(0), USB_BUF_CTRL_FULL | USB_BUF_CTRL_DATA1_PID);
}

static void ep0_stall(void)
{
    /* EP0 needs both EP_STALL_ARM and the buffer STALL bit; the controller drops the arm at the next
     * SETUP (datasheet §4.1.2.5, EP_STALL_ARM). */
    MMIO32(USB_EP_STALL_ARM) = USB_EP_STALL_ARM_EP0_IN | USB_EP_STALL_ARM_EP0_OUT;
    MMIO32(USB_DPRAM_EP_IN_BUF_CTRL(0)) = USB_BUF_CTRL_STALL;
    MMIO32(USB_DPRAM_EP_OUT_BUF_CTRL(0)) = USB_BUF_CTRL_STALL;
    ep0.stage = EP0_IDLE;
    ep0.stalled = true;
}

/* Standard requests. Returns false to STALL; fills x for the data stage. */
static bool standard_request(const usb_setup_t *s, usb_ctrl_t *x)
{
    uint8_t recip = s->bmRequestType & USB_REQ_RECIP_MASK;
    bool in = (s->bmRequestType & USB_REQ_DIR_IN) != 0;

    switch (s->bRequest) {
    case REQ_GET_DESCRIPTOR:
        if (!in || recip != USB_REQ_RECIP_DEVICE)
            return false;
        switch (s->wValue >> 8) {
        case DESC_TYPE_DEVICE:
            x->in = usb_device_descriptor;
            x->len = sizeof usb_device_descriptor;
            return true;
        case DESC_TYPE_CONFIG:
            if ((s->wValue & 0xffu) != 0)
                return false;
            x->in = usb_config_descriptor;
            x->len = sizeof usb_config_descriptor;
            return true;
        case DESC_TYPE_STRING:
            x->in = ep0_reply;
            x->len = (uint16_t)usb_string_descriptor(s->wValue & 0xffu, ep0_reply);
            return x->len != 0;
        default:
            /* Includes DEVICE_QUALIFIER / OTHER_SPEED_CONFIGURATION: a full-speed-only device must
             * answer them with a request error (USB 2.0 §9.6.2). */
            return false;
        }

    case REQ_SET_ADDRESS:
        if (in || recip != USB_REQ_RECIP_DEVICE || s->wValue > USB_MAX_ADDRESS)
            return false;
        /* The status stage still runs at the old address (USB 2.0 §9.4.6). */
        ep0.pending_address = (uint8_t)s->wValue;
        ep0.address_pending = true;
        return true;

    case REQ_GET_CONFIGURATION:
        if (!in || recip != USB_REQ_RECIP_DEVICE)
            return false;
        ep0_reply[0] = configuration;
        x->in = ep0_reply;
        x->len = 1;
        return true;

    case REQ_SET_CONFIGURATION:
        if (in || recip != USB_REQ_RECIP_DEVICE || s->wValue > USB_CONFIG_VALUE)
            return false;
        configuration = (uint8_t)s->wValue;
        usb_cdc_set_configuration(configuration);
        return true;

    case REQ_GET_INTERFACE:
        if (!in || recip != USB_REQ_RECIP_INTERFACE || !configuration || s->wIndex >= CDC_NUM_INTERFACES)
            return false;
        ep0_reply[0] = 0;   /* only alternate setting 0 exists */
        x->in = ep0_reply;
        x->len = 1;
        return true;

    case REQ_SET_INTERFACE:
        if (in || recip != USB_REQ_RECIP_INTERFACE || !configuration || s->wIndex >= CDC_NUM_INTERFACES ||
            s->wValue != 0)
            return false;
        usb_cdc_set_interface((uint8_t)s->wIndex);
        return true;

    case REQ_GET_STATUS: {
        if (!in)
            return false;
        bool halted = false;
        if (recip == USB_REQ_RECIP_INTERFACE) {
            if (!configuration || s->wIndex >= CDC_NUM_INTERFACES)
                return false;
        } else if (recip == USB_REQ_RECIP_ENDPOINT) {
            uint8_t ep = (uint8_t)s->wIndex;
            if ((ep & 0x7fu) != 0 && (!configuration || !usb_cdc_ep_get_halt(ep, &halted)))
                return false;
        } else if (recip != USB_REQ_RECIP_DEVICE) {
            return false;
        }
        /* Device: bus powered, no remote wakeup -> 0. Interface: reserved 0. Endpoint: halt bit. */
        ep0_reply[0] = halted ? 1u : 0u;
        ep0_reply[1] = 0;
        x->in = ep0_reply;
        x->len = 2;
        return true;
    }

    case REQ_CLEAR_FEATURE:
    case REQ_SET_FEATURE: {
        if (in || recip != USB_REQ_RECIP_ENDPOINT || s->wValue != FEATURE_ENDPOINT_HALT)
            return false;   /* DEVICE_REMOTE_WAKEUP is not offered, TEST_MODE is high-speed only */
        uint8_t ep = (uint8_t)s->wIndex;
        if ((ep & 0x7fu) == 0)
            return s->bRequest == REQ_CLEAR_FEATURE;   /* EP0 halts only per request (protocol stall) */
        return configuration && usb_cdc_ep_set_halt(ep, s->bRequest == REQ_SET_FEATURE);
    }

    default:
        return false;
    }
}

static __attribute__((noinline)) void ep0_setup(void)
{
    const volatile uint32_t *pkt = (const volatile uint32_t *)USB_DPRAM_SETUP_PACKET;
    uint32_t w0 = pkt[0], w1 = pkt[1];
    usb_setup_t s = {
        .bmRequestType = (uint8_t)w0,
        .bRequest = (uint8_t)(w0 >> 8),
        .wValue = (uint16_t)(w0 >> 16),
        .wIndex = (uint16_t)w1,
        .wLength = (uint16_t)(w1 >> 16),
    };

    /* A SETUP ends whatever EP0 was doing (USB 2.0 §8.5.3); both directions restart at DATA1. */
    if (ep0.stalled) {
        MMIO32(USB_DPRAM_EP_IN_BUF_CTRL(0)) = 0;
        MMIO32(USB_DPRAM_EP_OUT_BUF_CTRL(0)) = 0;
        ep0.stalled = false;
    }
    ep0.stage = EP0_IDLE;
    ep0.in_pid = USB_BUF_CTRL_DATA1_PID;
    ep0.address_pending = false;

    usb_ctrl_t x = {0};
    bool ok;
    switch (s.bmRequestType & USB_REQ_TYPE_MASK) {
    case USB_REQ_TYPE_STANDARD:
        ok = standard_request(&s, &x);
        break;
    case USB_REQ_TYPE_CLASS:
        ok = usb_cdc_class_request(&s, &x);
        break;
    default:
        ok = false;
        break;
    }
    if (!ok) {
        ep0.address_pending = false;
        ep0_stall();
        return;
    }

    if (s.bmRequestType & USB_REQ_DIR_IN) {
        ep0_start_in(x.in, x.len, s.wLength);
    } else if (s.wLength != 0) {
        if (x.out == NULL || s.wLength > x.len) {
            ep0_stall();
            return;
        }
        ep0.stage = EP0_DATA_OUT;
        ep0.out_ptr = x.out;
        ep0.out_left = s.wLength;
        ep0.out_done = x.out_done;
        ep0.out_pid = USB_BUF_CTRL_DATA1_PID;
        ep0_arm_out(ep0.out_pid);
    } else {
        ep0_status_in();
    }
}

static __attribute__((noinline)) void ep0_in_done(void)
{
    switch (ep0.stage) {
    case EP0_DATA_IN:
        if (ep0.in_left != 0 || ep0.in_zlp) {
            if (ep0.in_left == 0)
                ep0.in_zlp = false;
            ep0_in_packet();
        } else {
            /* Arm for the host's status ZLP but do not wait for it: the next SETUP may come first. */
            ep0.stage = EP0_STATUS_OUT;
            ep0_arm_out(USB_BUF_CTRL_DATA1_PID);
        }
        break;
    case EP0_STATUS_IN:
        ep0.stage = EP0_IDLE;
        if (ep0.address_pending) {
            MMIO32(USB_ADDR_ENDP) = ep0.pending_address;
            ep0.address_pending = false;
        }
        break;
    default:
        break;
    }
}

static __attribute__((noinline)) void ep0_out_done(void)
{
    if (ep0.stage == EP0_STATUS_OUT) {
        ep0.stage = EP0_IDLE;
        return;
    }
    if (ep0.stage != EP0_DATA_OUT)
        return;
    uint32_t len = MMIO32(USB_DPRAM_EP_OUT_BUF_CTRL(0)) & USB_BUF_CTRL_LEN_MASK;
    if (len > ep0.out_left)
        len = ep0.out_left;
    const volatile uint8_t *buf = (const volatile uint8_t *)USB_DPRAM_EP0_BUF;
    for (uint32_t i = 0; i < len; i++)
        ep0.out_ptr[i] = buf[i];
    ep0.out_ptr += len;
    ep0.out_left -= (uint16_t)len;
    if (ep0.out_left != 0 && len == USB_EP0_MPS) {
        ep0.out_pid ^= USB_BUF_CTRL_DATA1_PID;
        ep0_arm_out(ep0.out_pid);
        return;
    }
    if (ep0.out_done != NULL)
        ep0.out_done();
    ep0_status_in();
}

static __attribute__((noinline)) void bus_reset(void)
{
    MMIO32(USB_ADDR_ENDP) = 0;
    configuration = 0;
    ep0.stage = EP0_IDLE;
    ep0.address_pending = false;
    ep0.stalled = false;
    MMIO32(USB_EP_STALL_ARM) = 0;
    MMIO32(USB_DPRAM_EP_IN_BUF_CTRL(0)) = 0;
    MMIO32(USB_DPRAM_EP_OUT_BUF_CTRL(0)) = 0;
    usb_cdc_bus_reset();
    /* Completions from before the reset belong to transfers that no longer exist. */
    MMIO32(USB_BUFF_STATUS) = MMIO32(USB_BUFF_STATUS);
}

/* Bus reset, SETUP and EP0 handling stay out of line (noinline above), so the data path, one
 * BUFF_STATUS per packet, runs with a small frame. */
void usbctrl_irq_handler(void)
{
    uint32_t ints;
    while ((ints = MMIO32(USB_INTS)) != 0) {
        if (ints & USB_INT_BUS_RESET) {
            /* Housekeeping before the W1C: rp2040js's host reacts to the clear immediately. Clear only
             * this bit: any SIE_STATUS write with bit 19 set counts as a reset there. */
            bus_reset();
            MMIO32(USB_SIE_STATUS) = USB_SIE_STATUS_BUS_RESET;
        }
        if (ints & USB_INT_BUFF_STATUS) {
            /* W1C first: a completion that arrives while we re-arm must stay visible. */
            uint32_t bs = MMIO32(USB_BUFF_STATUS);
            MMIO32(USB_BUFF_STATUS) = bs;
            if (bs & USB_BUFF_STATUS_IN(0))
                ep0_in_done();
            if (bs & USB_BUFF_STATUS_OUT(0))
                ep0_out_done();
            if (bs & USB_CDC_BUFF_STATUS_MASK)
                usb_cdc_buff_status(bs);
        }
        if (ints & USB_INT_SETUP_REQ) {
            MMIO32(USB_SIE_STATUS) = USB_SIE_STATUS_SETUP_REC;
            ep0_setup();
        }
    }
}

void usb_dev_init(void)
{
    platform_resets_release(RESETS_USBCTRL);

    /* The DPRAM is not cleared by the reset; stale endpoint control words would enable endpoints. */
    volatile uint32_t *dpram = (volatile uint32_t *)USBCTRL_DPRAM_BASE;
    for (uint32_t i = 0; i < USB_DPRAM_SIZE / 4u; i++)
        dpram[i] = 0;

    /* Internal PHY; SOFTCON so the pull-up follows SIE_CTRL.PULLUP_EN. VBUS is forced present: boards
     * do not route a VBUS sense pin to the controller (datasheet §4.1.2.8). */
    MMIO32(USB_USB_MUXING) = USB_USB_MUXING_TO_PHY | USB_USB_MUXING_SOFTCON;
    MMIO32(USB_USB_PWR) = USB_USB_PWR_VBUS_DETECT | USB_USB_PWR_VBUS_DETECT_OVERRIDE_EN;
    MMIO32(USB_MAIN_CTRL) = USB_MAIN_CTRL_CONTROLLER_EN;   /* device mode; written once */
    MMIO32(USB_SIE_CTRL) = USB_SIE_CTRL_EP0_INT_1BUF;
    MMIO32(USB_INTE) = USB_INT_BUFF_STATUS | USB_INT_BUS_RESET | USB_INT_SETUP_REQ;
    platform_irq_enable(USBCTRL_IRQ, USB_IRQ_PRIORITY);
    /* Attach last: the host may start talking as soon as it sees the pull-up. */
    MMIO32(USB_SIE_CTRL) = USB_SIE_CTRL_EP0_INT_1BUF | USB_SIE_CTRL_PULLUP_EN;
}
