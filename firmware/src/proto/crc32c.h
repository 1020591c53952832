/* CRC-32C (Castagnoli) as used by the vgpio wire protocol, PROTOCOL.md §1.2. Portable C11. */
#ifndef VGPIO_PROTO_CRC32C_H
#define VGPIO_PROTO_CRC32C_H

#include <stddef.h>
#include <stdint.h>

#define CRC32C_INIT     0xffffffffu
#define CRC32C_XOROUT   0xffffffffu
/* Register value (before the final XOR) after running a frame followed by its own CRC, little-endian,
 * through crc32c_step: lets a receiver check the CRC on the fly without knowing where the payload ends. */
#define CRC32C_RESIDUE  0xb798b438u

extern const uint32_t crc32c_table[256];

/* t[x & 0xff] (t = crc32c_table): the lookup of one table step. The byte offset is computed as
 * (x << 24) >> 22, which GCC's Thumb-1 code keeps as two shifts; for t[x & 0xff] or t[(uint8_t)x] it
 * emits a constant 0xff in a register, a move, an AND and a shift (one cycle more per step on the
 * M0+). */
static inline uint32_t crc32c_lookup(const uint32_t *t, uint32_t x)
{
    return *(const uint32_t *)(const void *)((const uint8_t *)t + ((x << 24) >> 22));
}

/* One byte into the raw register (no final XOR). */
static inline uint32_t crc32c_step(uint32_t reg, uint8_t byte)
{
    return crc32c_lookup(crc32c_table, reg ^ byte) ^ (reg >> 8);
}

/* len bytes into the raw register (no final XOR). */
uint32_t crc32c_update(uint32_t reg, const uint8_t *data, size_t len);

/* Complete CRC-32C of a buffer. */
uint32_t crc32c(const uint8_t *data, size_t len);

#endif
