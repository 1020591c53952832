/*
 * SLIP (RFC 1055) decoder and encoder for vgpio frames, PROTOCOL.md §1 and §1.3. Portable C11.
 *
 * The decoder is a byte-at-a-time state machine with a fixed 264-byte frame buffer. It also runs the
 * CRC-32C over every decoded byte, so at END the CRC check is one compare against the residue and a
 * request is ready for dispatch without a second pass over it. A frame that arrives whole in one call
 * and has no escapes is its own decoding: it is CRC'd where it is and not copied (frame points into the
 * caller's bytes); every other frame is decoded into buf.
 */
#ifndef VGPIO_PROTO_SLIP_H
#define VGPIO_PROTO_SLIP_H

#include <stddef.h>
#include <stdint.h>

#include "proto/protocol.h"

typedef struct {
    uint32_t crc;                   /* raw CRC-32C register over the bytes decoded so far */
    uint16_t len;                   /* decoded bytes in buf (while receiving) */
    uint16_t frame_len;             /* length of the completed frame (valid after SLIP_FRAME) */
    uint8_t esc;                    /* the previous byte was ESC */
    uint8_t bad;                    /* oversize or bad escape seen: discard at END */
    const uint8_t *frame;           /* the completed frame (after SLIP_FRAME, SLIP_CRC_ERROR): buf, or
                                       the bytes in the src of the call that returned it */
    uint8_t buf[VG_MAX_FRAME];
} slip_dec_t;

typedef enum {
    SLIP_NEED_MORE = 0,             /* all input consumed, no frame ended */
    SLIP_FRAME,                     /* frame[0 .. frame_len) is a frame of >= 8 bytes with a good CRC */
    SLIP_CRC_ERROR,                 /* >= 8 bytes, CRC mismatch (frame/frame_len hold it anyway) */
    SLIP_FRAMING_ERROR,             /* oversize, bad escape or shorter than 8 bytes */
} slip_result_t;

void slip_dec_init(slip_dec_t *d);

/* Decode from src[0..n) until a non-empty frame ends or the input runs out. *used is set to the
 * number of bytes consumed (the END that ended the frame included). Empty frames are skipped silently.
 * The frame at d->frame stays valid until the next call, and as long as src[0..n) does (it may point
 * into it). */
slip_result_t slip_dec_feed(slip_dec_t *d, const uint8_t *src, size_t n, size_t *used);

/* Escape src[0..n) into dst (no END bytes added); returns bytes written (at most 2n). */
size_t slip_escape(uint8_t *dst, const uint8_t *src, size_t n);

#endif
