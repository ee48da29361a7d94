// What every interop script shares: accounts, the SDK's Channel options, waiting for a status,
// and the check that both participants agree at a rest point.
import { Channel, MemoryAccount } from '@aeternity/aepp-sdk';

export const networkId = 'ae_dev';

export function account() {
  const keys = MemoryAccount.generate();
  return {
    address: keys.address,
    // The SDK asks the application to sign; here every tx is signed as it comes.
    sign: (tx) => keys.signTransaction(tx, { networkId }),
  };
}

export function options(url, role, initiator, responder, port, extra = {}) {
  const own = role === 'initiator' ? initiator : responder;
  return {
    url,
    role,
    host: '127.0.0.1',
    port,
    initiatorId: initiator.address,
    responderId: responder.address,
    lockPeriod: 10,
    pushAmount: 0,
    initiatorAmount: 10n ** 18n,
    responderAmount: 10n ** 18n,
    channelReserve: 0,
    sign: (_tag, tx) => own.sign(tx),
    ...extra,
  };
}

export function status(channel, wanted) {
  if (channel.status() === wanted) return Promise.resolve();
  return new Promise((resolve) => {
    channel.on('statusChanged', function listener(now) {
      if (now === wanted) {
        channel.off('statusChanged', listener);
        resolve();
      }
    });
  });
}

export async function open(url, initiator, responder, port, extra = {}) {
  const [a, b] = await Promise.all([
    Channel.initialize(options(url, 'initiator', initiator, responder, port, extra)),
    Channel.initialize(options(url, 'responder', initiator, responder, port, extra)),
  ]);
  await Promise.all([status(a, 'open'), status(b, 'open')]);
  return [a, b];
}

// Both sides report the same round and the same balances (a balances call is a round trip
// through each node, so each side has read what its node sent before it).
export async function agree(label, a, b, accounts) {
  const [left, right] = [await a.balances(accounts), await b.balances(accounts)];
  const same = JSON.stringify(left) === JSON.stringify(right) && a.round() === b.round();
  if (!same) {
    throw new Error(`${label}: sides disagree: round ${a.round()} vs ${b.round()}, ` +
      `${JSON.stringify(left)} vs ${JSON.stringify(right)}`);
  }
  console.log(`rest ${label}: round ${a.round()}, both agree`);
  return left;
}
