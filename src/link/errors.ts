/** Typed errors of the link. Messages name the request, its sequence number and what to do. */
import { NO_DETAIL, STATUS_NAMES, type RequestName } from './protocol.js';

export class LinkError extends Error {
  override name = 'LinkError';
}

export class RequestTimeoutError extends LinkError {
  override name = 'RequestTimeoutError';
  constructor(readonly request: RequestName, readonly seq: number, readonly timeoutMs: number) {
    super(`${request} request (seq ${seq}) got no reply within ${timeoutMs} ms: check that the board is connected and running vgpio firmware`);
  }
}

export class LinkClosedError extends LinkError {
  override name = 'LinkClosedError';
  constructor(readonly request: RequestName, readonly seq: number, reason: string) {
    super(`${request} request (seq ${seq}) failed: the link closed (${reason}) before the reply arrived`);
  }
}

const FIX: Record<string, string> = {
  BAD_REQUEST: 'a field is out of range for this request',
  BAD_LINE: 'use a line number below the board\'s line count',
  RESERVED_LINE: 'this line is reserved on the board; pick another line',
  UNSUPPORTED: 'the firmware does not support this; update it with `vgpio flash`',
  BUSY: 'a pulse is still running on the line; wait for it to finish',
  WRONG_DIRECTION: 'configure the line with the right direction first',
  BAD_VERSION: 'host and firmware protocol versions differ; run `vgpio flash`',
  INTERNAL: 'the firmware hit an internal error; please report it',
};

/** The device answered with a status other than OK. */
export class DeviceError extends LinkError {
  override name = 'DeviceError';
  readonly statusName: string;
  constructor(readonly request: RequestName, readonly seq: number, readonly status: number, readonly detail: number | undefined) {
    const statusName = STATUS_NAMES[status] ?? `status ${status}`;
    const line = detail !== undefined && detail !== NO_DETAIL && /LINE|DIRECTION|BUSY|BAD_REQUEST/.test(statusName) ? ` on line ${detail}` : '';
    super(`${request} request (seq ${seq}) refused by the device: ${statusName}${line}: ${FIX[statusName] ?? 'unknown status'}`);
    this.statusName = statusName;
  }
}

/** The peer speaks a protocol version we do not. */
export class VersionMismatchError extends LinkError {
  override name = 'VersionMismatchError';
  constructor(readonly peerMin: number, readonly peerMax: number, readonly ours: number) {
    super(
      `the board speaks protocol ${peerMin === peerMax ? `v${peerMin}` : `v${peerMin}..v${peerMax}`}, this vgpio speaks v${ours}: ` +
        (peerMin > ours ? 'upgrade vgpio' : 'run `vgpio flash` to install the firmware that ships with this vgpio'),
    );
  }
}
