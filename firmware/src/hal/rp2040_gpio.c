/*
 * RP2040 implementation of hal.h: SIO for levels and output enables, PADS_BANK0 for pulls and input
 * buffers, IO_BANK0 for function select and proc0 GPIO interrupts, TIMER alarm 0 for deadlines.
 * RP2040 datasheet: §2.3.1 SIO, §2.19 GPIO (§2.19.3 interrupts, §2.19.4 pads), §4.6 TIMER.
 *
 * IRQs used: IO_IRQ_BANK0 (13) -> io_bank0_irq_handler, TIMER_IRQ_0 (0) -> timer_irq_0_handler, both at
 * NVIC priority HAL_IRQ_PRIORITY so they never preempt each other (the core relies on that); USB runs
 * below them (platform: priority 2).
 *
 * Emulator notes (shared/notes/rp2040js.md §7, §8): the pad reset value there is 0x36 (IE clear), so every
 * pad is written explicitly; a pad write latches a spurious edge, so INTR is cleared after pad setup
 * and before INTE is set (hal_line_irq with discard_edges); alarms may fire up to 1 us early, so the
 * alarm ISR waits out the last microseconds before calling the core.
 */
#include "hal/hal.h"

#include "hw/addressmap.h"
#include "hw/intctrl.h"
#include "hw/io_bank0.h"
#include "hw/pads_bank0.h"
#include "hw/sio.h"
#include "hw/timer.h"
#include "platform/irq_handlers.h"
#include "platform/platform.h"
#include "proto/vg_config.h"

#define HAL_IRQ_PRIORITY    0u
#define HAL_ALARM           0u                      /* TIMER alarm 0 -> TIMER_IRQ_0 */
#define HAL_ALARM_BIT       (1u << HAL_ALARM)
/* An alarm that fires this many microseconds early is waited out in the ISR instead of re-armed. */
#define HAL_ALARM_EARLY_US  2u
/* Alarms compare the low 32 bits only (§4.6.4): never arm further ahead than half the wrap. */
#define HAL_ALARM_MAX_AHEAD 0x7fffffffu

/* Shadow of PROC0_INTE0..3 (only this file writes them) and which of them are non-zero. */
static uint32_t inte[IO_BANK0_NUM_INT_REGS];
static uint32_t inte_regs;

static bool alarm_armed;
static uint64_t alarm_target;

/* The IO_BANK0 interrupt nibbles (§2.19.3: 4 bits per GPIO, 8 GPIOs per register) of the lines in
 * `lines` that fall into interrupt register r: each line bit becomes a 0xf nibble, 4 lines per lookup. */
static const uint16_t nibbles_of4[16] = {
    0x0000, 0x000f, 0x00f0, 0x00ff, 0x0f00, 0x0f0f, 0x0ff0, 0x0fff,
    0xf000, 0xf00f, 0xf0f0, 0xf0ff, 0xff00, 0xff0f, 0xfff0, 0xffff,
};
_Static_assert(IO_BANK0_GPIOS_PER_INT_REG == 8u && IO_BANK0_INT_BITS_PER_GPIO == 4u, "nibble layout");

static uint32_t int_nibbles(uint32_t lines, unsigned r)
{
    uint32_t x = lines >> (r * IO_BANK0_GPIOS_PER_INT_REG);
    return nibbles_of4[x & 0xfu] | (uint32_t)nibbles_of4[(x >> 4) & 0xfu] << 16;
}

