// The job submission form: one set of fields per kind (from the API contract), checked
// before sending; the server's `details.field` (`params.<name>`) lands on its field.

import * as api from "./api.js";
import { h, field, form, values, Invalid, notify, clearErrors } from "./ui.js";

const SORT_COLUMNS = [
  "annualized_yield_pct", "premium_yield_pct", "otm_pct", "strike", "oi", "volume",
  "spread_pct", "iv", "delta", "days_to_expiry", "last_price",
];
const FILTERS = [
  ["min_oi", "Minimum open interest"], ["min_volume", "Minimum volume"],
  ["otm_pct_min", "OTM % from"], ["otm_pct_max", "OTM % to"],
  ["min_annualized_yield", "Minimum annualized yield %"], ["max_spread_pct", "Maximum spread %"],
  ["delta_min", "Delta from"], ["delta_max", "Delta to"],
  ["dte_min", "Days to expiry from"], ["dte_max", "Days to expiry to"],
];

export const KINDS = [
  ["options.process", "Options chain (fetch and process)"],
  ["options.filter", "Options screen (filter a processed chain)"],
  ["forecast", "Forecast a time series"],
  ["cleanup", "Clean up old files"],
  // Accepted only by deployments started with FAIRLANE_DIAGNOSTIC_JOBS=1; elsewhere the
  // server answers 422 naming the `kind` field, which the form shows like any field error.
  ["echo", "Diagnostic: echo (test deployments only)"],
  ["sleep", "Diagnostic: sleep (test deployments only)"],
];

/** A random idempotency key (crypto.randomUUID needs a secure context; this does not). */
function randomKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

const num = (v) => (v === "" || v === undefined ? undefined : Number(v));
const isNum = (v) => v === "" || Number.isFinite(Number(v));

function optionsProcess(ctx) {
  const expiry = h("select", { id: "f-expiry", name: "params.expiry" }, h("option", { value: "" }, "Load expiries first"));
  const status = h("small", { class: "hint", role: "status" });
  const load = async (box) => {
    const symbol = box.querySelector("[name='params.symbols']").value.split(",")[0].trim().toUpperCase();
    const exchange = box.querySelector("[name='params.exchange']").value.trim() || "NFO";
    if (!symbol) return (status.textContent = "Enter a symbol first.");
    status.textContent = "Loading expiries…";
    try {
      const answer = await api.get(`/market/expiries?symbol=${encodeURIComponent(symbol)}&exchange=${encodeURIComponent(exchange)}`);
      expiry.replaceChildren(...answer.expiries.map((d) => h("option", { value: d }, d)));
      status.textContent = `${answer.expiries.length} expiries for ${answer.symbol}.`;
    } catch (error) {
      status.textContent =
        error.code === "credentials_required" ? "Store your broker credentials first (Broker page)." : error.message;
    }
  };
  const box = h(
    "div",
    {},
    field("Symbols (comma-separated)", "params.symbols", { placeholder: "NIFTY, BANKNIFTY", value: "NIFTY" }, ctx.me ? `Up to ${ctx.me.quotas.max_symbols_per_job} symbols.` : null),
    field("Exchange", "params.exchange", { value: "NFO" }),
    h(
      "div",
      { class: "field", dataset: { field: "params.expiry" } },
      h("label", { for: "f-expiry" }, "Expiry"),
      h("div", { class: "inline" }, expiry, h("button", { type: "button", class: "secondary", onclick: () => load(box) }, "Load expiries")),
      status,
      h("small", { class: "field-error", role: "alert" }),
    ),
  );
  return {
    box,
    params(v) {
      const symbols = v["params.symbols"].split(",").map((s) => s.trim().toUpperCase()).filter(Boolean);
      const errors = {};
      if (!symbols.length) errors["params.symbols"] = "Enter at least one symbol.";
      else if (ctx.me && symbols.length > ctx.me.quotas.max_symbols_per_job)
        errors["params.symbols"] = `At most ${ctx.me.quotas.max_symbols_per_job} symbols.`;
      if (!/^\d{4}-\d{2}-\d{2}$/.test(v["params.expiry"])) errors["params.expiry"] = "Pick an expiry.";
      if (Object.keys(errors).length) throw new Invalid(errors);
      return { symbols, expiry: v["params.expiry"], exchange: v["params.exchange"] || "NFO" };
    },
  };
}

