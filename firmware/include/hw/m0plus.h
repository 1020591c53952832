/* Cortex-M0+ private peripherals (SysTick, NVIC, SCB). RP2040 datasheet §2.4.8 (M0PLUS registers). */
#ifndef HW_M0PLUS_H
#define HW_M0PLUS_H
#include "hw/addressmap.h"

#define M0PLUS_SYST_CSR       (PPB_BASE + HW_U(0xe010))
#define M0PLUS_SYST_RVR       (PPB_BASE + HW_U(0xe014))
#define M0PLUS_SYST_CVR       (PPB_BASE + HW_U(0xe018))
#define M0PLUS_NVIC_ISER      (PPB_BASE + HW_U(0xe100))
#define M0PLUS_NVIC_ICER      (PPB_BASE + HW_U(0xe180))
#define M0PLUS_NVIC_ISPR      (PPB_BASE + HW_U(0xe200))
#define M0PLUS_NVIC_ICPR      (PPB_BASE + HW_U(0xe280))
#define M0PLUS_NVIC_IPR0      (PPB_BASE + HW_U(0xe400))
#define M0PLUS_VTOR           (PPB_BASE + HW_U(0xed08))
#define M0PLUS_AIRCR          (PPB_BASE + HW_U(0xed0c))
#define M0PLUS_SCR            (PPB_BASE + HW_U(0xed10))

#define M0PLUS_SYST_CSR_ENABLE    (1u << 0)
#define M0PLUS_SYST_CSR_TICKINT   (1u << 1)
#define M0PLUS_SYST_CSR_CLKSOURCE (1u << 2)   /* 1 = processor clock */
#define M0PLUS_SYST_RVR_MAX       0x00ffffffu

/* Only the top two bits of each 8-bit priority field exist on the M0+. */
#define M0PLUS_PRIO_SHIFT     6u

#define M0PLUS_SCR_SEVONPEND  (1u << 4)

#endif
