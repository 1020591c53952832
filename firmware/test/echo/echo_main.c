/*
 * Emulator test image: USB CDC echo. Every received byte comes back unchanged, except 't' (0x74), which
 * is answered with the 8-byte little-endian platform_time_us() value (proves the TIMER and its 1 us
 * tick). Reads only what the transmit ring can take, so host -> device flow control propagates to
 * device -> host back-pressure (NAK) instead of losing bytes.
 */
#include "platform.h"

#define ECHO_TIME_REQUEST 't'
#define ECHO_TIME_REPLY_LEN 8u
#define ECHO_CHUNK 64u

static bool echo_has_work(void)
{
    return usb_cdc_rx_available() != 0 && usb_cdc_write_space() >= ECHO_TIME_REPLY_LEN;
}

int main(void)
{
    platform_init();
    usb_cdc_init();

    for (;;) {
        platform_watchdog_feed();

        /* Worst case every byte is 't' and expands to 8: size the read for that. */
        size_t room = usb_cdc_write_space() / ECHO_TIME_REPLY_LEN;
        if (room > ECHO_CHUNK)
            room = ECHO_CHUNK;
        uint8_t in[ECHO_CHUNK];
        size_t n = room ? usb_cdc_read(in, room) : 0;

        uint8_t out[ECHO_CHUNK * ECHO_TIME_REPLY_LEN];
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            if (in[i] == ECHO_TIME_REQUEST) {
                uint64_t t = platform_time_us();
                for (unsigned b = 0; b < ECHO_TIME_REPLY_LEN; b++)
                    out[m++] = (uint8_t)(t >> (8u * b));
            } else {
                out[m++] = in[i];
            }
        }
        if (m)
            (void)usb_cdc_write(out, m);

        platform_idle(echo_has_work);
    }
}
