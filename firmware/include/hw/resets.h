/* RESETS block: subsystem resets. RP2040 datasheet §2.14 (registers §2.14.3). */
#ifndef HW_RESETS_H
#define HW_RESETS_H
#include "hw/addressmap.h"

#define RESETS_RESET          (RESETS_BASE + 0x0u)
#define RESETS_WDSEL          (RESETS_BASE + 0x4u)
#define RESETS_RESET_DONE     (RESETS_BASE + 0x8u)

/* Bit positions are shared by RESET, WDSEL and RESET_DONE. */
#define RESETS_ADC            (1u << 0)
#define RESETS_BUSCTRL        (1u << 1)
#define RESETS_DMA            (1u << 2)
#define RESETS_I2C0           (1u << 3)
#define RESETS_I2C1           (1u << 4)
#define RESETS_IO_BANK0       (1u << 5)
#define RESETS_IO_QSPI        (1u << 6)
#define RESETS_JTAG           (1u << 7)
#define RESETS_PADS_BANK0     (1u << 8)
#define RESETS_PADS_QSPI      (1u << 9)
#define RESETS_PIO0           (1u << 10)
#define RESETS_PIO1           (1u << 11)
#define RESETS_PLL_SYS        (1u << 12)
#define RESETS_PLL_USB        (1u << 13)
#define RESETS_PWM            (1u << 14)
#define RESETS_RTC            (1u << 15)
#define RESETS_SPI0           (1u << 16)
#define RESETS_SPI1           (1u << 17)
#define RESETS_SYSCFG         (1u << 18)
#define RESETS_SYSINFO        (1u << 19)
#define RESETS_TBMAN          (1u << 20)
#define RESETS_TIMER          (1u << 21)
#define RESETS_UART0          (1u << 22)
#define RESETS_UART1          (1u << 23)
#define RESETS_USBCTRL        (1u << 24)
#define RESETS_ALL            0x01ffffffu

#endif
