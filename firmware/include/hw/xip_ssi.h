/* XIP_SSI (Synopsys DW_apb_ssi) used for flash access. RP2040 datasheet §4.10 (registers §4.10.13).
 * Assembler-safe: included by boot2. */
#ifndef HW_XIP_SSI_H
#define HW_XIP_SSI_H
#include "hw/addressmap.h"

#define SSI_CTRLR0_OFFSET     0x00
#define SSI_CTRLR1_OFFSET     0x04
#define SSI_SSIENR_OFFSET     0x08
#define SSI_BAUDR_OFFSET      0x14
#define SSI_SR_OFFSET         0x28
#define SSI_DR0_OFFSET        0x60
#define SSI_SPI_CTRLR0_OFFSET 0xf4

/* CTRLR0 fields */
#define SSI_CTRLR0_DFS_32_LSB 16
#define SSI_CTRLR0_TMOD_LSB   8
#define SSI_CTRLR0_TMOD_EEPROM_READ 3
#define SSI_CTRLR0_SPI_FRF_LSB 21
#define SSI_CTRLR0_SPI_FRF_STD 0

/* SPI_CTRLR0 fields */
#define SSI_SPI_CTRLR0_XIP_CMD_LSB 24
#define SSI_SPI_CTRLR0_INST_L_LSB  8
#define SSI_SPI_CTRLR0_INST_L_8B   2
#define SSI_SPI_CTRLR0_ADDR_L_LSB  2
#define SSI_SPI_CTRLR0_TRANS_TYPE_1C1A 0

/* SR bits */
#define SSI_SR_BUSY           (1 << 0)
#define SSI_SR_TFNF           (1 << 1)
#define SSI_SR_TFE            (1 << 2)
#define SSI_SR_RFNE           (1 << 3)

#endif
