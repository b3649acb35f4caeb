// Admin statistics (role admin): users, jobs by state, the queue, workers, the largest
// storage users and the maintenance tasks' last runs.

import * as api from "../api.js";
import { h, section, formatBytes } from "../ui.js";

function cell(key, value) {
  if (value === null || value === undefined) return "—";
  if (/bytes$/.test(key) && typeof value === "number") return formatBytes(value);
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

/** An object as a definition list; an array of objects as a table. */
function view(value, label) {
  if (Array.isArray(value)) {
    if (!value.length) return h("p", {}, "None.");
    const keys = [...new Set(value.flatMap((row) => Object.keys(row || {})))];
    return h(
      "div",
      { class: "scroll" },
      h(
        "table",
        { class: "data", "aria-label": label },
        h("thead", {}, h("tr", {}, keys.map((k) => h("th", { scope: "col" }, k.replaceAll("_", " "))))),
        h("tbody", {}, value.map((row) => h("tr", {}, keys.map((k) => h("td", { "data-label": k }, cell(k, row[k])))))),
      ),
    );
  }
  if (value && typeof value === "object")
    return h("dl", { class: "facts", "aria-label": label }, Object.entries(value).map(([k, v]) => [h("dt", {}, k.replaceAll("_", " ")), h("dd", {}, cell(k, v))]));
  return h("p", {}, cell(label, value));
}

export async function page(ctx) {
  if (!ctx.me || ctx.me.user.role !== "admin") return h("p", {}, "This page is for administrators.");
  const stats = await api.get("/admin/stats");
  return h(
    "div",
    { class: "stack", id: "admin-stats" },
    h("h1", {}, "Statistics"),
    section("Users", view({ users_total: stats.users_total, users_active_7d: stats.users_active_7d }, "Users")),
    section("Jobs by state", view(stats.jobs_by_state, "Jobs by state")),
    section("Queue", view(stats.queue, "Queue")),
    section("Workers", view(stats.workers, "Workers")),
    section("Largest storage", view(stats.storage_top, "Largest storage")),
    section("Maintenance", view(stats.maintenance, "Maintenance")),
  );
}
