/** vgpio as a library: open a board (real or emulated) and drive its lines. */
export * from './board/index.js';
export * as link from './link/index.js';
export { Link, type LinkCounters, type LinkOptions } from './link/link.js';
export { DeviceError, LinkClosedError, RequestTimeoutError, VersionMismatchError, LinkError } from './link/errors.js';
export { startEmulator, Emulator, EmulatedPins, EmulatorFaultError, type EmulatorOptions, type EmulatorStatus, type PinChangeEvent } from './emulator/board.js';
