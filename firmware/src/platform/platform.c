/*
 * Chip bring-up and small services: resets, clocks, watchdog, 1 us timebase, idle, unique id, reboot to
 * BOOTSEL. Register definitions in include/hw/, one header per datasheet block.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "platform.h"
#include "platform_internal.h"
#include "irq_handlers.h"
#include "hw/addressmap.h"
#include "hw/bootrom.h"
#include "hw/clocks.h"
#include "hw/m0plus.h"
#include "hw/pll.h"
#include "hw/psm.h"
#include "hw/resets.h"
#include "hw/timer.h"
#include "hw/watchdog.h"
#include "hw/xosc.h"

#define MHZ 1000000u

/* PLL settings (datasheet §2.18.2: FOUTPOSTDIV = FREF / REFDIV * FBDIV / (POSTDIV1 * POSTDIV2)). */
#define PLL_REFDIV            1u
#define PLL_SYS_FBDIV         125u   /* VCO 1500 MHz */
#define PLL_SYS_POSTDIV1      6u
#define PLL_SYS_POSTDIV2      2u     /* 125 MHz */
#define PLL_USB_FBDIV         100u   /* VCO 1200 MHz */
#define PLL_USB_POSTDIV1      5u
#define PLL_USB_POSTDIV2      5u     /* 48 MHz */
#define CLK_SYS_HZ            (XOSC_FREQ_HZ / PLL_REFDIV * PLL_SYS_FBDIV / (PLL_SYS_POSTDIV1 * PLL_SYS_POSTDIV2))
#define CLK_USB_HZ            (XOSC_FREQ_HZ / PLL_REFDIV * PLL_USB_FBDIV / (PLL_USB_POSTDIV1 * PLL_USB_POSTDIV2))

_Static_assert(CLK_SYS_HZ == 125u * MHZ, "clk_sys must be 125 MHz");
_Static_assert(CLK_USB_HZ == 48u * MHZ, "clk_usb must be exactly 48 MHz for full-speed USB");
_Static_assert(CLK_SYS_HZ == PLATFORM_CLK_SYS_HZ && CLK_USB_HZ == PLATFORM_CLK_USB_HZ,
               "platform_internal.h's clock plan must match the PLL settings");
_Static_assert(XOSC_FREQ_HZ / PLL_REFDIV * PLL_SYS_FBDIV >= PLL_VCO_MIN_HZ &&
               XOSC_FREQ_HZ / PLL_REFDIV * PLL_SYS_FBDIV <= PLL_VCO_MAX_HZ, "PLL_SYS VCO out of range");
_Static_assert(XOSC_FREQ_HZ / PLL_REFDIV * PLL_USB_FBDIV >= PLL_VCO_MIN_HZ &&
               XOSC_FREQ_HZ / PLL_REFDIV * PLL_USB_FBDIV <= PLL_VCO_MAX_HZ, "PLL_USB VCO out of range");

/* The TIMER counts watchdog ticks; one tick per clk_ref (XOSC) microsecond makes it a 1 us counter. */
#define WATCHDOG_TICK_CYCLES  (XOSC_FREQ_HZ / MHZ)

/* 500 ms: far above the longest main-loop pass (USB work is in IRQs) yet short enough that a hung
 * firmware re-enumerates before a host-side request times out. */
#define WATCHDOG_TIMEOUT_US   500000u
#define WATCHDOG_LOAD_VALUE   (WATCHDOG_TIMEOUT_US * WATCHDOG_E1_TICKS_PER_US)
_Static_assert(WATCHDOG_LOAD_VALUE <= WATCHDOG_LOAD_MAX, "watchdog timeout too long");

/* The main loop sleeps in WFI while nothing happens; SysTick wakes it so it keeps feeding the
 * watchdog. 100 ms = 5 feeds per timeout; the 24-bit reload allows at most 134 ms at 125 MHz. */
#define IDLE_WAKE_US          100000u
#define SYSTICK_RELOAD        (CLK_SYS_HZ / MHZ * IDLE_WAKE_US - 1u)
_Static_assert(SYSTICK_RELOAD <= M0PLUS_SYST_RVR_MAX, "SysTick reload out of range");

