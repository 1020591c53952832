export * from './types.js';
export { LinkBoard, BoardUsageError, boardInfoFromHello, BOARD_NAMES } from './link-board.js';
export { openBoard, openEmulatedBoard, emulatorOf, type OpenBoardOptions, type EmulatedBoard } from './open.js';
export * from './profile.js';
export * from './jig.js';
export { HW_DIR, HwFileError } from './hw-files.js';
export * from './discovery.js';
