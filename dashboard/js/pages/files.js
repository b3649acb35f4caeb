// Files: upload with a progress bar, list, download, delete, and storage used against
// the quota.

import * as api from "../api.js";
import { h, notify, formatBytes, formatTime } from "../ui.js";

export async function page(ctx) {
  const me = await ctx.refreshMe();
  const usage = h("div", { id: "storage" });
  const list = h("tbody", {});
  const table = h(
    "table",
    { class: "data", "aria-label": "Files" },
    h("thead", {}, h("tr", {}, ["Name", "Kind", "Size", "Created", ""].map((t) => h("th", { scope: "col" }, t)))),
    list,
  );

  const drawUsage = (m) => {
    const used = m.usage.storage_bytes;
    const max = m.quotas.max_storage_bytes;
    usage.replaceChildren(
      h("label", { for: "storage-bar" }, `Storage: ${formatBytes(used)} of ${formatBytes(max)}`),
      h("progress", { id: "storage-bar", max, value: used }),
      h("small", { class: "hint" }, ` Largest upload: ${formatBytes(m.quotas.max_upload_bytes)}`),
    );
  };

  const refresh = async () => {
    const [{ files }, m] = await Promise.all([api.get("/files"), ctx.refreshMe()]);
    drawUsage(m);
    list.replaceChildren(
      ...(files.length
        ? files.map((f) =>
            h(
              "tr",
              { dataset: { fileId: f.id } },
              h("td", { "data-label": "Name" }, f.name),
              h("td", { "data-label": "Kind" }, f.kind, f.job_id ? h("a", { href: `#/jobs/${f.job_id}` }, " (job)") : null),
              h("td", { "data-label": "Size" }, formatBytes(f.size_bytes)),
              h("td", { "data-label": "Created" }, formatTime(f.created_at)),
              h(
                "td",
                { class: "actions" },
                h("a", { class: "button secondary", href: api.contentUrl(f.id), download: f.name }, "Download"),
                h(
                  "button",
                  {
                    type: "button",
                    class: "danger",
                    "aria-label": `Delete ${f.name}`,
                    onclick: async () => {
                      if (!confirm(`Delete ${f.name}?`)) return;
                      await api.del(`/files/${f.id}`);
                      notify(`Deleted ${f.name}.`, "ok");
                      await refresh();
                    },
                  },
                  "Delete",
                ),
              ),
            ),
          )
        : [h("tr", {}, h("td", { colspan: 5 }, "No files yet."))]),
    );
  };

  const input = h("input", { type: "file", id: "upload-input", name: "file" });
  const bar = h("progress", { id: "upload-progress", max: 1, value: 0, hidden: true, "aria-label": "Upload progress" });
  const status = h("span", { role: "status", id: "upload-status" });
  const upload = h(
    "form",
    { class: "card", "aria-label": "Upload a file" },
    h("h2", {}, "Upload"),
    h("label", { for: "upload-input" }, "File (CSV for forecasts)"),
    input,
    h("button", { type: "submit" }, "Upload"),
    bar,
    status,
  );
  upload.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = input.files[0];
    if (!file) return (status.textContent = "Choose a file first.");
    if (file.size > me.quotas.max_upload_bytes) return (status.textContent = `That file is larger than ${formatBytes(me.quotas.max_upload_bytes)}.`);
    bar.hidden = false;
    bar.value = 0;
    status.textContent = "Uploading…";
    try {
      await api.upload(file, (done, total) => {
        bar.max = total;
        bar.value = done;
        status.textContent = `Uploading… ${Math.round((100 * done) / total)} %`;
      });
      status.textContent = `Uploaded ${file.name}.`;
      upload.reset();
      await refresh();
    } catch (error) {
      status.textContent = error.code === "quota_exceeded" ? "Storage quota exceeded." : error.message;
    }
  });

  await refresh();
  return h("div", { class: "stack" }, h("h1", {}, "Files"), upload, h("section", { class: "card", "aria-label": "Your files" }, usage, table));
}

