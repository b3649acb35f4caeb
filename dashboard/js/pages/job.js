// One job: live state, result summary and files, and the result views — a sortable
// table for options chains and a chart for forecasts, both read from the result CSV.

import * as api from "../api.js";
import { h, formatBytes, formatTime, section } from "../ui.js";
import { progressOf, waitingText, cancelButton } from "../jobview.js";
import { liveJobs, poll, TERMINAL } from "../live.js";
import { parseCsv, numeric } from "../csv.js";
import { sortableTable } from "../table.js";
import { forecastChart } from "../chart.js";

export async function page(ctx, id) {
  const { job } = await api.get(`/jobs/${id}`);
  const status = h("div", {});
  const result = h("div", {});
  let shownResult = false;

  const update = async (fresh) => {
    status.replaceChildren(statusView(fresh, update));
    if (TERMINAL.has(fresh.state)) {
      stopPolling();
      live.stop();
      if (!shownResult) {
        shownResult = true;
        result.replaceChildren(...(await resultViews(fresh)));
      }
    }
  };
  const live = liveJobs(update);
  const stopPolling = poll(async () => update((await api.get(`/jobs/${id}`)).job), 3000);
  ctx.onLeave(() => {
    stopPolling();
    live.stop();
  });
  live.watch(job);
  await update(job);
  return h("div", { class: "stack" }, h("p", {}, h("a", { href: "#/jobs" }, "← All jobs")), h("h1", {}, `${job.kind} job`), status, result);
}

function statusView(job, onChanged) {
  const rows = [
    ["Id", h("span", { class: "mono" }, job.id)],
    ["State", h("span", { class: `state state-${job.state}`, id: "job-state" }, job.state)],
    ["Progress", [progressOf(job), job.progress ? ` ${job.progress.done}/${job.progress.total} ${job.progress.message || ""}` : ""]],
    ["Attempt", `${job.attempt}/${job.max_attempts}`],
    ["Why waiting", waitingText(job.waiting) || "—"],
    ["Created", formatTime(job.created_at)],
    ["Started", formatTime(job.started_at)],
    ["Finished", formatTime(job.finished_at)],
    ["Parameters", h("code", {}, JSON.stringify(job.params))],
  ];
  if (job.error) rows.push(["Error", h("span", { class: "form-error" }, `${job.error.code}: ${job.error.message}`)]);
  return h(
    "section",
    { class: "card", "aria-label": "Job status" },
    h("dl", { class: "facts" }, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
    TERMINAL.has(job.state) ? null : cancelButton(job, onChanged),
  );
}

async function resultViews(job) {
  if (!job.result) return [];
  const views = [];
  const summary = job.result.summary;
  views.push(
    section(
      "Result",
      summary && typeof summary === "object"
        ? h("dl", { class: "facts", id: "result-summary" }, Object.entries(summary).map(([k, v]) => [h("dt", {}, k), h("dd", {}, typeof v === "object" ? JSON.stringify(v) : String(v))]))
        : h("p", { id: "result-summary" }, JSON.stringify(summary)),
      h(
        "ul",
        { class: "rows", "aria-label": "Result files" },
        (job.result.files || []).map((f) =>
          h("li", {}, h("span", {}, `${f.name} · ${formatBytes(f.size_bytes)}`), h("a", { class: "button secondary", href: api.contentUrl(f.id), download: f.name }, "Download")),
        ),
      ),
    ),
  );
  if (job.kind === "options.process" && job.state === "succeeded")
    views.push(h("p", {}, h("a", { class: "button", href: `#/jobs/screen/${job.id}` }, "Screen this chain")));
  const csv = (job.result.files || []).find((f) => /\.csv$/i.test(f.name) || /csv/.test(f.content_type || ""));
  try {
    if (csv && job.kind.startsWith("options.")) {
      views.push(section("Options chain", sortableTable(parseCsv(await api.fileText(csv.id)), csv.name)));
    } else if (csv && job.kind === "forecast") {
      views.push(section("Forecast", await forecastView(job, csv)));
    }
  } catch (error) {
    views.push(h("p", { class: "form-error" }, `Could not read the result file: ${error.message}`));
  }
  return views;
}

function column(header, wanted, fallbacks) {
  if (wanted) return header.indexOf(wanted);
  const lower = header.map((s) => s.toLowerCase());
  for (const name of fallbacks) if (lower.includes(name)) return lower.indexOf(name);
  return -1;
}

async function forecastView(job, csv) {
  const out = parseCsv(await api.fileText(csv.id));
  const fc = out.header.indexOf("forecast");
  const dc = out.header.indexOf("date");
  // Level suffixes kept as written (`lower_80`, `lower_80.0`), ordered numerically by the chart.
  const levels = out.header.filter((n) => n.startsWith("lower_") && out.header.includes(`upper_${n.slice(6)}`)).map((n) => n.slice(6));
  let history = [];
  try {
    const input = parseCsv(await api.fileText(job.params.file_id));
    const di = column(input.header, job.params.date_column, ["date", "ds", "timestamp", "time", "month"]);
    let vi = column(input.header, job.params.value_column, ["value", "y", "close"]);
    if (vi < 0) vi = input.header.findIndex((_, i) => i !== di && input.rows.every((r) => numeric(r[i]) !== null));
    if (vi >= 0) history = input.rows.map((r, i) => ({ raw: di >= 0 ? r[di] : null, i, y: numeric(r[vi]) })).filter((p) => p.y !== null);
  } catch {
    history = []; // the input may have been deleted; the forecast alone still draws
  }
  const forecast = out.rows.map((r, i) => ({
    raw: dc >= 0 ? r[dc] : null,
    i: history.length + i,
    y: numeric(r[fc]),
    bands: Object.fromEntries(levels.map((l) => [l, [numeric(r[out.header.indexOf(`lower_${l}`)]), numeric(r[out.header.indexOf(`upper_${l}`)])]])),
  }));
  const all = [...history, ...forecast];
  const byDate = all.length > 0 && all.every((p) => p.raw && !Number.isNaN(Date.parse(p.raw)));
  for (const p of all) p.t = byDate ? Date.parse(p.raw) : p.i;
  if (!forecast.length) return h("p", {}, "The forecast file is empty.");
  return forecastChart({ history, forecast, levels, byDate }, `Forecast of ${job.params.value_column || "the series"}, ${forecast.length} periods ahead`);
}
