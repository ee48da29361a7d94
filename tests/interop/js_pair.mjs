// Two JavaScript SDK Channels against the simulator, written as a JS developer would: every
// call awaited, no extra waits, the SDK's own reestablish option.
// node js_pair.mjs ws://127.0.0.1:PORT/channel TRANSFERS MORE
import { Channel } from '@aeternity/aepp-sdk';
import { account, agree, open, options, status } from './common.mjs';

const [url, transfers = '200', more = '20'] = process.argv.slice(2);
const port = 20000 + Math.floor(Math.random() * 20000);
const alice = account();
const bob = account();
const accounts = [alice.address, bob.address];

let [a, b] = await open(url, alice, bob, port);
console.log(`open: round ${a.round()}`);
await agree('open', a, b, accounts);

async function pay(count) {
  for (let i = 0; i < count; i += 1) {
    const [channel, from, to] = i % 2 === 0 ? [a, alice, bob] : [b, bob, alice];
    const { accepted } = await channel.update(from.address, to.address, 1 + (i % 7), from.sign);
    if (!accepted) throw new Error(`transfer ${i} not accepted`);
  }
  console.log(`transfers: ${count} accepted`);
}

await pay(Number(transfers));
await agree('transfers', a, b, accounts);

const got = new Promise((resolve) => { b.on('message', resolve); });
await a.sendMessage('hello from alice', bob.address);
const back = new Promise((resolve) => { a.on('message', resolve); });
await b.sendMessage('hello from bob', alice.address);
const [m1, m2] = await Promise.all([got, back]);
console.log(`messages: ${JSON.parse(JSON.stringify(m1)).info ?? m1} / ${m2.info ?? m2}`);

// Both by alice: after a lock both nodes report at once (each on the same block), so the
// peer's own channels.update may come after the depositor's deposit() has resolved; an
// operation the peer started right then would meet it as an unexpected message, with a
// node as with the simulator.
const deposit = await a.deposit(1000, alice.sign);
if (!deposit.accepted) throw new Error('deposit not accepted');
console.log(`deposit: accepted, round ${a.round()}`);
const withdrawal = await a.withdraw(500, alice.sign);
if (!withdrawal.accepted) throw new Error('withdrawal not accepted');
console.log(`withdrawal: accepted, round ${a.round()}`);
const balances = await agree('funds', a, b, accounts);
console.log(`balances: ${accounts.map((k) => balances[k]).join(' / ')}`);

const channelId = a.id();
const { signedTx } = await a.leave();
await status(a, 'disconnected');
console.log(`leave: ${signedTx.slice(0, 12)}...`);
a = await Channel.initialize({
  ...options(url, 'initiator', alice, bob, port),
  existingChannelId: channelId,
  existingFsmId: a.fsmId(),
  reestablish: true,
});
await status(a, 'open');
console.log(`reestablish: open, round ${a.round()}`);
await agree('reestablished', a, b, accounts);

await pay(Number(more));
await agree('more transfers', a, b, accounts);

// shutdown() resolves once the close is confirmed on chain; the peer's status says so.
const peerClosed = status(b, 'closed');
const closeTx = await a.shutdown(alice.sign);
await peerClosed;
console.log(`close: mutual, ${closeTx.slice(0, 12)}...`);
a.disconnect();
b.disconnect();
console.log('ok');