/* Blocks that stay out of reset from the start: the QSPI pads/IO carry the XIP flash we execute from,
 * SYSCFG, SYSINFO, BUSCTRL and JTAG hold nothing we need from a reset (JTAG: keep the debugger
 * alive). Everything else is reset here and released on demand. */
#define RESETS_KEEP           (RESETS_IO_QSPI | RESETS_PADS_QSPI | RESETS_SYSCFG | RESETS_SYSINFO | \
                               RESETS_BUSCTRL | RESETS_JTAG)
/* Released by platform_init for the GPIO HAL and the timebase; USBCTRL is released by usb_cdc_init. */
#define RESETS_PLATFORM_USES  (RESETS_IO_BANK0 | RESETS_PADS_BANK0 | RESETS_TIMER)

uint8_t platform_uid[8];
static uint32_t last_fault;

/* Fallback id where the flash cannot be asked (no bootrom = rp2040js): ASCII "EMULATED". */
static const uint8_t fallback_uid[8] = {'E', 'M', 'U', 'L', 'A', 'T', 'E', 'D'};

void platform_resets_release(uint32_t mask)
{
    MMIO32_CLR(RESETS_RESET) = mask;
    /* A block is not usable until RESET_DONE says so (datasheet §2.14.2). */
    while ((MMIO32(RESETS_RESET_DONE) & mask) != mask) {
    }
}

static void clocks_park(void)
{
    /* After a debugger reset or a call from user code clk_sys may still run from a PLL we are about to
     * reset: move clk_sys and clk_ref to their glitchless always-available sources first (§2.15.3.2). */
    MMIO32(CLK_SYS_RESUS_CTRL) = 0;
    MMIO32_CLR(CLK_SYS_CTRL) = CLK_SYS_SRC_MASK;
    while (!(MMIO32(CLK_SYS_SELECTED) & (1u << CLK_SYS_SRC_REF))) {
    }
    MMIO32_CLR(CLK_REF_CTRL) = CLK_REF_SRC_MASK;
    while (!(MMIO32(CLK_REF_SELECTED) & (1u << CLK_REF_SRC_ROSC))) {
    }
}

static void xosc_start(void)
{
    MMIO32(XOSC_CTRL) = XOSC_CTRL_FREQ_RANGE_1_15MHZ;
    MMIO32(XOSC_STARTUP) = XOSC_STARTUP_DELAY;
    MMIO32_SET(XOSC_CTRL) = XOSC_CTRL_ENABLE_VALUE << XOSC_CTRL_ENABLE_LSB;
    while (!(MMIO32(XOSC_STATUS) & XOSC_STATUS_STABLE)) {
    }
}

static void pll_start(uint32_t base, uint32_t reset_bit, uint32_t fbdiv, uint32_t postdiv1, uint32_t postdiv2)
{
    /* Reset first so a PLL left running by a previous image is reprogrammed from a known state. */
    MMIO32_SET(RESETS_RESET) = reset_bit;
    platform_resets_release(reset_bit);

    MMIO32(PLL_CS(base)) = PLL_REFDIV << PLL_CS_REFDIV_LSB;
    MMIO32(PLL_FBDIV_INT(base)) = fbdiv;
    /* §2.18.2: power the core and VCO, wait for lock, then set and power the post dividers. */
    MMIO32_CLR(PLL_PWR(base)) = PLL_PWR_PD | PLL_PWR_VCOPD;
    while (!(MMIO32(PLL_CS(base)) & PLL_CS_LOCK)) {
    }
    MMIO32(PLL_PRIM(base)) = (postdiv1 << PLL_PRIM_POSTDIV1_LSB) | (postdiv2 << PLL_PRIM_POSTDIV2_LSB);
    MMIO32_CLR(PLL_PWR(base)) = PLL_PWR_POSTDIVPD;
}