async function optionsFilter(ctx, preset) {
  const { jobs } = await api.get("/jobs?kind=options.process&state=succeeded&limit=50");
  const sources = jobs.map((j) => [j.id, `${(j.params.symbols || []).join(", ")} ${j.params.expiry || ""} · ${j.id.slice(-8)}`]);
  const box = h(
    "div",
    {},
    sources.length
      ? field("Processed chain", "params.source_job_id", { type: "select", options: sources })
      : field("Source job id (a succeeded options.process job)", "params.source_job_id", { value: preset || "" }),
    field("Option type", "params.filters.option_type", { type: "select", options: [["", "Any"], ["CE", "Calls (CE)"], ["PE", "Puts (PE)"]] }),
    h("fieldset", {}, h("legend", {}, "Filters (optional)"), FILTERS.map(([name, label]) => field(label, `params.filters.${name}`, { type: "number", step: "any" }))),
    field("Sort by", "params.sort_by", { type: "select", options: [["", "Default"], ...SORT_COLUMNS] }),
    h("div", { class: "field check" }, h("input", { type: "checkbox", id: "f-descending", name: "params.descending", checked: true }), h("label", { for: "f-descending" }, "Descending")),
    field("Limit rows", "params.limit", { type: "number", min: 1, step: 1 }),
    field("Risk-free rate (fraction, e.g. 0.065)", "params.risk_free_rate", { type: "number", step: "any", min: 0, max: 1 }),
  );
  if (preset) setTimeout(() => (box.querySelector("[name='params.source_job_id']").value = preset));
  return {
    box,
    params(v) {
      const errors = {};
      if (!v["params.source_job_id"]) errors["params.source_job_id"] = "Choose the processed chain.";
      const filters = {};
      for (const [name] of FILTERS) {
        const raw = v[`params.filters.${name}`];
        if (!isNum(raw)) errors[`params.filters.${name}`] = "Enter a number.";
        else if (raw !== "") filters[name] = Number(raw);
      }
      for (const [lo, hi] of [["otm_pct_min", "otm_pct_max"], ["delta_min", "delta_max"], ["dte_min", "dte_max"]])
        if (filters[lo] !== undefined && filters[hi] !== undefined && filters[lo] > filters[hi])
          errors[`params.filters.${hi}`] = "Must not be below the lower bound.";
      if (v["params.filters.option_type"]) filters.option_type = v["params.filters.option_type"];
      if (v["params.limit"] && !(Number.isInteger(Number(v["params.limit"])) && Number(v["params.limit"]) >= 1))
        errors["params.limit"] = "Enter a whole number of at least 1.";
      if (v["params.risk_free_rate"] && !(Number(v["params.risk_free_rate"]) >= 0 && Number(v["params.risk_free_rate"]) < 1))
        errors["params.risk_free_rate"] = "A fraction between 0 and 1.";
      if (Object.keys(errors).length) throw new Invalid(errors);
      const params = { source_job_id: v["params.source_job_id"], filters, descending: v["params.descending"] };
      if (v["params.sort_by"]) params.sort_by = v["params.sort_by"];
      if (v["params.limit"]) params.limit = num(v["params.limit"]);
      if (v["params.risk_free_rate"]) params.risk_free_rate = num(v["params.risk_free_rate"]);
      return params;
    },
  };
}

