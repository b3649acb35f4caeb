// How one job reads: state, progress bar, attempts, why it waits, error, and cancel.

import * as api from "./api.js";
import { h, notify, formatTime } from "./ui.js";
import { TERMINAL } from "./live.js";

const REASONS = {
  user_concurrency_limit: "your running-jobs limit is reached",
  no_free_worker: "every worker is busy",
  retry_backoff: "waiting before the next attempt",
};

export function waitingText(waiting) {
  if (!waiting) return "";
  const reason = REASONS[waiting.reason] || String(waiting.reason || "waiting").replaceAll("_", " ");
  const limit = waiting.limit ? ` (${waiting.running}/${waiting.limit} running)` : "";
  const position = waiting.position ? `, position ${waiting.position}` : "";
  return `${reason}${limit}${position}`;
}

/** A short handle for a job: ids are UUIDv7, whose leading digits are a timestamp. */
export const shortId = (id) => id.slice(-8);

export function progressOf(job) {
  const p = job.progress;
  if (job.state === "succeeded") return h("progress", { max: 1, value: 1, "aria-label": "Progress" });
  if (job.state !== "running" && !(p && p.total)) return h("progress", { max: 1, value: 0, "aria-label": "Progress" });
  if (!p || !p.total) return h("progress", { "aria-label": "Progress" }); // running, amount unknown
  return h("progress", { max: p.total, value: Math.min(p.done, p.total), "aria-label": "Progress" });
}

/** A list row (table row on wide screens, a card on phones). */
export function jobRow(job, onChanged) {
  return h(
    "tr",
    { dataset: { jobId: job.id, state: job.state } },
    h("td", { "data-label": "Job" }, h("a", { href: `#/jobs/${job.id}` }, job.kind), h("br"), h("small", { class: "mono" }, shortId(job.id))),
    h("td", { "data-label": "State" }, h("span", { class: `state state-${job.state}` }, job.state)),
    h("td", { "data-label": "Progress" }, progressOf(job), job.progress && job.progress.message ? h("small", {}, " " + job.progress.message) : null),
    h("td", { "data-label": "Attempt" }, `${job.attempt}/${job.max_attempts}`),
    h("td", { "data-label": "Why waiting", class: "waiting" }, waitingText(job.waiting), job.error ? h("small", { class: "form-error" }, `${job.error.code}: ${job.error.message}`) : null),
    h("td", { "data-label": "Created" }, formatTime(job.created_at)),
    h("td", { class: "actions" }, TERMINAL.has(job.state) ? null : cancelButton(job, onChanged)),
  );
}

export function cancelButton(job, onChanged) {
  return h(
    "button",
    {
      type: "button",
      class: "danger",
      "aria-label": `Cancel job ${shortId(job.id)}`,
      onclick: async (event) => {
        event.target.disabled = true;
        try {
          const answer = await api.post(`/jobs/${job.id}/cancel`);
          notify("Cancellation requested.", "ok");
          onChanged(answer.job);
        } catch (error) {
          notify(error.code === "conflict" ? "That job has already finished." : error.message, "warn");
          event.target.disabled = false;
        }
      },
    },
    "Cancel",
  );
}
