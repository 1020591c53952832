/*
 * CDC-ACM class and the byte pipe (platform.h usb_cdc_*). Data interface: bulk OUT EP2 / bulk IN EP2,
 * single-buffered, 64-byte packets. Notification EP1 IN is configured but never armed (the host's polls
 * are NAKed; we have no serial state to report).
 *
 * Rings: single producer / single consumer with free-running 32-bit indices (size is a power of two;
 * used = head - tail survives wrap-around).
 *   RX 1024 bytes: producer USB IRQ, consumer main loop. Bulk OUT is only armed while >= 64 bytes are
 *     free, so a busy main loop makes the controller NAK instead of dropping data. 16 packets = ~0.9 ms
 *     of back-to-back full-speed bulk traffic, enough to ride out a long main-loop pass without
 *     throttling the host.
 *   TX 2048 bytes: producer main loop, consumer USB IRQ. Larger than RX because one request can fan out
 *     into several replies and edge reports, and a full TX ring stalls the main loop (it stops reading
 *     RX, which backs up into NAKs).
 * Together 3 KiB of the 32 KiB static RAM budget.
 *
 * Hot paths (OUT completion, IN refill) copy with word accesses on the DPRAM side and no calls.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "platform.h"
#include "usb_dev.h"
#include "usb_descriptors.h"
#include "hw/usb.h"

#define CDC_RX_RING_SIZE 1024u
#define CDC_TX_RING_SIZE 2048u
_Static_assert((CDC_RX_RING_SIZE & (CDC_RX_RING_SIZE - 1u)) == 0, "RX ring size must be a power of 2");
_Static_assert((CDC_TX_RING_SIZE & (CDC_TX_RING_SIZE - 1u)) == 0, "TX ring size must be a power of 2");
_Static_assert(CDC_RX_RING_SIZE >= 2u * CDC_DATA_MPS, "RX ring must hold at least two packets");

/* CDC PSTN 1.2 §6.3 requests */
#define CDC_SET_LINE_CODING        0x20u
#define CDC_GET_LINE_CODING        0x21u
#define CDC_SET_CONTROL_LINE_STATE 0x22u
#define CDC_SEND_BREAK             0x23u
#define CDC_LINE_CODING_LEN        7u
#define CDC_LINE_STATE_MASK        0x3u   /* DTR | RTS */

/* DPRAM data buffers, 64-byte aligned after the EP0 buffer (datasheet §4.1.2.5). */
#define CDC_NOTIF_BUF_OFFSET 0x180u
#define CDC_IN_BUF_OFFSET    0x1c0u
#define CDC_OUT_BUF_OFFSET   0x200u

#define EP_CTRL(type, offset) \
    (USB_EP_CTRL_ENABLE | USB_EP_CTRL_INT_PER_BUFF | ((type) << USB_EP_CTRL_TYPE_LSB) | (offset))

#define BS_DATA_IN  USB_BUFF_STATUS_IN(CDC_EP_DATA_NUM)
#define BS_DATA_OUT USB_BUFF_STATUS_OUT(CDC_EP_DATA_NUM)

#define HALT_NOTIF  (1u << 0)
#define HALT_OUT    (1u << 1)
#define HALT_IN     (1u << 2)

/* rx_ring: +4 so the OUT copy may store whole words past the last byte at the ring's end (those bytes
 * are free space, never published). tx_ring: + USB_CDC_TX_RESERVE_MAX so a frame reserved with
 * usb_cdc_tx_reserve() can be written linearly past the end (usb_cdc_tx_commit moves that tail to the
 * ring's start), and so the IN refill may read up to 3 bytes past the last queued byte. */
#define CDC_RX_RING_PAD 4u
static uint8_t rx_ring[CDC_RX_RING_SIZE + CDC_RX_RING_PAD] __attribute__((aligned(4)));
static uint8_t tx_ring[CDC_TX_RING_SIZE + USB_CDC_TX_RESERVE_MAX] __attribute__((aligned(4)));
static volatile uint32_t rx_head, rx_tail, tx_head, tx_tail;

static volatile bool configured;
static bool out_armed, in_busy, in_zlp_due;
static uint32_t out_pid, in_pid;   /* USB_BUF_CTRL_DATA1_PID or 0 */
static uint8_t halted;
static volatile uint8_t line_state;

