/**
 * A VMM in a process of its own, to be killed with SIGKILL: connects a TestFrontend to the socket in
 * argv[2], sets it up, drives the lines in argv[3] (comma-separated) high as outputs, arms edge
 * interrupts on the lines in argv[4] (posting their eventq buffers), then sends a burst of requests it
 * never waits for and prints "in-flight N" once the daemon has answered the first of them. Then it waits
 * to be killed.
 */
import { TestFrontend } from '../../helpers/frontend.js';
import { IrqType, Msg, VirtioDirection } from '../../../src/gpio/spec.js';

const [socket, outArg = '', irqArg = ''] = process.argv.slice(2);
const outputs = outArg ? outArg.split(',').map(Number) : [];
const irqLines = irqArg ? irqArg.split(',').map(Number) : [];

const f = await TestFrontend.connect(socket!);
await f.setup({ uml: true });
for (const line of outputs) await f.directionOutput(line, 1);
for (const line of irqLines) {
  await f.request(Msg.SET_DIRECTION, line, VirtioDirection.IN);
  await f.enableIrq(line, IrqType.EDGE_BOTH);
}
// The burst: toggles on every output; only the first answer is awaited.
const burst = outputs.flatMap((line) => [f.request(Msg.SET_VALUE, line, 0), f.request(Msg.SET_VALUE, line, 1)]);
await Promise.race(burst);
process.stdout.write(`in-flight ${burst.length}\n`);
setInterval(() => {}, 1 << 30);
