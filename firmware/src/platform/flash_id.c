/*
 * Flash unique id (64 bits, command 0x4B "Read Unique ID": instruction, 4 dummy bytes, 8 id bytes).
 *
 * The flash cannot answer a raw command while it serves XIP reads, and nothing in flash is readable
 * while XIP is off. So: copy boot2 to RAM, then from a RAM-resident function with interrupts masked
 * let the bootrom leave XIP mode (connect_internal_flash, flash_exit_xip), clock the command through the
 * SSI with chip select forced low, release CS and flush the cache (flash_flush_cache), and run the boot2
 * copy to restore 03h XIP (called with LR != 0, it returns). Datasheet §2.8.3 (bootrom functions),
 * §4.10 (SSI), §2.8.1 (boot2).
 *
 * Silicon-only: rp2040js has no bootrom and ignores the SSI, so there platform_rom_func_lookup()
 * returns NULL and the caller falls back to a fixed id.
 */
#include <stdbool.h>
#include <stdint.h>

#include "platform.h"
#include "platform_internal.h"
#include "hw/addressmap.h"
#include "hw/bootrom.h"
#include "hw/io_qspi.h"
#include "hw/xip_ssi.h"

#define FLASH_CMD_READ_UNIQUE_ID 0x4bu
#define FLASH_UID_DUMMY_BYTES    4u
#define FLASH_UID_BYTES          8u
#define FLASH_UID_XFER_LEN       (1u + FLASH_UID_DUMMY_BYTES + FLASH_UID_BYTES)
#define SSI_FIFO_DEPTH           16u
#define BOOT2_COPY_WORDS         (256u / 4u)

typedef void (*rom_void_fn)(void);

/* Everything this function touches must be in RAM or ROM: no calls into flash (long_call keeps the
 * compiler from assuming a BL can reach), no .rodata constants (the literal pool travels with the
 * function in .ramfunc). */
__attribute__((section(".ramfunc.flash_uid"), noinline, long_call))
static void flash_uid_ram(uint8_t *out, rom_void_fn connect, rom_void_fn exit_xip, rom_void_fn flush,
                          const uint32_t *boot2_copy)
{
    connect();
    exit_xip();

    MMIO32(IO_QSPI_GPIO_QSPI_SS_CTRL) =
        (MMIO32(IO_QSPI_GPIO_QSPI_SS_CTRL) & ~IO_QSPI_CTRL_OUTOVER_MASK) | IO_QSPI_CTRL_OUTOVER_LOW;

    /* exit_xip leaves the SSI in 8-bit transmit-and-receive mode: every byte sent returns one byte. */
    uint32_t tx = 0, rx = 0;
    while (rx < FLASH_UID_XFER_LEN) {
        uint32_t sr = MMIO32(XIP_SSI_BASE + SSI_SR_OFFSET);
        if ((sr & SSI_SR_TFNF) && tx < FLASH_UID_XFER_LEN && tx - rx < SSI_FIFO_DEPTH - 2u) {
            MMIO32(XIP_SSI_BASE + SSI_DR0_OFFSET) = tx == 0 ? FLASH_CMD_READ_UNIQUE_ID : 0u;
            tx++;
        }
        if (sr & SSI_SR_RFNE) {
            uint8_t b = (uint8_t)MMIO32(XIP_SSI_BASE + SSI_DR0_OFFSET);
            if (rx >= 1u + FLASH_UID_DUMMY_BYTES)
                out[rx - (1u + FLASH_UID_DUMMY_BYTES)] = b;
            rx++;
        }
    }

    MMIO32(IO_QSPI_GPIO_QSPI_SS_CTRL) =
        (MMIO32(IO_QSPI_GPIO_QSPI_SS_CTRL) & ~IO_QSPI_CTRL_OUTOVER_MASK) | IO_QSPI_CTRL_OUTOVER_HIGH;
    flush();
    ((rom_void_fn)((uintptr_t)boot2_copy | 1u))();   /* Thumb bit */
}

bool flash_read_unique_id(uint8_t out[8])
{
    rom_void_fn connect = (rom_void_fn)platform_rom_func_lookup(BOOTROM_FUNC_CONNECT_INTERNAL_FLASH);
    rom_void_fn exit_xip = (rom_void_fn)platform_rom_func_lookup(BOOTROM_FUNC_FLASH_EXIT_XIP);
    rom_void_fn flush = (rom_void_fn)platform_rom_func_lookup(BOOTROM_FUNC_FLASH_FLUSH_CACHE);
    if (connect == NULL || exit_xip == NULL || flush == NULL)
        return false;

    /* Stack copies: word aligned (boot2's literal loads are PC-relative) and readable with XIP off. */
    uint32_t boot2_copy[BOOT2_COPY_WORDS];
    const volatile uint32_t *boot2_flash = (const volatile uint32_t *)(uintptr_t)XIP_BASE;
    for (unsigned i = 0; i < BOOT2_COPY_WORDS; i++)
        boot2_copy[i] = boot2_flash[i];
    uint8_t id[FLASH_UID_BYTES];

    uint32_t saved = platform_irq_save();
    flash_uid_ram(id, connect, exit_xip, flush, boot2_copy);
    platform_irq_restore(saved);

    for (unsigned i = 0; i < FLASH_UID_BYTES; i++)
        out[i] = id[i];
    return true;
}