/* Default 115200 8N1; the host may set anything: there is no UART, the pipe ignores it. */
static uint8_t line_coding[CDC_LINE_CODING_LEN] = {0x00, 0xc2, 0x01, 0x00, 0, 0, 8};
static uint8_t line_coding_rx[CDC_LINE_CODING_LEN];

#define COMPILER_BARRIER() __asm volatile("" ::: "memory")

/* ---- data endpoints (USB IRQ, or thread context with interrupts masked) ----------------------- */

static void cdc_out_arm(void)
{
    if (!configured || out_armed || (halted & HALT_OUT))
        return;
    if (CDC_RX_RING_SIZE - (rx_head - rx_tail) < CDC_DATA_MPS)
        return;   /* leave it unarmed: the controller NAKs until the main loop frees space */
    out_armed = true;
    usb_buf_ctrl_arm(USB_DPRAM_EP_OUT_BUF_CTRL(CDC_EP_DATA_NUM), out_pid | CDC_DATA_MPS);
}

static void cdc_out_done(void)
{
    out_armed = false;
    out_pid ^= USB_BUF_CTRL_DATA1_PID;
    uint32_t len = MMIO32(USB_DPRAM_EP_OUT_BUF_CTRL(CDC_EP_DATA_NUM)) & USB_BUF_CTRL_LEN_MASK;
    if (len > CDC_DATA_MPS)
        len = CDC_DATA_MPS;
    /* len == 0: a ZLP (end of a transfer that was a multiple of 64): nothing to copy. */
    const volatile uint32_t *src = (const volatile uint32_t *)(USBCTRL_DPRAM_BASE + CDC_OUT_BUF_OFFSET);
    uint32_t head = rx_head;
    uint32_t pos = head & (CDC_RX_RING_SIZE - 1u);
    if ((pos & 3u) == 0 && pos + len <= CDC_RX_RING_SIZE) {
        /* Full packets keep the head word aligned: word copy, no wrap. Copies up to 3 bytes past len,
         * which stay outside the published range. */
        uint32_t *dst = (uint32_t *)(void *)&rx_ring[pos];
        for (uint32_t i = 0; i < len; i += 4u)
            *dst++ = *src++;
    } else if (pos + len <= CDC_RX_RING_SIZE) {
        /* Unaligned head (after any short packet, i.e. after most requests), no wrap: one DPRAM word
         * load per 4 bytes, byte stores, no index masking. Up to 3 bytes past len land in free space
         * (OUT is armed only with >= 64 bytes free) or in the ring's padding. */
        uint8_t *dst = &rx_ring[pos];
        for (uint32_t i = 0; i < len; i += 4u, dst += 4) {
            uint32_t w = *src++;
            dst[0] = (uint8_t)w;
            dst[1] = (uint8_t)(w >> 8);
            dst[2] = (uint8_t)(w >> 16);
            dst[3] = (uint8_t)(w >> 24);
        }
    } else {
        const volatile uint8_t *src8 = (const volatile uint8_t *)src;
        for (uint32_t i = 0; i < len; i++)
            rx_ring[(pos + i) & (CDC_RX_RING_SIZE - 1u)] = src8[i];
    }
    COMPILER_BARRIER();
    rx_head = head + len;
    cdc_out_arm();
}

/* nwords DPRAM words from a byte stream that starts sh bits (8, 16 or 24) into src[0] (little endian).
 * A function of its own so the loop gets all low registers (inlined, GCC spills sh to the stack). */
static __attribute__((noinline)) void copy_shifted(volatile uint32_t *dst, const uint32_t *src, uint32_t nwords,
                                                   uint32_t sh)
{
    uint32_t rsh = 32u - sh;
    uint32_t lo = *src++;
    volatile uint32_t *end = dst + nwords;
    while (dst != end) {
        uint32_t hi = *src++;
        *dst++ = (lo >> sh) | (hi << rsh);
        lo = hi;
    }
}

