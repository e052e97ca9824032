import type { IncomingMessage } from "node:http";
import { isIP } from "node:net";
import proxyaddr from "proxy-addr";
import { z } from "zod";

/**
 * Which proxies may tell us the client's address through X-Forwarded-For. Never "everyone": the left-most entry of
 * that header is whatever the client wrote. `false`: nobody (the socket's address is the client). A number N: the
 * N proxies nearest to us (we walk the header from the right). A list: proxies whose address is in these CIDRs.
 */
export type ProxyTrust = false | number | readonly string[];

const TRUST_HELP =
  'false (default), a hop count (1 = one proxy such as HAProxy in front), or comma-separated addresses/CIDRs of trusted proxies (e.g. "127.0.0.1,10.0.0.0/8"); "true" would trust any client';

export function parseProxyTrust(raw: string): ProxyTrust | Error {
  const v = raw.trim();
  if (v === "" || v === "false" || v === "0") return false;
  if (/^\d{1,2}$/.test(v)) return Number(v);
  const list = v.split(",").map((s) => s.trim());
  for (const entry of list) {
    const [addr = "", bits, extra] = entry.split("/");
    const family = isIP(addr);
    const max = family === 4 ? 32 : 128;
    const bitsOk = bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= max);
    if (!family || !bitsOk || extra !== undefined)
      return new Error(`"${entry}" is not an address or CIDR; use ${TRUST_HELP}`);
  }
  return list;
}

/** Config fragment: `TRUST_PROXY` parsed at boot; a bad value fails the boot with the accepted forms. */
export const proxyEnv = {
  /** proxies trusted to set X-Forwarded-For: false, a hop count, or addresses/CIDRs */
  TRUST_PROXY: z
    .string()
    .default("false")
    .transform((raw, ctx): ProxyTrust => {
      const t = parseProxyTrust(raw);
      if (!(t instanceof Error)) return t;
      ctx.addIssue({ code: "custom", message: t.message });
      return false;
    }),
};

/** Trust no proxy: the socket's address is the client's (`clientAddress` then skips parsing X-Forwarded-For). */
const TRUST_NONE = (): boolean => false;

/** The predicate express (`app.set("trust proxy", fn)`) and proxy-addr take: is hop `i` at `addr` trusted? */
export function trustPredicate(trust: ProxyTrust): (addr: string, i: number) => boolean {
  if (trust === false) return TRUST_NONE;
  if (typeof trust === "number") return (_addr, i) => i < trust;
  return proxyaddr.compile([...trust]);
}

/** `::ffff:1.2.3.4` as `1.2.3.4`, so allowlists and click addresses compare one spelling. */
export const normalizeIp = (ip: string): string =>
  ip.startsWith("::ffff:") && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;

/**
 * The client's address: the socket's, or, through trusted proxies only, the nearest untrusted entry of
 * X-Forwarded-For. An entry that is not an IP address yields "" (unknown), never the text itself.
 */
export function clientAddress(req: IncomingMessage, trust: (addr: string, i: number) => boolean): string {
  // A socket already closed by the client has no remote address (proxy-addr then answers undefined). Trusting no
  // proxy, the answer is the socket's address: read it without proxy-addr's parse of X-Forwarded-For per request.
  const raw: string | undefined = trust === TRUST_NONE ? req.socket.remoteAddress : proxyaddr(req, trust);
  if (raw === undefined) return "";
  const addr = normalizeIp(raw);
  return isIP(addr) ? addr : "";
}
