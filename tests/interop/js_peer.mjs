// One JavaScript SDK Channel against a peer of another client, driven over stdin/stdout by
// test_js_sdk.py: it prints its address, reads the peer's, opens the channel, then obeys
// one command a line ("pay N", "state", "close", "await-close") and answers with a line.
// node js_peer.mjs ws://127.0.0.1:PORT/channel initiator|responder RESPONDER_PORT
import { createInterface } from 'node:readline';
import { Channel } from '@aeternity/aepp-sdk';
import { account, options, status } from './common.mjs';

const [url, role, port] = process.argv.slice(2);
const me = account();
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const say = (line) => process.stdout.write(`${line}\n`);

say(JSON.stringify({ address: me.address }));
const peer = (await lines.next()).value.trim();
const [initiator, responder] = role === 'initiator' ? [me, { address: peer }] : [{ address: peer }, me];
const channel = await Channel.initialize(options(url, role, initiator, responder, Number(port)));
await status(channel, 'open');
say(JSON.stringify({ open: channel.round() }));

for (let next = await lines.next(); !next.done; next = await lines.next()) {
  const [command, arg] = next.value.trim().split(' ');
  if (command === 'pay') {
    for (let i = 0; i < Number(arg); i += 1) {
      const { accepted } = await channel.update(me.address, peer, 1 + (i % 3), me.sign);
      if (!accepted) throw new Error(`transfer ${i} not accepted`);
    }
    say(JSON.stringify({ paid: Number(arg), round: channel.round() }));
  } else if (command === 'state') {
    const balances = await channel.balances([initiator.address, responder.address]);
    say(JSON.stringify({ round: channel.round(), balances }));
  } else if (command === 'close') {
    const tx = await channel.shutdown(me.sign);
    say(JSON.stringify({ closed: tx.slice(0, 3) }));
  } else if (command === 'await-close') {
    if (!['closed', 'died'].includes(channel.status())) await status(channel, 'closed');
    say(JSON.stringify({ closed: 'by peer' }));
  } else if (command === 'bye') {
    break;
  }
}
channel.disconnect();
process.exit(0); // stdin stays open otherwise
