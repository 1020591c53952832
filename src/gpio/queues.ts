/**
 * Moves virtio-gpio messages between the split virtqueues and the device model: parses requests out of
 * descriptor chains, writes responses back with the exact lengths the Linux driver checks (2 bytes,
 * 1 + gpio_names_size for GET_LINE_NAMES, 1 on the eventq), and coalesces notifications. A chain the
 * device cannot use is still returned (length 0), so no driver request is left waiting.
 */
import { readChain, writeChain, QueueError, type DescriptorChain, type SplitQueue } from '../virtio/queue.js';
import type { VirtioGpioDevice } from './device.js';
import { EVENT_QUEUE, IRQ_REQUEST_SIZE, IRQ_RESPONSE_SIZE, IrqStatus, MsgStatus, REQUEST_QUEUE, REQUEST_SIZE, RESPONSE_SIZE } from './spec.js';

export interface GpioQueueCounters {
  requests: number;
  events: number;
  /** Chains returned with length 0 because they were malformed. */
  badChains: number;
  /** Times a queue stopped because its ring was corrupt. */
  brokenQueues: number;
  /** Notifications the frontend could not be sent (its call fd is dead: the VMM died; the disconnect follows). */
  failedNotifications: number;
}

export class GpioVirtqueues {
  readonly counters: GpioQueueCounters = { requests: 0, events: 0, badChains: 0, brokenQueues: 0, failedNotifications: 0 };
  private readonly queues: [SplitQueue | undefined, SplitQueue | undefined] = [undefined, undefined];
  private readonly notifyPending = [false, false];
  /** A kick ran out of budget and continues in a later turn of the event loop. */
  private readonly resumePending = [false, false];

  /**
   * @param notify signals the driver for queue `index` (writes the call fd)
   * @param log plain-words log for what the guest did wrong
   * @param ringError tells the frontend queue `index` stopped because its ring is corrupt (writes the
   *   vring error fd, vhost-user SET_VRING_ERR)
   */
  constructor(
    private readonly device: VirtioGpioDevice,
    private readonly notify: (index: number) => void,
    private readonly log: (message: string) => void = () => {},
    private readonly ringError: (index: number) => void = () => {},
  ) {}

  /** Installs (or with undefined, removes) a started ring; completions for a replaced ring are dropped. */
  setQueue(index: number, queue: SplitQueue | undefined): void {
    if (index !== REQUEST_QUEUE && index !== EVENT_QUEUE) throw new RangeError(`virtio-gpio has queues 0 and 1, not ${index}`);
    this.queues[index] = queue;
  }

  queue(index: number): SplitQueue | undefined {
    return this.queues[index];
  }

  /**
   * The driver kicked queue `index`: take everything it made available, at most one ring's worth per
   * call. The guest writes the avail ring while we read it, so a vCPU that keeps adding buffers could
   * otherwise hold the event loop (and every other guest request and board event) forever; the rest is
   * taken in a later turn of the event loop, with notifications still suppressed meanwhile.
   */
  kick(index: number): void {
    const queue = this.queues[index];
    if (!queue) return;
    try {
      let budget = queue.size;
      do {
        queue.disableNotifications();
        for (;;) {
          if (budget === 0) {
            this.resumeLater(index, queue);
            return;
          }
          const chain = queue.pop();
          if (chain === null) break;
          budget--;
          if ('reason' in chain) {
            this.counters.badChains++;
            this.log(`virtio-gpio: ${index === REQUEST_QUEUE ? 'requestq' : 'eventq'} chain ${chain.head} returned unused: ${chain.reason}`);
            this.complete(index, queue, chain.head, 0);
          } else if (index === REQUEST_QUEUE) this.request(queue, chain);
          else this.event(queue, chain);
        }
      } while (queue.enableNotifications());
    } catch (error) {
      if (!(error instanceof QueueError)) throw error;
      // The ring itself is corrupt: stop using it until the frontend sets it up again.
      this.counters.brokenQueues++;
      this.queues[index] = undefined;
      this.log(`virtio-gpio: queue ${index} stopped: ${error.message}`);
      try {
        this.ringError(index);
      } catch (signalError) {
        // As for notifications: a frontend that has gone cannot be told, and that must not stop the daemon.
        this.log(`virtio-gpio: telling the frontend that queue ${index} stopped failed (${(signalError as Error).message})`);
      }
    }
  }

