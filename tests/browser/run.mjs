// Browser tests for the dashboard: drives Debian's Chromium (playwright-core, no
// downloaded browser) against a running Fairlane deployment with workers.
//
//   node run.mjs <base_url>
//
// Playwright starts Chromium with a fresh temporary profile of its own.
// Environment: SCREENSHOT_DIR (default ../../target/screenshots), CHROMIUM
// (default /usr/bin/chromium), ADMIN_EMAIL / ADMIN_PASSWORD (an admin account; the
// stats page is checked when set). Exits 0 when every scenario passed.

import { createHmac } from "node:crypto";
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { checkQrEncoder } from "./qr_check.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const base = process.argv[2];
if (!base) {
  console.error("usage: node run.mjs <base_url>");
  process.exit(2);
}
const shots = process.env.SCREENSHOT_DIR || join(here, "..", "..", "target", "screenshots");
mkdirSync(shots, { recursive: true });
for (const old of readdirSync(shots)) if (old.startsWith("failure-")) rmSync(join(shots, old));
const TIMEOUT = 20_000;
const PASSWORD = "dashboard-test-password-42";

let failures = 0;
const pageErrors = [];

async function step(name, page, body) {
  const started = Date.now();
  try {
    await body();
    console.log(`ok   ${name} (${Date.now() - started} ms)`);
  } catch (error) {
    failures++;
    console.log(`FAIL ${name}: ${error.stack || error}`);
    if (page) await page.screenshot({ path: join(shots, `failure-${name.replace(/\W+/g, "-")}.png`), fullPage: true }).catch(() => {});
    throw error;
  }
}

async function shot(page, name) {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

/** RFC 6238 (SHA-1, 30 s, 6 digits) for a base32 secret, `offset` steps from now. */
function totp(secret, offset = 0) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of secret.replace(/=+$/, "").toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30000) + offset));
  const mac = createHmac("sha1", key).update(counter).digest();
  const at = mac[mac.length - 1] & 0xf;
  return String((mac.readUInt32BE(at) & 0x7fffffff) % 1_000_000).padStart(6, "0");
}

