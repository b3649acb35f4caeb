// The dashboard shell: a hash router (no page reloads), the signed-in user, the
// navigation, and the rule that a 401 anywhere leads to the login page.

import * as api from "./api.js";
import { notify } from "./ui.js";
import * as auth from "./pages/auth.js";
import * as profile from "./pages/profile.js";
import * as credentials from "./pages/credentials.js";
import * as files from "./pages/files.js";
import * as jobs from "./pages/jobs.js";
import * as job from "./pages/job.js";
import * as admin from "./pages/admin.js";

const routes = [
  [/^\/login$/, auth.login, false],
  [/^\/register$/, auth.register, false],
  [/^\/jobs$/, jobs.page, true],
  [/^\/jobs\/screen\/([^/]+)$/, jobs.page, true],
  [/^\/jobs\/([^/]+)$/, job.page, true],
  [/^\/files$/, files.page, true],
  [/^\/credentials$/, credentials.page, true],
  [/^\/profile$/, profile.page, true],
  [/^\/admin$/, admin.page, true],
];

/** What every page gets: the user, navigation, and a place to register cleanups. */
const ctx = {
  me: null,
  cleanups: [],
  go(path) {
    if (location.hash === "#" + path) render();
    else location.hash = path;
  },
  onLeave(fn) {
    this.cleanups.push(fn);
  },
  async refreshMe() {
    this.me = await api.get("/me");
    showNav();
    return this.me;
  },
  signedOut() {
    this.me = null;
    api.setCsrf(null);
    showNav();
  },
};

function showNav() {
  document.getElementById("nav").hidden = !ctx.me;
  document.getElementById("nav-admin").hidden = !(ctx.me && ctx.me.user.role === "admin");
}

api.setUnauthorizedHandler(() => {
  const wasIn = !!ctx.me;
  ctx.signedOut();
  if (!location.hash.startsWith("#/login") && !location.hash.startsWith("#/register")) {
    if (wasIn) notify("Your session ended. Please log in again.", "warn");
    location.hash = "/login";
  }
});

let renderSeq = 0;

async function render() {
  const seq = ++renderSeq;
  for (const fn of ctx.cleanups.splice(0)) fn();
  const path = location.hash.replace(/^#/, "") || "/jobs";
  const main = document.getElementById("main");
  const match = routes.map(([re, page, needsAuth]) => [path.match(re), page, needsAuth]).find(([m]) => m);
  if (!match) return ctx.go("/jobs");
  const [m, page, needsAuth] = match;
  if (needsAuth && !ctx.me) {
    try {
      await ctx.refreshMe();
    } catch {
      return; // the 401 handler moved us to the login page
    }
  }
  if (seq !== renderSeq) return;
  let view;
  try {
    view = await page(ctx, ...m.slice(1));
  } catch (error) {
    if (error && error.status === 401) return;
    view = document.createElement("p");
    view.className = "form-error";
    view.textContent = `Could not load this page: ${error.message || error}`;
  }
  if (seq !== renderSeq) return;
  main.replaceChildren(view);
  document.querySelectorAll("#nav a").forEach((a) => {
    if (path.startsWith(a.getAttribute("href").slice(1))) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  });
  main.focus({ preventScroll: true });
}

document.getElementById("logout").addEventListener("click", async () => {
  try {
    await api.post("/auth/logout");
  } catch {
    // already signed out
  }
  ctx.signedOut();
  ctx.go("/login");
});

window.addEventListener("hashchange", render);
render();
