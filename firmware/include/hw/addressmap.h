/*
 * RP2040 address map and register access helpers.
 * RP2040 datasheet §2.2 (address map) and §2.1.2 (atomic register access).
 * Safe to include from assembler: constants only, no C types outside the accessor section.
 */
#ifndef HW_ADDRESSMAP_H
#define HW_ADDRESSMAP_H

#ifdef __ASSEMBLER__
#define HW_U(x) x
#else
#define HW_U(x) x##u
#endif

/* §2.2.1 - §2.2.4 */
#define ROM_BASE              HW_U(0x00000000)
#define XIP_BASE              HW_U(0x10000000)
#define XIP_SSI_BASE          HW_U(0x18000000)
#define SRAM_BASE             HW_U(0x20000000)
#define SRAM_END              HW_U(0x20042000)
#define SYSINFO_BASE          HW_U(0x40000000)
#define SYSCFG_BASE           HW_U(0x40004000)
#define CLOCKS_BASE           HW_U(0x40008000)
#define RESETS_BASE           HW_U(0x4000c000)
#define PSM_BASE              HW_U(0x40010000)
#define IO_BANK0_BASE         HW_U(0x40014000)
#define IO_QSPI_BASE          HW_U(0x40018000)
#define PADS_BANK0_BASE       HW_U(0x4001c000)
#define PADS_QSPI_BASE        HW_U(0x40020000)
#define XOSC_BASE             HW_U(0x40024000)
#define PLL_SYS_BASE          HW_U(0x40028000)
#define PLL_USB_BASE          HW_U(0x4002c000)
#define TIMER_BASE            HW_U(0x40054000)
#define WATCHDOG_BASE         HW_U(0x40058000)
#define USBCTRL_DPRAM_BASE    HW_U(0x50100000)
#define USBCTRL_REGS_BASE     HW_U(0x50110000)
#define SIO_BASE              HW_U(0xd0000000)
#define PPB_BASE              HW_U(0xe0000000)

/* §2.1.2: every APB/AHB-Lite peripheral register has XOR/SET/CLR aliases (not SIO, not PPB). The
 * SET/CLR aliases let us change single bits without a read-modify-write race against an ISR. */
#define REG_ALIAS_XOR_OFFSET  HW_U(0x1000)
#define REG_ALIAS_SET_OFFSET  HW_U(0x2000)
#define REG_ALIAS_CLR_OFFSET  HW_U(0x3000)

#ifndef __ASSEMBLER__
#include <stdint.h>

#define MMIO32(addr)          (*(volatile uint32_t *)(uintptr_t)(addr))
#define MMIO32_XOR(addr)      MMIO32((addr) + REG_ALIAS_XOR_OFFSET)
#define MMIO32_SET(addr)      MMIO32((addr) + REG_ALIAS_SET_OFFSET)
#define MMIO32_CLR(addr)      MMIO32((addr) + REG_ALIAS_CLR_OFFSET)
#endif

#endif
