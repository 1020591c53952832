/** A ScriptedPeer that answers HELLO like v1 firmware on a Pico and lets each test handle the rest. */
import { duplexPair, Link, type ReplyBodies } from '../../src/link/index.js';
import { LinkBoard } from '../../src/board/index.js';
import { ScriptedPeer, type ReceivedRequest } from './peer.js';

export const PICO_HELLO: ReplyBodies['HELLO'] = {
  protocolVersion: 1, fwMajor: 0, fwMinor: 1, fwPatch: 0, maxPayload: 256, window: 8, numLines: 30,
  capabilities: 0x0fff, reservedLines: (1 << 23) | (1 << 24) | (1 << 29), boardId: 2, eventCapacity: 256,
  serial: 'e66038b7136b4f2a', timeUs: 1000n,
};

/** Connects a LinkBoard to a scripted device; `handle` answers every request after HELLO. */
export async function connectScripted(handle: (peer: ScriptedPeer, request: ReceivedRequest) => void = () => {}, hello = PICO_HELLO) {
  const [host, device] = duplexPair();
  const peer = new ScriptedPeer(device);
  let seen = 0;
  const pump = async () => {
    for (;;) {
      const all = await peer.waitFor(seen + 1);
      const request = all[seen++]!;
      if (request.request.name === 'HELLO') peer.reply(request, 'HELLO', hello);
      else handle(peer, request);
    }
  };
  void pump();
  const board = await LinkBoard.connect(new Link(host));
  return { board, peer };
}
