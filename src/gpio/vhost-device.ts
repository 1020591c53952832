/** The virtio-gpio device as vhost-user serves it: feature bits, config space, queues and reset. */
import type { VhostDevice } from '../vhost/backend.js';
import type { SplitQueue } from '../virtio/queue.js';
import { VirtioGpioDevice } from './device.js';
import { GpioVirtqueues } from './queues.js';
import { VIRTIO_GPIO_F_IRQ } from './spec.js';

export class GpioVhostDevice implements VhostDevice {
  readonly deviceFeatures = 1n << BigInt(VIRTIO_GPIO_F_IRQ);
  readonly queueCount = 2;
  readonly queues: GpioVirtqueues;
  /** Set by the server: signals the frontend's call fd for a queue. */
  notifier: (index: number) => void = () => {};

  constructor(readonly gpio: VirtioGpioDevice, log: (message: string) => void = () => {}) {
    this.queues = new GpioVirtqueues(gpio, (index) => this.notifier(index), log);
  }

  config(): Buffer {
    return this.gpio.config();
  }

  negotiate(features: bigint): void {
    this.gpio.irqEnabled = (features & this.deviceFeatures) !== 0n;
  }

  setQueue(index: number, queue: SplitQueue | undefined): void {
    this.queues.setQueue(index, queue);
  }

  kick(index: number): void {
    this.queues.kick(index);
  }

  async reset(): Promise<void> {
    this.queues.setQueue(0, undefined);
    this.queues.setQueue(1, undefined);
    await this.gpio.reset();
  }
}