static void cdc_in_kick(void)
{
    if (!configured || in_busy || (halted & HALT_IN))
        return;
    uint32_t tail = tx_tail;
    uint32_t avail = tx_head - tail;
    if (avail == 0 && !in_zlp_due)
        return;
    uint32_t n = avail > CDC_DATA_MPS ? CDC_DATA_MPS : avail;
    volatile uint32_t *dst = (volatile uint32_t *)(USBCTRL_DPRAM_BASE + CDC_IN_BUF_OFFSET);
    uint32_t pos = tail & (CDC_TX_RING_SIZE - 1u);
    if ((pos & 3u) == 0 && pos + n <= CDC_TX_RING_SIZE) {
        /* Word copy; up to 3 bytes past n are don't-care, LEN bounds the packet. */
        const uint32_t *src = (const uint32_t *)(const void *)&tx_ring[pos];
        for (uint32_t i = 0; i < n; i += 4u)
            *dst++ = *src++;
    } else if (pos + n <= CDC_TX_RING_SIZE) {
        /* Unaligned tail (replies have any length), no wrap: aligned word loads funnel-shifted into
         * aligned DPRAM word stores (little endian), ~3 cycles per byte instead of ~13 for masked
         * byte copies. Reads up to 7 bytes past n, inside the ring's reserve area. */
        copy_shifted(dst, (const uint32_t *)(const void *)&tx_ring[pos & ~3u], (n + 3u) / 4u, (pos & 3u) * 8u);
    } else {
        volatile uint8_t *dst8 = (volatile uint8_t *)dst;
        for (uint32_t i = 0; i < n; i++)
            dst8[i] = tx_ring[(pos + i) & (CDC_TX_RING_SIZE - 1u)];
    }
    tx_tail = tail + n;
    /* A transfer ends with a short packet; if this one is full and nothing follows, the next kick
     * sends a ZLP so the host's read completes now instead of waiting for more data. */
    in_zlp_due = n == CDC_DATA_MPS;
    in_busy = true;   /* before arming: rp2040js reports IN completion inside the arming store */
    uint32_t pid = in_pid;
    in_pid ^= USB_BUF_CTRL_DATA1_PID;
    usb_buf_ctrl_arm(USB_DPRAM_EP_IN_BUF_CTRL(CDC_EP_DATA_NUM), USB_BUF_CTRL_FULL | pid | n);
}

void usb_cdc_buff_status(uint32_t bits)
{
    if (bits & BS_DATA_OUT)
        cdc_out_done();
    if (bits & BS_DATA_IN) {
        in_busy = false;
        cdc_in_kick();
    }
}

/* ---- chapter 9 hooks (USB IRQ) ------------------------------------------------------------------ */

void usb_cdc_bus_reset(void)
{
    configured = false;
    out_armed = false;
    in_busy = false;
    in_zlp_due = false;
    halted = 0;
    line_state = 0;
    /* Replies queued for the previous host session are meaningless to the next one. RX is left for the
     * main loop (it owns rx_tail); the protocol resynchronises on its framing. */
    tx_tail = tx_head;
}

void usb_cdc_set_configuration(uint8_t config)
{
    if (config == 0) {
        configured = false;
        MMIO32(USB_DPRAM_EP_IN_CTRL(CDC_EP_NOTIF_NUM)) = 0;
        MMIO32(USB_DPRAM_EP_IN_CTRL(CDC_EP_DATA_NUM)) = 0;
        MMIO32(USB_DPRAM_EP_OUT_CTRL(CDC_EP_DATA_NUM)) = 0;
        out_armed = false;
        in_busy = false;
        return;
    }
    /* Control words first: the controller (and rp2040js) reads the buffer address from them when a
     * buffer is armed. SET_CONFIGURATION resets the data toggles to DATA0 (USB 2.0 §9.1.1.5). */
    MMIO32(USB_DPRAM_EP_IN_CTRL(CDC_EP_NOTIF_NUM)) = EP_CTRL(USB_EP_CTRL_TYPE_INTERRUPT, CDC_NOTIF_BUF_OFFSET);
    MMIO32(USB_DPRAM_EP_IN_CTRL(CDC_EP_DATA_NUM)) = EP_CTRL(USB_EP_CTRL_TYPE_BULK, CDC_IN_BUF_OFFSET);
    MMIO32(USB_DPRAM_EP_OUT_CTRL(CDC_EP_DATA_NUM)) = EP_CTRL(USB_EP_CTRL_TYPE_BULK, CDC_OUT_BUF_OFFSET);
    out_pid = 0;
    in_pid = 0;
    halted = 0;
    in_zlp_due = false;
    /* A repeated SET_CONFIGURATION re-arms over a pending OUT buffer with the new toggle. */
    out_armed = false;
    in_busy = false;
    configured = true;
    cdc_out_arm();
    cdc_in_kick();
}

