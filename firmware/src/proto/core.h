/*
 * The vgpio protocol core: request dispatcher (PROTOCOL.md §3), line state machine, pulses, failsafe,
 * level one-shots, debounce, events (§4) and statistics. Portable C11: all hardware access goes through
 * src/hal/hal.h, so the same code runs in the firmware and in the host tests against a fake HAL.
 *
 * Thread context (the main loop) calls vg_init, vg_rx, vg_poll, vg_next_event and friends. The HAL's
 * ISRs call vg_gpio_service and vg_alarm_service (declared in hal.h).
 */
#ifndef VGPIO_PROTO_CORE_H
#define VGPIO_PROTO_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/protocol.h"
#include "proto/vg_config.h"

/* GET_STATS counters (§3.3), in wire order. */
typedef struct {
    uint32_t rx_frames;
    uint32_t rx_crc_errors;
    uint32_t rx_framing_errors;
    uint32_t rx_bad_version;
    uint32_t rx_unknown_type;
    uint32_t tx_frames;
    uint32_t events_sent;
    uint32_t events_lost;
    uint32_t tx_stalls;
} vg_stats_t;

/* Boot: every usable line OFF with pull-down (the power-on state), no failsafe, nothing queued.
 * serial is the 8-byte unique id reported in HELLO. Call after hal_init(). */
void vg_init(const uint8_t serial[8]);

/* Feed received bytes. Consumes bytes up to and including the END of the first complete frame (or all
 * of them) and returns the SLIP-encoded reply to that frame in out (VG_MAX_ENCODED bytes), or 0 when
 * there is nothing to send (no frame ended, an empty/invalid frame, or a CRC error). *used is set to
 * the number of bytes consumed. The caller must be able to send the reply: call only when the USB
 * transmit buffer has VG_MAX_ENCODED bytes of room. */
size_t vg_rx(const uint8_t *src, size_t n, size_t *used, uint8_t *out);

/* Thread-context housekeeping that ISRs defer (the failsafe check). Cheap; call every loop pass. */
void vg_poll(void);

/* True when an event frame is waiting (vg_next_event would return non-zero). */
bool vg_events_pending(void);

/* Build the next event frame (PULSE_DONE, LEVEL, FAILSAFE_TRIPPED, then OVERFLOW/EDGES), SLIP-encoded,
 * into out (VG_MAX_ENCODED bytes). Returns its length, 0 if none. */
size_t vg_next_event(uint8_t *out);

/* True when thread-context work (vg_poll) is due. */
bool vg_work_pending(void);

/* The main loop had something to send and had to wait for USB transmit space (counted once per wait). */
void vg_note_tx_stall(void);

/* After a REBOOT_TO_BOOTLOADER reply: true once, with the request's arguments. */
bool vg_take_reboot(uint32_t *activity_led_mask, uint32_t *disable_interface_mask);

/* Read-only view for tests and diagnostics. */
const vg_stats_t *vg_stats(void);

#endif