static void clocks_init(void)
{
    clocks_park();
    xosc_start();

    pll_start(PLL_SYS_BASE, RESETS_PLL_SYS, PLL_SYS_FBDIV, PLL_SYS_POSTDIV1, PLL_SYS_POSTDIV2);
    pll_start(PLL_USB_BASE, RESETS_PLL_USB, PLL_USB_FBDIV, PLL_USB_POSTDIV1, PLL_USB_POSTDIV2);

    /* clk_ref = XOSC / 1 (glitchless mux). */
    MMIO32(CLK_REF_DIV) = CLK_DIV_ONE;
    MMIO32(CLK_REF_CTRL) = CLK_REF_SRC_XOSC;
    while (!(MMIO32(CLK_REF_SELECTED) & (1u << CLK_REF_SRC_XOSC))) {
    }

    /* clk_sys = PLL_SYS via the aux mux; the aux mux may only change while SRC points at clk_ref. */
    MMIO32(CLK_SYS_DIV) = CLK_DIV_ONE;
    MMIO32(CLK_SYS_CTRL) = (CLK_SYS_AUXSRC_PLL_SYS << CLK_SYS_AUXSRC_LSB) | CLK_SYS_SRC_REF;
    MMIO32(CLK_SYS_CTRL) = (CLK_SYS_AUXSRC_PLL_SYS << CLK_SYS_AUXSRC_LSB) | CLK_SYS_SRC_AUX;
    while (!(MMIO32(CLK_SYS_SELECTED) & (1u << CLK_SYS_SRC_AUX))) {
    }

    /* Aux-only generators: changing AUXSRC while enabled can glitch, and they were stopped by the
     * CLOCKS reset, so select first and then enable. */
    MMIO32(CLK_USB_CTRL) = CLK_USB_AUXSRC_PLL_USB << CLK_CTRL_AUXSRC_LSB;
    MMIO32(CLK_USB_DIV) = CLK_DIV_ONE;
    MMIO32_SET(CLK_USB_CTRL) = CLK_CTRL_ENABLE;
    MMIO32(CLK_PERI_CTRL) = CLK_PERI_AUXSRC_CLK_SYS << CLK_CTRL_AUXSRC_LSB;
    MMIO32_SET(CLK_PERI_CTRL) = CLK_CTRL_ENABLE;

    MMIO32(WATCHDOG_TICK) = WATCHDOG_TICK_CYCLES | WATCHDOG_TICK_ENABLE;
}

static void watchdog_start(void)
{
    /* Let a watchdog reset reset everything but the oscillators, so the next boot starts from the
     * same state as a cold boot (clocks, PLLs, USB, GPIO). */
    MMIO32(PSM_WDSEL) = PSM_ALL & ~(PSM_ROSC | PSM_XOSC);
    MMIO32(WATCHDOG_LOAD) = WATCHDOG_LOAD_VALUE;
    /* Pause while a debugger halts the core, or single-stepping would reset the chip. */
    MMIO32(WATCHDOG_CTRL) = WATCHDOG_CTRL_ENABLE | WATCHDOG_CTRL_PAUSE_DBG0 | WATCHDOG_CTRL_PAUSE_DBG1 |
                            WATCHDOG_CTRL_PAUSE_JTAG;
}

void systick_handler(void)
{
    /* Nothing to do: the exception itself ends the WFI in platform_idle(). */
}

void platform_init(void)
{
    uint32_t scratch = MMIO32(WATCHDOG_SCRATCH0);
    last_fault = (scratch & 0xffff0000u) == VGPIO_FAULT_MAGIC ? scratch : 0;
    MMIO32(WATCHDOG_SCRATCH0) = 0;

    /* Disable a watchdog left running by a previous image until we feed it ourselves. */
    MMIO32_CLR(WATCHDOG_CTRL) = WATCHDOG_CTRL_ENABLE;

    clocks_park();
    MMIO32_SET(RESETS_RESET) = RESETS_ALL & ~RESETS_KEEP;
    clocks_init();
    platform_resets_release(RESETS_PLATFORM_USES);

    if (!flash_read_unique_id(platform_uid)) {
        for (unsigned i = 0; i < sizeof platform_uid; i++)
            platform_uid[i] = fallback_uid[i];
    }

    MMIO32(M0PLUS_SYST_CVR) = 0;
    MMIO32(M0PLUS_SYST_RVR) = SYSTICK_RELOAD;
    MMIO32(M0PLUS_SYST_CSR) = M0PLUS_SYST_CSR_ENABLE | M0PLUS_SYST_CSR_TICKINT | M0PLUS_SYST_CSR_CLKSOURCE;

    watchdog_start();
}

