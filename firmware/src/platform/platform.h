/*
 * The platform layer: everything chip- and USB-specific that the protocol core needs, and nothing else.
 * Owned by src/platform/ (bring-up, clocks, timer, watchdog, USB CDC-ACM). The protocol core (src/proto/)
 * and the GPIO HAL (src/hal/) call only what is declared here and in src/hal/hal.h.
 *
 * Threading model: one core, no RTOS. USB is serviced from its IRQ; GPIO edges and TIMER alarms from
 * theirs. The main loop polls these functions and sleeps with platform_idle() when there is no work.
 */
#ifndef VGPIO_PLATFORM_H
#define VGPIO_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Chip bring-up: resets, XOSC 12 MHz, PLL_SYS 125 MHz, PLL_USB 48 MHz, clk_usb, watchdog tick for a
 * 1 us TIMER, watchdog started. Call once, first thing in main(). */
void platform_init(void);

/* Microseconds since boot from the 64-bit TIMER (safe from thread and IRQ context). */
uint64_t platform_time_us(void);

/* Feed the watchdog; the main loop calls it every pass. */
void platform_watchdog_feed(void);

/* Sleep until the next interrupt unless has_work() says otherwise. The check and the sleep are done
 * with interrupts masked so an IRQ between them cannot be missed (cpsid; if (!work) wfi; cpsie). */
void platform_idle(bool (*has_work)(void));

/* 64-bit unique board id (flash unique id on silicon; a fixed value where it cannot be read). */
void platform_unique_id(uint8_t out[8]);

/* Reboot into the bootrom's USB boot mode (BOOTSEL): reset_usb_boot(activity_led_mask, disable_mask). */
void platform_reboot_to_bootloader(uint32_t activity_led_mask, uint32_t disable_interface_mask);

/* ---- USB CDC-ACM byte pipe ---------------------------------------------------------------------- */

/* Start the USB device controller; enumeration and the data pipe then run from the USB IRQ. */
void usb_cdc_init(void);

/* True once the host has set configuration 1 (the data endpoints are live). */
bool usb_cdc_configured(void);

/* Copy up to max received bytes out of the receive ring; returns how many. Freeing ring space re-arms
 * bulk OUT, so the host is NAKed (never overrun) while the ring is full. */
size_t usb_cdc_read(uint8_t *dst, size_t max);

/* Bytes the transmit ring can accept now. */
size_t usb_cdc_write_space(void);

/* Queue bytes for bulk IN; returns how many were accepted (all of them when len <= write_space).
 * Transmission starts at once if the IN endpoint is idle; packets are up to 64 bytes, with a ZLP
 * after a full final packet. */
size_t usb_cdc_write(const uint8_t *src, size_t len);

/* True while queued bytes are still waiting to go out. */
bool usb_cdc_tx_pending(void);

/* ---- Additions by the platform owner (new functions only; nothing above changed) -------------- */

/* Bytes waiting in the receive ring; cheap enough for a has_work() callback. */
size_t usb_cdc_rx_available(void);

/* Zero-copy receive: *p = the oldest unread bytes in the receive ring; returns how many lie there
 * contiguously (0 if none; at the ring's wrap the next call returns the rest). They stay valid until
 * usb_cdc_rx_consume(), which frees them (and re-arms bulk OUT, like usb_cdc_read). */
size_t usb_cdc_rx_peek(const uint8_t **p);
void usb_cdc_rx_consume(size_t n);

/* Zero-copy transmit: usb_cdc_tx_reserve() returns where the next queued byte goes; up to
 * USB_CDC_TX_RESERVE_MAX bytes may be written there contiguously (the ring has that much slack past its
 * end), but only as many as usb_cdc_write_space() allows. usb_cdc_tx_commit(n) then queues the first n
 * of them, like usb_cdc_write() without the copy. No usb_cdc_write() in between. */
#define USB_CDC_TX_RESERVE_MAX 544u
uint8_t *usb_cdc_tx_reserve(void);
void usb_cdc_tx_commit(size_t n);

/* Last SET_CONTROL_LINE_STATE value from the host: bit 0 DTR, bit 1 RTS (0 after a bus reset). */
uint8_t usb_cdc_line_state(void);

/* NVIC: enable/disable an IRQ (numbers in hw/intctrl.h). priority 0 (highest) .. 3 (lowest). The USB
 * IRQ runs at priority 2, so GPIO and TIMER IRQs at 0 or 1 preempt it. */
void platform_irq_enable(unsigned irq, unsigned priority);
void platform_irq_disable(unsigned irq);

/* Nestable critical section: mask interrupts, return the previous PRIMASK for restore. */
static inline uint32_t platform_irq_save(void)
{
    uint32_t primask;
    __asm volatile("mrs %0, primask\n\tcpsid i" : "=r"(primask)::"memory");
    return primask;
}
static inline void platform_irq_restore(uint32_t primask)
{
    __asm volatile("msr primask, %0" ::"r"(primask) : "memory");
}

/* Why the previous run ended, from WATCHDOG.SCRATCH0 (captured by platform_init): 0 if it was not our
 * fault handler, else 0x76670000 | exception number (IPSR; 3 = HardFault, 16 + n = IRQ n). */
uint32_t platform_last_fault(void);

#endif
