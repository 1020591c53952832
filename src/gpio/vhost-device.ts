/** The virtio-gpio device as vhost-user serves it: feature bits, config space, queues and reset. */
import type { VhostDevice } from '../vhost/backend.js';
import type { SplitQueue } from '../virtio/queue.js';
import { VirtioGpioDevice } from './device.js';
import { GpioVirtqueues } from './queues.js';
import { VIRTIO_GPIO_F_IRQ } from './spec.js';
import { bit, VirtioFeature } from '../vhost/messages.js';

export class GpioVhostDevice implements VhostDevice {
  readonly deviceFeatures = bit(VIRTIO_GPIO_F_IRQ);
  readonly queueCount = 2;
  readonly queues: GpioVirtqueues;
  /** Set by the server: signals the frontend's call fd for a queue. */
  notifier: (index: number) => void = () => {};
  /** Set by the server: signals the frontend's vring error fd for a queue. */
  errorNotifier: (index: number) => void = () => {};

  constructor(readonly gpio: VirtioGpioDevice, private readonly log: (message: string) => void = () => {}) {
    this.queues = new GpioVirtqueues(gpio, (index) => this.notifier(index), log, (index) => this.errorNotifier(index));
  }

  config(): Buffer {
    return this.gpio.config();
  }

  negotiate(features: bigint): void {
    this.gpio.irqEnabled = (features & this.deviceFeatures) !== 0n;
    this.log(`frontend negotiated: ${describeFeatures(features)}`);
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

/** Words for the feature bits a frontend acknowledged. */
export function describeFeatures(features: bigint): string {
  const names: Array<[bigint, string]> = [
    [bit(VIRTIO_GPIO_F_IRQ), 'interrupts (VIRTIO_GPIO_F_IRQ)'],
    [bit(VirtioFeature.VERSION_1), 'VERSION_1'],
    [bit(VirtioFeature.INDIRECT_DESC), 'indirect descriptors'],
    [bit(VirtioFeature.EVENT_IDX), 'event index'],
    [bit(VirtioFeature.PROTOCOL_FEATURES), 'vhost-user protocol features'],
  ];
  const have = names.filter(([b]) => features & b).map(([, n]) => n);
  const noIrq = features & bit(VIRTIO_GPIO_F_IRQ) ? '' : ' (no interrupts: gpiomon will not work; QEMU before 9.0 never passes them on)';
  return `${have.join(', ') || 'none'}${noIrq}`;
}