uint64_t platform_time_us(void)
{
    return timer_read_us();
}

void platform_watchdog_feed(void)
{
    MMIO32(WATCHDOG_LOAD) = WATCHDOG_LOAD_VALUE;
}

void platform_idle(bool (*has_work)(void))
{
    /* With PRIMASK set an IRQ that arrives after the check still ends the WFI (ARMv6-M: WFI wakes on any
     * pending interrupt regardless of PRIMASK), and its handler runs right after cpsie. */
    __asm volatile("cpsid i" ::: "memory");
    if (has_work == NULL || !has_work())
        __asm volatile("wfi" ::: "memory");
    __asm volatile("cpsie i" ::: "memory");
}

void platform_unique_id(uint8_t out[8])
{
    for (unsigned i = 0; i < sizeof platform_uid; i++)
        out[i] = platform_uid[i];
}

uint32_t platform_last_fault(void)
{
    return last_fault;
}

void platform_irq_enable(unsigned irq, unsigned priority)
{
    uint32_t ipr = M0PLUS_NVIC_IPR0 + 4u * (irq / 4u);
    uint32_t shift = 8u * (irq % 4u) + M0PLUS_PRIO_SHIFT;
    uint32_t saved = platform_irq_save();
    MMIO32(ipr) = (MMIO32(ipr) & ~(3u << shift)) | ((priority & 3u) << shift);
    platform_irq_restore(saved);
    /* Drop a stale pending state from before the peripheral was configured. */
    MMIO32(M0PLUS_NVIC_ICPR) = 1u << irq;
    MMIO32(M0PLUS_NVIC_ISER) = 1u << irq;
}

void platform_irq_disable(unsigned irq)
{
    MMIO32(M0PLUS_NVIC_ICER) = 1u << irq;
}

void *platform_rom_func_lookup(uint32_t code)
{
    typedef void *(*rom_table_lookup_fn)(const uint16_t *table, uint32_t code);
    /* The ROM header sits in the first page, which GCC treats as "null pointer + offset" and warns
     * about; hiding the base from the optimiser keeps the accesses plain loads. */
    uintptr_t rom = ROM_BASE;
    __asm volatile("" : "+r"(rom));
    const volatile uint32_t *magic = (const volatile uint32_t *)(rom + BOOTROM_MAGIC_OFFSET);
    if ((*magic & BOOTROM_MAGIC_MASK) != BOOTROM_MAGIC_VALUE)
        return NULL;
    uint16_t lookup = *(const volatile uint16_t *)(rom + BOOTROM_LOOKUP_FN_OFFSET);
    uint16_t table = *(const volatile uint16_t *)(rom + BOOTROM_FUNC_TABLE_OFFSET);
    return ((rom_table_lookup_fn)(uintptr_t)lookup)((const uint16_t *)(uintptr_t)table, code);
}

void platform_reboot_to_bootloader(uint32_t activity_led_mask, uint32_t disable_interface_mask)
{
    typedef void (*reset_usb_boot_fn)(uint32_t, uint32_t);
    reset_usb_boot_fn reset_usb_boot = (reset_usb_boot_fn)platform_rom_func_lookup(BOOTROM_FUNC_RESET_USB_BOOT);
    __asm volatile("cpsid i" ::: "memory");
    if (reset_usb_boot != NULL)
        reset_usb_boot(activity_led_mask, disable_interface_mask);   /* reboots via the watchdog */
    /* No bootrom (emulator): a plain reboot is the closest we can get. */
    MMIO32(WATCHDOG_CTRL) = WATCHDOG_CTRL_TRIGGER;
    for (;;) {
    }
}
