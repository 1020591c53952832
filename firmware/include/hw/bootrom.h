/* Bootrom header and function table lookup. RP2040 datasheet §2.8.3 (bootrom contents). */
#ifndef HW_BOOTROM_H
#define HW_BOOTROM_H
#include "hw/addressmap.h"

#define BOOTROM_MAGIC_OFFSET      0x10u   /* 'M', 'u', 0x01, version */
#define BOOTROM_MAGIC_VALUE       0x01754du            /* low three bytes, little-endian */
#define BOOTROM_MAGIC_MASK        0x00ffffffu
#define BOOTROM_FUNC_TABLE_OFFSET 0x14u   /* 16-bit pointer */
#define BOOTROM_LOOKUP_FN_OFFSET  0x18u   /* 16-bit pointer to rom_table_lookup */

#define BOOTROM_CODE(c1, c2)      ((uint32_t)(c1) | ((uint32_t)(c2) << 8))
#define BOOTROM_FUNC_RESET_USB_BOOT       BOOTROM_CODE('U', 'B')
#define BOOTROM_FUNC_CONNECT_INTERNAL_FLASH BOOTROM_CODE('I', 'F')
#define BOOTROM_FUNC_FLASH_EXIT_XIP       BOOTROM_CODE('E', 'X')
#define BOOTROM_FUNC_FLASH_FLUSH_CACHE    BOOTROM_CODE('F', 'C')

#endif
