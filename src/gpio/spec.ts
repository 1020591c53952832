/** Constants of the virtio GPIO device, virtio 1.2 §5.18 (include/uapi/linux/virtio_gpio.h). */

export const VIRTIO_ID_GPIO = 41;
/** Device feature bit 0: interrupts on lines; the eventq exists only when it is negotiated. */
export const VIRTIO_GPIO_F_IRQ = 0;

export const REQUEST_QUEUE = 0;
export const EVENT_QUEUE = 1;

export const Msg = {
  GET_LINE_NAMES: 0x0001,
  GET_DIRECTION: 0x0002,
  SET_DIRECTION: 0x0003,
  GET_VALUE: 0x0004,
  SET_VALUE: 0x0005,
  SET_IRQ_TYPE: 0x0006,
} as const;

export const MsgStatus = { OK: 0x00, ERR: 0x01 } as const;
export const VirtioDirection = { NONE: 0x00, OUT: 0x01, IN: 0x02 } as const;
export const IrqType = {
  NONE: 0x00,
  EDGE_RISING: 0x01,
  EDGE_FALLING: 0x02,
  EDGE_BOTH: 0x03,
  LEVEL_HIGH: 0x04,
  LEVEL_LOW: 0x08,
} as const;
export const IrqStatus = { INVALID: 0x00, VALID: 0x01 } as const;

/** struct virtio_gpio_request: le16 type, le16 gpio, le32 value. */
export const REQUEST_SIZE = 8;
/** struct virtio_gpio_response: u8 status, u8 value. */
export const RESPONSE_SIZE = 2;
/** struct virtio_gpio_irq_request: le16 gpio. */
export const IRQ_REQUEST_SIZE = 2;
/** struct virtio_gpio_irq_response: u8 status. */
export const IRQ_RESPONSE_SIZE = 1;
/** struct virtio_gpio_config: le16 ngpio, u8 padding[2], le32 gpio_names_size. */
export const CONFIG_SIZE = 8;

export const VALID_IRQ_TYPES: ReadonlySet<number> = new Set(Object.values(IrqType));
export const isEdgeType = (type: number): boolean => (type & IrqType.EDGE_BOTH) !== 0;
export const isLevelType = (type: number): boolean => type === IrqType.LEVEL_HIGH || type === IrqType.LEVEL_LOW;

/** Encodes a struct virtio_gpio_request (what the driver puts in the readable buffer). */
export function encodeGpioRequest(type: number, gpio: number, value = 0): Buffer {
  const request = Buffer.alloc(REQUEST_SIZE);
  request.writeUInt16LE(type, 0);
  request.writeUInt16LE(gpio, 2);
  request.writeUInt32LE(value, 4);
  return request;
}