  private resumeLater(index: number, queue: SplitQueue): void {
    if (this.resumePending[index]) return;
    this.resumePending[index] = true;
    setImmediate(() => {
      this.resumePending[index] = false;
      if (this.queues[index] === queue) this.kick(index);
    });
  }

  private request(queue: SplitQueue, chain: DescriptorChain): void {
    this.counters.requests++;
    if (chain.readableLength < REQUEST_SIZE || chain.writableLength < 1) {
      this.counters.badChains++;
      this.log(`virtio-gpio: request chain ${chain.head} has ${chain.readableLength} readable and ${chain.writableLength} writable bytes, needs ${REQUEST_SIZE} and ${RESPONSE_SIZE}`);
      const written = writeChain(chain.writable, Buffer.from([MsgStatus.ERR, 0]));
      this.complete(REQUEST_QUEUE, queue, chain.head, written);
      return;
    }
    const request = readChain(chain.readable, REQUEST_SIZE);
    const type = request.readUInt16LE(0);
    const gpio = request.readUInt16LE(2);
    const value = request.readUInt32LE(4);
    void this.device.request(type, gpio, value).then((response) => {
      if (this.queues[REQUEST_QUEUE] !== queue) return; // the ring was torn down meanwhile
      let reply = response;
      if (response.length > chain.writableLength) {
        this.log(`virtio-gpio: request chain ${chain.head} (type 0x${type.toString(16)}) has room for ${chain.writableLength} bytes, the response needs ${response.length}`);
        reply = Buffer.from([MsgStatus.ERR, 0]);
      }
      this.complete(REQUEST_QUEUE, queue, chain.head, writeChain(chain.writable, reply));
    });
  }

  private event(queue: SplitQueue, chain: DescriptorChain): void {
    this.counters.events++;
    if (chain.readableLength < IRQ_REQUEST_SIZE || chain.writableLength < IRQ_RESPONSE_SIZE) {
      this.counters.badChains++;
      this.log(`virtio-gpio: eventq chain ${chain.head} has ${chain.readableLength} readable and ${chain.writableLength} writable bytes, needs ${IRQ_REQUEST_SIZE} and ${IRQ_RESPONSE_SIZE}`);
      this.complete(EVENT_QUEUE, queue, chain.head, writeChain(chain.writable, Buffer.from([IrqStatus.INVALID])));
      return;
    }
    const gpio = readChain(chain.readable, IRQ_REQUEST_SIZE).readUInt16LE(0);
    this.device.postIrqBuffer(gpio, (status) => {
      if (this.queues[EVENT_QUEUE] !== queue) return;
      this.complete(EVENT_QUEUE, queue, chain.head, writeChain(chain.writable, Buffer.from([status])));
    });
  }

  private complete(index: number, queue: SplitQueue, head: number, written: number): void {
    queue.push(head, written);
    // One notification for everything completed in this turn of the event loop.
    if (this.notifyPending[index]) return;
    this.notifyPending[index] = true;
    queueMicrotask(() => {
      this.notifyPending[index] = false;
      if (this.queues[index] !== queue || !queue.needsNotification()) return;
      try {
        this.notify(index);
      } catch (error) {
        // A VMM killed mid-session closes its call fds before the daemon sees the socket close (a UML
        // socketpair then fails with EPIPE). Nothing is waiting for the notification any more; it must
        // not take the daemon down.
        if (this.counters.failedNotifications++ === 0 || this.counters.failedNotifications % 1000 === 0) {
          this.log(`virtio-gpio: notifying the frontend on queue ${index} failed (${(error as Error).message}); it has probably gone (${this.counters.failedNotifications} so far)`);
        }
      }
    });
  }
}