void usb_cdc_set_interface(uint8_t interface)
{
    /* Re-selecting alternate setting 0 resets the interface's data toggles (USB 2.0 §9.4.10). */
    if (interface == CDC_IF_DATA) {
        (void)usb_cdc_ep_set_halt(CDC_EP_DATA_OUT, false);
        (void)usb_cdc_ep_set_halt(CDC_EP_DATA_IN, false);
    }
}

static uint8_t halt_bit(uint8_t ep_addr)
{
    switch (ep_addr) {
    case CDC_EP_NOTIF: return HALT_NOTIF;
    case CDC_EP_DATA_OUT: return HALT_OUT;
    case CDC_EP_DATA_IN: return HALT_IN;
    default: return 0;
    }
}

bool usb_cdc_ep_get_halt(uint8_t ep_addr, bool *is_halted)
{
    uint8_t bit = halt_bit(ep_addr);
    if (!bit)
        return false;
    *is_halted = (halted & bit) != 0;
    return true;
}

bool usb_cdc_ep_set_halt(uint8_t ep_addr, bool halt)
{
    uint8_t bit = halt_bit(ep_addr);
    if (!bit)
        return false;
    uint32_t bc = (ep_addr & 0x80u) ? USB_DPRAM_EP_IN_BUF_CTRL(ep_addr & 0x0fu)
                                     : USB_DPRAM_EP_OUT_BUF_CTRL(ep_addr & 0x0fu);
    if (halt) {
        halted |= bit;
        MMIO32(bc) = USB_BUF_CTRL_STALL;   /* replaces a pending arm; its packet is dropped */
        if (bit == HALT_OUT)
            out_armed = false;
        if (bit == HALT_IN)
            in_busy = false;
        return true;
    }
    /* CLEAR_FEATURE(ENDPOINT_HALT): next packet is DATA0 even if the endpoint was not halted
     * (USB 2.0 §9.4.5). A pending arm carries the old PID, so it is re-armed. */
    halted &= (uint8_t)~bit;
    MMIO32(bc) = 0;
    if (bit == HALT_OUT) {
        out_pid = 0;
        out_armed = false;
        cdc_out_arm();
    } else if (bit == HALT_IN) {
        in_pid = 0;
        in_busy = false;
        cdc_in_kick();
    }
    return true;
}

static void line_coding_received(void)
{
    for (unsigned i = 0; i < CDC_LINE_CODING_LEN; i++)
        line_coding[i] = line_coding_rx[i];
}

bool usb_cdc_class_request(const usb_setup_t *s, usb_ctrl_t *x)
{
    uint8_t recip = s->bmRequestType & USB_REQ_RECIP_MASK;
    bool in = (s->bmRequestType & USB_REQ_DIR_IN) != 0;
    /* Real hosts address the communication interface (0x21/0xA1); rp2040js' stock host sends 0x20
     * (recipient device). Accept both. */
    if (recip == USB_REQ_RECIP_INTERFACE) {
        if (s->wIndex != CDC_IF_COMM)
            return false;
    } else if (recip != USB_REQ_RECIP_DEVICE) {
        return false;
    }
    switch (s->bRequest) {
    case CDC_SET_LINE_CODING:
        if (in || s->wLength != CDC_LINE_CODING_LEN)
            return false;
        x->out = line_coding_rx;
        x->len = CDC_LINE_CODING_LEN;
        x->out_done = line_coding_received;
        return true;
    case CDC_GET_LINE_CODING:
        if (!in)
            return false;
        x->in = line_coding;
        x->len = CDC_LINE_CODING_LEN;
        return true;
    case CDC_SET_CONTROL_LINE_STATE:
        if (in || s->wLength != 0)
            return false;
        line_state = (uint8_t)(s->wValue & CDC_LINE_STATE_MASK);
        return true;
    case CDC_SEND_BREAK:
        return !in && s->wLength == 0;   /* no UART: nothing to break */
    default:
        return false;
    }
}

/* ---- public byte pipe (thread context) ----------------------------------------------------------- */

void usb_cdc_init(void)
{
    rx_head = rx_tail = 0;
    tx_head = tx_tail = 0;
    usb_dev_init();
}

