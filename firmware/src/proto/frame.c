/* Frame encoder, see frame.h. */
#include "proto/frame.h"

#include "proto/crc32c.h"

static inline uint8_t *put_escaped(uint8_t *p, uint8_t b)
{
    if (b == SLIP_END) {
        *p++ = SLIP_ESC;
        *p++ = SLIP_ESC_END;
    } else if (b == SLIP_ESC) {
        *p++ = SLIP_ESC;
        *p++ = SLIP_ESC_ESC;
    } else {
        *p++ = b;
    }
    return p;
}

size_t frame_encode(uint8_t *dst, uint8_t type, uint16_t seq, const uint8_t *payload, size_t len)
{
    const uint32_t *t = crc32c_table;
    uint8_t hdr[VG_HDR_LEN] = { VG_PROTOCOL_VERSION, type, (uint8_t)seq, (uint8_t)(seq >> 8) };
    uint32_t crc = CRC32C_INIT;
    uint8_t *p = dst;
    *p++ = SLIP_END;
    for (unsigned i = 0; i < VG_HDR_LEN; i++) {
        uint8_t b = hdr[i];
        crc = t[(crc ^ b) & 0xffu] ^ (crc >> 8);
        p = put_escaped(p, b);
    }
    while (len--) {
        uint8_t b = *payload++;
        crc = t[(crc ^ b) & 0xffu] ^ (crc >> 8);
        p = put_escaped(p, b);
    }
    crc ^= CRC32C_XOROUT;
    for (unsigned i = 0; i < VG_CRC_LEN; i++, crc >>= 8)
        p = put_escaped(p, (uint8_t)crc);
    *p++ = SLIP_END;
    return (size_t)(p - dst);
}

size_t frame_build_raw(uint8_t *dst, uint8_t version, uint8_t type, uint16_t seq, const uint8_t *payload,
                       size_t len)
{
    dst[0] = version;
    dst[1] = type;
    wr16(dst + 2, seq);
    for (size_t i = 0; i < len; i++)
        dst[VG_HDR_LEN + i] = payload[i];
    wr32(dst + VG_HDR_LEN + len, crc32c(dst, VG_HDR_LEN + len));
    return VG_HDR_LEN + len + VG_CRC_LEN;
}
