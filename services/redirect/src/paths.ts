/**
 * Which requests on the public port go to Express (the management API and /healthz) rather than the redirect:
 * exactly `/api`, anything under `/api/`, and exactly `/healthz`. Matching whole segments (not prefixes) keeps every
 * alias the catalog accepts reachable at `GET /{alias}`: `healthzz` or `apiary` are link codes.
 */
export function isAppPath(url: string): boolean {
  const q = url.indexOf("?");
  const path = q === -1 ? url : url.slice(0, q);
  return path === "/api" || path.startsWith("/api/") || path === "/healthz";
}