bool usb_cdc_configured(void)
{
    return configured;
}

uint8_t usb_cdc_line_state(void)
{
    return line_state;
}

size_t usb_cdc_rx_available(void)
{
    return rx_head - rx_tail;
}

size_t usb_cdc_read(uint8_t *dst, size_t max)
{
    uint32_t tail = rx_tail;
    uint32_t n = rx_head - tail;
    if (n > max)
        n = (uint32_t)max;
    uint32_t pos = tail & (CDC_RX_RING_SIZE - 1u);
    uint32_t first = CDC_RX_RING_SIZE - pos;
    if (first > n)
        first = n;
    for (uint32_t i = 0; i < first; i++)
        dst[i] = rx_ring[pos + i];
    for (uint32_t i = first; i < n; i++)
        dst[i] = rx_ring[i - first];
    COMPILER_BARRIER();
    rx_tail = tail + n;
    if (n != 0 && !out_armed) {
        uint32_t saved = platform_irq_save();
        cdc_out_arm();
        platform_irq_restore(saved);
    }
    return n;
}

size_t usb_cdc_write_space(void)
{
    return CDC_TX_RING_SIZE - (tx_head - tx_tail);
}

size_t usb_cdc_write(const uint8_t *src, size_t len)
{
    uint32_t head = tx_head;
    uint32_t space = CDC_TX_RING_SIZE - (head - tx_tail);
    uint32_t n = len > space ? space : (uint32_t)len;
    uint32_t pos = head & (CDC_TX_RING_SIZE - 1u);
    uint32_t first = CDC_TX_RING_SIZE - pos;
    if (first > n)
        first = n;
    for (uint32_t i = 0; i < first; i++)
        tx_ring[pos + i] = src[i];
    for (uint32_t i = first; i < n; i++)
        tx_ring[i - first] = src[i];
    COMPILER_BARRIER();
    tx_head = head + n;
    if (n != 0 && !in_busy) {
        uint32_t saved = platform_irq_save();
        cdc_in_kick();
        platform_irq_restore(saved);
    }
    return n;
}

size_t usb_cdc_rx_peek(const uint8_t **p)
{
    uint32_t tail = rx_tail;
    uint32_t n = rx_head - tail;
    uint32_t pos = tail & (CDC_RX_RING_SIZE - 1u);
    if (n > CDC_RX_RING_SIZE - pos)
        n = CDC_RX_RING_SIZE - pos;                 /* up to the wrap; the next peek gets the rest */
    *p = &rx_ring[pos];
    return n;
}

void usb_cdc_rx_consume(size_t n)
{
    COMPILER_BARRIER();                             /* the caller's reads of the bytes come first */
    rx_tail += (uint32_t)n;
    if (n != 0 && !out_armed) {
        uint32_t saved = platform_irq_save();
        cdc_out_arm();
        platform_irq_restore(saved);
    }
}

uint8_t *usb_cdc_tx_reserve(void)
{
    uint32_t head = tx_head;
    if (head & 3u) {
        /* An empty ring (the usual case for a reply) restarts word aligned: head and tail move forward
         * together, which sends nothing, and the IN refill then takes its plain word copy instead of
         * the shifted one. Masked, because the USB IRQ reads both indices. */
        uint32_t saved = platform_irq_save();
        if (head == tx_tail) {
            head = (head + 3u) & ~3u;
            tx_tail = head;
            tx_head = head;
        }
        platform_irq_restore(saved);
    }
    return &tx_ring[head & (CDC_TX_RING_SIZE - 1u)];
}

void usb_cdc_tx_commit(size_t n)
{
    uint32_t head = tx_head;
    uint32_t pos = head & (CDC_TX_RING_SIZE - 1u);
    /* Written past the ring's end: move that part to the start (once per 2 KiB of traffic). */
    for (uint32_t i = CDC_TX_RING_SIZE; i < pos + n; i++)
        tx_ring[i - CDC_TX_RING_SIZE] = tx_ring[i];
    COMPILER_BARRIER();
    tx_head = head + (uint32_t)n;
    if (n != 0 && !in_busy) {
        uint32_t saved = platform_irq_save();
        cdc_in_kick();
        platform_irq_restore(saved);
    }
}

bool usb_cdc_tx_pending(void)
{
    return tx_head != tx_tail || in_busy;
}
