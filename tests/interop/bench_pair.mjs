// The JavaScript SDK's side of bench/run.py: CHANNELS channels of two JS Channels each, in
// this one process, against the simulator at URL; in each the initiator pays the responder
// TRANSFERS times one aetto, each transfer awaited, all channels at once. Prints one JSON
// line: the seconds and this process's CPU seconds from the moment every channel is open to
// the moment the last transfer is accepted (opening and closing are not timed).
// node bench_pair.mjs URL CHANNELS TRANSFERS FIRST_PORT
import { account, open } from './common.mjs';

const [url, channels, transfers, firstPort] = process.argv.slice(2);
const count = Number(channels);
const pairs = await Promise.all(Array.from({ length: count }, async (_, n) => {
  const [alice, bob] = [account(), account()];
  const [a, b] = await open(url, alice, bob, Number(firstPort) + n);
  return { alice, bob, a, b };
}));

const cpu = process.cpuUsage();
const started = process.hrtime.bigint();
await Promise.all(pairs.map(async ({ alice, bob, a }) => {
  for (let i = 0; i < Number(transfers); i += 1) {
    const { accepted } = await a.update(alice.address, bob.address, 1, alice.sign);
    if (!accepted) throw new Error('a transfer was not accepted');
  }
}));
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
const used = process.cpuUsage(cpu);

for (const { alice, bob, a, b } of pairs) {
  const balances = await b.balances([alice.address, bob.address]);
  if (BigInt(balances[bob.address]) !== 10n ** 18n + BigInt(transfers)) {
    throw new Error(`balances ${JSON.stringify(balances)} after ${transfers} transfers`);
  }
  await a.shutdown(alice.sign);
  a.disconnect();
  b.disconnect();
}
console.log(JSON.stringify({
  transfers: count * Number(transfers),
  seconds,
  cpu_seconds: (used.user + used.system) / 1e6,
}));
