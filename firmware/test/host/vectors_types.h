/* Types of the generated test/vectors/protocol.json tables (see gen_vectors.py). */
#ifndef VGPIO_TEST_VECTORS_TYPES_H
#define VGPIO_TEST_VECTORS_TYPES_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *name;
    const char *type_name;
    int type;
    int seq;
    const uint8_t *payload;
    size_t payload_len;
    const uint8_t *frame;
    size_t frame_len;
    const uint8_t *slip;
    size_t slip_len;
} vec_frame_t;

typedef struct {
    const char *name;
    const uint8_t *slip;
    size_t slip_len;
    const char *expect;     /* crc_error, framing_error, bad_version, unknown_type, crc_error_or_framing_error */
} vec_invalid_t;

typedef struct {
    const uint8_t *data;
    size_t len;
} vec_bytes_t;

typedef struct {
    const char *name;
    const uint8_t *bytes;
    size_t len;
    const vec_bytes_t *frames;
    size_t n_frames;
} vec_stream_t;

#endif
