export * from './crc32c.js';
export * from './frame.js';
export * from './protocol.js';
export * from './slip.js';
export * from './errors.js';
export * from './link.js';
export * from './duplex-pair.js';
