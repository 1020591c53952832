/*
 * Build configuration of the v1 firmware for the Raspberry Pi Pico (board_id 2). Portable: only
 * numbers, used by the protocol core and reported in HELLO (PROTOCOL.md §3.1).
 */
#ifndef VGPIO_PROTO_VG_CONFIG_H
#define VGPIO_PROTO_VG_CONFIG_H

#define VG_FW_MAJOR             0u
#define VG_FW_MINOR             1u
#define VG_FW_PATCH             0u

#define VG_BOARD_ID             2u            /* Raspberry Pi Pico */
#define VG_NUM_LINES            30u           /* GP0..GP29 */
#define VG_LINES_MASK           0x3fffffffu
/* Pico board policy: GP23 SMPS power-save, GP24 VBUS sense, GP29 VSYS/3 ADC input. GP25 (LED) is a
 * normal line. */
#define VG_RESERVED_MASK        ((1u << 23) | (1u << 24) | (1u << 29))
#define VG_USABLE_MASK          (VG_LINES_MASK & ~VG_RESERVED_MASK)

#define VG_WINDOW               8u
#define VG_EVENT_CAPACITY       256u          /* edge records in the ring; power of two */

#define VG_CAPABILITIES         0x0fffu       /* all twelve bits of §3.1 */

/* Hot code (edge ISR, ring push, alarm ISR) is marked VG_TIME_CRITICAL. By default it stays in flash:
 * in rp2040js XIP has no wait states, and on silicon the 16 KiB XIP cache keeps a hot ISR resident, so
 * there is no measured reason to move it. Build with -DVG_RAMFUNC to place it in the `.time_critical`
 * section, which the linker script must then put in SRAM (copied with .data, e.g.
 * `*(.time_critical*)` inside the .data output section). */
#if defined(__arm__) && defined(VG_RAMFUNC)
#define VG_TIME_CRITICAL        __attribute__((section(".time_critical"), noinline))
#else
#define VG_TIME_CRITICAL
#endif

/* Compiler barrier between the ring index and the records it publishes (one core: no DMB needed). */
#define VG_BARRIER()            __asm__ __volatile__("" ::: "memory")

#endif