async function forecast() {
  const { files } = await api.get("/files");
  const csvs = files.filter((f) => f.kind === "upload").map((f) => [f.id, f.name]);
  const box = h(
    "div",
    {},
    csvs.length
      ? field("Series (an uploaded CSV)", "params.file_id", { type: "select", options: csvs })
      : h("p", { class: "hint" }, "Upload a CSV on the Files page first."),
    field("Horizon (periods ahead)", "params.horizon", { type: "number", min: 1, step: 1, value: 12 }),
    field("Method", "params.method", { type: "select", options: ["auto", "ets", "arima", "theta", "seasonal_naive"] }),
    field("Interval levels % (comma-separated)", "params.levels", { value: "80, 95" }),
    field("Season length (optional)", "params.season_length", { type: "number", min: 1, step: 1 }),
    field("Date column (optional)", "params.date_column", {}),
    field("Value column (optional)", "params.value_column", {}),
  );
  return {
    box,
    params(v) {
      const errors = {};
      if (!v["params.file_id"]) errors["params.file_id"] = "Choose a file.";
      const horizon = Number(v["params.horizon"]);
      if (!(Number.isInteger(horizon) && horizon >= 1)) errors["params.horizon"] = "A whole number of at least 1.";
      const levels = v["params.levels"].split(",").map((s) => s.trim()).filter(Boolean).map(Number);
      if (levels.some((l) => !(l > 0 && l < 100))) errors["params.levels"] = "Each level between 0 and 100.";
      const season = v["params.season_length"];
      if (season && !(Number.isInteger(Number(season)) && Number(season) >= 1)) errors["params.season_length"] = "A whole number of at least 1.";
      if (Object.keys(errors).length) throw new Invalid(errors);
      const params = { file_id: v["params.file_id"], horizon, method: v["params.method"] };
      if (levels.length) params.levels = levels;
      if (season) params.season_length = Number(season);
      if (v["params.date_column"]) params.date_column = v["params.date_column"];
      if (v["params.value_column"]) params.value_column = v["params.value_column"];
      return params;
    },
  };
}

function cleanup() {
  const areas = ["temp", "exports", "results"];
  const box = h(
    "div",
    {},
    field("Older than (days)", "params.older_than_days", { type: "number", min: 0, step: 1, value: 7 }),
    h(
      "fieldset",
      { "data-field": "params.areas" },
      h("legend", {}, "Areas"),
      areas.map((a) => h("div", { class: "field check" }, h("input", { type: "checkbox", id: `f-area-${a}`, name: `area-${a}`, value: a, checked: true, dataset: { group: "areas" } }), h("label", { for: `f-area-${a}` }, a))),
      h("small", { class: "field-error", role: "alert" }),
    ),
  );
  return {
    box,
    params(v) {
      const days = Number(v["params.older_than_days"]);
      const errors = {};
      if (!(Number.isInteger(days) && days >= 0)) errors["params.older_than_days"] = "A whole number of days.";
      if (!v.areas.length) errors["params.areas"] = "Choose at least one area.";
      if (Object.keys(errors).length) throw new Invalid(errors);
      return { older_than_days: days, areas: v.areas };
    },
  };
}

function echo() {
  return {
    box: field("Message", "params.message", { value: "hello" }),
    params(v) {
      if (!v["params.message"]) throw new Invalid({ "params.message": "Enter a message." });
      return { message: v["params.message"] };
    },
  };
}

function sleep() {
  return {
    box: field("Duration (ms)", "params.ms", { type: "number", min: 0, step: 1, value: 5000 }),
    params(v) {
      const ms = Number(v["params.ms"]);
      if (!(Number.isInteger(ms) && ms >= 0)) throw new Invalid({ "params.ms": "A whole number of milliseconds." });
      return { ms };
    },
  };
}

const BUILDERS = { "options.process": optionsProcess, "options.filter": optionsFilter, forecast, cleanup, echo, sleep };

/** The submission form; `onSubmitted(job)` runs after a 202. */
export function jobForm(ctx, onSubmitted, initialKind = "options.process", preset) {
  const slot = h("div", { class: "kind-fields" });
  let current = null;
  const kindField = field("Kind", "kind", { type: "select", options: KINDS });
  const select = kindField.querySelector("select");
  select.value = initialKind;
  const switchKind = async () => {
    const kind = select.value;
    const built = await BUILDERS[kind](ctx, preset);
    if (select.value !== kind) return; // switched again while this kind loaded
    current = built;
    slot.replaceChildren(current.box);
    clearErrors(el);
  };
  select.addEventListener("change", switchKind);
  const el = form(
    { class: "card", id: "job-form", "aria-label": "Submit a job" },
    [h("h2", {}, "Submit a job"), kindField, slot, h("button", { type: "submit" }, "Submit")],
    async (f) => {
      const params = current.params(values(f));
      const { job } = await api.post("/jobs", { kind: select.value, params, idempotency_key: randomKey() });
      notify(`Submitted ${job.kind} job.`, "ok");
      onSubmitted(job);
    },
  );
  switchKind();
  return el;
}