void hal_lines_off(uint32_t lines)
{
    uint32_t nib[IO_BANK0_NUM_INT_REGS];
#pragma GCC unroll 4
    for (unsigned r = 0; r < IO_BANK0_NUM_INT_REGS; r++)
        nib[r] = int_nibbles(lines, r);
    uint32_t s = hal_irq_save();
    /* Detection off first, so nothing below is reported. */
#pragma GCC unroll 4
    for (unsigned r = 0; r < IO_BANK0_NUM_INT_REGS; r++) {
        uint32_t m = nib[r];
        if (!m)
            continue;
        inte[r] &= ~m;
        MMIO32(IO_BANK0_PROC0_INTE(r)) = inte[r];
        if (!inte[r])
            inte_regs &= ~(1u << r);
    }
    /* Release the drivers, then the level, so an output never glitches to a stale level. */
    MMIO32(SIO_GPIO_OE_CLR) = lines;
    MMIO32(SIO_GPIO_OUT_CLR) = lines;
    /* Pads in line order, unrolled: per line a shift that moves its bit into the sign flag, a branch and
     * the store at a constant offset from one base register (an APB store is 5 cycles in rp2040js,
     * the test 2-3); a whole group of 8 lines with none left is skipped at once. The empty asm keeps the
     * base and the value in registers, where GCC would otherwise load each pad's address and the
     * value from the literal pool. */
    volatile uint32_t *pad = &MMIO32(PADS_BANK0_GPIO(0));
    uint32_t v = PADS_BANK0_GPIO_RESET;
    __asm__("" : "+l"(pad), "+l"(v));
#pragma GCC unroll 30
    for (unsigned i = 0; i < IO_BANK0_NUM_GPIOS; i++) {
        if (i % 8u == 0 && !(lines >> i))
            break;
        if (lines & (1u << i))
            pad[i] = v;
    }
    /* W1C what the pad writes latched (rp2040js latches a spurious edge on each). */
#pragma GCC unroll 4
    for (unsigned r = 0; r < IO_BANK0_NUM_INT_REGS; r++) {
        uint32_t m = nib[r] & IO_BANK0_INT_ALL(IO_BANK0_INT_EDGES);
        if (m)
            MMIO32(IO_BANK0_INTR(r)) = m;
    }
    hal_irq_restore(s);
}

void hal_init(uint32_t lines)
{
    for (unsigned r = 0; r < IO_BANK0_NUM_INT_REGS; r++) {
        inte[r] = 0;
        MMIO32(IO_BANK0_PROC0_INTE(r)) = 0;
    }
    inte_regs = 0;
    hal_lines_off(lines);
    for (uint32_t m = lines, n = 0; m; m >>= 1, n++) {
        if (m & 1u)
            MMIO32(IO_BANK0_GPIO_CTRL(n)) = IO_BANK0_FUNCSEL_SIO << IO_BANK0_GPIO_CTRL_FUNCSEL_LSB;
    }
    for (unsigned r = 0; r < IO_BANK0_NUM_INT_REGS; r++)
        MMIO32(IO_BANK0_INTR(r)) = IO_BANK0_INT_ALL(IO_BANK0_INT_EDGES);

    alarm_armed = false;
    MMIO32(TIMER_ARMED) = HAL_ALARM_BIT;            /* write 1 to disarm */
    MMIO32_CLR(TIMER_INTF) = HAL_ALARM_BIT;
    MMIO32(TIMER_INTR) = HAL_ALARM_BIT;
    MMIO32_SET(TIMER_INTE) = HAL_ALARM_BIT;

    platform_irq_enable(IO_IRQ_BANK0, HAL_IRQ_PRIORITY);
    platform_irq_enable(TIMER_IRQ_0 + HAL_ALARM, HAL_IRQ_PRIORITY);
}

uint64_t hal_time_us(void)
{
    return timer_read_us();
}

void hal_line_irq(unsigned line, unsigned enables, bool discard_edges)
{
    unsigned r = IO_BANK0_INT_REG(line);
    unsigned sh = IO_BANK0_INT_SHIFT(line);
    /* INTR(r) and PROC0_INTE(r) through one pointer (they are 0x10 apart), and every operand computed
     * before the critical section: GCC then needs no high registers (no extra saves) and one literal. */
    volatile uint32_t *intr = &MMIO32(IO_BANK0_INTR(0)) + r;
    uint32_t keep = ~((uint32_t)(IO_BANK0_INT_LEVELS | IO_BANK0_INT_EDGES) << sh);
    uint32_t set = (uint32_t)enables << sh, reg_bit = 1u << r;
    uint32_t s = hal_irq_save();
    if (discard_edges)
        intr[0] = IO_BANK0_INT_EDGES << sh;                         /* W1C the latched edges */
    uint32_t v = (inte[r] & keep) | set;
    inte[r] = v;
    intr[(IO_BANK0_PROC0_INTE(0) - IO_BANK0_INTR(0)) / 4u] = v;
    if (v)
        inte_regs |= reg_bit;
    else
        inte_regs &= ~reg_bit;
    hal_irq_restore(s);
}

