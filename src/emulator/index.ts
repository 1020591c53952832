export * from './loader.js';
export * from './runloop.js';
export * from './usb-host.js';
export * from './emulated-mcu.js';
