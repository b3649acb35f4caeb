// Small DOM helpers shared by the pages: element builder, forms with field errors,
// notices, formatting.

/** Builds an element: h("button", {class: "x", onclick: fn}, "text", child, ...). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

let fieldCounter = 0;

/** A labelled input; `name` is the API field the server's `details.field` names. */
export function field(label, name, attrs = {}, hint) {
  const id = `f-${name.replace(/[^a-z0-9]/gi, "-")}-${++fieldCounter}`;
  const control =
    attrs.type === "select"
      ? h("select", { id, name, ...attrs, type: null, options: null }, (attrs.options || []).map(optionOf))
      : attrs.type === "textarea"
        ? h("textarea", { id, name, ...attrs, type: null })
        : h("input", { id, name, ...attrs });
  return h(
    "div",
    { class: "field", dataset: { field: name } },
    h("label", { for: id }, label),
    control,
    hint ? h("small", { class: "hint" }, hint) : null,
    h("small", { class: "field-error", role: "alert", "aria-live": "polite" }),
  );
}

function optionOf(option) {
  const [value, text] = Array.isArray(option) ? option : [option, option];
  return h("option", { value }, text);
}

/** Shows one message per field (and a form-level message) inside `form`. */
export function showErrors(form, errors, message) {
  clearErrors(form);
  let placed = false;
  for (const [name, text] of Object.entries(errors || {})) {
    const box = form.querySelector(`[data-field="${CSS.escape(name)}"] .field-error`);
    if (box) {
      box.textContent = text;
      box.closest(".field").classList.add("invalid");
      placed = true;
    }
  }
  const banner = form.querySelector(".form-error");
  if (banner) banner.textContent = placed ? "Please correct the highlighted fields." : message || "The request failed.";
}

export function clearErrors(form) {
  form.querySelectorAll(".field-error").forEach((e) => (e.textContent = ""));
  form.querySelectorAll(".invalid").forEach((e) => e.classList.remove("invalid"));
  const banner = form.querySelector(".form-error");
  if (banner) banner.textContent = "";
}

/** A form whose submit runs `handler(form)`; API errors land on their fields. */
export function form(attrs, children, handler) {
  const el = h("form", { novalidate: true, ...attrs }, children, h("p", { class: "form-error", role: "alert" }));
  el.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(el);
    const button = el.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    try {
      await handler(el);
    } catch (error) {
      if (error && error.status !== undefined) {
        showErrors(el, error.fieldErrors ? error.fieldErrors() : {}, error.message);
      } else if (error && error.fields) {
        showErrors(el, error.fields, error.message);
      } else {
        showErrors(el, {}, String(error && error.message ? error.message : error));
      }
    } finally {
      if (button) button.disabled = false;
    }
  });
  return el;
}

/** A client-side validation failure: `fields` maps field names to messages. */
export class Invalid extends Error {
  constructor(fields) {
    super("Please correct the highlighted fields.");
    this.fields = fields;
  }
}

/** Reads a form's named values as strings. */
export function values(formEl) {
  const out = {};
  for (const el of formEl.elements) {
    if (!el.name) continue;
    if (el.type === "checkbox") {
      if (el.dataset.group) {
        out[el.dataset.group] = out[el.dataset.group] || [];
        if (el.checked) out[el.dataset.group].push(el.value);
      } else out[el.name] = el.checked;
    } else out[el.name] = el.value.trim();
  }
  return out;
}

/** A transient status message at the top of the page. */
export function notify(text, kind = "info") {
  const box = document.getElementById("notice");
  box.textContent = text;
  box.className = `notice ${kind}`;
  box.hidden = false;
  clearTimeout(notify.timer);
  notify.timer = setTimeout(() => (box.hidden = true), 6000);
}

export function progressBar(done, total, label) {
  const value = total > 0 ? Math.min(done, total) : 0;
  return h("progress", { max: total > 0 ? total : 1, value, "aria-label": label || "progress" });
}

export function formatBytes(n) {
  if (n === null || n === undefined) return "—";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = Number(n);
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i ? v.toFixed(1) : v} ${units[i]}`;
}

export function formatTime(t) {
  return t ? new Date(t).toLocaleString() : "—";
}

export function section(title, ...children) {
  return h("section", { class: "card", "aria-label": title }, h("h2", {}, title), children);
}
