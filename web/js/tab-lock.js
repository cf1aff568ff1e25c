// Only one tab of a browser mines at a time: two tabs would just split the same CPU and double the
// feed traffic. Web Locks where the page is a secure context (localhost, https); elsewhere a
// BroadcastChannel on which the tab that starts last takes over.

const NAME = 'bbchain-mining';

export class TabLock {
  /** `onLost` runs when another tab takes the lock over (BroadcastChannel fallback only). */
  constructor(onLost) {
    this.onLost = onLost;
    this.releaseLock = null;
    this.channel = null;
  }

  /** Takes the lock; resolves to false when another tab of this browser holds it. */
  acquire() {
    if (navigator.locks) {
      return new Promise((resolve) => {
        navigator.locks.request(NAME, { ifAvailable: true }, (lock) => {
          if (!lock) {
            resolve(false);
            return undefined;
          }
          resolve(true);
          // Held until release() resolves this promise (or the tab closes).
          return new Promise((release) => {
            this.releaseLock = release;
          });
        });
      });
    }
    this.channel = new BroadcastChannel(NAME);
    this.channel.postMessage('claim');
    this.channel.onmessage = ({ data }) => {
      if (data === 'claim') {
        this.release();
        this.onLost();
      }
    };
    return Promise.resolve(true);
  }

  release() {
    this.releaseLock?.();
    this.releaseLock = null;
    this.channel?.close();
    this.channel = null;
  }
}
