/**
 * A redirect target is allowed only when it parses as an absolute http(s) URL without credentials, whose host is
 * one of the allowed domains or a subdomain of one. Hosts compare in their ASCII form, so an IDN look-alike of an
 * allowed domain does not match it.
 */
export type DestinationCheck = { ok: true; url: URL } | { ok: false; reason: string };

export function checkDestination(destination: string, allowedDomains: readonly string[]): DestinationCheck {
  if (destination.length > 2048) return { ok: false, reason: "longer than 2048 characters" };
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\x00-\x20\x7f]/.test(destination)) return { ok: false, reason: "contains whitespace or control characters" };
  let url: URL;
  try {
    url = new URL(destination);
  } catch {
    return { ok: false, reason: "not an absolute URL" };
  }
  if (url.protocol !== "https:" && url.protocol !== "http:")
    return { ok: false, reason: `scheme ${url.protocol} is not allowed` };
  if (url.username || url.password) return { ok: false, reason: "credentials in URLs are not allowed" };
  const host = url.hostname.toLowerCase();
  const allowed = allowedDomains.some((d) => host === d || host.endsWith(`.${d}`));
  if (!allowed) return { ok: false, reason: `host ${host} is not on the campaign's allowed domains` };
  return { ok: true, url };
}

/** The merchant URL with the click id appended under the campaign's parameter name. */
export function withClickId(destination: string, param: string, clickId: string): string {
  const url = new URL(destination);
  url.searchParams.set(param, clickId);
  return url.toString();
}
