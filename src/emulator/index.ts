export * from './loader.js';
export * from './runloop.js';
export * from './usb-host.js';
export * from './emulated-mcu.js';
export * from './pins.js';
export * from './board.js';
export type * from './worker-protocol.js';
