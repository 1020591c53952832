/*
 * Exception and IRQ handler names of the vector table (startup.c). Every handler is a weak alias of
 * default_handler: define a function with the same name anywhere to take over that vector.
 * IRQ numbers are in hw/intctrl.h, in the order of RP2040 datasheet §2.3.2.
 *
 * Owned by the platform: reset, usbctrl_irq_handler (USB, IRQ 5) and systick_handler (the idle wake-up
 * tick that keeps the watchdog fed while the main loop sleeps). Intended for the GPIO HAL / protocol:
 * io_bank0_irq_handler (IRQ 13) and timer_irq_0_handler .. timer_irq_3_handler (IRQ 0-3).
 */
#ifndef VGPIO_IRQ_HANDLERS_H
#define VGPIO_IRQ_HANDLERS_H

void reset_handler(void);
void default_handler(void);

void nmi_handler(void);
void hardfault_handler(void);
void svcall_handler(void);
void pendsv_handler(void);
void systick_handler(void);

void timer_irq_0_handler(void);   /*  0 TIMER_IRQ_0 */
void timer_irq_1_handler(void);   /*  1 TIMER_IRQ_1 */
void timer_irq_2_handler(void);   /*  2 TIMER_IRQ_2 */
void timer_irq_3_handler(void);   /*  3 TIMER_IRQ_3 */
void pwm_wrap_irq_handler(void);  /*  4 PWM_IRQ_WRAP */
void usbctrl_irq_handler(void);   /*  5 USBCTRL_IRQ */
void xip_irq_handler(void);       /*  6 XIP_IRQ */
void pio0_irq_0_handler(void);    /*  7 PIO0_IRQ_0 */
void pio0_irq_1_handler(void);    /*  8 PIO0_IRQ_1 */
void pio1_irq_0_handler(void);    /*  9 PIO1_IRQ_0 */
void pio1_irq_1_handler(void);    /* 10 PIO1_IRQ_1 */
void dma_irq_0_handler(void);     /* 11 DMA_IRQ_0 */
void dma_irq_1_handler(void);     /* 12 DMA_IRQ_1 */
void io_bank0_irq_handler(void);  /* 13 IO_IRQ_BANK0 */
void io_qspi_irq_handler(void);   /* 14 IO_IRQ_QSPI */
void sio_proc0_irq_handler(void); /* 15 SIO_IRQ_PROC0 */
void sio_proc1_irq_handler(void); /* 16 SIO_IRQ_PROC1 */
void clocks_irq_handler(void);    /* 17 CLOCKS_IRQ */
void spi0_irq_handler(void);      /* 18 SPI0_IRQ */
void spi1_irq_handler(void);      /* 19 SPI1_IRQ */
void uart0_irq_handler(void);     /* 20 UART0_IRQ */
void uart1_irq_handler(void);     /* 21 UART1_IRQ */
void adc_fifo_irq_handler(void);  /* 22 ADC_IRQ_FIFO */
void i2c0_irq_handler(void);      /* 23 I2C0_IRQ */
void i2c1_irq_handler(void);      /* 24 I2C1_IRQ */
void rtc_irq_handler(void);       /* 25 RTC_IRQ */

/* Break codes of the emulator/test build (VGPIO_FAULT_BKPT): the harness reports them by name. */
#define VGPIO_BKPT_DEFAULT_HANDLER 0xfa   /* stray IRQ or fault; IPSR tells which */
#define VGPIO_BKPT_MAIN_RETURNED   0xfb

/* Production build: default_handler records (VGPIO_FAULT_MAGIC | IPSR) in WATCHDOG.SCRATCH0, which
 * survives the watchdog reset it then triggers. */
#define VGPIO_FAULT_MAGIC 0x76670000u     /* "vg" */

#endif
