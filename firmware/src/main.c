/*
 * vgpio firmware main loop.
 *
 * Init order: platform (clocks, resets, TIMER, watchdog), the GPIO HAL (pads, IO_BANK0, GPIO and alarm
 * IRQs), the protocol core (every line OFF with pull-down), then USB.
 *
 * Each pass: feed the watchdog, run deferred core work (failsafe check), then
 *   1. send one pending event frame (PULSE_DONE, LEVEL, FAILSAFE_TRIPPED, OVERFLOW, EDGES),
 *   2. decode received bytes up to one complete request and send its reply,
 * and only while the USB transmit ring has room for a worst-case encoded frame (530 bytes). When it has
 * not, no input is consumed, so the receive ring fills and bulk OUT NAKs: USB flow control holds the
 * host back and every request still gets exactly one reply. Requests and event frames alternate, so
 * neither can starve the other. With nothing to do the core sleeps in platform_idle().
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hal/hal.h"
#include "platform/platform.h"
#include "proto/core.h"

#define REBOOT_DRAIN_US 100000u                 /* PROTOCOL.md §3.10: at most 100 ms */

/* Zero copy both ways: requests are decoded straight out of the USB receive ring and frames are
 * encoded straight into the transmit ring (each byte is touched once on each side; the cycle budgets
 * in firmware/README.md). */
_Static_assert(USB_CDC_TX_RESERVE_MAX >= VG_MAX_ENCODED, "a whole encoded frame must fit the reserve");

static bool stalled;

static bool tx_room(void)
{
    return usb_cdc_write_space() >= VG_MAX_ENCODED;
}

static void send(size_t len)
{
    if (len)
        usb_cdc_tx_commit(len);
}

/* Something wants the transmit path: returns true if there is room; counts a stall once per wait. */
static bool want_tx(void)
{
    if (tx_room()) {
        stalled = false;
        return true;
    }
    if (!stalled) {
        stalled = true;
        vg_note_tx_stall();
    }
    return false;
}

static void reboot_to_bootloader(uint32_t led, uint32_t disable)
{
    uint64_t start = platform_time_us();
    while (usb_cdc_tx_pending() && platform_time_us() - start < REBOOT_DRAIN_US)
        platform_watchdog_feed();
    platform_reboot_to_bootloader(led, disable);
}

/* Called by platform_idle() with interrupts masked. */
static bool has_work(void)
{
    if (vg_work_pending())
        return true;
    bool input = usb_cdc_rx_available() != 0;
    if ((input || vg_events_pending()) && tx_room())
        return true;
    return false;
}

int main(void)
{
    uint8_t serial[8];

    platform_init();
    hal_init(VG_USABLE_MASK);
    platform_unique_id(serial);
    vg_init(serial);
    usb_cdc_init();

    for (;;) {
        bool busy = false;
        platform_watchdog_feed();
        vg_poll();

        if (vg_events_pending() && want_tx()) {
            send(vg_next_event(usb_cdc_tx_reserve()));
            busy = true;
        }

        const uint8_t *src;
        size_t avail = usb_cdc_rx_peek(&src);
        if (avail && want_tx()) {
            size_t used = 0;
            size_t len = vg_rx(src, avail, &used, usb_cdc_tx_reserve());
            send(len);                          /* reply first: it is what the host waits for */
            usb_cdc_rx_consume(used);
            busy = true;
            uint32_t led, disable;
            if (vg_take_reboot(&led, &disable))
                reboot_to_bootloader(led, disable);
        }

        if (!busy)
            platform_idle(has_work);
    }
}
