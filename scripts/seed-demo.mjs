// Seeds a demo merchant, campaign, influencer and link through the management API (once; reused after),
// then prints a walkthrough to paste into a shell and writes it to .stack/walkthrough.sh.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { apiWriter, createCampaignFixture } from "@aff/testing";

const REDIRECT = process.env.REDIRECT_URL ?? "http://127.0.0.1:8080";
const POSTBACK = process.env.POSTBACK_URL ?? "http://127.0.0.1:8081";
const REPORTS = process.env.REPORTS_URL ?? "http://127.0.0.1:8083";
// The keys `npm run up` generated (scripts/lib.sh ensure_secrets); the environment wins, the dev defaults are last.
const SECRETS_FILE = path.resolve(".stack/secrets.env");
const secrets = existsSync(SECRETS_FILE)
  ? Object.fromEntries(
      readFileSync(SECRETS_FILE, "utf8")
        .split("\n")
        .filter((l) => l.includes("="))
        .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
    )
  : {};
const ADMIN_KEY = process.env.ADMIN_API_KEY ?? secrets.ADMIN_API_KEY ?? "dev-admin-key-change-me";
const FINANCE_KEY = process.env.REPORTS_API_KEY ?? secrets.REPORTS_API_KEY ?? "dev-finance-key-change-me";
/** The walkthrough reads the finance key from the secrets file rather than printing it, when it comes from there. */
const financeKeyLine =
  FINANCE_KEY === secrets.REPORTS_API_KEY
    ? `REPORTS_API_KEY=$(sed -n 's/^REPORTS_API_KEY=//p' '${SECRETS_FILE}')`
    : `REPORTS_API_KEY='${FINANCE_KEY}'`;
const keyHint = (name, key) => (key === secrets[name] ? `$${name} from ${SECRETS_FILE}` : key);
const STATE = ".stack/demo.json";

async function seed() {
  if (existsSync(STATE)) {
    const demo = JSON.parse(readFileSync(STATE, "utf8"));
    const res = await fetch(`${REDIRECT}/api/links/${demo.link.code}`, {
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    if (res.ok) return demo;
  }
  const { merchant, campaign, influencer, link } = await createCampaignFixture(apiWriter(REDIRECT, ADMIN_KEY), {
    merchant: { name: "Demo Outdoor Store" },
    campaign: { name: "Spring hiking" },
    influencer: { name: "Trail Tess", handle: "@trailtess" },
    link: { destination: "https://shop.example.com/boots/42" },
  });
  const demo = { merchant, campaign, influencer, link };
  writeFileSync(STATE, JSON.stringify(demo, null, 2), { mode: 0o600 });
  return demo;
}

const demo = await seed();
const day = (o) => new Date(Date.now() + o * 86_400_000).toISOString().slice(0, 10);
const walkthrough = `${financeKeyLine}
# 1. A shopper clicks the influencer's link: 302 to the store with a signed click id
CLICK_URL=$(curl -s -o /dev/null -w '%{redirect_url}' ${REDIRECT}/${demo.link.code}); echo "$CLICK_URL"
CLICK_ID=\${CLICK_URL##*click_id=}
# 2. The store reports the sale (amount in minor units: 123.45 USD); 202 once Kafka has it
curl -s -X POST ${POSTBACK}/postback -H 'content-type: application/json' \\
  -d '{"merchant_id":${demo.merchant.id},"token":"${demo.merchant.postback_token}","click_id":"'"$CLICK_ID"'","order_id":"DEMO-'"$(date +%s%N)"'","amount":12345,"currency":"USD"}'; echo
# 3. Finance reads the commission (10% = 12.35 USD per sale), as JSON and CSV
sleep 2
curl -s -H "Authorization: Bearer $REPORTS_API_KEY" '${REPORTS}/v1/reports/commissions?from=${day(-1)}&to=${day(2)}'; echo
curl -s -H "Authorization: Bearer $REPORTS_API_KEY" '${REPORTS}/v1/reports/commissions?from=${day(-1)}&to=${day(2)}&format=csv'
`;
writeFileSync(".stack/walkthrough.sh", walkthrough, { mode: 0o600 });
console.log(`
Services
  redirect     ${REDIRECT}   (management API under /api, Bearer ${keyHint("ADMIN_API_KEY", ADMIN_KEY)})
  postback     ${POSTBACK}
  attribution  http://127.0.0.1:8082/metrics
  ops          /readyz and /metrics on 127.0.0.1:9080 (redirect), 9081 (postback), 9083 (reports)
  reports      ${REPORTS}   (Bearer ${keyHint("REPORTS_API_KEY", FINANCE_KEY)})

Demo: merchant ${demo.merchant.id}, campaign ${demo.campaign.id} (10%), influencer ${demo.influencer.id}, link ${REDIRECT}/${demo.link.code}

Walkthrough (paste into a shell; also saved as .stack/walkthrough.sh):

${walkthrough}`);