function expectEq(actual, expected, what) {
  if (actual !== expected) throw new Error(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}

async function newPage(browser, viewport = { width: 1280, height: 900 }) {
  const context = await browser.newContext({ baseURL: base, viewport });
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  page.on("pageerror", (error) => pageErrors.push(String(error)));
  page.on("console", (message) => {
    if (message.type() === "error" && !/Failed to load resource/.test(message.text())) pageErrors.push(message.text());
  });
  return { context, page };
}

async function register(page, email, name) {
  await page.goto("/#/register");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Name").fill(name);
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByLabel("Monthly income (optional)").fill("50000");
  await page.getByLabel("Currency (optional)").fill("INR");
  await page.getByRole("button", { name: "Register" }).click();
  await page.waitForURL(/#\/jobs$/);
  await page.getByRole("heading", { name: "Jobs", exact: true }).waitFor();
}

async function login(page, email, password = PASSWORD) {
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.waitForURL(/#\/jobs$/);
}

function jobRow(page, id) {
  return page.locator(`#jobs-body tr[data-job-id="${id}"]`);
}

async function submitJob(page, kind, fill) {
  await page.goto("/#/jobs");
  await page.locator("#job-form select[name=kind]").selectOption(kind);
  await fill();
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/api/v1/jobs") && r.request().method() === "POST"),
    page.locator("#job-form button[type=submit]").click(),
  ]);
  return response;
}

async function main() {
  await step("qr encoder output decodes", null, async () => checkQrEncoder());

  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
  const stamp = Date.now().toString(36);
  const alice = `alice-${stamp}@example.com`;
  const bob = `bob-${stamp}@example.com`;
  let echoJobId;
  let sleepJobId;
  let totpSecret;
  try {
    const { context, page } = await newPage(browser);

    await step("anonymous visitor lands on the login page", page, async () => {
      await page.goto("/");
      await page.waitForURL(/#\/login$/);
      await page.getByRole("heading", { name: "Log in", exact: true }).waitFor();
      await shot(page, "login");
    });

    await step("register validates, then creates the account and signs in", page, async () => {
      await page.goto("/#/register");
      await page.getByLabel("Password", { exact: true }).fill("short");
      await page.getByRole("button", { name: "Register" }).click();
      await page.locator("[data-field=password] .field-error", { hasText: "10 to 128" }).waitFor();
      await shot(page, "register");
      await register(page, alice, "Alice");
    });

    await step("log out and log in again", page, async () => {
      await page.getByRole("button", { name: "Log out", exact: true }).click();
      await page.waitForURL(/#\/login$/);
      await page.getByLabel("Email").fill(alice);
      await page.getByLabel("Password", { exact: true }).fill("wrong-password-123");
      await page.getByRole("button", { name: "Log in" }).click();
      await page.locator(".form-error", { hasText: /./ }).first().waitFor();
      await login(page, alice);
    });

    await step("store broker credentials (never shown back)", page, async () => {
      await page.getByRole("link", { name: "Broker" }).click();
      await page.locator("#credentials-status", { hasText: "Not configured" }).waitFor();
      await page.getByLabel("API key").fill("kite-api-key");
      await page.getByLabel("Access token").fill("kite-access-token");
      await page.getByRole("button", { name: "Save" }).click();
      await page.locator("#credentials-status", { hasText: "Configured" }).waitFor();
      const html = await page.content();
      if (html.includes("kite-access-token")) throw new Error("the secret is on the page");
      await shot(page, "credentials");
    });

    await step("upload a CSV with a progress bar; it is listed and counted", page, async () => {
      await page.getByRole("link", { name: "Files" }).click();
      await page.getByRole("heading", { name: "Files", exact: true }).waitFor();
      const rows = ["date,value", ...Array.from({ length: 48 }, (_, i) => `${2020 + Math.floor(i / 12)}-${String((i % 12) + 1).padStart(2, "0")}-01,${(100 + i + 10 * Math.sin((i * Math.PI) / 6)).toFixed(2)}`)];
      await page.locator("#upload-input").setInputFiles({ name: "series.csv", mimeType: "text/csv", buffer: Buffer.from(rows.join("\n") + "\n") });
      await page.getByRole("button", { name: "Upload" }).click();
      await page.locator("#upload-status", { hasText: "Uploaded series.csv" }).waitFor();
      expectEq(await page.locator("#upload-progress").isVisible(), true, "progress bar visible");
      await page.locator("table[aria-label=Files] td", { hasText: "series.csv" }).waitFor();
      const storage = await page.locator("#storage label").textContent();
      if (!/Storage: [1-9]/.test(storage)) throw new Error(`storage usage not shown: ${storage}`);
      await shot(page, "files");
    });

    await step("job forms check fields before sending and show the server's field errors", page, async () => {
      await page.goto("/#/jobs");
      await page.locator("#job-form select[name=kind]").selectOption("sleep");
      await page.getByLabel("Duration (ms)").fill("-5");
      await page.locator("#job-form button[type=submit]").click();
      await page.locator("[data-field='params.ms'] .field-error", { hasText: "whole number" }).waitFor();
      await page.getByLabel("Duration (ms)").fill("700000");
      await page.locator("#job-form button[type=submit]").click();
      await page.locator("[data-field='params.ms'] .field-error", { hasText: "600000" }).waitFor();
      await page.locator("#job-form select[name=kind]").selectOption("options.process");
      await page.getByLabel("Symbols (comma-separated)").fill("NIFTY");
      await page.getByRole("button", { name: "Load expiries" }).click();
      await page.getByText(/\d+ expiries for NIFTY/).waitFor();
      const expiries = await page.locator("#f-expiry option").allTextContents();
      if (expiries.length < 2 || !expiries.every((d) => /^\d{4}-\d{2}-\d{2}$/.test(d))) throw new Error(`expiries: ${expiries}`);
      await shot(page, "job-form-options.process");
      for (const kind of ["options.filter", "forecast", "cleanup"]) {
        await page.locator("#job-form select[name=kind]").selectOption(kind);
        await page.locator("#job-form .kind-fields .field").first().waitFor();
        await shot(page, `job-form-${kind}`);
      }
      await page.locator("#job-form select[name=kind]").selectOption("forecast");
      await page.getByLabel("Horizon (periods ahead)").fill("0");
      await page.locator("#job-form button[type=submit]").click();
      await page.locator("[data-field='params.horizon'] .field-error", { hasText: "at least 1" }).waitFor();
    });

    await step("process an options chain against the sandbox broker, then screen it: sortable tables", page, async () => {
      const processed = await submitJob(page, "options.process", async () => {
        await page.getByLabel("Symbols (comma-separated)").fill("NIFTY");
        await page.getByRole("button", { name: "Load expiries" }).click();
        await page.getByText(/\d+ expiries for NIFTY/).waitFor();
      });
      expectEq(processed.status(), 202, "options.process submit status");
      const processId = (await processed.json()).job.id;
      await jobRow(page, processId).and(page.locator("[data-state=succeeded]")).waitFor({ timeout: 60_000 });
      await jobRow(page, processId).getByRole("link", { name: "options.process" }).click();
      await page.locator("table.result caption", { hasText: /: [1-9]\d* rows/ }).waitFor();
      expectEq(await page.getByRole("button", { name: "underlying_price", exact: true }).count(), 1, "processed-chain columns");
      await shot(page, "options-processed");

      await page.getByRole("link", { name: "Screen this chain" }).click();
      await page.getByLabel("Option type").selectOption("PE");
      await page.getByLabel("Sort by").selectOption("annualized_yield_pct");
      await page.getByLabel("Limit rows").fill("15");
      const [filtered] = await Promise.all([
        page.waitForResponse((r) => r.url().endsWith("/api/v1/jobs") && r.request().method() === "POST"),
        page.locator("#job-form button[type=submit]").click(),
      ]);
      expectEq(filtered.status(), 202, "options.filter submit status");
      const filterJob = (await filtered.json()).job;
      expectEq(filterJob.params.source_job_id, processId, "the form screens the chosen chain");
      await jobRow(page, filterJob.id).and(page.locator("[data-state=succeeded]")).waitFor({ timeout: 60_000 });
      await jobRow(page, filterJob.id).getByRole("link", { name: "options.filter" }).click();
      const caption = page.locator("table.result caption", { hasText: /: [1-9]\d* rows/ });
      await caption.waitFor();
      const rows = Number((await caption.textContent()).match(/: (\d+) rows/)[1]);
      if (rows > 15) throw new Error(`limit ignored: ${rows} rows`);
      const types = await page.locator("table.result td[data-label=option_type]").allTextContents();
      expectEq(types.length > 0 && types.every((t) => t === "PE"), true, "only puts");
      const yields = (await page.locator("table.result td[data-label=annualized_yield_pct]").allTextContents()).map(Number);
      expectEq(yields.every((y, i) => i === 0 || yields[i - 1] >= y), true, "sorted by yield, descending");
      const ivHeader = page.getByRole("button", { name: "iv", exact: true });
      await ivHeader.click();
      expectEq(await page.locator("table.result th[aria-sort=ascending]").textContent(), "iv", "sortable by clicking a header");
      const downloads = await page.locator("[aria-label='Result files'] li").allTextContents();
      for (const ext of [".csv", ".parquet", ".arrow"])
        expectEq(downloads.some((d) => d.includes(`-filtered${ext}`)), true, `${ext} download listed`);
      await shot(page, "options-screened");
    });

    await step("forecast the uploaded series and see the chart with its interval bands", page, async () => {
      const submitted = await submitJob(page, "forecast", async () => {
        await page.getByLabel("Series (an uploaded CSV)").selectOption({ label: "series.csv" });
        await page.getByLabel("Horizon (periods ahead)").fill("12");
        await page.getByLabel("Method").selectOption("seasonal_naive");
      });
      expectEq(submitted.status(), 202, "forecast submit status");
      const id = (await submitted.json()).job.id;
      await jobRow(page, id).and(page.locator("[data-state=succeeded]")).waitFor({ timeout: 60_000 });
      await jobRow(page, id).getByRole("link", { name: "forecast" }).click();
      await page.locator("#result-summary", { hasText: "seasonal_naive" }).waitFor();
      const chart = page.locator("svg.chart");
      await chart.waitFor();
      expectEq(await chart.locator("path.band").count(), 2, "one band per level (80, 95)");
      expectEq(await chart.locator("path.history").count(), 1, "the uploaded history is drawn");
      expectEq(await chart.locator("path.forecast").count(), 1, "the forecast is drawn");
      const ticks = await chart.locator("text.tick").allTextContents();
      if (!ticks.some((t) => /^2024-/.test(t))) throw new Error(`no date ticks in the forecast range: ${ticks}`);
      await shot(page, "forecast-chart");
    });

    await step("submit an echo job and watch it finish live", page, async () => {
      const response = await submitJob(page, "echo", async () => {
        await page.getByLabel("Message").fill("hello from the dashboard");
      });
      expectEq(response.status(), 202, "submit status");
      echoJobId = (await response.json()).job.id;
      await jobRow(page, echoJobId).and(page.locator("[data-state=succeeded]")).waitFor();
      await shot(page, "jobs");
      await jobRow(page, echoJobId).getByRole("link", { name: "echo" }).click();
      await page.locator("#job-state", { hasText: "succeeded" }).waitFor();
      await page.locator("#result-summary", { hasText: "hello from the dashboard" }).waitFor();
      await shot(page, "job-detail");
    });

    await step("a running job streams its state and can be cancelled", page, async () => {
      const streamed = page.waitForResponse((r) => /\/api\/v1\/jobs\/[^/]+\/events$/.test(r.url()));
      const response = await submitJob(page, "sleep", async () => {
        await page.getByLabel("Duration (ms)").fill("120000");
      });
      sleepJobId = (await response.json()).job.id;
      await jobRow(page, sleepJobId).and(page.locator("[data-state=running]")).waitFor();
      const stream = await streamed;
      expectEq(stream.url().endsWith(`/jobs/${sleepJobId}/events`), true, "the stream is the new job's");
      expectEq(stream.headers()["content-type"].startsWith("text/event-stream"), true, "event stream");
      await jobRow(page, sleepJobId).getByRole("button", { name: /Cancel/ }).click();
      await jobRow(page, sleepJobId).and(page.locator("[data-state=cancelled]")).waitFor();
    });

    await step("a job over the running-jobs quota says why it waits", page, async () => {
      const ids = [];
      for (let i = 0; i < 3; i++) {
        const response = await submitJob(page, "sleep", async () => {
          await page.getByLabel("Duration (ms)").fill("120000");
        });
        ids.push((await response.json()).job.id);
      }
      await jobRow(page, ids[0]).and(page.locator("[data-state=running]")).waitFor();
      await jobRow(page, ids[1]).and(page.locator("[data-state=running]")).waitFor();
      await jobRow(page, ids[2]).locator(".waiting", { hasText: "running-jobs limit" }).waitFor();
      await shot(page, "jobs-waiting");
      for (const id of [...ids].reverse()) {
        await jobRow(page, id).getByRole("button", { name: /Cancel/ }).click();
        await jobRow(page, id).and(page.locator("[data-state=cancelled]")).waitFor();
      }
    });

    await step("profile: details, API key shown once, TOTP QR code, export link", page, async () => {
      await page.getByRole("link", { name: "Profile" }).click();
      await page.getByRole("heading", { name: "Profile", exact: true }).waitFor();
      await page.getByLabel("Name", { exact: true }).fill("Alice Example");
      await page.getByRole("button", { name: "Save", exact: true }).click();
      await page.locator("#notice", { hasText: "Saved" }).waitFor();
      await page.getByLabel("Key name").fill("laptop");
      await page.getByRole("button", { name: "Create key" }).click();
      const key = await page.locator(".secret .api-key").textContent();
      if (!key || key.length < 16) throw new Error(`no key shown: ${key}`);
      await page.locator("ul[aria-label='API keys'] li", { hasText: "laptop" }).waitFor();
      await page.getByRole("button", { name: "Set up two-factor authentication" }).click();
      await page.locator(".qr svg path").waitFor();
      await shot(page, "profile");
      const secret = (await page.locator(".qr + code").textContent()).trim();
      await page.getByLabel("Code from the app").fill(totp(secret));
      await page.getByRole("button", { name: "Confirm" }).click();
      await page.locator("section[aria-label='Two-factor authentication'] p", { hasText: "is on" }).waitFor();
      totpSecret = secret;
      const href = await page.getByRole("link", { name: "Download my data" }).getAttribute("href");
      expectEq(href, "/api/v1/me/export", "export link");
      const exported = await page.request.get("/api/v1/me/export");
      expectEq(exported.status(), 200, "export status");
    });

    await step("with TOTP on, the login asks for the code", page, async () => {
      await page.getByRole("button", { name: "Log out", exact: true }).click();
      await page.waitForURL(/#\/login$/);
      await page.getByLabel("Email").fill(alice);
      await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
      await page.getByRole("button", { name: "Log in" }).click();
      await page.getByLabel("Authenticator code").waitFor();
      await shot(page, "login-totp");
      // The confirmation consumed this time step; the next one is within the allowed skew.
      await page.getByLabel("Authenticator code").fill(totp(totpSecret, 1));
      await page.getByRole("button", { name: "Log in" }).click();
      await page.waitForURL(/#\/jobs$/);
    });

    await step("phone-sized screen shows the jobs list readably", page, async () => {
      await page.setViewportSize({ width: 390, height: 844 });
      await page.goto("/#/jobs");
      await jobRow(page, echoJobId).waitFor();
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      if (overflow > 2) throw new Error(`page is ${overflow}px wider than the phone screen`);
      await shot(page, "jobs-phone");
      await page.setViewportSize({ width: 1280, height: 900 });
    });

    await step("result views render: sortable options table and forecast chart", page, async () => {
      await page.goto("/#/jobs");
      await page.evaluate(async () => {
        const { parseCsv } = await import("/js/csv.js");
        const { sortableTable } = await import("/js/table.js");
        const { forecastChart } = await import("/js/chart.js");
        const chain = parseCsv("tradingsymbol,strike,option_type,annualized_yield_pct\nNIFTY1,22000,PE,12.5\nNIFTY2,21500,PE,30.1\nNIFTY3,22500,CE,4.2\n");
        const history = Array.from({ length: 24 }, (_, i) => ({ t: Date.UTC(2022, i, 1), y: 100 + i + 5 * Math.sin(i) }));
        const forecast = Array.from({ length: 6 }, (_, i) => ({ t: Date.UTC(2024, i, 1), y: 124 + i, bands: { 80: [120 + i, 128 + i], 95: [116 + i, 132 + i] } }));
        const main = document.getElementById("main");
        main.replaceChildren(sortableTable(chain, "sample.csv"), forecastChart({ history, forecast, levels: [80, 95], byDate: true }, "sample forecast"));
      });
      await page.getByRole("button", { name: "annualized_yield_pct" }).click();
      await page.getByRole("button", { name: "annualized_yield_pct" }).click();
      expectEq(await page.locator("table.result tbody tr td").first().textContent(), "NIFTY2", "sorted descending");
      expectEq(await page.locator("svg.chart path.band").count(), 2, "interval bands");
      await shot(page, "result-views-sample");
    });

    if (process.env.ADMIN_EMAIL) {
      await step("admins see the stats page", page, async () => {
        const admin = await newPage(browser);
        await admin.page.goto("/#/login");
        await login(admin.page, process.env.ADMIN_EMAIL, process.env.ADMIN_PASSWORD);
        await admin.page.getByRole("link", { name: "Admin" }).click();
        await admin.page.getByRole("heading", { name: "Statistics", exact: true }).waitFor();
        await admin.page.locator("#admin-stats dt", { hasText: "users total" }).waitFor();
        await shot(admin.page, "admin");
        await admin.context.close();
      });
    }

    await step("another user sees none of the first user's jobs or files", null, async () => {
      const other = await newPage(browser);
      await register(other.page, bob, "Bob");
      await other.page.locator("#jobs-body td", { hasText: "No jobs yet." }).waitFor();
      expectEq(await other.page.locator("[data-job-id]").count(), 0, "other user's job rows");
      expectEq(await other.page.getByRole("link", { name: "Admin" }).isVisible(), false, "admin link for a user");
      await other.page.getByRole("link", { name: "Files" }).click();
      await other.page.locator("table[aria-label=Files] td", { hasText: "No files yet." }).waitFor();
      await other.page.goto(`/#/jobs/${echoJobId}`);
      await other.page.locator(".form-error", { hasText: "Could not load" }).waitFor();
      await shot(other.page, "other-user");
      await other.context.close();
    });

    await step("log out everywhere sends the user to the login page", page, async () => {
      await page.goto("/#/profile");
      await page.getByRole("button", { name: "Log out all devices" }).click();
      await page.waitForURL(/#\/login$/);
      await page.goto("/#/jobs");
      await page.waitForURL(/#\/login$/);
      const me = await page.request.get("/api/v1/me");
      expectEq(me.status(), 401, "session after logout everywhere");
      await shot(page, "logged-out");
    });

    await step("no uncaught errors in the pages", null, async () => {
      if (pageErrors.length) throw new Error(pageErrors.join("\n"));
    });
    await context.close();
  } finally {
    await browser.close();
  }
}

main()
  .then(() => {
    console.log(failures ? `${failures} failed` : "all browser scenarios passed");
    process.exit(failures ? 1 : 0);
  })
  .catch((error) => {
    console.error(`browser tests stopped: ${error.stack || error}`);
    process.exit(1);
  });
