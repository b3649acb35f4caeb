// Live job updates: an EventSource per watched unfinished job (event `job`, data = the
// job; the server closes it at a terminal state), and polling as the fallback. Browsers
// allow about six connections per host over HTTP/1.1, so only a few streams are open at
// once and polling covers the rest.

import * as api from "./api.js";

export const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);
const MAX_STREAMS = 3;

/** Watches jobs; `onJob(job)` gets every fresh snapshot. Returns `{watch, stop}`. */
export function liveJobs(onJob) {
  const streams = new Map();
  let stopped = false;

  const watch = (job) => {
    if (stopped || TERMINAL.has(job.state) || streams.has(job.id) || streams.size >= MAX_STREAMS) return;
    if (typeof EventSource === "undefined") return;
    const source = api.jobEvents(job.id);
    streams.set(job.id, source);
    source.addEventListener("job", (event) => {
      const fresh = JSON.parse(event.data);
      onJob(fresh);
      if (TERMINAL.has(fresh.state)) close(job.id);
    });
    // The stream ends at a terminal state or fails (session gone, server restart):
    // either way polling takes over.
    source.addEventListener("error", () => close(job.id));
  };

  const close = (id) => {
    const source = streams.get(id);
    if (source) source.close();
    streams.delete(id);
  };

  const stop = () => {
    stopped = true;
    for (const id of [...streams.keys()]) close(id);
  };

  return { watch, stop, streaming: (id) => streams.has(id) };
}

/** Calls `tick()` every `ms` until the returned stop function runs. */
export function poll(tick, ms) {
  let timer = null;
  let stopped = false;
  const loop = async () => {
    try {
      await tick();
    } catch (error) {
      if (error && error.status === 401) stopped = true;
    }
    if (!stopped) timer = setTimeout(loop, ms);
  };
  timer = setTimeout(loop, ms);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
