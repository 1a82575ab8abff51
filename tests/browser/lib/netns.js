// A network namespace of the test's own, linked to this one by a veth
// pair: a server placed in it is another machine as far as the browser is
// concerned, and rules in it (nftables) shape that machine's network.
// Everything made here is removed by close().

import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';

let counter = 0;

function ip(...args) {
  return execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}

export class Namespace {
  constructor(tag) {
    const n = (process.pid * 13 + counter++) % 16000;
    this.name = `dc-${tag}-${n}`.slice(0, 15);
    this.hostIf = `dbh${n}`;
    this.nsIf = `dbn${n}`;
    const third = Math.floor((n * 4) / 256);
    const fourth = (n * 4) % 256;
    this.outside = `10.233.${third}.${fourth + 1}`;
    this.inside = `10.233.${third}.${fourth + 2}`;
    ip('netns', 'add', this.name);
    try {
      ip('link', 'add', this.hostIf, 'type', 'veth', 'peer', 'name', this.nsIf);
      ip('link', 'set', this.nsIf, 'netns', this.name);
      // No IPv6 on this side: its link-local address would finish duplicate
      // address detection a second or so after the link comes up, and
      // Chromium takes that for a network change and aborts whatever a
      // page is loading then (net::ERR_NETWORK_CHANGED).
      writeFileSync(`/proc/sys/net/ipv6/conf/${this.hostIf}/disable_ipv6`, '1');
      ip('addr', 'add', `${this.outside}/30`, 'dev', this.hostIf);
      ip('link', 'set', this.hostIf, 'up');
      this.exec('ip', 'addr', 'add', `${this.inside}/30`, 'dev', this.nsIf);
      this.exec('ip', 'link', 'set', this.nsIf, 'up');
      this.exec('ip', 'link', 'set', 'lo', 'up');
      this.exec('ip', 'route', 'add', 'default', 'via', this.outside);
    } catch (e) {
      this.close();
      throw e;
    }
  }

  /** The command prefix that runs a program inside the namespace. */
  prefix() {
    return ['ip', 'netns', 'exec', this.name];
  }

  /** Runs a command inside the namespace, with `input` on its stdin. */
  exec(program, ...args) {
    return execFileSync('ip', ['netns', 'exec', this.name, program, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  }

  /** Loads nftables rules inside the namespace. */
  nft(rules) {
    execFileSync('ip', ['netns', 'exec', this.name, 'nft', '-f', '-'], { input: rules, stdio: ['pipe', 'pipe', 'pipe'] });
  }

  close() {
    try { ip('link', 'del', this.hostIf); } catch { /* gone with the namespace */ }
    try { ip('netns', 'del', this.name); } catch { /* never made */ }
  }
}
