/*
 * Vector table and reset handler. The table is placed by link.ld at 0x10000100, where boot2 points
 * VTOR (RP2040 datasheet §2.8.1.3). Cortex-M0+ exception model: ARMv6-M ARM §B1.5.
 */
#include <stdint.h>

#include "hw/m0plus.h"
#include "hw/watchdog.h"
#include "irq_handlers.h"

extern uint32_t __data_start[], __data_end[], __data_load[], __bss_start[], __bss_end[];
extern uint32_t __stack_top[];
int main(void);

#define WEAK_ALIAS __attribute__((weak, alias("default_handler")))

void nmi_handler(void) WEAK_ALIAS;
void hardfault_handler(void) WEAK_ALIAS;
void svcall_handler(void) WEAK_ALIAS;
void pendsv_handler(void) WEAK_ALIAS;
void systick_handler(void) WEAK_ALIAS;
void timer_irq_0_handler(void) WEAK_ALIAS;
void timer_irq_1_handler(void) WEAK_ALIAS;
void timer_irq_2_handler(void) WEAK_ALIAS;
void timer_irq_3_handler(void) WEAK_ALIAS;
void pwm_wrap_irq_handler(void) WEAK_ALIAS;
void usbctrl_irq_handler(void) WEAK_ALIAS;
void xip_irq_handler(void) WEAK_ALIAS;
void pio0_irq_0_handler(void) WEAK_ALIAS;
void pio0_irq_1_handler(void) WEAK_ALIAS;
void pio1_irq_0_handler(void) WEAK_ALIAS;
void pio1_irq_1_handler(void) WEAK_ALIAS;
void dma_irq_0_handler(void) WEAK_ALIAS;
void dma_irq_1_handler(void) WEAK_ALIAS;
void io_bank0_irq_handler(void) WEAK_ALIAS;
void io_qspi_irq_handler(void) WEAK_ALIAS;
void sio_proc0_irq_handler(void) WEAK_ALIAS;
void sio_proc1_irq_handler(void) WEAK_ALIAS;
void clocks_irq_handler(void) WEAK_ALIAS;
void spi0_irq_handler(void) WEAK_ALIAS;
void spi1_irq_handler(void) WEAK_ALIAS;
void uart0_irq_handler(void) WEAK_ALIAS;
void uart1_irq_handler(void) WEAK_ALIAS;
void adc_fifo_irq_handler(void) WEAK_ALIAS;
void i2c0_irq_handler(void) WEAK_ALIAS;
void i2c1_irq_handler(void) WEAK_ALIAS;
void rtc_irq_handler(void) WEAK_ALIAS;

typedef void (*vector_t)(void);

/* 16 system entries + 32 IRQ slots (the NVIC has 32 lines; RP2040 wires 0-25). */
__attribute__((section(".vectors"), used))
const vector_t vector_table[16 + 32] = {
    (vector_t)__stack_top,
    reset_handler,
    nmi_handler,
    hardfault_handler,
    0, 0, 0, 0, 0, 0, 0,          /* reserved on ARMv6-M */
    svcall_handler,
    0, 0,                         /* reserved */
    pendsv_handler,
    systick_handler,
    timer_irq_0_handler,
    timer_irq_1_handler,
    timer_irq_2_handler,
    timer_irq_3_handler,
    pwm_wrap_irq_handler,
    usbctrl_irq_handler,
    xip_irq_handler,
    pio0_irq_0_handler,
    pio0_irq_1_handler,
    pio1_irq_0_handler,
    pio1_irq_1_handler,
    dma_irq_0_handler,
    dma_irq_1_handler,
    io_bank0_irq_handler,
    io_qspi_irq_handler,
    sio_proc0_irq_handler,
    sio_proc1_irq_handler,
    clocks_irq_handler,
    spi0_irq_handler,
    spi1_irq_handler,
    uart0_irq_handler,
    uart1_irq_handler,
    adc_fifo_irq_handler,
    i2c0_irq_handler,
    i2c1_irq_handler,
    rtc_irq_handler,
    /* 26-31: not connected on RP2040; a forced pend still lands in default_handler. */
    default_handler, default_handler, default_handler, default_handler, default_handler, default_handler,
};

void default_handler(void)
{
#ifdef VGPIO_FAULT_BKPT
    /* Test/emulator build: rp2040js has no HardFault and reports bkpt through onBreak, so a stray IRQ or
     * fault ends the run visibly instead of looping silently. */
    __asm volatile("bkpt %0" ::"i"(VGPIO_BKPT_DEFAULT_HANDLER));
#else
    /* Production: without a debugger a bkpt escalates to lockup, which the watchdog would eventually
     * clear anyway. Resetting at once keeps the downtime to one USB re-enumeration, and SCRATCH0 (kept
     * across the watchdog reset) tells the next boot which exception it was. */
    uint32_t ipsr;
    __asm volatile("mrs %0, ipsr" : "=r"(ipsr));
    MMIO32(WATCHDOG_SCRATCH0) = VGPIO_FAULT_MAGIC | (ipsr & 0x3fu);
    MMIO32(WATCHDOG_CTRL) = WATCHDOG_CTRL_TRIGGER;
#endif
    for (;;) {
    }
}

void reset_handler(void)
{
    /* boot2 already set VTOR; a debugger "reset and run" from our ELF entry may not have. */
    MMIO32(M0PLUS_VTOR) = (uint32_t)(uintptr_t)vector_table;

    /* Word loops (the linker script keeps both sections 4-byte aligned). Built with
     * -fno-tree-loop-distribute-patterns so these do not turn into calls to memcpy/memset. */
    const uint32_t *src = __data_load;
    for (uint32_t *dst = __data_start; dst < __data_end;)
        *dst++ = *src++;
    for (uint32_t *dst = __bss_start; dst < __bss_end;)
        *dst++ = 0;

    (void)main();

#ifdef VGPIO_FAULT_BKPT
    __asm volatile("bkpt %0" ::"i"(VGPIO_BKPT_MAIN_RETURNED));
#endif
    for (;;) {
        __asm volatile("wfi");
    }
}
