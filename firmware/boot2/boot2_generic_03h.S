/*
 * Second-stage boot loader (boot2): the bootrom copies the first 256 bytes of flash to SRAM, checks the
 * CRC in bytes 252-255 and runs it (RP2040 datasheet §2.8.1). Our job: put the SSI into XIP mode with
 * the plain 03h serial READ command, which every SPI NOR flash understands, then enter the image.
 *
 * Trade-off: 03h at clk_sys/4 is ~3x slower than quad-I/O XIP, but it needs no flash-specific setup
 * (no QE bit, no continuous-read mode bits). Hot code (USB ISR, ring copies) should therefore not depend
 * on XIP speed; the XIP cache absorbs most of it.
 *
 * Constraints: position independent (the bootrom runs us from SRAM, user code may call us from a RAM
 * copy), at most 252 bytes. Register values: §4.10.13 (SSI registers).
 */
#include "hw/addressmap.h"
#include "hw/xip_ssi.h"
#include "hw/m0plus.h"

/* clk_sys / 4: 31.25 MHz at 125 MHz, within the 03h READ limit (typically 50 MHz) of common flashes. */
#define BOOT2_SSI_CLKDIV   4

/* 32-bit frames so one XIP access = one command + address + 4 data bytes; EEPROM-read mode = the SSI
 * sends instruction + address and then only receives. */
#define BOOT2_CTRLR0 ((31 << SSI_CTRLR0_DFS_32_LSB) | \
                      (SSI_CTRLR0_TMOD_EEPROM_READ << SSI_CTRLR0_TMOD_LSB) | \
                      (SSI_CTRLR0_SPI_FRF_STD << SSI_CTRLR0_SPI_FRF_LSB))

#define BOOT2_READ_CMD 0x03
#define BOOT2_ADDR_L   6   /* in units of 4 bits: 24-bit address */
#define BOOT2_SPI_CTRLR0 ((BOOT2_READ_CMD << SSI_SPI_CTRLR0_XIP_CMD_LSB) | \
                          (SSI_SPI_CTRLR0_INST_L_8B << SSI_SPI_CTRLR0_INST_L_LSB) | \
                          (BOOT2_ADDR_L << SSI_SPI_CTRLR0_ADDR_L_LSB) | \
                          (SSI_SPI_CTRLR0_TRANS_TYPE_1C1A))

#define IMAGE_VECTORS (XIP_BASE + 0x100)

    .syntax unified
    .cpu cortex-m0plus
    .thumb

    .section .boot2_code, "ax"
    .global boot2_entry
    .type boot2_entry, %function
    .thumb_func
boot2_entry:
    /* LR tells us who called: 0 from the bootrom (enter the image), a return address from user code
     * (e.g. re-enabling XIP after a raw flash command). */
    push {lr}

    ldr r3, =XIP_SSI_BASE
    movs r1, #0
    str r1, [r3, #SSI_SSIENR_OFFSET]      /* the SSI ignores configuration writes while enabled */

    movs r1, #BOOT2_SSI_CLKDIV
    str r1, [r3, #SSI_BAUDR_OFFSET]

    ldr r1, =BOOT2_CTRLR0
    str r1, [r3, #SSI_CTRLR0_OFFSET]

    ldr r1, =BOOT2_SPI_CTRLR0
    ldr r0, =(XIP_SSI_BASE + SSI_SPI_CTRLR0_OFFSET)   /* offset too large for a str immediate */
    str r1, [r0]

    movs r1, #0
    str r1, [r3, #SSI_CTRLR1_OFFSET]      /* NDF = 0: one data frame per XIP access */

    movs r1, #1
    str r1, [r3, #SSI_SSIENR_OFFSET]

    pop {r0}
    cmp r0, #0
    beq 1f
    bx r0

1:  /* Entered from the bootrom: point VTOR at our table, load MSP and jump to the reset handler. */
    ldr r0, =IMAGE_VECTORS
    ldr r1, =M0PLUS_VTOR
    str r0, [r1]
    ldmia r0!, {r1, r2}
    msr msp, r1
    bx r2

    .ltorg
