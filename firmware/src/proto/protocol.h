/*
 * Wire protocol v1 constants: hw/PROTOCOL.md is the contract, section numbers below refer to it.
 * Portable (no hardware), shared by the codec, the dispatcher and the host tests.
 */
#ifndef VGPIO_PROTO_PROTOCOL_H
#define VGPIO_PROTO_PROTOCOL_H

/* §1 framing */
#define SLIP_END                0xc0u
#define SLIP_ESC                0xdbu
#define SLIP_ESC_END            0xdcu
#define SLIP_ESC_ESC            0xddu

/* §1.1 frame layout */
#define VG_PROTOCOL_VERSION     1u
#define VG_HDR_LEN              4u            /* version, type, seq (le16) */
#define VG_CRC_LEN              4u
#define VG_MAX_PAYLOAD          256u
#define VG_MIN_FRAME            (VG_HDR_LEN + VG_CRC_LEN)                 /* 8 */
#define VG_MAX_FRAME            (VG_HDR_LEN + VG_MAX_PAYLOAD + VG_CRC_LEN) /* 264 */
#define VG_MAX_ENCODED          (2u + 2u * VG_MAX_FRAME)                   /* 530 */

/* §3 message types */
#define VG_T_HELLO              0x01u
#define VG_T_PING               0x02u
#define VG_T_GET_STATS          0x03u
#define VG_T_LINE_CONFIG        0x04u
#define VG_T_SET_VALUES         0x05u
#define VG_T_GET_VALUES         0x06u
#define VG_T_PULSE              0x07u
#define VG_T_FAILSAFE           0x08u
#define VG_T_HEARTBEAT          0x09u
#define VG_T_RESET              0x0au
#define VG_T_REBOOT_TO_BOOTLOADER 0x0bu
#define VG_T_GET_LINE_CONFIG    0x0cu
#define VG_T_LEVEL_REARM        0x0du
#define VG_T_REPLY_FLAG         0x80u
#define VG_T_FIRST_REQUEST      0x01u   /* request types are 0x01..0x3F (PROTOCOL.md §3) */
#define VG_T_LAST_REQUEST       0x3fu
#define VG_T_EDGES              0x40u
#define VG_T_OVERFLOW           0x41u
#define VG_T_LEVEL              0x42u
#define VG_T_PULSE_DONE         0x43u
#define VG_T_FAILSAFE_TRIPPED   0x44u
#define VG_T_VERSION_MISMATCH   0xffu

/* §2.1 status codes */
#define VG_OK                   0u
#define VG_BAD_REQUEST          1u
#define VG_BAD_LINE             2u
#define VG_RESERVED_LINE        3u
#define VG_UNSUPPORTED          4u
#define VG_BUSY                 5u
#define VG_WRONG_DIRECTION      6u
#define VG_BAD_VERSION          7u
#define VG_INTERNAL             8u
#define VG_DETAIL_NONE          0xffu

/* §3.1 capability bits */
#define VG_CAP_PULSE            (1u << 0)
#define VG_CAP_FAILSAFE         (1u << 1)
#define VG_CAP_DEBOUNCE         (1u << 2)
#define VG_CAP_OPEN_DRAIN       (1u << 3)
#define VG_CAP_OPEN_SOURCE      (1u << 4)
#define VG_CAP_PULL_UP          (1u << 5)
#define VG_CAP_PULL_DOWN        (1u << 6)
#define VG_CAP_BUS_KEEPER       (1u << 7)
#define VG_CAP_EDGE_EVENTS      (1u << 8)
#define VG_CAP_LEVEL_EVENTS     (1u << 9)
#define VG_CAP_BOOTLOADER       (1u << 10)
#define VG_CAP_STATS            (1u << 11)

/* §3.4 LINE_CONFIG field values */
#define VG_DIR_OFF              0u
#define VG_DIR_OUTPUT           1u
#define VG_DIR_INPUT            2u
#define VG_BIAS_NONE            0u
#define VG_BIAS_PULL_UP         1u
#define VG_BIAS_PULL_DOWN       2u
#define VG_BIAS_BUS_KEEPER      3u
#define VG_DRIVE_PUSH_PULL      0u
#define VG_DRIVE_OPEN_DRAIN     1u
#define VG_DRIVE_OPEN_SOURCE    2u
#define VG_EDGE_NONE            0u
#define VG_EDGE_RISING          1u
#define VG_EDGE_FALLING         2u
#define VG_EDGE_BOTH            3u
#define VG_LEVEL_NONE           0u
#define VG_LEVEL_HIGH           1u
#define VG_LEVEL_LOW            2u
#define VG_DEBOUNCE_MAX_US      1000000u

/* §3.7, §3.8 limits */
#define VG_PULSE_MAX_US         60000000u
#define VG_FAILSAFE_MIN_MS      10u
#define VG_FAILSAFE_MAX_MS      600000u
#define VG_PING_MAX             247u

/* §4.2 EDGES */
#define VG_KIND_RISING          1u
#define VG_KIND_FALLING         2u
#define VG_EDGES_MAX_RECORDS    31u
#define VG_EDGE_RECORD_LEN      8u

/* §4.5 PULSE_DONE outcomes */
#define VG_PULSE_COMPLETED      0u
#define VG_PULSE_CANCELLED_CONFIG 1u
#define VG_PULSE_CANCELLED_FAILSAFE 2u

/* Request payload lengths (§3, §5: exact). */
#define VG_LEN_HELLO            2u
#define VG_LEN_LINE_CONFIG      16u
#define VG_LEN_SET_VALUES       8u
#define VG_LEN_GET_VALUES       4u
#define VG_LEN_PULSE            8u
#define VG_LEN_FAILSAFE         16u
#define VG_LEN_REBOOT           8u
#define VG_LEN_GET_LINE_CONFIG  1u
#define VG_LEN_LEVEL_REARM      4u

#endif
