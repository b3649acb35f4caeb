// Jobs: the submission form (preset to screen a chain at #/jobs/screen/<job id>) and
// a live list (event streams for unfinished jobs, polling `GET /jobs` as the fallback).

import * as api from "../api.js";
import { h } from "../ui.js";
import { jobForm } from "../jobforms.js";
import { jobRow } from "../jobview.js";
import { liveJobs, poll } from "../live.js";

const POLL_MS = 4000;

/** `screenSource`: a processed chain to preselect in the options.filter form. */
export async function page(ctx, screenSource) {
  const jobs = new Map();
  const body = h("tbody", { id: "jobs-body" });
  const stateFilter = h(
    "select",
    { id: "state-filter", "aria-label": "Show jobs in state" },
    ["", "queued", "running", "retrying", "succeeded", "failed", "cancelled"].map((s) => h("option", { value: s }, s || "all states")),
  );

  const draw = () => {
    const rows = [...jobs.values()]
      .filter((j) => !stateFilter.value || j.state === stateFilter.value)
      .sort((a, b) => (a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : b.id.localeCompare(a.id)));
    body.replaceChildren(...(rows.length ? rows.map((j) => jobRow(j, update)) : [h("tr", {}, h("td", { colspan: 7 }, "No jobs yet."))]));
  };
  const update = (job) => {
    jobs.set(job.id, job);
    live.watch(job);
    draw();
  };
  const live = liveJobs(update);

  const refresh = async () => {
    const query = stateFilter.value ? `&state=${stateFilter.value}` : "";
    const answer = await api.get(`/jobs?limit=50${query}`);
    jobs.clear();
    for (const job of answer.jobs) {
      jobs.set(job.id, job);
      live.watch(job);
    }
    draw();
  };
  stateFilter.addEventListener("change", refresh);

  await refresh();
  const stopPolling = poll(refresh, POLL_MS);
  ctx.onLeave(() => {
    stopPolling();
    live.stop();
  });

  return h(
    "div",
    { class: "stack" },
    h("h1", {}, "Jobs"),
    screenSource ? jobForm(ctx, update, "options.filter", screenSource) : jobForm(ctx, update),
    h(
      "section",
      { class: "card", "aria-label": "Your jobs" },
      h("div", { class: "inline spread" }, h("h2", {}, "Your jobs"), stateFilter),
      h(
        "table",
        { class: "data", id: "jobs-table", "aria-label": "Jobs" },
        h("thead", {}, h("tr", {}, ["Job", "State", "Progress", "Attempt", "Why waiting", "Created", ""].map((t) => h("th", { scope: "col" }, t)))),
        body,
      ),
    ),
  );
}