/* IO_IRQ_BANK0: one timestamp and one GPIO_IN read per service; the latched edge bits of every register
 * with enabled lines are read from INTS and cleared (W1C) right away, then handed to the core, which
 * turns them into records (both a rise and a fall latched in one service are both reported). */
VG_TIME_CRITICAL void io_bank0_irq_handler(void)
{
    uint64_t now = hal_time_us();
    uint32_t ints[IO_BANK0_NUM_INT_REGS];
    uint32_t regs = inte_regs;
    /* Only the registers with enabled lines (usually one): read INTS, W1C the edges at once. Unrolled:
     * four register tests are cheaper than a loop over them. */
#pragma GCC unroll 4
    for (unsigned r = 0; r < IO_BANK0_NUM_INT_REGS; r++) {
        ints[r] = 0;
        if (regs & (1u << r)) {
            uint32_t v = MMIO32(IO_BANK0_PROC0_INTS(r));
            uint32_t e = v & IO_BANK0_INT_ALL(IO_BANK0_INT_EDGES);
            if (e)
                MMIO32(IO_BANK0_INTR(r)) = e;
            ints[r] = v;
        }
    }
    uint32_t in = MMIO32(SIO_GPIO_IN);
#pragma GCC unroll 4
    for (unsigned r = 0; r < IO_BANK0_NUM_INT_REGS; r++) {
        if (ints[r])
            vg_gpio_service(ints[r], r, now, in);
    }
}

void hal_alarm_arm(uint64_t deadline_us)
{
    uint32_t s = hal_irq_save();
    uint64_t now = hal_time_us();
    alarm_target = deadline_us;
    alarm_armed = true;
    if (deadline_us <= now + 1u) {
        MMIO32_SET(TIMER_INTF) = HAL_ALARM_BIT;     /* already due: take the IRQ now */
    } else {
        uint64_t ahead = deadline_us - now;
        if (ahead > HAL_ALARM_MAX_AHEAD)
            ahead = HAL_ALARM_MAX_AHEAD;            /* the ISR re-arms for the rest */
        MMIO32(TIMER_ALARM(HAL_ALARM)) = (uint32_t)(now + ahead);
        /* Passed while we were writing it? Then the compare may have been missed. */
        if (deadline_us <= hal_time_us())
            MMIO32_SET(TIMER_INTF) = HAL_ALARM_BIT;
    }
    hal_irq_restore(s);
}

void hal_alarm_cancel(void)
{
    uint32_t s = hal_irq_save();
    alarm_armed = false;
    MMIO32(TIMER_ARMED) = HAL_ALARM_BIT;
    MMIO32_CLR(TIMER_INTF) = HAL_ALARM_BIT;
    MMIO32(TIMER_INTR) = HAL_ALARM_BIT;
    hal_irq_restore(s);
}

VG_TIME_CRITICAL void timer_irq_0_handler(void)
{
    MMIO32_CLR(TIMER_INTF) = HAL_ALARM_BIT;
    MMIO32(TIMER_INTR) = HAL_ALARM_BIT;
    MMIO32(TIMER_ARMED) = HAL_ALARM_BIT;            /* a forced IRQ leaves the compare armed */
    if (!alarm_armed)
        return;
    uint64_t now = hal_time_us();
    if (now < alarm_target) {
        if (alarm_target - now > HAL_ALARM_EARLY_US) {
            hal_alarm_arm(alarm_target);            /* far early (clamped arm): go again */
            return;
        }
        while (now < alarm_target)                  /* rp2040js fires up to 1 us early */
            now = hal_time_us();
    }
    alarm_armed = false;
    vg_alarm_service(now);
}
