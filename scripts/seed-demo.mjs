// Seeds a demo merchant, campaign, influencer and link through the management API (once; reused after),
// then prints a walkthrough to paste into a shell and writes it to .stack/walkthrough.sh.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { apiWriter, createCampaignFixture } from "@aff/testing";

const REDIRECT = process.env.REDIRECT_URL ?? "http://127.0.0.1:8080";
const POSTBACK = process.env.POSTBACK_URL ?? "http://127.0.0.1:8081";
const REPORTS = process.env.REPORTS_URL ?? "http://127.0.0.1:8083";
const ADMIN_KEY = process.env.ADMIN_API_KEY ?? "dev-admin-key-change-me";
const FINANCE_KEY = process.env.REPORTS_API_KEY ?? "dev-finance-key-change-me";
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
  writeFileSync(STATE, JSON.stringify(demo, null, 2));
  return demo;
}

const demo = await seed();
const day = (o) => new Date(Date.now() + o * 86_400_000).toISOString().slice(0, 10);
const walkthrough = `# 1. A shopper clicks the influencer's link: 302 to the store with a signed click id
CLICK_URL=$(curl -s -o /dev/null -w '%{redirect_url}' ${REDIRECT}/${demo.link.code}); echo "$CLICK_URL"
CLICK_ID=\${CLICK_URL##*click_id=}
# 2. The store reports the sale (amount in minor units: 123.45 USD); 202 once Kafka has it
curl -s -X POST ${POSTBACK}/postback -H 'content-type: application/json' \\
  -d '{"merchant_id":${demo.merchant.id},"token":"${demo.merchant.postback_token}","click_id":"'"$CLICK_ID"'","order_id":"DEMO-'"$(date +%s%N)"'","amount":12345,"currency":"USD"}'; echo
# 3. Finance reads the commission (10% = 12.35 USD per sale), as JSON and CSV
sleep 2
curl -s -H 'Authorization: Bearer ${FINANCE_KEY}' '${REPORTS}/v1/reports/commissions?from=${day(-1)}&to=${day(2)}'; echo
curl -s -H 'Authorization: Bearer ${FINANCE_KEY}' '${REPORTS}/v1/reports/commissions?from=${day(-1)}&to=${day(2)}&format=csv'
`;
writeFileSync(".stack/walkthrough.sh", walkthrough);
console.log(`
Services
  redirect     ${REDIRECT}   (management API under /api, Bearer ${ADMIN_KEY})
  postback     ${POSTBACK}
  attribution  http://127.0.0.1:8082/metrics
  ops          /readyz and /metrics on 127.0.0.1:9080 (redirect), 9081 (postback), 9083 (reports)
  reports      ${REPORTS}   (Bearer ${FINANCE_KEY})

Demo: merchant ${demo.merchant.id}, campaign ${demo.campaign.id} (10%), influencer ${demo.influencer.id}, link ${REDIRECT}/${demo.link.code}

Walkthrough (paste into a shell; also saved as .stack/walkthrough.sh):

${walkthrough}`);
