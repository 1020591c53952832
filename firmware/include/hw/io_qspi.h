/* IO_QSPI: only the chip-select override used to frame raw flash commands.
 * RP2040 datasheet §2.19.6.2 (IO_QSPI registers). */
#ifndef HW_IO_QSPI_H
#define HW_IO_QSPI_H
#include "hw/addressmap.h"

#define IO_QSPI_GPIO_QSPI_SS_CTRL (IO_QSPI_BASE + 0x0cu)
#define IO_QSPI_CTRL_OUTOVER_LSB  8u
#define IO_QSPI_CTRL_OUTOVER_MASK (0x3u << IO_QSPI_CTRL_OUTOVER_LSB)
#define IO_QSPI_CTRL_OUTOVER_LOW  (0x2u << IO_QSPI_CTRL_OUTOVER_LSB)
#define IO_QSPI_CTRL_OUTOVER_HIGH (0x3u << IO_QSPI_CTRL_OUTOVER_LSB)

#endif
